//! `xfs`: per-filesystem XFS counters from `<sysfs>/fs/xfs/<device>/stats/stats`
//! (`node_xfs_*_total{device}`).
//!
//! Hand-written parser (procfs-core has no XFS support) with upstream procfs' rules: every line
//! of two or more fields is `<label> <numbers...>`; the numbers of every label but `xpc`,
//! `defer_relog` and `gc xpc` must be 32-bit; a known label with the wrong number of values fails
//! the whole file, and with it the collector.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Xfs {
            root: context.paths.sys("fs/xfs"),
        }))
    })
}

struct Xfs {
    root: PathBuf,
}

/// The exported families: name, help, the stats line they come from and the value's position.
const METRICS: &[(&str, &str, &str, usize)] = &[
    (
        "node_xfs_extent_allocation_extents_allocated_total",
        "Number of extents allocated for a filesystem.",
        "extent_alloc",
        0,
    ),
    (
        "node_xfs_extent_allocation_blocks_allocated_total",
        "Number of blocks allocated for a filesystem.",
        "extent_alloc",
        1,
    ),
    (
        "node_xfs_extent_allocation_extents_freed_total",
        "Number of extents freed for a filesystem.",
        "extent_alloc",
        2,
    ),
    (
        "node_xfs_extent_allocation_blocks_freed_total",
        "Number of blocks freed for a filesystem.",
        "extent_alloc",
        3,
    ),
    (
        "node_xfs_allocation_btree_lookups_total",
        "Number of allocation B-tree lookups for a filesystem.",
        "abt",
        0,
    ),
    (
        "node_xfs_allocation_btree_compares_total",
        "Number of allocation B-tree compares for a filesystem.",
        "abt",
        1,
    ),
    (
        "node_xfs_allocation_btree_records_inserted_total",
        "Number of allocation B-tree records inserted for a filesystem.",
        "abt",
        2,
    ),
    (
        "node_xfs_allocation_btree_records_deleted_total",
        "Number of allocation B-tree records deleted for a filesystem.",
        "abt",
        3,
    ),
    (
        "node_xfs_block_mapping_reads_total",
        "Number of block map for read operations for a filesystem.",
        "blk_map",
        0,
    ),
    (
        "node_xfs_block_mapping_writes_total",
        "Number of block map for write operations for a filesystem.",
        "blk_map",
        1,
    ),
    (
        "node_xfs_block_mapping_unmaps_total",
        "Number of block unmaps (deletes) for a filesystem.",
        "blk_map",
        2,
    ),
    (
        "node_xfs_block_mapping_extent_list_insertions_total",
        "Number of extent list insertions for a filesystem.",
        "blk_map",
        3,
    ),
    (
        "node_xfs_block_mapping_extent_list_deletions_total",
        "Number of extent list deletions for a filesystem.",
        "blk_map",
        4,
    ),
    (
        "node_xfs_block_mapping_extent_list_lookups_total",
        "Number of extent list lookups for a filesystem.",
        "blk_map",
        5,
    ),
    (
        "node_xfs_block_mapping_extent_list_compares_total",
        "Number of extent list compares for a filesystem.",
        "blk_map",
        6,
    ),
    (
        "node_xfs_block_map_btree_lookups_total",
        "Number of block map B-tree lookups for a filesystem.",
        "bmbt",
        0,
    ),
    (
        "node_xfs_block_map_btree_compares_total",
        "Number of block map B-tree compares for a filesystem.",
        "bmbt",
        1,
    ),
    (
        "node_xfs_block_map_btree_records_inserted_total",
        "Number of block map B-tree records inserted for a filesystem.",
        "bmbt",
        2,
    ),
    (
        "node_xfs_block_map_btree_records_deleted_total",
        "Number of block map B-tree records deleted for a filesystem.",
        "bmbt",
        3,
    ),
    (
        "node_xfs_directory_operation_lookup_total",
        "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
        "dir",
        0,
    ),
    (
        "node_xfs_directory_operation_create_total",
        "Number of times a new directory entry was created for a filesystem.",
        "dir",
        1,
    ),
    (
        "node_xfs_directory_operation_remove_total",
        "Number of times an existing directory entry was created for a filesystem.",
        "dir",
        2,
    ),
    (
        "node_xfs_directory_operation_getdents_total",
        "Number of times the directory getdents operation was performed for a filesystem.",
        "dir",
        3,
    ),
    (
        "node_xfs_inode_operation_attempts_total",
        "Number of times the OS looked for an XFS inode in the inode cache.",
        "ig",
        0,
    ),
    (
        "node_xfs_inode_operation_found_total",
        "Number of times the OS looked for and found an XFS inode in the inode cache.",
        "ig",
        1,
    ),
    (
        "node_xfs_inode_operation_recycled_total",
        "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
        "ig",
        2,
    ),
    (
        "node_xfs_inode_operation_missed_total",
        "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
        "ig",
        3,
    ),
    (
        "node_xfs_inode_operation_duplicates_total",
        "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
        "ig",
        4,
    ),
    (
        "node_xfs_inode_operation_reclaims_total",
        "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
        "ig",
        5,
    ),
    (
        "node_xfs_inode_operation_attribute_changes_total",
        "Number of times the OS explicitly changed the attributes of an XFS inode.",
        "ig",
        6,
    ),
    (
        "node_xfs_read_calls_total",
        "Number of read(2) system calls made to files in a filesystem.",
        "rw",
        1,
    ),
    (
        "node_xfs_write_calls_total",
        "Number of write(2) system calls made to files in a filesystem.",
        "rw",
        0,
    ),
    (
        "node_xfs_vnode_active_total",
        "Number of vnodes not on free lists for a filesystem.",
        "vnodes",
        0,
    ),
    (
        "node_xfs_vnode_allocate_total",
        "Number of times vn_alloc called for a filesystem.",
        "vnodes",
        1,
    ),
    (
        "node_xfs_vnode_get_total",
        "Number of times vn_get called for a filesystem.",
        "vnodes",
        2,
    ),
    (
        "node_xfs_vnode_hold_total",
        "Number of times vn_hold called for a filesystem.",
        "vnodes",
        3,
    ),
    (
        "node_xfs_vnode_release_total",
        "Number of times vn_rele called for a filesystem.",
        "vnodes",
        4,
    ),
    (
        "node_xfs_vnode_reclaim_total",
        "Number of times vn_reclaim called for a filesystem.",
        "vnodes",
        5,
    ),
    (
        "node_xfs_vnode_remove_total",
        "Number of times vn_remove called for a filesystem.",
        "vnodes",
        6,
    ),
];

/// How many values a label must have: `(label, least, most)`.
const VALUE_COUNTS: &[(&str, usize, usize)] = &[
    ("extent_alloc", 4, 4),
    ("abt", 4, 4),
    ("blk_map", 7, 7),
    ("bmbt", 4, 4),
    ("dir", 4, 4),
    ("trans", 3, 3),
    ("ig", 7, 7),
    ("log", 5, 5),
    ("rw", 2, 2),
    ("attr", 4, 4),
    ("icluster", 3, 3),
    ("vnodes", 7, 8),
    ("buf", 9, 9),
    ("push_ail", 10, 10),
    ("xstrat", 2, 2),
    ("abtb2", 15, 15),
    ("abtc2", 15, 15),
    ("bmbt2", 15, 15),
    ("ibt2", 15, 15),
    ("fibt2", 15, 15),
    ("rmapbt", 15, 15),
    ("refcntbt", 15, 15),
    ("rmapbt_mem", 15, 15),
    ("rcbagbt", 15, 15),
    ("rtrmapbt", 15, 15),
    ("rtrmapbt_mem", 15, 15),
    ("rtrefcntbt", 15, 15),
    ("qm", 8, 9),
    ("debug", 1, 1),
    ("zoned", 3, usize::MAX),
    ("metafile", 1, usize::MAX),
];

/// The lines of one stats file the collector exports, by label.
type Sections = Vec<(String, Vec<u32>)>;

fn check_count(label: &str, count: usize, least: usize, most: usize) -> Result<(), String> {
    if count < least || count > most {
        return Err(format!(
            "incorrect number of values for XFS {label} stats: {count}"
        ));
    }
    Ok(())
}

fn parse_stats(text: &str) -> Result<Sections, String> {
    let mut sections = Sections::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let label = fields[0];
        // 64-bit counters, not exported.
        let wide = match (label, fields[1]) {
            ("gc", "xpc") if fields.len() >= 3 => Some(("gc xpc", &fields[2..], 1, 1)),
            ("xpc", _) => Some(("xpc", &fields[1..], 3, 3)),
            ("defer_relog", _) => Some(("defer_relog", &fields[1..], 1, 1)),
            _ => None,
        };
        if let Some((label, values, least, most)) = wide {
            for value in values {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("invalid value {value:?} in {line:?}"))?;
            }
            check_count(label, values.len(), least, most)?;
            continue;
        }
        let values = fields[1..]
            .iter()
            .map(|value| value.parse::<u32>())
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| format!("invalid value in {line:?}"))?;
        if let Some((_, least, most)) = VALUE_COUNTS.iter().find(|(known, ..)| *known == label) {
            check_count(label, values.len(), *least, *most)?;
        }
        if METRICS.iter().any(|(_, _, section, _)| *section == label) {
            sections.retain(|(known, _)| known != label);
            sections.push((label.to_owned(), values));
        }
    }
    Ok(sections)
}

impl Collector for Xfs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        // Upstream globs `fs/xfs/*/stats/stats`: no XFS means nothing to report, successfully.
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(());
        };
        let mut files: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, entry.path().join("stats/stats"))
            })
            .filter(|(_, path)| path.exists())
            .collect();
        files.sort();
        let mut families: Vec<MetricFamily> = METRICS
            .iter()
            .map(|(name, help, ..)| MetricFamily::counter(*name, *help))
            .collect();
        for (device, path) in files {
            let text = read_string(&path)?;
            let sections =
                parse_stats(&text).map_err(|reason| CollectorError::parse(&path, reason))?;
            for ((_, _, section, index), family) in METRICS.iter().zip(&mut families) {
                let value = sections
                    .iter()
                    .find(|(label, _)| label == section)
                    .and_then(|(_, values)| values.get(*index))
                    .copied()
                    .unwrap_or(0);
                family.push(&[("device", &device)], f64::from(value));
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};

    const STATS: &str = "\
extent_alloc 1 872 0 0
abt 0 0 0 0
blk_map 61 29 1 1 1 91 0
bmbt 0 0 0 0
dir 3 2 1 52
trans 4 40 0
ig 5 1 0 4 0 0 1
log 8 21 0 5821 4
push_ail 44 0 1102 15 0 2 0 2 0 2
xstrat 1 0
rw 28 0
attr 0 0 0 0
icluster 2 2 2
vnodes 4 0 0 0 1 1 1 0
buf 22 25 14 0 0 8 0 8 8
abtb2 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0
qm 0 0 0 0 0 0 0 0
xpc 3571712 3568056 0
gc xpc 5000000000
debug 0
";

    #[test]
    fn reads_the_kernel_format() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("fs/xfs/sda1/stats/stats"), STATS);
        let collector = Xfs {
            root: dir.path().join("fs/xfs"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nonexistent-root");
        assert_eq!(lines.len(), 39);
        for line in [
            "node_xfs_write_calls_total device=sda1 28",
            "node_xfs_read_calls_total device=sda1 0",
            "node_xfs_block_mapping_extent_list_lookups_total device=sda1 91",
            "node_xfs_vnode_remove_total device=sda1 1",
            "node_xfs_inode_operation_attribute_changes_total device=sda1 1",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
    }

    #[test]
    fn wrong_counts_and_garbage_fail() {
        assert!(parse_stats("rw 1\n").is_err());
        assert!(parse_stats("vnodes 1 2 3 4 5 6 7 8 9\n").is_err());
        assert!(parse_stats("unknown 1 x\n").is_err());
        assert!(parse_stats("xpc 1 2\n").is_err());
        assert!(parse_stats("rw 5000000000 1\n").is_err());
        assert!(parse_stats("zoned 1 2 3 4 5\nunknown 7\nx\n").is_ok());
    }

    #[test]
    fn a_bad_file_fails_the_collector() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("fs/xfs/sda1/stats/stats"), "rw 1\n");
        let collector = Xfs {
            root: dir.path().join("fs/xfs"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,60}\n){0,8}") {
            let _ = parse_stats(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..500) {
            let cut = cut.min(STATS.len());
            let _ = parse_stats(&STATS[..cut]);
        }
    }
}
