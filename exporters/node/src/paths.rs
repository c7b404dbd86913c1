//! Where the collectors read from: `--path.procfs`, `--path.sysfs`, `--path.rootfs` and
//! `--path.udev.data`.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{Flag, FlagSet, Flags};

/// The roots every file read goes through; nothing reads `/proc` or `/sys` directly.
#[derive(Debug, Clone)]
pub struct Paths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

/// The handles of the `--path.*` flags.
#[derive(Debug, Clone, Copy)]
pub struct PathFlags {
    procfs: Flag<String>,
    sysfs: Flag<String>,
    rootfs: Flag<String>,
    udev_data: Flag<String>,
}

impl PathFlags {
    /// Declares the `--path.*` flags under their own heading.
    pub fn declare(set: &mut FlagSet) -> Self {
        set.heading("Paths");
        PathFlags {
            procfs: set.string("path.procfs", "/proc", "procfs mountpoint."),
            sysfs: set.string("path.sysfs", "/sys", "sysfs mountpoint."),
            rootfs: set.string("path.rootfs", "/", "rootfs mountpoint."),
            udev_data: set.string("path.udev.data", "/run/udev/data", "udev data path."),
        }
    }

    /// The roots the command line gives.
    pub fn paths(self, flags: &Flags) -> Paths {
        Paths {
            procfs: flags.get(self.procfs).into(),
            sysfs: flags.get(self.sysfs).into(),
            rootfs: flags.get(self.rootfs).into(),
            udev_data: flags.get(self.udev_data).into(),
        }
    }
}

fn join_relative(root: &Path, rel: impl AsRef<Path>) -> PathBuf {
    let rel = rel.as_ref();
    root.join(rel.strip_prefix("/").unwrap_or(rel))
}

impl Paths {
    /// `<procfs>/<rel>`.
    pub fn proc(&self, rel: impl AsRef<Path>) -> PathBuf {
        join_relative(&self.procfs, rel)
    }

    /// `<sysfs>/<rel>`.
    pub fn sys(&self, rel: impl AsRef<Path>) -> PathBuf {
        join_relative(&self.sysfs, rel)
    }

    /// `<rootfs>/<path>` for an absolute path of the host (`/etc/os-release`, a mount point).
    pub fn root(&self, path: impl AsRef<Path>) -> PathBuf {
        join_relative(&self.rootfs, path)
    }

    /// `<udev data>/<rel>`.
    pub fn udev(&self, rel: impl AsRef<Path>) -> PathBuf {
        join_relative(&self.udev_data, rel)
    }

    /// A host mount point as upstream labels it: with the `--path.rootfs` prefix removed.
    pub fn strip_rootfs(&self, mount_point: &str) -> String {
        let root = self.rootfs.to_string_lossy();
        let root = root.trim_end_matches('/');
        if root.is_empty() {
            return mount_point.to_owned();
        }
        match mount_point.strip_prefix(root) {
            Some("") => "/".to_owned(),
            Some(rest) if rest.starts_with('/') => rest.to_owned(),
            _ => mount_point.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_joined_and_stripped() {
        let paths = Paths {
            procfs: "/host/proc".into(),
            sysfs: "/host/sys".into(),
            rootfs: "/host/root".into(),
            udev_data: "/run/udev/data".into(),
        };
        assert_eq!(paths.proc("net/dev"), PathBuf::from("/host/proc/net/dev"));
        assert_eq!(
            paths.root("/etc/os-release"),
            PathBuf::from("/host/root/etc/os-release")
        );
        assert_eq!(paths.strip_rootfs("/host/root/boot"), "/boot");
        assert_eq!(paths.strip_rootfs("/host/root"), "/");
        assert_eq!(paths.strip_rootfs("/host/rootless"), "/host/rootless");
        assert_eq!(Paths::default().strip_rootfs("/boot"), "/boot");
    }
}
