//! Small readers of `/proc` and `/sys` files that put the file name into every error.

use std::io::ErrorKind;
use std::path::Path;

use crate::collector::CollectorError;

/// Reads a whole `/proc` or `/sys` file into `bytes` (cleared first): open, read until end,
/// close. For files read once (a process's), not kept open.
///
/// Not `fs::read` or `File::read_to_end`: they ask for the file's size first (`statx`, then
/// `lseek`), which pseudo-files report as 0 or 4096 anyway; at a few hundred files per scrape
/// those calls were a fifth of the exporter's system calls.
pub fn read_pseudo_file_into(path: &Path, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read as _;
    bytes.clear();
    let mut file = std::fs::File::open(path)?;
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(read) => bytes.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Reads a whole file through a descriptor kept open between scrapes where that is safe
/// (see `kept_files`).
fn read_pseudo_file(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::with_capacity(4096);
    crate::kept_files::read(path, &mut bytes)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// Reads a whole file.
pub fn read_string(path: &Path) -> Result<String, CollectorError> {
    read_pseudo_file(path).map_err(|source| CollectorError::io(path, source))
}

/// Reads a file, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, CollectorError> {
    match read_pseudo_file(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CollectorError::io(path, source)),
    }
}

/// Reads a one-value sysfs file, trimmed.
pub fn read_trimmed(path: &Path) -> Result<String, CollectorError> {
    read_string(path).map(|text| text.trim().to_owned())
}

/// Reads a one-number file.
pub fn read_u64(path: &Path) -> Result<u64, CollectorError> {
    let text = read_trimmed(path)?;
    text.parse()
        .map_err(|_| CollectorError::parse(path, format!("{text:?} is not an unsigned integer")))
}

/// The names in a directory, sorted; an absent directory is an error the caller may map to
/// "no data".
pub fn dir_names(path: &Path) -> Result<Vec<String>, CollectorError> {
    let entries = std::fs::read_dir(path).map_err(|source| CollectorError::io(path, source))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}
