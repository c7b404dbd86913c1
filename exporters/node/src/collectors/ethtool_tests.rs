use std::path::{Path, PathBuf};

use super::*;
use crate::collectors::testing::lines;

/// Upstream's ethtool fixtures, read in place.
fn fixtures() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/node_exporter/fixtures/ethtool");
    if path.is_dir() {
        return Some(path);
    }
    if std::env::var("OCTO_SKIP_SHARED_FIXTURES").as_deref() == Ok("1") {
        eprintln!("skipping: {} is absent", path.display());
        return None;
    }
    panic!(
        "node_exporter's ethtool fixtures are expected at {} (set OCTO_SKIP_SHARED_FIXTURES=1 to skip deliberately)",
        path.display()
    );
}

/// Upstream's test double: `ethtool -i`, `ethtool` and `ethtool -S` text per device; a missing
/// file is `EOPNOTSUPP`, an `ERROR: <errno>` statistics line that errno.
struct Fixtures(PathBuf);

impl Fixtures {
    fn read(&self, device: &str, file: &str) -> io::Result<String> {
        std::fs::read_to_string(self.0.join(device).join(file)).map_err(|err| {
            if err.kind() == io::ErrorKind::NotFound {
                io::Error::from_raw_os_error(libc::EOPNOTSUPP)
            } else {
                err
            }
        })
    }
}

fn modes(text: &str) -> u32 {
    let bits = [
        ("10baseT/Half", 0),
        ("10baseT/Full", 1),
        ("100baseT/Half", 2),
        ("100baseT/Full", 3),
        ("1000baseT/Half", 4),
        ("1000baseT/Full", 5),
        ("10000baseT/Full", 12),
    ];
    text.split(' ')
        .filter_map(|mode| bits.iter().find(|(name, _)| *name == mode))
        .fold(0, |acc, (_, bit)| acc | 1 << bit)
}

fn pause(value: &str) -> u32 {
    match value {
        "Symmetric" => 1 << PAUSE_BIT,
        "Receive-only" => 1 << ASYM_PAUSE_BIT,
        _ => 0,
    }
}

impl Source for Fixtures {
    fn driver_info(&self, device: &str) -> io::Result<DriverInfo> {
        let mut info = DriverInfo::default();
        for line in self.read(device, "driver")?.lines() {
            let Some((key, value)) = line.trim_matches(' ').split_once(": ") else {
                continue;
            };
            let slot = match key {
                "driver" => &mut info.driver,
                "version" => &mut info.version,
                "firmware-version" => &mut info.firmware_version,
                "bus-info" => &mut info.bus_info,
                "expansion-rom-version" => &mut info.expansion_rom_version,
                _ => continue,
            };
            *slot = value.to_owned();
        }
        Ok(info)
    }

    fn stats(&self, device: &str) -> io::Result<Vec<(String, u64)>> {
        let mut stats = Vec::new();
        for line in self.read(device, "statistics")?.lines() {
            if line.starts_with('#') || line.starts_with("NIC statistics:") {
                continue;
            }
            let (key, value) = line
                .trim_matches(' ')
                .split_once(": ")
                .ok_or_else(|| io::Error::other("bad statistics line"))?;
            let value: u64 = value.parse().map_err(io::Error::other)?;
            if key == "ERROR" {
                return Err(io::Error::from_raw_os_error(value as i32));
            }
            stats.push((key.to_owned(), value));
        }
        Ok(stats)
    }

    fn link_settings(&self, device: &str) -> io::Result<LinkSettings> {
        let mut link = LinkSettings::default();
        let mut continuing: Option<bool> = None; // Some(true): advertised, Some(false): supported
        for line in self.read(device, "settings")?.lines() {
            if line.starts_with('#') || line.starts_with("Settings for") {
                continue;
            }
            let line = line.trim_matches([' ', '\t']);
            if line.contains(':') {
                continuing = None;
            }
            match continuing {
                Some(true) => link.advertising |= modes(line),
                Some(false) => link.supported |= modes(line),
                None => {}
            }
            if continuing.is_some() {
                continue;
            }
            let (key, value) = line.split_once(": ").unwrap_or((line, ""));
            match key {
                "Supported pause frame use" => link.supported |= pause(value),
                "Advertised pause frame use" => link.advertising |= pause(value),
                "Supported ports" => {
                    for port in value.split(' ').map(|p| p.trim_matches([' ', '\t'])) {
                        match port {
                            "TP" => link.supported |= 1 << 7,
                            "MII" => link.supported |= 1 << 9,
                            _ => {}
                        }
                    }
                }
                "Supported link modes" => {
                    link.supported |= modes(value);
                    continuing = Some(false);
                }
                "Advertised link modes" => {
                    link.advertising |= modes(value);
                    continuing = Some(true);
                }
                "Supports auto-negotiation" if value == "Yes" => link.supported |= 1 << AUTONEG_BIT,
                "Advertised auto-negotiation" if value == "Yes" => {
                    link.advertising |= 1 << AUTONEG_BIT
                }
                "Auto-negotiation" if value == "on" => link.autoneg = 1,
                _ => {}
            }
        }
        Ok(link)
    }
}

fn collector(net_class: PathBuf, source: Box<dyn Source>, include: &str) -> EthtoolCollector {
    EthtoolCollector {
        net_class,
        filter: DeviceFilter::default(),
        names: Names::new(Regex::new(include).unwrap()),
        source,
    }
}

#[test]
fn builds_upstream_names() {
    let names = Names::new(Regex::new(".*").unwrap());
    for (raw, expected) in [
        ("port.rx_errors", "node_ethtool_port_received_errors"),
        ("rx_errors", "node_ethtool_received_errors"),
        ("Queue[0] AllocFails", "node_ethtool_queue_0_allocfails"),
        (
            "Tx LPI entry count",
            "node_ethtool_transmitted_lpi_entry_count",
        ),
        (
            "port.VF_admin_queue_requests",
            "node_ethtool_port_vf_admin_queue_requests",
        ),
        ("[3]: tx_bytes", "node_ethtool_3_transmitted_bytes"),
        ("     err", "node_ethtool_err"),
    ] {
        assert_eq!(names.full_name(raw), expected, "{raw}");
    }
}

/// Upstream's `TestEthToolCollector`: the fixtures of eth0 (bond0's statistics fail with
/// EPERM, the other devices support nothing), series for series.
#[test]
fn reproduces_upstream_fixture_test() {
    let Some(fixtures) = fixtures() else { return };
    let sys = tempfile::tempdir().unwrap();
    for device in ["bond0", "eth0", "lo", "wlan0"] {
        std::fs::create_dir_all(sys.path().join(device)).unwrap();
    }
    std::fs::write(sys.path().join("bonding_masters"), "bond0\n").unwrap();
    let collector = collector(sys.path().to_owned(), Box::new(Fixtures(fixtures)), ".*");
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    let eth0 = |labels: &str| {
        if labels.is_empty() {
            "device=eth0".to_owned()
        } else {
            format!("device=eth0,{labels}")
        }
    };
    let mut expected: Vec<String> = [
        ("node_ethtool_align_errors", "", "0"),
        (
            "node_ethtool_info",
            "bus_info=0000:00:1f.6,driver=e1000e,expansion_rom_version=,firmware_version=0.5-4,version=5.11.0-22-generic",
            "1",
        ),
        ("node_ethtool_port_received_dropped", "", "12028"),
        ("node_ethtool_received_broadcast", "", "5792"),
        ("node_ethtool_received_errors_total", "", "0"),
        ("node_ethtool_received_missed", "", "401"),
        ("node_ethtool_received_multicast", "", "23973"),
        ("node_ethtool_received_packets_total", "", "1260062"),
        ("node_ethtool_received_unicast", "", "1230297"),
        ("node_ethtool_transmitted_aborted", "", "0"),
        ("node_ethtool_transmitted_errors_total", "", "0"),
        ("node_ethtool_transmitted_multi_collisions", "", "0"),
        ("node_ethtool_transmitted_packets_total", "", "961500"),
        ("node_ethtool_transmitted_single_collisions", "", "0"),
        ("node_ethtool_transmitted_underrun", "", "0"),
        ("node_network_advertised_speed_bytes", "duplex=full,mode=1000baseT", "125000000"),
        ("node_network_advertised_speed_bytes", "duplex=full,mode=100baseT", "12500000"),
        ("node_network_advertised_speed_bytes", "duplex=full,mode=10baseT", "1250000"),
        ("node_network_advertised_speed_bytes", "duplex=half,mode=100baseT", "12500000"),
        ("node_network_advertised_speed_bytes", "duplex=half,mode=10baseT", "1250000"),
        ("node_network_asymmetricpause_advertised", "", "0"),
        ("node_network_asymmetricpause_supported", "", "0"),
        ("node_network_autonegotiate", "", "1"),
        ("node_network_autonegotiate_advertised", "", "1"),
        ("node_network_autonegotiate_supported", "", "1"),
        ("node_network_pause_advertised", "", "1"),
        ("node_network_pause_supported", "", "1"),
        ("node_network_supported_port_info", "type=MII", "1"),
        ("node_network_supported_port_info", "type=TP", "1"),
        ("node_network_supported_speed_bytes", "duplex=full,mode=10000baseT", "1250000000"),
        ("node_network_supported_speed_bytes", "duplex=full,mode=1000baseT", "125000000"),
        ("node_network_supported_speed_bytes", "duplex=full,mode=100baseT", "12500000"),
        ("node_network_supported_speed_bytes", "duplex=full,mode=10baseT", "1250000"),
        ("node_network_supported_speed_bytes", "duplex=half,mode=100baseT", "12500000"),
        ("node_network_supported_speed_bytes", "duplex=half,mode=10baseT", "1250000"),
    ]
    .iter()
    .map(|(name, labels, value)| {
        let mut labels: Vec<String> = eth0(labels).split(',').map(str::to_owned).collect();
        labels.sort();
        format!("{name} {} {value}", labels.join(","))
    })
    .collect();
    expected.sort();
    assert_eq!(lines(&out, "/nonexistent"), expected);
    // The family of an upstream-named statistic keeps upstream's help.
    let family = out
        .iter()
        .find(|f| f.name == "node_ethtool_received_packets_total")
        .unwrap();
    assert_eq!(family.help, "Network interface packets received");
    let family = out
        .iter()
        .find(|f| f.name == "node_ethtool_received_missed")
        .unwrap();
    assert_eq!(family.help, "Network interface rx_missed");
    assert_eq!(family.kind, MetricType::Untyped);
}

#[test]
fn metrics_include_and_missing_class() {
    let Some(fixtures) = fixtures() else { return };
    let sys = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sys.path().join("eth0")).unwrap();
    let only_rx = collector(
        sys.path().to_owned(),
        Box::new(Fixtures(fixtures.clone())),
        "^rx_",
    );
    let mut out = Vec::new();
    only_rx.update(&mut out).unwrap();
    let stats: Vec<&str> = out
        .iter()
        .filter(|f| f.name.starts_with("node_ethtool_") && f.name != "node_ethtool_info")
        .map(|f| f.name.as_ref())
        .collect();
    assert!(stats.iter().all(|n| n.contains("received")), "{stats:?}");
    assert!(!stats.contains(&"node_ethtool_port_received_dropped"));

    let missing = collector(sys.path().join("none"), Box::new(Fixtures(fixtures)), ".*");
    assert!(matches!(
        missing.update(&mut Vec::new()),
        Err(CollectorError::NoData)
    ));
}

/// Real mode on this machine: the loopback supports nothing, and a veth pair (created when we
/// may) reports its driver and statistics.
#[test]
fn live_kernel() {
    let sys = tempfile::tempdir().unwrap();
    let ethtool = Ethtool::open().unwrap();
    let veth = std::process::Command::new("ip")
        .args([
            "link",
            "add",
            "octo-eth0",
            "type",
            "veth",
            "peer",
            "name",
            "octo-eth1",
        ])
        .status()
        .is_ok_and(|s| s.success());
    for device in ["lo", "octo-eth0"] {
        std::fs::create_dir_all(sys.path().join(device)).unwrap();
    }
    let collector = collector(sys.path().to_owned(), Box::new(ethtool), ".*");
    let mut out = Vec::new();
    let result = collector.update(&mut out);
    if veth {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", "octo-eth0"])
            .status();
    }
    result.unwrap();
    let got = lines(&out, "/nonexistent");
    assert!(!got.iter().any(|l| l.contains("device=lo")), "{got:?}");
    if veth {
        assert!(
            got.iter()
                .any(|l| l.starts_with("node_ethtool_info ") && l.contains("driver=veth")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|l| l.starts_with("node_ethtool_peer_ifindex ")),
            "{got:?}"
        );
        assert!(
            got.contains(&"node_network_autonegotiate device=octo-eth0 0".to_owned()),
            "{got:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn garbage_statistics_names_never_panic(
        names in proptest::collection::vec("\\PC{0,40}", 0..20),
    ) {
        let collector = collector(PathBuf::from("/nonexistent"), Box::new(Fixtures(PathBuf::new())), ".*");
        let stats = names.into_iter().enumerate().map(|(i, n)| (n, i as u64)).collect();
        let mut out = Vec::new();
        collector.stats_families(&mut out, "eth0", stats);
    }
}
