//! `selinux`: `node_selinux_enabled`, and when enabled `node_selinux_config_mode` (from
//! `<rootfs>/etc/selinux/config`) and `node_selinux_current_mode` (from the selinuxfs `enforce`
//! file): 1 enforcing, 0 permissive, -1 disabled or unknown.
//!
//! SELinux counts as enabled, as in the go-selinux library upstream uses, when a writable
//! selinuxfs is mounted (`<sysfs>/fs/selinux`, else an entry of `<procfs>/self/mountinfo` when
//! `<procfs>/filesystems` lists selinuxfs) and our own security label is not `kernel`. A host
//! without SELinux reports `node_selinux_enabled 0`. Checked on every scrape (a statfs and a
//! small read), so a relabelled or re-mounted host is seen at once.

use std::path::{Path, PathBuf};

use nix::sys::statfs::{SELINUX_MAGIC, statfs};
use nix::sys::statvfs::FsFlags;
use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{read_optional, read_string};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Selinux::new(paths)))
}

struct Selinux {
    default_mount: PathBuf,
    filesystems: PathBuf,
    mountinfo: PathBuf,
    current_label: PathBuf,
    config: PathBuf,
}

/// Whether `path` is a mounted, writable selinuxfs.
fn is_selinuxfs(path: &Path) -> bool {
    loop {
        match statfs(path) {
            Ok(stat) => {
                return stat.filesystem_type() == SELINUX_MAGIC
                    && !stat.flags().contains(FsFlags::ST_RDONLY);
            }
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
}

/// Mount points of the selinuxfs entries of a mountinfo file (field 5; the file system type
/// follows the ` - ` separator).
fn selinuxfs_mounts(mountinfo: &str) -> impl Iterator<Item = &str> {
    mountinfo
        .lines()
        .filter(|line| line.contains(" - selinuxfs "))
        .filter_map(|line| line.split(' ').nth(4))
}

/// The value of `key` in an `/etc/selinux/config` style file (`KEY=value`, `#`/`;` comments).
fn config_value<'a>(config: &'a str, key: &str) -> &'a str {
    config
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';']))
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k == key).then(|| v.trim_matches('"'))
        })
        .unwrap_or("")
}

/// 1 enforcing, 0 permissive, -1 anything else (go-selinux's `DefaultEnforceMode`).
fn config_mode(config: &str) -> f64 {
    match config_value(config, "SELINUX") {
        "enforcing" => 1.0,
        "permissive" => 0.0,
        _ => -1.0,
    }
}

/// The selinuxfs `enforce` file as a number, -1 when unreadable.
fn enforce_mode(text: Option<&str>) -> f64 {
    text.and_then(|t| t.trim().parse::<i32>().ok())
        .map_or(-1.0, f64::from)
}

impl Selinux {
    fn new(paths: &Paths) -> Self {
        Selinux {
            default_mount: paths.sys("fs/selinux"),
            filesystems: paths.proc("filesystems"),
            mountinfo: paths.proc("self/mountinfo"),
            current_label: paths.proc("thread-self/attr/current"),
            config: paths.root("/etc/selinux/config"),
        }
    }

    fn mount_point(&self) -> Result<Option<PathBuf>, CollectorError> {
        if is_selinuxfs(&self.default_mount) {
            return Ok(Some(self.default_mount.clone()));
        }
        let Some(filesystems) = read_optional(&self.filesystems)? else {
            return Ok(None);
        };
        if !filesystems.contains("\tselinuxfs\n") {
            return Ok(None);
        }
        let Some(mountinfo) = read_optional(&self.mountinfo)? else {
            return Ok(None);
        };
        Ok(selinuxfs_mounts(&mountinfo)
            .map(PathBuf::from)
            .find(|mount| is_selinuxfs(mount)))
    }
}

impl Collector for Selinux {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mount = self.mount_point()?;
        let enabled = match &mount {
            None => false,
            Some(_) => {
                let label = read_string(&self.current_label).unwrap_or_default();
                label.trim_end_matches('\0') != "kernel"
            }
        };
        out.push(
            MetricFamily::gauge(
                "node_selinux_enabled",
                "SELinux is enabled, 1 is true, 0 is false",
            )
            .with(&[], if enabled { 1.0 } else { 0.0 }),
        );
        let Some(mount) = mount.filter(|_| enabled) else {
            return Ok(());
        };
        let config = read_optional(&self.config)?.unwrap_or_default();
        out.push(
            MetricFamily::gauge(
                "node_selinux_config_mode",
                "Configured SELinux enforcement mode",
            )
            .with(&[], config_mode(&config)),
        );
        let enforce = read_string(&mount.join("enforce")).ok();
        out.push(
            MetricFamily::gauge(
                "node_selinux_current_mode",
                "Current SELinux enforcement mode",
            )
            .with(&[], enforce_mode(enforce.as_deref())),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_selinuxfs_in_mountinfo() {
        let mountinfo = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                         30 22 0:27 / /sys/fs/selinux rw,relatime - selinuxfs selinuxfs rw\n\
                         31 22 0:28 / /host/selinux rw - selinuxfs selinuxfs rw\n";
        let mounts: Vec<&str> = selinuxfs_mounts(mountinfo).collect();
        assert_eq!(mounts, ["/sys/fs/selinux", "/host/selinux"]);
        assert_eq!(selinuxfs_mounts("garbage - selinuxfs \n").count(), 0);
    }

    #[test]
    fn reads_the_configured_and_current_modes() {
        let config = "# comment\n; other\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
        assert_eq!(config_mode(config), 1.0);
        assert_eq!(config_mode("SELINUX=\"permissive\"\n"), 0.0);
        assert_eq!(config_mode("SELINUX=disabled\n"), -1.0);
        assert_eq!(config_mode(""), -1.0);
        assert_eq!(config_value(config, "SELINUXTYPE"), "targeted");
        assert_eq!(enforce_mode(Some("1")), 1.0);
        assert_eq!(enforce_mode(Some("0\n")), 0.0);
        assert_eq!(enforce_mode(Some("x")), -1.0);
        assert_eq!(enforce_mode(None), -1.0);
    }

    #[test]
    fn a_plain_directory_is_not_selinuxfs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_selinuxfs(dir.path()));
        assert!(!is_selinuxfs(&dir.path().join("missing")));
    }

    #[test]
    fn this_machine_matches_its_selinuxfs() {
        let collector = Selinux::new(&Paths::default());
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[0].name, "node_selinux_enabled");
        let mounted = is_selinuxfs(Path::new("/sys/fs/selinux"));
        if mounted {
            assert_eq!(out.len(), 3);
        } else {
            // No SELinux here (Debian's default): enabled 0 and nothing else, as upstream.
            assert_eq!(out[0].samples[0].value, 0.0);
            assert_eq!(out.len(), 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([a-z0-9/ =#;\"-]{0,30}\n?){0,5}") {
            let _ = selinuxfs_mounts(&text).count();
            let _ = config_mode(&text);
            let _ = enforce_mode(Some(&text));
        }
    }
}
