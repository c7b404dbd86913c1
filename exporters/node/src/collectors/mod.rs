//! The collectors: one module per upstream collector, each registered here with its name, its
//! default (on or off, exactly as upstream) and its flags.
//!
//! Every Linux collector name upstream has is registered, so any upstream command line parses.
//! Names we do not implement yet are accepted and logged as not implemented.

use std::path::Path;
use std::time::Instant;

use octo_exporter_kit::selfmetrics::CollectorOutcomes;
use octo_exporter_kit::{FlagSet, Flags, MetricFamily};

use crate::paths::Paths;

mod compat;
mod field_filter;
#[cfg(test)]
pub(crate) mod testing;

pub mod arp;
pub mod bonding;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod edac;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod interrupts;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nvme;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod tcpstat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod watchdog;

/// Why a collector produced nothing, or not everything.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// Nothing to report on this host (no bonding, no RAPL...): success 0, logged at debug level,
    /// as upstream's `ErrNoData`.
    #[error("collector returned no data")]
    NoData,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl CollectorError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CollectorError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub fn parse(path: &Path, reason: impl Into<String>) -> Self {
        CollectorError::Parse {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Whether the error is a missing file or directory (the feature is absent on this host).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CollectorError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Turns "file not found" into [`CollectorError::NoData`].
    pub fn not_found_as_no_data(self) -> Self {
        if self.is_not_found() {
            CollectorError::NoData
        } else {
            self
        }
    }
}

/// A collector: reads its sources and appends families.
///
/// Families already appended when an error is returned are still exported, as upstream does.
pub trait Collector: Send + Sync {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError>;
}

/// Why a collector could not be set up from its flags.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Invalid(String),
}

pub(crate) type Build = fn(&Flags, &Paths) -> Result<Box<dyn Collector>, BuildError>;

/// A collector as the command line knows it.
pub struct Registration {
    pub name: &'static str,
    pub enabled_by_default: bool,
    /// Declares the collector's own flags (filters, options, deprecated aliases).
    pub flags: fn(FlagSet) -> FlagSet,
    /// `None` for collectors upstream has and we do not implement.
    pub build: Option<Build>,
}

const fn ours(
    name: &'static str,
    enabled_by_default: bool,
    flags: fn(FlagSet) -> FlagSet,
    build: Build,
) -> Registration {
    Registration {
        name,
        enabled_by_default,
        flags,
        build: Some(build),
    }
}

const fn upstream_only(name: &'static str, enabled_by_default: bool) -> Registration {
    Registration {
        name,
        enabled_by_default,
        flags: no_flags,
        build: None,
    }
}

fn no_flags(set: FlagSet) -> FlagSet {
    set
}

/// Every Linux collector of node_exporter 1.12, with upstream's defaults.
pub static REGISTRY: &[Registration] = &[
    ours("arp", true, arp::flags, arp::build),
    upstream_only("bcache", true),
    upstream_only("bcachefs", true),
    ours("bonding", true, bonding::flags, bonding::build),
    upstream_only("btrfs", true),
    upstream_only("buddyinfo", false),
    upstream_only("cgroups", false),
    ours("conntrack", true, conntrack::flags, conntrack::build),
    ours("cpu", true, cpu::flags, cpu::build),
    upstream_only("cpu_vulnerabilities", false),
    ours("cpufreq", true, cpufreq::flags, cpufreq::build),
    ours("diskstats", true, diskstats::flags, diskstats::build),
    ours("dmi", true, dmi::flags, dmi::build),
    upstream_only("dmmultipath", true),
    upstream_only("drbd", false),
    upstream_only("drm", false),
    ours("edac", true, edac::flags, edac::build),
    ours("entropy", true, entropy::flags, entropy::build),
    upstream_only("ethtool", false),
    upstream_only("fibrechannel", true),
    ours("filefd", true, filefd::flags, filefd::build),
    ours("filesystem", true, filesystem::flags, filesystem::build),
    ours("hwmon", true, hwmon::flags, hwmon::build),
    upstream_only("infiniband", true),
    ours("interrupts", false, interrupts::flags, interrupts::build),
    upstream_only("ipvs", true),
    upstream_only("kernel_hung", true),
    upstream_only("ksmd", false),
    upstream_only("lnstat", false),
    ours("loadavg", true, loadavg::flags, loadavg::build),
    upstream_only("logind", false),
    ours("mdadm", true, mdadm::flags, mdadm::build),
    ours("meminfo", true, meminfo::flags, meminfo::build),
    upstream_only("meminfo_numa", false),
    upstream_only("mountstats", false),
    ours("netclass", true, netclass::flags, netclass::build),
    ours("netdev", true, netdev::flags, netdev::build),
    ours("netstat", true, netstat::flags, netstat::build),
    upstream_only("network_route", false),
    upstream_only("nfs", true),
    upstream_only("nfsd", true),
    upstream_only("ntp", false),
    ours("nvme", true, nvme::flags, nvme::build),
    upstream_only("nvmesubsystem", false),
    ours("os", true, os::flags, os::build),
    upstream_only("pcidevice", false),
    upstream_only("perf", false),
    ours(
        "powersupplyclass",
        true,
        powersupplyclass::flags,
        powersupplyclass::build,
    ),
    ours("pressure", true, pressure::flags, pressure::build),
    ours("processes", false, processes::flags, processes::build),
    upstream_only("qdisc", false),
    ours("rapl", true, rapl::flags, rapl::build),
    upstream_only("runit", false),
    ours("schedstat", true, schedstat::flags, schedstat::build),
    ours("selinux", true, selinux::flags, selinux::build),
    upstream_only("slabinfo", false),
    ours("sockstat", true, sockstat::flags, sockstat::build),
    upstream_only("softirqs", false),
    ours("softnet", true, softnet::flags, softnet::build),
    ours("stat", true, stat::flags, stat::build),
    upstream_only("supervisord", false),
    upstream_only("swap", false),
    upstream_only("sysctl", false),
    upstream_only("systemd", false),
    upstream_only("tapestats", true),
    ours("tcpstat", false, tcpstat::flags, tcpstat::build),
    ours("textfile", true, textfile::flags, textfile::build),
    ours(
        "thermal_zone",
        true,
        thermal_zone::flags,
        thermal_zone::build,
    ),
    ours("time", true, time::flags, time::build),
    ours("timex", true, timex::flags, timex::build),
    ours("udp_queues", true, udp_queues::flags, udp_queues::build),
    ours("uname", true, uname::flags, uname::build),
    ours("vmstat", true, vmstat::flags, vmstat::build),
    ours("watchdog", true, watchdog::flags, watchdog::build),
    upstream_only("wifi", false),
    upstream_only("xfrm", false),
    upstream_only("xfs", true),
    upstream_only("zfs", true),
    upstream_only("zoneinfo", false),
];

pub fn registration(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// Declares `--[no-]collector.<name>` for every collector, `--collector.disable-defaults`, and
/// every collector's own flags.
pub fn declare_flags(mut set: FlagSet) -> FlagSet {
    set = set.heading("Collectors").bool(
        "collector.disable-defaults",
        false,
        "Set all collectors to disabled by default.",
    );
    for registration in REGISTRY {
        let help = match registration.build {
            Some(_) => format!("Enable the {} collector.", registration.name),
            None => format!(
                "Enable the {} collector (accepted; not implemented by octo-node-exporter yet).",
                registration.name
            ),
        };
        set = set.bool(
            format!("collector.{}", registration.name),
            registration.enabled_by_default,
            help,
        );
    }
    set = set.heading("Collector options");
    for registration in REGISTRY {
        set = (registration.flags)(set);
    }
    compat::flags(set)
}

/// Whether a collector is on: given explicitly, or by default unless defaults are disabled.
pub fn is_enabled(flags: &Flags, registration: &Registration) -> bool {
    let flag = format!("collector.{}", registration.name);
    if flags.was_given(&flag) {
        flags.bool(&flag)
    } else {
        registration.enabled_by_default && !flags.bool("collector.disable-defaults")
    }
}

/// A collector that is on and built.
pub struct Enabled {
    pub name: &'static str,
    pub collector: Box<dyn Collector>,
}

/// Builds every enabled collector; collectors whose flags are invalid stop start-up.
pub fn build_enabled(
    flags: &Flags,
    paths: &Paths,
) -> Result<(Vec<Enabled>, Vec<&'static str>), BuildError> {
    let mut enabled = Vec::new();
    let mut unimplemented = Vec::new();
    for registration in REGISTRY {
        if !is_enabled(flags, registration) {
            continue;
        }
        match registration.build.map(|build| build(flags, paths)) {
            Some(Ok(collector)) => enabled.push(Enabled {
                name: registration.name,
                collector,
            }),
            None => unimplemented.push(registration.name),
            Some(Err(BuildError::Invalid(reason))) => {
                return Err(BuildError::Invalid(format!(
                    "collector {}: {reason}",
                    registration.name
                )));
            }
        }
    }
    Ok((enabled, unimplemented))
}

/// Runs the given collectors one after another and returns their families plus
/// `node_scrape_collector_{duration_seconds,success}`. A collector that fails (or panics on a
/// bug) is logged and reported with success 0; the others are unaffected.
pub fn run<'a>(collectors: impl IntoIterator<Item = &'a Enabled>) -> Vec<MetricFamily> {
    let mut families = Vec::with_capacity(256);
    let mut outcomes = CollectorOutcomes::new(
        "node_scrape_collector",
        "node_exporter: Duration of a collector scrape.",
        "node_exporter: Whether a collector succeeded.",
    );
    for enabled in collectors {
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            enabled.collector.update(&mut families)
        }));
        let seconds = started.elapsed().as_secs_f64();
        let success = match result {
            Ok(Ok(())) => true,
            Ok(Err(CollectorError::NoData)) => {
                tracing::debug!(
                    name = enabled.name,
                    duration_seconds = seconds,
                    "collector returned no data"
                );
                false
            }
            Ok(Err(err)) => {
                tracing::error!(name = enabled.name, duration_seconds = seconds, err = %err, "collector failed");
                false
            }
            Err(_) => {
                tracing::error!(
                    name = enabled.name,
                    "collector panicked; this is a bug, please report it"
                );
                false
            }
        };
        outcomes.record(enabled.name, seconds, success);
    }
    families.extend(outcomes.families());
    families
}
