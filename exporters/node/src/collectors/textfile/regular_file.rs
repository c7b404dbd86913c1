//! Reading a textfile such that nothing else in a textfile directory can block a scrape or
//! exhaust memory: only regular files are read (symlinks followed, as upstream), and never more
//! than a cap.
//!
//! Upstream opens whatever a `*.prom` name leads to and reads it to its end: a FIFO blocks the
//! scrape until a writer comes, `/dev/zero` (or any file growing without end) is read until
//! memory runs out, and opening a device can act on it (a watchdog starts its timer).

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Why a textfile was not read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("failed to open: {0}")]
    Open(std::io::Error),
    #[error("failed to stat: {0}")]
    Stat(std::io::Error),
    #[error("failed to read: {0}")]
    Read(std::io::Error),
    #[error("not a regular file but a {0}; skipped without reading it")]
    NotRegular(&'static str),
    #[error("{size} bytes, more than the {max_size} allowed; skipped without reading it")]
    TooBig { size: u64, max_size: u64 },
    #[error("grew past the {max_size} bytes allowed while being read; skipped")]
    GrewTooBig { max_size: u64 },
}

/// Reads the regular file `path` leads to, if it holds at most `max_size` bytes; the file is
/// returned too, for its modification time.
pub fn read_regular_file(path: &Path, max_size: u64) -> Result<(File, Vec<u8>), Unreadable> {
    // Checked before opening, so that in the usual case nothing but a regular file is opened.
    let before = std::fs::metadata(path).map_err(Unreadable::Open)?;
    check(&before, max_size)?;
    let (file, metadata) = open_checked(path, max_size)?;
    let bytes = read_at_most(&file, max_size, metadata.len())?;
    Ok((file, bytes))
}

/// Opens `path` and checks what was opened, for a FIFO or device swapped in after the first
/// check: `O_NONBLOCK` makes opening a FIFO without a writer return at once instead of waiting,
/// `O_NOCTTY` keeps a terminal from becoming the exporter's controlling terminal. The flag is
/// left on the descriptor: Linux ignores it when reading a regular file, the only kind read.
pub fn open_checked(path: &Path, max_size: u64) -> Result<(File, Metadata), Unreadable> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(Unreadable::Open)?;
    let metadata = file.metadata().map_err(Unreadable::Stat)?;
    check(&metadata, max_size)?;
    Ok((file, metadata))
}

/// Reads `reader` to its end, but never more than `max_size` bytes (plus the one that shows
/// there is more): a file that grows while it is read is refused, not followed.
/// `expected` (the size found at open) only sizes the buffer.
pub fn read_at_most(
    reader: impl Read,
    max_size: u64,
    expected: u64,
) -> Result<Vec<u8>, Unreadable> {
    let capacity = usize::try_from(expected.min(max_size)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Read)?;
    if bytes.len() as u64 > max_size {
        return Err(Unreadable::GrewTooBig { max_size });
    }
    Ok(bytes)
}

fn check(metadata: &Metadata, max_size: u64) -> Result<(), Unreadable> {
    if let Some(kind) = irregular_kind(metadata.file_type()) {
        return Err(Unreadable::NotRegular(kind));
    }
    if metadata.len() > max_size {
        return Err(Unreadable::TooBig {
            size: metadata.len(),
            max_size,
        });
    }
    Ok(())
}

/// What a file that is not a regular file is, for the log; `None` for a regular file.
fn irregular_kind(file_type: FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_fifo() {
        Some("named pipe (FIFO)")
    } else if file_type.is_char_device() {
        Some("character device")
    } else if file_type.is_block_device() {
        Some("block device")
    } else if file_type.is_socket() {
        Some("socket")
    } else if file_type.is_dir() {
        Some("directory")
    } else {
        Some("special file")
    }
}
