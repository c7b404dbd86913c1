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

use octo_exporter_kit::{FlagSet, Flags, MetricFamily};
use regex_lite::Regex;

use super::field_filter::FieldFilter;
use super::{BuildError, Collector, CollectorError};
use crate::paths::{Paths, read_optional, read_string};

pub fn flags(set: FlagSet) -> FlagSet {
    set.value_with(
        "collector.netdev.device-include",
        None,
        "Regexp of net devices to include (mutually exclusive to device-exclude).",
        |arg| arg.alias("collector.netdev.device-whitelist"),
    )
    .value_with(
        "collector.netdev.device-exclude",
        None,
        "Regexp of net devices to exclude (mutually exclusive to device-include).",
        |arg| arg.alias("collector.netdev.device-blacklist"),
    )
    .bool(
        "collector.netdev.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/dev.",
    )
    .bool(
        "collector.netdev.address-info",
        false,
        "Collect address-info for every device",
    )
    .bool(
        "collector.netdev.enable-detailed-metrics",
        false,
        "Use (incompatible) metric names that provide more detailed stats on Linux",
    )
    .bool("collector.netdev.label-ifalias", false, "Add ifAlias label")
}

pub fn build(flags: &Flags, paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    let filter = DeviceFilter::from_flags(
        flags,
        "collector.netdev.device-exclude",
        "collector.netdev.device-include",
    )?;
    let source = if flags.bool("collector.netdev.netlink") {
        Source::Netlink
    } else {
        Source::ProcNetDev(paths.proc("net/dev"))
    };
    Ok(Box::new(NetDev {
        source,
        filter,
        detailed: flags.bool("collector.netdev.enable-detailed-metrics"),
        address_info: flags.bool("collector.netdev.address-info"),
        ifalias_root: flags
            .bool("collector.netdev.label-ifalias")
            .then(|| paths.sys("class/net")),
    }))
}

// ---------------------------------------------------------------------------------------------
// Device filter (shared with arp, diskstats, filesystem)
// ---------------------------------------------------------------------------------------------

/// Compiles a filter regex given on the command line; Go's `regexp` (RE2) syntax, which the
/// `regex` crate accepts for these patterns. Not anchored: a match anywhere counts, as Go's
/// `MatchString`.
pub(crate) fn compile_regex(flag: &str, pattern: &str) -> Result<Regex, BuildError> {
    Regex::new(pattern).map_err(|err| {
        BuildError::Invalid(format!("--{flag}={pattern:?} is not a valid regexp: {err}"))
    })
}

/// upstream's `deviceFilter`: a name is ignored when it matches the exclude pattern or does not
/// match the include pattern.
#[derive(Debug, Default)]
pub(crate) struct DeviceFilter {
    exclude: Option<FieldFilter>,
    include: Option<FieldFilter>,
}

impl DeviceFilter {
    /// Both patterns given (non-empty) is an error naming the flags; empty means "not given".
    pub(crate) fn new(
        exclude: Option<(&str, &str)>,
        include: Option<(&str, &str)>,
    ) -> Result<Self, BuildError> {
        let exclude = exclude.filter(|(_, pattern)| !pattern.is_empty());
        let include = include.filter(|(_, pattern)| !pattern.is_empty());
        if let (Some((exclude_flag, _)), Some((include_flag, _))) = (exclude, include) {
            return Err(BuildError::Invalid(format!(
                "--{exclude_flag} and --{include_flag} are mutually exclusive"
            )));
        }
        let compile =
            |(flag, pattern): (&str, &str)| compile_regex(flag, pattern).map(FieldFilter::new);
        Ok(DeviceFilter {
            exclude: exclude.map(compile).transpose()?,
            include: include.map(compile).transpose()?,
        })
    }

    /// The filter from an exclude/include flag pair.
    pub(crate) fn from_flags(
        flags: &Flags,
        exclude_flag: &str,
        include_flag: &str,
    ) -> Result<Self, BuildError> {
        Self::new(
            flags.value(exclude_flag).map(|p| (exclude_flag, p)),
            flags.value(include_flag).map(|p| (include_flag, p)),
        )
    }

    /// Whether a pattern was given; callers skip building the name to match when not.
    pub(crate) fn is_active(&self) -> bool {
        self.exclude.is_some() || self.include.is_some()
    }

    pub(crate) fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|re| re.is_match(name))
            || self.include.as_ref().is_some_and(|re| !re.is_match(name))
    }
}

// ---------------------------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// rtnetlink
// ---------------------------------------------------------------------------------------------

/// A minimal netlink client: one dump request (`RTM_GETLINK`, `RTM_GETADDR`, or a sock_diag
/// `SOCK_DIAG_BY_FAMILY` for `tcpstat`) and the parse of its replies. Hand-written because the crate's dependencies have no netlink support (nix's
/// `socket` feature is not enabled for it); the four socket calls are the only `unsafe` code and
/// live in [`netlink::sys`]. Parsing works on byte slices with bounds checks, so a short or
/// garbage message is an error, never a panic.
pub(crate) mod netlink {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    const NLMSG_HDRLEN: usize = 16;
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

    /// Sends one dump request with the given body on a `protocol` netlink socket and feeds
    /// each reply message to `handle` until `NLMSG_DONE`.
    fn dump(
        protocol: libc::c_int,
        request: u16,
        body: &[u8],
        mut handle: impl FnMut(u16, &[u8]) -> Result<(), NetlinkError>,
    ) -> Result<(), NetlinkError> {
        const SEQ: u32 = 1;
        let socket = sys::Socket::open(protocol)?;
        let total = NLMSG_HDRLEN + body.len();
        let mut message = Vec::with_capacity(total);
        message.extend_from_slice(&(total as u32).to_ne_bytes());
        message.extend_from_slice(&request.to_ne_bytes());
        message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        message.extend_from_slice(&SEQ.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(body);
        socket.send(&message)?;

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
                        let code = i32_at(payload, 0)
                            .ok_or(NetlinkError::Malformed("short error message"))?;
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
    fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
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

    fn align(len: usize) -> usize {
        (len + 3) & !3
    }

    fn u16_at(data: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(data.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32_at(data: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
    }

    fn i32_at(data: &[u8], at: usize) -> Option<i32> {
        Some(i32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
    }

    /// The socket system calls. `unsafe` is confined here: each call gets a valid file
    /// descriptor owned by [`Socket`] and pointers to live buffers with their true lengths.
    /// The netlink socket, through nix's safe wrappers.
    mod sys {
        use std::io;
        use std::os::fd::{AsRawFd, OwnedFd};

        use nix::sys::socket::{
            AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, send, setsockopt,
            socket, sockopt,
        };
        use nix::sys::time::{TimeVal, TimeValLike};

        /// How long a dump may take before the scrape gives up on it.
        const RECEIVE_TIMEOUT_SECONDS: i64 = 5;
        const INITIAL_BUFFER: usize = 32 * 1024;

        pub struct Socket(OwnedFd);

        impl Socket {
            /// An `AF_NETLINK` socket of the given protocol (`NETLINK_ROUTE`,
            /// `NETLINK_SOCK_DIAG`), close-on-exec, with a receive timeout.
            pub fn open(protocol: libc::c_int) -> io::Result<Socket> {
                let protocol = match protocol {
                    libc::NETLINK_ROUTE => SockProtocol::NetlinkRoute,
                    libc::NETLINK_SOCK_DIAG => SockProtocol::NetlinkSockDiag,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn filter_follows_upstream() {
        let filter = DeviceFilter::new(None, Some(("include", "^(lo|eth0)$"))).unwrap();
        assert!(!filter.ignored("lo"));
        assert!(filter.ignored("eth1"));
        let filter = DeviceFilter::new(Some(("exclude", "veth")), None).unwrap();
        assert!(filter.ignored("veth1234"));
        assert!(!filter.ignored("eth0"));
        assert!(
            !DeviceFilter::new(Some(("e", "")), Some(("i", "")))
                .unwrap()
                .ignored("x")
        );
        let err = DeviceFilter::new(Some(("a.exclude", "x")), Some(("a.include", "y")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--a.exclude") && err.contains("--a.include"),
            "{err}"
        );
        assert!(DeviceFilter::new(Some(("e", "(")), None).is_err());
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
