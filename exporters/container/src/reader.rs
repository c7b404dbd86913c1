//! Reading small kernel files into one reused buffer, with no allocation per file once warm.

use std::fs::File;
use std::io::{ErrorKind, Read as _};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// Where a file is: in a directory held open, or under a path.
#[derive(Debug, Clone, Copy)]
pub enum Dir<'a> {
    Fd(BorrowedFd<'a>),
    Path(&'a Path),
}

/// How much of a file one read brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// The kernel formats the whole file at once (cgroup files, `/proc/meminfo`): the first
    /// read hands out everything that fits, so a short read is the end and no second read
    /// (returning 0) is needed.
    One,
    /// The kernel formats it a record at a time and hands out about a page per read
    /// (`/proc/<pid>/net/dev`, one line per interface): read until a read returns 0.
    Many,
}

#[derive(Debug)]
pub struct Reader {
    buf: Vec<u8>,
    filled: usize,
    path: PathBuf,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            buf: vec![0; 16 * 1024],
            filled: 0,
            path: PathBuf::with_capacity(256),
        }
    }
}

/// Files larger than this are truncated (no cgroup or /proc file read here comes close).
const MAX_FILE: usize = 64 * 1024 * 1024;

impl Reader {
    /// The contents of `file` in `dir`: one `openat` relative to a held directory (a lookup of
    /// one name) or an `open` of the whole path, then one `read` into the reused buffer.
    pub fn read_in(
        &mut self,
        dir: Dir<'_>,
        file: &str,
        records: Records,
    ) -> std::io::Result<&[u8]> {
        let handle = match dir {
            Dir::Fd(fd) => File::from(nix::fcntl::openat(
                fd,
                file,
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?),
            Dir::Path(dir) => {
                self.path.clear();
                self.path.push(dir);
                self.path.push(file);
                File::open(&self.path)?
            }
        };
        self.fill(handle, records)?;
        Ok(&self.buf[..self.filled])
    }

    fn fill(&mut self, mut handle: File, records: Records) -> std::io::Result<()> {
        self.filled = 0;
        loop {
            if self.filled == self.buf.len() {
                if self.buf.len() >= MAX_FILE {
                    tracing::debug!("file larger than 64 MiB; truncated");
                    return Ok(());
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let room = self.buf.len() - self.filled;
            match handle.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.filled += n;
                    if n < room && records == Records::One {
                        return Ok(());
                    }
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// The contents of `dir/file`, or `None` when it does not exist or cannot be read (a cgroup
    /// removed mid-scrape, a controller file this kernel lacks). Unexpected errors are logged
    /// at debug level: a scrape reports what it could read.
    pub fn read(&mut self, dir: &Path, file: &str) -> Option<&[u8]> {
        self.read_records(dir, file, Records::One)
    }

    /// [`read`](Self::read) for a file the kernel hands out a record at a time.
    pub fn read_records(&mut self, dir: &Path, file: &str, records: Records) -> Option<&[u8]> {
        match self.read_in(Dir::Path(dir), file, records) {
            Ok(_) => Some(&self.buf[..self.filled]),
            Err(err) => {
                if err.kind() != ErrorKind::NotFound {
                    tracing::debug!(dir = %dir.display(), file, error = %err, "cannot read");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_large_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small"), b"42\n").unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(dir.path().join("big"), &big).unwrap();
        let mut reader = Reader::default();
        assert_eq!(reader.read(dir.path(), "small"), Some(&b"42\n"[..]));
        assert_eq!(
            reader.read(dir.path(), "big").map(<[u8]>::len),
            Some(big.len())
        );
        assert_eq!(reader.read(dir.path(), "big"), Some(&big[..]));
        assert_eq!(reader.read(dir.path(), "missing"), None);
        assert_eq!(
            reader
                .read(dir.path(), "small")
                .and_then(crate::parse::number),
            Some(42)
        );
        let held = nix::fcntl::open(
            dir.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let at = Dir::Fd(std::os::fd::AsFd::as_fd(&held));
        assert_eq!(reader.read_in(at, "big", Records::One).unwrap(), &big[..]);
        assert_eq!(
            reader
                .read_in(at, "missing", Records::One)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
    }

    /// The kernel hands out files made of records (one line per mapping, per interface) a
    /// page at a time: a short read is not the end of those.
    #[test]
    fn files_of_records_are_read_to_the_end() {
        let mut reader = Reader::default();
        let text = reader
            .read_records(Path::new("/proc/self"), "smaps", Records::Many)
            .unwrap()
            .to_vec();
        let whole = std::fs::read("/proc/self/smaps").unwrap();
        assert!(text.len() > 3 * 4096, "{} bytes", text.len());
        // Other tests map and unmap memory meanwhile; a page-sized truncation would lose far
        // more than a few lines.
        let lines = |t: &[u8]| t.iter().filter(|b| **b == b'\n').count();
        let (read, expected) = (lines(&text), lines(&whole));
        assert!(
            read.abs_diff(expected) * 10 < expected,
            "{read} vs {expected} lines"
        );
    }
}
