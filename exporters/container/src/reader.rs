//! Reading small kernel files into one reused buffer, with no allocation per file once warm.

use std::fs::File;
use std::io::{ErrorKind, Read as _};
use std::path::{Path, PathBuf};

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

impl Reader {
    /// The contents of `dir/file`, or `None` when it does not exist or cannot be read (a cgroup
    /// removed mid-scrape, a controller file this kernel lacks). Unexpected errors are logged
    /// at debug level: a scrape reports what it could read.
    pub fn read(&mut self, dir: &Path, file: &str) -> Option<&[u8]> {
        self.path.clear();
        self.path.push(dir);
        self.path.push(file);
        let mut handle = match File::open(&self.path) {
            Ok(handle) => handle,
            Err(err) => {
                if err.kind() != ErrorKind::NotFound {
                    tracing::debug!(path = %self.path.display(), error = %err, "cannot open");
                }
                return None;
            }
        };
        self.filled = 0;
        loop {
            if self.filled == self.buf.len() {
                if self.buf.len() >= 64 * 1024 * 1024 {
                    tracing::debug!(path = %self.path.display(), "file larger than 64 MiB; truncated");
                    break;
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let room = self.buf.len() - self.filled;
            match handle.read(&mut self.buf[self.filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.filled += n;
                    // Kernel pseudo-files (seq_file) hand out everything that fits in one read,
                    // so a short read is the end: saves a second read syscall per file.
                    if n < room {
                        break;
                    }
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(path = %self.path.display(), error = %err, "cannot read");
                    return None;
                }
            }
        }
        Some(&self.buf[..self.filled])
    }

    /// `dir/file` parsed with `parse`.
    pub fn parse<T>(
        &mut self,
        dir: &Path,
        file: &str,
        parse: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        self.read(dir, file).and_then(parse)
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
            reader.parse(dir.path(), "small", crate::parse::number),
            Some(42)
        );
    }
}
