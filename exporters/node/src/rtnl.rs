//! Netlink dumps beyond the traffic counters of `netlink`: a link's attributes as
//! `RTM_GETLINK` gives them (for `netclass`'s netlink mode), the IPv4 neighbour table
//! (`RTM_GETNEIGH`, for `arp`'s netlink mode) and the link modes of ethtool's generic netlink
//! family (speed and duplex). One socket round trip each instead of a file per attribute or a
//! formatted `/proc` table. Parsing works on byte slices with bounds checks: short or garbage
//! input is an error or a skipped attribute, never a panic.

use octo_exporter_kit::netlink::{self, NetlinkError, align, attributes, u16_at, u32_at};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const IFINFOMSG_LEN: usize = 16;
const NDMSG_LEN: usize = 12;
const AF_INET: u8 = 2;
const NUD_NOARP: u16 = 0x40;
const NLA_F_NESTED: u16 = 0x8000;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_TXQLEN: u16 = 13;
const IFLA_STATS64: u16 = 23;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_IFALIAS: u16 = 20;
const IFLA_GROUP: u16 = 27;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_PROP_LIST: u16 = 52;
const IFLA_ALT_IFNAME: u16 = 53;

/// One link's attributes from `RTM_GETLINK`; absent numeric attributes are 0, as the Go
/// rtnetlink package upstream uses leaves them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkDetails {
    pub index: u32,
    /// `ifi_type`: the ARPHRD_* protocol type.
    pub kind: u16,
    pub flags: u32,
    pub name: String,
    pub address: Vec<u8>,
    pub broadcast: Vec<u8>,
    pub mtu: u32,
    /// `IFLA_LINK`, 0 when the kernel leaves it out (the link is its own lower device).
    pub link: u32,
    pub tx_queue_len: u32,
    pub operstate: u8,
    pub link_mode: u8,
    pub alias: Option<String>,
    pub group: u32,
    pub carrier: u8,
    pub carrier_changes: u32,
    pub carrier_up_count: u32,
    pub carrier_down_count: u32,
    pub alt_names: Vec<String>,
    /// `rtnl_link_stats64`, in the kernel's field order.
    pub stats64: Option<[u64; 24]>,
}

fn c_string(value: &[u8]) -> String {
    let bytes = value.split(|&b| b == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(bytes).into_owned()
}

fn u8_of(value: &[u8]) -> u8 {
    value.first().copied().unwrap_or(0)
}

fn u32_of(value: &[u8]) -> u32 {
    u32_at(value, 0).unwrap_or(0)
}

/// An `ifinfomsg` and its attributes; a message without a name is malformed.
pub fn parse_link_details(payload: &[u8]) -> Result<LinkDetails, NetlinkError> {
    let short = || NetlinkError::Malformed("short ifinfomsg");
    let header = payload.get(..IFINFOMSG_LEN).ok_or_else(short)?;
    let mut link = LinkDetails {
        kind: u16_at(header, 2).ok_or_else(short)?,
        index: u32_at(header, 4).ok_or_else(short)?,
        flags: u32_at(header, 8).ok_or_else(short)?,
        ..LinkDetails::default()
    };
    let mut named = false;
    for (kind, value) in attributes(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_IFNAME => {
                link.name = c_string(value);
                named = true;
            }
            IFLA_ADDRESS => link.address = value.to_vec(),
            IFLA_BROADCAST => link.broadcast = value.to_vec(),
            IFLA_MTU => link.mtu = u32_of(value),
            IFLA_LINK => link.link = u32_of(value),
            IFLA_TXQLEN => link.tx_queue_len = u32_of(value),
            IFLA_OPERSTATE => link.operstate = u8_of(value),
            IFLA_LINKMODE => link.link_mode = u8_of(value),
            IFLA_IFALIAS => link.alias = Some(c_string(value)),
            IFLA_GROUP => link.group = u32_of(value),
            IFLA_CARRIER => link.carrier = u8_of(value),
            IFLA_CARRIER_CHANGES => link.carrier_changes = u32_of(value),
            IFLA_CARRIER_UP_COUNT => link.carrier_up_count = u32_of(value),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down_count = u32_of(value),
            IFLA_STATS64 => {
                let mut stats = [0u64; 24];
                for (slot, chunk) in stats.iter_mut().zip(value.chunks_exact(8)) {
                    *slot = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
                }
                link.stats64 = Some(stats);
            }
            IFLA_PROP_LIST => link.alt_names.extend(
                attributes(value)
                    .filter(|(kind, _)| *kind == IFLA_ALT_IFNAME)
                    .map(|(_, name)| c_string(name)),
            ),
            _ => {}
        }
    }
    if !named {
        return Err(NetlinkError::Malformed("link without a name"));
    }
    Ok(link)
}

/// Every link of the exporter's network namespace with its attributes.
pub fn dump_link_details() -> Result<Vec<LinkDetails>, NetlinkError> {
    let mut links = Vec::new();
    let request = [0u8; IFINFOMSG_LEN]; // AF_UNSPEC: every link
    netlink::dump(
        libc::NETLINK_ROUTE,
        RTM_GETLINK,
        &request,
        |kind, payload| {
            if kind == RTM_NEWLINK {
                links.push(parse_link_details(payload)?);
            }
            Ok(())
        },
    )?;
    Ok(links)
}

/// An `ndmsg`: `(interface index, NUD state)`.
pub fn parse_neighbour(payload: &[u8]) -> Result<(u32, u16), NetlinkError> {
    let short = || NetlinkError::Malformed("short ndmsg");
    let header = payload.get(..NDMSG_LEN).ok_or_else(short)?;
    Ok((
        u32_at(header, 4).ok_or_else(short)?,
        u16_at(header, 8).ok_or_else(short)?,
    ))
}

/// The interface index of every IPv4 neighbour the kernel would list in `/proc/net/arp`
/// (it leaves `NUD_NOARP` entries out there, and so does this).
pub fn dump_ipv4_neighbour_indexes() -> Result<Vec<u32>, NetlinkError> {
    let mut indexes = Vec::new();
    let mut request = [0u8; NDMSG_LEN];
    request[0] = AF_INET;
    netlink::dump(
        libc::NETLINK_ROUTE,
        RTM_GETNEIGH,
        &request,
        |kind, payload| {
            if kind == RTM_NEWNEIGH {
                let (index, state) = parse_neighbour(payload)?;
                if state & NUD_NOARP == 0 {
                    indexes.push(index);
                }
            }
            Ok(())
        },
    )?;
    Ok(indexes)
}

/// One link's speed and duplex from ethtool's `LINKMODES_GET`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkMode {
    pub name: String,
    /// `None` when the reply has no speed attribute; `SPEED_UNKNOWN` stays `u32::MAX`.
    pub speed_megabits: Option<u32>,
    pub duplex: Option<u8>,
}

const ETHTOOL_MSG_LINKMODES_GET: u8 = 4;
const ETHTOOL_A_LINKMODES_HEADER: u16 = 1;
const ETHTOOL_A_LINKMODES_SPEED: u16 = 5;
const ETHTOOL_A_LINKMODES_DUPLEX: u16 = 6;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_HEADER_FLAGS: u16 = 3;
const ETHTOOL_FLAG_COMPACT_BITSETS: u32 = 1;
const GENL_HDRLEN: usize = 4;

/// A `LINKMODES_GET` reply (after the generic netlink header).
pub fn parse_link_mode(payload: &[u8]) -> LinkMode {
    let mut mode = LinkMode::default();
    for (kind, value) in attributes(payload.get(GENL_HDRLEN..).unwrap_or(&[])) {
        match kind {
            ETHTOOL_A_LINKMODES_HEADER => {
                if let Some((_, name)) =
                    attributes(value).find(|(kind, _)| *kind == ETHTOOL_A_HEADER_DEV_NAME)
                {
                    mode.name = c_string(name);
                }
            }
            ETHTOOL_A_LINKMODES_SPEED => mode.speed_megabits = u32_at(value, 0),
            ETHTOOL_A_LINKMODES_DUPLEX => mode.duplex = value.first().copied(),
            _ => {}
        }
    }
    mode
}

/// The link modes of every device with ethtool link settings; `Ok(None)` when the kernel has
/// no ethtool netlink family (before 5.6), as upstream's "interface unavailable".
pub fn dump_link_modes() -> Result<Option<Vec<LinkMode>>, NetlinkError> {
    let Some(family) = netlink::generic_family_id("ethtool")? else {
        return Ok(None);
    };
    // genlmsghdr (command, version 1), then a nested request header that names no device
    // (a dump) and asks for compact bitsets: the advertised modes are not used.
    let mut flags = Vec::new();
    flags.extend_from_slice(&8u16.to_ne_bytes());
    flags.extend_from_slice(&ETHTOOL_A_HEADER_FLAGS.to_ne_bytes());
    flags.extend_from_slice(&ETHTOOL_FLAG_COMPACT_BITSETS.to_ne_bytes());
    let mut body = vec![ETHTOOL_MSG_LINKMODES_GET, 1, 0, 0];
    body.extend_from_slice(&((4 + flags.len()) as u16).to_ne_bytes());
    body.extend_from_slice(&(ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED).to_ne_bytes());
    body.extend_from_slice(&flags);
    body.resize(align(body.len()), 0);
    let mut modes = Vec::new();
    netlink::dump(libc::NETLINK_GENERIC, family, &body, |kind, payload| {
        if kind == family {
            modes.push(parse_link_mode(payload));
        }
        Ok(())
    })?;
    Ok(Some(modes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        netlink::push_attribute(&mut out, kind, value);
        out
    }

    fn link_message() -> Vec<u8> {
        let mut message = vec![0u8; IFINFOMSG_LEN];
        message[2..4].copy_from_slice(&1u16.to_ne_bytes());
        message[4..8].copy_from_slice(&2u32.to_ne_bytes());
        message[8..12].copy_from_slice(&0x1003u32.to_ne_bytes());
        message.extend(attribute(IFLA_IFNAME, b"eth0\0"));
        message.extend(attribute(IFLA_ADDRESS, &[1, 2, 3, 4, 5, 6]));
        message.extend(attribute(IFLA_MTU, &1500u32.to_ne_bytes()));
        message.extend(attribute(IFLA_OPERSTATE, &[6]));
        message.extend(attribute(IFLA_IFALIAS, b"uplink\0"));
        message.extend(attribute(IFLA_CARRIER_CHANGES, &3u32.to_ne_bytes()));
        let alt = attribute(IFLA_ALT_IFNAME, b"enp0s1\0");
        message.extend(attribute(IFLA_PROP_LIST | NLA_F_NESTED, &alt));
        message
    }

    #[test]
    fn parses_a_link() {
        let link = parse_link_details(&link_message()).unwrap();
        assert_eq!(link.name, "eth0");
        assert_eq!((link.index, link.kind, link.flags), (2, 1, 0x1003));
        assert_eq!(link.mtu, 1500);
        assert_eq!(link.operstate, 6);
        assert_eq!(link.alias.as_deref(), Some("uplink"));
        assert_eq!(link.carrier_changes, 3);
        assert_eq!(link.alt_names, ["enp0s1"]);
        assert!(parse_link_details(&[0u8; 10]).is_err());
        assert!(parse_link_details(&[0u8; IFINFOMSG_LEN]).is_err());
    }

    #[test]
    fn parses_a_neighbour_and_a_link_mode() {
        let mut neighbour = vec![AF_INET, 0, 0, 0];
        neighbour.extend_from_slice(&7u32.to_ne_bytes());
        neighbour.extend_from_slice(&0x40u16.to_ne_bytes());
        neighbour.extend_from_slice(&[0, 1]);
        assert_eq!(parse_neighbour(&neighbour).unwrap(), (7, NUD_NOARP));
        assert!(parse_neighbour(&neighbour[..8]).is_err());

        let mut reply = vec![ETHTOOL_MSG_LINKMODES_GET, 1, 0, 0];
        let header = attribute(ETHTOOL_A_HEADER_DEV_NAME, b"eth0\0");
        reply.extend(attribute(
            ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED,
            &header,
        ));
        reply.extend(attribute(ETHTOOL_A_LINKMODES_SPEED, &1000u32.to_ne_bytes()));
        reply.extend(attribute(ETHTOOL_A_LINKMODES_DUPLEX, &[1]));
        let mode = parse_link_mode(&reply);
        assert_eq!(mode.name, "eth0");
        assert_eq!(mode.speed_megabits, Some(1000));
        assert_eq!(mode.duplex, Some(1));
    }

    #[test]
    fn live_dumps() {
        let links = dump_link_details().expect("RTM_GETLINK dump");
        assert!(links.iter().any(|l| l.name == "lo" && l.mtu > 0));
        dump_ipv4_neighbour_indexes().expect("RTM_GETNEIGH dump");
        // Kernels before 5.6 have no ethtool family: both answers are fine.
        dump_link_modes().expect("ethtool LINKMODES_GET dump");
    }

    proptest::proptest! {
        #[test]
        fn truncated_or_garbage_messages_never_panic(
            cut in 0usize..200,
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let message = link_message();
            let _ = parse_link_details(&message[..cut.min(message.len())]);
            let _ = parse_link_details(&garbage);
            let _ = parse_neighbour(&garbage);
            let _ = parse_link_mode(&garbage);
        }
    }
}
