//! A minimal netlink client: one dump request (`RTM_GETLINK`, `RTM_GETADDR`, `RTM_GETQDISC`,
//! `RTM_GETROUTE`, or a sock_diag `SOCK_DIAG_BY_FAMILY` for `tcpstat`) and the parse of its
//! replies, shared by `netdev`, `qdisc`, `network_route` and `tcpstat`.
//! Hand-written because the crate's dependencies have no netlink support; the socket calls go
//! through nix's safe wrappers in `sys`. Parsing works on byte slices with bounds checks, so a short or
//! garbage message is an error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
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

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("netlink reply: {0}")]
    Malformed(&'static str),
    #[error("netlink request refused: {0}")]
    Kernel(std::io::Error),
}

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

/// The id of the generic netlink family `name` (`nl80211` exists only where a wireless driver
/// is loaded), `None` where the kernel does not know it: one
/// `CTRL_CMD_GETFAMILY` request to the controller.
pub fn generic_family_id(name: &str) -> Result<Option<u16>, NetlinkError> {
    const GENL_ID_CTRL: u16 = 0x10;
    const CTRL_CMD_GETFAMILY: u8 = 3;
    const CTRL_ATTR_FAMILY_ID: u16 = 1;
    const CTRL_ATTR_FAMILY_NAME: u16 = 2;
    const GENL_HDRLEN: usize = 4;
    const SEQ: u32 = 1;
    let mut value = name.as_bytes().to_vec();
    value.push(0);
    let mut body = vec![CTRL_CMD_GETFAMILY, 1, 0, 0]; // genlmsghdr: command, version
    push_attribute(&mut body, CTRL_ATTR_FAMILY_NAME, &value);
    let socket = sys::Socket::open(libc::NETLINK_GENERIC)?;
    socket.send(&header(GENL_ID_CTRL, NLM_F_REQUEST, SEQ, &body))?;
    let mut buffer = Vec::new();
    let len = socket.receive(&mut buffer)?;
    let mut id = None;
    match parse_datagram(&buffer[..len], SEQ, &mut |kind, payload| {
        if kind == GENL_ID_CTRL {
            for (attribute, value) in attributes(payload.get(GENL_HDRLEN..).unwrap_or(&[])) {
                if attribute == CTRL_ATTR_FAMILY_ID {
                    id = u16_at(value, 0);
                }
            }
        }
        Ok(())
    }) {
        Ok(_) => Ok(id),
        Err(NetlinkError::Kernel(err)) if err.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Appends one `nlattr` (length, type, value, padding to 4 bytes) to a message body.
pub(crate) fn push_attribute(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    body.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    body.extend_from_slice(&kind.to_ne_bytes());
    body.extend_from_slice(value);
    body.resize(align(body.len()), 0);
}

/// A generic netlink dump: `command` of `family` with the request's attributes; each reply's
/// attributes (after the 4-byte `genlmsghdr`) go to `handle`.
pub(crate) fn generic_dump(
    family: u16,
    command: u8,
    request: &[u8],
    mut handle: impl FnMut(&[u8]) -> Result<(), NetlinkError>,
) -> Result<(), NetlinkError> {
    let mut body = vec![command, 1, 0, 0];
    body.extend_from_slice(request);
    dump(libc::NETLINK_GENERIC, family, &body, |kind, payload| {
        if kind == family {
            handle(payload.get(GENL_HDRLEN..).unwrap_or(&[]))?;
        }
        Ok(())
    })
}

/// A netlink message: header and body.
fn header(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let total = NLMSG_HDRLEN + body.len();
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&(total as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(body);
    message
}

/// Sends one dump request with the given body on a `protocol` netlink socket and feeds
/// each reply message to `handle` until `NLMSG_DONE`.
pub(crate) fn dump(
    protocol: libc::c_int,
    request: u16,
    body: &[u8],
    mut handle: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
) -> Result<(), NetlinkError> {
    const SEQ: u32 = 1;
    let socket = sys::Socket::open(protocol)?;
    socket.send(&header(request, NLM_F_REQUEST | NLM_F_DUMP, SEQ, body))?;

    let mut buffer = Vec::new();
    loop {
        let len = socket.receive(&mut buffer)?;
        if len == 0 {
            return Err(NetlinkError::Malformed("empty datagram before NLMSG_DONE"));
        }
        if parse_datagram(&buffer[..len], SEQ, &mut handle)? {
            return Ok(());
        }
    }
}

/// Walks the messages of one datagram; `Ok(true)` once `NLMSG_DONE` is seen.
pub(super) fn parse_datagram(
    mut data: &[u8],
    seq: u32,
    handle: &mut impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
) -> Result<bool, NetlinkError> {
    while data.len() >= NLMSG_HDRLEN {
        let len = u32_at(data, 0).ok_or(NetlinkError::Malformed("short header"))? as usize;
        let kind = u16_at(data, 4).ok_or(NetlinkError::Malformed("short header"))?;
        let message_seq = u32_at(data, 8).ok_or(NetlinkError::Malformed("short header"))?;
        if len < NLMSG_HDRLEN || len > data.len() {
            return Err(NetlinkError::Malformed("message length out of bounds"));
        }
        let payload = &data[NLMSG_HDRLEN..len];
        if message_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code =
                        i32_at(payload, 0).ok_or(NetlinkError::Malformed("short error message"))?;
                    if code != 0 {
                        return Err(NetlinkError::Kernel(std::io::Error::from_raw_os_error(
                            code.saturating_neg(),
                        )));
                    }
                }
                _ => handle(kind, payload)?,
            }
        }
        data = data.get(align(len)..).unwrap_or(&[]);
    }
    Ok(false)
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

/// The `rtattr`s of a message body: `(type, value)`, stopping at the first malformed one.
pub(crate) fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(data, 0)?);
        let kind = u16_at(data, 2)? & 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
        if len < 4 || len > data.len() {
            return None;
        }
        let value = &data[4..len];
        data = data.get(align(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

pub(crate) fn align(len: usize) -> usize {
    (len + 3) & !3
}

pub(crate) fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

fn i32_at(data: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The netlink socket, through nix's safe wrappers (its `socket` feature): no `unsafe` here.
mod sys {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};

    use nix::sys::socket::{
        AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, send, setsockopt, socket,
        sockopt,
    };
    use nix::sys::time::{TimeVal, TimeValLike};

    /// How long a dump may take before the scrape gives up on it.
    const RECEIVE_TIMEOUT_SECONDS: i64 = 5;
    const INITIAL_BUFFER: usize = 32 * 1024;

    pub struct Socket(OwnedFd);

    impl Socket {
        /// An `AF_NETLINK` socket of the given protocol (`NETLINK_ROUTE`,
        /// `NETLINK_SOCK_DIAG`, `NETLINK_GENERIC`), close-on-exec, with a receive timeout.
        pub fn open(protocol: libc::c_int) -> io::Result<Socket> {
            let protocol = match protocol {
                libc::NETLINK_ROUTE => SockProtocol::NetlinkRoute,
                libc::NETLINK_SOCK_DIAG => SockProtocol::NetlinkSockDiag,
                libc::NETLINK_GENERIC => SockProtocol::NetlinkGeneric,
                other => {
                    return Err(io::Error::other(format!(
                        "unsupported netlink protocol {other}"
                    )));
                }
            };
            let fd = socket(
                AddressFamily::Netlink,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                protocol,
            )?;
            setsockopt(
                &fd,
                sockopt::ReceiveTimeout,
                &TimeVal::seconds(RECEIVE_TIMEOUT_SECONDS),
            )?;
            Ok(Socket(fd))
        }

        /// Sends one whole message to the kernel (port 0, the default destination).
        pub fn send(&self, message: &[u8]) -> io::Result<()> {
            let sent = send(self.0.as_raw_fd(), message, MsgFlags::empty())?;
            if sent != message.len() {
                return Err(io::Error::other("short netlink send"));
            }
            Ok(())
        }

        /// Receives one datagram into `buffer` (grown to fit it) and returns its length.
        pub fn receive(&self, buffer: &mut Vec<u8>) -> io::Result<usize> {
            if buffer.len() < INITIAL_BUFFER {
                buffer.resize(INITIAL_BUFFER, 0);
            }
            loop {
                // Peek with MSG_TRUNC to learn the datagram's real size first, so a large
                // dump message is never cut.
                let size = match recv(
                    self.0.as_raw_fd(),
                    buffer,
                    MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
                ) {
                    Ok(size) => size,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(err) => return Err(err.into()),
                };
                if size > buffer.len() {
                    buffer.resize(size, 0);
                }
                match recv(self.0.as_raw_fd(), buffer, MsgFlags::empty()) {
                    Ok(got) => return Ok(got),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn live_generic_family_lookup() {
        // The controller always knows itself; no family has this name.
        assert_eq!(generic_family_id("octo_nofamily").unwrap(), None);
        assert_eq!(generic_family_id("nlctrl").unwrap(), Some(0x10));
        // A generic dump: the controller lists every family, itself included.
        let mut names = Vec::new();
        generic_dump(0x10, 3, &[], |message| {
            for (kind, value) in attributes(message) {
                if kind == 2 {
                    names.push(
                        String::from_utf8_lossy(value)
                            .trim_end_matches('\0')
                            .to_owned(),
                    );
                }
            }
            Ok(())
        })
        .unwrap();
        assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
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
