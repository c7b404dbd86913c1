//! `bcache`: cache set, backing device and cache device statistics from
//! `<sysfs>/fs/bcache/<uuid>/` (`node_bcache_*`); with `--collector.bcache.priorityStats`, the
//! `priority_stats` percentages too (upstream calls them expensive: the kernel walks every
//! bucket to produce that file).
//!
//! Hand-written reader (procfs-core has no bcache support) with upstream procfs' rules: values are
//! "human" numbers (`20.4G`, `1.1M`, where the fraction counts in 1/1024ths scaled by 10.24), an
//! absent attribute reads as 0, an unreadable or malformed one fails the collector. The
//! `stats_five_minute` counters upstream reads and never exports are not read.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{Flag, FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::parse_go_float;

pub fn declare(set: &mut FlagSet) -> Builder {
    let priority_stats: Flag<bool> = set.bool(
        "collector.bcache.priorityStats",
        false,
        "Expose expensive priority stats.",
    );
    Box::new(move |context| {
        Ok(Box::new(Bcache {
            root: context.paths.sys("fs/bcache"),
            priority_stats: context.flags.get(priority_stats),
        }))
    })
}

struct Bcache {
    root: PathBuf,
    priority_stats: bool,
}

/// `12.5` in bcache's notation: the digits after the point are 1/1024ths scaled to tenths.
fn parse_pseudo_float(text: &str) -> Option<f64> {
    let mut parts = text.split('.');
    let whole = parse_go_float(parts.next()?)?;
    match parts.next() {
        None => Some(whole),
        Some(fraction) => Some(whole + parse_go_float(fraction)? / 10.24),
    }
}

/// bcache's human-readable sizes: a number with an optional `k`, `M`, `G`... suffix (powers of
/// 1024); an unknown suffix multiplies by 0, as upstream.
fn dehumanize(text: &str) -> Option<u64> {
    let last = *text.as_bytes().last()?;
    if last > b'9' {
        let mantissa = parse_pseudo_float(text.get(..text.len() - 1)?)?;
        let exponent = match last {
            b'k' => 1,
            b'M' => 2,
            b'G' => 3,
            b'T' => 4,
            b'P' => 5,
            b'E' => 6,
            b'Z' => 7,
            b'Y' => 8,
            _ => return Some(0),
        };
        Some((mantissa * 1024f64.powi(exponent)) as u64)
    } else {
        Some(parse_go_float(text)? as u64)
    }
}

fn dehumanize_signed(text: &str) -> Option<i64> {
    match text.strip_prefix('-') {
        Some(magnitude) => Some((dehumanize(magnitude)? as i64).wrapping_neg()),
        None => Some(dehumanize(text)? as i64),
    }
}

/// The last field of a line, with `suffix` removed.
fn last_field<'a>(line: &'a str, suffix: &str) -> Option<&'a str> {
    let field = line.split_ascii_whitespace().last()?;
    Some(field.strip_suffix(suffix).unwrap_or(field))
}

#[derive(Debug, Default, PartialEq)]
struct WritebackRate {
    rate: u64,
    target: u64,
    proportional: i64,
    integral: i64,
    change: i64,
}

fn parse_writeback_rate_debug(text: &str) -> Result<WritebackRate, String> {
    let mut rate = WritebackRate::default();
    for line in text.lines() {
        let bad = || format!("invalid line {line:?}");
        if line.starts_with("rate:") {
            rate.rate = last_field(line, "/sec")
                .and_then(dehumanize)
                .ok_or_else(bad)?;
        } else if line.starts_with("dirty:") {
            last_field(line, "").and_then(dehumanize).ok_or_else(bad)?;
        } else if line.starts_with("target:") {
            rate.target = last_field(line, "").and_then(dehumanize).ok_or_else(bad)?;
        } else if line.starts_with("proportional:") {
            rate.proportional = last_field(line, "")
                .and_then(dehumanize_signed)
                .ok_or_else(bad)?;
        } else if line.starts_with("integral:") {
            rate.integral = last_field(line, "")
                .and_then(dehumanize_signed)
                .ok_or_else(bad)?;
        } else if line.starts_with("change:") {
            rate.change = last_field(line, "/sec")
                .and_then(dehumanize_signed)
                .ok_or_else(bad)?;
        } else if line.starts_with("next io:") {
            last_field(line, "ms")
                .and_then(|value| value.parse::<i64>().ok())
                .ok_or_else(bad)?;
        }
    }
    Ok(rate)
}

/// `(unused percent, metadata percent)` of `priority_stats`.
fn parse_priority_stats(text: &str) -> Result<(u64, u64), String> {
    let mut percents = (0, 0);
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut percents.0
        } else if line.starts_with("Metadata:") {
            &mut percents.1
        } else {
            continue;
        };
        *slot = last_field(line, "%")
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("invalid line {line:?}"))?;
    }
    Ok(percents)
}

fn read_file(path: &Path) -> Result<Option<String>, CollectorError> {
    crate::read::read_optional(path)
}

/// One attribute: absent reads as 0; its last byte (the newline) is dropped before parsing.
fn read_value(path: &Path) -> Result<u64, CollectorError> {
    let Some(text) = read_file(path)? else {
        return Ok(0);
    };
    let Some(body) = text.get(..text.len().saturating_sub(1)) else {
        return Err(CollectorError::parse(path, "not text"));
    };
    dehumanize(body).ok_or_else(|| CollectorError::parse(path, format!("invalid value {body:?}")))
}

/// A file that must exist, parsed.
fn read_parsed<T>(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<T, CollectorError> {
    let text = crate::read::read_string(path)?;
    parse(&text).map_err(|reason| CollectorError::parse(path, reason))
}

/// The numbered `<prefix>N` entries of a directory, sorted (upstream's `<prefix>[0-9]*` glob).
fn numbered(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = crate::sysfs::numbered_entries(dir, prefix)
        .into_iter()
        .map(|(rest, _)| format!("{prefix}{rest}"))
        .collect();
    names.sort();
    names
}

type Family = (&'static str, &'static str, bool);

const GAUGE: bool = false;
const COUNTER: bool = true;

/// Cache set attributes: (file, family, help, counter).
const SET_VALUES: &[(&str, Family)] = &[
    (
        "average_key_size",
        (
            "node_bcache_average_key_size_sectors",
            "Average data per key in the btree (sectors).",
            GAUGE,
        ),
    ),
    (
        "btree_cache_size",
        (
            "node_bcache_btree_cache_size_bytes",
            "Amount of memory currently used by the btree cache.",
            GAUGE,
        ),
    ),
    (
        "cache_available_percent",
        (
            "node_bcache_cache_available_percent",
            "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
            GAUGE,
        ),
    ),
    ("congested", ("node_bcache_congested", "Congestion.", GAUGE)),
    (
        "root_usage_percent",
        (
            "node_bcache_root_usage_percent",
            "Percentage of the root btree node in use (tree depth increases if too high).",
            GAUGE,
        ),
    ),
    (
        "tree_depth",
        ("node_bcache_tree_depth", "Depth of the btree.", GAUGE),
    ),
    (
        "internal/active_journal_entries",
        (
            "node_bcache_active_journal_entries",
            "Number of journal entries that are newer than the index.",
            GAUGE,
        ),
    ),
    (
        "internal/btree_nodes",
        (
            "node_bcache_btree_nodes",
            "Total nodes in the btree.",
            GAUGE,
        ),
    ),
    // Upstream scales this microsecond value by 1e-9; kept for identical output.
    (
        "internal/btree_read_average_duration_us",
        (
            "node_bcache_btree_read_average_duration_seconds",
            "Average btree read duration.",
            GAUGE,
        ),
    ),
    (
        "internal/cache_read_races",
        (
            "node_bcache_cache_read_races_total",
            "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.",
            COUNTER,
        ),
    ),
];

/// A backing device's `stats_total` counters.
const PERIOD_VALUES: &[(&str, Family)] = &[
    (
        "bypassed",
        (
            "node_bcache_bypassed_bytes_total",
            "Amount of IO (both reads and writes) that has bypassed the cache.",
            COUNTER,
        ),
    ),
    (
        "cache_hits",
        (
            "node_bcache_cache_hits_total",
            "Hits counted per individual IO as bcache sees them.",
            COUNTER,
        ),
    ),
    (
        "cache_misses",
        (
            "node_bcache_cache_misses_total",
            "Misses counted per individual IO as bcache sees them.",
            COUNTER,
        ),
    ),
    (
        "cache_bypass_hits",
        (
            "node_bcache_cache_bypass_hits_total",
            "Hits for IO intended to skip the cache.",
            COUNTER,
        ),
    ),
    (
        "cache_bypass_misses",
        (
            "node_bcache_cache_bypass_misses_total",
            "Misses for IO intended to skip the cache.",
            COUNTER,
        ),
    ),
    (
        "cache_miss_collisions",
        (
            "node_bcache_cache_miss_collisions_total",
            "Instances where data insertion from cache miss raced with write (data already present).",
            COUNTER,
        ),
    ),
];

const READAHEADS: Family = (
    "node_bcache_cache_readaheads_total",
    "Count of times readahead occurred.",
    COUNTER,
);

const BDEV_FAMILIES: [Family; 6] = [
    (
        "node_bcache_dirty_data_bytes",
        "Amount of dirty data for this backing device in the cache.",
        GAUGE,
    ),
    (
        "node_bcache_dirty_target_bytes",
        "Current dirty data target threshold for this backing device in bytes.",
        GAUGE,
    ),
    (
        "node_bcache_writeback_rate",
        "Current writeback rate for this backing device in bytes.",
        GAUGE,
    ),
    (
        "node_bcache_writeback_rate_proportional_term",
        "Current result of proportional controller, part of writeback rate",
        GAUGE,
    ),
    (
        "node_bcache_writeback_rate_integral_term",
        "Current result of integral controller, part of writeback rate",
        GAUGE,
    ),
    (
        "node_bcache_writeback_change",
        "Last writeback rate change step for this backing device.",
        GAUGE,
    ),
];

const CACHE_VALUES: &[(&str, Family)] = &[
    (
        "io_errors",
        (
            "node_bcache_io_errors",
            "Number of errors that have occurred, decayed by io_error_halflife.",
            GAUGE,
        ),
    ),
    (
        "metadata_written",
        (
            "node_bcache_metadata_written_bytes_total",
            "Sum of all non data writes (btree writes and all other metadata).",
            COUNTER,
        ),
    ),
    (
        "written",
        (
            "node_bcache_written_bytes_total",
            "Sum of all data that has been written to the cache.",
            COUNTER,
        ),
    ),
];

const PRIORITY_FAMILIES: [Family; 2] = [
    (
        "node_bcache_priority_stats_unused_percent",
        "The percentage of the cache that doesn't contain any data.",
        GAUGE,
    ),
    (
        "node_bcache_priority_stats_metadata_percent",
        "Bcache's metadata overhead.",
        GAUGE,
    ),
];

/// The families of one scrape, created as samples arrive.
#[derive(Default)]
struct Out {
    families: Vec<MetricFamily>,
}

impl Out {
    fn push(&mut self, (name, help, counter): Family, labels: &[(&'static str, &str)], value: f64) {
        let index = match self.families.iter().position(|f| f.name == name) {
            Some(index) => index,
            None => {
                self.families.push(if counter {
                    MetricFamily::counter(name, help)
                } else {
                    MetricFamily::gauge(name, help)
                });
                self.families.len() - 1
            }
        };
        self.families[index].push(labels, value);
    }
}

impl Bcache {
    fn read_set(&self, dir: &Path, uuid: &str, out: &mut Out) -> Result<(), CollectorError> {
        let by_uuid = [("uuid", uuid)];
        for (file, family) in SET_VALUES {
            let mut value = read_value(&dir.join(file))? as f64;
            if file.ends_with("_us") {
                value *= 1e-9;
            }
            out.push(*family, &by_uuid, value);
        }
        for bdev in numbered(dir, "bdev") {
            let bdev_dir = dir.join(&bdev);
            let labels = [("uuid", uuid), ("backing_device", bdev.as_str())];
            let dirty = read_value(&bdev_dir.join("dirty_data"))?;
            let rate = read_parsed(
                &bdev_dir.join("writeback_rate_debug"),
                parse_writeback_rate_debug,
            )?;
            let values = [
                dirty as f64,
                rate.target as f64,
                rate.rate as f64,
                rate.proportional as f64,
                rate.integral as f64,
                rate.change as f64,
            ];
            for (family, value) in BDEV_FAMILIES.iter().zip(values) {
                out.push(*family, &labels, value);
            }
            let total = bdev_dir.join("stats_total");
            for (file, family) in PERIOD_VALUES {
                out.push(*family, &labels, read_value(&total.join(file))? as f64);
            }
            let readaheads = read_value(&total.join("cache_readaheads"))?;
            if readaheads != 0 {
                out.push(READAHEADS, &labels, readaheads as f64);
            }
        }
        for cache in numbered(dir, "cache") {
            let cache_dir = dir.join(&cache);
            let labels = [("uuid", uuid), ("cache_device", cache.as_str())];
            for (file, family) in CACHE_VALUES {
                out.push(*family, &labels, read_value(&cache_dir.join(file))? as f64);
            }
            if self.priority_stats {
                let (unused, metadata) =
                    read_parsed(&cache_dir.join("priority_stats"), parse_priority_stats)?;
                out.push(PRIORITY_FAMILIES[0], &labels, unused as f64);
                out.push(PRIORITY_FAMILIES[1], &labels, metadata as f64);
            }
        }
        Ok(())
    }
}

impl Collector for Bcache {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // Upstream globs `fs/bcache/*-*`: no bcache module means no cache sets.
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(());
        };
        let mut sets: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains('-'))
            .collect();
        sets.sort();
        let mut families = Out::default();
        for uuid in sets {
            self.read_set(&self.root.join(&uuid), &uuid, &mut families)?;
        }
        out.extend(families.families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};

    const RATE: &str = "rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\n\
proportional:\t427.5k\nintegral:\t-790.0k\nchange:\t\t321.5k/sec\nnext io:\t17ms\n";

    #[test]
    fn human_numbers_follow_bcache() {
        assert_eq!(dehumanize("1.1M"), Some(1_150_976));
        assert_eq!(dehumanize("20.4G"), Some(21_894_266_880));
        assert_eq!(dehumanize("512"), Some(512));
        assert_eq!(dehumanize("3x"), Some(0));
        assert_eq!(dehumanize(""), None);
        assert_eq!(dehumanize("k"), None);
        assert_eq!(dehumanize_signed("-790.0k"), Some(-808_960));
        let rate = parse_writeback_rate_debug(RATE).unwrap();
        assert_eq!(rate.rate, 1_150_976);
        assert_eq!(rate.integral, -808_960);
        assert_eq!(rate.change, 329_204);
        assert!(parse_writeback_rate_debug("rate: fast\n").is_err());
        assert_eq!(
            parse_priority_stats("Unused:\t\t99%\nMetadata:\t0%\nAverage:\t10473\n").unwrap(),
            (99, 0)
        );
        assert!(parse_priority_stats("Unused: many\n").is_err());
    }

    #[test]
    fn reads_a_cache_set() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("fs/bcache/dead-beef");
        write(&set.join("average_key_size"), "0\n");
        write(
            &set.join("internal/btree_read_average_duration_us"),
            "1305\n",
        );
        write(&set.join("bdev0/dirty_data"), "1.5k\n");
        write(&set.join("bdev0/writeback_rate_debug"), RATE);
        write(&set.join("bdev0/stats_total/cache_hits"), "546\n");
        write(&set.join("cache0/written"), "2.0M\n");
        write(
            &set.join("cache0/priority_stats"),
            "Unused:\t99%\nMetadata:\t1%\n",
        );
        let collector = Bcache {
            root: dir.path().join("fs/bcache"),
            priority_stats: true,
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nonexistent-root");
        for line in [
            "node_bcache_btree_read_average_duration_seconds uuid=dead-beef 0.000001305",
            "node_bcache_cache_hits_total backing_device=bdev0,uuid=dead-beef 546",
            "node_bcache_dirty_data_bytes backing_device=bdev0,uuid=dead-beef 1524",
            "node_bcache_written_bytes_total cache_device=cache0,uuid=dead-beef 2097152",
            "node_bcache_priority_stats_metadata_percent cache_device=cache0,uuid=dead-beef 1",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
        assert!(!lines.iter().any(|l| l.contains("readaheads")));
        write(&set.join("congested"), "lots\n");
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,40}\n){0,8}") {
            let _ = parse_writeback_rate_debug(&text);
            let _ = parse_priority_stats(&text);
            let _ = dehumanize(&text);
            let _ = dehumanize_signed(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..200) {
            let cut = cut.min(RATE.len());
            let _ = parse_writeback_rate_debug(&RATE[..cut]);
        }
    }
}
