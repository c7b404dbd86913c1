//! Where access-log lines come from: a unix datagram socket nginx sends its log to
//! (`access_log syslog:server=unix:/run/octo/nginx-log.sock,nohostname octo_metrics;`), or a log
//! file followed across rotation and truncation.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, recvmmsg};

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

/// Counts one line (syslog header, if any, and trailing newline removed here); the caller
/// holds the lock over a batch of lines.
fn count_line(stats: &mut LogStats, raw: &[u8]) {
    let line = logline::strip_syslog_header(raw);
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    match logline::parse(line) {
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

/// Datagrams taken from the socket per system call.
const BATCH: usize = 64;
/// Room for one datagram: nginx sends at most 2 KiB per syslog message (longer lines are cut,
/// then fail to parse and are counted as errors); a datagram longer than this is cut too.
const DATAGRAM_ROOM: usize = 4096;
/// The lines the reader lets gather before it wakes: at a steady rate it waits about as long
/// as this many take to arrive (never longer than `--nginxlog.batch-wait`), so its wake-ups,
/// most of its cost at 10,000 lines per second, fall tenfold or more while what waits in
/// nginx's socket buffers stays a fraction of the ~150 lines each holds.
const GATHER_LINES: f64 = 32.0;

/// Receives datagrams until the process ends, a batch per system call (`recvmmsg`). A thread
/// of its own rather than a task: nginx sends without blocking, and once the kernel's queue
/// for the socket is full further lines are lost, so the reader must not wait behind a scrape
/// on the exporter's single-threaded runtime.
pub fn receive(socket: UnixDatagram, stats: SharedStats, batch_wait: Duration) {
    let mut buffers = vec![[0u8; DATAGRAM_ROOM]; BATCH];
    let mut headers = MultiHeaders::<()>::preallocate(BATCH, None);
    let mut lengths = [0usize; BATCH];
    let mut last_batch = Instant::now();
    loop {
        let received = receive_batch(&socket, &mut headers, &mut buffers, &mut lengths);
        let count = match received {
            Ok(count) => count,
            Err(Errno::EINTR) => continue,
            Err(err) => {
                tracing::warn!(error = %err, "receiving from the log socket");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        {
            let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
            for (buffer, &length) in buffers.iter().zip(&lengths[..count]) {
                count_line(&mut stats, &buffer[..length.min(DATAGRAM_ROOM)]);
            }
        }
        let now = Instant::now();
        let pause = gathering_pause(count, now - last_batch, batch_wait);
        last_batch = now;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}

/// How long to let lines gather after a batch of `count` lines that arrived over `since_last`:
/// about the time [`GATHER_LINES`] take at that rate, at most `limit`; none once a batch comes
/// half full, so a flood is read as fast as it comes.
fn gathering_pause(count: usize, since_last: Duration, limit: Duration) -> Duration {
    if count >= BATCH / 2 || limit.is_zero() {
        return Duration::ZERO;
    }
    let per_line = since_last.as_secs_f64() / count.max(1) as f64;
    Duration::from_secs_f64(per_line * GATHER_LINES).min(limit)
}

/// Waits for one datagram, then takes those already queued behind it, up to [`BATCH`]; their
/// lengths go to `lengths`. Returns how many were taken.
fn receive_batch(
    socket: &UnixDatagram,
    headers: &mut MultiHeaders<()>,
    buffers: &mut [[u8; DATAGRAM_ROOM]],
    lengths: &mut [usize; BATCH],
) -> Result<usize, Errno> {
    let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
        .iter_mut()
        .map(|buffer| [IoSliceMut::new(buffer)])
        .collect();
    let results = recvmmsg(
        socket.as_raw_fd(),
        headers,
        slices.iter_mut(),
        MsgFlags::MSG_WAITFORONE,
        None,
    )?;
    let mut count = 0;
    for (slot, message) in lengths.iter_mut().zip(results) {
        *slot = message.bytes;
        count += 1;
    }
    Ok(count)
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
            let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
            while let Some(end) = memchr::memchr(b'\n', chunk) {
                if self.pending.is_empty() {
                    count_line(&mut stats, &chunk[..end]);
                } else {
                    self.pending.extend_from_slice(&chunk[..end]);
                    count_line(&mut stats, &self.pending);
                    self.pending.clear();
                }
                chunk = &chunk[end + 1..];
            }
            // A line nginx is still writing; bounded so a file without newlines cannot grow it.
            if self.pending.len() + chunk.len() > 1024 * 1024 {
                self.pending.clear();
                stats.parse_error();
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

    fn ingest(stats: &SharedStats, raw: &[u8]) {
        count_line(&mut stats.lock().unwrap(), raw);
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
    fn lines_gather_longer_when_they_come_slower() {
        let limit = Duration::from_millis(2);
        let ms = Duration::from_millis;
        // 10,000 lines per second: 32 take 3.2 ms, more than the limit.
        assert_eq!(gathering_pause(10, ms(1), limit), limit);
        // 50,000 per second: 32 take 0.64 ms.
        let fast = gathering_pause(25, Duration::from_micros(500), limit);
        assert!(
            fast > Duration::from_micros(600) && fast < Duration::from_micros(700),
            "{fast:?}"
        );
        assert_eq!(
            gathering_pause(BATCH, ms(1), limit),
            Duration::ZERO,
            "a flood"
        );
        assert_eq!(gathering_pause(1, ms(1), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn datagrams_are_read_in_batches_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let socket = bind_socket(&path, 0o600).unwrap();
        let stats = stats();
        let shared = stats.clone();
        std::thread::spawn(move || receive(socket, shared, Duration::from_millis(2)));
        let sender = UnixDatagram::unbound().unwrap();
        // Cut at DATAGRAM_ROOM, inside the URI: a parse error, not a line.
        let oversized = format!(
            "{{\"status\":\"200\",\"uri\":\"/{}\"}}",
            "a".repeat(DATAGRAM_ROOM)
        );
        for _ in 0..1000 {
            sender.send_to(LINE.as_bytes(), &path).unwrap();
        }
        sender.send_to(b"garbage", &path).unwrap();
        sender.send_to(oversized.as_bytes(), &path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let errors = |s: &LogStats| {
            s.families("nginx", &[])
                .into_iter()
                .find(|f| f.name == "nginx_parse_errors_total")
                .map(|f| f.samples[0].value)
        };
        loop {
            let (lines, errors) = {
                let s = stats.lock().unwrap();
                (s.lines(), errors(&s))
            };
            if lines == 1000 && errors == Some(2.0) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "counted {lines} lines, {errors:?} errors"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
