//! `ipvs`: IP Virtual Server totals from `/proc/net/ip_vs_stats` and per-backend connections
//! and weights from `/proc/net/ip_vs`.
//!
//! Hand-written parsers: procfs-core has no IPVS support. They follow prometheus/procfs's
//! semantics: hexadecimal totals on the third line of `ip_vs_stats`; in `ip_vs`, a `TCP`/`UDP`
//! or `FWM` line opens a virtual service and each `->` line under it is one real server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::read::read_string;

/// Every backend label, in upstream's order (the order of `--collector.ipvs.backend-labels`
/// does not matter; this one does).
const ALL_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

pub fn declare(set: &mut FlagSet) -> Builder {
    let labels = set.string(
        "collector.ipvs.backend-labels",
        "local_address,local_port,remote_address,remote_port,proto,local_mark",
        "Comma separated list for IPVS backend stats labels.",
    );
    Box::new(move |context| {
        Ok(Box::new(Ipvs {
            stats: context.paths.proc("net/ip_vs_stats"),
            backends: context.paths.proc("net/ip_vs"),
            labels: parse_labels(context.flags.get(labels))?,
        }))
    })
}

/// The chosen labels in upstream's order; an unknown name stops start-up, as upstream.
fn parse_labels(text: &str) -> Result<Vec<&'static str>, BuildError> {
    let wanted: Vec<&str> = text.split(',').filter(|label| !label.is_empty()).collect();
    let mut unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|label| !ALL_LABELS.contains(label))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(BuildError::Invalid(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        )));
    }
    Ok(ALL_LABELS
        .into_iter()
        .filter(|label| wanted.contains(label))
        .collect())
}

struct Ipvs {
    stats: PathBuf,
    backends: PathBuf,
    labels: Vec<&'static str>,
}

/// The totals of `ip_vs_stats`.
#[derive(Debug, PartialEq)]
struct Totals {
    connections: u64,
    incoming_packets: u64,
    outgoing_packets: u64,
    incoming_bytes: u64,
    outgoing_bytes: u64,
}

fn parse_totals(text: &str) -> Result<Totals, String> {
    let mut lines = text.splitn(4, '\n');
    let third = lines.nth(2).ok_or("too short")?;
    if lines.next().is_none() {
        return Err("too short".into());
    }
    let fields: Vec<&str> = third.split_ascii_whitespace().collect();
    let [c, ip, op, ib, ob] = fields[..] else {
        return Err("unexpected number of fields".into());
    };
    let hex = |field: &str| {
        u64::from_str_radix(field, 16).map_err(|_| format!("{field:?} is not hexadecimal"))
    };
    Ok(Totals {
        connections: hex(c)?,
        incoming_packets: hex(ip)?,
        outgoing_packets: hex(op)?,
        incoming_bytes: hex(ib)?,
        outgoing_bytes: hex(ob)?,
    })
}

/// One real server of a virtual service.
#[derive(Debug, Clone, PartialEq)]
struct Backend {
    local_address: Option<IpAddr>,
    local_port: u16,
    local_mark: String,
    remote_address: IpAddr,
    remote_port: u16,
    proto: String,
    weight: u64,
    active: u64,
    inactive: u64,
}

impl Backend {
    fn label(&self, name: &str) -> String {
        match name {
            "local_address" => self.local_address.map(go_ip).unwrap_or_default(),
            "local_port" => self.local_port.to_string(),
            "remote_address" => go_ip(self.remote_address),
            "remote_port" => self.remote_port.to_string(),
            "proto" => self.proto.clone(),
            _ => self.local_mark.clone(),
        }
    }
}

/// An address as Go's `net.IP.String` writes it: an IPv4-mapped IPv6 address in dotted form.
fn go_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// `C0A80016:0CEA` (IPv4 in hex) or `[2620:0000:...:0001]:0050` (IPv6, bracketed).
fn parse_ip_port(text: &str) -> Result<(IpAddr, u16), String> {
    let ip = match text.len() {
        13 => {
            let raw = text
                .get(..8)
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("invalid IPv4 address in {text:?}"))?;
            IpAddr::V4(Ipv4Addr::from(raw))
        }
        46 => text
            .get(1..40)
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
            .map(IpAddr::V6)
            .ok_or_else(|| format!("invalid IPv6 address in {text:?}"))?,
        _ => return Err(format!("unexpected IP:Port {text:?}")),
    };
    let port = text
        .get(text.len() - 4..)
        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        .ok_or_else(|| format!("invalid port in {text:?}"))?;
    Ok((ip, port))
}

fn parse_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut backends = Vec::new();
    let mut proto = String::new();
    let mut local_mark = String::new();
    let mut local: Option<(IpAddr, u16)> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        match fields[..] {
            [] | ["IP", ..] | ["Prot", ..] | [_, "RemoteAddress:Port", ..] => {}
            [kind @ ("TCP" | "UDP"), address, ..] => {
                proto = kind.to_owned();
                local_mark.clear();
                local = Some(parse_ip_port(address)?);
            }
            ["FWM", mark, ..] => {
                proto = "FWM".to_owned();
                local_mark = mark.to_owned();
                local = None;
            }
            ["->", address, _, weight, active, inactive, ..] => {
                let (remote_address, remote_port) = parse_ip_port(address)?;
                let number = |field: &str| {
                    field
                        .parse::<u64>()
                        .map_err(|_| format!("{field:?} in {line:?}"))
                };
                backends.push(Backend {
                    local_address: local.map(|(ip, _)| ip),
                    local_port: local.map_or(0, |(_, port)| port),
                    local_mark: local_mark.clone(),
                    remote_address,
                    remote_port,
                    proto: proto.clone(),
                    weight: number(weight)?,
                    active: number(active)?,
                    inactive: number(inactive)?,
                });
            }
            _ => {}
        }
    }
    Ok(backends)
}

impl Collector for Ipvs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.stats).map_err(|err| {
            if err.is_not_found() {
                tracing::debug!("ipvs collector metrics are not available for this system");
                CollectorError::NoData
            } else {
                err
            }
        })?;
        let totals =
            parse_totals(&text).map_err(|reason| CollectorError::parse(&self.stats, reason))?;
        let counter = |name: &str, help: &'static str, value: u64| {
            MetricFamily::counter(format!("node_ipvs_{name}"), help).with(&[], value as f64)
        };
        out.push(counter(
            "connections_total",
            "The total number of connections made.",
            totals.connections,
        ));
        out.push(counter(
            "incoming_packets_total",
            "The total number of incoming packets.",
            totals.incoming_packets,
        ));
        out.push(counter(
            "outgoing_packets_total",
            "The total number of outgoing packets.",
            totals.outgoing_packets,
        ));
        out.push(counter(
            "incoming_bytes_total",
            "The total amount of incoming data.",
            totals.incoming_bytes,
        ));
        out.push(counter(
            "outgoing_bytes_total",
            "The total amount of outgoing data.",
            totals.outgoing_bytes,
        ));

        let text = read_string(&self.backends)?;
        let backends = parse_backends(&text)
            .map_err(|reason| CollectorError::parse(&self.backends, reason))?;
        // Backends that differ only in labels left out are summed, as upstream.
        let mut sums: BTreeMap<Vec<String>, [u64; 3]> = BTreeMap::new();
        for backend in &backends {
            let key = self.labels.iter().map(|name| backend.label(name)).collect();
            let sum = sums.entry(key).or_default();
            sum[0] += backend.active;
            sum[1] += backend.inactive;
            sum[2] += backend.weight;
        }
        let mut families = [
            MetricFamily::gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
            ),
            MetricFamily::gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
            ),
            MetricFamily::gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
            ),
        ];
        for (values, sum) in &sums {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            for (family, value) in families.iter_mut().zip(sum) {
                family.push(&labels, *value as f64);
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
 16AA370 E33656E5        0     51D8C8883AB3                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
";

    const BACKENDS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    248        2
UDP  [2620:0000:0000:0000:0000:0000:0000:0001]:0050 sh
  -> [0000:0000:0000:0000:0000:ffff:c0a8:0001]:0050      Route  1    2        3
FWM  10001000 wlc
  -> C0A8321A:0CEA      Tunnel  20     64         1
";

    #[test]
    fn parses_totals() {
        assert_eq!(
            parse_totals(STATS).unwrap(),
            Totals {
                connections: 0x16AA370,
                incoming_packets: 0xE33656E5,
                outgoing_packets: 0,
                incoming_bytes: 0x51D8C8883AB3,
                outgoing_bytes: 0,
            }
        );
        assert!(parse_totals("a\nb\n").is_err());
        assert!(parse_totals("a\nb\n1 2 3 4 zz\n").is_err());
    }

    #[test]
    fn parses_backends_of_every_kind() {
        let backends = parse_backends(BACKENDS).unwrap();
        assert_eq!(backends.len(), 4);
        assert_eq!(backends[0].label("local_address"), "192.168.0.22");
        assert_eq!(backends[0].label("local_port"), "3306");
        assert_eq!(backends[1].label("remote_address"), "192.168.83.24");
        assert_eq!(backends[2].label("local_address"), "2620::1");
        assert_eq!(backends[2].label("remote_address"), "192.168.0.1");
        assert_eq!(backends[2].label("proto"), "UDP");
        assert_eq!(backends[3].label("local_address"), "");
        assert_eq!(backends[3].label("local_port"), "0");
        assert_eq!(backends[3].label("local_mark"), "10001000");
        assert_eq!(
            (backends[3].weight, backends[3].active, backends[3].inactive),
            (20, 64, 1)
        );
        assert!(parse_backends("TCP  nonsense wlc\n").is_err());
    }

    #[test]
    fn labels_follow_upstream_order_and_reject_unknown_names() {
        assert_eq!(
            parse_labels("proto,local_port,").unwrap(),
            vec!["local_port", "proto"]
        );
        assert!(parse_labels("local_port,bogus").is_err());
        assert!(parse_labels("").unwrap().is_empty());
    }

    #[test]
    fn sums_backends_sharing_the_chosen_labels() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ip_vs_stats"), STATS).unwrap();
        std::fs::write(dir.path().join("ip_vs"), BACKENDS).unwrap();
        let collector = Ipvs {
            stats: dir.path().join("ip_vs_stats"),
            backends: dir.path().join("ip_vs"),
            labels: vec!["local_port"],
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let weight = out
            .iter()
            .find(|f| f.name == "node_ipvs_backend_weight")
            .unwrap();
        let values: Vec<f64> = weight.samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![20.0, 200.0, 1.0]);
        std::fs::remove_file(dir.path().join("ip_vs_stats")).unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([ A-Z0-9:>\\[\\]-]{0,60}\n){0,8}") {
            let _ = parse_totals(&text);
            let _ = parse_backends(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..400) {
            let cut = cut.min(BACKENDS.len());
            let _ = parse_backends(&BACKENDS[..cut]);
            let cut = cut.min(STATS.len());
            let _ = parse_totals(&STATS[..cut]);
        }
    }
}
