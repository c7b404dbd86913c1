//! The machine's filesystems as cAdvisor lists them (its `processMounts`: the mounts of a
//! filesystem type it has a plugin for, one per source, tmpfs and overlay sources made unique,
//! the root mount always kept), and the writable layer of a container (the `upperdir` of the
//! overlay mounted as its `/`), both from a `mountinfo` text.

use std::path::PathBuf;

use procfs_core::process::MountInfo;

/// A filesystem cAdvisor reports on the root container: `device` is its `device` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub device: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub major: u64,
    pub minor: u64,
}

/// Filesystem types cAdvisor has a plugin for (vfs, tmpfs, overlay, nfs, btrfs, zfs).
fn has_plugin(fs_type: &str) -> bool {
    fs_type.starts_with("ext")
        || fs_type.starts_with("nfs")
        || matches!(
            fs_type,
            "xfs"
                | "squashfs"
                | "f2fs"
                | "jfs"
                | "reiserfs"
                | "hfs"
                | "hfsplus"
                | "ntfs"
                | "vfat"
                | "fat"
                | "msdos"
                | "exfat"
                | "udf"
                | "iso9660"
                | "tmpfs"
                | "overlay"
                | "btrfs"
                | "zfs"
        )
}

fn major_minor(majmin: &str) -> Option<(u64, u64)> {
    let (major, minor) = majmin.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The lines of a `mountinfo` text that parse; the others are skipped.
fn mounts(text: &str) -> impl Iterator<Item = MountInfo> + '_ {
    text.lines()
        .filter_map(|line| MountInfo::from_line(line).ok())
}

/// The filesystems of a `mountinfo` text, in mount order.
pub fn partitions(text: &str) -> Vec<Partition> {
    let mut out: Vec<Partition> = Vec::new();
    let mut root: Option<Partition> = None;
    for mount in mounts(text) {
        let Some((major, minor)) = major_minor(&mount.majmin) else {
            continue;
        };
        let source = mount.mount_source.clone().unwrap_or_default();
        let partition = Partition {
            device: source.clone(),
            mount_point: mount.mount_point.clone(),
            fs_type: mount.fs_type.clone(),
            major,
            minor,
        };
        if mount.mount_point.as_os_str() == "/" && root.is_none() {
            root = Some(partition.clone());
        }
        if !has_plugin(&mount.fs_type) {
            continue;
        }
        // Sources made unique as cAdvisor's tmpfs and overlay plugins make them.
        let device = match mount.fs_type.as_str() {
            "tmpfs" => mount.mount_point.display().to_string(),
            "overlay" => format!("{source}_{major}-{minor}"),
            _ => source,
        };
        let partition = Partition {
            device,
            ..partition
        };
        match out.iter_mut().find(|p| p.device == partition.device) {
            // A bind mount of a source already listed; a tmpfs mounted again replaces.
            Some(existing) if partition.fs_type == "tmpfs" => *existing = partition,
            Some(_) => {}
            None => out.push(partition),
        }
    }
    // The root mount is always listed, under its own source and mount point.
    if let Some(root) = root {
        match out.iter_mut().find(|p| p.device == root.device) {
            Some(existing) => *existing = root,
            None => out.push(root),
        }
    }
    out
}

/// The upper (writable) directory of the overlay mounted at `/` in a process's `mountinfo`,
/// as the runtime that mounted it wrote it (a path in the runtime's mount namespace).
pub fn root_overlay_upper(text: &str) -> Option<PathBuf> {
    let root = mounts(text)
        .filter(|m| m.mount_point.as_os_str() == "/")
        .last()?;
    if root.fs_type != "overlay" {
        return None;
    }
    let upper = root.super_options.get("upperdir")?.as_deref()?;
    let path = PathBuf::from(unescape(upper));
    // Only a plain absolute path: nothing relative, no `..` to climb with.
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir));
    plain.then_some(path)
}

/// `mountinfo` escapes space, tab, newline and backslash as `\ooo`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOST: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683664k
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=100k
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 27 254:0 /var/lib/docker /mnt/bind rw,relatime - ext4 /dev/vda rw
41 27 8:17 / /data rw,relatime shared:5 - xfs /dev/sdb1 rw
42 27 0:52 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
";

    #[test]
    fn partitions_as_cadvisor_lists_them() {
        let parts = partitions(HOST);
        let devices: Vec<&str> = parts.iter().map(|p| p.device.as_str()).collect();
        assert_eq!(
            devices,
            ["/dev/vda", "/dev/shm", "/dev/sdb1", "overlay_0-52"]
        );
        assert_eq!(parts[0].mount_point, PathBuf::from("/"));
        assert_eq!((parts[2].major, parts[2].minor), (8, 17));
        assert_eq!(parts[2].fs_type, "xfs");
    }

    #[test]
    fn the_writable_layer_of_a_container_root() {
        let container = "\
600 500 0:99 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/abc/diff,workdir=/var/lib/docker/overlay2/abc/work
601 600 0:100 / /proc rw - proc proc rw
";
        assert_eq!(
            root_overlay_upper(container),
            Some(PathBuf::from("/var/lib/docker/overlay2/abc/diff"))
        );
        assert_eq!(root_overlay_upper(HOST), None);
        let escaped = "1 0 0:9 / / rw - overlay overlay rw,upperdir=/var/my\\040dir/diff\n";
        assert_eq!(
            root_overlay_upper(escaped),
            Some(PathBuf::from("/var/my dir/diff"))
        );
        let climbing = "1 0 0:9 / / rw - overlay overlay rw,upperdir=/a/../../etc\n";
        assert_eq!(root_overlay_upper(climbing), None);
        let relative = "1 0 0:9 / / rw - overlay overlay rw,upperdir=diff\n";
        assert_eq!(root_overlay_upper(relative), None);
    }

    proptest! {
        #[test]
        fn garbage_and_truncated_text_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..400,
        ) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = partitions(&text);
            let _ = root_overlay_upper(&text);
            let truncated = &HOST[..cut.min(HOST.len())];
            let _ = partitions(truncated);
            let _ = root_overlay_upper(truncated);
            let _ = unescape(&text);
        }
    }
}
