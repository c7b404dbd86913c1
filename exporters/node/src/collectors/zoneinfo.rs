//! `zoneinfo`: per node and zone page counts, watermarks and NUMA counters from
//! `/proc/zoneinfo`, `node_zoneinfo_*{node,zone}`.
//!
//! Hand-written: procfs-core 0.18 does not parse `/proc/zoneinfo`. The quirks are procfs':
//! the file is cut into blocks at each `\nNode`, a value that is not a number reads as 0, and
//! the per-node stats at the top of a node's first zone count for that zone.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::read::read_string;
use crate::sysfs::parse_go_int;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Zoneinfo {
            path: context.paths.proc("zoneinfo"),
            node_zone: Regex::new(r"(\d+), zone\s+(\w+)")
                .map_err(|err| BuildError::Invalid(format!("zoneinfo pattern: {err}")))?,
        }))
    })
}

struct Zoneinfo {
    path: PathBuf,
    node_zone: Regex,
}

/// A `/proc/zoneinfo` key and the family it becomes.
struct Field {
    key: &'static str,
    metric: &'static str,
    help: &'static str,
    counter: bool,
}

const fn gauge(key: &'static str, metric: &'static str, help: &'static str) -> Field {
    Field {
        key,
        metric,
        help,
        counter: false,
    }
}

const fn counter(key: &'static str, metric: &'static str, help: &'static str) -> Field {
    Field {
        key,
        metric,
        help,
        counter: true,
    }
}

#[rustfmt::skip]
const FIELDS: &[Field] = &[
    gauge("nr_free_pages", "node_zoneinfo_nr_free_pages", "Total number of free pages in the zone"),
    gauge("min", "node_zoneinfo_min_pages", "Zone watermark pages_min"),
    gauge("low", "node_zoneinfo_low_pages", "Zone watermark pages_low"),
    gauge("high", "node_zoneinfo_high_pages", "Zone watermark pages_high"),
    gauge("scanned", "node_zoneinfo_scanned_pages", "Pages scanned since last reclaim"),
    gauge("spanned", "node_zoneinfo_spanned_pages", "Total pages spanned by the zone, including holes"),
    gauge("present", "node_zoneinfo_present_pages", "Physical pages existing within the zone"),
    gauge("managed", "node_zoneinfo_managed_pages", "Present pages managed by the buddy system"),
    gauge("nr_active_anon", "node_zoneinfo_nr_active_anon_pages", "Number of anonymous pages recently more used"),
    gauge("nr_inactive_anon", "node_zoneinfo_nr_inactive_anon_pages", "Number of anonymous pages recently less used"),
    gauge("nr_isolated_anon", "node_zoneinfo_nr_isolated_anon_pages", "Temporary isolated pages from anon lru"),
    gauge("nr_anon_pages", "node_zoneinfo_nr_anon_pages", "Number of anonymous pages currently used by the system"),
    gauge("nr_anon_transparent_hugepages", "node_zoneinfo_nr_anon_transparent_hugepages", "Number of anonymous transparent huge pages currently used by the system"),
    gauge("nr_active_file", "node_zoneinfo_nr_active_file_pages", "Number of active pages with file-backing"),
    gauge("nr_inactive_file", "node_zoneinfo_nr_inactive_file_pages", "Number of inactive pages with file-backing"),
    gauge("nr_isolated_file", "node_zoneinfo_nr_isolated_file_pages", "Temporary isolated pages from file lru"),
    gauge("nr_file_pages", "node_zoneinfo_nr_file_pages", "Number of file pages"),
    gauge("nr_slab_reclaimable", "node_zoneinfo_nr_slab_reclaimable_pages", "Number of reclaimable slab pages"),
    gauge("nr_slab_unreclaimable", "node_zoneinfo_nr_slab_unreclaimable_pages", "Number of unreclaimable slab pages"),
    gauge("nr_mlock_stack", "node_zoneinfo_nr_mlock_stack_pages", "mlock()ed pages found and moved off LRU"),
    gauge("nr_kernel_stack", "node_zoneinfo_nr_kernel_stacks", "Number of kernel stacks"),
    gauge("nr_mapped", "node_zoneinfo_nr_mapped_pages", "Number of mapped pages"),
    gauge("nr_dirty", "node_zoneinfo_nr_dirty_pages", "Number of dirty pages"),
    gauge("nr_writeback", "node_zoneinfo_nr_writeback_pages", "Number of writeback pages"),
    gauge("nr_unevictable", "node_zoneinfo_nr_unevictable_pages", "Number of unevictable pages"),
    gauge("nr_shmem", "node_zoneinfo_nr_shmem_pages", "Number of shmem pages (included tmpfs/GEM pages)"),
    counter("nr_dirtied", "node_zoneinfo_nr_dirtied_total", "Page dirtyings since bootup"),
    counter("nr_written", "node_zoneinfo_nr_written_total", "Page writings since bootup"),
    counter("numa_hit", "node_zoneinfo_numa_hit_total", "Allocated in intended node"),
    counter("numa_miss", "node_zoneinfo_numa_miss_total", "Allocated in non intended node"),
    counter("numa_foreign", "node_zoneinfo_numa_foreign_total", "Was intended here, hit elsewhere"),
    counter("numa_interleave", "node_zoneinfo_numa_interleave_total", "Interleaver preferred this zone"),
    counter("numa_local", "node_zoneinfo_numa_local_total", "Allocation from local node"),
    counter("numa_other", "node_zoneinfo_numa_other_total", "Allocation from other node"),
];

/// One block of the file: a zone of a node (empty names when the block has no header line).
#[derive(Debug, Default, PartialEq)]
struct Zone {
    node: String,
    zone: String,
    /// By [`FIELDS`] index; `None` where the block does not have the key.
    values: Vec<Option<i64>>,
    protection: Vec<i64>,
}

fn parse(text: &str, node_zone: &Regex) -> Vec<Zone> {
    text.split("\nNode")
        .map(|block| parse_block(block, node_zone))
        .collect()
}

fn parse_block(block: &str, node_zone: &Regex) -> Zone {
    let mut zone = Zone {
        values: vec![None; FIELDS.len()],
        ..Zone::default()
    };
    for line in block.split('\n') {
        if let Some(captures) = node_zone.captures(line) {
            zone.node = captures.get(1).map_or("", |m| m.as_str()).to_owned();
            zone.zone = captures.get(2).map_or("", |m| m.as_str()).to_owned();
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("per-node stats") {
            continue;
        }
        let mut parts = trimmed.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if key == "protection:" {
            if let Some(values) = parse_protection(line) {
                zone.protection = values;
            }
        } else if let Some(i) = FIELDS.iter().position(|field| field.key == key) {
            // procfs' value parser hands back 0 for what it cannot parse.
            zone.values[i] = Some(parse_go_int(value).unwrap_or(0));
        }
    }
    zone
}

/// `protection: (0, 2039, 31932)`: all numbers, or nothing (the zone keeps what it had).
fn parse_protection(line: &str) -> Option<Vec<i64>> {
    let list = line.split(':').nth(1)?;
    let list = list.replacen('(', "", 1).replacen(')', "", 1);
    list.trim()
        .split(", ")
        .map(|value| value.parse::<i64>().ok())
        .collect()
}

impl Collector for Zoneinfo {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let zones = parse(&text, &self.node_zone);
        let mut families: Vec<MetricFamily> = FIELDS
            .iter()
            .map(|field| {
                let kind = if field.counter {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                };
                MetricFamily::new(field.metric, field.help, kind)
            })
            .collect();
        let mut protection: Vec<MetricFamily> = Vec::new();
        for zone in &zones {
            let labels = [("node", zone.node.as_str()), ("zone", zone.zone.as_str())];
            for (family, value) in families.iter_mut().zip(&zone.values) {
                if let Some(value) = value {
                    family.push(&labels, *value as f64);
                }
            }
            for (i, value) in zone.protection.iter().enumerate() {
                if protection.len() <= i {
                    protection.push(MetricFamily::gauge(
                        format!("node_zoneinfo_protection_{i}"),
                        format!("Protection array {i}. field"),
                    ));
                }
                protection[i].push(&labels, *value as f64);
            }
        }
        out.extend(families);
        out.extend(protection);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::lines;
    use proptest::prelude::*;

    const SAMPLE: &str = "Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 95612
      nr_dirtied   1189097
  pages free     2949
        min      8
        protection: (0, 2039, 31932)
      nr_free_pages 2949
      numa_hit     1
  pagesets
    cpu: 0
              high:  0
Node 0, zone    DMA32
  pages free     528427
        min      1007
        protection: (0, x)
      nr_free_pages 0x10
      numa_miss    garbage
";

    fn regex() -> Regex {
        Regex::new(r"(\d+), zone\s+(\w+)").unwrap()
    }

    #[test]
    fn blocks_keys_and_quirks() {
        let zones = parse(SAMPLE, &regex());
        assert_eq!(zones.len(), 2);
        assert_eq!(
            (zones[0].node.as_str(), zones[0].zone.as_str()),
            ("0", "DMA")
        );
        assert_eq!(zones[0].protection, [0, 2039, 31932]);
        assert_eq!(zones[0].values[0], Some(2949));
        assert_eq!(zones[0].values[1], Some(8));
        assert_eq!(zones[0].values[3], None, "pagesets' `high:` is another key");
        assert_eq!(zones[1].zone, "DMA32");
        assert!(zones[1].protection.is_empty());
        assert_eq!(zones[1].values[0], Some(16));
        let miss = FIELDS.iter().position(|f| f.key == "numa_miss").unwrap();
        assert_eq!(zones[1].values[miss], Some(0));
    }

    #[test]
    fn collector_renders_families() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Zoneinfo {
            path: dir.path().join("zoneinfo"),
            node_zone: regex(),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
        std::fs::write(&collector.path, SAMPLE).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nowhere");
        assert!(lines.contains(&"node_zoneinfo_protection_2 node=0,zone=DMA 31932".to_owned()));
        assert!(
            lines.contains(&"node_zoneinfo_nr_dirtied_total node=0,zone=DMA 1189097".to_owned())
        );
        assert_eq!(lines.len(), 11);
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..600, noise in "\\PC{0,80}") {
            let cut = SAMPLE.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(SAMPLE.len());
            let _ = parse(&SAMPLE[..cut], &regex());
            let _ = parse(&format!("{}{noise}", &SAMPLE[..cut]), &regex());
            let _ = parse(&noise, &regex());
        }
    }
}
