//! `diskstats`: block device I/O counters from `<procfs>/diskstats` (`node_disk_*{device}`),
//! `node_disk_info` (udev properties from `<udev data>/b<major>:<minor>` plus
//! `<sysfs>/block/<dev>/queue/rotational`), and from the udev properties
//! `node_disk_filesystem_info`, `node_disk_device_mapper_info` and `node_disk_ata_*`.
//!
//! Units as upstream: sectors × 512 bytes (discarded sectors stay sectors), milliseconds →
//! seconds. A line's fields beyond the 11 classic ones (discards since 4.18, flushes since 5.5)
//! produce their families only where the kernel prints them.

use std::collections::HashMap;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use procfs_core::DiskStat;

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::paths::Paths;
use crate::read::{read_optional, read_string, read_trimmed};

const DEFAULT_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

pub fn declare(set: &mut FlagSet) -> Builder {
    let exclude = set.string(
        "collector.diskstats.device-exclude",
        DEFAULT_EXCLUDE,
        "Regexp of diskstats devices to exclude (mutually exclusive to device-include).",
    );
    set.customize(exclude, |arg| {
        arg.alias("collector.diskstats.ignored-devices")
    });
    let include = set.optional(
        "collector.diskstats.device-include",
        "Regexp of diskstats devices to include (mutually exclusive to device-exclude).",
    );
    Box::new(move |context| {
        let filter = DeviceFilter::with_default_exclude(context.flags, exclude, include)?;
        Ok(Box::new(build(context.paths, filter)))
    })
}

fn build(paths: &Paths, filter: DeviceFilter) -> Diskstats {
    let udev = if paths.udev_data.is_dir() {
        Some(paths.clone())
    } else {
        tracing::error!(
            path = %paths.udev_data.display(),
            "Failed to open directory, disabling udev device properties"
        );
        None
    };
    Diskstats {
        diskstats: paths.proc("diskstats"),
        block: paths.sys("block"),
        udev,
        filter,
    }
}

struct Diskstats {
    diskstats: PathBuf,
    block: PathBuf,
    /// The paths, when the udev database is there to read.
    udev: Option<Paths>,
    filter: DeviceFilter,
}

/// The counter families in `/proc/diskstats` column order: name, help, type.
const COUNTERS: [(&str, &str, MetricType); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
    ),
];

const SECTOR_BYTES: f64 = 512.0;
const MS: f64 = 1.0 / 1000.0;

/// A line's values in [`COUNTERS`] order, `None` where the kernel does not print the field.
fn values(stat: &DiskStat) -> [Option<f64>; 17] {
    let ms = |v: u64| v as f64 * MS;
    [
        Some(stat.reads as f64),
        Some(stat.merged as f64),
        Some(stat.sectors_read as f64 * SECTOR_BYTES),
        Some(ms(stat.time_reading)),
        Some(stat.writes as f64),
        Some(stat.writes_merged as f64),
        Some(stat.sectors_written as f64 * SECTOR_BYTES),
        Some(ms(stat.time_writing)),
        Some(stat.in_progress as f64),
        Some(ms(stat.time_in_progress)),
        Some(ms(stat.weighted_time_in_progress)),
        stat.discards.map(|v| v as f64),
        stat.discards_merged.map(|v| v as f64),
        stat.sectors_discarded.map(|v| v as f64),
        stat.time_discarding.map(ms),
        stat.flushes.map(|v| v as f64),
        stat.time_flushing.map(ms),
    ]
}

/// The `E:KEY=VALUE` device properties of a udev database file.
fn parse_udev(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("E:")?.split_once('='))
        .collect()
}

/// The udev properties exported as `node_disk_ata_*`, with their families.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

impl Diskstats {
    fn udev_text(&self, major: i32, minor: i32) -> String {
        let Some(paths) = &self.udev else {
            return String::new();
        };
        let path = paths.udev(format!("b{major}:{minor}"));
        match read_optional(&path) {
            Ok(text) => text.unwrap_or_default(),
            Err(err) => {
                tracing::debug!(err = %err, "Failed to parse udev info");
                String::new()
            }
        }
    }

    /// "1" for a rotational device; "0" otherwise, also when the attribute is unreadable.
    fn rotational(&self, device: &str) -> &'static str {
        match read_trimmed(&self.block.join(device).join("queue/rotational")) {
            Ok(text) if text.parse::<u64>() == Ok(1) => "1",
            _ => "0",
        }
    }
}

/// The families a device's udev properties give: file system, device mapper and ATA details.
struct UdevFamilies {
    filesystem: MetricFamily,
    mapper: MetricFamily,
    ata: Vec<MetricFamily>,
}

impl UdevFamilies {
    fn new() -> Self {
        let filesystem =
            MetricFamily::gauge("node_disk_filesystem_info", "Info about disk filesystem.");
        let mapper = MetricFamily::gauge(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
        );
        let ata: Vec<MetricFamily> = ATA
            .iter()
            .map(|(_, name, help)| MetricFamily::gauge(*name, *help))
            .collect();
        UdevFamilies {
            filesystem,
            mapper,
            ata,
        }
    }

    fn push(&mut self, device: &str, udev: &HashMap<&str, &str>) {
        let property = |key: &str| udev.get(key).copied().unwrap_or("");
        let fs_type = property("ID_FS_TYPE");
        if !fs_type.is_empty() {
            self.filesystem.push(
                &[
                    ("device", device),
                    ("type", fs_type),
                    ("usage", property("ID_FS_USAGE")),
                    ("uuid", property("ID_FS_UUID")),
                    ("version", property("ID_FS_VERSION")),
                ],
                1.0,
            );
        }
        let dm_name = property("DM_NAME");
        if !dm_name.is_empty() {
            self.mapper.push(
                &[
                    ("device", device),
                    ("name", dm_name),
                    ("uuid", property("DM_UUID")),
                    ("vg_name", property("DM_VG_NAME")),
                    ("lv_name", property("DM_LV_NAME")),
                    ("lv_layer", property("DM_LV_LAYER")),
                ],
                1.0,
            );
        }
        if !property("ID_ATA").is_empty() {
            for (family, (key, _, _)) in self.ata.iter_mut().zip(ATA.iter()) {
                let Some(text) = udev.get(key) else {
                    tracing::debug!(attribute = key, "Udev attribute does not exist");
                    continue;
                };
                match text.parse::<f64>() {
                    Ok(value) => family.push(&[("device", device)], value),
                    Err(err) => {
                        tracing::error!(device, attribute = key, err = %err, "Failed to parse ATA value")
                    }
                }
            }
        }
    }
}

impl Collector for Diskstats {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.diskstats)?;
        let mut counters: Vec<MetricFamily> = COUNTERS
            .iter()
            .map(|(name, help, kind)| MetricFamily::new(*name, *help, *kind))
            .collect();
        let mut info = MetricFamily::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
        let mut from_udev = UdevFamilies::new();

        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let stat = match DiskStat::from_line(line) {
                Ok(stat) => stat,
                Err(err) => {
                    tracing::warn!(line, err = %err, "skipping malformed /proc/diskstats line");
                    continue;
                }
            };
            let device = stat.name.as_str();
            if self.filter.ignored(device) {
                continue;
            }
            let udev_text = self.udev_text(stat.major, stat.minor);
            let udev = parse_udev(&udev_text);
            let property = |key: &str| udev.get(key).copied().unwrap_or("");
            // The serial printed on the label, else the short serial, else ID_SERIAL (virtio).
            let serial = [
                property("SCSI_IDENT_SERIAL"),
                property("ID_SERIAL_SHORT"),
                property("ID_SERIAL"),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("");
            let (major, minor) = (stat.major.to_string(), stat.minor.to_string());
            info.push(
                &[
                    ("device", device),
                    ("major", &major),
                    ("minor", &minor),
                    ("path", property("ID_PATH")),
                    ("wwn", property("ID_WWN")),
                    ("model", property("ID_MODEL")),
                    ("serial", serial),
                    ("revision", property("ID_REVISION")),
                    ("rotational", self.rotational(device)),
                ],
                1.0,
            );
            for (family, value) in counters.iter_mut().zip(values(&stat)) {
                if let Some(value) = value {
                    family.push(&[("device", device)], value);
                }
            }
            from_udev.push(device, &udev);
        }
        out.push(info);
        out.extend(counters);
        out.push(from_udev.filesystem);
        out.push(from_udev.mapper);
        out.extend(from_udev.ata);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::BuildError;

    fn collector(args: &[&str], paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
        crate::collectors::testing::build(declare, paths, args)
    }

    #[test]
    fn default_exclude_and_include_rules() {
        let paths = Paths::default();
        assert!(collector(&[], &paths).is_ok());
        assert!(collector(&["--collector.diskstats.device-include=^sda$"], &paths).is_ok());
        let both = collector(
            &[
                "--collector.diskstats.device-include=^sda$",
                "--collector.diskstats.device-exclude=loop",
            ],
            &paths,
        );
        assert!(matches!(both, Err(BuildError::Invalid(_))));
        assert!(collector(&["--collector.diskstats.ignored-devices=^loop"], &paths).is_ok());
        assert!(matches!(
            collector(&["--collector.diskstats.device-exclude=("], &paths),
            Err(BuildError::Invalid(_))
        ));
        let filter = DeviceFilter::new(Some(("x", DEFAULT_EXCLUDE)), None).unwrap();
        for ignored in [
            "zram0",
            "ram1",
            "loop7",
            "sda1",
            "nvme0n1p2",
            "xvda3",
            "fd0",
        ] {
            assert!(filter.ignored(ignored), "{ignored}");
        }
        for kept in ["sda", "nvme0n1", "dm-0", "mmcblk0p1", "md0"] {
            assert!(!filter.ignored(kept), "{kept}");
        }
    }

    #[test]
    fn units_and_optional_fields() {
        let stat = DiskStat::from_line(
            "   8      16 sdb 326552 841 9657779 84 41822 2895 1972905 5007 0 60730 67070 68851 0 1925173784 11130",
        )
        .unwrap();
        let values = values(&stat);
        assert_eq!(values[2], Some(9657779.0 * 512.0));
        assert_eq!(values[3], Some(0.084));
        assert_eq!(
            values[13],
            Some(1925173784.0),
            "discarded sectors stay sectors"
        );
        assert_eq!(values[15], None, "no flush columns on this line");
    }

    #[test]
    fn udev_properties_and_missing_udev_directory() {
        let udev = parse_udev("S:disk/by-id/x\nE:ID_ATA=1\nE:ID_MODEL_ENC=A\\x20B\nE:BROKEN\n");
        assert_eq!(udev.get("ID_ATA"), Some(&"1"));
        assert_eq!(udev.len(), 2);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("diskstats"),
            "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\nnot a disk line\n",
        )
        .unwrap();
        let paths = Paths {
            procfs: dir.path().to_owned(),
            sysfs: dir.path().join("sys"),
            udev_data: dir.path().join("no-udev"),
            ..Paths::default()
        };
        let mut out = Vec::new();
        collector(&[], &paths).unwrap().update(&mut out).unwrap();
        let info = out.iter().find(|f| f.name == "node_disk_info").unwrap();
        assert_eq!(info.samples.len(), 1);
        assert!(
            info.samples[0]
                .labels
                .contains(&("rotational".into(), "0".into()))
        );
        assert!(
            info.samples[0]
                .labels
                .contains(&("serial".into(), String::new()))
        );
    }

    #[test]
    fn live_diskstats_parse() {
        let mut out = Vec::new();
        collector(&[], &Paths::default())
            .unwrap()
            .update(&mut out)
            .unwrap();
        assert!(
            out.iter()
                .any(|f| f.name == "node_disk_reads_completed_total")
        );
    }

    proptest::proptest! {
        #[test]
        fn udev_garbage_never_panics(text in "(.{0,80}\n){0,6}") {
            let _ = parse_udev(&text);
        }

        #[test]
        fn diskstats_garbage_never_panics(line in "[ 0-9a-z]{0,120}") {
            if let Ok(stat) = DiskStat::from_line(&line) {
                let _ = values(&stat);
            }
        }
    }
}
