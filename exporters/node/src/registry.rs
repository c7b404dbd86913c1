//! The registry: every Linux collector of node_exporter 1.12, with its name and upstream's
//! default, written once here. It declares `--[no-]collector.<name>`,
//! `--collector.disable-defaults` and every collector's own flags, and builds the collectors the
//! parsed command line switches on.
//!
//! Every upstream name is registered, so any upstream command line parses; names we do not
//! implement yet are accepted, marked so in `--help`, and logged as not implemented.

use octo_exporter_kit::{Flag, FlagSet, Flags};

use crate::collector::{BuildContext, BuildError, Builder};
use crate::collectors::{
    arp, bcache, bcachefs, bonding, btrfs, buddyinfo, cgroups, compat, conntrack, cpu,
    cpu_vulnerabilities, cpufreq, diskstats, dmi, dmmultipath, drbd, drm, edac, entropy, ethtool,
    fibrechannel, filefd, filesystem, hwmon, infiniband, interrupts, ipvs, kernel_hung, ksmd,
    lnstat, loadavg, logind, mdadm, meminfo, meminfo_numa, mountstats, netclass, netdev, netstat,
    network_route, nfs, nfsd, nvme, nvmesubsystem, os, pcidevice, perf, powersupplyclass, pressure,
    processes, qdisc, rapl, schedstat, selinux, slabinfo, sockstat, softirqs, softnet, stat, swap,
    sysctl, systemd, tapestats, tcpstat, textfile, thermal_zone, time, timex, udp_queues, uname,
    vmstat, watchdog, wifi, xfrm, xfs, zfs, zoneinfo,
};
use crate::paths::Paths;
use crate::scrape::Enabled;

/// Declares a collector's own flags (filters, options, deprecated aliases) and returns what
/// builds it from their values.
pub type Declare = fn(&mut FlagSet) -> Builder;

/// A collector as the command line knows it.
pub struct Registration {
    pub name: &'static str,
    pub enabled_by_default: bool,
    /// `None` for collectors upstream has and we do not implement.
    pub declare: Option<Declare>,
}

const fn ours(name: &'static str, enabled_by_default: bool, declare: Declare) -> Registration {
    Registration {
        name,
        enabled_by_default,
        declare: Some(declare),
    }
}

const fn upstream_only(name: &'static str, enabled_by_default: bool) -> Registration {
    Registration {
        name,
        enabled_by_default,
        declare: None,
    }
}

/// Every Linux collector of node_exporter 1.12, with upstream's defaults.
pub static REGISTRY: &[Registration] = &[
    ours("arp", true, arp::declare),
    ours("bcache", true, bcache::declare),
    ours("bcachefs", true, bcachefs::declare),
    ours("bonding", true, bonding::declare),
    ours("btrfs", true, btrfs::declare),
    ours("buddyinfo", false, buddyinfo::declare),
    ours("cgroups", false, cgroups::declare),
    ours("conntrack", true, conntrack::declare),
    ours("cpu", true, cpu::declare),
    ours("cpu_vulnerabilities", false, cpu_vulnerabilities::declare),
    ours("cpufreq", true, cpufreq::declare),
    ours("diskstats", true, diskstats::declare),
    ours("dmi", true, dmi::declare),
    ours("dmmultipath", true, dmmultipath::declare),
    ours("drbd", false, drbd::declare),
    ours("drm", false, drm::declare),
    ours("edac", true, edac::declare),
    ours("entropy", true, entropy::declare),
    ours("ethtool", false, ethtool::declare),
    ours("fibrechannel", true, fibrechannel::declare),
    ours("filefd", true, filefd::declare),
    ours("filesystem", true, filesystem::declare),
    ours("hwmon", true, hwmon::declare),
    ours("infiniband", true, infiniband::declare),
    ours("interrupts", false, interrupts::declare),
    ours("ipvs", true, ipvs::declare),
    ours("kernel_hung", true, kernel_hung::declare),
    ours("ksmd", false, ksmd::declare),
    ours("lnstat", false, lnstat::declare),
    ours("loadavg", true, loadavg::declare),
    ours("logind", false, logind::declare),
    ours("mdadm", true, mdadm::declare),
    ours("meminfo", true, meminfo::declare),
    ours("meminfo_numa", false, meminfo_numa::declare),
    ours("mountstats", false, mountstats::declare),
    ours("netclass", true, netclass::declare),
    ours("netdev", true, netdev::declare),
    ours("netstat", true, netstat::declare),
    ours("network_route", false, network_route::declare),
    ours("nfs", true, nfs::declare),
    ours("nfsd", true, nfsd::declare),
    upstream_only("ntp", false),
    ours("nvme", true, nvme::declare),
    ours("nvmesubsystem", false, nvmesubsystem::declare),
    ours("os", true, os::declare),
    ours("pcidevice", false, pcidevice::declare),
    ours("perf", false, perf::declare),
    ours("powersupplyclass", true, powersupplyclass::declare),
    ours("pressure", true, pressure::declare),
    ours("processes", false, processes::declare),
    ours("qdisc", false, qdisc::declare),
    ours("rapl", true, rapl::declare),
    upstream_only("runit", false),
    ours("schedstat", true, schedstat::declare),
    ours("selinux", true, selinux::declare),
    ours("slabinfo", false, slabinfo::declare),
    ours("sockstat", true, sockstat::declare),
    ours("softirqs", false, softirqs::declare),
    ours("softnet", true, softnet::declare),
    ours("stat", true, stat::declare),
    upstream_only("supervisord", false),
    ours("swap", false, swap::declare),
    ours("sysctl", false, sysctl::declare),
    ours("systemd", false, systemd::declare),
    ours("tapestats", true, tapestats::declare),
    ours("tcpstat", false, tcpstat::declare),
    ours("textfile", true, textfile::declare),
    ours("thermal_zone", true, thermal_zone::declare),
    ours("time", true, time::declare),
    ours("timex", true, timex::declare),
    ours("udp_queues", true, udp_queues::declare),
    ours("uname", true, uname::declare),
    ours("vmstat", true, vmstat::declare),
    ours("watchdog", true, watchdog::declare),
    ours("wifi", false, wifi::declare),
    ours("xfrm", false, xfrm::declare),
    ours("xfs", true, xfs::declare),
    ours("zfs", true, zfs::declare),
    ours("zoneinfo", false, zoneinfo::declare),
];

pub fn registration(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// The help of `--collector.<name>`; `--help` is where the registry can be read from outside.
fn switch_help(registration: &Registration) -> String {
    match registration.declare {
        Some(_) => format!("Enable the {} collector.", registration.name),
        None => format!(
            "Enable the {} collector (accepted; not implemented by octo-node-exporter yet).",
            registration.name
        ),
    }
}

/// One collector's switch and, for the ones we implement, its builder.
struct Switch {
    registration: &'static Registration,
    flag: Flag<bool>,
    builder: Option<Builder>,
}

/// The collectors' flags, declared, waiting for the parsed command line.
pub struct Switchboard {
    disable_defaults: Flag<bool>,
    switches: Vec<Switch>,
}

/// Declares `--collector.disable-defaults`, `--[no-]collector.<name>` for every collector, every
/// collector's own flags, and the hidden options of collectors not implemented yet.
pub fn declare(set: &mut FlagSet) -> Switchboard {
    set.heading("Collectors");
    let disable_defaults = set.bool(
        "collector.disable-defaults",
        false,
        "Set all collectors to disabled by default.",
    );
    let flags: Vec<Flag<bool>> = REGISTRY
        .iter()
        .map(|registration| {
            set.bool(
                format!("collector.{}", registration.name),
                registration.enabled_by_default,
                switch_help(registration),
            )
        })
        .collect();
    set.heading("Collector options");
    let switches = REGISTRY
        .iter()
        .zip(flags)
        .map(|(registration, flag)| Switch {
            registration,
            flag,
            builder: registration.declare.map(|declare| declare(set)),
        })
        .collect();
    compat::declare(set);
    Switchboard {
        disable_defaults,
        switches,
    }
}

/// The collectors a command line switches on.
pub struct Collectors {
    /// Built, in registry order.
    pub enabled: Vec<Enabled>,
    /// Switched on, but not implemented by octo-node-exporter.
    pub unimplemented: Vec<&'static str>,
}

impl Switchboard {
    /// Whether the collector `name` is on: given explicitly, or by default unless defaults are
    /// disabled. `false` for names not in the registry.
    #[cfg(test)]
    pub fn is_enabled(&self, flags: &Flags, name: &str) -> bool {
        self.switches
            .iter()
            .any(|switch| switch.registration.name == name && self.switched_on(flags, switch))
    }

    fn switched_on(&self, flags: &Flags, switch: &Switch) -> bool {
        if flags.was_given(switch.flag) {
            flags.get(switch.flag)
        } else {
            switch.registration.enabled_by_default && !flags.get(self.disable_defaults)
        }
    }

    /// Builds every enabled collector; a collector whose flags are invalid stops start-up.
    pub fn build(self, flags: &Flags, paths: &Paths) -> Result<Collectors, BuildError> {
        let on: Vec<&'static str> = self
            .switches
            .iter()
            .filter(|switch| self.switched_on(flags, switch))
            .map(|switch| switch.registration.name)
            .collect();
        let context = BuildContext {
            flags,
            paths,
            enabled: &on,
        };
        let mut collectors = Collectors {
            enabled: Vec::new(),
            unimplemented: Vec::new(),
        };
        for switch in self.switches {
            let name = switch.registration.name;
            if !on.contains(&name) {
                continue;
            }
            let Some(builder) = switch.builder else {
                collectors.unimplemented.push(name);
                continue;
            };
            match builder(&context) {
                Ok(collector) => collectors.enabled.push(Enabled { name, collector }),
                Err(BuildError::Invalid(reason)) => {
                    return Err(BuildError::Invalid(format!("collector {name}: {reason}")));
                }
            }
        }
        Ok(collectors)
    }
}

/// The collectors upstream switches on by default (what a collector's unit test builds with).
#[cfg(test)]
pub fn enabled_by_default() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|registration| registration.enabled_by_default)
        .map(|registration| registration.name)
        .collect()
}
