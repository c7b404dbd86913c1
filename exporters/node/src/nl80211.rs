//! The nl80211 reads upstream's `wifi` collector makes through mdlayher/wifi: the wireless
//! interfaces (`NL80211_CMD_GET_INTERFACE`), the BSS an interface is associated with
//! (`NL80211_CMD_GET_SCAN`, the entry carrying `NL80211_BSS_STATUS`) and its stations
//! (`NL80211_CMD_GET_STATION`), over generic netlink through the kit's `netlink`.
//!
//! Parsing works on the attribute bytes with bounds checks: a short attribute is an error, never
//! a panic (mdlayher/wifi would index past the end).

use octo_exporter_kit::netlink::{
    self, NetlinkError, attributes, push_attribute, u16_at, u32_at, u64_at,
};

const CMD_GET_INTERFACE: u8 = 5;
const CMD_GET_STATION: u8 = 17;
const CMD_GET_SCAN: u8 = 32;
const ATTR_IFINDEX: u16 = 3;
const ATTR_IFNAME: u16 = 4;
const ATTR_MAC: u16 = 6;
const ATTR_STA_INFO: u16 = 21;
const ATTR_WIPHY_FREQ: u16 = 38;
const ATTR_BSS: u16 = 47;
const BSS_BSSID: u16 = 1;
const BSS_INFORMATION_ELEMENTS: u16 = 6;
const BSS_STATUS: u16 = 9;
const STA_INACTIVE_TIME: u16 = 1;
const STA_RX_BYTES: u16 = 2;
const STA_TX_BYTES: u16 = 3;
const STA_SIGNAL: u16 = 7;
const STA_TX_BITRATE: u16 = 8;
const STA_RX_PACKETS: u16 = 9;
const STA_TX_PACKETS: u16 = 10;
const STA_TX_RETRIES: u16 = 11;
const STA_TX_FAILED: u16 = 12;
const STA_RX_BITRATE: u16 = 14;
const STA_CONNECTED_TIME: u16 = 16;
const STA_BEACON_LOSS: u16 = 18;
const STA_RX_BYTES64: u16 = 23;
const STA_TX_BYTES64: u16 = 24;
const RATE_BITRATE: u16 = 1;
const RATE_BITRATE32: u16 = 5;
/// The SSID information element.
const IE_SSID: u8 = 0;

/// A wireless interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub mac: Vec<u8>,
    /// MHz.
    pub frequency: u32,
}

/// The BSS an interface is associated with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bss {
    pub bssid: Vec<u8>,
    pub ssid: String,
    /// `NL80211_BSS_STATUS`: authenticated 0, associated 1, IBSS joined 2.
    pub status: u32,
}

/// One station of an interface, in the kernel's units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Station {
    pub mac: Vec<u8>,
    pub connected_seconds: u32,
    pub inactive_milliseconds: u32,
    pub received_bytes: u64,
    pub transmitted_bytes: u64,
    /// dBm.
    pub signal: i8,
    pub received_packets: u32,
    pub transmitted_packets: u32,
    pub transmit_retries: u32,
    pub transmit_failed: u32,
    pub beacon_loss: u32,
    /// Bits per second.
    pub receive_bitrate: u64,
    pub transmit_bitrate: u64,
}

fn short(what: &'static str) -> NetlinkError {
    NetlinkError::Malformed(what)
}

fn u32_value(value: &[u8]) -> Result<u32, NetlinkError> {
    u32_at(value, 0).ok_or(short("short nl80211 attribute"))
}

/// A NUL-terminated string attribute.
fn string(value: &[u8]) -> String {
    let bytes = value.split(|&b| b == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(bytes).into_owned()
}

/// An SSID as Go's rune-by-rune decoding makes it: each invalid byte becomes U+FFFD.
fn ssid(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('\u{fffd}', chunk.invalid().len()));
    }
    out
}

/// The request attributes naming an interface: its index and, when known, its address.
fn interface_request(interface: &Interface) -> Vec<u8> {
    let mut request = Vec::new();
    push_attribute(&mut request, ATTR_IFINDEX, &interface.index.to_ne_bytes());
    if !interface.mac.is_empty() {
        push_attribute(&mut request, ATTR_MAC, &interface.mac);
    }
    request
}

/// A "no such entry" answer (`ENOENT`) is `None`, as mdlayher/wifi's `os.ErrNotExist`.
fn not_found_as_none<T>(result: Result<T, NetlinkError>) -> Result<Option<T>, NetlinkError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(NetlinkError::Kernel(err)) if err.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(err) => Err(err),
    }
}

pub fn interfaces(family: u16) -> Result<Vec<Interface>, NetlinkError> {
    let mut interfaces = Vec::new();
    netlink::generic_dump(family, CMD_GET_INTERFACE, &[], |message| {
        interfaces.push(parse_interface(message)?);
        Ok(())
    })?;
    Ok(interfaces)
}

/// The associated BSS; `None` when the interface has none.
pub fn bss(family: u16, interface: &Interface) -> Result<Option<Bss>, NetlinkError> {
    let mut found = None;
    let result = netlink::generic_dump(
        family,
        CMD_GET_SCAN,
        &interface_request(interface),
        |message| {
            if found.is_none() {
                found = parse_scan_entry(message)?;
            }
            Ok(())
        },
    );
    Ok(not_found_as_none(result)?.and(found))
}

/// The stations; `None` when the interface has none to report or a reply lacks station
/// information (mdlayher/wifi's "not exist").
pub fn stations(family: u16, interface: &Interface) -> Result<Option<Vec<Station>>, NetlinkError> {
    let mut stations = Vec::new();
    let mut complete = true;
    let result = netlink::generic_dump(
        family,
        CMD_GET_STATION,
        &interface_request(interface),
        |message| {
            match parse_station(message)? {
                Some(station) => stations.push(station),
                None => complete = false,
            }
            Ok(())
        },
    );
    Ok(not_found_as_none(result)?
        .filter(|_| complete)
        .map(|_| stations))
}

pub(crate) fn parse_interface(message: &[u8]) -> Result<Interface, NetlinkError> {
    let mut interface = Interface::default();
    for (kind, value) in attributes(message) {
        match kind {
            ATTR_IFINDEX => interface.index = u32_value(value)?,
            ATTR_IFNAME => interface.name = string(value),
            ATTR_MAC => interface.mac = value.to_vec(),
            ATTR_WIPHY_FREQ => interface.frequency = u32_value(value)?,
            _ => {}
        }
    }
    Ok(interface)
}

/// A scan entry: its BSS when it carries a status (the one the interface is associated with).
pub(crate) fn parse_scan_entry(message: &[u8]) -> Result<Option<Bss>, NetlinkError> {
    for (kind, value) in attributes(message) {
        if kind != ATTR_BSS || !attributes(value).any(|(nested, _)| nested == BSS_STATUS) {
            continue;
        }
        let mut bss = Bss::default();
        for (nested, data) in attributes(value) {
            match nested {
                BSS_BSSID => bss.bssid = data.to_vec(),
                BSS_STATUS => bss.status = u32_value(data)?,
                BSS_INFORMATION_ELEMENTS => {
                    for (id, element) in information_elements(data)? {
                        if id == IE_SSID {
                            bss.ssid = ssid(element);
                        }
                    }
                }
                _ => {}
            }
        }
        return Ok(Some(bss));
    }
    Ok(None)
}

/// 802.11 information elements: id, length, data; a truncated one is an error.
fn information_elements(mut data: &[u8]) -> Result<Vec<(u8, &[u8])>, NetlinkError> {
    let mut elements = Vec::new();
    while !data.is_empty() {
        let [id, len, rest @ ..] = data else {
            return Err(short("truncated information element"));
        };
        let len = usize::from(*len);
        let element = rest
            .get(..len)
            .ok_or(short("truncated information element"))?;
        elements.push((*id, element));
        data = &rest[len..];
    }
    Ok(elements)
}

/// A station message: `None` without `NL80211_ATTR_STA_INFO`.
pub(crate) fn parse_station(message: &[u8]) -> Result<Option<Station>, NetlinkError> {
    let mut station = Station::default();
    for (kind, value) in attributes(message) {
        match kind {
            ATTR_MAC => station.mac = value.to_vec(),
            ATTR_STA_INFO => {
                station_info(&mut station, value)?;
                return Ok(Some(station));
            }
            _ => {}
        }
    }
    Ok(None)
}

fn station_info(station: &mut Station, data: &[u8]) -> Result<(), NetlinkError> {
    for (kind, value) in attributes(data) {
        match kind {
            STA_CONNECTED_TIME => station.connected_seconds = u32_value(value)?,
            STA_INACTIVE_TIME => station.inactive_milliseconds = u32_value(value)?,
            STA_RX_BYTES64 => {
                station.received_bytes = u64_at(value, 0).ok_or(short("short rx bytes"))?
            }
            STA_TX_BYTES64 => {
                station.transmitted_bytes = u64_at(value, 0).ok_or(short("short tx bytes"))?
            }
            // The 32-bit counters only where the 64-bit ones are absent (or zero so far).
            STA_RX_BYTES if station.received_bytes == 0 => {
                station.received_bytes = u64::from(u32_value(value)?)
            }
            STA_TX_BYTES if station.transmitted_bytes == 0 => {
                station.transmitted_bytes = u64::from(u32_value(value)?)
            }
            STA_SIGNAL => {
                let byte = *value.first().ok_or(short("short signal"))?;
                station.signal = i8::from_ne_bytes([byte]);
            }
            STA_RX_PACKETS => station.received_packets = u32_value(value)?,
            STA_TX_PACKETS => station.transmitted_packets = u32_value(value)?,
            STA_TX_RETRIES => station.transmit_retries = u32_value(value)?,
            STA_TX_FAILED => station.transmit_failed = u32_value(value)?,
            STA_BEACON_LOSS => station.beacon_loss = u32_value(value)?,
            STA_RX_BITRATE => station.receive_bitrate = bitrate(value)?,
            STA_TX_BITRATE => station.transmit_bitrate = bitrate(value)?,
            _ => {}
        }
    }
    Ok(())
}

/// A nested rate: the 32-bit bitrate, else the 16-bit one, in 100 kbit/s, to bits per second.
fn bitrate(data: &[u8]) -> Result<u64, NetlinkError> {
    let mut rate = 0u64;
    for (kind, value) in attributes(data) {
        match kind {
            RATE_BITRATE32 => rate = u64::from(u32_value(value)?),
            RATE_BITRATE if rate == 0 => {
                rate = u64::from(u16_at(value, 0).ok_or(short("short bitrate"))?)
            }
            _ => {}
        }
    }
    Ok(rate * 100_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(parts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, value) in parts {
            push_attribute(&mut out, *kind, value);
        }
        out
    }

    pub(crate) fn interface_message() -> Vec<u8> {
        nested(&[
            (ATTR_IFINDEX, 3u32.to_ne_bytes().to_vec()),
            (ATTR_IFNAME, b"wlan0\0".to_vec()),
            (ATTR_MAC, vec![0, 1, 2, 3, 4, 5]),
            (ATTR_WIPHY_FREQ, 2412u32.to_ne_bytes().to_vec()),
        ])
    }

    pub(crate) fn scan_message(status: bool) -> Vec<u8> {
        let mut ies = vec![IE_SSID, 8];
        ies.extend_from_slice(b"Ex\xffample");
        ies.extend_from_slice(&[3, 1, 6]); // DS parameter set: channel 6
        let mut bss = vec![
            (BSS_BSSID, vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55]),
            (BSS_INFORMATION_ELEMENTS, ies),
        ];
        if status {
            bss.push((BSS_STATUS, 1u32.to_ne_bytes().to_vec()));
        }
        nested(&[
            (ATTR_IFINDEX, 3u32.to_ne_bytes().to_vec()),
            (ATTR_BSS, nested(&bss)),
        ])
    }

    pub(crate) fn station_message() -> Vec<u8> {
        let rate = |r32: Option<u32>, r16: u16| {
            let mut parts = vec![(RATE_BITRATE, r16.to_ne_bytes().to_vec())];
            if let Some(r32) = r32 {
                parts.push((RATE_BITRATE32, r32.to_ne_bytes().to_vec()));
            }
            nested(&parts)
        };
        let info = nested(&[
            (STA_INACTIVE_TIME, 1234u32.to_ne_bytes().to_vec()),
            (STA_RX_BYTES, 7u32.to_ne_bytes().to_vec()),
            (STA_RX_BYTES64, (1u64 << 33).to_ne_bytes().to_vec()),
            (STA_TX_BYTES, 9u32.to_ne_bytes().to_vec()),
            (STA_SIGNAL, vec![(-52i8).to_ne_bytes()[0], 0, 0, 0]),
            (STA_TX_BITRATE, rate(Some(1445), 1)),
            (STA_RX_PACKETS, 100u32.to_ne_bytes().to_vec()),
            (STA_TX_PACKETS, 200u32.to_ne_bytes().to_vec()),
            (STA_TX_RETRIES, 3u32.to_ne_bytes().to_vec()),
            (STA_TX_FAILED, 4u32.to_ne_bytes().to_vec()),
            (STA_RX_BITRATE, rate(None, 540)),
            (STA_CONNECTED_TIME, 30u32.to_ne_bytes().to_vec()),
            (STA_BEACON_LOSS, 5u32.to_ne_bytes().to_vec()),
        ]);
        nested(&[
            (ATTR_IFINDEX, 3u32.to_ne_bytes().to_vec()),
            (ATTR_MAC, vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
            (ATTR_STA_INFO | 0x8000, info), // NLA_F_NESTED, as the kernel sets it
        ])
    }

    #[test]
    fn parses_kernel_messages() {
        assert_eq!(
            parse_interface(&interface_message()).unwrap(),
            Interface {
                index: 3,
                name: "wlan0".into(),
                mac: vec![0, 1, 2, 3, 4, 5],
                frequency: 2412
            }
        );
        assert_eq!(parse_scan_entry(&scan_message(false)).unwrap(), None);
        assert_eq!(
            parse_scan_entry(&scan_message(true)).unwrap(),
            Some(Bss {
                bssid: vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
                ssid: "Ex\u{fffd}ample".into(),
                status: 1
            })
        );
        assert_eq!(
            parse_station(&station_message()).unwrap(),
            Some(Station {
                mac: vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
                connected_seconds: 30,
                inactive_milliseconds: 1234,
                received_bytes: 1 << 33,
                transmitted_bytes: 9,
                signal: -52,
                received_packets: 100,
                transmitted_packets: 200,
                transmit_retries: 3,
                transmit_failed: 4,
                beacon_loss: 5,
                receive_bitrate: 54_000_000,
                transmit_bitrate: 144_500_000,
            })
        );
        // A station message without station information.
        assert_eq!(parse_station(&interface_message()).unwrap(), None);
        // A short u32 is an error, not a panic.
        let bad = nested(&[(ATTR_IFINDEX, vec![1, 2])]);
        assert!(parse_interface(&bad).is_err());
        assert_eq!(ssid(b"\xe2\x82a"), "\u{fffd}\u{fffd}a");
    }

    #[test]
    fn live_host_without_nl80211() {
        // This VM has no wireless driver; where one is loaded the family has an id.
        let id = netlink::generic_family_id("nl80211").unwrap();
        if let Some(id) = id {
            let interfaces = interfaces(id).unwrap();
            for interface in &interfaces {
                let _ = bss(id, interface).unwrap();
                let _ = stations(id, interface).unwrap();
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn truncated_or_garbage_messages_never_panic(
            cut in 0usize..300,
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            for message in [interface_message(), scan_message(true), station_message()] {
                let part = &message[..cut.min(message.len())];
                let _ = parse_interface(part);
                let _ = parse_scan_entry(part);
                let _ = parse_station(part);
            }
            let _ = parse_interface(&garbage);
            let _ = parse_scan_entry(&garbage);
            let _ = parse_station(&garbage);
        }
    }
}
