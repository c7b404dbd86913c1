//! `btrfs`: per-filesystem allocation, commit and device statistics from
//! `<sysfs>/fs/btrfs/<uuid>/` (`node_btrfs_*`).
//!
//! Hand-written reader (procfs-core has no btrfs support) following upstream's procfs library:
//! attributes that do not exist read as 0 (or ""), numbers that do not parse read as 0, a
//! missing `features` or `devices` directory or a malformed `commit_stats` line fails the
//! collector.
//!
//! Upstream also asks mounted btrfs filesystems for per-device error counters with
//! `BTRFS_IOC_GET_DEV_STATS`; that path (`node_btrfs_device_errors_total`,
//! `node_btrfs_device_unused_bytes`, the `btrfs_dev_uuid` label) is not implemented yet, so
//! every host reports what upstream reports when the ioctls fail: the sysfs device sizes.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

/// Sector size of the `devices/<name>/size` attribute.
const SECTOR_SIZE: u64 = 512;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Btrfs {
            root: context.paths.sys("fs/btrfs"),
        }))
    })
}

struct Btrfs {
    root: PathBuf,
}

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
        }
    }

    fn add(&mut self, stats: &Stats) {
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
        for (device, size) in &stats.devices {
            self.device_size
                .push(&[("uuid", uuid), ("device", device)], *size as f64);
        }
    }

    fn into_vec(self) -> [MetricFamily; 11] {
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
        let mut families = Families::new();
        for dir in dirs {
            families.add(&read_stats(&dir)?);
        }
        out.extend(families.into_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};

    #[test]
    fn reads_a_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let fs = dir.path().join("fs/btrfs/abcd-ef");
        write(&fs.join("label"), "mine\n");
        write(&fs.join("features/raid56"), "0\n");
        write(&fs.join("devices/sda/size"), "20\n");
        write(&fs.join("devices/sdb/size"), "20\n");
        write(&fs.join("devices/sdc/size"), "20\n");
        write(&fs.join("allocation/global_rsv_size"), "7\n");
        write(&fs.join("allocation/data/bytes_reserved"), "3\n");
        write(&fs.join("allocation/metadata/bytes_reserved"), "0\n");
        write(&fs.join("allocation/system/bytes_reserved"), "0\n");
        write(&fs.join("allocation/data/raid5/used_bytes"), "10\n");
        write(&fs.join("allocation/data/raid5/total_bytes"), "garbage\n");
        write(
            &fs.join("commit_stats"),
            "commits 4\nmax_commit_ms 1500\nnew 1\n",
        );
        let collector = Btrfs {
            root: dir.path().join("fs/btrfs"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nonexistent-root");
        let want = [
            "node_btrfs_allocation_ratio block_group_type=data,mode=raid5,uuid=abcd-ef 1.5",
            "node_btrfs_commits_total uuid=abcd-ef 4",
            "node_btrfs_device_size_bytes device=sda,uuid=abcd-ef 10240",
            "node_btrfs_info label=mine,uuid=abcd-ef 1",
            "node_btrfs_max_commit_seconds uuid=abcd-ef 1.5",
            "node_btrfs_reserved_bytes block_group_type=metadata,uuid=abcd-ef 0",
            "node_btrfs_size_bytes block_group_type=data,mode=raid5,uuid=abcd-ef 0",
            "node_btrfs_used_bytes block_group_type=data,mode=raid5,uuid=abcd-ef 10",
        ];
        for line in want {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
        std::fs::remove_file(fs.join("features/raid56")).unwrap();
        std::fs::remove_dir(fs.join("features")).unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    #[test]
    fn no_btrfs_is_no_filesystem() {
        let collector = Btrfs {
            root: PathBuf::from("/nonexistent/fs/btrfs"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn commit_stats_follow_the_kernel_format() {
        let stats = parse_commit_stats(
            "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090\n",
        )
        .unwrap();
        assert_eq!(stats.commits, 258051);
        assert_eq!(stats.total_commit_ms, 47836090);
        assert!(parse_commit_stats("commits\n").is_err());
        assert!(parse_commit_stats("commits -1\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,40}\n){0,6}") {
            let _ = parse_commit_stats(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..80) {
            let text = "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\n";
            let cut = cut.min(text.len());
            let _ = parse_commit_stats(&text[..cut]);
        }
    }
}
