//! The `disk` kind, as cAdvisor fills a container's `Filesystem` statistics:
//!
//! - the root container `/`: every filesystem of the machine ([`mounts::partitions`]), usage
//!   = capacity − free, limit = capacity, inodes and free inodes from `statvfs`;
//! - a runtime container whose `/` is an overlay: its writable layer (the overlay's
//!   `upperdir`, from `/proc/<pid>/mountinfo` of its first process) and, for Docker, its
//!   `containers/<id>` directory (logs), measured by the background [`Walker`]; device and limit
//!   are those of the filesystem holding the layer; `container_fs_inodes_total` is the layer's
//!   inode count and `container_fs_inodes_free` 0, as cAdvisor writes them;
//! - with `diskIO` on too, the device's `/proc/diskstats` counters on each such filesystem
//!   (cAdvisor's per-filesystem half of the `container_fs_*` I/O families).
//!
//! Paths the runtime wrote (layers, mount points) are host paths, reached through
//! `<procfs>/1/root` so that the exporter works in a container with the host's `/proc`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use octo_exporter_kit::{MetricFamily, MetricType, SharedLabels};

use crate::classify::Runtime;
use crate::disk_usage::Walker;
use crate::diskstats::{self, DiskCounters, DiskLine};
use crate::mounts::{self, Partition};
use crate::options::DiskOptions;

/// How long a `statvfs` may take (cAdvisor: 2 s); a hung one (a dead NFS server) leaves the
/// last figures in place and is not asked again until it returns.
const STATFS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a container whose layer could not be found waits before it is looked for again.
const LAYER_RETRY: Duration = Duration::from_secs(10);

macro_rules! disk_families {
    ($($id:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        #[derive(Debug, Clone, Copy)]
        enum D { $($id),* }
        const DEFS: &[(&str, MetricType, &str)] = &[$(($name, MetricType::$kind, $help)),*];
    };
}

// Names, types and help strings of cAdvisor's `metrics/prometheus.go`.
disk_families! {
    InodesFree = "container_fs_inodes_free", Gauge, "Number of available Inodes";
    InodesTotal = "container_fs_inodes_total", Gauge, "Number of Inodes";
    Limit = "container_fs_limit_bytes", Gauge, "Number of bytes that can be consumed by the container on this filesystem.";
    Usage = "container_fs_usage_bytes", Gauge, "Number of bytes that are consumed by the container on this filesystem.";
    Reads = "container_fs_reads_total", Counter, "Cumulative count of reads completed";
    SectorReads = "container_fs_sector_reads_total", Counter, "Cumulative count of sector reads completed";
    ReadsMerged = "container_fs_reads_merged_total", Counter, "Cumulative count of reads merged";
    ReadSeconds = "container_fs_read_seconds_total", Counter, "Cumulative count of seconds spent reading";
    Writes = "container_fs_writes_total", Counter, "Cumulative count of writes completed";
    SectorWrites = "container_fs_sector_writes_total", Counter, "Cumulative count of sector writes completed";
    WritesMerged = "container_fs_writes_merged_total", Counter, "Cumulative count of writes merged";
    WriteSeconds = "container_fs_write_seconds_total", Counter, "Cumulative count of seconds spent writing";
    IoCurrent = "container_fs_io_current", Gauge, "Number of I/Os currently in progress";
    IoSeconds = "container_fs_io_time_seconds_total", Counter, "Cumulative count of seconds spent doing I/Os";
    IoWeightedSeconds = "container_fs_io_time_weighted_seconds_total", Counter, "Cumulative weighted I/O time in seconds";
}

/// A filesystem with its `statvfs` figures.
#[derive(Debug, Clone)]
struct Filesystem {
    partition: Partition,
    capacity: u64,
    free: u64,
    inodes: u64,
    inodes_free: u64,
}

/// Where a container's writable layer is, once found.
#[derive(Debug, Clone)]
struct Layer {
    /// Empty when not found (retried after [`LAYER_RETRY`]).
    dirs: Vec<PathBuf>,
    /// The filesystem holding it, by major:minor.
    device: Option<(u64, u64)>,
    looked: Instant,
    /// The last scrape that reported the container.
    seen: u64,
}

/// What a container is, for the disk kind.
#[derive(Debug, Clone, Copy)]
pub enum DiskTarget<'a> {
    Root,
    Runtime { runtime: Runtime, id: &'a str },
}

pub struct Disk {
    procfs: PathBuf,
    /// The host's `/` as this process sees it.
    host_root: PathBuf,
    with_io: bool,
    partitions_max_age: Duration,
    partitions: Vec<Partition>,
    partitions_read: Option<Instant>,
    filesystems: Vec<Filesystem>,
    statfs: Option<tokio::task::JoinHandle<Vec<Filesystem>>>,
    diskstats: Vec<DiskLine>,
    layers: HashMap<String, Layer>,
    /// Counts scrapes, to forget containers a scrape did not report.
    scrape: u64,
    /// The walker's targets changed this scrape.
    targets_changed: bool,
    walker: Walker,
    families: Vec<MetricFamily>,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk")
            .field("filesystems", &self.filesystems.len())
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

fn new_families() -> Vec<MetricFamily> {
    DEFS.iter()
        .map(|(name, kind, help)| MetricFamily::new(*name, *help, *kind))
        .collect()
}

/// `path` (absolute, as the host sees it) under `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

impl Disk {
    /// `with_io`: `diskIO` is on too, so the per-filesystem I/O counters are written.
    pub fn new(procfs: PathBuf, options: &DiskOptions, with_io: bool, refresh: Duration) -> Disk {
        let pid1_root = procfs.join("1/root");
        // Reading through pid 1's root needs the right to look into pid 1 (root, or
        // CAP_SYS_PTRACE in a container); without it paths are taken as they are.
        let host_root = if std::fs::read_dir(&pid1_root).is_ok() {
            pid1_root
        } else {
            PathBuf::from("/")
        };
        Disk {
            procfs,
            host_root,
            with_io,
            partitions_max_age: refresh,
            partitions: Vec::new(),
            partitions_read: None,
            filesystems: Vec::new(),
            statfs: None,
            diskstats: Vec::new(),
            layers: HashMap::new(),
            scrape: 0,
            targets_changed: false,
            walker: Walker::new(options.period, options.limits),
            families: new_families(),
        }
    }

    /// Brings the filesystem figures up to date; to be awaited before the containers.
    pub async fn begin_scrape(&mut self) {
        if self
            .partitions_read
            .is_none_or(|at| at.elapsed() >= self.partitions_max_age)
        {
            self.partitions_read = Some(Instant::now());
            match std::fs::read_to_string(self.procfs.join("1/mountinfo")) {
                Ok(text) => self.partitions = mounts::partitions(&text),
                Err(err) => tracing::warn!(error = %err, "cannot list filesystems (disk kind)"),
            }
        }
        if self.statfs.is_none() {
            let (root, partitions) = (self.host_root.clone(), self.partitions.clone());
            self.statfs = Some(tokio::task::spawn_blocking(move || {
                statfs_all(&root, partitions)
            }));
        }
        if let Some(handle) = self.statfs.as_mut() {
            match tokio::time::timeout(STATFS_TIMEOUT, handle).await {
                Ok(Ok(filesystems)) => {
                    self.filesystems = filesystems;
                    self.statfs = None;
                }
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "statfs task failed");
                    self.statfs = None;
                }
                Err(_) => tracing::warn!("statfs of the filesystems is hanging; last figures kept"),
            }
        }
        if self.with_io {
            self.diskstats = std::fs::read_to_string(self.procfs.join("diskstats"))
                .map(|text| diskstats::parse(&text))
                .unwrap_or_default();
        }
        self.scrape += 1;
    }

    /// Whether a pid is needed for `key`: its layer is not known and is due to be looked for.
    pub fn wants_pid(&self, key: &str) -> bool {
        self.layers
            .get(key)
            .is_none_or(|l| l.dirs.is_empty() && l.looked.elapsed() >= LAYER_RETRY)
    }

    /// Writes the disk families of one container; `io_devices` are the devices its cgroup
    /// I/O counters already named (one series per device and family).
    pub fn push(
        &mut self,
        key: &str,
        target: DiskTarget<'_>,
        pid: Option<u32>,
        base: &SharedLabels,
        io_devices: &[String],
    ) {
        match target {
            DiskTarget::Root => {
                for index in 0..self.filesystems.len() {
                    let fs = &self.filesystems[index];
                    let values = [
                        (D::Usage, fs.capacity.saturating_sub(fs.free)),
                        (D::Limit, fs.capacity),
                        (D::InodesTotal, fs.inodes),
                        (D::InodesFree, fs.inodes_free),
                    ];
                    let partition = fs.partition.clone();
                    self.push_values(base, &partition.device, &values);
                    self.push_io(base, &partition, io_devices);
                }
            }
            DiskTarget::Runtime { runtime, id } => {
                if self.wants_pid(key) {
                    let layer = self.find_layer(runtime, id, pid);
                    self.targets_changed |= !layer.dirs.is_empty();
                    self.layers.insert(key.to_owned(), layer);
                }
                let scrape = self.scrape;
                if let Some(layer) = self.layers.get_mut(key) {
                    layer.seen = scrape;
                }
                let Some(layer) = self.layers.get(key) else {
                    return;
                };
                let Some((major, minor)) = layer.device else {
                    return;
                };
                let Some(fs) = self
                    .filesystems
                    .iter()
                    .find(|f| (f.partition.major, f.partition.minor) == (major, minor))
                else {
                    return;
                };
                // Written once measured (cAdvisor writes 0 until its first walk).
                let Some(usage) = self.walker.usage(key) else {
                    return;
                };
                let values = [
                    (D::Usage, usage.bytes),
                    (D::Limit, fs.capacity),
                    (D::InodesTotal, usage.inodes),
                    (D::InodesFree, 0),
                ];
                let partition = fs.partition.clone();
                self.push_values(base, &partition.device, &values);
                self.push_io(base, &partition, io_devices);
            }
        }
    }

    fn push_values(&mut self, base: &SharedLabels, device: &str, values: &[(D, u64)]) {
        for (family, value) in values {
            self.families[*family as usize].push_shared(base, &[("device", device)], *value as f64);
        }
    }

    /// The device's `/proc/diskstats` counters (zeros where it has none, as cAdvisor).
    fn push_io(&mut self, base: &SharedLabels, partition: &Partition, io_devices: &[String]) {
        if !self.with_io {
            return;
        }
        let c: DiskCounters = diskstats::lookup(
            &self.diskstats,
            &partition.device,
            partition.major,
            partition.minor,
        );
        let ms = |v: u64| v as f64 / 1e3;
        let duplicate = io_devices.contains(&partition.device);
        let values = [
            (D::Reads, c.reads as f64, true),
            (D::SectorReads, c.sectors_read as f64, false),
            (D::ReadsMerged, c.reads_merged as f64, false),
            (D::ReadSeconds, ms(c.read_ms), false),
            (D::Writes, c.writes as f64, true),
            (D::SectorWrites, c.sectors_written as f64, false),
            (D::WritesMerged, c.writes_merged as f64, false),
            (D::WriteSeconds, ms(c.write_ms), false),
            (D::IoCurrent, c.in_progress as f64, false),
            (D::IoSeconds, ms(c.io_ms), false),
            (D::IoWeightedSeconds, ms(c.weighted_io_ms), false),
        ];
        for (family, value, shared_with_cgroup_io) in values {
            // The cgroup's own counters already wrote this device in these families.
            if shared_with_cgroup_io && duplicate {
                continue;
            }
            self.families[family as usize].push_shared(
                base,
                &[("device", partition.device.as_str())],
                value,
            );
        }
    }

    /// The writable layer of a runtime container, from its first process's mounts.
    fn find_layer(&self, runtime: Runtime, id: &str, pid: Option<u32>) -> Layer {
        let mut layer = Layer {
            dirs: Vec::new(),
            device: None,
            looked: Instant::now(),
            seen: self.scrape,
        };
        let Some(pid) = pid else { return layer };
        let Ok(text) = std::fs::read_to_string(self.procfs.join(format!("{pid}/mountinfo"))) else {
            return layer;
        };
        let Some(upper) = mounts::root_overlay_upper(&text) else {
            return layer;
        };
        let dir = under(&self.host_root, &upper);
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            return layer;
        };
        use std::os::unix::fs::MetadataExt;
        let dev = meta.dev();
        layer.device = Some((nix::sys::stat::major(dev), nix::sys::stat::minor(dev)));
        layer.dirs.push(dir);
        // Docker keeps a container's logs in `<root>/containers/<id>`, beside
        // `<root>/overlay2/<layer>/diff`; cAdvisor counts them in the usage.
        if runtime == Runtime::Docker
            && let Some(docker_root) = upper.parent().and_then(Path::parent).and_then(Path::parent)
            && upper
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                == Some("overlay2".as_ref())
            && !id.is_empty()
            && !id.contains('/')
        {
            layer.dirs.push(under(
                &self.host_root,
                &docker_root.join("containers").join(id),
            ));
        }
        layer
    }

    /// Ends the scrape: forgets containers that are gone, hands the walker its work, and
    /// returns the families with the walker's self metrics.
    pub fn finish(&mut self) -> Vec<MetricFamily> {
        let scrape = self.scrape;
        let before = self.layers.len();
        self.layers.retain(|_, layer| layer.seen == scrape);
        self.targets_changed |= self.layers.len() != before;
        if std::mem::take(&mut self.targets_changed) {
            let targets = self
                .layers
                .iter()
                .filter(|(_, layer)| !layer.dirs.is_empty())
                .map(|(key, layer)| (key.clone(), layer.dirs.clone()))
                .collect();
            self.walker.set_targets(targets);
        }
        let mut out = std::mem::replace(&mut self.families, new_families());
        out.extend(self.self_metrics());
        out
    }

    fn self_metrics(&self) -> Vec<MetricFamily> {
        let stats = self.walker.stats();
        let mut walks = MetricFamily::counter(
            "octo_container_exporter_disk_walks_total",
            "Writable-layer disk-usage walks made in the background (disk kind), by outcome: complete, truncated (a bound of depth, inodes or time was reached; the figures are a lower bound) or failed.",
        );
        for (outcome, value) in [
            ("complete", stats.complete),
            ("truncated", stats.truncated),
            ("failed", stats.failed),
        ] {
            walks.push(&[("outcome", outcome)], value as f64);
        }
        vec![
            walks,
            MetricFamily::counter(
                "octo_container_exporter_disk_walk_seconds_total",
                "Time spent walking writable layers in the background (disk kind).",
            )
            .with(&[], stats.walk_seconds),
            MetricFamily::counter(
                "octo_container_exporter_disk_walk_cpu_seconds_total",
                "CPU time (user and system) of the background disk-usage walker (disk kind).",
            )
            .with(&[], stats.cpu_seconds),
            MetricFamily::gauge(
                "octo_container_exporter_disk_walk_last_duration_seconds",
                "Duration of the most recent writable-layer walk (disk kind).",
            )
            .with(&[], stats.last_walk_seconds),
            MetricFamily::gauge(
                "octo_container_exporter_disk_walk_targets",
                "Writable layers the background walker measures (disk kind).",
            )
            .with(&[], stats.targets as f64),
        ]
    }
}

/// `statvfs` of every filesystem (run off the scrape's thread: it can hang on NFS).
fn statfs_all(root: &Path, partitions: Vec<Partition>) -> Vec<Filesystem> {
    partitions
        .into_iter()
        .filter_map(|partition| {
            let stat = nix::sys::statvfs::statvfs(&under(root, &partition.mount_point)).ok()?;
            let fragment = stat.fragment_size() as u64;
            Some(Filesystem {
                capacity: fragment.saturating_mul(stat.blocks() as u64),
                free: fragment.saturating_mul(stat.blocks_free() as u64),
                inodes: stat.files() as u64,
                inodes_free: stat.files_free() as u64,
                partition,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_cadvisor_names() {
        assert_eq!(DEFS.len(), D::IoWeightedSeconds as usize + 1);
        assert_eq!(DEFS[D::Usage as usize].0, "container_fs_usage_bytes");
        assert_eq!(
            under(Path::new("/proc/1/root"), Path::new("/var/lib/x")),
            PathBuf::from("/proc/1/root/var/lib/x")
        );
    }

    #[test]
    fn statfs_of_this_machine_root() {
        let parts = vec![Partition {
            device: "/dev/root".into(),
            mount_point: "/".into(),
            fs_type: "ext4".into(),
            major: 0,
            minor: 0,
        }];
        let fs = statfs_all(Path::new("/"), parts);
        assert_eq!(fs.len(), 1);
        assert!(fs[0].capacity > 0 && fs[0].capacity >= fs[0].free);
    }
}
