//! `netdev`: per-interface traffic counters, `node_network_<stat>_total{device}`.
//!
//! Two sources, as upstream:
//! - `--collector.netdev.netlink` (the default): an `RTM_GETLINK` dump over a netlink socket,
//!   which gives the kernel's full `rtnl_link_stats64` (including `rx_nohandler`, which
//!   `/proc/net/dev` lacks). Like upstream's netlink mode it asks the kernel of the exporter's own
//!   network namespace and ignores `--path.procfs`.
//! - `--no-collector.netdev.netlink`: `<procfs>/net/dev`.
//!
//! Without `--collector.netdev.enable-detailed-metrics`, the netlink counters are folded into the
//! legacy names `/proc/net/dev` uses (`receive_drop` = dropped + missed, `receive_frame` = frame +
//! length + over + crc errors, `transmit_carrier` = carrier + aborted + heartbeat + window),
//! exactly as upstream does, so dashboards see the same series whichever source is used.
//!
//! `--collector.netdev.address-info` adds `node_network_address_info{device,address,netmask,scope}`
//! from an `RTM_GETADDR` dump (what Go's `net.Interfaces()`/`Addrs()` read).
//!
//! This module also holds [`DeviceFilter`], the include/exclude pair several collectors share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::netlink;
use crate::read::{read_optional, read_string};

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.optional(
        "collector.netdev.device-include",
        "Regexp of net devices to include (mutually exclusive to device-exclude).",
    );
    set.customize(include, |arg| {
        arg.alias("collector.netdev.device-whitelist")
    });
    let exclude = set.optional(
        "collector.netdev.device-exclude",
        "Regexp of net devices to exclude (mutually exclusive to device-include).",
    );
    set.customize(exclude, |arg| {
        arg.alias("collector.netdev.device-blacklist")
    });
    let netlink = set.bool(
        "collector.netdev.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/dev.",
    );
    let address_info = set.bool(
        "collector.netdev.address-info",
        false,
        "Collect address-info for every device",
    );
    let detailed = set.bool(
        "collector.netdev.enable-detailed-metrics",
        false,
        "Use (incompatible) metric names that provide more detailed stats on Linux",
    );
    let label_ifalias = set.bool("collector.netdev.label-ifalias", false, "Add ifAlias label");
    Box::new(move |context| {
        let (flags, paths) = (context.flags, context.paths);
        let filter = DeviceFilter::from_flags(flags, exclude, include)?;
        let source = if flags.get(netlink) {
            Source::Netlink
        } else {
            Source::ProcNetDev(paths.proc("net/dev"))
        };
        Ok(Box::new(NetDev {
            source,
            filter,
            detailed: flags.get(detailed),
            address_info: flags.get(address_info),
            ifalias_root: flags.get(label_ifalias).then(|| paths.sys("class/net")),
        }))
    })
}

enum Source {
    Netlink,
    ProcNetDev(PathBuf),
}

struct NetDev {
    source: Source,
    filter: DeviceFilter,
    detailed: bool,
    address_info: bool,
    /// `<sysfs>/class/net` when `--collector.netdev.label-ifalias` is on.
    ifalias_root: Option<PathBuf>,
}

/// One device's counters under their exported keys (`receive_bytes`, ...), in a fixed order.
type DeviceCounters = (String, Vec<(&'static str, u64)>);

impl Collector for NetDev {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let links =
            match &self.source {
                Source::Netlink => Some(netlink::dump_links().map_err(|err| {
                    CollectorError::Other(format!("couldn't get netstats: {err}"))
                })?),
                Source::ProcNetDev(_) => None,
            };
        let devices: Vec<DeviceCounters> = match (&self.source, &links) {
            (Source::Netlink, Some(links)) => links
                .iter()
                .filter(|link| !self.filter.ignored(&link.name))
                .filter_map(|link| {
                    let stats = link.stats.as_ref()?;
                    Some((link.name.clone(), netlink_counters(stats, self.detailed)))
                })
                .collect(),
            (Source::ProcNetDev(path), _) => {
                let text = read_string(path)?;
                parse_proc_net_dev(&text)
                    .into_iter()
                    .filter(|(name, _)| !self.filter.ignored(name))
                    .map(|(name, values)| (name, proc_counters(&values, self.detailed)))
                    .collect()
            }
            (Source::Netlink, None) => Vec::new(),
        };

        // One source and one naming per collector: every device has the same keys in the same
        // order, so the first device's keys name the families and values go in by position.
        let mut families: Vec<MetricFamily> =
            devices.first().map_or_else(Vec::new, |(_, counters)| {
                counters
                    .iter()
                    .map(|(key, _)| {
                        MetricFamily::counter(
                            format!("node_network_{key}_total"),
                            format!("Network device statistic {key}."),
                        )
                    })
                    .collect()
            });
        for (device, counters) in &devices {
            let ifalias = match &self.ifalias_root {
                Some(root) => read_ifalias(root, device)?,
                None => None,
            };
            for (family, (_, value)) in families.iter_mut().zip(counters) {
                match &ifalias {
                    Some(alias) => {
                        family.push(&[("device", device), ("ifalias", alias)], *value as f64)
                    }
                    None => family.push(&[("device", device)], *value as f64),
                }
            }
        }
        out.extend(families);

        if self.address_info {
            let links = match links {
                Some(links) => links,
                None => netlink::dump_links().map_err(|err| {
                    CollectorError::Other(format!("could not get network interfaces: {err}"))
                })?,
            };
            let addresses = netlink::dump_addresses().map_err(|err| {
                CollectorError::Other(format!("could not get network interfaces: {err}"))
            })?;
            let names: HashMap<u32, &str> =
                links.iter().map(|l| (l.index, l.name.as_str())).collect();
            let mut family = MetricFamily::gauge(
                "node_network_address_info",
                "node network address by device",
            );
            for address in &addresses {
                let Some(device) = names.get(&address.index) else {
                    continue;
                };
                if self.filter.ignored(device) {
                    continue;
                }
                let netmask = address.prefix_len.to_string();
                family.push(
                    &[
                        ("device", device),
                        ("address", &go_ip_string(address.ip)),
                        ("netmask", &netmask),
                        ("scope", go_scope(address.ip)),
                    ],
                    1.0,
                );
            }
            out.push(family);
        }
        Ok(())
    }
}

/// `<sysfs>/class/net/<dev>/ifalias`: `None` when the device has no sysfs entry (upstream then
/// adds no `ifalias` label), `""` when the attribute is missing or unreadable.
fn read_ifalias(root: &std::path::Path, device: &str) -> Result<Option<String>, CollectorError> {
    let dir = root.join(device);
    if !dir.is_dir() {
        return Ok(None);
    }
    match read_optional(&dir.join("ifalias")) {
        Ok(text) => Ok(Some(text.map(|t| t.trim().to_owned()).unwrap_or_default())),
        Err(err) => {
            tracing::debug!(device, err = %err, "could not read ifalias");
            Ok(Some(String::new()))
        }
    }
}

/// The `rtnl_link_stats64` fields in kernel order, with upstream's detailed key for each.
const NETLINK_KEYS: [&str; 24] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// Netlink counters under their exported keys: detailed (one per kernel field) or folded into
/// the legacy `/proc/net/dev` names the way the kernel's `dev_seq_printf_stats` folds them.
fn netlink_counters(s: &[u64; 24], detailed: bool) -> Vec<(&'static str, u64)> {
    if detailed {
        return NETLINK_KEYS
            .iter()
            .copied()
            .zip(s.iter().copied())
            .collect();
    }
    let sum = |indexes: &[usize]| indexes.iter().fold(0u64, |acc, &i| acc.wrapping_add(s[i]));
    vec![
        ("receive_packets", s[0]),
        ("transmit_packets", s[1]),
        ("receive_bytes", s[2]),
        ("transmit_bytes", s[3]),
        ("receive_errs", s[4]),
        ("transmit_errs", s[5]),
        ("receive_drop", sum(&[6, 15])),
        ("transmit_drop", s[7]),
        ("receive_multicast", s[8]),
        ("transmit_colls", s[9]),
        ("receive_frame", sum(&[13, 10, 11, 12])),
        ("receive_fifo", s[14]),
        ("transmit_carrier", sum(&[17, 16, 19, 20])),
        ("transmit_fifo", s[18]),
        ("receive_compressed", s[21]),
        ("transmit_compressed", s[22]),
        ("receive_nohandler", s[23]),
    ]
}

/// The 16 columns of `/proc/net/dev`, in file order, with upstream's (detailed) key names.
const PROC_KEYS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

fn proc_counters(values: &[u64; 16], detailed: bool) -> Vec<(&'static str, u64)> {
    PROC_KEYS
        .iter()
        .zip(values.iter())
        .map(|(&key, &value)| {
            let key = match (detailed, key) {
                (false, "receive_errors") => "receive_errs",
                (false, "receive_dropped") => "receive_drop",
                (false, "transmit_errors") => "transmit_errs",
                (false, "transmit_dropped") => "transmit_drop",
                (_, key) => key,
            };
            (key, value)
        })
        .collect()
}

/// `/proc/net/dev`: two header lines, then `<name>: <16 counters>`. Hand-written: procfs-core
/// has no parser for it. A malformed line is skipped with a log line.
fn parse_proc_net_dev(text: &str) -> Vec<(String, [u64; 16])> {
    let mut devices = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = line.rsplit_once(':').and_then(|(name, rest)| {
            let mut values = [0u64; 16];
            let mut fields = rest.split_ascii_whitespace();
            for value in &mut values {
                *value = fields.next()?.parse().ok()?;
            }
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_owned(), values))
        });
        match parsed {
            Some(device) => devices.push(device),
            None => tracing::warn!(line, "skipping malformed /proc/net/dev line"),
        }
    }
    devices
}

/// An address as Go's `net.IP.String()` writes it: IPv4-mapped IPv6 addresses in dotted form.
fn go_ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// upstream's `scope()`: loopback and link-local are "link-local", interface-local multicast is
/// "interface-local", global unicast (private ranges included) is "global", anything else "".
fn go_scope(ip: IpAddr) -> &'static str {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() || v4.is_link_local() || (o[0] == 224 && o[1] == 0 && o[2] == 0) {
                "link-local"
            } else if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() {
                ""
            } else {
                "global"
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() || (first & 0xffc0) == 0xfe80 || (first & 0xff0f) == 0xff02 {
                "link-local"
            } else if (first & 0xff0f) == 0xff01 {
                "interface-local"
            } else if v6.is_unspecified() || v6.is_multicast() {
                ""
            } else {
                "global"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    const PROC_NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1664039   15066    0    0    0     0          0         0  1664039   15066    0    0    0     0       0          0
  eth0: 68210035552 520993275    1    2    3     4          5         6 9315587528 43451486    7    8    9    10      11         12
bad line without colon
 short: 1 2 3
";

    #[test]
    fn reads_proc_net_dev() {
        let devices = parse_proc_net_dev(PROC_NET_DEV);
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].0, "lo");
        assert_eq!(devices[0].1[0], 1664039);
        let eth0 = proc_counters(&devices[1].1, false);
        let get = |key: &str| eth0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(get("receive_bytes"), Some(68210035552));
        assert_eq!(get("receive_errs"), Some(1));
        assert_eq!(get("receive_drop"), Some(2));
        assert_eq!(get("receive_multicast"), Some(6));
        assert_eq!(get("transmit_colls"), Some(10));
        assert_eq!(get("transmit_carrier"), Some(11));
        assert_eq!(get("transmit_compressed"), Some(12));
        assert_eq!(get("receive_errors"), None);
        let detailed = proc_counters(&devices[1].1, true);
        assert!(
            detailed
                .iter()
                .any(|(k, v)| *k == "receive_dropped" && *v == 2)
        );
    }

    #[test]
    fn netlink_counters_fold_into_legacy_names() {
        let stats: [u64; 24] = std::array::from_fn(|i| 1u64 << i);
        let legacy = netlink_counters(&stats, false);
        let get = |key: &str| legacy.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(legacy.len(), 17);
        assert_eq!(get("receive_drop"), Some((1 << 6) + (1 << 15)));
        assert_eq!(
            get("receive_frame"),
            Some((1 << 13) + (1 << 10) + (1 << 11) + (1 << 12))
        );
        assert_eq!(
            get("transmit_carrier"),
            Some((1 << 17) + (1 << 16) + (1 << 19) + (1 << 20))
        );
        assert_eq!(get("receive_nohandler"), Some(1 << 23));
        assert_eq!(netlink_counters(&stats, true).len(), 24);
    }

    #[test]
    fn scopes_and_addresses_print_like_go() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(go_scope(ip("127.0.0.1")), "link-local");
        assert_eq!(go_scope(ip("169.254.1.1")), "link-local");
        assert_eq!(go_scope(ip("10.1.2.3")), "global");
        assert_eq!(go_scope(ip("::1")), "link-local");
        assert_eq!(go_scope(ip("fe80::1")), "link-local");
        assert_eq!(go_scope(ip("ff01::1")), "interface-local");
        assert_eq!(go_scope(ip("2001:db8::1")), "global");
        assert_eq!(go_scope(ip("0.0.0.0")), "");
        assert_eq!(go_ip_string(ip("::ffff:10.0.0.1")), "10.0.0.1");
        assert_eq!(go_ip_string(ip("2001:db8:0:0:0:0:0:1")), "2001:db8::1");
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let len = 16 + body.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&2u16.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(body);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    #[test]
    fn parses_link_and_done_messages() {
        let mut body = vec![0u8; 16];
        body[4..8].copy_from_slice(&7u32.to_ne_bytes());
        body.extend(attribute(3, b"eth9\0"));
        let stats: Vec<u8> = (0..24u64).flat_map(|v| (v * 10).to_ne_bytes()).collect();
        body.extend(attribute(23, &stats));
        let mut datagram = message(16, 1, &body);
        datagram.extend(message(3, 1, &[0, 0, 0, 0]));
        let mut links = Vec::new();
        let done = netlink::parse_datagram(&datagram, 1, &mut |kind, payload| {
            assert_eq!(kind, 16);
            links.push(payload.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(done);
        assert_eq!(links.len(), 1);
        // An error reply is reported as the kernel's errno.
        let error = message(2, 1, &(-13i32).to_ne_bytes());
        let err = netlink::parse_datagram(&error, 1, &mut |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("denied"), "{err}");
    }

    #[test]
    fn live_netlink_dump_has_loopback() {
        let links = netlink::dump_links().expect("RTM_GETLINK dump");
        let lo = links.iter().find(|l| l.name == "lo").expect("lo is listed");
        assert!(lo.stats.is_some());
        let addresses = netlink::dump_addresses().expect("RTM_GETADDR dump");
        assert!(
            addresses
                .iter()
                .any(|a| a.index == lo.index && a.ip == IpAddr::from([127, 0, 0, 1]))
        );
    }

    #[test]
    fn proc_and_netlink_agree_on_loopback_names() {
        let paths = Paths::default();
        let text = read_string(&paths.proc("net/dev")).unwrap();
        let from_file: Vec<String> = parse_proc_net_dev(&text).into_iter().map(|d| d.0).collect();
        let from_netlink: Vec<String> = netlink::dump_links()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        for name in &from_file {
            assert!(from_netlink.contains(name), "{name} missing from netlink");
        }
    }

    proptest::proptest! {
        #[test]
        fn proc_net_dev_garbage_never_panics(text in "(.{0,120}\n){0,6}") {
            let _ = parse_proc_net_dev(&text);
        }

        #[test]
        fn netlink_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let seq = bytes.get(8..12).map_or(1, |b| u32::from_ne_bytes(b.try_into().unwrap()));
            let _ = netlink::parse_datagram(&bytes, seq, &mut |_, payload| {
                let _ = netlink::parse_link(payload);
                let _ = netlink::parse_address(payload);
                let _ = netlink::parse_inet_diag(payload);
                Ok(())
            });
            let _ = netlink::parse_link(&bytes);
            let _ = netlink::parse_address(&bytes);
            let _ = netlink::parse_inet_diag(&bytes);
        }
    }
}
