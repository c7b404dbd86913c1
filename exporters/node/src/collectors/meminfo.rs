//! `meminfo`: `node_memory_<Field>_bytes` (and the four unit-less `node_memory_HugePages_*`)
//! gauges from `/proc/meminfo`, for the fixed list of fields node_exporter 1.9+ exports (fields
//! outside it, such as `KReclaimable` or `Hugetlb`, are not exported, as upstream).
//!
//! Hand-written rather than procfs-core's `Meminfo`: that parser requires a dozen fields to be
//! present (a container's or an old kernel's meminfo fails whole) and panics on some malformed
//! lines (it slices the key at a byte offset and multiplies kB values without overflow checks).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Meminfo {
        path: paths.proc("meminfo"),
    }))
}

/// `/proc/meminfo` key → metric name suffix, for every field upstream exports. The `_bytes`
/// ones are reported in bytes (the kernel's kB × 1024).
const FIELDS: &[(&str, &str)] = &[
    ("Active", "Active_bytes"),
    ("Active(anon)", "Active_anon_bytes"),
    ("Active(file)", "Active_file_bytes"),
    ("AnonHugePages", "AnonHugePages_bytes"),
    ("AnonPages", "AnonPages_bytes"),
    ("Bounce", "Bounce_bytes"),
    ("Buffers", "Buffers_bytes"),
    ("Cached", "Cached_bytes"),
    ("CmaFree", "CmaFree_bytes"),
    ("CmaTotal", "CmaTotal_bytes"),
    ("CommitLimit", "CommitLimit_bytes"),
    ("Committed_AS", "Committed_AS_bytes"),
    ("DirectMap1G", "DirectMap1G_bytes"),
    ("DirectMap2M", "DirectMap2M_bytes"),
    ("DirectMap4k", "DirectMap4k_bytes"),
    ("Dirty", "Dirty_bytes"),
    ("HardwareCorrupted", "HardwareCorrupted_bytes"),
    ("Hugepagesize", "Hugepagesize_bytes"),
    ("Inactive", "Inactive_bytes"),
    ("Inactive(anon)", "Inactive_anon_bytes"),
    ("Inactive(file)", "Inactive_file_bytes"),
    ("KernelStack", "KernelStack_bytes"),
    ("Mapped", "Mapped_bytes"),
    ("MemAvailable", "MemAvailable_bytes"),
    ("MemFree", "MemFree_bytes"),
    ("MemTotal", "MemTotal_bytes"),
    ("Mlocked", "Mlocked_bytes"),
    ("NFS_Unstable", "NFS_Unstable_bytes"),
    ("PageTables", "PageTables_bytes"),
    ("Percpu", "Percpu_bytes"),
    ("SReclaimable", "SReclaimable_bytes"),
    ("SUnreclaim", "SUnreclaim_bytes"),
    ("Shmem", "Shmem_bytes"),
    ("ShmemHugePages", "ShmemHugePages_bytes"),
    ("ShmemPmdMapped", "ShmemPmdMapped_bytes"),
    ("Slab", "Slab_bytes"),
    ("SwapCached", "SwapCached_bytes"),
    ("SwapFree", "SwapFree_bytes"),
    ("SwapTotal", "SwapTotal_bytes"),
    ("Unevictable", "Unevictable_bytes"),
    ("VmallocChunk", "VmallocChunk_bytes"),
    ("VmallocTotal", "VmallocTotal_bytes"),
    ("VmallocUsed", "VmallocUsed_bytes"),
    ("Writeback", "Writeback_bytes"),
    ("WritebackTmp", "WritebackTmp_bytes"),
    ("Zswap", "Zswap_bytes"),
    ("Zswapped", "Zswapped_bytes"),
    // Page counts: exported as the kernel writes them.
    ("HugePages_Free", "HugePages_Free"),
    ("HugePages_Rsvd", "HugePages_Rsvd"),
    ("HugePages_Surp", "HugePages_Surp"),
    ("HugePages_Total", "HugePages_Total"),
];

/// Parses an unsigned number as Go's `ParseUint(s, 0, 64)` does (`0x`, `0o`, `0b` prefixes).
fn parse_number(text: &str) -> Option<u64> {
    let lower = text.get(..2).map(str::to_ascii_lowercase);
    match lower.as_deref() {
        Some("0x") => u64::from_str_radix(&text[2..], 16).ok(),
        Some("0o") => u64::from_str_radix(&text[2..], 8).ok(),
        Some("0b") => u64::from_str_radix(&text[2..], 2).ok(),
        _ if text.len() > 1 && text.starts_with('0') => u64::from_str_radix(&text[1..], 8).ok(),
        _ => text.parse().ok(),
    }
}

/// The exported fields present in the file, as (metric suffix, value). A malformed line is an
/// error for the file, as upstream.
fn parse(text: &str) -> Result<Vec<(&'static str, f64)>, String> {
    let mut values = Vec::with_capacity(FIELDS.len());
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let (key, raw, unit) = match fields.as_slice() {
            [key, value] => (*key, *value, None),
            [key, value, unit] => (*key, *value, Some(*unit)),
            _ => return Err(format!("malformed line {line:?}")),
        };
        let value = parse_number(raw).ok_or_else(|| format!("invalid value in line {line:?}"))?;
        let bytes = match unit {
            None => value,
            Some("kB") => value
                .checked_mul(1024)
                .ok_or_else(|| format!("value out of range in line {line:?}"))?,
            Some(unit) => return Err(format!("unsupported unit {unit:?} in line {line:?}")),
        };
        let Some(key) = key.strip_suffix(':') else {
            continue;
        };
        if let Some((_, suffix)) = FIELDS.iter().find(|(k, _)| *k == key) {
            let value = if suffix.ends_with("_bytes") {
                bytes
            } else {
                value
            };
            values.push((*suffix, value as f64));
        }
    }
    Ok(values)
}

struct Meminfo {
    path: PathBuf,
}

impl Collector for Meminfo {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let values = parse(&text).map_err(|reason| {
            CollectorError::parse(&self.path, format!("couldn't get meminfo: {reason}"))
        })?;
        for (suffix, value) in values {
            out.push(
                MetricFamily::gauge(
                    format!("node_memory_{suffix}"),
                    format!("Memory information field {suffix}."),
                )
                .with(&[], value),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "MemTotal:        3742148 kB
MemFree:          225472 kB
Active(anon):    2019996 kB
KReclaimable:      44772 kB
HugePages_Total:       0
HugePages_Free:        7
Hugepagesize:       2048 kB
DirectMap2M:     3698688 kB
Zswap:                 0 kB
";

    #[test]
    fn reads_the_fixed_list() {
        let values = parse(KERNEL).unwrap();
        assert_eq!(
            values,
            [
                ("MemTotal_bytes", 3742148.0 * 1024.0),
                ("MemFree_bytes", 225472.0 * 1024.0),
                ("Active_anon_bytes", 2019996.0 * 1024.0),
                ("HugePages_Total", 0.0),
                ("HugePages_Free", 7.0),
                ("Hugepagesize_bytes", 2097152.0),
                ("DirectMap2M_bytes", 3698688.0 * 1024.0),
                ("Zswap_bytes", 0.0),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(parse("MemTotal: lots kB\n").is_err());
        assert!(parse("MemTotal: 1 MB\n").is_err());
        assert!(parse("MemTotal: 1 kB extra\n").is_err());
        assert!(parse("MemTotal:\n").is_err());
        assert!(parse("MemTotal: 18446744073709551615 kB\n").is_err());
        assert!(parse("\n\n").unwrap().is_empty());
    }

    #[test]
    fn numbers_follow_go_base_prefixes() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("010"), Some(8));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("12"), Some(12));
        assert_eq!(parse_number("é1"), None);
    }

    #[test]
    fn live_meminfo_parses() {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        let values = parse(&text).unwrap();
        assert!(
            values
                .iter()
                .any(|(k, v)| *k == "MemTotal_bytes" && *v > 0.0)
        );
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([A-Za-z_()é]{0,10}:? *[0-9xo]{0,22} ?(kB|MB)?\n?){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..KERNEL.len()) {
            let _ = parse(&KERNEL[..cut]);
        }
    }
}
