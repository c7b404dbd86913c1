//! octo-node-exporter: a drop-in replacement for Prometheus node_exporter on Linux.
//!
//! Same flags (`--collector.<name>`, `--no-collector.<name>`, every collector option and its
//! deprecated aliases, `--path.*`), same metric names, labels, types and values, same
//! `?collect[]=` / `?exclude[]=` filtering.

mod btrfs_ioctl;
mod collector;
mod collectors;
mod cpulist;
mod dbus;
mod dbus_header;
mod device_filter;
mod ethtool_ioctl;
mod family_set;
mod field_filter;
mod gopath;
mod kept_files;
mod mountinfo;
mod mountstats_parse;
mod netlink;
mod nl80211;
mod paths;
mod perf_event;
mod procstat;
mod read;
mod registry;
mod rpc_stats;
mod rtnl;
mod scrape;
mod socket_table;
mod sysfs;

use std::sync::Arc;

use anyhow::Context as _;
use octo_exporter_kit::{
    Exporter, ExporterFlagSet, ExporterFlags, ExporterInfo, HandlerMetrics, HttpError,
    MetricFamily, ScrapeRequest,
};

use crate::paths::PathFlags;
use crate::registry::Switchboard;
use crate::scrape::Enabled;

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-node-exporter",
    title: "Octo Node Exporter",
    upstream: "node_exporter",
    build_info_metric: "node_exporter_build_info",
    default_listen_address: ":9100",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::RequestsAndErrors,
};

fn flag_set() -> ExporterFlagSet {
    INFO.flag_set("Exports Linux host metrics (drop-in for Prometheus node_exporter).")
}

struct NodeExporter {
    collectors: Arc<Vec<Enabled>>,
    unimplemented: Vec<&'static str>,
}

impl NodeExporter {
    /// The collectors a request asks for, with node_exporter's errors for bad filters.
    fn select(&self, request: &ScrapeRequest) -> Result<Vec<usize>, HttpError> {
        let collects: Vec<&str> = request.query_values("collect[]").collect();
        let excludes: Vec<&str> = request.query_values("exclude[]").collect();
        if !collects.is_empty() && !excludes.is_empty() {
            return Err(HttpError::bad_request(
                "Combined collect and exclude queries are not allowed.",
            ));
        }
        if !excludes.is_empty() {
            return Ok((0..self.collectors.len())
                .filter(|&i| !excludes.contains(&self.collectors[i].name))
                .collect());
        }
        if collects.is_empty() {
            return Ok((0..self.collectors.len()).collect());
        }
        let refuse = |reason: String| {
            HttpError::bad_request(format!(
                "Couldn't create filtered metrics handler: couldn't create collector: {reason}"
            ))
        };
        let mut selected = Vec::new();
        for name in collects {
            if registry::registration(name).is_none() {
                return Err(refuse(format!("missing collector: {name}")));
            }
            if self.unimplemented.contains(&name) {
                return Err(refuse(format!(
                    "collector not implemented by octo-node-exporter: {name}"
                )));
            }
            match self.collectors.iter().position(|c| c.name == name) {
                Some(index) if !selected.contains(&index) => selected.push(index),
                Some(_) => {}
                None => return Err(refuse(format!("disabled collector: {name}"))),
            }
        }
        Ok(selected)
    }
}

impl Exporter for NodeExporter {
    async fn collect(&self, request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        let selected = self.select(request)?;
        let collectors = self.collectors.clone();
        // Collectors read files and call statfs: off the event loop.
        tokio::task::spawn_blocking(move || {
            scrape::run(selected.iter().map(|&index| &collectors[index]))
        })
        .await
        .map_err(|err| HttpError::internal(format!("collection failed: {err}")))
    }
}

async fn run(
    flags: ExporterFlags,
    paths: PathFlags,
    switchboard: Switchboard,
) -> anyhow::Result<()> {
    let web = flags.web_options()?;
    let paths = paths.paths(&flags);
    let collectors = switchboard
        .build(&flags, &paths)
        .context("invalid collector options")?;
    tracing::info!(version = INFO.version, "Starting octo-node-exporter");
    let names: Vec<&str> = collectors.enabled.iter().map(|c| c.name).collect();
    tracing::info!(collectors = %names.join(","), "Enabled collectors");
    if !collectors.unimplemented.is_empty() {
        tracing::warn!(
            collectors = %collectors.unimplemented.join(","),
            "enabled collectors not implemented by octo-node-exporter yet; they are skipped"
        );
    }
    if nix::unistd::geteuid().is_root() {
        tracing::warn!(
            "octo-node-exporter is running as root user; it is designed to run as an unprivileged user, root is not required"
        );
    }
    let exporter = NodeExporter {
        collectors: Arc::new(collectors.enabled),
        unimplemented: collectors.unimplemented,
    };
    octo_exporter_kit::serve(&INFO, web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut set = flag_set();
    let paths = PathFlags::declare(&mut set);
    let switchboard = registry::declare(&mut set);
    let flags = set.parse_env_or_exit();
    octo_exporter_kit::run_exporter(flags, move |flags| run(flags, paths, switchboard))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (ExporterFlags, Switchboard) {
        let mut set = flag_set();
        PathFlags::declare(&mut set);
        let switchboard = registry::declare(&mut set);
        (set.parse_args(args).unwrap(), switchboard)
    }

    #[test]
    fn collector_defaults_follow_upstream_and_disable_defaults() {
        let flags = parse(&[]);
        let on = |(flags, switchboard): &(ExporterFlags, Switchboard), name: &str| {
            switchboard.is_enabled(flags, name)
        };
        assert!(on(&flags, "cpu"));
        assert!(on(&flags, "zfs"));
        assert!(!on(&flags, "processes"));
        assert!(!on(&flags, "tcpstat"));
        let flags = parse(&[
            "--collector.disable-defaults",
            "--collector.processes",
            "--no-collector.cpu",
        ]);
        assert!(!on(&flags, "meminfo"));
        assert!(on(&flags, "processes"));
        assert!(!on(&flags, "cpu"));
    }

    #[test]
    fn upstream_golden_command_line_parses() {
        parse(&[
            "--collector.cpu.info",
            "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
            "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
            "--collector.arp.device-exclude=nope",
            "--no-collector.arp.netlink",
            "--collector.bcache.priorityStats",
            "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)",
            "--collector.netclass.ignore-invalid-speed",
            "--collector.netclass.ignored-devices=(dmz|int)",
            "--collector.netdev.device-include=lo",
            "--collector.qdisc.device-include=(wlan0|eth0)",
            "--collector.qdisc.fixtures=collector/fixtures/qdisc/",
            "--collector.stat.softirq",
            "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
            "--collector.sysctl.include=fs.file-nr",
            "--collector.sysctl.include=fs.file-nr:total,current,max",
            "--collector.sysctl.include=kernel.threads-max",
            "--collector.textfile.directory=collector/fixtures/textfile/two_metric_files/",
            "--collector.wifi.fixtures=collector/fixtures/wifi",
        ]);
    }
}
