//! One scrape: bring the cgroup set and runtime metadata up to date, then read every reported
//! cgroup's files once and turn them into cAdvisor's families. Nothing runs between scrapes and
//! nothing is kept but what does not change: metadata by container id, creation times, and
//! limits for `--cgroup.spec-max-age`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use octo_exporter_kit::exposition::sanitize_name;
use octo_exporter_kit::{MetricFamily, SharedLabels, shared_labels};

use crate::cgroup::{Layout, Mode};
use crate::classify::{Kind, Runtime, classify, under_kubepods};
use crate::cri::CriBundles;
use crate::discovery::{CgroupData, CgroupTree, Dirs};
use crate::docker::Metadata;
use crate::families::{F, Families, spec_memory};
use crate::machine::{MachineInfo, MachineSources};
use crate::metadata::Engine;
use crate::parse::OPERATIONS;
use crate::stats::{CgroupReader, Spec, Stats, Want};

/// cAdvisor's metric kinds this exporter produces (the others are accepted and produce nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub cpu: bool,
    pub percpu: bool,
    pub memory: bool,
    pub disk_io: bool,
    pub network: bool,
    pub pressure: bool,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kinds: Kinds,
    pub docker_only: bool,
    pub raw_prefixes: Vec<String>,
    /// `-raw_cgroup_name_labels`: raw cgroups get `name` and `container` from their basename.
    pub raw_name_labels: bool,
    pub disable_root_stats: bool,
    pub store_labels: bool,
    pub label_whitelist: Vec<String>,
    pub spec_max_age: Duration,
    pub machine_refresh: Duration,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub machine: MachineSources,
    pub watch: bool,
    /// How many cgroup directories may be held open (see `discovery`).
    pub dir_fd_budget: usize,
    pub version: String,
}

/// What is cached per cgroup path.
#[derive(Debug)]
struct Entry {
    kind: Kind,
    created: Option<f64>,
    spec: Spec,
    spec_read: Option<Instant>,
    /// The cgroup's first process (for its network namespace), looked up with the limits.
    pid: Option<u32>,
}

impl CgroupData for Entry {
    fn new(path: &str) -> Entry {
        Entry {
            kind: classify(path),
            created: None,
            spec: Spec::default(),
            spec_read: None,
            pid: None,
        }
    }
}

/// A reported cgroup with its labels, recomputed when cgroups or metadata change.
#[derive(Debug)]
struct Tracked {
    path: String,
    /// Its node in the tree (valid until the tree's generation changes, when this is rebuilt).
    slot: usize,
    /// The engine (index) and id holding its metadata, for runtime containers.
    runtime: Option<(Runtime, String)>,
    engine: Option<usize>,
    meta: Option<Arc<Metadata>>,
    base: SharedLabels,
}

pub struct Collector {
    opts: Options,
    tree: CgroupTree<Entry>,
    reader: CgroupReader,
    stats: Stats,
    engines: Vec<Engine>,
    cri: CriBundles,
    devices: DeviceNames,
    boot_time: f64,
    machine: Option<MachineInfo>,
    machine_read: Option<Instant>,
    tracked: Vec<Tracked>,
    tracked_key: Option<(u64, Vec<u64>, u64)>,
    cpu_names: Vec<String>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("mode", &self.reader.mode())
            .field("cgroups", &self.tree.len())
            .finish_non_exhaustive()
    }
}

impl Collector {
    pub fn new(layout: Layout, opts: Options, engines: Vec<Engine>, cri: CriBundles) -> Collector {
        let reader = CgroupReader::new(layout, opts.procfs.clone());
        let (trees, reported) = reader.trees();
        let tree = CgroupTree::new(trees, reported, opts.watch, opts.dir_fd_budget);
        let boot_time = boot_time(&opts.procfs);
        Collector {
            devices: DeviceNames::new(opts.sysfs.clone()),
            reader,
            opts,
            tree,
            stats: Stats::default(),
            engines,
            cri,
            boot_time,
            machine: None,
            machine_read: None,
            tracked: Vec::new(),
            tracked_key: None,
            cpu_names: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.reader.mode()
    }

    pub fn cgroup_count(&self) -> usize {
        self.tree.len()
    }

    pub fn is_watching(&self) -> bool {
        self.tree.is_watching()
    }

    /// How many cgroup directories are held open.
    pub fn open_dirs(&self) -> usize {
        self.tree.open_dirs()
    }

    /// Asks each engine for its version, so `cadvisor_version_info` and the log say at once
    /// whether metadata is available.
    pub async fn probe_engines(&mut self) {
        for engine in &mut self.engines {
            engine.probe().await;
        }
    }

    pub async fn collect(&mut self) -> Vec<MetricFamily> {
        let mut out = Vec::with_capacity(8);
        self.tree.refresh();
        self.refresh_metadata().await;
        self.refresh_tracked();
        let machine_ok = self.refresh_machine();
        let mut families = Families::new();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as f64;
        let mut seen_netns: HashSet<PathBuf> = HashSet::new();
        if self.opts.kinds.disk_io {
            let root = self.tree.slot("/").and_then(|slot| self.tree.node(slot));
            self.reader
                .begin_scrape(root.map(|node| node.dirs("/")).as_ref());
        }
        let tracked = std::mem::take(&mut self.tracked);
        for container in &tracked {
            self.collect_one(container, now, &mut seen_netns, &mut families);
        }
        self.tracked = tracked;
        out.extend(families.into_vec());
        // The root cgroup must be readable; without it nothing was listed.
        let listing_failed = self.tree.paths().next().is_none();
        out.push(
            MetricFamily::gauge(
                "container_scrape_error",
                "1 if there was an error while getting container metrics, 0 otherwise",
            )
            .with(&[], if listing_failed { 1.0 } else { 0.0 }),
        );
        out.extend(self.machine_families(machine_ok));
        out
    }

    fn engine_for(&self, runtime: Runtime) -> Option<usize> {
        self.engines.iter().position(|e| e.runtime == runtime)
    }

    async fn refresh_metadata(&mut self) {
        for index in 0..self.engines.len() {
            let runtime = self.engines[index].runtime;
            let ids: HashSet<&str> = self
                .tree
                .data()
                .filter_map(|entry| match &entry.kind {
                    Kind::Container { runtime: r, id } if *r == runtime => Some(id.as_str()),
                    Kind::Candidate { id } if runtime == Runtime::Docker => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            let engine = &mut self.engines[index];
            engine.update(&ids).await;
            engine.refresh_health().await;
        }
        let generation = self.tree.generation();
        if self.cri.needs_update(generation) {
            let cri_ids: HashMap<&str, Runtime> = self
                .tree
                .paths()
                .filter_map(|(path, slot)| match &self.tree.node(slot)?.data.kind {
                    Kind::Container {
                        runtime: runtime @ (Runtime::Containerd | Runtime::Crio),
                        id,
                    } => Some((id.as_str(), *runtime)),
                    Kind::Candidate { id } if under_kubepods(path) => {
                        Some((id.as_str(), Runtime::Containerd))
                    }
                    _ => None,
                })
                .collect();
            self.cri.update(generation, &cri_ids);
        }
    }

    /// Decides what each cgroup is reported as, and its labels: cAdvisor gives every series
    /// the union of all containers' label names, with empty values where a container lacks one.
    fn refresh_tracked(&mut self) {
        let key = (
            self.tree.generation(),
            self.engines
                .iter()
                .map(Engine::generation)
                .collect::<Vec<_>>(),
            self.cri.generation(),
        );
        if self.tracked_key.as_ref() == Some(&key) {
            return;
        }
        self.tracked_key = Some(key);
        let docker = self.engine_for(Runtime::Docker);
        let mut seeds: Vec<(Tracked, Vec<(String, String)>)> = Vec::new();
        for (path, slot) in self.tree.paths() {
            let Some(entry) = self.tree.node(slot).map(|node| &node.data) else {
                continue;
            };
            let (runtime, engine) = match &entry.kind {
                Kind::Ignored => continue,
                Kind::Root | Kind::Raw => (None, None),
                Kind::Container { runtime, id } => {
                    let engine = self.engine_for(*runtime);
                    // An engine that answered and does not know a running container with this
                    // id: cAdvisor then reports the cgroup as a raw one.
                    let denied = engine.is_some_and(|e| self.engines[e].denies(id));
                    if denied {
                        (None, None)
                    } else {
                        (Some((*runtime, id.clone())), engine)
                    }
                }
                Kind::Candidate { id } => {
                    if docker.is_some_and(|e| self.engines[e].get(id).is_some()) {
                        (Some((Runtime::Docker, id.clone())), docker)
                    } else if under_kubepods(path) {
                        (Some((Runtime::Containerd, id.clone())), None)
                    } else {
                        (None, None)
                    }
                }
            };
            let is_root = matches!(entry.kind, Kind::Root);
            if self.opts.docker_only
                && !is_root
                && runtime.is_none()
                && !self
                    .opts
                    .raw_prefixes
                    .iter()
                    .any(|prefix| !prefix.is_empty() && path.starts_with(prefix.as_str()))
            {
                continue;
            }
            let meta = match (&runtime, engine) {
                (Some((_, id)), Some(e)) => self.engines[e].get(id).cloned(),
                (Some((_, id)), None) => self.cri.get(id).cloned(),
                _ => None,
            };
            let labels = container_labels(path, runtime.as_ref(), meta.as_deref(), &self.opts);
            seeds.push((
                Tracked {
                    path: path.to_owned(),
                    slot,
                    runtime,
                    engine,
                    meta,
                    base: shared_labels(Vec::new()),
                },
                labels,
            ));
        }
        let union: BTreeSet<String> = seeds
            .iter()
            .flat_map(|(_, labels)| labels.iter().map(|(k, _)| k.clone()))
            .collect();
        let mut tracked: Vec<Tracked> = Vec::with_capacity(seeds.len());
        for (mut t, labels) in seeds {
            t.base = shared_labels(
                union
                    .iter()
                    .map(|name| {
                        let value = labels
                            .iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        (name.clone(), value)
                    })
                    .collect(),
            );
            tracked.push(t);
        }
        // In the order the exposition sorts series (by label values), so encoding finds most
        // families already sorted.
        tracked.sort_by(|a, b| {
            a.base
                .iter()
                .map(|(_, v)| v)
                .cmp(b.base.iter().map(|(_, v)| v))
        });
        self.tracked = tracked;
    }

    fn refresh_machine(&mut self) -> bool {
        let stale = self
            .machine_read
            .is_none_or(|at| at.elapsed() >= self.opts.machine_refresh);
        if stale {
            self.machine_read = Some(Instant::now());
            match MachineInfo::read(&self.opts.machine) {
                Ok(info) => self.machine = Some(info),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read machine info");
                    self.machine = None;
                }
            }
        }
        self.machine.is_some()
    }

    fn collect_one(
        &mut self,
        container: &Tracked,
        now: f64,
        seen_netns: &mut HashSet<PathBuf>,
        families: &mut Families,
    ) {
        let path = container.path.as_str();
        let base = &container.base;
        let is_root = path == "/";
        let Some(node) = self.tree.node_mut(container.slot) else {
            return;
        };
        let (entry, dirs) = node.split(path);
        let reader = &mut self.reader;
        if entry
            .spec_read
            .is_none_or(|at| at.elapsed() >= self.opts.spec_max_age)
        {
            entry.spec = reader.spec(&dirs);
            entry.spec_read = Some(Instant::now());
        }
        if entry.created.is_none() {
            entry.created = reader.creation_time(&dirs, self.boot_time);
        }
        let mut spec = entry.spec;
        let created = container
            .meta
            .as_ref()
            .and_then(|m| m.created)
            .or(entry.created);
        if is_root && let Some(machine) = &self.machine {
            spec.has_memory = true;
            spec.memory_limit = machine.memory_bytes;
            spec.memory_swap_limit = machine.swap_bytes;
        }
        if let Some(created) = created {
            families.push(F::CreationTime, base, &[], created.trunc());
            let started = container
                .meta
                .as_ref()
                .and_then(|m| m.started)
                .unwrap_or(created);
            families.push(F::StartTime, base, &[], started.trunc());
        }
        if spec.has_cpu {
            families.push(F::SpecCpuPeriod, base, &[], spec.cpu_period as f64);
            if spec.cpu_quota != 0 {
                families.push(F::SpecCpuQuota, base, &[], spec.cpu_quota as f64);
            }
            families.push(F::SpecCpuShares, base, &[], spec.cpu_shares as f64);
        }
        if spec.has_memory {
            families.push(
                F::SpecMemoryLimit,
                base,
                &[],
                spec_memory(spec.memory_limit),
            );
            families.push(
                F::SpecMemorySwapLimit,
                base,
                &[],
                spec_memory(spec.memory_swap_limit),
            );
            families.push(
                F::SpecMemoryReservation,
                base,
                &[],
                spec_memory(spec.memory_reservation),
            );
        }
        if is_root && self.opts.disable_root_stats {
            return;
        }
        let kinds = self.opts.kinds;
        let want = Want {
            cpu: kinds.cpu,
            throttling: kinds.cpu && spec.cpu_quota != 0,
            memory: kinds.memory,
            disk_io: kinds.disk_io,
            pressure: kinds.pressure && reader.has_pressure(&dirs),
        };
        let mut stats = std::mem::take(&mut self.stats);
        reader.read(&dirs, &want, &mut stats);
        if kinds.network {
            entry.pid = read_network(
                reader, container, &dirs, entry.pid, is_root, seen_netns, &mut stats,
            );
        }
        families.push(F::LastSeen, base, &[], now);
        if let (Some((_, id)), Some(engine)) = (&container.runtime, container.engine)
            && container.meta.is_some()
        {
            let value = match self.engines[engine].healthy(id) {
                Some(true) => 1.0,
                Some(false) => 0.0,
                None => -1.0,
            };
            families.push(F::HealthState, base, &[], value);
        }
        self.push_stats(&stats, spec, base, families);
        self.stats = stats;
    }

    fn push_stats(
        &mut self,
        stats: &Stats,
        spec: Spec,
        base: &SharedLabels,
        families: &mut Families,
    ) {
        let kinds = self.opts.kinds;
        if let Some(cpu) = &stats.cpu {
            families.push(F::CpuUser, base, &[], cpu.user_ns as f64 / 1e9);
            families.push(F::CpuSystem, base, &[], cpu.system_ns as f64 / 1e9);
            if kinds.percpu && !cpu.per_cpu_ns.is_empty() {
                while self.cpu_names.len() < cpu.per_cpu_ns.len() {
                    let index = self.cpu_names.len();
                    self.cpu_names.push(format!("cpu{index:02}"));
                }
                for (index, ns) in cpu.per_cpu_ns.iter().enumerate() {
                    if *ns > 0 {
                        families.push(
                            F::CpuUsage,
                            base,
                            &[("cpu", &self.cpu_names[index])],
                            *ns as f64 / 1e9,
                        );
                    }
                }
            } else if cpu.total_ns > 0 {
                families.push(
                    F::CpuUsage,
                    base,
                    &[("cpu", "total")],
                    cpu.total_ns as f64 / 1e9,
                );
            }
            if spec.cpu_quota != 0
                && let Some(t) = cpu.throttling
            {
                families.push(F::CfsPeriods, base, &[], t.periods as f64);
                families.push(
                    F::CfsThrottledPeriods,
                    base,
                    &[],
                    t.throttled_periods as f64,
                );
                families.push(
                    F::CfsThrottledSeconds,
                    base,
                    &[],
                    t.throttled_ns as f64 / 1e9,
                );
                families.push(F::CfsBurstPeriods, base, &[], t.burst_periods as f64);
                families.push(F::CfsBurstSeconds, base, &[], t.burst_ns as f64 / 1e9);
            }
        }
        if let Some(m) = &stats.memory {
            families.push(F::MemCache, base, &[], m.cache as f64);
            families.push(F::MemRss, base, &[], m.rss as f64);
            if let Some(kernel) = m.kernel {
                families.push(F::MemKernel, base, &[], kernel as f64);
            }
            families.push(F::MemMappedFile, base, &[], m.mapped_file as f64);
            families.push(F::MemSwap, base, &[], m.swap as f64);
            if let Some(failcnt) = m.failcnt {
                families.push(F::MemFailcnt, base, &[], failcnt as f64);
            }
            families.push(F::MemUsage, base, &[], m.usage as f64);
            if let Some(max) = m.max_usage {
                families.push(F::MemMaxUsage, base, &[], max as f64);
            }
            families.push(F::MemWorkingSet, base, &[], m.working_set as f64);
            families.push(F::MemActiveFile, base, &[], m.active_file as f64);
            families.push(F::MemInactiveFile, base, &[], m.inactive_file as f64);
            for (failure, value) in [("pgfault", m.pgfault), ("pgmajfault", m.pgmajfault)] {
                for scope in ["container", "hierarchy"] {
                    families.push(
                        F::MemFailures,
                        base,
                        &[("failure_type", failure), ("scope", scope)],
                        value as f64,
                    );
                }
            }
            if let Some(v2) = m.v2 {
                families.push(F::MemEventsHigh, base, &[], v2.events_high as f64);
                families.push(F::MemEventsMax, base, &[], v2.events_max as f64);
                families.push(F::MemFileDirty, base, &[], v2.file_dirty as f64);
                families.push(F::MemFileWriteback, base, &[], v2.file_writeback as f64);
                families.push(F::MemPgscan, base, &[], v2.pgscan as f64);
                families.push(F::MemPgsteal, base, &[], v2.pgsteal as f64);
                families.push(F::MemRefaultFile, base, &[], v2.refault_file as f64);
                families.push(F::MemRefaultAnon, base, &[], v2.refault_anon as f64);
            }
        }
        for io in &stats.io {
            let device = self.devices.name(io.major, io.minor).to_owned();
            let device_label = [("device", device.as_str())];
            let pairs = [
                (F::FsReadsBytes, io.bytes[0]),
                (F::FsWritesBytes, io.bytes[1]),
                (F::FsReads, io.ios[0]),
                (F::FsWrites, io.ios[1]),
            ];
            for (family, value) in pairs {
                if let Some(value) = value {
                    families.push(family, base, &device_label, value as f64);
                }
            }
            let costs = [
                F::IoCostUsage,
                F::IoCostWait,
                F::IoCostIndebt,
                F::IoCostIndelay,
            ];
            for (family, value) in costs.into_iter().zip(io.cost) {
                if let Some(value) = value {
                    families.push(family, base, &device_label, value as f64 / 1e6);
                }
            }
            let (major, minor) = (io.major.to_string(), io.minor.to_string());
            for (operation, value) in OPERATIONS.iter().zip(io.bytes) {
                if let Some(value) = value {
                    families.push(
                        F::BlkioDevice,
                        base,
                        &[
                            ("device", &device),
                            ("major", &major),
                            ("minor", &minor),
                            ("operation", operation),
                        ],
                        value as f64,
                    );
                }
            }
        }
        for interface in &stats.network {
            let label = [("interface", interface.name.as_str())];
            for (family, value) in [
                (F::NetRxBytes, interface.rx_bytes),
                (F::NetRxPackets, interface.rx_packets),
                (F::NetRxDropped, interface.rx_dropped),
                (F::NetRxErrors, interface.rx_errors),
                (F::NetTxBytes, interface.tx_bytes),
                (F::NetTxPackets, interface.tx_packets),
                (F::NetTxDropped, interface.tx_dropped),
                (F::NetTxErrors, interface.tx_errors),
            ] {
                families.push(family, base, &label, value as f64);
            }
        }
        let psi = [
            (F::PsiCpuWaiting, F::PsiCpuStalled),
            (F::PsiMemoryWaiting, F::PsiMemoryStalled),
            (F::PsiIoWaiting, F::PsiIoStalled),
        ];
        for ((waiting, stalled), pressure) in psi.into_iter().zip(stats.pressure) {
            if let Some((some, full)) = pressure {
                if let Some(some) = some {
                    families.push(waiting, base, &[], some as f64 / 1e6);
                }
                if let Some(full) = full {
                    families.push(stalled, base, &[], full as f64 / 1e6);
                }
            }
        }
    }

    fn machine_families(&self, machine_ok: bool) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        out.push(
            MetricFamily::gauge(
                "machine_scrape_error",
                "1 if there was an error while getting machine metrics, 0 otherwise.",
            )
            .with(&[], if machine_ok { 0.0 } else { 1.0 }),
        );
        let docker_version = self
            .engine_for(Runtime::Docker)
            .and_then(|e| self.engines[e].version())
            .filter(|v| !v.is_empty())
            .unwrap_or("Unknown");
        let (kernel, os) = self
            .machine
            .as_ref()
            .map(|m| (m.kernel_version.as_str(), m.os_version.as_str()))
            .unwrap_or(("", ""));
        out.push(
            MetricFamily::gauge(
                "cadvisor_version_info",
                "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision.",
            )
            .with(
                &[
                    ("cadvisorRevision", "octo"),
                    ("cadvisorVersion", &self.opts.version),
                    ("dockerVersion", docker_version),
                    ("kernelVersion", kernel),
                    ("osVersion", os),
                ],
                1.0,
            ),
        );
        let Some(m) = &self.machine else {
            return out;
        };
        let labels = [
            ("boot_id", m.boot_id.as_str()),
            ("machine_id", m.machine_id.as_str()),
            ("system_uuid", m.system_uuid.as_str()),
        ];
        for (name, help, value) in [
            (
                "machine_cpu_physical_cores",
                "Number of physical CPU cores.",
                m.physical_cores,
            ),
            ("machine_cpu_cores", "Number of logical CPU cores.", m.cores),
            ("machine_cpu_sockets", "Number of CPU sockets.", m.sockets),
            (
                "machine_memory_bytes",
                "Amount of memory installed on the machine.",
                m.memory_bytes,
            ),
            (
                "machine_swap_bytes",
                "Amount of swap memory available on the machine.",
                m.swap_bytes,
            ),
        ] {
            out.push(MetricFamily::gauge(name, help).with(&labels, value as f64));
        }
        out
    }
}

/// Reads the container's interfaces; returns the pid to remember for the next scrape
/// (a container's first process rarely changes, so `cgroup.procs` is read only when the
/// remembered one is gone).
fn read_network(
    reader: &mut CgroupReader,
    container: &Tracked,
    dirs: &Dirs<'_>,
    cached_pid: Option<u32>,
    is_root: bool,
    seen_netns: &mut HashSet<PathBuf>,
    stats: &mut Stats,
) -> Option<u32> {
    let meta = container.meta.as_ref();
    if !is_root
        && (container.runtime.is_none()
            || meta.is_some_and(|m| m.network_mode.starts_with("container:")))
    {
        return None;
    }
    let fixed = if is_root {
        Some(1)
    } else {
        meta.and_then(|m| m.pid)
    };
    let mut pid = fixed.or(cached_pid);
    let mut netns = pid.and_then(|p| reader.netns(p));
    if netns.is_none() && fixed.is_none() {
        pid = reader.first_pid(dirs);
        netns = pid.and_then(|p| reader.netns(p));
    }
    let pid = pid?;
    // One namespace is reported once: pods share the sandbox's, and host-network
    // containers the machine's (reported on `/`).
    let first_sighting = netns.is_some_and(|n| seen_netns.insert(n));
    if first_sighting || is_root {
        reader.network(pid, stats);
    }
    Some(pid)
}

/// The labels cAdvisor gives a container (`DefaultContainerLabels`, or `BaseContainerLabels`
/// with `-store_container_labels=false`), plus `container`, `pod` and `namespace` as the
/// kubelet adds them; for plain Docker and Podman containers `container` is the container name,
/// so dashboards grouping by `container` work without Kubernetes.
pub fn container_labels(
    path: &str,
    runtime: Option<&(Runtime, String)>,
    meta: Option<&Metadata>,
    opts: &Options,
) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = vec![("id".to_owned(), path.to_owned())];
    let add = |labels: &mut Vec<(String, String)>, name: String, value: &str| {
        if !labels.iter().any(|(k, _)| *k == name) {
            labels.push((name, value.to_owned()));
        }
    };
    match (runtime, meta) {
        (Some(_), Some(meta)) => {
            if !meta.name.is_empty() {
                add(&mut labels, "name".to_owned(), &meta.name);
            }
            if !meta.image.is_empty() {
                add(&mut labels, "image".to_owned(), &meta.image);
            }
            for (key, value) in &meta.labels {
                if opts.store_labels || opts.label_whitelist.iter().any(|w| w == key) {
                    add(
                        &mut labels,
                        format!("container_label_{}", sanitize_name(key)),
                        value,
                    );
                }
            }
            for (key, value) in &meta.envs {
                add(
                    &mut labels,
                    format!("container_env_{}", sanitize_name(key)),
                    value,
                );
            }
            let pod = meta.label("io.kubernetes.pod.name");
            let namespace = meta.label("io.kubernetes.pod.namespace");
            let container = meta.label("io.kubernetes.container.name");
            if pod.is_some() || namespace.is_some() || container.is_some() {
                for (name, value) in [
                    ("pod", pod),
                    ("namespace", namespace),
                    ("container", container),
                ] {
                    if let Some(value) = value.filter(|v| !v.is_empty()) {
                        add(&mut labels, name.to_owned(), value);
                    }
                }
            } else if !meta.name.is_empty() {
                add(&mut labels, "container".to_owned(), &meta.name);
            }
        }
        // containerd's aliases are [id, name]: without its metadata the name is the id.
        (Some((Runtime::Containerd, id)), None) => {
            add(&mut labels, "name".to_owned(), id);
        }
        (None, _) if opts.raw_name_labels && path != "/" => {
            let base = path.rsplit('/').next().unwrap_or(path);
            add(&mut labels, "name".to_owned(), base);
            add(&mut labels, "container".to_owned(), base);
        }
        _ => {}
    }
    labels
}

/// Block device names (`/dev/sda`) by major:minor, from `<sysfs>/dev/block/M:m/uevent`.
#[derive(Debug)]
struct DeviceNames {
    sysfs: PathBuf,
    names: HashMap<(u64, u64), String>,
}

impl DeviceNames {
    fn new(sysfs: PathBuf) -> DeviceNames {
        DeviceNames {
            sysfs,
            names: HashMap::new(),
        }
    }

    fn name(&mut self, major: u64, minor: u64) -> &str {
        let sysfs = &self.sysfs;
        self.names.entry((major, minor)).or_insert_with(|| {
            std::fs::read_to_string(sysfs.join(format!("dev/block/{major}:{minor}/uevent")))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("DEVNAME="))
                        .map(|name| format!("/dev/{}", name.trim()))
                })
                .unwrap_or_default()
        })
    }
}

/// Boot time (unix seconds, truncated to the minute as cAdvisor does), from `btime` in
/// `<procfs>/stat`; creation times are never earlier.
fn boot_time(procfs: &std::path::Path) -> f64 {
    std::fs::read_to_string(procfs.join("stat"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .map(|btime| (btime - btime % 60) as f64)
        .unwrap_or(0.0)
}
