//! `zfs`: OpenZFS kstats from `<procfs>/spl/kstat/zfs/`: the module-wide tables
//! (`arcstats`, `abdstats`, ... as `node_zfs_<table>_<name>`, untyped, help the kstat name),
//! each pool's `io` (`node_zfs_zpool_<field>{zpool}`), `objset-*`
//! (`node_zfs_zpool_dataset_<name>{zpool,dataset}`) and `state`
//! (`node_zfs_zpool_state{zpool,state}`).
//!
//! Hand-written kstat parser (procfs-core has none) with upstream's rules: a table starts after
//! its `name type data` header; `4` (uint64) and `3` (int64) rows are exported, others skipped;
//! a number that does not parse fails the collector. No `spl/kstat/zfs` directory is "no data";
//! a missing table is skipped. Where upstream indexes past a short `io` row (and crashes), the
//! collector fails instead.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::{read_optional, read_string};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Zfs {
            base: context.paths.proc("spl/kstat/zfs"),
        }))
    })
}

struct Zfs {
    base: PathBuf,
}

/// The module-wide tables: (family prefix after `node_`, file).
const TABLES: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    // Deprecated by OpenZFS; read while a module still provides it.
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// A kstat name as a metric name: dashes become underscores.
fn metric_name(name: &str) -> String {
    name.replace('-', "_")
}

fn is_header(fields: &[&str]) -> bool {
    fields == ["name", "type", "data"]
}

/// A `name type data` table: the `(name, value)` of its integer rows.
fn parse_kstat(text: &str, table: &str) -> Result<Vec<(String, f64)>, String> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if !in_table && is_header(&fields) {
            in_table = true;
            continue;
        }
        if !in_table || fields.len() < 3 {
            continue;
        }
        let value = match fields[1] {
            "4" => fields[2].parse::<u64>().ok().map(|v| v as f64),
            "3" => fields[2].parse::<i64>().ok().map(|v| v as f64),
            _ => continue,
        };
        let value = value.ok_or_else(|| {
            format!(
                "could not parse expected integer value for \"kstat.zfs.misc.{table}.{}\"",
                fields[0]
            )
        })?;
        rows.push((fields[0].to_owned(), value));
    }
    if !in_table {
        return Err(format!("did not parse a single {table:?} metric"));
    }
    Ok(rows)
}

/// A pool's `io` kstat: a header row starting `nread` (12+ fields) and rows of values.
fn parse_pool_io(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut values = Vec::new();
    let mut header: Option<Vec<&str>> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(names) = &header else {
            if fields.len() >= 12 && fields[0] == "nread" {
                header = Some(fields);
            }
            continue;
        };
        if fields.is_empty() {
            continue;
        }
        for (i, name) in names.iter().enumerate() {
            let value = fields
                .get(i)
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| format!("no integer value for \"kstat.zfs.misc.io.{name}\""))?;
            values.push(((*name).to_owned(), value));
        }
    }
    Ok(values)
}

/// A dataset's `objset-*` kstat: the dataset name and its uint64 rows.
fn parse_objset(text: &str) -> Result<(String, Vec<(String, u64)>), String> {
    let mut dataset = String::new();
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if !in_table && is_header(&fields) {
            in_table = true;
            continue;
        }
        if !in_table || fields.len() < 3 {
            continue;
        }
        if fields[0] == "dataset_name" {
            // The name may hold spaces: everything from the data column on.
            let start = line.find(fields[2]).unwrap_or(0);
            dataset = line[start..].to_owned();
            continue;
        }
        if fields[1] == "4" {
            let value = fields[2].parse::<u64>().map_err(|_| {
                format!(
                    "could not parse expected integer value for \"kstat.zfs.misc.objset.{}\"",
                    fields[0]
                )
            })?;
            rows.push((fields[0].to_owned(), value));
        }
    }
    if !in_table {
        return Err(format!("did not parse a single {dataset} metric"));
    }
    Ok((dataset, rows))
}

/// The pools' directories, sorted, with the entries of each that `wanted` accepts.
fn pool_files(base: &Path, wanted: impl Fn(&str) -> bool) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut pools: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            )
        })
        .collect();
    pools.sort();
    let mut files = Vec::new();
    for (pool, dir) in pools {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| wanted(name))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|name| (pool.clone(), dir.join(name))));
    }
    files
}

fn parse_error(path: &Path) -> impl Fn(String) -> CollectorError + '_ {
    move |reason| CollectorError::parse(path, reason)
}

impl Zfs {
    fn update_tables(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for (prefix, table) in TABLES {
            let path = self.base.join(table);
            let Some(text) = read_optional(&path)? else {
                tracing::debug!(path = %path.display(), "Cannot open file for reading");
                continue;
            };
            for (name, value) in parse_kstat(&text, table).map_err(parse_error(&path))? {
                out.push(
                    MetricFamily::untyped(
                        format!("node_{prefix}_{}", metric_name(&name)),
                        format!("kstat.zfs.misc.{table}.{name}"),
                    )
                    .with(&[], value),
                );
            }
        }
        Ok(())
    }

    fn update_pools(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for (pool, path) in pool_files(&self.base, |name| name == "io") {
            let text = read_string(&path)?;
            for (field, value) in parse_pool_io(&text).map_err(parse_error(&path))? {
                out.push(
                    MetricFamily::untyped(
                        format!("node_zfs_zpool_{}", metric_name(&field)),
                        format!("kstat.zfs.misc.io.{field}"),
                    )
                    .with(&[("zpool", &pool)], value as f64),
                );
            }
        }
        for (pool, path) in pool_files(&self.base, |name| name.starts_with("objset-")) {
            let text = read_string(&path)?;
            let (dataset, rows) = parse_objset(&text).map_err(parse_error(&path))?;
            for (name, value) in rows {
                out.push(
                    MetricFamily::untyped(
                        format!("node_zfs_zpool_dataset_{}", metric_name(&name)),
                        format!("kstat.zfs.misc.objset.{name}"),
                    )
                    .with(&[("zpool", &pool), ("dataset", &dataset)], value as f64),
                );
            }
        }
        let mut states = MetricFamily::gauge("node_zfs_zpool_state", "kstat.zfs.misc.state");
        for (pool, path) in pool_files(&self.base, |name| name == "state") {
            let text = read_string(&path)?;
            let state = text.lines().next().unwrap_or("").to_lowercase();
            for candidate in POOL_STATES {
                let active = if state == candidate { 1.0 } else { 0.0 };
                states.push(&[("zpool", &pool), ("state", candidate)], active);
            }
        }
        out.push(states);
        Ok(())
    }
}

impl Collector for Zfs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if !self.base.exists() {
            tracing::debug!("ZFS / ZFS statistics are not available");
            return Err(CollectorError::NoData);
        }
        self.update_tables(out)?;
        self.update_pools(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};

    const ARCSTATS: &str = "\
6 1 0x01 91 4368 5266997922 97951858082072
name                            type data
hits                            4    8772612
c_min                           4    33554432
arc_no_grow                     4    0
memory_available_bytes          3    -922337203
l2_asize                        2    12
";

    const IO: &str = "\
12 3 0x00 1 80 79205351707403 395818011156865
nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt
1884160  3206144  22       132      7155162  104112268 79210489694949 24168078 104112268 79210489849220 0        0
";

    const OBJSET: &str = "\
24 1 0x01 7 2160 221611904716 7145015038451
name                            type data
dataset_name                    7    pool3/dataset with  space
writes                          4    4
nwritten                        4    12302
";

    #[test]
    fn reads_tables_pools_and_datasets() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("spl/kstat/zfs");
        let collector = Zfs { base: base.clone() };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        write(&base.join("arcstats"), ARCSTATS);
        write(&base.join("vdev-mirror-stats-not-a-table"), "x");
        write(&base.join("pool3/io"), IO);
        write(&base.join("pool3/objset-0x2"), OBJSET);
        write(&base.join("pool3/state"), "DEGRADED\n");
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nonexistent-root");
        for line in [
            "node_zfs_arc_hits  8772612",
            "node_zfs_arc_memory_available_bytes  -922337203",
            "node_zfs_zpool_nread zpool=pool3 1884160",
            "node_zfs_zpool_rcnt zpool=pool3 0",
            "node_zfs_zpool_dataset_nwritten dataset=pool3/dataset with  space,zpool=pool3 12302",
            "node_zfs_zpool_state state=degraded,zpool=pool3 1",
            "node_zfs_zpool_state state=online,zpool=pool3 0",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
        assert!(!lines.iter().any(|l| l.contains("l2_asize")));
        assert_eq!(lines.len(), 4 + 12 + 2 + 7);
    }

    #[test]
    fn malformed_files_fail() {
        assert!(parse_kstat("hits 4 1\n", "arcstats").is_err());
        assert!(parse_kstat("name type data\nhits 4 many\n", "arcstats").is_err());
        assert!(parse_kstat("name type data\nhits 3 -1\n", "arcstats").is_ok());
        assert!(parse_pool_io(&IO.replace(" 0        0\n", "\n")).is_err());
        assert!(parse_objset("dataset_name 7 x\n").is_err());
        assert!(parse_objset("name type data\nwrites 4 -1\n").is_err());
        assert_eq!(parse_objset(OBJSET).unwrap().0, "pool3/dataset with  space");
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,60}\n){0,8}") {
            let _ = parse_kstat(&text, "arcstats");
            let _ = parse_pool_io(&text);
            let _ = parse_objset(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..400) {
            for text in [ARCSTATS, IO, OBJSET] {
                let cut = cut.min(text.len());
                let _ = parse_kstat(&text[..cut], "arcstats");
                let _ = parse_pool_io(&text[..cut]);
                let _ = parse_objset(&text[..cut]);
            }
        }
    }
}
