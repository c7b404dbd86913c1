//! octo-container-exporter: a drop-in replacement for cAdvisor's Prometheus endpoint.
//!
//! Same flags (Go `flag` grammar: `-port=8080`, `--docker_only`, `-store_container_labels=false`),
//! same families, names, types and labels; but it reads the cgroup files when Prometheus scrapes,
//! with no per-container polling, no stored history and no disk-usage walks. cgroup v1, v2 and
//! hybrid hosts; Docker (and Podman) metadata from the Engine API on its unix socket.

mod cgroup;
mod classify;
mod collector;
mod cri;
mod discovery;
mod docker;
mod families;
mod machine;
mod metadata;
mod parse;
mod reader;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::{
    DashStyle, Exporter, ExporterInfo, FlagSet, Flags, HandlerMetrics, HttpError, MetricFamily,
    Reply, ScrapeRequest, WebOptions,
};

use crate::cgroup::Layout;
use crate::classify::Runtime;
use crate::collector::{Collector, Kinds, Options};
use crate::cri::{BundleRoots, CriBundles};
use crate::docker::EngineClient;
use crate::machine::MachineSources;
use crate::metadata::Engine;

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-container-exporter",
    title: "Octo Container Exporter",
    upstream: "cAdvisor",
    build_info_metric: "octo_container_exporter_build_info",
    default_listen_address: ":8080",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::None,
};

/// cAdvisor's metric kinds (`-disable_metrics`, `-enable_metrics`).
const ALL_KINDS: [&str; 22] = [
    "cpu",
    "sched",
    "percpu",
    "memory",
    "memory_numa",
    "cpuLoad",
    "diskIO",
    "disk",
    "network",
    "tcp",
    "advtcp",
    "udp",
    "app",
    "process",
    "hugetlb",
    "perf_event",
    "referenced_memory",
    "cpu_topology",
    "resctrl",
    "cpuset",
    "oom_event",
    "pressure",
];
const DEFAULT_DISABLED: &str = "advtcp,cpu_topology,cpuset,hugetlb,memory_numa,process,referenced_memory,resctrl,sched,tcp,udp";
/// The kinds this exporter produces; the others are accepted and produce nothing.
const PRODUCED_KINDS: [&str; 6] = ["cpu", "percpu", "memory", "diskIO", "network", "pressure"];

fn flag_set() -> FlagSet {
    let set = INFO
        .flag_set("Exports container metrics from cgroups, as cAdvisor's Prometheus endpoint does.")
        .dash_style(DashStyle::AcceptSingle)
        .heading("cAdvisor")
        .value("port", Some("8080"), "port to listen (used unless --web.listen-address is given)")
        .value("listen_ip", Some(""), "IP to listen on, defaults to all IPs")
        .value("prometheus_endpoint", Some("/metrics"), "Endpoint to expose Prometheus metrics on (used unless --web.telemetry-path is given)")
        .value("url_base_prefix", Some(""), "prefix path that will be prepended to the metrics endpoint to support some reverse proxies")
        .value("docker", Some("unix:///var/run/docker.sock"), "docker endpoint (unix socket)")
        .value("podman", Some("unix:///var/run/podman/podman.sock"), "podman endpoint (unix socket, Docker-compatible API)")
        .bool("docker_only", false, "Only report docker containers in addition to root stats")
        .value("raw_cgroup_prefix_whitelist", Some(""), "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")
        .bool("raw_cgroup_name_labels", false, "Octo extension: give raw cgroups (services under systemd, cgroups made by hand; not a container runtime's) `name` and `container` labels from their last path component, so per-container dashboards work on hosts without containers")
        .bool("disable_root_cgroup_stats", false, "Disable collecting root Cgroup stats")
        .bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
        .value("whitelisted_container_labels", Some(""), "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")
        .value("env_metadata_whitelist", Some(""), "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers")
        .value("docker_env_metadata_whitelist", Some(""), "DEPRECATED: use env_metadata_whitelist")
        .value("disable_metrics", Some(DEFAULT_DISABLED), "comma-separated list of metrics to be disabled (cpu, percpu, memory, diskIO, network, pressure are produced; the other cAdvisor kinds are accepted)")
        .value("enable_metrics", Some(""), "comma-separated list of metrics to be enabled. If set, overrides 'disable_metrics'")
        .value("machine_id_file", Some("/etc/machine-id,/var/lib/dbus/machine-id"), "Comma-separated list of files to check for machine-id. Use the first one that exists.")
        .value("boot_id_file", None, "Comma-separated list of files to check for boot-id [default: <path.procfs>/sys/kernel/random/boot_id]")
        .value("update_machine_info_interval", Some("5m"), "Interval between machine info updates.")
        .heading("Paths (run in a container with the host's mounted)")
        .value("path.cgroupfs", Some("/sys/fs/cgroup"), "cgroup filesystem mount point (v1 controllers, v2 or hybrid are detected at start-up)")
        .value("path.procfs", Some("/proc"), "procfs mount point")
        .value("path.sysfs", Some("/sys"), "sysfs mount point (block device names, system UUID)")
        .value("path.os-release", Some("/etc/os-release"), "os-release file for cadvisor_version_info's osVersion")
        .value("path.containerd-state", Some("/run/containerd"), "containerd's state directory: the pod, namespace, container and image of its containers come from their bundles (io.containerd.runtime.v2.task/<namespace>/<id>/config.json); empty disables")
        .value("path.crio-storage", Some("/run/containers/storage,/var/lib/containers/storage"), "CRI-O's storage roots, comma-separated: the Kubernetes labels of its containers come from overlay-containers/<id>/userdata/config.json; empty disables")
        .value("cgroup.spec-max-age", Some("1m"), "How long limits (cpu shares, quota, memory limits) read from a cgroup are reused; 0 reads them on every scrape")
        .bool("cgroup.inotify", true, "Follow cgroup creation and removal with inotify instead of walking the hierarchies on every scrape");
    let set = set.heading(
        "Accepted for cAdvisor compatibility; not needed here (metrics are read at scrape time)",
    );
    let ignored_values: [(&str, &str); 34] = [
        ("housekeeping_interval", "1s"),
        ("max_housekeeping_interval", "60s"),
        ("global_housekeeping_interval", "1m"),
        ("storage_duration", "2m"),
        ("storage_driver", ""),
        ("storage_driver_user", "root"),
        ("storage_driver_password", "root"),
        ("storage_driver_host", "localhost:8086"),
        ("storage_driver_db", "cadvisor"),
        ("storage_driver_table", "stats"),
        ("storage_driver_buffer_duration", "1m0s"),
        ("event_storage_age_limit", "default=24h"),
        ("event_storage_event_limit", "default=100000"),
        ("application_metrics_count_limit", "100"),
        ("max_procs", "0"),
        ("container_hints", "/etc/cadvisor/container_hints.json"),
        ("docker_root", "/var/lib/docker"),
        ("docker-tls-cert", "cert.pem"),
        ("docker-tls-key", "key.pem"),
        ("docker-tls-ca", "ca.pem"),
        ("containerd", "/run/containerd/containerd.sock"),
        ("containerd-namespace", "k8s.io"),
        ("containerd_env_metadata_whitelist", ""),
        ("crio_client_timeout", "0s"),
        ("perf_events_config", ""),
        ("resctrl_interval", "0s"),
        ("referenced_reset_interval", "0"),
        ("collector_cert", ""),
        ("collector_key", ""),
        ("http_auth_file", ""),
        ("http_auth_realm", "localhost"),
        ("http_digest_file", ""),
        ("http_digest_realm", "localhost"),
        ("initial_splay_factor", "1"),
    ];
    let mut set = set;
    for (name, default) in ignored_values {
        set = set.value(name, Some(default), "accepted for compatibility; ignored");
    }
    for name in [
        "allow_dynamic_housekeeping",
        "storage_driver_secure",
        "profiling",
        "enable_load_reader",
        "log_cadvisor_usage",
        "docker-tls",
    ] {
        set = set.bool(
            name,
            name == "allow_dynamic_housekeeping",
            "accepted for compatibility; ignored",
        );
    }
    let set =
        set.heading("klog flags (accepted; logging is set with --log.level and --log.format)");
    let mut set = set.value("v", Some("2"), "klog verbosity (ignored)");
    for name in [
        "vmodule",
        "log_dir",
        "log_file",
        "log_file_max_size",
        "stderrthreshold",
        "log_backtrace_at",
    ] {
        set = set.value(name, None, "klog flag (ignored)");
    }
    for name in [
        "logtostderr",
        "alsologtostderr",
        "skip_headers",
        "skip_log_headers",
        "add_dir_header",
        "one_output",
    ] {
        set = set.bool(name, name == "logtostderr", "klog flag (ignored)");
    }
    set
}

fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The enabled kinds, as cAdvisor computes them: `-enable_metrics` when non-empty, otherwise
/// every kind minus `-disable_metrics` (whose value replaces the default set).
fn kinds(flags: &Flags) -> anyhow::Result<Kinds> {
    let parse = |flag: &str| -> anyhow::Result<Vec<String>> {
        let list = comma_list(flags.value(flag).unwrap_or(""));
        for kind in &list {
            if !ALL_KINDS.contains(&kind.as_str()) {
                bail!(
                    "-{flag}: unsupported metric {kind:?} specified (options: {})",
                    ALL_KINDS.join(", ")
                );
            }
        }
        Ok(list)
    };
    let enabled = parse("enable_metrics")?;
    let disabled = parse("disable_metrics")?;
    let on: Vec<&str> = if enabled.is_empty() {
        ALL_KINDS
            .iter()
            .copied()
            .filter(|k| !disabled.iter().any(|d| d == k))
            .collect()
    } else {
        enabled.iter().map(String::as_str).collect()
    };
    let ignored: Vec<&str> = on
        .iter()
        .copied()
        .filter(|k| !PRODUCED_KINDS.contains(k))
        .filter(|k| !["cpuLoad", "disk", "app", "perf_event", "oom_event"].contains(k))
        .collect();
    if !ignored.is_empty() {
        tracing::warn!(kinds = %ignored.join(","), "these metric kinds are not produced by octo-container-exporter");
    }
    let has = |kind: &str| on.contains(&kind);
    Ok(Kinds {
        cpu: has("cpu"),
        percpu: has("percpu"),
        memory: has("memory"),
        disk_io: has("diskIO"),
        network: has("network"),
        pressure: has("pressure"),
    })
}

/// The web options: the kit's `--web.*` flags, with cAdvisor's `-listen_ip`/`-port` and
/// `-url_base_prefix` + `-prometheus_endpoint` when the `--web.*` ones are not given.
fn web_options(flags: &Flags) -> anyhow::Result<WebOptions> {
    let mut web = WebOptions::from_flags(flags)?;
    if !flags.was_given("web.listen-address") {
        let port: u16 = flags
            .parsed("port")?
            .context("-port: a port number is needed")?;
        let ip = flags.value("listen_ip").unwrap_or("").trim();
        let address = if ip.contains(':') {
            format!(
                "[{}]:{port}",
                ip.trim_start_matches('[').trim_end_matches(']')
            )
        } else {
            format!("{ip}:{port}")
        };
        web.listen_addresses = vec![address];
    }
    if !flags.was_given("web.telemetry-path") {
        let prefix = flags
            .value("url_base_prefix")
            .unwrap_or("")
            .trim_end_matches('/');
        let endpoint = flags.value("prometheus_endpoint").unwrap_or("/metrics");
        if !endpoint.starts_with('/') {
            bail!("-prometheus_endpoint {endpoint:?} must start with /");
        }
        if !prefix.is_empty() && !prefix.starts_with('/') {
            bail!("-url_base_prefix {prefix:?} must start with /");
        }
        web.telemetry_path = format!("{prefix}{endpoint}");
    }
    Ok(web)
}

fn options(flags: &Flags) -> anyhow::Result<(Layout, Options)> {
    let path = |name: &str| PathBuf::from(flags.value(name).unwrap_or_default());
    let procfs = path("path.procfs");
    let cgroupfs = path("path.cgroupfs");
    let layout = Layout::detect(&cgroupfs)?;
    let boot_id_files = match flags.value("boot_id_file").filter(|v| !v.is_empty()) {
        Some(list) => comma_list(list).into_iter().map(PathBuf::from).collect(),
        None => vec![procfs.join("sys/kernel/random/boot_id")],
    };
    let mut label_whitelist = comma_list(flags.value("whitelisted_container_labels").unwrap_or(""));
    label_whitelist.sort();
    let opts = Options {
        kinds: kinds(flags)?,
        docker_only: flags.bool("docker_only"),
        raw_prefixes: comma_list(flags.value("raw_cgroup_prefix_whitelist").unwrap_or("")),
        raw_name_labels: flags.bool("raw_cgroup_name_labels"),
        disable_root_stats: flags.bool("disable_root_cgroup_stats"),
        store_labels: flags.bool("store_container_labels"),
        label_whitelist,
        spec_max_age: flags
            .duration("cgroup.spec-max-age")?
            .unwrap_or(Duration::from_secs(60)),
        machine_refresh: flags
            .duration("update_machine_info_interval")?
            .unwrap_or(Duration::from_secs(300)),
        sysfs: path("path.sysfs"),
        machine: MachineSources {
            procfs: procfs.clone(),
            sysfs: path("path.sysfs"),
            machine_id_files: comma_list(flags.value("machine_id_file").unwrap_or(""))
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            boot_id_files,
            os_release: path("path.os-release"),
        },
        procfs,
        watch: flags.bool("cgroup.inotify"),
        dir_fd_budget: raise_open_file_limit(),
        version: INFO.version.to_owned(),
    };
    Ok((layout, opts))
}

/// Descriptors kept free for what is not a cgroup directory: connections, the engines' sockets,
/// the file being read, inotify, the runtime's own.
const FD_RESERVE: u64 = 256;

/// Raises the soft open-file limit to the hard one, as Go programs (cAdvisor among them) do at
/// start-up, and returns how many cgroup directories may stay open within it.
fn raise_open_file_limit() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let limit = if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(err) => {
                tracing::debug!(soft, hard, error = %err, "cannot raise the open-file limit");
                soft
            }
        }
    } else {
        soft
    };
    usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX)
}

fn env_prefixes(flags: &Flags) -> Vec<String> {
    let mut prefixes = comma_list(flags.value("env_metadata_whitelist").unwrap_or(""));
    prefixes.extend(comma_list(
        flags.value("docker_env_metadata_whitelist").unwrap_or(""),
    ));
    prefixes
}

fn cri_bundles(flags: &Flags) -> CriBundles {
    let containerd_state = flags
        .value("path.containerd-state")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let crio_storage = comma_list(flags.value("path.crio-storage").unwrap_or(""))
        .into_iter()
        .map(PathBuf::from)
        .collect();
    CriBundles::new(
        BundleRoots {
            containerd_state,
            crio_storage,
        },
        env_prefixes(flags),
    )
}

fn engines(flags: &Flags) -> anyhow::Result<Vec<Engine>> {
    let env_prefixes = env_prefixes(flags);
    let timeout = Duration::from_secs(2);
    let mut engines = Vec::new();
    for (flag, runtime) in [("docker", Runtime::Docker), ("podman", Runtime::Podman)] {
        let endpoint = flags.value(flag).unwrap_or("").trim();
        if endpoint.is_empty() {
            continue;
        }
        let client =
            EngineClient::from_endpoint(endpoint, timeout).with_context(|| format!("-{flag}"))?;
        engines.push(Engine::new(runtime, client, env_prefixes.clone()));
    }
    Ok(engines)
}

struct ContainerExporter {
    collector: tokio::sync::Mutex<Collector>,
}

impl Exporter for ContainerExporter {
    async fn collect(&self, _request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        // One scrape at a time: they share the read buffers and caches, and a second
        // concurrent scrape would read the same files again for the same answer.
        let mut collector = self.collector.lock().await;
        Ok(collector.collect().await)
    }

    async fn handle_other(&self, request: &ScrapeRequest) -> Option<Reply> {
        (request.path == "/healthz").then(|| Reply::Text {
            status: 200,
            body: "ok".to_owned(),
        })
    }
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let web = web_options(&flags)?;
    let (layout, opts) = options(&flags)?;
    if flags.bool("docker-tls") {
        bail!(
            "-docker-tls is not supported: octo-container-exporter talks to the Engine API on its unix socket"
        );
    }
    let mut collector = Collector::new(layout, opts, engines(&flags)?, cri_bundles(&flags));
    collector.probe_engines().await;
    tracing::info!(
        version = INFO.version,
        cgroup_mode = collector.mode().as_str(),
        cgroups = collector.cgroup_count(),
        inotify = collector.is_watching(),
        open_cgroup_dirs = collector.open_dirs(),
        "Starting octo-container-exporter"
    );
    let exporter = ContainerExporter {
        collector: tokio::sync::Mutex::new(collector),
    };
    octo_exporter_kit::serve(&INFO, web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    octo_exporter_kit::run_exporter(flag_set().parse_env_or_exit(), run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        flag_set().parse_args(args).unwrap()
    }

    #[test]
    fn cadvisor_flag_grammar() {
        let flags = parse(&[
            "-port=9999",
            "--listen_ip",
            "127.0.0.1",
            "-docker_only",
            "-store_container_labels=false",
            "-whitelisted_container_labels=a,b",
            "-housekeeping_interval=10s",
            "-v=4",
            "-logtostderr",
            "-storage_duration",
            "1m",
            "-prometheus_endpoint=/m",
            "-url_base_prefix=/cadvisor",
        ]);
        assert!(flags.bool("docker_only"));
        assert!(!flags.bool("store_container_labels"));
        let web = web_options(&flags).unwrap();
        assert_eq!(web.listen_addresses, vec!["127.0.0.1:9999"]);
        assert_eq!(web.telemetry_path, "/cadvisor/m");
        let defaults = web_options(&parse(&[])).unwrap();
        assert_eq!(defaults.listen_addresses, vec![":8080"]);
        assert_eq!(defaults.telemetry_path, "/metrics");
        let kit = web_options(&parse(&["--web.listen-address=:1234", "-listen_ip=::1"])).unwrap();
        assert_eq!(kit.listen_addresses, vec![":1234"]);
        let v6 = web_options(&parse(&["-listen_ip=::1", "-port=81"])).unwrap();
        assert_eq!(v6.listen_addresses, vec!["[::1]:81"]);
        let bad = |args: &[&str]| flag_set().parse_args(args).is_err();
        assert!(bad(&["-no_such_flag"]));
        assert!(bad(&["-docker_only=maybe"]));
        assert!(bad(&["-port"]));
        let flags = parse(&[
            "-docker_only",
            "-port",
            "81",
            "-v",
            "3",
            "--no-store_container_labels",
        ]);
        assert!(flags.bool("docker_only") && !flags.bool("store_container_labels"));
        assert_eq!(flags.value("port"), Some("81"));
        assert_eq!(flags.value("v"), Some("3"));
    }

    /// cAdvisor's and klog's boolean flags and the kit's: Go's `flag` package knows them, so
    /// `-docker_only -port 8080` means two flags.
    const BOOL_FLAGS: [&str; 18] = [
        "docker_only",
        "raw_cgroup_name_labels",
        "disable_root_cgroup_stats",
        "store_container_labels",
        "cgroup.inotify",
        "allow_dynamic_housekeeping",
        "storage_driver_secure",
        "profiling",
        "enable_load_reader",
        "log_cadvisor_usage",
        "docker-tls",
        "logtostderr",
        "alsologtostderr",
        "skip_headers",
        "skip_log_headers",
        "add_dir_header",
        "one_output",
        "web.disable-exporter-metrics",
    ];

    #[test]
    fn every_listed_bool_flag_is_a_bool() {
        for name in BOOL_FLAGS {
            let flags = parse(&[&format!("-{name}"), "-port", "81"]);
            assert!(flags.bool(name), "{name}");
            assert_eq!(flags.value("port"), Some("81"), "{name}");
        }
    }

    #[test]
    fn metric_kinds() {
        let defaults = kinds(&parse(&[])).unwrap();
        assert_eq!(
            defaults,
            Kinds {
                cpu: true,
                percpu: true,
                memory: true,
                disk_io: true,
                network: true,
                pressure: true
            }
        );
        let replaced = kinds(&parse(&["-disable_metrics=percpu,network"])).unwrap();
        assert!(!replaced.percpu && !replaced.network && replaced.cpu);
        let exact = kinds(&parse(&[
            "-enable_metrics=memory",
            "-disable_metrics=memory",
        ]))
        .unwrap();
        assert!(exact.memory && !exact.cpu);
        assert!(kinds(&parse(&["-disable_metrics=nope"])).is_err());
    }
}
