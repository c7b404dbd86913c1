//! Where access-log lines come from: a unix datagram socket nginx sends its log to
//! (`access_log syslog:server=unix:/run/octo/nginx-log.sock,nohostname octo_metrics;`), or a log
//! file followed across rotation and truncation.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::os::unix::net::UnixDatagram;

use crate::logline::{self, LineError};
use crate::logstats::LogStats;

/// The counts every source adds to.
pub type SharedStats = Arc<Mutex<LogStats>>;

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("binding the log socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("setting the mode of the log socket {path}: {source}")]
    Mode {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("removing the stale log socket {path}: {source}")]
    Stale {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Counts one line (syslog header, if any, and trailing newline removed here).
pub fn ingest(stats: &Mutex<LogStats>, raw: &[u8]) {
    let line = logline::strip_syslog_header(raw);
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let parsed = logline::parse(line);
    let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
    match parsed {
        Ok(record) => {
            if !stats.record(&record) {
                log_bad_line(LineError::NoStatus, line, stats.lines());
            }
        }
        Err(err) => {
            stats.parse_error();
            log_bad_line(err, line, stats.lines());
        }
    }
}

/// A bad line is logged at debug level only: a flood of garbage must not flood the log too.
fn log_bad_line(err: LineError, line: &[u8], counted: u64) {
    tracing::debug!(
        error = %err,
        line = %String::from_utf8_lossy(&line[..line.len().min(120)]),
        counted,
        "access log line not counted"
    );
}

/// Binds the socket (replacing a stale one left by a previous run) with the given mode, so
/// only nginx's user or group can write to it.
pub fn bind_socket(path: &Path, mode: u32) -> Result<UnixDatagram, SourceError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| SourceError::Stale {
                path: path.to_owned(),
                source,
            })?;
        }
        _ => {}
    }
    let socket = UnixDatagram::bind(path).map_err(|source| SourceError::Bind {
        path: path.to_owned(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        SourceError::Mode {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(socket)
}

/// Receives datagrams until the process ends; one buffer, reused. A thread of its own rather
/// than a task: nginx sends without blocking, and once the kernel's queue for the socket is
/// full (net.unix.max_dgram_qlen datagrams) further lines are lost, so the reader must not
/// wait behind a scrape on the exporter's single-threaded runtime.
pub fn receive(socket: UnixDatagram, stats: SharedStats) {
    // nginx sends at most 2 KiB per syslog message (longer lines are cut, and then fail to
    // parse and are counted as errors); a larger buffer costs nothing.
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match socket.recv(&mut buffer) {
            Ok(n) => ingest(&stats, &buffer[..n]),
            Err(err) => {
                tracing::warn!(error = %err, "receiving from the log socket");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Follows a log file: lines appended are counted; a file moved away (rotation) is read to its
/// end before the new file at the path is read from its start; a file that shrinks
/// (copytruncate) is read again from its start. Runs on a thread of its own: regular-file
/// reads block.
pub fn follow_file(path: PathBuf, stats: SharedStats, poll: Duration) {
    let mut tail = Tail::new(path);
    loop {
        tail.poll(&stats);
        std::thread::sleep(poll);
    }
}

struct Tail {
    path: PathBuf,
    file: Option<(File, u64)>,
    position: u64,
    pending: Vec<u8>,
    buffer: Vec<u8>,
    first_open: bool,
    warned: bool,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Tail {
            path,
            file: None,
            position: 0,
            pending: Vec::new(),
            buffer: vec![0; 64 * 1024],
            first_open: true,
            warned: false,
        }
    }

    fn poll(&mut self, stats: &Mutex<LogStats>) {
        if self.file.is_none() {
            self.open();
        }
        self.read_available(stats);
        let Some((file, inode)) = &self.file else {
            return;
        };
        let at_path = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        if at_path.is_some_and(|ino| ino != *inode) {
            // Rotated: everything the old file got is read above; the new one starts at 0.
            self.file = None;
            self.pending.clear();
            self.open();
            self.read_available(stats);
        } else if file.metadata().is_ok_and(|m| m.len() < self.position) {
            tracing::info!(path = %self.path.display(), "log file truncated; reading from its start");
            self.position = 0;
            self.pending.clear();
            if let Some((file, _)) = &mut self.file {
                let _ = file.seek(SeekFrom::Start(0));
            }
            self.read_available(stats);
        }
    }

    fn open(&mut self) {
        match File::open(&self.path).and_then(|f| f.metadata().map(|m| (f, m))) {
            Ok((mut file, meta)) => {
                // At start-up the file's past is history (as upstream's tailer); after a
                // rotation the new file is read whole.
                self.position = if self.first_open { meta.len() } else { 0 };
                let _ = file.seek(SeekFrom::Start(self.position));
                self.file = Some((file, meta.ino()));
                self.first_open = false;
                self.warned = false;
            }
            Err(err) => {
                if !self.warned {
                    tracing::warn!(path = %self.path.display(), error = %err, "cannot open the log file; retrying");
                    self.warned = true;
                }
                // A file created after start-up is read from its start.
                self.first_open = false;
            }
        }
    }

    fn read_available(&mut self, stats: &Mutex<LogStats>) {
        let Some((file, _)) = &mut self.file else {
            return;
        };
        loop {
            let n = match file.read(&mut self.buffer) {
                Ok(0) => return,
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(path = %self.path.display(), error = %err, "reading the log file");
                    return;
                }
            };
            self.position += n as u64;
            let mut chunk = &self.buffer[..n];
            while let Some(end) = chunk.iter().position(|b| *b == b'\n') {
                if self.pending.is_empty() {
                    ingest(stats, &chunk[..end]);
                } else {
                    self.pending.extend_from_slice(&chunk[..end]);
                    ingest(stats, &self.pending);
                    self.pending.clear();
                }
                chunk = &chunk[end + 1..];
            }
            // A line nginx is still writing; bounded so a file without newlines cannot grow it.
            if self.pending.len() + chunk.len() > 1024 * 1024 {
                self.pending.clear();
                stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .parse_error();
            } else {
                self.pending.extend_from_slice(chunk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::logstats::LabelSets;

    fn stats() -> SharedStats {
        Arc::new(Mutex::new(LogStats::new(LabelSets::default(), vec![1.0])))
    }

    fn counted(stats: &SharedStats) -> u64 {
        stats.lock().unwrap().lines()
    }

    const LINE: &str = "{\"status\":\"200\",\"method\":\"GET\",\"request_time\":\"0.1\"}\n";

    #[test]
    fn follows_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        std::fs::write(&path, LINE).unwrap();
        let stats = stats();
        let mut tail = Tail::new(path.clone());
        tail.poll(&stats);
        assert_eq!(counted(&stats), 0, "history before start-up is skipped");

        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(LINE.as_bytes()).unwrap();
        file.write_all(&LINE.as_bytes()[..10]).unwrap();
        tail.poll(&stats);
        assert_eq!(counted(&stats), 1, "a half-written line waits");
        file.write_all(&LINE.as_bytes()[10..]).unwrap();
        tail.poll(&stats);
        assert_eq!(counted(&stats), 2);

        // Rotation: the old file gets one more line after the move, then the new file two.
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        file.write_all(LINE.as_bytes()).unwrap();
        std::fs::write(&path, LINE.repeat(2)).unwrap();
        tail.poll(&stats);
        assert_eq!(counted(&stats), 5);

        // Truncation (copytruncate): the file starts again.
        std::fs::write(&path, LINE).unwrap();
        tail.poll(&stats);
        assert_eq!(counted(&stats), 6);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let stats = stats();
        ingest(&stats, b"<190>Jan  1 00:00:00 nginx: not json");
        ingest(&stats, b"\xff\xfe");
        ingest(&stats, LINE.as_bytes());
        let s = stats.lock().unwrap();
        assert_eq!(s.lines(), 1);
        let families = s.families("nginx", &[]);
        let errors = families
            .iter()
            .find(|f| f.name == "nginx_parse_errors_total")
            .unwrap();
        assert_eq!(errors.samples[0].value, 2.0);
    }
}
