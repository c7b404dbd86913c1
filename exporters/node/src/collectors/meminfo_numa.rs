//! `meminfo_numa`: `node_memory_numa_<field>{node}` from each NUMA node's
//! `/sys/devices/system/node/node<N>/meminfo` (gauges, kB as bytes) and `numastat`
//! (`<field>_total` counters).

use std::collections::HashMap;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;
use crate::sysfs::{numbered_entries, parse_go_float};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(MeminfoNuma {
            nodes: context.paths.sys("devices/system/node"),
        }))
    })
}

struct MeminfoNuma {
    nodes: PathBuf,
}

/// One value of one node's file.
#[derive(Debug, PartialEq)]
struct Value {
    metric: String,
    node: String,
    value: f64,
}

/// `Node 0 Active(anon):  1234 kB` lines: the node from the line, `Active(anon)` as
/// `Active_anon`, kB as bytes. A line without a number in fourth place, or with more than a
/// `kB` after it, fails the collector (upstream would crash on a short line).
fn parse_meminfo(text: &str) -> Result<Vec<Value>, String> {
    let mut values = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let Some(number) = parts.get(3) else {
            return Err(format!("invalid line in meminfo: {line}"));
        };
        let mut value =
            parse_go_float(number).ok_or_else(|| format!("invalid value in meminfo: {line}"))?;
        match parts.len() {
            4 => {}
            5 if parts[4] == "kB" => value *= 1024.0,
            _ => return Err(format!("invalid line in meminfo: {line}")),
        }
        values.push(Value {
            metric: parenthesis_to_underscore(parts[2].trim_end_matches(':')),
            node: parts[1].to_owned(),
            value,
        });
    }
    Ok(values)
}

/// Upstream's `regexp("\((.*)\)").ReplaceAllString(name, "_${1}")`: from the first `(` to the
/// last `)` becomes `_` and what was between.
fn parenthesis_to_underscore(name: &str) -> String {
    match (name.find('('), name.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &name[..open],
                &name[open + 1..close],
                &name[close + 1..]
            )
        }
        _ => name.to_owned(),
    }
}

/// `numa_hit 193460335812` lines, exactly two fields each.
fn parse_numastat(text: &str, node: &str) -> Result<Vec<Value>, String> {
    let mut values = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [name, number] = parts[..] else {
            return Err(format!("line scan did not return 2 fields: {line}"));
        };
        let value =
            parse_go_float(number).ok_or_else(|| format!("invalid value in numastat: {line}"))?;
        values.push(Value {
            metric: format!("{name}_total"),
            node: node.to_owned(),
            value,
        });
    }
    Ok(values)
}

/// Appends values to their families, made on first use.
struct Families {
    families: Vec<MetricFamily>,
    index: HashMap<String, usize>,
}

impl Families {
    fn add(&mut self, values: Vec<Value>, kind: MetricType) {
        for value in values {
            let i = *self.index.entry(value.metric.clone()).or_insert_with(|| {
                self.families.push(MetricFamily::new(
                    format!("node_memory_numa_{}", value.metric),
                    format!("Memory information field {}.", value.metric),
                    kind,
                ));
                self.families.len() - 1
            });
            self.families[i].push(&[("node", &value.node)], value.value);
        }
    }
}

impl Collector for MeminfoNuma {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut families = Families {
            families: Vec::new(),
            index: HashMap::new(),
        };
        for (rest, dir) in numbered_entries(&self.nodes, "node") {
            let meminfo = dir.join("meminfo");
            let values = parse_meminfo(&read_string(&meminfo)?)
                .map_err(|reason| CollectorError::parse(&meminfo, reason))?;
            families.add(values, MetricType::Gauge);
            let numastat = dir.join("numastat");
            let text = read_string(&numastat)?;
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let values = parse_numastat(&text, &rest[..digits])
                .map_err(|reason| CollectorError::parse(&numastat, reason))?;
            families.add(values, MetricType::Counter);
        }
        out.extend(families.families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, write};
    use proptest::prelude::*;

    const MEMINFO: &str = "Node 1 MemTotal:       134182340 kB
Node 1 Active(anon):    5456380 kB
Node 1 HugePages_Total:     0
";

    #[test]
    fn parses_both_files() {
        let values = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(
            values[1],
            Value {
                metric: "Active_anon".into(),
                node: "1".into(),
                value: 5456380.0 * 1024.0
            }
        );
        assert_eq!(values[2].value, 0.0);
        assert!(parse_meminfo("Node 1 MemTotal:\n").is_err());
        assert!(parse_meminfo("Node 1 MemTotal: 1 MB\n").is_err());
        assert!(parse_meminfo("Node 1 MemTotal: x kB\n").is_err());
        let stats = parse_numastat("numa_hit 5\n\nlocal_node 2\n", "3").unwrap();
        assert_eq!(stats[1].metric, "local_node_total");
        assert_eq!(stats[1].node, "3");
        assert!(parse_numastat("numa_hit 5 6\n", "0").is_err());
        assert_eq!(parenthesis_to_underscore("Inactive(file)"), "Inactive_file");
    }

    #[test]
    fn walks_nodes_and_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let collector = MeminfoNuma {
            nodes: dir.path().to_owned(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out.is_empty());
        write(&dir.path().join("node1/meminfo"), MEMINFO);
        write(&dir.path().join("node1/numastat"), "numa_hit 5\n");
        write(&dir.path().join("nodes"), "not a node\n");
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nowhere");
        assert!(lines.contains(&"node_memory_numa_numa_hit_total node=1 5".to_owned()));
        assert_eq!(lines.len(), 4);
        write(&dir.path().join("node2/meminfo"), MEMINFO);
        assert!(
            collector.update(&mut Vec::new()).is_err(),
            "numastat missing"
        );
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..200, noise in "\\PC{0,80}") {
            let cut = MEMINFO.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(MEMINFO.len());
            let _ = parse_meminfo(&MEMINFO[..cut]);
            let _ = parse_meminfo(&format!("{}{noise}", &MEMINFO[..cut]));
            let _ = parse_meminfo(&noise);
            let _ = parse_numastat(&noise, "0");
            let _ = parenthesis_to_underscore(&noise);
        }
    }
}
