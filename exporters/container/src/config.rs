//! The command line: cAdvisor's flags in Go `flag` grammar, declared once, and the typed
//! configuration they make (web options, cgroup layout, collector options, metadata sources).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::flags::FlagError;
use octo_exporter_kit::{
    DashStyle, ExporterFlagSet, ExporterFlags, ExporterInfo, Flag, FlagSet, Flags, WebFlags,
    WebOptions,
};

use crate::cgroup::Layout;
use crate::classify::Runtime;
use crate::cri::{BundleRoots, CriBundles};
use crate::disk_flags::{self, DiskFlags};
use crate::docker::EngineClient;
use crate::fd_limit::raise_open_file_limit;
use crate::machine::MachineSources;
use crate::metadata::Engine;
use crate::options::{ExtraKinds, Kinds, Options};

const ABOUT: &str =
    "Exports container metrics from cgroups, as cAdvisor's Prometheus endpoint does.";

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
/// (`cpuLoad` only with `-enable_load_reader`, as in cAdvisor.)
const PRODUCED_KINDS: [&str; 10] = [
    "cpu",
    "cpuLoad",
    "disk",
    "percpu",
    "memory",
    "diskIO",
    "network",
    "pressure",
    "oom_event",
    "process",
];
/// Kinds that are accepted without a warning although nothing is produced for them.
const QUIETLY_ACCEPTED_KINDS: [&str; 2] = ["app", "perf_event"];

/// cAdvisor's flags whose values nothing here needs (metrics are read at scrape time), with
/// their defaults.
const ACCEPTED_VALUES: [(&str, &str); 33] = [
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
/// cAdvisor's boolean flags nothing here needs, with their defaults.
const ACCEPTED_BOOLS: [(&str, bool); 4] = [
    ("allow_dynamic_housekeeping", true),
    ("storage_driver_secure", false),
    ("profiling", false),
    ("log_cadvisor_usage", false),
];
/// klog's flags taking a value (logging is set with `--log.level` and `--log.format`).
const KLOG_VALUES: [&str; 6] = [
    "vmodule",
    "log_dir",
    "log_file",
    "log_file_max_size",
    "stderrthreshold",
    "log_backtrace_at",
];
/// klog's boolean flags, with their defaults.
const KLOG_BOOLS: [(&str, bool); 6] = [
    ("logtostderr", true),
    ("alsologtostderr", false),
    ("skip_headers", false),
    ("skip_log_headers", false),
    ("add_dir_header", false),
    ("one_output", false),
];

/// The handles of the flags the configuration is read from.
#[derive(Debug, Clone, Copy)]
pub struct ConfigFlags {
    listen: ListenFlags,
    containers: ContainerFlags,
    kinds: KindFlags,
    load: LoadFlags,
    machine: MachineFlags,
    paths: PathFlags,
    disk: DiskFlags,
    docker_tls: Flag<bool>,
    /// The kit's `--web.*` flags, which win over cAdvisor's listen flags when given.
    web: WebFlags,
}

/// `-port`, `-listen_ip`, `-prometheus_endpoint`, `-url_base_prefix`.
#[derive(Debug, Clone, Copy)]
struct ListenFlags {
    port: Flag<u16>,
    listen_ip: Flag<String>,
    prometheus_endpoint: Flag<String>,
    url_base_prefix: Flag<String>,
}

/// Which cgroups are reported, with which labels, and where their metadata comes from.
#[derive(Debug, Clone, Copy)]
struct ContainerFlags {
    docker: Flag<String>,
    podman: Flag<String>,
    docker_only: Flag<bool>,
    raw_prefixes: Flag<String>,
    raw_name_labels: Flag<bool>,
    disable_root_stats: Flag<bool>,
    store_labels: Flag<bool>,
    label_whitelist: Flag<String>,
    env_whitelist: Flag<String>,
    docker_env_whitelist: Flag<String>,
}

/// `-disable_metrics`, `-enable_metrics`.
#[derive(Debug, Clone, Copy)]
struct KindFlags {
    disable: Flag<String>,
    enable: Flag<String>,
}

/// `-enable_load_reader` and the interval of its samples.
#[derive(Debug, Clone, Copy)]
struct LoadFlags {
    enable: Flag<bool>,
    interval: Flag<Duration>,
}

/// The sources of the `machine_*` facts.
#[derive(Debug, Clone, Copy)]
struct MachineFlags {
    machine_id_file: Flag<String>,
    boot_id_file: Flag<Option<String>>,
    refresh: Flag<Duration>,
}

/// Where the host's trees are, and how cgroups are followed.
#[derive(Debug, Clone, Copy)]
struct PathFlags {
    cgroupfs: Flag<String>,
    procfs: Flag<String>,
    sysfs: Flag<String>,
    os_release: Flag<String>,
    containerd_state: Flag<String>,
    crio_storage: Flag<String>,
    spec_max_age: Flag<Duration>,
    inotify: Flag<bool>,
}

/// The flags accepted for cAdvisor's and klog's command lines and never read; their handles
/// let tests check that Go's grammar reads them as it should.
#[derive(Debug, Clone)]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "only tests read the handles of ignored flags")
)]
struct Accepted {
    booleans: Vec<Flag<bool>>,
    verbosity: Flag<String>,
}

/// What the command line configures.
#[derive(Debug)]
pub struct Config {
    pub web: WebOptions,
    pub layout: Layout,
    pub options: Options,
    pub engines: Vec<Engine>,
    pub cri: CriBundles,
}

/// Declares every flag and parses `args` (the program name first).
pub fn parse(
    info: &'static ExporterInfo,
    args: Vec<OsString>,
) -> Result<(ExporterFlags, ConfigFlags), FlagError> {
    let mut set = info.flag_set(ABOUT);
    let (handles, _) = declare(&mut set);
    Ok((set.parse(args)?, handles))
}

fn declare(set: &mut ExporterFlagSet) -> (ConfigFlags, Accepted) {
    set.dash_style(DashStyle::AcceptSingle).heading("cAdvisor");
    let listen = declare_listen(set);
    let containers = declare_containers(set);
    let kinds = KindFlags {
        disable: set.string(
            "disable_metrics",
            DEFAULT_DISABLED,
            "comma-separated list of metrics to be disabled (cpu, percpu, memory, diskIO, disk, network, pressure, oom_event, process, hugetlb, cpuset, memory_numa, tcp, udp, advtcp, sched, referenced_memory, cpu_topology, and cpuLoad with -enable_load_reader, are produced; the other cAdvisor kinds are accepted)",
        ),
        enable: set.string(
            "enable_metrics",
            "",
            "comma-separated list of metrics to be enabled. If set, overrides 'disable_metrics'",
        ),
    };
    let load = LoadFlags {
        enable: set.bool(
            "enable_load_reader",
            false,
            "Whether to enable cpu load reader (the cpuLoad kind: task counts of cgroup v1 cgroups over netlink taskstats, sampled in the background)",
        ),
        interval: set.duration(
            "housekeeping_interval",
            "1s",
            "Interval between container housekeepings (here: between the load reader's samples)",
        ),
    };
    let machine = declare_machine(set);
    set.heading("Paths (run in a container with the host's mounted)");
    let paths = declare_paths(set);
    set.heading("disk kind (Octo's bounds on the background writable-layer walk)");
    let disk = disk_flags::declare(set);
    set.heading(
        "Accepted for cAdvisor compatibility; not needed here (metrics are read at scrape time)",
    );
    let (docker_tls, mut booleans) = declare_accepted(set);
    set.heading("klog flags (accepted; logging is set with --log.level and --log.format)");
    let verbosity = set.string("v", "2", "klog verbosity (ignored)");
    for name in KLOG_VALUES {
        set.optional(name, "klog flag (ignored)");
    }
    for (name, default) in KLOG_BOOLS {
        booleans.push(set.bool(name, default, "klog flag (ignored)"));
    }
    let handles = ConfigFlags {
        listen,
        containers,
        kinds,
        load,
        machine,
        paths,
        disk,
        docker_tls,
        web: set.kit().web,
    };
    (
        handles,
        Accepted {
            booleans,
            verbosity,
        },
    )
}

fn declare_listen(set: &mut FlagSet) -> ListenFlags {
    ListenFlags {
        port: set.number(
            "port",
            8080u16,
            "port to listen (used unless --web.listen-address is given)",
        ),
        listen_ip: set.string("listen_ip", "", "IP to listen on, defaults to all IPs"),
        prometheus_endpoint: set.string(
            "prometheus_endpoint",
            "/metrics",
            "Endpoint to expose Prometheus metrics on (used unless --web.telemetry-path is given)",
        ),
        url_base_prefix: set.string(
            "url_base_prefix",
            "",
            "prefix path that will be prepended to the metrics endpoint to support some reverse proxies",
        ),
    }
}

fn declare_containers(set: &mut FlagSet) -> ContainerFlags {
    ContainerFlags {
        docker: set.string(
            "docker",
            "unix:///var/run/docker.sock",
            "docker endpoint (unix socket)",
        ),
        podman: set.string(
            "podman",
            "unix:///var/run/podman/podman.sock",
            "podman endpoint (unix socket, Docker-compatible API)",
        ),
        docker_only: set.bool(
            "docker_only",
            false,
            "Only report docker containers in addition to root stats",
        ),
        raw_prefixes: set.string(
            "raw_cgroup_prefix_whitelist",
            "",
            "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified",
        ),
        raw_name_labels: set.bool(
            "raw_cgroup_name_labels",
            false,
            "Octo extension: give raw cgroups (services under systemd, cgroups made by hand; not a container runtime's) `name` and `container` labels from their last path component, so per-container dashboards work on hosts without containers",
        ),
        disable_root_stats: set.bool(
            "disable_root_cgroup_stats",
            false,
            "Disable collecting root Cgroup stats",
        ),
        store_labels: set.bool(
            "store_container_labels",
            true,
            "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name",
        ),
        label_whitelist: set.string(
            "whitelisted_container_labels",
            "",
            "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.",
        ),
        env_whitelist: set.string(
            "env_metadata_whitelist",
            "",
            "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers",
        ),
        docker_env_whitelist: set.string(
            "docker_env_metadata_whitelist",
            "",
            "DEPRECATED: use env_metadata_whitelist",
        ),
    }
}

fn declare_machine(set: &mut FlagSet) -> MachineFlags {
    MachineFlags {
        machine_id_file: set.string(
            "machine_id_file",
            "/etc/machine-id,/var/lib/dbus/machine-id",
            "Comma-separated list of files to check for machine-id. Use the first one that exists.",
        ),
        boot_id_file: set.optional(
            "boot_id_file",
            "Comma-separated list of files to check for boot-id [default: <path.procfs>/sys/kernel/random/boot_id]",
        ),
        refresh: set.duration(
            "update_machine_info_interval",
            "5m",
            "Interval between machine info updates.",
        ),
    }
}

fn declare_paths(set: &mut FlagSet) -> PathFlags {
    PathFlags {
        cgroupfs: set.string(
            "path.cgroupfs",
            "/sys/fs/cgroup",
            "cgroup filesystem mount point (v1 controllers, v2 or hybrid are detected at start-up)",
        ),
        procfs: set.string("path.procfs", "/proc", "procfs mount point"),
        sysfs: set.string(
            "path.sysfs",
            "/sys",
            "sysfs mount point (block device names, system UUID)",
        ),
        os_release: set.string(
            "path.os-release",
            "/etc/os-release",
            "os-release file for cadvisor_version_info's osVersion",
        ),
        containerd_state: set.string(
            "path.containerd-state",
            "/run/containerd",
            "containerd's state directory: the pod, namespace, container and image of its containers come from their bundles (io.containerd.runtime.v2.task/<namespace>/<id>/config.json); empty disables",
        ),
        crio_storage: set.string(
            "path.crio-storage",
            "/run/containers/storage,/var/lib/containers/storage",
            "CRI-O's storage roots, comma-separated: the Kubernetes labels of its containers come from overlay-containers/<id>/userdata/config.json; empty disables",
        ),
        spec_max_age: set.duration(
            "cgroup.spec-max-age",
            "1m",
            "How long limits (cpu shares, quota, memory limits) read from a cgroup are reused; 0 reads them on every scrape",
        ),
        inotify: set.bool(
            "cgroup.inotify",
            true,
            "Follow cgroup creation and removal with inotify instead of walking the hierarchies on every scrape",
        ),
    }
}

/// Declares cAdvisor's flags that nothing here needs; returns `-docker-tls` (refused when set)
/// and the other booleans.
fn declare_accepted(set: &mut FlagSet) -> (Flag<bool>, Vec<Flag<bool>>) {
    const HELP: &str = "accepted for compatibility; ignored";
    for (name, default) in ACCEPTED_VALUES {
        set.string(name, default, HELP);
    }
    let mut booleans: Vec<Flag<bool>> = ACCEPTED_BOOLS
        .iter()
        .map(|(name, default)| set.bool(*name, *default, HELP))
        .collect();
    let docker_tls = set.bool("docker-tls", false, HELP);
    booleans.push(docker_tls);
    (docker_tls, booleans)
}

impl Config {
    /// Reads the configuration; `version` is what `cadvisor_version_info` reports.
    pub fn read(
        flags: &ExporterFlags,
        handles: &ConfigFlags,
        version: &str,
    ) -> anyhow::Result<Config> {
        let web = web_options(flags, handles)?;
        let (layout, options) = options(flags, handles, version)?;
        if flags.get(handles.docker_tls) {
            bail!(
                "-docker-tls is not supported: octo-container-exporter talks to the Engine API on its unix socket"
            );
        }
        let engines = engines(flags, &handles.containers)?;
        let cri = cri_bundles(flags, handles);
        Ok(Config {
            web,
            layout,
            options,
            engines,
            cri,
        })
    }
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
fn kinds(flags: &Flags, handles: &KindFlags) -> anyhow::Result<Kinds> {
    let parse = |flag: Flag<String>| -> anyhow::Result<Vec<String>> {
        let list = comma_list(flags.get(flag));
        for kind in &list {
            if !ALL_KINDS.contains(&kind.as_str()) {
                bail!(
                    "-{}: unsupported metric {kind:?} specified (options: {})",
                    flags.name(flag),
                    ALL_KINDS.join(", ")
                );
            }
        }
        Ok(list)
    };
    let enabled = parse(handles.enable)?;
    let disabled = parse(handles.disable)?;
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
        .filter(|k| !PRODUCED_KINDS.contains(k) && !ExtraKinds::NAMES.contains(k))
        .filter(|k| !QUIETLY_ACCEPTED_KINDS.contains(k))
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
        oom_event: has("oom_event"),
        process: has("process"),
        cpu_load: has("cpuLoad"),
        extra: ExtraKinds::from_names(has),
        disk: has("disk"),
    })
}

/// The web options: the kit's `--web.*` flags, with cAdvisor's `-listen_ip`/`-port` and
/// `-url_base_prefix` + `-prometheus_endpoint` when the `--web.*` ones are not given.
fn web_options(flags: &ExporterFlags, handles: &ConfigFlags) -> anyhow::Result<WebOptions> {
    let listen = &handles.listen;
    let mut web = flags.web_options()?;
    if !flags.was_given(handles.web.listen_addresses) {
        let port = flags.get(listen.port);
        let ip = flags.get(listen.listen_ip).trim();
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
    if !flags.was_given(handles.web.telemetry_path) {
        let prefix = flags.get(listen.url_base_prefix).trim_end_matches('/');
        let endpoint = flags.get(listen.prometheus_endpoint);
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

fn options(
    flags: &Flags,
    handles: &ConfigFlags,
    version: &str,
) -> anyhow::Result<(Layout, Options)> {
    let paths = &handles.paths;
    let containers = &handles.containers;
    let path = |flag: Flag<String>| PathBuf::from(flags.get(flag));
    let procfs = path(paths.procfs);
    let layout = Layout::detect(&path(paths.cgroupfs))?;
    let mut label_whitelist = comma_list(flags.get(containers.label_whitelist));
    label_whitelist.sort();
    let kinds = kinds(flags, &handles.kinds)?;
    let opts = Options {
        load_reader: load_reader(flags, &handles.load, &kinds)?,
        kinds,
        disk: handles.disk.options(flags),
        docker_only: flags.get(containers.docker_only),
        raw_prefixes: comma_list(flags.get(containers.raw_prefixes)),
        raw_name_labels: flags.get(containers.raw_name_labels),
        disable_root_stats: flags.get(containers.disable_root_stats),
        store_labels: flags.get(containers.store_labels),
        label_whitelist,
        spec_max_age: flags.get(paths.spec_max_age),
        machine_refresh: flags.get(handles.machine.refresh),
        sysfs: path(paths.sysfs),
        machine: machine_sources(flags, handles, &procfs),
        procfs,
        watch: flags.get(paths.inotify),
        dir_fd_budget: raise_open_file_limit(),
        version: version.to_owned(),
    };
    Ok((layout, opts))
}

/// The load reader's sampling interval when `-enable_load_reader` is set and the `cpuLoad`
/// kind is on (cAdvisor reads the counts only then, and serves them only with the kind).
fn load_reader(flags: &Flags, load: &LoadFlags, kinds: &Kinds) -> anyhow::Result<Option<Duration>> {
    if !flags.get(load.enable) {
        return Ok(None);
    }
    if !kinds.cpu_load {
        tracing::info!(
            "-enable_load_reader is set but the cpuLoad metrics are disabled: no task counts are read"
        );
        return Ok(None);
    }
    let interval = flags.get(load.interval);
    if interval.is_zero() {
        bail!("-housekeeping_interval must be positive with -enable_load_reader");
    }
    Ok(Some(interval))
}

fn machine_sources(
    flags: &Flags,
    handles: &ConfigFlags,
    procfs: &std::path::Path,
) -> MachineSources {
    let machine = &handles.machine;
    let boot_id_files = match flags.get(machine.boot_id_file).filter(|v| !v.is_empty()) {
        Some(list) => comma_list(list).into_iter().map(PathBuf::from).collect(),
        None => vec![procfs.join("sys/kernel/random/boot_id")],
    };
    MachineSources {
        procfs: procfs.to_path_buf(),
        sysfs: PathBuf::from(flags.get(handles.paths.sysfs)),
        machine_id_files: comma_list(flags.get(machine.machine_id_file))
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        boot_id_files,
        os_release: PathBuf::from(flags.get(handles.paths.os_release)),
    }
}

fn env_prefixes(flags: &Flags, containers: &ContainerFlags) -> Vec<String> {
    let mut prefixes = comma_list(flags.get(containers.env_whitelist));
    prefixes.extend(comma_list(flags.get(containers.docker_env_whitelist)));
    prefixes
}

fn cri_bundles(flags: &Flags, handles: &ConfigFlags) -> CriBundles {
    let containerd_state = Some(flags.get(handles.paths.containerd_state).trim())
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let crio_storage = comma_list(flags.get(handles.paths.crio_storage))
        .into_iter()
        .map(PathBuf::from)
        .collect();
    CriBundles::new(
        BundleRoots {
            containerd_state,
            crio_storage,
        },
        env_prefixes(flags, &handles.containers),
    )
}

fn engines(flags: &Flags, containers: &ContainerFlags) -> anyhow::Result<Vec<Engine>> {
    let env_prefixes = env_prefixes(flags, containers);
    let timeout = Duration::from_secs(2);
    let mut engines = Vec::new();
    for (flag, runtime) in [
        (containers.docker, Runtime::Docker),
        (containers.podman, Runtime::Podman),
    ] {
        let endpoint = flags.get(flag).trim();
        if endpoint.is_empty() {
            continue;
        }
        let client = EngineClient::from_endpoint(endpoint, timeout)
            .with_context(|| format!("-{}", flags.name(flag)))?;
        engines.push(Engine::new(runtime, client, env_prefixes.clone()));
    }
    Ok(engines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::INFO;

    fn strings(args: &[&str]) -> Vec<OsString> {
        std::iter::once("octo-container-exporter")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn parse_with(args: &[&str]) -> (ExporterFlags, ConfigFlags) {
        parse(&INFO, strings(args)).unwrap()
    }

    fn web_of(args: &[&str]) -> anyhow::Result<WebOptions> {
        let (flags, handles) = parse_with(args);
        web_options(&flags, &handles)
    }

    fn kinds_of(args: &[&str]) -> anyhow::Result<Kinds> {
        let (flags, handles) = parse_with(args);
        kinds(&flags, &handles.kinds)
    }

    /// The whole declaration with the handles of the accepted flags, as [`parse`](super::parse)
    /// declares it.
    fn declared() -> (ExporterFlagSet, ConfigFlags, Accepted) {
        let mut set = INFO.flag_set(ABOUT);
        let (handles, accepted) = declare(&mut set);
        (set, handles, accepted)
    }

    #[test]
    fn cadvisor_flag_grammar() {
        let (flags, h) = parse_with(&[
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
        assert!(flags.get(h.containers.docker_only));
        assert!(!flags.get(h.containers.store_labels));
        let web = web_options(&flags, &h).unwrap();
        assert_eq!(web.listen_addresses, vec!["127.0.0.1:9999"]);
        assert_eq!(web.telemetry_path, "/cadvisor/m");
        let defaults = web_of(&[]).unwrap();
        assert_eq!(defaults.listen_addresses, vec![":8080"]);
        assert_eq!(defaults.telemetry_path, "/metrics");
        let kit = web_of(&["--web.listen-address=:1234", "-listen_ip=::1"]).unwrap();
        assert_eq!(kit.listen_addresses, vec![":1234"]);
        let v6 = web_of(&["-listen_ip=::1", "-port=81"]).unwrap();
        assert_eq!(v6.listen_addresses, vec!["[::1]:81"]);
        let bad = |args: &[&str]| parse(&INFO, strings(args)).is_err();
        assert!(bad(&["-no_such_flag"]));
        assert!(bad(&["-docker_only=maybe"]));
        assert!(bad(&["-port"]));
        let (set, h, accepted) = declared();
        let flags = set
            .parse_args(&[
                "-docker_only",
                "-port",
                "81",
                "-v",
                "3",
                "--no-store_container_labels",
            ])
            .unwrap();
        assert!(flags.get(h.containers.docker_only) && !flags.get(h.containers.store_labels));
        assert_eq!(flags.get(h.listen.port), 81);
        assert_eq!(flags.get(accepted.verbosity), "3");
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
            let (set, h, accepted) = declared();
            let flags = set
                .parse_args(&[&format!("-{name}"), "-port", "81"])
                .unwrap();
            let mut booleans = vec![
                h.load.enable,
                h.containers.docker_only,
                h.containers.raw_name_labels,
                h.containers.disable_root_stats,
                h.containers.store_labels,
                h.paths.inotify,
            ];
            booleans.extend(accepted.booleans);
            let value = match booleans.into_iter().find(|flag| flags.name(*flag) == name) {
                Some(flag) => flags.get(flag),
                // The kit's own: read through what it makes of its flags.
                None => flags.web_options().unwrap().disable_exporter_metrics,
            };
            assert!(value, "{name}");
            assert_eq!(flags.get(h.listen.port), 81, "{name}");
        }
    }

    #[test]
    fn metric_kinds() {
        let defaults = kinds_of(&[]).unwrap();
        assert_eq!(
            defaults,
            Kinds {
                cpu: true,
                percpu: true,
                memory: true,
                disk_io: true,
                network: true,
                pressure: true,
                oom_event: true,
                process: false,
                cpu_load: true,
                extra: ExtraKinds::default(),
                disk: true,
            }
        );
        let replaced = kinds_of(&["-disable_metrics=percpu,network"]).unwrap();
        assert!(!replaced.percpu && !replaced.network && replaced.cpu);
        let exact = kinds_of(&["-enable_metrics=memory", "-disable_metrics=memory"]).unwrap();
        assert!(exact.memory && !exact.cpu);
        assert!(kinds_of(&["-disable_metrics=nope"]).is_err());
        let process = kinds_of(&["-enable_metrics=process,oom_event"]).unwrap();
        assert!(process.process && process.oom_event && !process.memory);
        let extra = kinds_of(&["-enable_metrics=hugetlb,tcp,cpu_topology"]).unwrap();
        assert!(extra.extra.hugetlb && extra.extra.tcp && extra.extra.cpu_topology);
        assert!(!extra.extra.udp && !extra.cpu);
        let no_disk = kinds_of(&["-disable_metrics=disk,process"]).unwrap();
        assert!(!no_disk.disk && no_disk.disk_io && !no_disk.process);
        assert!(!process.disk);
    }

    #[test]
    fn the_load_reader_needs_its_flag_and_the_cpu_load_kind() {
        let interval = |args: &[&str]| {
            let (flags, handles) = parse_with(args);
            let kinds = kinds(&flags, &handles.kinds).unwrap();
            load_reader(&flags, &handles.load, &kinds)
        };
        assert_eq!(interval(&[]).unwrap(), None);
        assert_eq!(
            interval(&["-enable_load_reader"]).unwrap(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            interval(&["-enable_load_reader", "-housekeeping_interval=250ms"]).unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            interval(&["-enable_load_reader", "-disable_metrics=cpuLoad"]).unwrap(),
            None
        );
        assert_eq!(
            interval(&["-enable_load_reader", "-enable_metrics=cpu"]).unwrap(),
            None
        );
        assert!(interval(&["-enable_load_reader", "-housekeeping_interval=0s"]).is_err());
    }

    #[test]
    fn kit_web_flags_win_over_cadvisor_listen_flags_in_either_dash_style() {
        let (flags, handles) =
            parse_with(&["-web.listen-address=:1", "--web.telemetry-path", "/m"]);
        let web = web_options(&flags, &handles).unwrap();
        assert_eq!(web.listen_addresses, vec![":1"]);
        assert_eq!(web.telemetry_path, "/m");
        let (flags, handles) = parse_with(&["-port=9999", "-prometheus_endpoint=/p"]);
        let web = web_options(&flags, &handles).unwrap();
        assert!(web.listen_addresses[0].ends_with(":9999"), "{web:?}");
        assert_eq!(web.telemetry_path, "/p");
    }
}
