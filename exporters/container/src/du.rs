//! Disk usage of a directory tree, counted as cAdvisor's `GetDirUsage` counts it (allocated
//! blocks × 512 bytes and inodes, the root included; a hard-linked inode once), but walked
//! defensively because the tree is a container's writable layer, whose content the container
//! chooses:
//!
//! - every entry is opened or stat'ed relative to its parent's descriptor with `O_NOFOLLOW` /
//!   `AT_SYMLINK_NOFOLLOW`, so a symlink (even one swapped in for a directory mid-walk) is
//!   counted as itself and never followed;
//! - a directory on another device (a mount inside the layer) is counted but not entered;
//! - depth, inode count and time are bounded ([`Limits`]); a walk that hits a bound stops and
//!   says so ([`Usage::truncated`]), its figures are a lower bound;
//! - an entry that vanishes between listing and stat (or a directory that cannot be opened) is
//!   skipped, never fatal.
//!
//! Only one descriptor per level of the current path is held (at most [`Limits::max_depth`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

/// `st_blocks` counts 512-byte units whatever the filesystem's block size.
const STAT_BLOCK_SIZE: u64 = 512;

/// The bounds of one walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Directories deeper than this (the root is depth 0) are counted but not entered.
    pub max_depth: usize,
    /// The walk stops after counting this many inodes.
    pub max_inodes: u64,
    /// The walk stops after this long.
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_inodes: 10_000_000,
            max_duration: Duration::from_secs(60),
        }
    }
}

/// What a walk counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub inodes: u64,
    /// A bound of [`Limits`] stopped the walk (or left a subtree out): the figures are a lower
    /// bound.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open {path} for a disk-usage walk: {source}")]
pub struct WalkError {
    path: String,
    source: nix::Error,
}

/// One directory of the current path: its descriptor and the subdirectories still to enter.
struct Level {
    dir: OwnedFd,
    pending: Vec<OsString>,
}

struct Walk {
    limits: Limits,
    started: Instant,
    device: u64,
    seen_links: HashSet<(u64, u64)>,
    usage: Usage,
}

impl Walk {
    /// Counts one inode (hard links once); false when a bound says stop.
    fn count(&mut self, stat: &FileStat) -> bool {
        let fresh = stat.st_nlink <= 1 || self.seen_links.insert((stat.st_dev, stat.st_ino));
        if fresh {
            self.usage.bytes = self
                .usage
                .bytes
                .saturating_add((stat.st_blocks.max(0) as u64).saturating_mul(STAT_BLOCK_SIZE));
            self.usage.inodes += 1;
        }
        self.within_bounds()
    }

    fn within_bounds(&mut self) -> bool {
        let within = self.usage.inodes < self.limits.max_inodes
            && self.started.elapsed() < self.limits.max_duration;
        if !within {
            self.usage.truncated = true;
        }
        within
    }

    /// Lists `dir`, counting every entry, and returns the subdirectories to enter (same
    /// device only); `None` when a bound stopped the walk.
    fn list(&mut self, dir: &OwnedFd, enter: bool) -> Option<Vec<OsString>> {
        let mut subdirs = Vec::new();
        // A second descriptor for the listing: `Dir` owns (and closes) what it is given.
        let listing = nix::unistd::dup(dir.as_fd())
            .ok()
            .and_then(|fd| Dir::from_fd(fd).ok());
        let Some(mut listing) = listing else {
            return Some(subdirs);
        };
        for entry in listing.iter() {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            // Vanished since the listing, or unreadable: skipped.
            let Ok(stat) = fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            if !self.count(&stat) {
                return None;
            }
            let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
            if is_dir && stat.st_dev == self.device {
                if enter {
                    subdirs.push(std::ffi::OsStr::from_bytes(bytes).to_owned());
                } else {
                    // Its content is left out: the depth bound.
                    self.usage.truncated = true;
                }
            }
        }
        Some(subdirs)
    }
}

fn open_dir<Fd: AsFd>(parent: Fd, name: &std::ffi::OsStr) -> nix::Result<OwnedFd> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Walks `root` (a directory; a symlink is refused) within `limits`.
pub fn dir_usage(root: &Path, limits: Limits) -> Result<Usage, WalkError> {
    let error = |source| WalkError {
        path: root.display().to_string(),
        source,
    };
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(error)?;
    let root_stat = fstat(root_fd.as_fd()).map_err(error)?;
    let mut walk = Walk {
        limits,
        started: Instant::now(),
        device: root_stat.st_dev,
        seen_links: HashSet::new(),
        usage: Usage::default(),
    };
    if !walk.count(&root_stat) {
        return Ok(walk.usage);
    }
    let Some(pending) = walk.list(&root_fd, limits.max_depth > 0) else {
        return Ok(walk.usage);
    };
    let mut path = vec![Level {
        dir: root_fd,
        pending,
    }];
    while let Some(level) = path.last_mut() {
        let Some(name) = level.pending.pop() else {
            path.pop();
            continue;
        };
        // Replaced by a symlink or removed since it was listed: skipped.
        let Ok(dir) = open_dir(level.dir.as_fd(), &name) else {
            continue;
        };
        let enter = path.len() < limits.max_depth;
        let Some(pending) = walk.list(&dir, enter) else {
            break;
        };
        path.push(Level { dir, pending });
    }
    Ok(walk.usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn allocated(path: &Path) -> u64 {
        std::fs::symlink_metadata(path).unwrap().blocks() * 512
    }

    #[test]
    fn counts_blocks_and_inodes_once_per_hard_link_and_never_follows_symlinks() {
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/file"), vec![7u8; 100_000]).unwrap();
        std::fs::hard_link(root.join("a/b/file"), root.join("a/link")).unwrap();
        // A symlink to a big tree outside: counted as a link, not followed.
        std::os::unix::fs::symlink("/usr", root.join("a/escape")).unwrap();
        let usage = dir_usage(root, Limits::default()).unwrap();
        // root, a, a/b, file (once), escape
        assert_eq!(usage.inodes, 5, "{usage:?}");
        let expected: u64 = [
            root,
            &root.join("a"),
            &root.join("a/b"),
            &root.join("a/b/file"),
        ]
        .iter()
        .map(|p| allocated(p))
        .sum::<u64>()
            + allocated(&root.join("a/escape"));
        assert_eq!(usage.bytes, expected);
        assert!(usage.bytes >= 100_000);
        assert!(!usage.truncated);
    }

    #[test]
    fn bounds_stop_the_walk_and_say_so() {
        let tree = tempfile::tempdir().unwrap();
        let mut deep = tree.path().to_path_buf();
        for level in 0..10 {
            deep.push(format!("d{level}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        let shallow = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let usage = dir_usage(tree.path(), shallow).unwrap();
        // root + d0..d3 counted, d3's content left out.
        assert_eq!(usage.inodes, 5, "{usage:?}");
        assert!(usage.truncated);
        let few = Limits {
            max_inodes: 4,
            ..Limits::default()
        };
        let usage = dir_usage(tree.path(), few).unwrap();
        assert_eq!(usage.inodes, 4);
        assert!(usage.truncated);
        let full = dir_usage(tree.path(), Limits::default()).unwrap();
        assert_eq!(full.inodes, 11);
        assert!(!full.truncated);
    }

    /// The walk's cost on a real tree (`/usr`, an image-like tree): run by hand with
    /// `cargo test -p octo-container-exporter --bins du::tests::walk_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn walk_cost_on_usr() {
        use nix::sys::resource::{UsageWho, getrusage};
        let cpu = || {
            let u = getrusage(UsageWho::RUSAGE_THREAD).unwrap();
            let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            s(u.user_time()) + s(u.system_time())
        };
        for round in 0..3 {
            let (before, started) = (cpu(), Instant::now());
            let usage = dir_usage(Path::new("/usr"), Limits::default()).unwrap();
            let (spent, took) = (cpu() - before, started.elapsed());
            eprintln!(
                "walk {round} of /usr: {} inodes, {:.0} MiB, {:.3} s CPU ({:.2} µs per inode), {:.3} s wall",
                usage.inodes,
                usage.bytes as f64 / 1048576.0,
                spent,
                spent * 1e6 / usage.inodes as f64,
                took.as_secs_f64()
            );
        }
    }

    #[test]
    fn a_symlinked_or_missing_root_is_an_error() {
        let tree = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr", tree.path().join("link")).unwrap();
        assert!(dir_usage(&tree.path().join("link"), Limits::default()).is_err());
        assert!(dir_usage(&tree.path().join("absent"), Limits::default()).is_err());
    }
}
