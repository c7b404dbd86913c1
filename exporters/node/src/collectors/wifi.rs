//! `wifi`: `node_wifi_*` for every wireless interface, its BSS and its stations.
//!
//! With `--collector.wifi.fixtures=<dir>` it reads upstream's end-to-end fixtures as upstream
//! does: `<dir>/interfaces.json`, then `<dir>/<name>/bss.json` and
//! `<dir>/<name>/stationinfo.json` (JSON of mdlayher/wifi's types: field names matched
//! case-insensitively, hardware addresses base64-encoded bytes, durations in nanoseconds; a
//! missing per-interface file is skipped). Without it, the host is asked through generic netlink
//! whether `nl80211` exists; where it does not (no wireless driver loaded, as on servers and
//! this VM) the collector reports no data, as upstream. Reading a real nl80211 interface and
//! station dump is not implemented yet: on a host with wireless the collector fails with a
//! clear error rather than export partial data.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use serde_json::{Map, Value};

use crate::collector::{Builder, Collector, CollectorError};
use crate::netlink;

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

/// The families, created on first use.
#[derive(Default)]
struct Families(Vec<MetricFamily>);

impl Families {
    fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let full = format!("node_wifi_{name}");
        match self.0.iter_mut().find(|family| family.name == full) {
            Some(family) => family.push(labels, value),
            None => self
                .0
                .push(MetricFamily::new(full, help, kind).with(labels, value)),
        }
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

fn from_fixtures(dir: &Path, out: &mut Families) -> Result<(), CollectorError> {
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

impl Collector for Wifi {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut families = Families::default();
        match &self.fixtures {
            Some(dir) => from_fixtures(dir, &mut families)?,
            None => {
                let present = netlink::generic_family_exists("nl80211").map_err(|err| {
                    CollectorError::Other(format!("failed to access wifi data: {err}"))
                })?;
                if !present {
                    tracing::debug!("wifi collector metrics are not available for this system");
                    return Err(CollectorError::NoData);
                }
                return Err(CollectorError::Other(
                    "nl80211 is present, but reading wireless interfaces over nl80211 is not implemented by octo-node-exporter yet".into(),
                ));
            }
        }
        out.extend(families.0);
        Ok(())
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
    fn live_host_without_wireless_has_no_data() {
        if netlink::generic_family_exists("nl80211").unwrap() {
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
            let _ = from_fixtures(dir.path(), &mut Families::default());
            write(dir.path(), "interfaces.json", r#"[{"name":"wlan0"}]"#);
            let _ = from_fixtures(dir.path(), &mut Families::default());
        }
    }
}
