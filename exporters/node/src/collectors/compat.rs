//! Options of collectors upstream has and octo-node-exporter does not implement yet: accepted
//! (so an upstream command line or unit file works unchanged) and hidden from `--help`.

use octo_exporter_kit::FlagSet;

const BOOLS: &[&str] = &[
    "collector.bcache.priorityStats",
    "collector.netclass_rtnl.with-stats",
    "collector.ntp.server-is-local",
    "collector.pcidevice.names",
    "collector.perf.disable-cache-profilers",
    "collector.perf.disable-hardware-profilers",
    "collector.perf.disable-software-profilers",
    "collector.systemd.enable-restarts-metrics",
    "collector.systemd.enable-start-time-metrics",
    "collector.systemd.enable-task-metrics",
    "collector.systemd.private",
];

const VALUES: &[&str] = &[
    "collector.ethtool.device-exclude",
    "collector.ethtool.device-include",
    "collector.ethtool.metrics-include",
    "collector.infiniband.device-exclude",
    "collector.infiniband.device-include",
    "collector.ipvs.backend-labels",
    "collector.ntp.ip-ttl",
    "collector.ntp.local-offset-tolerance",
    "collector.ntp.max-distance",
    "collector.ntp.protocol-version",
    "collector.ntp.server",
    "collector.ntp.server-port",
    "collector.pcidevice.idsfile",
    "collector.perf.cpus",
    "collector.qdisc.device-exclude",
    "collector.qdisc.device-include",
    "collector.qdisc.fixtures",
    "collector.qdisk.device-exclude",
    "collector.qdisk.device-include",
    "collector.runit.servicedir",
    "collector.slabinfo.slabs-exclude",
    "collector.slabinfo.slabs-include",
    "collector.supervisord.url",
    "collector.systemd.unit-blacklist",
    "collector.systemd.unit-exclude",
    "collector.systemd.unit-include",
    "collector.systemd.unit-whitelist",
    "collector.tapestats.ignored-devices",
    "collector.wifi.fixtures",
    "runtime.gomaxprocs",
];

const REPEATABLE: &[&str] = &[
    "collector.perf.cache-profilers",
    "collector.perf.hardware-profilers",
    "collector.perf.software-profilers",
    "collector.perf.tracepoint",
    "collector.sysctl.include",
    "collector.sysctl.include-info",
];

pub fn flags(mut set: FlagSet) -> FlagSet {
    for name in BOOLS {
        set = set.bool_with(*name, false, "Accepted for compatibility.", |arg| {
            arg.hide(true)
        });
    }
    for name in VALUES {
        set = set.value_with(*name, None, "Accepted for compatibility.", |arg| {
            arg.hide(true)
        });
    }
    for name in REPEATABLE {
        set = set.repeatable(*name, &[], "Accepted for compatibility.", |arg| {
            arg.hide(true)
        });
    }
    set
}
