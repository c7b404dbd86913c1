//! procfs and sysfs files kept open between scrapes and read again with `pread` at offset 0.
//!
//! Opening a pseudo-file is most of what reading it costs the kernel: the path walk (through
//! the `/sys/class/...` symlinks), and for every open a fresh `seq_file` or kernfs open-file
//! with its buffer, freed again on close. Both file systems produce a file's contents anew
//! for a read at offset 0 (`seq_read_iter` restarts its iterator there; kernfs calls the
//! attribute's `show` again), so a descriptor kept open reads exactly what a fresh open would:
//! the values stay as fresh as upstream's, each scrape.
//!
//! A kept descriptor is only as good as the object it was opened on. A removed device's
//! attributes and an exited process's files answer `ENODEV`/`ESRCH` for ever; any error on a
//! kept descriptor closes it and the path is opened again, so a device that comes back under
//! the same name is read afresh, and one that is gone fails as a fresh open would.
//! Per-interface files under `class/net/` are left out: an interface can be renamed while
//! alive, and its old name given to another device, which a descriptor would not notice (the
//! netclass collector keeps its own, checked against the device directory's identity).
//! Files on other file systems (`/etc/os-release`, text files) are never kept: they are
//! replaced by rename, which a descriptor would not see either.
//!
//! At most `MAX_KEPT` descriptors are kept, and those not read for `IDLE_SCRAPES` scrapes are
//! closed, so hotplug churn cannot pile descriptors up.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Enough for every file the default collectors read each scrape on a host with a few dozen
/// devices, well under the usual limit of 1,024 descriptors.
const MAX_KEPT: usize = 384;

/// A descriptor not read for this many scrapes is closed.
const IDLE_SCRAPES: u64 = 8;

#[derive(Default)]
struct Kept {
    files: HashMap<PathBuf, (File, u64)>,
    /// Paths found on another file system (or under `class/net/`): opened afresh each time.
    never: HashSet<PathBuf>,
    scrape: u64,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

fn kept() -> MutexGuard<'static, Option<Kept>> {
    // The map holds no invariant a panicking reader could break half-way.
    KEPT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads the whole file at `path` into `bytes` (cleared first), through a kept descriptor when
/// there is one, else opening it (and keeping it when it is a procfs or sysfs file).
pub fn read(path: &Path, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    read_with(path, bytes, read_to_end)
}

/// One `pread` of at most `limit` bytes at offset 0 (upstream's reading of sysfs attributes,
/// which some drivers need), through a kept descriptor as [`read`].
pub fn read_once(path: &Path, limit: usize, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    read_with(path, bytes, |file, bytes| {
        bytes.resize(limit, 0);
        let read = retry_interrupted(|| file.read_at(bytes, 0))?;
        bytes.truncate(read);
        Ok(())
    })
}

fn read_with(
    path: &Path,
    bytes: &mut Vec<u8>,
    reader: impl Fn(&File, &mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    bytes.clear();
    // Taken out of the map while it is read: a slow driver holds up this read only.
    let taken = kept().as_mut().and_then(|kept| kept.files.remove(path));
    if let Some((file, _)) = taken {
        if reader(&file, bytes).is_ok() {
            keep(path, file);
            return Ok(());
        }
        // Gone or replaced: closed here, and opened again as if never kept.
        bytes.clear();
    }
    let file = File::open(path)?;
    reader(&file, bytes)?;
    if keepable(path, &file) {
        keep(path, file);
    }
    Ok(())
}

fn retry_interrupted(mut read: impl FnMut() -> std::io::Result<usize>) -> std::io::Result<usize> {
    loop {
        match read() {
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// `pread` from offset 0 to the end; no size probing (pseudo-files report 0 or 4096).
fn read_to_end(file: &File, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    let mut len = 0;
    loop {
        bytes.resize(len + 4096, 0);
        let read = retry_interrupted(|| file.read_at(&mut bytes[len..], len as u64))?;
        len += read;
        if read == 0 {
            bytes.truncate(len);
            return Ok(());
        }
    }
}

fn keepable(path: &Path, file: &File) -> bool {
    let mut guard = kept();
    let kept = guard.get_or_insert_with(Kept::default);
    if kept.never.contains(path) || kept.files.len() >= MAX_KEPT {
        return false;
    }
    let pseudo = nix::sys::statfs::fstatfs(file).is_ok_and(|fs| {
        let kind = fs.filesystem_type();
        kind == nix::sys::statfs::PROC_SUPER_MAGIC || kind == nix::sys::statfs::SYSFS_MAGIC
    });
    let renamable = path
        .to_str()
        .is_some_and(|text| text.contains("/class/net/"));
    if pseudo && !renamable {
        return true;
    }
    if kept.never.len() < MAX_KEPT {
        kept.never.insert(path.to_owned());
    }
    false
}

fn keep(path: &Path, file: File) {
    let mut guard = kept();
    let kept = guard.get_or_insert_with(Kept::default);
    let scrape = kept.scrape;
    kept.files.insert(path.to_owned(), (file, scrape));
}

/// Ends a scrape: descriptors idle for `IDLE_SCRAPES` scrapes are closed.
pub fn scrape_done() {
    if let Some(kept) = kept().as_mut() {
        kept.scrape += 1;
        let scrape = kept.scrape;
        kept.files
            .retain(|_, (_, used)| scrape - *used <= IDLE_SCRAPES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_proc_file_reads_fresh_contents() {
        let path = Path::new("/proc/self/stat");
        let mut first = Vec::new();
        read(path, &mut first).unwrap();
        assert!(kept().as_ref().unwrap().files.contains_key(path));
        // utime/stime move; the pid field and the shape stay: parse both and compare.
        let mut second = Vec::new();
        for _ in 0..3 {
            read(path, &mut second).unwrap();
        }
        let pid = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .split(' ')
                .next()
                .map(str::to_owned)
        };
        assert_eq!(pid(&first), Some(std::process::id().to_string()));
        assert_eq!(pid(&first), pid(&second));
    }

    #[test]
    fn a_kept_file_follows_changes() {
        // /proc/self/comm of this thread changes when the thread is renamed.
        let path = PathBuf::from(format!("/proc/self/task/{}/comm", nix::unistd::gettid()));
        let mut bytes = Vec::new();
        nix::sys::prctl::set_name(c"octo-kept-a").unwrap();
        read(&path, &mut bytes).unwrap();
        assert_eq!(bytes, b"octo-kept-a\n");
        nix::sys::prctl::set_name(c"octo-kept-b").unwrap();
        read(&path, &mut bytes).unwrap();
        assert_eq!(bytes, b"octo-kept-b\n");
        let mut limited = Vec::new();
        read_once(&path, 4, &mut limited).unwrap();
        assert_eq!(limited, b"octo");
    }

    #[test]
    fn regular_files_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("os-release");
        std::fs::write(&path, "ID=one\n").unwrap();
        let mut bytes = Vec::new();
        read(&path, &mut bytes).unwrap();
        assert_eq!(bytes, b"ID=one\n");
        // Replaced by rename, as package managers do: the new file is read.
        std::fs::write(dir.path().join("new"), "ID=two\n").unwrap();
        std::fs::rename(dir.path().join("new"), &path).unwrap();
        read(&path, &mut bytes).unwrap();
        assert_eq!(bytes, b"ID=two\n");
        assert!(!kept().as_ref().unwrap().files.contains_key(&path));
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let mut bytes = Vec::new();
        let err = read(Path::new("/proc/octo-no-such-file"), &mut bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
}
