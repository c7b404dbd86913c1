//! `buddyinfo`: `node_buddyinfo_blocks{node,zone,size}`, free blocks per order from
//! `/proc/buddyinfo`.
//!
//! Hand-written: procfs-core 0.18 does not parse `/proc/buddyinfo`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;
use crate::sysfs::parse_go_float;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Buddyinfo {
            path: context.paths.proc("buddyinfo"),
        }))
    })
}

struct Buddyinfo {
    path: PathBuf,
}

/// One `Node 0, zone DMA32 759 572 ...` line.
#[derive(Debug, PartialEq)]
struct Zone<'a> {
    node: &'a str,
    zone: &'a str,
    sizes: Vec<f64>,
}

/// As procfs: at least four fields per line, the same number of orders on every line, every
/// count a float.
fn parse(text: &str) -> Result<Vec<Zone<'_>>, String> {
    let mut zones: Vec<Zone<'_>> = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 4 {
            return Err(format!("invalid number of fields, found: {parts:?}"));
        }
        let counts = &parts[4..];
        if let Some(first) = zones.first()
            && first.sizes.len() != counts.len()
        {
            return Err(format!(
                "mismatch in number of buddyinfo buckets, previous count {}, new count {}",
                first.sizes.len(),
                counts.len()
            ));
        }
        let sizes = counts
            .iter()
            .map(|count| {
                parse_go_float(count)
                    .ok_or_else(|| format!("invalid value in buddyinfo: {count:?}"))
            })
            .collect::<Result<Vec<f64>, String>>()?;
        zones.push(Zone {
            node: parts[1].strip_suffix(',').unwrap_or(parts[1]),
            zone: parts[3].strip_suffix(',').unwrap_or(parts[3]),
            sizes,
        });
    }
    Ok(zones)
}

impl Collector for Buddyinfo {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let zones = parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        let mut family = MetricFamily::gauge(
            "node_buddyinfo_blocks",
            "Count of free blocks according to size.",
        );
        for zone in &zones {
            for (size, value) in zone.sizes.iter().enumerate() {
                family.push(
                    &[
                        ("node", zone.node),
                        ("zone", zone.zone),
                        ("size", &size.to_string()),
                    ],
                    *value,
                );
            }
        }
        out.push(family);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "Node 0, zone      DMA      1      0      1 
Node 0, zone    DMA32    759    572    791 
Node 1, zone   Normal   4381   1093    185 
";

    #[test]
    fn parses_zones() {
        let zones = parse(SAMPLE).unwrap();
        assert_eq!(
            zones[2],
            Zone {
                node: "1",
                zone: "Normal",
                sizes: vec![4381.0, 1093.0, 185.0]
            }
        );
        assert!(parse("Node 0, zone DMA 1 2\nNode 0, zone DMA32 1\n").is_err());
        assert!(parse("Node 0, zone DMA x\n").is_err());
        assert!(parse("Node 0,\n").is_err());
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn collector_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Buddyinfo {
            path: dir.path().join("buddyinfo"),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
        std::fs::write(&collector.path, SAMPLE).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[0].samples.len(), 9);
        std::fs::write(&collector.path, "\n").unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..200, noise in "\\PC{0,80}") {
            let cut = SAMPLE.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(SAMPLE.len());
            let _ = parse(&SAMPLE[..cut]);
            let _ = parse(&format!("{}{noise}", &SAMPLE[..cut]));
            let _ = parse(&noise);
        }
    }
}
