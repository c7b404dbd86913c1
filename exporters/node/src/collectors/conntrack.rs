//! `conntrack`: `node_nf_conntrack_entries` and `_entries_limit` from
//! `<procfs>/sys/net/netfilter/nf_conntrack_{count,max}`, and the per-CPU statistics of
//! `<procfs>/net/stat/nf_conntrack` summed into `node_nf_conntrack_stat_*` (gauges, as upstream
//! types them although they only grow).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{read_string, read_u64};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Conntrack {
        count: paths.proc("sys/net/netfilter/nf_conntrack_count"),
        max: paths.proc("sys/net/netfilter/nf_conntrack_max"),
        stat: paths.proc("net/stat/nf_conntrack"),
    }))
}

struct Conntrack {
    count: PathBuf,
    max: PathBuf,
    stat: PathBuf,
}

/// The exported statistics: family suffix, help, and the column of `nf_conntrack` it sums.
const STATS: [(&str, &str, usize); 8] = [
    (
        "found",
        "Number of searched entries which were successful.",
        2,
    ),
    (
        "invalid",
        "Number of packets seen which can not be tracked.",
        4,
    ),
    (
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
        5,
    ),
    ("insert", "Number of entries inserted into the list.", 8),
    (
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
        9,
    ),
    (
        "drop",
        "Number of packets dropped due to conntrack failure.",
        10,
    ),
    (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
        11,
    ),
    (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
        16,
    ),
];

/// Sums the per-CPU rows of `/proc/net/stat/nf_conntrack` (a header line, then 16 or 17 hex
/// columns per CPU; `search_restart`, the 17th, is missing before Linux 2.6.35 and counts 0).
/// Hand-written: procfs-core has no parser for this file.
fn parse_stat(text: &str) -> Result<[u64; 8], String> {
    let mut sums = [0u64; 8];
    for (number, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let values: Vec<u64> = line
            .split_ascii_whitespace()
            .map(|field| u64::from_str_radix(field, 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("line {}: {line:?} is not hexadecimal counters", number + 1))?;
        if !(16..=17).contains(&values.len()) {
            return Err(format!(
                "line {}: {} columns, expected 16 or 17",
                number + 1,
                values.len()
            ));
        }
        for (sum, (_, _, column)) in sums.iter_mut().zip(STATS.iter()) {
            *sum = sum.wrapping_add(values.get(*column).copied().unwrap_or(0));
        }
    }
    Ok(sums)
}

fn conntrack_error(err: CollectorError) -> CollectorError {
    if err.is_not_found() {
        tracing::debug!("conntrack probably not loaded");
        CollectorError::NoData
    } else {
        err
    }
}

impl Collector for Conntrack {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let count = read_u64(&self.count).map_err(conntrack_error)?;
        out.push(
            MetricFamily::gauge(
                "node_nf_conntrack_entries",
                "Number of currently allocated flow entries for connection tracking.",
            )
            .with(&[], count as f64),
        );
        let max = read_u64(&self.max).map_err(conntrack_error)?;
        out.push(
            MetricFamily::gauge(
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
            )
            .with(&[], max as f64),
        );
        let text = read_string(&self.stat).map_err(conntrack_error)?;
        let sums = parse_stat(&text).map_err(|reason| CollectorError::parse(&self.stat, reason))?;
        for ((suffix, help, _), sum) in STATS.iter().zip(sums) {
            out.push(
                MetricFamily::gauge(format!("node_nf_conntrack_stat_{suffix}"), *help)
                    .with(&[], sum as f64),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "\
entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000000 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
00000021  00000000 00000001 00000000 0000002f 00005688 00000000 00000000 00000002 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000004
";

    #[test]
    fn sums_cpus() {
        let sums = parse_stat(STAT).unwrap();
        assert_eq!(sums, [1, 0x32, 0x588a + 0x5688, 2, 0, 0, 0, 4]);
        let old_kernel = "h\n1 2 3 4 5 6 7 8 9 a b c d e f 10\n";
        assert_eq!(parse_stat(old_kernel).unwrap()[7], 0);
        assert!(parse_stat("h\n1 2 3\n").is_err());
        assert!(parse_stat("h\nzz 2 3 4 5 6 7 8 9 a b c d e f 10\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,120}\n){0,5}") {
            let _ = parse_stat(&text);
        }
    }
}
