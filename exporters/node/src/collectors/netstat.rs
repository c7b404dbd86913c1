//! `netstat`: `node_netstat_<Proto>_<Field>` (untyped) from `<procfs>/net/netstat`,
//! `<procfs>/net/snmp` and `<procfs>/net/snmp6`, for the fields matching
//! `--collector.netstat.fields`.
//!
//! Hand-written parsers: procfs-core's `Snmp`/`Snmp6` are fixed structs, while upstream exports
//! whatever field the kernel prints (and `net/netstat`, with `TcpExt`/`IpExt`, has no parser
//! there), so the files are read generically as `(protocol, field, value)` triples.

use std::collections::BTreeMap;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::compile_regex;
use crate::field_filter::FieldFilter;
use crate::read::{read_optional, read_string};

const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

pub fn declare(set: &mut FlagSet) -> Builder {
    let fields = set.string(
        "collector.netstat.fields",
        DEFAULT_FIELDS,
        "Regexp of fields to return for netstat collector.",
    );
    Box::new(move |context| {
        let (flags, paths) = (context.flags, context.paths);
        Ok(Box::new(Netstat {
            fields: FieldFilter::new(compile_regex(flags.name(fields), flags.get(fields))?),
            netstat: paths.proc("net/netstat"),
            snmp: paths.proc("net/snmp"),
            snmp6: paths.proc("net/snmp6"),
        }))
    })
}

struct Netstat {
    fields: FieldFilter,
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
}

/// Protocol → field → value text (the tests' view of the parse).
#[cfg(test)]
type Stats<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a str>>;

/// `net/netstat` and `net/snmp`: pairs of lines, `Proto: Name1 Name2 ...` then
/// `Proto: value1 value2 ...`. A pair whose lengths differ is an error, as upstream.
#[cfg(test)]
fn parse_pairs(text: &str) -> Result<Stats<'_>, String> {
    let mut stats = Stats::new();
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    while let Some(names) = lines.next() {
        let values = lines.next().unwrap_or("");
        let names: Vec<&str> = names.split(' ').collect();
        let values: Vec<&str> = values.split(' ').collect();
        let protocol = names[0].strip_suffix(':').unwrap_or(names[0]);
        if names.len() != values.len() {
            return Err(format!("field count mismatch for {protocol}"));
        }
        let fields = stats.entry(protocol).or_default();
        fields.clear();
        for (name, value) in names.iter().zip(&values).skip(1) {
            fields.insert(*name, *value);
        }
    }
    Ok(stats)
}

/// `net/snmp6`: one `<Proto6><Field> <value>` per line; the protocol runs up to the first `6`.
#[cfg(test)]
fn parse_snmp6(text: &str) -> Stats<'_> {
    let mut stats = Stats::new();
    for (protocol, name, value) in snmp6_fields(text) {
        stats.entry(protocol).or_default().insert(name, value);
    }
    stats
}

/// What a scrape keeps: `(protocol, field) -> value`, the wanted fields only, sorted.
type Wanted<'a> = BTreeMap<(&'a str, &'a str), &'a str>;

impl Netstat {
    /// Whether `protocol_name` is wanted, remembered per key across scrapes: the kernel
    /// prints the same header lines until a reboot, so after the first scrape this is one
    /// lookup in a small map of the wanted and unwanted names.
    fn wanted(&self, key: &mut String, protocol: &str, name: &str) -> bool {
        key.clear();
        key.push_str(protocol);
        key.push('_');
        key.push_str(name);
        self.fields.is_match(key)
    }

    /// Adds the wanted fields of a header/values file (`/proc/net/netstat`, `/proc/net/snmp`)
    /// to `wanted`. A protocol seen again replaces its earlier fields, as before.
    fn add_pairs<'a>(
        &self,
        text: &'a str,
        wanted: &mut Wanted<'a>,
        key: &mut String,
    ) -> Result<(), String> {
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        while let Some(names) = lines.next() {
            let values = lines.next().unwrap_or("");
            let mut names_iter = names.split(' ');
            let first = names_iter.next().unwrap_or("");
            let protocol = first.strip_suffix(':').unwrap_or(first);
            if names.split(' ').count() != values.split(' ').count() {
                return Err(format!("field count mismatch for {protocol}"));
            }
            wanted.retain(|(p, _), _| *p != protocol);
            for (name, value) in names_iter.zip(values.split(' ').skip(1)) {
                if self.wanted(key, protocol, name) {
                    wanted.insert((protocol, name), value);
                }
            }
        }
        Ok(())
    }
}

impl Collector for Netstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let netstat_text = read_string(&self.netstat)?;
        let snmp_text = read_string(&self.snmp)?;
        let snmp6_text = read_optional(&self.snmp6)?; // absent with IPv6 disabled
        // Filtered while reading: of the ~400 fields only the wanted few are kept, instead of
        // maps of every field. A protocol seen again (in a later line or file) replaces its
        // earlier fields, as the maps did.
        let mut wanted = Wanted::new();
        let mut key = String::new();
        self.add_pairs(&netstat_text, &mut wanted, &mut key)
            .map_err(|reason| CollectorError::parse(&self.netstat, reason))?;
        self.add_pairs(&snmp_text, &mut wanted, &mut key)
            .map_err(|reason| CollectorError::parse(&self.snmp, reason))?;
        if let Some(text) = &snmp6_text {
            let mut seen: Vec<&str> = Vec::new();
            for (protocol, name, value) in snmp6_fields(text) {
                if !seen.contains(&protocol) {
                    seen.push(protocol);
                    wanted.retain(|(p, _), _| *p != protocol);
                }
                if self.wanted(&mut key, protocol, name) {
                    wanted.insert((protocol, name), value);
                }
            }
        }
        for ((protocol, name), value) in wanted {
            let value: f64 = value.parse().map_err(|_| {
                CollectorError::Other(format!(
                    "invalid value {value:?} in netstats for {protocol} {name}"
                ))
            })?;
            out.push(
                MetricFamily::untyped(
                    format!("node_netstat_{protocol}_{name}"),
                    format!("Statistic {protocol}{name}."),
                )
                .with(&[], value),
            );
        }
        Ok(())
    }
}

/// `/proc/net/snmp6` lines, `Ip6InOctets 460`, as `(protocol, field, value)`: the protocol
/// ends at the first `6`.
fn snmp6_fields(text: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    text.lines().filter_map(|line| {
        let mut fields = line.split_ascii_whitespace();
        let (key, value) = (fields.next()?, fields.next()?);
        let six = key.find('6')?;
        let (protocol, name) = key.split_at(six + 1);
        Some((protocol, name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 1 64 57740232 0
Tcp: RtoAlgorithm MaxConn CurrEstab InErrs
Tcp: 1 -1 4 5
";

    const SNMP6: &str = "\
Ip6InReceives                   \t7
Ip6InOctets                     \t460
Icmp6InMsgs                     \t9
Udp6InErrors                    \t0
UdpLite6InErrors                \t1
nonsense
";

    #[test]
    fn reads_pairs_and_snmp6() {
        let stats = parse_pairs(SNMP).unwrap();
        assert_eq!(stats["Ip"]["Forwarding"], "1");
        assert_eq!(stats["Tcp"]["MaxConn"], "-1");
        assert!(parse_pairs("Ip: A B\nIp: 1\n").is_err());
        let six = parse_snmp6(SNMP6);
        assert_eq!(six["Ip6"]["InOctets"], "460");
        assert_eq!(six["UdpLite6"]["InErrors"], "1");
        assert_eq!(six["Icmp6"]["InMsgs"], "9");
    }

    #[test]
    fn exports_matching_fields_untyped() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        std::fs::create_dir_all(&net).unwrap();
        std::fs::write(
            net.join("netstat"),
            "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 1 2 3\n",
        )
        .unwrap();
        std::fs::write(net.join("snmp"), SNMP).unwrap();
        let collector = Netstat {
            fields: FieldFilter::new(regex_lite::Regex::new(DEFAULT_FIELDS).unwrap()),
            netstat: net.join("netstat"),
            snmp: net.join("snmp"),
            snmp6: net.join("snmp6"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_netstat_Ip_Forwarding",
                "node_netstat_Tcp_CurrEstab",
                "node_netstat_Tcp_InErrs",
                "node_netstat_TcpExt_ListenDrops",
                "node_netstat_TcpExt_SyncookiesSent",
            ]
        );
        assert_eq!(out[3].help, "Statistic TcpExtListenDrops.");
        assert_eq!(out[0].kind, octo_exporter_kit::MetricType::Untyped);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,100}\n){0,6}") {
            let _ = parse_pairs(&text);
            let _ = parse_snmp6(&text);
        }
    }
}
