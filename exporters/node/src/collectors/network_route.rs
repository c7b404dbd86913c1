//! `network_route`: `node_network_route_info` for every unicast route of every table and family
//! (one series per next hop of a multipath route) and `node_network_routes`, the number of
//! those per interface, from one netlink `RTM_GETROUTE` dump, as upstream 1.12.
//!
//! This reads the live kernel, not a file, so `--path.*` do not apply (as upstream).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::netlink::{self, Route};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|_| Ok(Box::new(NetworkRoute)))
}

struct NetworkRoute;

/// `rtm_type` of the routes reported (upstream compares with `RTA_DST`, which is also 1).
const RTN_UNICAST: u8 = 1;

/// An address as Go's `net.IP.String` prints it (IPv4-mapped IPv6 addresses in dotted form).
fn go_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn optional_ip(ip: Option<IpAddr>) -> String {
    ip.map(go_ip).unwrap_or_default()
}

/// The destination: `default` for a zero-length prefix, else `address/length`.
fn destination(route: &Route) -> String {
    if route.dst_len == 0 {
        return "default".into();
    }
    match route.dst {
        Some(ip) => format!("{}/{}", go_ip(ip), route.dst_len),
        None => format!("<nil>/{}", route.dst_len),
    }
}

/// The kernel's `RTPROT_*` names (include/uapi/linux/rtnetlink.h), as upstream lists them.
fn protocol(number: u8) -> &'static str {
    match number {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => "unknown",
    }
}

/// The label sets of the info series: device, src, dest, gw, priority, proto, weight.
fn route_labels(routes: &[Route], names: &HashMap<u32, String>) -> Vec<[String; 7]> {
    let name = |index: u32| names.get(&index).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for route in routes.iter().filter(|r| r.kind == RTN_UNICAST) {
        let common = (
            optional_ip(route.src),
            destination(route),
            route.priority.to_string(),
            protocol(route.protocol).to_owned(),
        );
        if route.multipath.is_empty() {
            rows.push([
                name(route.out_index),
                common.0,
                common.1,
                optional_ip(route.gateway),
                common.2,
                common.3,
                String::new(),
            ]);
            continue;
        }
        for hop in &route.multipath {
            rows.push([
                name(hop.index),
                common.0.clone(),
                common.1.clone(),
                optional_ip(hop.gateway),
                common.2.clone(),
                common.3.clone(),
                (u32::from(hop.hops) + 1).to_string(),
            ]);
        }
    }
    rows
}

fn families(rows: &[[String; 7]]) -> Vec<MetricFamily> {
    const LABELS: [&str; 7] = ["device", "src", "dest", "gw", "priority", "proto", "weight"];
    let mut info = MetricFamily::gauge(
        "node_network_route_info",
        "network routing table information",
    );
    let mut per_device: BTreeMap<&str, u32> = BTreeMap::new();
    // The same route in two tables gives the same labels; the registry keeps the first
    // (upstream's registry reports the duplicate and drops it), the count has both.
    let mut seen = HashSet::new();
    for row in rows {
        *per_device.entry(row[0].as_str()).or_insert(0) += 1;
        if !seen.insert(row) {
            continue;
        }
        let labels: Vec<(&str, &str)> = LABELS
            .iter()
            .copied()
            .zip(row.iter().map(String::as_str))
            .collect();
        info.push(&labels, 1.0);
    }
    let mut routes = MetricFamily::gauge("node_network_routes", "network routes by interface");
    for (device, count) in per_device {
        routes.push(&[("device", device)], f64::from(count));
    }
    vec![info, routes]
}

impl Collector for NetworkRoute {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let links = netlink::dump_links()
            .map_err(|err| CollectorError::Other(format!("couldn't get links: {err}")))?;
        let routes = netlink::dump_routes()
            .map_err(|err| CollectorError::Other(format!("couldn't get routes: {err}")))?;
        let names: HashMap<u32, String> = links.into_iter().map(|l| (l.index, l.name)).collect();
        out.extend(families(&route_labels(&routes, &names)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::lines;
    use crate::netlink::NextHop;

    #[test]
    fn labels_follow_upstream() {
        let names = HashMap::from([(2, "eth0".to_owned()), (3, "eth1".to_owned())]);
        let routes = vec![
            Route {
                family: 2,
                protocol: 16,
                kind: 1,
                gateway: Some("10.0.2.2".parse().unwrap()),
                out_index: 2,
                priority: 100,
                ..Route::default()
            },
            Route {
                family: 10,
                dst_len: 64,
                dst: Some("fd00::".parse().unwrap()),
                protocol: 186,
                kind: 1,
                multipath: vec![
                    NextHop {
                        index: 2,
                        hops: 0,
                        gateway: Some("fe80::1".parse().unwrap()),
                    },
                    NextHop {
                        index: 9,
                        hops: 2,
                        gateway: None,
                    },
                ],
                ..Route::default()
            },
            // A local route: not reported.
            Route {
                kind: 2,
                out_index: 2,
                ..Route::default()
            },
        ];
        let got = lines(&families(&route_labels(&routes, &names)), "/nonexistent");
        assert_eq!(
            got,
            vec![
                "node_network_route_info dest=default,device=eth0,gw=10.0.2.2,priority=100,proto=dhcp,src=,weight= 1",
                "node_network_route_info dest=fd00::/64,device=,gw=,priority=0,proto=bgp,src=,weight=3 1",
                "node_network_route_info dest=fd00::/64,device=eth0,gw=fe80::1,priority=0,proto=bgp,src=,weight=1 1",
                "node_network_routes device= 1",
                "node_network_routes device=eth0 2",
            ]
        );
    }

    /// This machine's routing table, compared with `ip route` where the tool exists.
    #[test]
    fn live_routes_match_ip_route() {
        let mut out = Vec::new();
        NetworkRoute.update(&mut out).unwrap();
        let got = lines(&out, "/nonexistent");
        let Ok(ip) = std::process::Command::new("ip")
            .args(["-4", "route", "show", "table", "main"])
            .output()
        else {
            return;
        };
        for line in String::from_utf8_lossy(&ip.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first().is_some_and(|w| {
                [
                    "broadcast",
                    "local",
                    "unreachable",
                    "blackhole",
                    "prohibit",
                    "multicast",
                ]
                .contains(w)
            }) {
                continue;
            }
            let after = |key: &str| {
                words
                    .iter()
                    .position(|w| *w == key)
                    .and_then(|i| words.get(i + 1))
                    .copied()
                    .unwrap_or("")
            };
            let dest = match words[0] {
                "default" => "default".to_owned(),
                d if d.contains('/') => d.to_owned(),
                d => format!("{d}/32"),
            };
            let priority = match after("metric") {
                "" => "0",
                m => m,
            };
            let proto = match after("proto") {
                "" => "boot",
                p => p,
            };
            let expected = format!(
                "node_network_route_info dest={dest},device={},gw={},priority={priority},proto={proto},src={},weight= 1",
                after("dev"),
                after("via"),
                after("src"),
            );
            assert!(got.contains(&expected), "{expected} not in {got:#?}");
        }
    }
}
