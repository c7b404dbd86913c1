//! The node exporter's netlink dumps: one request (`RTM_GETLINK`, `RTM_GETADDR`, `RTM_GETQDISC`,
//! `RTM_GETROUTE`, or a sock_diag `SOCK_DIAG_BY_FAMILY` for `tcpstat`) and the parse of its
//! replies, shared by `netdev`, `qdisc`, `network_route` and `tcpstat`.
//! The protocol (socket, framing, attributes, generic families) is the kit's
//! `octo_exporter_kit::netlink`, re-exported here for the collectors that name it through this
//! module. Parsing works on byte slices with bounds checks, so a short or garbage message is an
//! error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[cfg(test)]
pub(crate) use octo_exporter_kit::netlink::parse_datagram;
pub use octo_exporter_kit::netlink::{NetlinkError, generic_family_id};
use octo_exporter_kit::netlink::{align, attributes, dump, u16_at, u32_at, u64_at};
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS: u16 = 7;
const IFLA_STATS64: u16 = 23;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTMSG_LEN: usize = 12;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTNEXTHOP_LEN: usize = 8;
const RTM_NEWQDISC: u16 = 36;
const RTM_GETQDISC: u16 = 38;
const TCMSG_LEN: usize = 20;
const TCA_KIND: u16 = 1;
const TCA_STATS: u16 = 3;
const TCA_STATS2: u16 = 7;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const INET_DIAG_REQ_LEN: usize = 56;
const IPPROTO_TCP: u8 = 6;
const TCPF_ALL: u32 = 0xfff;

/// One link of an `RTM_GETLINK` dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `rtnl_link_stats64` (or the 32-bit `rtnl_link_stats` widened); absent fields are 0.
    pub stats: Option<[u64; 24]>,
}

/// One address of an `RTM_GETADDR` dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub index: u32,
    pub prefix_len: u8,
    pub ip: IpAddr,
}

/// One queueing discipline of an `RTM_GETQDISC` dump, with the counters of `TCA_STATS2`
/// (or the legacy `TCA_STATS`, which has no requeues).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Qdisc {
    pub index: u32,
    /// 0 for a root qdisc (the kernel's `TC_H_ROOT`, all ones, is reported as 0).
    pub parent: u32,
    pub kind: String,
    pub bytes: u64,
    pub packets: u32,
    pub drops: u32,
    pub requeues: u32,
    pub overlimits: u32,
    pub qlen: u32,
    pub backlog: u32,
}

pub fn dump_qdiscs() -> Result<Vec<Qdisc>, NetlinkError> {
    let mut qdiscs = Vec::new();
    let request = [0u8; TCMSG_LEN]; // AF_UNSPEC, every interface
    dump(
        libc::NETLINK_ROUTE,
        RTM_GETQDISC,
        &request,
        |kind, payload| {
            if kind == RTM_NEWQDISC {
                qdiscs.push(parse_qdisc(payload)?);
            }
            Ok(())
        },
    )?;
    Ok(qdiscs)
}

/// A `tcmsg` and its attributes; statistics too short for their struct are an error.
pub(super) fn parse_qdisc(payload: &[u8]) -> Result<Qdisc, NetlinkError> {
    let short = NetlinkError::Malformed("short tcmsg");
    let header = payload.get(..TCMSG_LEN).ok_or(short)?;
    let parent = u32_at(header, 12).ok_or(NetlinkError::Malformed("short tcmsg"))?;
    let mut qdisc = Qdisc {
        index: u32_at(header, 4).ok_or(NetlinkError::Malformed("short tcmsg"))?,
        parent: if parent == u32::MAX { 0 } else { parent },
        ..Qdisc::default()
    };
    let u32_or = |data: &[u8], at: usize| {
        u32_at(data, at).ok_or(NetlinkError::Malformed("short qdisc statistics"))
    };
    for (kind, value) in attributes(&payload[TCMSG_LEN..]) {
        match kind {
            TCA_KIND => {
                let bytes = value.split(|&b| b == 0).next().unwrap_or(&[]);
                qdisc.kind = String::from_utf8_lossy(bytes).into_owned();
            }
            TCA_STATS2 => {
                for (nested, data) in attributes(value) {
                    match nested {
                        TCA_STATS_BASIC => {
                            qdisc.bytes = u64_at(data, 0)
                                .ok_or(NetlinkError::Malformed("short gnet_stats_basic"))?;
                            qdisc.packets = u32_or(data, 8)?;
                        }
                        TCA_STATS_QUEUE => {
                            qdisc.qlen = u32_or(data, 0)?;
                            qdisc.backlog = u32_or(data, 4)?;
                            qdisc.drops = u32_or(data, 8)?;
                            qdisc.requeues = u32_or(data, 12)?;
                            qdisc.overlimits = u32_or(data, 16)?;
                        }
                        _ => {}
                    }
                }
            }
            TCA_STATS => {
                qdisc.bytes = u64_at(value, 0).ok_or(NetlinkError::Malformed("short tc_stats"))?;
                qdisc.packets = u32_or(value, 8)?;
                qdisc.drops = u32_or(value, 12)?;
                qdisc.overlimits = u32_or(value, 16)?;
                qdisc.qlen = u32_or(value, 28)?;
                qdisc.backlog = u32_or(value, 32)?;
            }
            _ => {}
        }
    }
    Ok(qdisc)
}

/// One route of an `RTM_GETROUTE` dump (every family and table), with the attributes
/// `network_route` reports; absent addresses are `None`, an absent priority 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    pub family: u8,
    pub dst_len: u8,
    pub protocol: u8,
    /// `rtm_type`: `RTN_UNICAST` (1), `RTN_LOCAL`, `RTN_BROADCAST`...
    pub kind: u8,
    pub dst: Option<IpAddr>,
    /// `RTA_PREFSRC`, the preferred source address.
    pub src: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    pub out_index: u32,
    pub priority: u32,
    pub multipath: Vec<NextHop>,
}

/// One `rtnexthop` of an `RTA_MULTIPATH` route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NextHop {
    pub index: u32,
    /// `rtnh_hops`: the weight minus one.
    pub hops: u8,
    pub gateway: Option<IpAddr>,
}

pub fn dump_routes() -> Result<Vec<Route>, NetlinkError> {
    let mut routes = Vec::new();
    let request = [0u8; RTMSG_LEN]; // AF_UNSPEC: every family, every table
    dump(
        libc::NETLINK_ROUTE,
        RTM_GETROUTE,
        &request,
        |kind, payload| {
            if kind == RTM_NEWROUTE {
                routes.push(parse_route(payload)?);
            }
            Ok(())
        },
    )?;
    Ok(routes)
}

/// An address attribute: 4 bytes IPv4, 16 bytes IPv6, anything else ignored.
fn ip_value(value: &[u8]) -> Option<IpAddr> {
    match value.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            value[0], value[1], value[2], value[3],
        ))),
        16 => {
            let octets: [u8; 16] = value.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// An `rtmsg` and its attributes; a short header or a malformed next hop is an error.
pub(super) fn parse_route(payload: &[u8]) -> Result<Route, NetlinkError> {
    let header = payload
        .get(..RTMSG_LEN)
        .ok_or(NetlinkError::Malformed("short rtmsg"))?;
    let mut route = Route {
        family: header[0],
        dst_len: header[1],
        protocol: header[5],
        kind: header[7],
        ..Route::default()
    };
    let u32_or =
        |value: &[u8]| u32_at(value, 0).ok_or(NetlinkError::Malformed("short route attribute"));
    for (kind, value) in attributes(&payload[RTMSG_LEN..]) {
        match kind {
            RTA_DST => route.dst = ip_value(value),
            RTA_PREFSRC => route.src = ip_value(value),
            RTA_GATEWAY => route.gateway = ip_value(value),
            RTA_OIF => route.out_index = u32_or(value)?,
            RTA_PRIORITY => route.priority = u32_or(value)?,
            RTA_MULTIPATH => route.multipath = parse_next_hops(value)?,
            _ => {}
        }
    }
    Ok(route)
}

/// `rtnexthop`s: length, flags, hops, interface index, then that hop's attributes.
fn parse_next_hops(mut data: &[u8]) -> Result<Vec<NextHop>, NetlinkError> {
    let mut hops = Vec::new();
    while !data.is_empty() {
        let len = usize::from(u16_at(data, 0).ok_or(NetlinkError::Malformed("short rtnexthop"))?);
        if len < RTNEXTHOP_LEN || len > data.len() {
            return Err(NetlinkError::Malformed("rtnexthop length out of bounds"));
        }
        let mut hop = NextHop {
            hops: data[3],
            index: u32_at(data, 4).ok_or(NetlinkError::Malformed("short rtnexthop"))?,
            gateway: None,
        };
        for (kind, value) in attributes(&data[RTNEXTHOP_LEN..len]) {
            if kind == RTA_GATEWAY {
                hop.gateway = ip_value(value);
            }
        }
        hops.push(hop);
        data = data.get(align(len)..).unwrap_or(&[]);
    }
    Ok(hops)
}

pub fn dump_links() -> Result<Vec<Link>, NetlinkError> {
    let mut links = Vec::new();
    let request = [0u8; IFINFOMSG_LEN]; // AF_UNSPEC: every link
    dump(
        libc::NETLINK_ROUTE,
        RTM_GETLINK,
        &request,
        |kind, payload| {
            if kind == RTM_NEWLINK {
                links.push(parse_link(payload)?);
            }
            Ok(())
        },
    )?;
    Ok(links)
}

pub fn dump_addresses() -> Result<Vec<Address>, NetlinkError> {
    let mut addresses = Vec::new();
    let request = [0u8; IFADDRMSG_LEN]; // AF_UNSPEC: every address
    dump(
        libc::NETLINK_ROUTE,
        RTM_GETADDR,
        &request,
        |kind, payload| {
            if kind == RTM_NEWADDR
                && let Some(address) = parse_address(payload)?
            {
                addresses.push(address);
            }
            Ok(())
        },
    )?;
    Ok(addresses)
}

/// Every TCP socket of an address family (`AF_INET` or `AF_INET6`) through
/// `NETLINK_SOCK_DIAG`, as `(state, receive queue, send queue)`.
pub fn dump_tcp_sockets(
    ipv6: bool,
    mut each: impl FnMut(u8, u32, u32),
) -> Result<(), NetlinkError> {
    // inet_diag_req_v2: family, protocol, extensions (none), pad, states (all), then a
    // zeroed inet_diag_sockid (48 bytes).
    let mut request = [0u8; INET_DIAG_REQ_LEN];
    request[0] = if ipv6 { AF_INET6 } else { AF_INET };
    request[1] = IPPROTO_TCP;
    request[4..8].copy_from_slice(&TCPF_ALL.to_ne_bytes());
    dump(
        libc::NETLINK_SOCK_DIAG,
        SOCK_DIAG_BY_FAMILY,
        &request,
        |kind, payload| {
            if kind == SOCK_DIAG_BY_FAMILY {
                let (state, rqueue, wqueue) = parse_inet_diag(payload)?;
                each(state, rqueue, wqueue);
            }
            Ok(())
        },
    )
}

/// `inet_diag_msg`: the state is the second byte; the receive and send queues follow the
/// 48-byte socket id and the expiry timer.
pub(super) fn parse_inet_diag(payload: &[u8]) -> Result<(u8, u32, u32), NetlinkError> {
    let state = *payload
        .get(1)
        .ok_or(NetlinkError::Malformed("short inet_diag_msg"))?;
    let rqueue = u32_at(payload, 56).ok_or(NetlinkError::Malformed("short inet_diag_msg"))?;
    let wqueue = u32_at(payload, 60).ok_or(NetlinkError::Malformed("short inet_diag_msg"))?;
    Ok((state, rqueue, wqueue))
}

pub(super) fn parse_link(payload: &[u8]) -> Result<Link, NetlinkError> {
    let index = u32_at(payload, 4).ok_or(NetlinkError::Malformed("short ifinfomsg"))?;
    let mut name = None;
    let mut stats64 = None;
    let mut stats32 = None;
    for (kind, value) in attributes(payload.get(IFINFOMSG_LEN..).unwrap_or(&[])) {
        match kind {
            IFLA_IFNAME => {
                let bytes = value.split(|&b| b == 0).next().unwrap_or(&[]);
                name = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            IFLA_STATS64 => stats64 = Some(counters(value, 8)),
            IFLA_STATS => stats32 = Some(counters(value, 4)),
            _ => {}
        }
    }
    Ok(Link {
        index,
        name: name.ok_or(NetlinkError::Malformed("link without a name"))?,
        stats: stats64.or(stats32),
    })
}

/// Up to 24 native-endian counters of `width` bytes; missing trailing fields are 0.
fn counters(value: &[u8], width: usize) -> [u64; 24] {
    let mut out = [0u64; 24];
    for (slot, chunk) in out.iter_mut().zip(value.chunks_exact(width)) {
        *slot = match width {
            8 => u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8])),
            _ => u64::from(u32::from_ne_bytes(chunk.try_into().unwrap_or([0; 4]))),
        };
    }
    out
}

/// An address message; the local address wins over the peer address, as in Go's `net`
/// package (`IFA_LOCAL` is the interface's own address on point-to-point links).
pub(super) fn parse_address(payload: &[u8]) -> Result<Option<Address>, NetlinkError> {
    let header = payload
        .get(..IFADDRMSG_LEN)
        .ok_or(NetlinkError::Malformed("short ifaddrmsg"))?;
    let (family, prefix_len) = (header[0], header[1]);
    let index = u32_at(header, 4).ok_or(NetlinkError::Malformed("short ifaddrmsg"))?;
    let mut local = None;
    let mut address = None;
    for (kind, value) in attributes(&payload[IFADDRMSG_LEN..]) {
        let ip = match (family, value.len()) {
            (AF_INET, 4) => IpAddr::V4(Ipv4Addr::new(value[0], value[1], value[2], value[3])),
            (AF_INET6, 16) => {
                let octets: [u8; 16] = value.try_into().unwrap_or([0; 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            _ => continue,
        };
        match kind {
            IFA_LOCAL => local = Some(ip),
            IFA_ADDRESS => address = Some(ip),
            _ => {}
        }
    }
    Ok(local.or(address).map(|ip| Address {
        index,
        prefix_len,
        ip,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use octo_exporter_kit::netlink::push_attribute;

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_attribute(&mut out, kind, value);
        out
    }

    fn qdisc_message() -> Vec<u8> {
        let mut message = vec![0u8; TCMSG_LEN];
        message[4..8].copy_from_slice(&2u32.to_ne_bytes());
        message[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        message.extend(attribute(TCA_KIND, b"fq_codel\0"));
        let mut basic = 1234u64.to_ne_bytes().to_vec();
        basic.extend_from_slice(&56u32.to_ne_bytes());
        let queue: Vec<u8> = [1u32, 2, 3, 4, 5]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let mut nested = attribute(TCA_STATS_BASIC, &basic);
        nested.extend(attribute(TCA_STATS_QUEUE, &queue));
        message.extend(attribute(TCA_STATS2 | 0x8000, &nested));
        message
    }

    #[test]
    fn parses_a_root_qdisc_with_stats2() {
        let qdisc = parse_qdisc(&qdisc_message()).unwrap();
        assert_eq!(
            qdisc,
            Qdisc {
                index: 2,
                parent: 0,
                kind: "fq_codel".into(),
                bytes: 1234,
                packets: 56,
                qlen: 1,
                backlog: 2,
                drops: 3,
                requeues: 4,
                overlimits: 5,
            }
        );
        assert!(parse_qdisc(&[0u8; 10]).is_err());
    }

    fn route_message() -> Vec<u8> {
        // AF_INET, /24, table main, proto kernel, scope link, RTN_UNICAST
        let mut message = vec![2u8, 24, 0, 0, 254, 2, 253, 1, 0, 0, 0, 0];
        message.extend(attribute(RTA_DST, &[10, 0, 2, 0]));
        message.extend(attribute(RTA_PREFSRC, &[10, 0, 2, 15]));
        message.extend(attribute(RTA_OIF, &2u32.to_ne_bytes()));
        message.extend(attribute(RTA_PRIORITY, &100u32.to_ne_bytes()));
        let mut hops = Vec::new();
        for (index, weight, gateway) in [(2u32, 0u8, [10, 0, 2, 1]), (3, 4, [10, 0, 3, 1])] {
            let gateway = attribute(RTA_GATEWAY, &gateway);
            hops.extend_from_slice(&((RTNEXTHOP_LEN + gateway.len()) as u16).to_ne_bytes());
            hops.extend_from_slice(&[0, weight]);
            hops.extend_from_slice(&index.to_ne_bytes());
            hops.extend(gateway);
        }
        message.extend(attribute(RTA_MULTIPATH, &hops));
        message
    }

    #[test]
    fn parses_a_multipath_route() {
        let route = parse_route(&route_message()).unwrap();
        assert_eq!(route.family, 2);
        assert_eq!(route.dst_len, 24);
        assert_eq!(route.protocol, 2);
        assert_eq!(route.kind, 1);
        assert_eq!(route.dst, Some("10.0.2.0".parse().unwrap()));
        assert_eq!(route.src, Some("10.0.2.15".parse().unwrap()));
        assert_eq!(route.out_index, 2);
        assert_eq!(route.priority, 100);
        assert_eq!(route.gateway, None);
        assert_eq!(
            route.multipath,
            vec![
                NextHop {
                    index: 2,
                    hops: 0,
                    gateway: Some("10.0.2.1".parse().unwrap())
                },
                NextHop {
                    index: 3,
                    hops: 4,
                    gateway: Some("10.0.3.1".parse().unwrap())
                },
            ]
        );
        assert!(parse_route(&[2, 24]).is_err());
    }

    #[test]
    fn live_route_dump() {
        // Every host has at least the loopback's local route.
        let routes = dump_routes().expect("RTM_GETROUTE dump");
        assert!(
            routes
                .iter()
                .any(|r| r.dst == Some("127.0.0.1".parse().unwrap()))
        );
    }

    #[test]
    fn live_qdisc_dump() {
        // Every host has at least the loopback's noqueue qdisc.
        let qdiscs = dump_qdiscs().expect("RTM_GETQDISC dump");
        assert!(!qdiscs.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn truncated_or_garbage_qdiscs_never_panic(
            cut in 0usize..200,
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let message = qdisc_message();
            let _ = parse_qdisc(&message[..cut.min(message.len())]);
            let _ = parse_qdisc(&garbage);
            let route = route_message();
            let _ = parse_route(&route[..cut.min(route.len())]);
            let _ = parse_route(&garbage);
        }
    }
}
