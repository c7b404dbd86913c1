//! `btrfs`: per-filesystem allocation, commit and device statistics from
//! `<sysfs>/fs/btrfs/<uuid>/` (`node_btrfs_*`).
//!
//! Hand-written reader (procfs-core has no btrfs support) following upstream's procfs library:
//! attributes that do not exist read as 0 (or ""), numbers that do not parse read as 0, a
//! missing `features` or `devices` directory or a malformed `commit_stats` line fails the
//! collector.
//!
//! Like upstream, it also asks each mounted btrfs filesystem (the btrfs entries of
//! `<procfs>/1/mountinfo`, opened under `--path.rootfs`) for its devices with three ioctls
//! ([`crate::btrfs_ioctl`]), matched to the sysfs filesystems by fsid: for those, the devices
//! come from the kernel with `node_btrfs_device_errors_total{type}`,
//! `node_btrfs_device_unused_bytes` and a `btrfs_dev_uuid` label. A filesystem the ioctls cannot
//! reach (not mounted here, no permission, mountinfo unreadable) keeps the sysfs device sizes,
//! as upstream. The ioctls are only tried when sysfs shows a btrfs filesystem at all.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::btrfs_ioctl;
use crate::collector::{Builder, Collector, CollectorError};
use crate::mountinfo;
use crate::paths::Paths;
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

/// Sector size of the `devices/<name>/size` attribute.
const SECTOR_SIZE: u64 = 512;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Btrfs {
            root: context.paths.sys("fs/btrfs"),
            paths: context.paths.clone(),
        }))
    })
}

struct Btrfs {
    root: PathBuf,
    /// For mountinfo and the mount points the ioctls open.
    paths: Paths,
}

/// One device as the ioctls report it.
#[derive(Debug, Clone, PartialEq)]
struct IoctlDevice {
    /// The last component of the device path (`/dev/sda` → `sda`).
    name: String,
    uuid: String,
    total_bytes: u64,
    used_bytes: u64,
    /// write, read, flush, corruption, generation.
    errors: [u64; btrfs_ioctl::DEV_STAT_VALUES],
}

/// The `type` label of each counter of `BTRFS_IOC_GET_DEV_STATS`, in the kernel's order.
const ERROR_TYPES: [&str; btrfs_ioctl::DEV_STAT_VALUES] =
    ["write", "read", "flush", "corruption", "generation"];

#[derive(Debug, Default, PartialEq)]
struct CommitStats {
    commits: u64,
    last_commit_ms: u64,
    max_commit_ms: u64,
    total_commit_ms: u64,
}

struct Layout {
    mode: String,
    used_bytes: u64,
    total_bytes: u64,
    ratio: f64,
}

struct Allocation {
    reserved_bytes: u64,
    layouts: Vec<Layout>,
}

struct Stats {
    uuid: String,
    label: String,
    global_rsv_size: u64,
    allocations: Vec<(&'static str, Allocation)>,
    devices: Vec<(String, u64)>,
    commit: CommitStats,
}

/// A sysfs attribute as text, `""` when it does not exist.
fn read_text(path: &Path) -> Result<String, CollectorError> {
    match sys_read_file(path) {
        Ok(bytes) => Ok(to_valid_utf8(go_trim_space(&bytes))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

/// A numeric attribute; absent or unparsable reads as 0, as upstream.
fn read_value(path: &Path) -> Result<u64, CollectorError> {
    Ok(read_text(path)?.parse().unwrap_or(0))
}

/// The entries of a directory, sorted; a missing directory is an error.
fn list(path: &Path) -> Result<Vec<(String, bool)>, CollectorError> {
    let entries = std::fs::read_dir(path).map_err(|err| CollectorError::io(path, err))?;
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            (entry.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// How many bytes of disk a byte of data takes in a RAID profile.
fn ratio(mode: &str, devices: usize) -> f64 {
    let devices = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => devices / (devices - 1.0),
        "raid6" => devices / (devices - 2.0),
        _ => 0.0,
    }
}

/// `commit_stats`: `<key> <value>` lines; unknown keys are skipped.
fn parse_commit_stats(text: &str) -> Result<CommitStats, String> {
    let mut stats = CommitStats::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [key, value] = fields[..] else {
            return Err(format!("invalid commit_stats line {line:?}"));
        };
        let value: u64 = value
            .parse()
            .map_err(|_| format!("invalid commit_stats value in {line:?}"))?;
        match key {
            "commits" => stats.commits = value,
            "last_commit_ms" => stats.last_commit_ms = value,
            "max_commit_ms" => stats.max_commit_ms = value,
            "total_commit_ms" => stats.total_commit_ms = value,
            _ => {}
        }
    }
    Ok(stats)
}

fn read_allocation(dir: &Path, devices: usize) -> Result<Allocation, CollectorError> {
    let reserved_bytes = read_value(&dir.join("bytes_reserved"))?;
    let mut layouts = Vec::new();
    for (mode, is_dir) in list(dir)? {
        if !is_dir {
            continue;
        }
        let layout = dir.join(&mode);
        layouts.push(Layout {
            used_bytes: read_value(&layout.join("used_bytes"))?,
            total_bytes: read_value(&layout.join("total_bytes"))?,
            ratio: ratio(&mode, devices),
            mode,
        });
    }
    Ok(Allocation {
        reserved_bytes,
        layouts,
    })
}

fn read_stats(dir: &Path) -> Result<Stats, CollectorError> {
    let mut devices = Vec::new();
    for (name, _) in list(&dir.join("devices"))? {
        let size = read_value(&dir.join("devices").join(&name).join("size"))?;
        devices.push((name, size.wrapping_mul(SECTOR_SIZE)));
    }
    let label = read_text(&dir.join("label"))?;
    let mut uuid = read_text(&dir.join("metadata_uuid"))?;
    if uuid.is_empty() {
        uuid = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    // Upstream fails the filesystem when it cannot list its features.
    list(&dir.join("features"))?;
    let allocation = dir.join("allocation");
    let global_rsv_size = read_value(&allocation.join("global_rsv_size"))?;
    let mut allocations = Vec::new();
    for kind in ["data", "metadata", "system"] {
        allocations.push((
            kind,
            read_allocation(&allocation.join(kind), devices.len())?,
        ));
    }
    let commit_path = dir.join("commit_stats");
    let commit = match crate::read::read_optional(&commit_path)? {
        // Kernels before 6.0 have no commit_stats.
        None => CommitStats::default(),
        Some(text) => parse_commit_stats(&text)
            .map_err(|reason| CollectorError::parse(&commit_path, reason))?,
    };
    Ok(Stats {
        uuid,
        label,
        global_rsv_size,
        allocations,
        devices,
        commit,
    })
}

/// A btrfs entry of mountinfo: its source device and its mount point, unescaped as upstream.
#[derive(Debug, PartialEq)]
struct BtrfsMount {
    device: String,
    mount_point: String,
}

/// The btrfs mounts of a mountinfo file. A malformed line fails the whole list, as upstream's
/// parser does (then every filesystem keeps its sysfs devices).
fn btrfs_mounts(text: &str) -> Result<Vec<BtrfsMount>, String> {
    let mut mounts = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let parsed = mountinfo::parse_line(line)
            .ok_or_else(|| format!("malformed mountinfo line {line:?}"))?;
        if parsed.fs_type == "btrfs" {
            mounts.push(BtrfsMount {
                device: parsed.source.to_owned(),
                mount_point: parsed.mount_point,
            });
        }
    }
    Ok(mounts)
}

/// Asks each mounted btrfs filesystem for its devices, by fsid (hex, no dashes). A mount point
/// that cannot be opened or asked is skipped (another mount of the same filesystem may work).
fn ioctl_devices(paths: &Paths) -> Result<HashMap<String, Vec<IoctlDevice>>, CollectorError> {
    let primary = paths.proc("1/mountinfo");
    let text = match crate::read::read_string(&primary) {
        Err(err) if err.is_not_found() => {
            tracing::debug!(%err, "Reading root mounts failed, falling back to self mounts");
            crate::read::read_string(&paths.proc("self/mountinfo"))?
        }
        other => other?,
    };
    let mounts = btrfs_mounts(&text).map_err(|reason| CollectorError::parse(&primary, reason))?;
    let mut devices_done = HashSet::new();
    let mut found: HashMap<String, Vec<IoctlDevice>> = HashMap::new();
    for mount in mounts {
        if devices_done.contains(&mount.device) {
            continue;
        }
        let mount_point = paths.root(paths.strip_rootfs(&mount.mount_point));
        let filesystem = match btrfs_ioctl::Filesystem::open(&mount_point) {
            Ok(filesystem) => filesystem,
            Err(err) => {
                tracing::debug!(mount_point = %mount_point.display(), %err, "Error inspecting btrfs mountpoint");
                continue;
            }
        };
        let info = match filesystem.info() {
            Ok(info) => info,
            Err(err) => {
                tracing::debug!(mount_point = %mount_point.display(), %err, "Error querying btrfs filesystem");
                continue;
            }
        };
        let fsid = info.fsid_hex();
        if found.contains_key(&fsid) {
            continue;
        }
        match filesystem_devices(&filesystem, &info) {
            Ok(devices) => {
                devices_done.insert(mount.device);
                found.insert(fsid, devices);
            }
            Err(err) => {
                tracing::debug!(mount_point = %mount_point.display(), %err, "Error querying btrfs device stats");
            }
        }
    }
    Ok(found)
}

/// Device ids run from 0 to `max_id` with gaps (`ENODEV`); stop once all devices are found.
fn filesystem_devices(
    filesystem: &btrfs_ioctl::Filesystem,
    info: &btrfs_ioctl::FsInfo,
) -> std::io::Result<Vec<IoctlDevice>> {
    let mut devices = Vec::new();
    for devid in 0..=info.max_id {
        let device = match filesystem.dev_info(devid) {
            Ok(device) => device,
            Err(err) if err.raw_os_error() == Some(libc::ENODEV) => continue,
            Err(err) => return Err(err),
        };
        let errors = filesystem.dev_stats(devid)?;
        let path = to_valid_utf8(&device.path);
        devices.push(IoctlDevice {
            name: path.rsplit('/').next().unwrap_or_default().to_owned(),
            uuid: device.uuid_text(),
            total_bytes: device.total_bytes,
            used_bytes: device.bytes_used,
            errors,
        });
        if devices.len() as u64 == info.num_devices {
            break;
        }
    }
    Ok(devices)
}

struct Families {
    info: MetricFamily,
    global_rsv: MetricFamily,
    commits: MetricFamily,
    last_commit: MetricFamily,
    max_commit: MetricFamily,
    commit_seconds: MetricFamily,
    reserved: MetricFamily,
    used: MetricFamily,
    size: MetricFamily,
    ratio: MetricFamily,
    device_size: MetricFamily,
    device_unused: MetricFamily,
    device_errors: MetricFamily,
}

impl Families {
    fn new() -> Self {
        let gauge = MetricFamily::gauge;
        Families {
            info: gauge("node_btrfs_info", "Filesystem information"),
            global_rsv: gauge(
                "node_btrfs_global_rsv_size_bytes",
                "Size of global reserve.",
            ),
            commits: MetricFamily::counter(
                "node_btrfs_commits_total",
                "The total number of commits that have occurred.",
            ),
            last_commit: gauge(
                "node_btrfs_last_commit_seconds",
                "Duration of the most recent commit, in seconds.",
            ),
            max_commit: gauge(
                "node_btrfs_max_commit_seconds",
                "Duration of the slowest commit, in seconds.",
            ),
            commit_seconds: MetricFamily::counter(
                "node_btrfs_commit_seconds_total",
                "Sum of the duration of all commits, in seconds.",
            ),
            reserved: gauge(
                "node_btrfs_reserved_bytes",
                "Amount of space reserved for a data type",
            ),
            used: gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
            ),
            size: gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
            ),
            ratio: gauge(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
            ),
            device_size: gauge(
                "node_btrfs_device_size_bytes",
                "Size of a device that is part of the filesystem.",
            ),
            device_unused: gauge(
                "node_btrfs_device_unused_bytes",
                "Unused bytes unused on a device that is part of the filesystem.",
            ),
            device_errors: MetricFamily::counter(
                "node_btrfs_device_errors_total",
                "Errors reported for the device",
            ),
        }
    }

    fn add(&mut self, stats: &Stats, ioctl: Option<&[IoctlDevice]>) {
        let uuid = stats.uuid.as_str();
        let by_uuid = [("uuid", uuid)];
        self.info
            .push(&[("uuid", uuid), ("label", &stats.label)], 1.0);
        self.global_rsv.push(&by_uuid, stats.global_rsv_size as f64);
        self.commits.push(&by_uuid, stats.commit.commits as f64);
        let seconds = |ms: u64| ms as f64 / 1000.0;
        self.last_commit
            .push(&by_uuid, seconds(stats.commit.last_commit_ms));
        self.max_commit
            .push(&by_uuid, seconds(stats.commit.max_commit_ms));
        self.commit_seconds
            .push(&by_uuid, seconds(stats.commit.total_commit_ms));
        for (kind, allocation) in &stats.allocations {
            self.reserved.push(
                &[("uuid", uuid), ("block_group_type", kind)],
                allocation.reserved_bytes as f64,
            );
            for layout in &allocation.layouts {
                let labels = [
                    ("uuid", uuid),
                    ("block_group_type", kind),
                    ("mode", layout.mode.as_str()),
                ];
                self.used.push(&labels, layout.used_bytes as f64);
                self.size.push(&labels, layout.total_bytes as f64);
                self.ratio.push(&labels, layout.ratio);
            }
        }
        let Some(devices) = ioctl else {
            for (device, size) in &stats.devices {
                self.device_size
                    .push(&[("uuid", uuid), ("device", device)], *size as f64);
            }
            return;
        };
        for device in devices {
            let labels = [
                ("uuid", uuid),
                ("device", device.name.as_str()),
                ("btrfs_dev_uuid", device.uuid.as_str()),
            ];
            self.device_size.push(&labels, device.total_bytes as f64);
            // Go's unsigned subtraction: wraps if the kernel ever reports more used than total.
            let unused = device.total_bytes.wrapping_sub(device.used_bytes);
            self.device_unused.push(&labels, unused as f64);
            for (kind, count) in ERROR_TYPES.iter().zip(device.errors) {
                self.device_errors.push(
                    &[
                        ("uuid", uuid),
                        ("type", kind),
                        ("device", device.name.as_str()),
                        ("btrfs_dev_uuid", device.uuid.as_str()),
                    ],
                    count as f64,
                );
            }
        }
    }

    fn into_vec(self) -> [MetricFamily; 13] {
        [
            self.info,
            self.global_rsv,
            self.commits,
            self.last_commit,
            self.max_commit,
            self.commit_seconds,
            self.reserved,
            self.used,
            self.size,
            self.ratio,
            self.device_size,
            self.device_unused,
            self.device_errors,
        ]
    }
}

impl Collector for Btrfs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // Upstream globs `fs/btrfs/*-*`: no btrfs module means no filesystems, not an error.
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(());
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().contains('-'))
            .map(|entry| entry.path())
            .collect();
        dirs.sort();
        let stats = dirs
            .iter()
            .map(|dir| read_stats(dir))
            .collect::<Result<Vec<_>, _>>()?;
        let ioctl = if stats.is_empty() {
            HashMap::new()
        } else {
            ioctl_devices(&self.paths).unwrap_or_else(|err| {
                tracing::debug!(%err, "Error querying btrfs device stats with ioctl");
                HashMap::new()
            })
        };
        let mut families = Families::new();
        for stats in &stats {
            // sysfs names filesystems by their dashed UUID, the ioctl by the bare hex.
            let devices = ioctl.get(&stats.uuid.replace('-', ""));
            families.add(stats, devices.map(Vec::as_slice));
        }
        out.extend(families.into_vec());
        Ok(())
    }
}

#[cfg(test)]
#[path = "btrfs_tests.rs"]
mod tests;
