//! `wifi`: `node_wifi_*` for every wireless interface, its BSS and its stations.
//!
//! With `--collector.wifi.fixtures=<dir>` it reads upstream's end-to-end fixtures as upstream
//! does: `<dir>/interfaces.json`, then `<dir>/<name>/bss.json` and
//! `<dir>/<name>/stationinfo.json` (JSON of mdlayher/wifi's types: field names matched
//! case-insensitively, hardware addresses base64-encoded bytes, durations in nanoseconds; a
//! missing per-interface file is skipped). Without it, the kernel is asked through generic
//! netlink (`crate::nl80211`): where the `nl80211` family does not exist (no wireless driver
//! loaded, as on servers and this VM) the collector reports no data, as upstream; otherwise every
//! named wireless interface, its associated BSS and its stations are read, as mdlayher/wifi
//! does for upstream.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use serde_json::{Map, Value};

use crate::collector::{Builder, Collector, CollectorError};
use crate::family_set::FamilySet;
use crate::netlink;
use crate::nl80211::{self, Bss, Interface, Station};

pub fn declare(set: &mut FlagSet) -> Builder {
    let fixtures = set.string(
        "collector.wifi.fixtures",
        "",
        "test fixtures to use for wifi collector metrics",
    );
    Box::new(move |context| {
        let fixtures = context.flags.get(fixtures);
        Ok(Box::new(Wifi {
            fixtures: (!fixtures.is_empty()).then(|| PathBuf::from(fixtures)),
        }))
    })
}

struct Wifi {
    fixtures: Option<PathBuf>,
}

/// Field lookup with Go's case-insensitive JSON matching.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

fn number(object: &Map<String, Value>, name: &str) -> Result<f64, String> {
    match field(object, name) {
        None => Ok(0.0),
        Some(value) => value
            .as_i64()
            .map(|v| v as f64)
            .or_else(|| value.as_u64().map(|v| v as f64))
            .ok_or_else(|| format!("{name}: {value} is not an integer")),
    }
}

fn text(object: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(object, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(value) => Err(format!("{name}: {value} is not a string")),
    }
}

/// A `net.HardwareAddr` as Go encodes it in JSON (base64 bytes) and prints it (`aa:bb:..`).
fn hardware_address(object: &Map<String, Value>, name: &str) -> Result<String, String> {
    let encoded = text(object, name)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|err| format!("{name}: {err}"))?;
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn objects(value: Value) -> Result<Vec<Map<String, Value>>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) => Ok(object),
                Value::Null => Ok(Map::new()),
                _ => Err("array element is not an object".to_owned()),
            })
            .collect(),
        _ => Err("not a JSON array".to_owned()),
    }
}

/// A fixture file: `Ok(None)` when it does not exist.
fn read_json(path: &Path) -> Result<Option<Value>, CollectorError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| CollectorError::parse(path, err.to_string())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

/// How a JSON field becomes the series' value.
#[derive(Clone, Copy)]
enum Unit {
    Plain,
    /// A Go `time.Duration` in nanoseconds, to seconds as `Duration.Seconds` computes it.
    Nanoseconds,
}

impl Unit {
    fn apply(self, value: f64) -> f64 {
        match self {
            Unit::Plain => value,
            Unit::Nanoseconds => {
                let nanos = value as i64;
                (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
            }
        }
    }
}

/// A station's series: metric, help, type, the JSON field and its unit.
static STATION: &[(&str, &str, MetricType, &str, Unit)] = &[
    (
        "station_connected_seconds_total",
        "The total number of seconds a station has been connected to an access point.",
        MetricType::Counter,
        "Connected",
        Unit::Nanoseconds,
    ),
    (
        "station_inactive_seconds",
        "The number of seconds since any wireless activity has occurred on a station.",
        MetricType::Gauge,
        "Inactive",
        Unit::Nanoseconds,
    ),
    (
        "station_receive_bits_per_second",
        "The current WiFi receive bitrate of a station, in bits per second.",
        MetricType::Gauge,
        "ReceiveBitrate",
        Unit::Plain,
    ),
    (
        "station_transmit_bits_per_second",
        "The current WiFi transmit bitrate of a station, in bits per second.",
        MetricType::Gauge,
        "TransmitBitrate",
        Unit::Plain,
    ),
    (
        "station_receive_bytes_total",
        "The total number of bytes received by a WiFi station.",
        MetricType::Counter,
        "ReceivedBytes",
        Unit::Plain,
    ),
    (
        "station_transmit_bytes_total",
        "The total number of bytes transmitted by a WiFi station.",
        MetricType::Counter,
        "TransmittedBytes",
        Unit::Plain,
    ),
    (
        "station_signal_dbm",
        "The current WiFi signal strength, in decibel-milliwatts (dBm).",
        MetricType::Gauge,
        "Signal",
        Unit::Plain,
    ),
    (
        "station_transmit_retries_total",
        "The total number of times a station has had to retry while sending a packet.",
        MetricType::Counter,
        "TransmitRetries",
        Unit::Plain,
    ),
    (
        "station_transmit_failed_total",
        "The total number of times a station has failed to send a packet.",
        MetricType::Counter,
        "TransmitFailed",
        Unit::Plain,
    ),
    (
        "station_beacon_loss_total",
        "The total number of times a station has detected a beacon loss.",
        MetricType::Counter,
        "BeaconLoss",
        Unit::Plain,
    ),
    (
        "station_transmitted_packets_total",
        "The total number of packets transmitted by a station.",
        MetricType::Counter,
        "TransmittedPackets",
        Unit::Plain,
    ),
    (
        "station_received_packets_total",
        "The total number of packets received by a station.",
        MetricType::Counter,
        "ReceivedPackets",
        Unit::Plain,
    ),
];

/// mdlayher/wifi's `BSSStatus`: authenticated 0, associated 1, IBSS joined 2.
fn mode(status: f64) -> &'static str {
    match status as i64 {
        0 | 1 => "client",
        2 => "ad-hoc",
        _ => "unknown",
    }
}

/// Turns a fixture's parse error into the collector's error, naming the file.
fn bad(path: &Path) -> impl Fn(String) -> CollectorError + '_ {
    move |reason| CollectorError::parse(path, reason)
}

fn from_fixtures(dir: &Path, out: &mut FamilySet) -> Result<(), CollectorError> {
    let path = dir.join("interfaces.json");
    let Some(interfaces) = read_json(&path)? else {
        tracing::debug!("wifi collector metrics are not available for this system");
        return Err(CollectorError::NoData);
    };
    for interface in objects(interfaces).map_err(bad(&path))? {
        let name = text(&interface, "Name").map_err(bad(&path))?;
        // Virtual devices without a name are skipped, as upstream.
        if name.is_empty() {
            continue;
        }
        let frequency = number(&interface, "Frequency").map_err(bad(&path))?;
        out.push(
            "interface_frequency_hertz",
            "The current frequency a WiFi interface is operating at, in hertz.",
            MetricType::Gauge,
            &[("device", &name)],
            frequency * 1e6,
        );
        let bss_path = dir.join(&name).join("bss.json");
        match read_json(&bss_path)? {
            Some(Value::Object(bss)) => {
                let bssid = hardware_address(&bss, "BSSID").map_err(bad(&bss_path))?;
                let ssid = text(&bss, "SSID").map_err(bad(&bss_path))?;
                let status = number(&bss, "Status").map_err(bad(&bss_path))?;
                out.push(
                    "station_info",
                    "Labeled WiFi interface station information as provided by the operating system.",
                    MetricType::Gauge,
                    &[("device", &name), ("bssid", &bssid), ("ssid", &ssid), ("mode", mode(status))],
                    1.0,
                );
            }
            Some(_) => return Err(CollectorError::parse(&bss_path, "not a JSON object")),
            None => tracing::debug!(name, "BSS information not found for wifi device"),
        }
        let stations_path = dir.join(&name).join("stationinfo.json");
        let Some(stations) = read_json(&stations_path)? else {
            tracing::debug!(name, "station information not found for wifi device");
            continue;
        };
        for station in objects(stations).map_err(bad(&stations_path))? {
            let mac = hardware_address(&station, "HardwareAddr").map_err(bad(&stations_path))?;
            let labels = [("device", name.as_str()), ("mac_address", mac.as_str())];
            for (metric, help, kind, json, unit) in STATION {
                let value = number(&station, json).map_err(bad(&stations_path))?;
                out.push(metric, help, *kind, &labels, unit.apply(value));
            }
        }
    }
    Ok(())
}

/// Go's `Duration.Seconds` of a duration in nanoseconds.
fn go_seconds(nanos: u64) -> f64 {
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// A `net.HardwareAddr` as Go prints it.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A station's values in the order of [`STATION`], already in the exported units.
fn station_values(station: &Station) -> [f64; 12] {
    [
        go_seconds(u64::from(station.connected_seconds) * 1_000_000_000),
        go_seconds(u64::from(station.inactive_milliseconds) * 1_000_000),
        station.receive_bitrate as f64,
        station.transmit_bitrate as f64,
        station.received_bytes as f64,
        station.transmitted_bytes as f64,
        f64::from(station.signal),
        f64::from(station.transmit_retries),
        f64::from(station.transmit_failed),
        f64::from(station.beacon_loss),
        f64::from(station.transmitted_packets),
        f64::from(station.received_packets),
    ]
}

/// One interface's series from what the kernel said about it.
fn push_interface(
    out: &mut FamilySet,
    interface: &Interface,
    bss: Option<&Bss>,
    stations: Option<&[Station]>,
) {
    let name = interface.name.as_str();
    out.push(
        "interface_frequency_hertz",
        "The current frequency a WiFi interface is operating at, in hertz.",
        MetricType::Gauge,
        &[("device", name)],
        f64::from(interface.frequency) * 1e6,
    );
    match bss {
        Some(bss) => out.push(
            "station_info",
            "Labeled WiFi interface station information as provided by the operating system.",
            MetricType::Gauge,
            &[
                ("device", name),
                ("bssid", &colon_hex(&bss.bssid)),
                ("ssid", &bss.ssid),
                ("mode", mode(f64::from(bss.status))),
            ],
            1.0,
        ),
        None => tracing::debug!(name, "BSS information not found for wifi device"),
    }
    let Some(stations) = stations else {
        tracing::debug!(name, "station information not found for wifi device");
        return;
    };
    for station in stations {
        let mac = colon_hex(&station.mac);
        let labels = [("device", name), ("mac_address", mac.as_str())];
        for ((metric, help, kind, _, _), value) in STATION.iter().zip(station_values(station)) {
            out.push(metric, help, *kind, &labels, value);
        }
    }
}

/// The real host, through nl80211.
fn from_kernel(out: &mut FamilySet) -> Result<(), CollectorError> {
    let family = match netlink::generic_family_id("nl80211") {
        Ok(Some(family)) => family,
        Ok(None) => {
            tracing::debug!("wifi collector metrics are not available for this system");
            return Err(CollectorError::NoData);
        }
        Err(netlink::NetlinkError::Io(err) | netlink::NetlinkError::Kernel(err))
            if err.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            tracing::debug!("wifi collector got permission denied when accessing metrics");
            return Err(CollectorError::NoData);
        }
        Err(err) => {
            return Err(CollectorError::Other(format!(
                "failed to access wifi data: {err}"
            )));
        }
    };
    let interfaces = nl80211::interfaces(family).map_err(|err| {
        CollectorError::Other(format!("failed to retrieve wifi interfaces: {err}"))
    })?;
    // Virtual devices without a name are skipped, as upstream.
    for interface in interfaces.iter().filter(|i| !i.name.is_empty()) {
        let name = &interface.name;
        let bss = nl80211::bss(family, interface).map_err(|err| {
            CollectorError::Other(format!("failed to retrieve BSS for device {name}: {err}"))
        })?;
        let stations = nl80211::stations(family, interface).map_err(|err| {
            CollectorError::Other(format!(
                "failed to retrieve station info for device {name:?}: {err}"
            ))
        })?;
        push_interface(out, interface, bss.as_ref(), stations.as_deref());
    }
    Ok(())
}

impl Collector for Wifi {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut families = FamilySet::new("node_wifi_");
        // Series gathered before a failure are still exported, as upstream's channel does.
        let result = match &self.fixtures {
            Some(dir) => from_fixtures(dir, &mut families),
            None => from_kernel(&mut families),
        };
        out.extend(families.families);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_upstream_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "interfaces.json",
            r#"[{"name": "wlan0", "frequency": 2412}, {"name": "wlan1"}, {"type": 10}]"#,
        );
        write(
            dir.path(),
            "wlan0/bss.json",
            r#"{"ssid": "Example", "bssid": "ABEiM0RV", "status": 1}"#,
        );
        write(
            dir.path(),
            "wlan0/stationinfo.json",
            r#"[{"hardwareaddr": "AQIDBAUG", "connected": 60000000000, "signal": -26}]"#,
        );
        let collector = Wifi {
            fixtures: Some(dir.path().to_path_buf()),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let family = |name: &str| {
            out.iter()
                .find(|f| f.name == format!("node_wifi_{name}"))
                .unwrap()
        };
        assert_eq!(family("interface_frequency_hertz").samples.len(), 2);
        assert_eq!(
            family("interface_frequency_hertz").samples[0].value,
            2.412e9
        );
        let info = &family("station_info").samples[0];
        assert!(
            info.labels
                .contains(&("bssid".into(), "00:11:22:33:44:55".into()))
        );
        assert!(info.labels.contains(&("mode".into(), "client".into())));
        let connected = &family("station_connected_seconds_total").samples[0];
        assert_eq!(connected.value, 60.0);
        assert!(
            connected
                .labels
                .contains(&("mac_address".into(), "01:02:03:04:05:06".into()))
        );
        assert_eq!(family("station_signal_dbm").samples[0].value, -26.0);
        write(
            dir.path(),
            "wlan0/stationinfo.json",
            r#"[{"hardwareaddr": "!!"}]"#,
        );
        assert!(collector.update(&mut Vec::new()).is_err());
        let empty = Wifi {
            fixtures: Some(dir.path().join("none")),
        };
        assert!(matches!(
            empty.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    #[test]
    fn kernel_replies_become_upstream_series() {
        let interface = Interface {
            index: 3,
            name: "wlan0".into(),
            mac: vec![0, 1, 2, 3, 4, 5],
            frequency: 2412,
        };
        let bss = Bss {
            bssid: vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            ssid: "Example".into(),
            status: 1,
        };
        let station = Station {
            mac: vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            connected_seconds: 30,
            inactive_milliseconds: 1234,
            received_bytes: 10,
            transmitted_bytes: 20,
            signal: -52,
            received_packets: 1,
            transmitted_packets: 2,
            transmit_retries: 3,
            transmit_failed: 4,
            beacon_loss: 5,
            receive_bitrate: 54_000_000,
            transmit_bitrate: 144_500_000,
        };
        let mut families = FamilySet::new("node_wifi_");
        push_interface(&mut families, &interface, Some(&bss), Some(&[station]));
        let got = crate::collectors::testing::lines(&families.families, "/nonexistent");
        let station = "device=wlan0,mac_address=aa:bb:cc:dd:ee:ff";
        let mut expected = vec![
            "node_wifi_interface_frequency_hertz device=wlan0 2412000000".to_owned(),
            "node_wifi_station_info bssid=00:11:22:33:44:55,device=wlan0,mode=client,ssid=Example 1".to_owned(),
        ];
        for (name, value) in [
            ("connected_seconds_total", "30"),
            ("inactive_seconds", "1.234"),
            ("receive_bits_per_second", "54000000"),
            ("transmit_bits_per_second", "144500000"),
            ("receive_bytes_total", "10"),
            ("transmit_bytes_total", "20"),
            ("signal_dbm", "-52"),
            ("transmit_retries_total", "3"),
            ("transmit_failed_total", "4"),
            ("beacon_loss_total", "5"),
            ("transmitted_packets_total", "2"),
            ("received_packets_total", "1"),
        ] {
            expected.push(format!("node_wifi_station_{name} {station} {value}"));
        }
        expected.sort();
        assert_eq!(got, expected);
        // Without BSS and stations: only the frequency.
        let mut families = FamilySet::new("node_wifi_");
        push_interface(&mut families, &interface, None, None);
        assert_eq!(families.families.len(), 1);
    }

    #[test]
    fn live_host_without_wireless_has_no_data() {
        if netlink::generic_family_id("nl80211").unwrap().is_some() {
            return; // a host with wireless: the test is about hosts without it
        }
        let collector = Wifi { fixtures: None };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_fixtures_never_panic(text in "\\PC{0,80}") {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "interfaces.json", &text);
            write(dir.path(), "wlan0/stationinfo.json", &text);
            write(dir.path(), "wlan0/bss.json", &text);
            let _ = from_fixtures(dir.path(), &mut FamilySet::new("node_wifi_"));
            write(dir.path(), "interfaces.json", r#"[{"name":"wlan0"}]"#);
            let _ = from_fixtures(dir.path(), &mut FamilySet::new("node_wifi_"));
        }
    }
}
