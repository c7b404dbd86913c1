//! `mdadm`: software RAID state. From `<procfs>/mdstat`: `node_md_state{device,state}`,
//! `node_md_disks{device,state}`, `node_md_disks_required`, `node_md_blocks`,
//! `node_md_blocks_synced`; from `<sysfs>/block/md*/md/`: `node_md_raid_disks` and
//! `node_md_degraded` (upstream 1.10+).
//!
//! Hand-written mdstat parser (procfs-core has none) following the format rules upstream's procfs
//! library applies: the device line gives the name, the activity state and the failed `(F)` /
//! spare `(S)` members; the status line gives the size and `[total/active]`; raid0/linear count
//! their members; a sync line (after an optional bitmap line) turns the state into recovering,
//! resyncing, checking or reshaping and gives the synced blocks.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{read_optional, read_string};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Mdadm {
        mdstat: paths.proc("mdstat"),
        block: paths.sys("block"),
        patterns: Patterns::new().map_err(|err| BuildError::Invalid(err.to_string()))?,
    }))
}

struct Mdadm {
    mdstat: PathBuf,
    block: PathBuf,
    patterns: Patterns,
}

/// The regexes of `/proc/mdstat` lines, compiled once.
struct Patterns {
    /// `<n> blocks ... [<total>/<active>] [UU_U]` (the last such pair on the line).
    status: Regex,
    /// `(<synced>/<total>)` on a sync line.
    synced: Regex,
}

impl Patterns {
    fn new() -> Result<Self, regex_lite::Error> {
        Ok(Patterns {
            status: Regex::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")?,
            synced: Regex::new(r"\((\d+)/(\d+)\)")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct MdStat {
    name: String,
    state: String,
    disks_active: i64,
    disks_total: i64,
    disks_failed: i64,
    disks_spare: i64,
    blocks_total: i64,
    blocks_synced: i64,
}

fn parse_mdstat(text: &str, patterns: &Patterns) -> Result<Vec<MdStat>, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut arrays = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || line.starts_with(' ') || line.starts_with("unused") {
            continue;
        }
        // The RAID personalities only tell the array type, which is not exported.
        if line.starts_with("Personalities : ") {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 3 {
            return Err(format!("expected 3+ fields in device line {line:?}"));
        }
        let name = fields[0];
        let mut state = fields[2].to_owned();
        if lines.len() <= i + 3 {
            return Err(format!("too few lines for md device {name}"));
        }
        let failed = line.matches("(F)").count() as i64;
        let spare = line.matches("(S)").count() as i64;
        let (active, total, size) = status_line(patterns, line, lines[i + 1])
            .ok_or_else(|| format!("cannot parse status line of {name}: {:?}", lines[i + 1]))?;
        let mut sync_index = i + 2;
        if lines[sync_index].contains("bitmap") {
            sync_index += 1;
        }
        let sync = lines[sync_index];
        let mut synced = size;
        let activity = if sync.contains("recovery") {
            Some("recovering")
        } else if sync.contains("reshape") {
            Some("reshaping")
        } else if sync.contains("check") {
            Some("checking")
        } else if sync.contains("resync") {
            Some("resyncing")
        } else {
            None
        };
        if let Some(activity) = activity {
            state = activity.to_owned();
            synced = if sync.contains("PENDING") || sync.contains("DELAYED") {
                0
            } else {
                synced_blocks(patterns, sync)
                    .ok_or_else(|| format!("cannot parse sync line of {name}: {sync:?}"))?
            };
        }
        arrays.push(MdStat {
            name: name.to_owned(),
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: failed,
            disks_spare: spare,
            blocks_total: size,
            blocks_synced: synced,
        });
    }
    Ok(arrays)
}

/// `(active, total, size)` from the device line and the status line.
fn status_line(patterns: &Patterns, device_line: &str, status: &str) -> Option<(i64, i64, i64)> {
    let size: i64 = status.split_ascii_whitespace().next()?.parse().ok()?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        let members = device_line.matches('[').count() as i64;
        return Some((members, members, size));
    }
    if device_line.contains("inactive") {
        return Some((0, 0, size));
    }
    let captures = patterns.status.captures(status)?;
    let total = captures[2].parse().ok()?;
    let active = captures[3].parse().ok()?;
    Some((active, total, size))
}

/// The synced blocks of a sync line: `... (16775552/195310144) finish=...`.
fn synced_blocks(patterns: &Patterns, line: &str) -> Option<i64> {
    let captures = patterns.synced.captures(line)?;
    captures[2].parse::<i64>().ok()?;
    captures[1].parse().ok()
}

/// What `<sysfs>/block/<md>/md/` says: `(device, raid_disks, degraded)`.
fn read_sysfs_arrays(block: &Path) -> Result<Vec<(String, Option<u64>, u64)>, CollectorError> {
    let entries = match std::fs::read_dir(block) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(CollectorError::io(block, err)),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("md"))
        .collect();
    names.sort();
    let mut arrays = Vec::new();
    for name in names {
        let md = block.join(&name).join("md");
        if !md.is_dir() {
            continue;
        }
        let level = read_string(&md.join("level"))?.trim().to_owned();
        let disks = match level.as_str() {
            "container" | "imsm" | "ddf" | "" => None,
            _ => {
                let text = read_string(&md.join("raid_disks"))?;
                // During a reshape the file reads "current (previous)".
                text.split_ascii_whitespace()
                    .next()
                    .and_then(|first| first.parse().ok())
            }
        };
        let degraded = match level.as_str() {
            "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => {
                let path = md.join("degraded");
                let text = read_string(&path)?;
                text.trim().parse().map_err(|_| {
                    CollectorError::parse(&path, format!("{:?} is not a number", text.trim()))
                })?
            }
            _ => 0,
        };
        arrays.push((name, disks, degraded));
    }
    Ok(arrays)
}

impl Collector for Mdadm {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let Some(text) = read_optional(&self.mdstat)? else {
            tracing::debug!(file = %self.mdstat.display(), "Not collecting mdstat, file does not exist");
            return Err(CollectorError::NoData);
        };
        let arrays = parse_mdstat(&text, &self.patterns)
            .map_err(|reason| CollectorError::parse(&self.mdstat, reason))?;

        let mut state = MetricFamily::gauge("node_md_state", "Indicates the state of md-device.");
        let mut disks = MetricFamily::gauge(
            "node_md_disks",
            "Number of active/failed/spare disks of device.",
        );
        let mut required =
            MetricFamily::gauge("node_md_disks_required", "Total number of disks of device.");
        let mut blocks = MetricFamily::gauge("node_md_blocks", "Total number of blocks on device.");
        let mut synced = MetricFamily::gauge(
            "node_md_blocks_synced",
            "Number of blocks synced on device.",
        );
        for array in &arrays {
            let device = array.name.as_str();
            required.push(&[("device", device)], array.disks_total as f64);
            for (label, count) in [
                ("active", array.disks_active),
                ("failed", array.disks_failed),
                ("spare", array.disks_spare),
            ] {
                disks.push(&[("device", device), ("state", label)], count as f64);
            }
            for (label, kernel_state) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                let value = if array.state == kernel_state {
                    1.0
                } else {
                    0.0
                };
                state.push(&[("device", device), ("state", label)], value);
            }
            blocks.push(&[("device", device)], array.blocks_total as f64);
            synced.push(&[("device", device)], array.blocks_synced as f64);
        }
        out.extend([state, disks, required, blocks, synced]);

        let mut raid_disks =
            MetricFamily::gauge("node_md_raid_disks", "Number of raid disks on device.");
        let mut degraded =
            MetricFamily::gauge("node_md_degraded", "Number of degraded disks on device.");
        for (device, disks, degraded_disks) in read_sysfs_arrays(&self.block)? {
            if let Some(disks) = disks {
                raid_disks.push(&[("device", &device)], disks as f64);
            }
            degraded.push(&[("device", &device)], degraded_disks as f64);
        }
        out.push(raid_disks);
        out.push(degraded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_mdstat(text: &str) -> Result<Vec<MdStat>, String> {
        super::parse_mdstat(text, &Patterns::new().unwrap())
    }

    const MDSTAT: &str = "\
Personalities : [linear] [multipath] [raid0] [raid1] [raid6] [raid5] [raid4] [raid10]

md3 : active raid6 sda1[8] sdh1[7] sdg1[6] sdf1[5] sde1[11] sdd1[3] sdc1[10] sdb1[9] sdd1[10](S) sdd2[11](S)
      5853468288 blocks super 1.2 level 6, 64k chunk, algorithm 2 [8/8] [UUUUUUUU]

md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]
      195310144 blocks [2/1] [U_]
      [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec

md7 : active raid6 sdb1[0] sde1[3] sdd1[2] sdc1[1](F)
      7813735424 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/3] [U_UU]
      bitmap: 0/30 pages [0KB], 65536KB chunk

md11 : active (auto-read-only) raid1 sdb2[0] sdc2[1] sdc3[2](F) hda[4](S) ssdc2[3](S)
      4190208 blocks super 1.2 [2/2] [UU]
      resync=PENDING

md10 : active raid0 sda1[0] sdb1[1]
       314159265 blocks 64k chunks

md4 : inactive raid1 sda3[0](F) sdb3[1](S)
      4883648 blocks [2/2] [UU]

unused devices: <none>
";

    #[test]
    fn reads_the_kernel_format() {
        let arrays = parse_mdstat(MDSTAT).unwrap();
        let get = |name: &str| arrays.iter().find(|a| a.name == name).unwrap().clone();
        let md3 = get("md3");
        assert_eq!(
            (md3.disks_active, md3.disks_total, md3.disks_spare),
            (8, 8, 2)
        );
        let md6 = get("md6");
        assert_eq!(md6.state, "recovering");
        assert_eq!(md6.blocks_synced, 16775552);
        assert_eq!((md6.disks_active, md6.disks_failed), (1, 1));
        assert_eq!(get("md7").blocks_synced, 7813735424);
        let md11 = get("md11");
        assert_eq!((md11.state.as_str(), md11.blocks_synced), ("resyncing", 0));
        assert_eq!(get("md10").disks_total, 2);
        let md4 = get("md4");
        assert_eq!((md4.state.as_str(), md4.disks_total), ("inactive", 0));
    }

    #[test]
    fn malformed_files_are_errors() {
        assert!(parse_mdstat("md0 : active raid1 sda[0]\n").is_err());
        assert!(parse_mdstat("md0 : active raid1 sda[0]\n  x blocks\n\n\n").is_err());
        assert!(parse_mdstat("md0 :\n\n\n\n").is_err());
        assert_eq!(
            parse_mdstat("Personalities : \nunused devices: <none>\n").unwrap(),
            vec![]
        );
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,100}\n){0,8}") {
            let _ = parse_mdstat(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..1200) {
            let cut = cut.min(MDSTAT.len());
            if MDSTAT.is_char_boundary(cut) {
                let _ = parse_mdstat(&MDSTAT[..cut]);
            }
        }
    }
}
