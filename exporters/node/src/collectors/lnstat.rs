//! `lnstat`: the per-CPU network cache statistics of `/proc/net/stat/*` (`arp_cache`,
//! `ndisc_cache`, `nf_conntrack`, ...), as `node_lnstat_<column>_total{subsystem,cpu}`.
//!
//! Hand-written (procfs-core has no parser for these tables): a header line of column names,
//! then one line of hexadecimal counters per CPU. A value that is not hexadecimal, or a line
//! with more values than the header has names, fails the scrape (upstream's parser errors or
//! panics there). A missing directory exports nothing, as upstream's glob.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::{dir_names, read_string};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Lnstat {
            dir: context.paths.proc("net/stat"),
        }))
    })
}

struct Lnstat {
    dir: PathBuf,
}

/// Every column's values, in file order: `(column, values by CPU)`.
fn parse(text: &str) -> Result<Vec<(&str, Vec<u64>)>, String> {
    let mut lines = text.lines();
    let mut columns: Vec<(&str, Vec<u64>)> = lines
        .next()
        .unwrap_or("")
        .split_ascii_whitespace()
        .map(|name| (name, Vec::new()))
        .collect();
    for line in lines {
        for (index, field) in line.split_ascii_whitespace().enumerate() {
            let value = u64::from_str_radix(field, 16)
                .map_err(|_| format!("{field:?} is not hexadecimal"))?;
            let (_, values) = columns
                .get_mut(index)
                .ok_or_else(|| format!("more values than columns in {line:?}"))?;
            values.push(value);
        }
    }
    Ok(columns)
}

impl Lnstat {
    fn file(&self, name: &str, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path: &Path = &self.dir.join(name);
        let text = read_string(path)?;
        let columns = parse(&text).map_err(|reason| CollectorError::parse(path, reason))?;
        for (column, values) in columns {
            let mut family = MetricFamily::counter(
                format!("node_lnstat_{column}_total"),
                "linux network cache stats",
            );
            for (cpu, value) in values.iter().enumerate() {
                family.push(
                    &[("subsystem", name), ("cpu", &cpu.to_string())],
                    *value as f64,
                );
            }
            out.push(family);
        }
        Ok(())
    }
}

impl Collector for Lnstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = match dir_names(&self.dir) {
            Ok(names) => names,
            Err(err) if err.is_not_found() => return Ok(()),
            Err(err) => return Err(err),
        };
        let mut families = Vec::new();
        for name in names {
            self.file(&name, &mut families)
                .map_err(|err| CollectorError::Other(format!("lnstat error: {err}")))?;
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARP_CACHE: &str = "\
entries  allocs destroys
00000014  00000001 00000002
00000014  0000000d 0000000e
";

    #[test]
    fn parses_columns_by_cpu() {
        let columns = parse(ARP_CACHE).unwrap();
        assert_eq!(columns[0], ("entries", vec![20, 20]));
        assert_eq!(columns[1], ("allocs", vec![1, 13]));
        assert!(parse("a b\n1 2 3\n").is_err());
        assert!(parse("a\nzz\n").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn exports_every_file_and_fails_alone_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("arp_cache"), ARP_CACHE).unwrap();
        let collector = Lnstat {
            dir: dir.path().to_path_buf(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].name, "node_lnstat_allocs_total");
        assert_eq!(out[1].samples[1].value, 13.0);
        std::fs::write(dir.path().join("bad"), "a\nxyz\n").unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([ 0-9a-fxz]{0,30}\n){0,5}") {
            let _ = parse(&text);
        }
    }
}
