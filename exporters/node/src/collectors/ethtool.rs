//! `ethtool`: per network device (every entry of `<sysfs>/class/net`), the driver's statistics
//! (`node_ethtool_<statistic>`, untyped), `node_ethtool_info`, and from the link settings the
//! supported/advertised speeds, port types, autonegotiation and pause capabilities
//! (`node_network_*`), as upstream 1.12.
//!
//! The kernel is asked through the ethtool ioctl (`crate::ethtool_ioctl`). Upstream reads the
//! legacy 32-bit link-mode masks (`ETHTOOL_GSET`), so only modes below bit 32 can appear; so
//! here. A device that does not support a request (`EOPNOTSUPP`, as the loopback) is logged at
//! debug level and simply has no such series; other failures are logged as errors and do not fail
//! the collector, as upstream.
//!
//! Upstream's unit test feeds this collector from `fixtures/ethtool/<device>/{driver,settings,
//! statistics}` by swapping its ethtool library in test code; no command-line flag selects those
//! fixtures, and its end-to-end run does not enable `ethtool`. Our test does the same (see tests).

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType, Text};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::device_filter::{DeviceFilter, compile_regex};
use crate::ethtool_ioctl::{DriverInfo, Ethtool, LinkSettings};

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.optional(
        "collector.ethtool.device-include",
        "Regexp of ethtool devices to include (mutually exclusive to device-exclude).",
    );
    let exclude = set.optional(
        "collector.ethtool.device-exclude",
        "Regexp of ethtool devices to exclude (mutually exclusive to device-include).",
    );
    let metrics = set.string(
        "collector.ethtool.metrics-include",
        ".*",
        "Regexp of ethtool stats to include.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        for handle in [include, exclude] {
            if let Some(pattern) = flags.get(handle).filter(|p| !p.is_empty()) {
                tracing::info!(flag = pattern, "Parsed flag --{}", flags.name(handle));
            }
        }
        let source = Ethtool::open().map_err(|err| {
            BuildError::Invalid(format!("failed to initialize ethtool library: {err}"))
        })?;
        Ok(Box::new(EthtoolCollector {
            net_class: context.paths.sys("class/net"),
            filter: DeviceFilter::from_flags(flags, exclude, include)?,
            names: Names::new(compile_regex(flags.name(metrics), flags.get(metrics))?),
            source: Box::new(source),
        }))
    })
}

/// What the collector asks about a device: the kernel, or fixtures in tests.
pub(crate) trait Source: Send + Sync {
    fn driver_info(&self, device: &str) -> io::Result<DriverInfo>;
    fn stats(&self, device: &str) -> io::Result<Vec<(String, u64)>>;
    fn link_settings(&self, device: &str) -> io::Result<LinkSettings>;
}

impl Source for Ethtool {
    fn driver_info(&self, device: &str) -> io::Result<DriverInfo> {
        Ethtool::driver_info(self, device)
    }
    fn stats(&self, device: &str) -> io::Result<Vec<(String, u64)>> {
        Ethtool::stats(self, device)
    }
    fn link_settings(&self, device: &str) -> io::Result<LinkSettings> {
        Ethtool::link_settings(self, device)
    }
}

struct EthtoolCollector {
    net_class: PathBuf,
    filter: DeviceFilter,
    names: Names,
    source: Box<dyn Source>,
}

/// Statistic names to metric names, as upstream's `SanitizeMetricName` and
/// `buildEthtoolFQName` (Go regexps, so the same patterns here).
struct Names {
    include: Regex,
    invalid: Regex,
    received: Regex,
    transmitted: Regex,
}

impl Names {
    fn new(include: Regex) -> Names {
        // Constant patterns: compiling them cannot fail.
        #[allow(clippy::unwrap_used)]
        Names {
            include,
            invalid: Regex::new("_*[^0-9A-Za-z_]+_*").unwrap(),
            received: Regex::new("(^|_)rx(_|$)").unwrap(),
            transmitted: Regex::new("(^|_)tx(_|$)").unwrap(),
        }
    }

    fn sanitize(&self, name: &str) -> String {
        self.invalid.replace_all(name, "_").into_owned()
    }

    fn full_name(&self, sanitized: &str) -> String {
        let name = self.sanitize(sanitized).to_lowercase();
        let name = name.trim_start_matches('_');
        let name = self.received.replace_all(name, "${1}received${2}");
        let name = self.transmitted.replace_all(&name, "${1}transmitted${2}");
        format!("node_ethtool_{name}")
    }
}

/// The statistics upstream names itself (keyed by the sanitized statistic name).
static KNOWN_STATS: &[(&str, &str, &str)] = &[
    (
        "rx_bytes",
        "node_ethtool_received_bytes_total",
        "Network interface bytes received",
    ),
    (
        "rx_dropped",
        "node_ethtool_received_dropped_total",
        "Number of received frames dropped",
    ),
    (
        "rx_errors",
        "node_ethtool_received_errors_total",
        "Number of received frames with errors",
    ),
    (
        "rx_packets",
        "node_ethtool_received_packets_total",
        "Network interface packets received",
    ),
    (
        "tx_bytes",
        "node_ethtool_transmitted_bytes_total",
        "Network interface bytes sent",
    ),
    (
        "tx_errors",
        "node_ethtool_transmitted_errors_total",
        "Number of sent frames with errors",
    ),
    (
        "tx_packets",
        "node_ethtool_transmitted_packets_total",
        "Network interface packets sent",
    ),
];

/// Link-mode bits below 32 with a speed: (bit, Mb/s, duplex, PHY), from the kernel's
/// `ethtool_link_mode_bit_indices` and upstream's table.
static SPEEDS: &[(u32, u32, &str, &str)] = &[
    (0, 10, "half", "T"),
    (1, 10, "full", "T"),
    (2, 100, "half", "T"),
    (3, 100, "full", "T"),
    (4, 1000, "half", "T"),
    (5, 1000, "full", "T"),
    (12, 10000, "full", "T"),
    (17, 1000, "full", "KX"),
    (18, 10000, "full", "KX4"),
    (19, 10000, "full", "KR"),
    (20, 10000, "full", "R_FEC"),
    (21, 20000, "full", "MLD2"),
    (22, 20000, "full", "KR2"),
    (23, 40000, "full", "KR4"),
    (24, 40000, "full", "CR4"),
    (25, 40000, "full", "SR4"),
    (26, 40000, "full", "LR4"),
    (27, 56000, "full", "KR4"),
    (28, 56000, "full", "CR4"),
    (29, 56000, "full", "SR4"),
    (30, 56000, "full", "LR4"),
    (31, 25000, "full", "CR"),
];

static PORTS: &[(u32, &str)] = &[
    (7, "TP"),
    (8, "AUI"),
    (9, "MII"),
    (10, "FIBRE"),
    (11, "BNC"),
    (16, "Backplane"),
];

const AUTONEG_BIT: u32 = 6;
const PAUSE_BIT: u32 = 13;
const ASYM_PAUSE_BIT: u32 = 14;
/// Speeds in bytes per second, as netclass reports them.
const BYTES_PER_MBIT: f64 = 1_000_000.0 / 8.0;

fn has(modes: u32, bit: u32) -> bool {
    modes & (1 << bit) != 0
}

fn flag(modes: u32, bit: u32) -> f64 {
    if has(modes, bit) { 1.0 } else { 0.0 }
}

fn gauge(
    name: &str,
    help: impl Into<Text>,
    labels: &[(&'static str, &str)],
    value: f64,
) -> MetricFamily {
    MetricFamily::gauge(format!("node_network_{name}"), help).with(labels, value)
}

fn speeds(out: &mut Vec<MetricFamily>, prefix: &str, help: &'static str, device: &str, modes: u32) {
    let mut family = MetricFamily::gauge(format!("node_network_{prefix}_speed_bytes"), help);
    for &(bit, speed, duplex, phy) in SPEEDS {
        if has(modes, bit) {
            let mode = format!("{speed}base{phy}");
            family.push(
                &[("device", device), ("duplex", duplex), ("mode", &mode)],
                f64::from(speed) * BYTES_PER_MBIT,
            );
        }
    }
    out.push(family);
}

/// `<prefix>`: "supported" or "advertised"; `offers`: how the help says it.
fn capabilities(out: &mut Vec<MetricFamily>, prefix: &str, offers: &str, device: &str, modes: u32) {
    let labels = [("device", device)];
    out.push(gauge(
        &format!("autonegotiate_{prefix}"),
        format!("If this port device {offers} autonegotiate"),
        &labels,
        flag(modes, AUTONEG_BIT),
    ));
    let pause = if prefix == "supported" {
        "supports pause frames"
    } else {
        "offers pause capability"
    };
    out.push(gauge(
        &format!("pause_{prefix}"),
        format!("If this port device {pause}"),
        &labels,
        flag(modes, PAUSE_BIT),
    ));
    let asymmetric = if prefix == "supported" {
        "supports asymmetric pause frames"
    } else {
        "offers asymmetric pause capability"
    };
    out.push(gauge(
        &format!("asymmetricpause_{prefix}"),
        format!("If this port device {asymmetric}"),
        &labels,
        flag(modes, ASYM_PAUSE_BIT),
    ));
}

fn link_families(out: &mut Vec<MetricFamily>, device: &str, link: &LinkSettings) {
    speeds(
        out,
        "supported",
        "Combination of speeds and features supported by network device",
        device,
        link.supported,
    );
    let mut ports = MetricFamily::gauge(
        "node_network_supported_port_info",
        "Type of ports or PHYs supported by network device",
    );
    for &(bit, kind) in PORTS {
        if has(link.supported, bit) {
            ports.push(&[("device", device), ("type", kind)], 1.0);
        }
    }
    out.push(ports);
    capabilities(out, "supported", "supports", device, link.supported);
    speeds(
        out,
        "advertised",
        "Combination of speeds and features offered by network device",
        device,
        link.advertising,
    );
    capabilities(out, "advertised", "offers", device, link.advertising);
    out.push(gauge(
        "autonegotiate",
        "If this port is using autonegotiate",
        &[("device", device)],
        f64::from(link.autoneg),
    ));
}

/// Upstream's logging of a failed request: "not supported" at debug level, the rest as errors.
fn log_failure(what: &str, device: &str, err: &io::Error) {
    if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
        tracing::debug!(device, %err, "ethtool {what} error");
    } else {
        tracing::error!(device, %err, "ethtool {what} error");
    }
}

impl EthtoolCollector {
    /// The devices of `class/net` (anything but regular files), sorted by name.
    fn devices(&self) -> Result<Vec<String>, CollectorError> {
        let entries = std::fs::read_dir(&self.net_class).map_err(|err| {
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) {
                tracing::debug!(%err, "Could not read netclass file");
                CollectorError::NoData
            } else {
                CollectorError::Other(format!("could not get net class info: {err}"))
            }
        })?;
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| CollectorError::io(&self.net_class, err))?;
            if entry.file_type().is_ok_and(|kind| kind.is_file()) {
                continue;
            }
            devices.push(entry.file_name().to_string_lossy().into_owned());
        }
        devices.sort();
        Ok(devices)
    }

    /// The statistics' families: names sanitized and filtered; names that collide after
    /// sanitizing are all dropped, as upstream.
    fn stats_families(&self, out: &mut Vec<MetricFamily>, device: &str, stats: Vec<(String, u64)>) {
        // A repeated raw name keeps its last value (upstream collects them into a map).
        let raw: BTreeMap<String, u64> = stats.into_iter().collect();
        let mut by_name: BTreeMap<String, Option<(String, u64)>> = BTreeMap::new();
        for (name, value) in raw {
            let key = self.names.sanitize(&name);
            if !self.names.include.is_match(&key) {
                continue;
            }
            let full = self.names.full_name(&key);
            by_name
                .entry(full)
                .and_modify(|slot| {
                    tracing::debug!(device, "dropping duplicate metric name");
                    *slot = None;
                })
                .or_insert(Some((key, value)));
        }
        for (full, slot) in by_name {
            let Some((key, value)) = slot else { continue };
            let family = match KNOWN_STATS.iter().find(|(known, ..)| *known == key) {
                Some((_, name, help)) => MetricFamily::untyped(*name, *help),
                None => MetricFamily::new(
                    full,
                    format!("Network interface {key}"),
                    MetricType::Untyped,
                ),
            };
            out.push(family.with(&[("device", device)], value as f64));
        }
    }
}

impl Collector for EthtoolCollector {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = self.devices()?;
        if devices.is_empty() {
            return Err(CollectorError::Other("no network devices found".into()));
        }
        for device in devices.iter().filter(|d| !self.filter.ignored(d)) {
            match self.source.link_settings(device) {
                Ok(link) => link_families(out, device, &link),
                Err(err) => log_failure("link info", device, &err),
            }
            match self.source.driver_info(device) {
                Ok(info) => out.push(
                    MetricFamily::gauge(
                        "node_ethtool_info",
                        "A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, firmware_version, version.",
                    )
                    .with(
                        &[
                            ("bus_info", &info.bus_info),
                            ("device", device),
                            ("driver", &info.driver),
                            ("expansion_rom_version", &info.expansion_rom_version),
                            ("firmware_version", &info.firmware_version),
                            ("version", &info.version),
                        ],
                        1.0,
                    ),
                ),
                Err(err) => log_failure("driver info", device, &err),
            }
            match self.source.stats(device) {
                Ok(stats) => self.stats_families(out, device, stats),
                Err(err) => log_failure("stats", device, &err),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ethtool_tests.rs"]
mod tests;
