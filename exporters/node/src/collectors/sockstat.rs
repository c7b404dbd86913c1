//! `sockstat`: `node_sockstat_<PROTO>_<field>` gauges from `<procfs>/net/sockstat` and
//! `<procfs>/net/sockstat6`, plus `node_sockstat_sockets_used` and `_mem_bytes` (pages × page
//! size) for protocols that report `mem`. Either file may be absent (IPv4 or IPv6 disabled).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_optional;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|size| u64::try_from(size).ok())
        .unwrap_or(4096);
    Ok(Box::new(Sockstat {
        v4: paths.proc("net/sockstat"),
        v6: paths.proc("net/sockstat6"),
        page_size,
    }))
}

struct Sockstat {
    v4: PathBuf,
    v6: PathBuf,
    page_size: u64,
}

/// The fields upstream exports, in the order it emits them.
const FIELDS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

/// One protocol line: `TCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1`.
#[derive(Debug, PartialEq)]
struct Protocol<'a> {
    name: &'a str,
    values: [Option<i64>; 6],
}

#[derive(Debug, PartialEq, Default)]
struct Sockstats<'a> {
    used: Option<i64>,
    protocols: Vec<Protocol<'a>>,
}

/// Parses a sockstat file. Hand-written: procfs-core has no parser for it. Like upstream, a line
/// without a protocol and key/value pairs, or with a value that is not a number, makes the file
/// unreadable; unknown keys are ignored.
fn parse(text: &str) -> Result<Sockstats<'_>, String> {
    let mut stats = Sockstats::default();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 3 || fields.len().is_multiple_of(2) {
            return Err(format!("malformed sockstat line {line:?}"));
        }
        let name = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        let mut values = [None; 6];
        let mut used = None;
        for pair in fields[1..].chunks_exact(2) {
            let value: i64 = pair[1]
                .parse()
                .map_err(|_| format!("malformed value {:?} in sockstat line {line:?}", pair[1]))?;
            if pair[0] == "used" {
                used = Some(value);
            }
            if let Some(index) = FIELDS.iter().position(|f| *f == pair[0]) {
                values[index] = Some(value);
            }
        }
        if name == "sockets" {
            stats.used = Some(used.unwrap_or(0));
        } else {
            // `inuse` is always exported (0 when absent), as upstream's non-optional InUse.
            values[0] = Some(values[0].unwrap_or(0));
            stats.protocols.push(Protocol { name, values });
        }
    }
    Ok(stats)
}

impl Sockstat {
    fn emit(&self, stats: &Sockstats<'_>, ipv6: bool, out: &mut Vec<MetricFamily>) {
        if !ipv6 && let Some(used) = stats.used {
            out.push(
                MetricFamily::gauge(
                    "node_sockstat_sockets_used",
                    "Number of IPv4 sockets in use.",
                )
                .with(&[], used as f64),
            );
        }
        for protocol in &stats.protocols {
            let mut pairs: Vec<(&str, i64)> = FIELDS
                .iter()
                .zip(protocol.values)
                .filter_map(|(field, value)| Some((*field, value?)))
                .collect();
            if let Some(pages) = protocol.values[4] {
                pairs.push(("mem_bytes", pages.wrapping_mul(self.page_size as i64)));
            }
            for (field, value) in pairs {
                out.push(
                    MetricFamily::gauge(
                        format!("node_sockstat_{}_{field}", protocol.name),
                        format!("Number of {} sockets in state {field}.", protocol.name),
                    )
                    .with(&[], value as f64),
                );
            }
        }
    }
}

impl Collector for Sockstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for (path, ipv6) in [(&self.v4, false), (&self.v6, true)] {
            let Some(text) = read_optional(path)? else {
                tracing::debug!(file = %path.display(), "sockstat statistics not found, skipping");
                continue;
            };
            let stats = parse(&text).map_err(|reason| CollectorError::parse(path, reason))?;
            self.emit(&stats, ipv6, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKSTAT: &str = "\
sockets: used 229
TCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1
UDP: inuse 0 mem 0
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";

    #[test]
    fn reads_the_kernel_format() {
        let stats = parse(SOCKSTAT).unwrap();
        assert_eq!(stats.used, Some(229));
        assert_eq!(stats.protocols[0].name, "TCP");
        assert_eq!(
            stats.protocols[0].values,
            [Some(4), Some(0), Some(4), Some(17), Some(1), None]
        );
        assert_eq!(stats.protocols[4].values[5], Some(0));
        let collector = Sockstat {
            v4: PathBuf::new(),
            v6: PathBuf::new(),
            page_size: 4096,
        };
        let mut out = Vec::new();
        collector.emit(&stats, false, &mut out);
        let get = |name: &str| {
            out.iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value)
        };
        assert_eq!(get("node_sockstat_TCP_mem_bytes"), Some(4096.0));
        assert_eq!(get("node_sockstat_sockets_used"), Some(229.0));
        assert_eq!(get("node_sockstat_FRAG_memory"), Some(0.0));
        assert_eq!(get("node_sockstat_UDPLITE_mem"), None);
        assert!(parse("TCP: inuse x").is_err());
        assert!(parse("TCP: inuse").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,80}\n){0,5}") {
            let _ = parse(&text);
        }
    }
}
