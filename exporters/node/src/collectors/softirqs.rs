//! `softirqs`: `node_softirqs_functions_total{cpu,type}` from `/proc/softirqs`, one series per
//! CPU and softirq type.
//!
//! Hand-written: procfs-core 0.18 does not parse `/proc/softirqs`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Softirqs {
            path: context.paths.proc("softirqs"),
        }))
    })
}

struct Softirqs {
    path: PathBuf,
}

/// The softirq types upstream reports; other rows of the file are ignored, as procfs does.
const TYPES: &[&str] = &[
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

/// Per-CPU counts of each known type, in [`TYPES`] order (a row given twice: the last wins).
fn parse(text: &str) -> Result<Vec<(&'static str, Vec<u64>)>, String> {
    let mut lines = text.lines();
    if lines.next().is_none() {
        return Err("softirqs empty".into());
    }
    let mut rows: Vec<(&'static str, Vec<u64>)> = Vec::new();
    for line in lines {
        let mut fields = line.split_whitespace();
        let (Some(label), Some(_)) = (fields.next(), fields.clone().next()) else {
            continue;
        };
        let Some(kind) = label
            .strip_suffix(':')
            .and_then(|name| TYPES.iter().find(|t| **t == name))
        else {
            continue;
        };
        let counts = fields
            .enumerate()
            .map(|(cpu, count)| {
                parse_uint(count).ok_or_else(|| format!("couldn't parse {count:?} ({kind}{cpu})"))
            })
            .collect::<Result<Vec<u64>, String>>()?;
        rows.retain(|(k, _)| k != kind);
        rows.push((kind, counts));
    }
    rows.sort_by_key(|(kind, _)| TYPES.iter().position(|t| t == kind));
    Ok(rows)
}

/// Go's `strconv.ParseUint(.., 10, 64)`: digits only, no sign.
fn parse_uint(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Collector for Softirqs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let rows = parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        let mut family =
            MetricFamily::counter("node_softirqs_functions_total", "Softirq counts per CPU.");
        for (kind, counts) in rows {
            for (cpu, count) in counts.iter().enumerate() {
                family.push(&[("cpu", &cpu.to_string()), ("type", kind)], *count as f64);
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

    const SAMPLE: &str = "                    CPU0       CPU1
          HI:          7          1
       TIMER:     424191     108342
     UNKNOWN:          1          2
        RCU:
         RCU:     155929     146631
";

    #[test]
    fn known_rows_per_cpu() {
        let rows = parse(SAMPLE).unwrap();
        assert_eq!(
            rows,
            [
                ("HI", vec![7, 1]),
                ("TIMER", vec![424191, 108342]),
                ("RCU", vec![155929, 146631])
            ]
        );
        assert!(parse("").is_err());
        assert!(parse("CPU0\n HI: 1 x\n").is_err());
        assert!(parse("CPU0\n HI: -1\n").is_err());
    }

    #[test]
    fn collector_fails_alone_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Softirqs {
            path: dir.path().join("softirqs"),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
        std::fs::write(&collector.path, SAMPLE).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[0].samples.len(), 6);
        std::fs::write(&collector.path, "CPU0\nHI: 12345678901234567890123\n").unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..400, noise in "\\PC{0,80}") {
            let cut = SAMPLE.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(SAMPLE.len());
            let _ = parse(&SAMPLE[..cut]);
            let _ = parse(&format!("{}{noise}", &SAMPLE[..cut]));
            let _ = parse(&noise);
        }
    }
}
