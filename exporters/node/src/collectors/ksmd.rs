//! `ksmd`: the kernel same-page merging daemon's counters and settings from
//! `/sys/kernel/mm/ksm/*`, one family per file (help texts from the kernel's ksm.rst, as upstream).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Ksmd {
            dir: context.paths.sys("kernel/mm/ksm"),
        }))
    })
}

struct Ksmd {
    dir: PathBuf,
}

/// One file of the ksm directory and the family it becomes.
struct KsmdFile {
    file: &'static str,
    metric: &'static str,
    help: &'static str,
    kind: MetricType,
    /// What the file's number is divided by (milliseconds become seconds).
    divisor: f64,
}

const fn gauge(file: &'static str, metric: &'static str, help: &'static str) -> KsmdFile {
    KsmdFile {
        file,
        metric,
        help,
        kind: MetricType::Gauge,
        divisor: 1.0,
    }
}

const FILES: &[KsmdFile] = &[
    KsmdFile {
        file: "full_scans",
        metric: "node_ksmd_full_scans_total",
        help: "How many times all mergeable areas have been scanned.",
        kind: MetricType::Counter,
        divisor: 1.0,
    },
    gauge(
        "general_profit",
        "node_ksmd_general_profit_bytes",
        "How effective is KSM. ksm_saved_pages * sizeof(page) - (all_rmap_items) * sizeof(rmap_item)",
    ),
    gauge(
        "merge_across_nodes",
        "node_ksmd_merge_across_nodes",
        "Specifies if pages from different NUMA nodes can be merged.",
    ),
    gauge(
        "pages_shared",
        "node_ksmd_pages_shared",
        "How many shared pages are being used.",
    ),
    gauge(
        "pages_sharing",
        "node_ksmd_pages_sharing",
        "How many more sites are sharing them i.e. how much saved.",
    ),
    gauge(
        "pages_to_scan",
        "node_ksmd_pages_to_scan",
        "How many pages to scan before ksmd goes to sleep.",
    ),
    gauge(
        "pages_unshared",
        "node_ksmd_pages_unshared",
        "How many pages unique but repeatedly checked for merging.",
    ),
    gauge(
        "pages_volatile",
        "node_ksmd_pages_volatile",
        "How many pages changing too fast to be placed in a tree.",
    ),
    gauge(
        "run",
        "node_ksmd_run",
        "The status of ksmd. stopped = 0, running = 1",
    ),
    KsmdFile {
        file: "sleep_millisecs",
        metric: "node_ksmd_sleep_seconds",
        help: "How many seconds ksmd should sleep before next scan.",
        kind: MetricType::Gauge,
        divisor: 1000.0,
    },
];

/// Upstream's `readUintFromFile`: trimmed, base 10, digits only (a negative `general_profit`
/// fails the collector there too).
fn parse_uint(text: &str) -> Option<u64> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Collector for Ksmd {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for file in FILES {
            let path = self.dir.join(file.file);
            // Older kernels lack some files (general_profit is 6.1+): skipped, as upstream.
            let text = match read_string(&path) {
                Ok(text) => text,
                Err(err) if err.is_not_found() => continue,
                Err(err) => return Err(err),
            };
            let value = parse_uint(&text).ok_or_else(|| {
                CollectorError::parse(&path, format!("{text:?} is not an unsigned integer"))
            })?;
            out.push(
                MetricFamily::new(file.metric, file.help, file.kind)
                    .with(&[], value as f64 / file.divisor),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};
    use proptest::prelude::*;

    #[test]
    fn reads_present_files_and_fails_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Ksmd {
            dir: dir.path().to_owned(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out.is_empty());
        write(&dir.path().join("full_scans"), "323\n");
        write(&dir.path().join("sleep_millisecs"), "20\n");
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(
            lines(&out, "/nowhere"),
            [
                "node_ksmd_full_scans_total  323",
                "node_ksmd_sleep_seconds  0.02"
            ]
        );
        write(&dir.path().join("run"), "-1\n");
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,30}") {
            if let Some(value) = parse_uint(&text) {
                prop_assert_eq!(value.to_string().len() <= text.trim().len(), true);
            }
        }
    }
}
