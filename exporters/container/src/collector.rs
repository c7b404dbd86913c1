//! One scrape: bring the cgroup set and runtime metadata up to date, then read every reported
//! cgroup's files once and turn them into cAdvisor's families. Nothing runs between scrapes and
//! nothing is kept but what does not change: metadata by container id, creation times, and
//! limits for `--cgroup.spec-max-age`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use octo_exporter_kit::{MetricFamily, SharedLabels, shared_labels};

use crate::cgroup::{Layout, Mode};
use crate::cgroup_kind::Cgroup;
use crate::classify::{Kind, Runtime, classify, under_kubepods};
use crate::cri::CriBundles;
use crate::devices::DeviceNames;
use crate::discovery::{CgroupData, CgroupTree, Dirs};
use crate::disk::{Disk, DiskTarget};
use crate::docker::Metadata;
use crate::extras::Extras;
use crate::families::{F, Families};
use crate::labels::container_labels;
use crate::machine::MachineInfo;
use crate::metadata::Engine;
use crate::options::Options;
use crate::series::{
    push_cpu, push_io, push_memory, push_network, push_pressure, push_process, push_spec,
};
use crate::stats::{CgroupReader, Spec, Stats, Want};

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

/// The runtime and id a cgroup is reported under, and the engine (index) holding its
/// metadata.
type Reported = (Option<(Runtime, String)>, Option<usize>);

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
    extras: Extras,
    /// The disk kind, when on.
    disk: Option<Disk>,
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
        let extras = Extras::new(layout.clone(), &opts);
        let reader = CgroupReader::new(layout, opts.procfs.clone());
        let (trees, reported) = reader.trees();
        let tree = CgroupTree::new(trees, reported, opts.watch, opts.dir_fd_budget);
        let boot_time = boot_time(&opts.procfs);
        let disk = opts.kinds.disk.then(|| {
            let with_io = opts.kinds.disk_io;
            Disk::new(
                opts.procfs.clone(),
                &opts.disk,
                with_io,
                opts.machine_refresh,
            )
        });
        Collector {
            disk,
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
            extras,
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
        if let Some(disk) = self.disk.as_mut() {
            disk.begin_scrape().await;
        }
        let tracked = std::mem::take(&mut self.tracked);
        for container in &tracked {
            self.collect_one(container, now, &mut seen_netns, &mut families);
        }
        self.tracked = tracked;
        out.extend(families.into_vec());
        self.extras.finish(&mut out);
        if let Some(disk) = self.disk.as_mut() {
            out.extend(disk.finish());
        }
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
        let mut seeds: Vec<(Tracked, Vec<(String, String)>)> = Vec::new();
        for (path, slot) in self.tree.paths() {
            let Some(entry) = self.tree.node(slot).map(|node| &node.data) else {
                continue;
            };
            let Some((runtime, engine)) = self.reported_as(path, &entry.kind) else {
                continue;
            };
            let is_root = matches!(entry.kind, Kind::Root);
            if !is_root && runtime.is_none() && !self.keeps_raw(path) {
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
        self.tracked = with_label_union(seeds);
    }

    /// The runtime and id (and the engine holding its metadata) a cgroup is reported under:
    /// `Some((None, None))` for a raw cgroup or the root, `None` when it is not reported.
    fn reported_as(&self, path: &str, kind: &Kind) -> Option<Reported> {
        let reported = match kind {
            Kind::Ignored => return None,
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
                let docker = self.engine_for(Runtime::Docker);
                if docker.is_some_and(|e| self.engines[e].get(id).is_some()) {
                    (Some((Runtime::Docker, id.clone())), docker)
                } else if under_kubepods(path) {
                    (Some((Runtime::Containerd, id.clone())), None)
                } else {
                    (None, None)
                }
            }
        };
        Some(reported)
    }

    /// Whether a raw cgroup is reported: always, unless `-docker_only` keeps only those under
    /// `-raw_cgroup_prefix_whitelist`.
    fn keeps_raw(&self, path: &str) -> bool {
        !self.opts.docker_only
            || self
                .opts
                .raw_prefixes
                .iter()
                .any(|prefix| !prefix.is_empty() && path.starts_with(prefix.as_str()))
    }

    fn refresh_machine(&mut self) -> bool {
        let stale = self
            .machine_read
            .is_none_or(|at| at.elapsed() >= self.opts.machine_refresh);
        if stale {
            self.machine_read = Some(Instant::now());
            self.extras.refresh_machine();
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
        refresh_entry(reader, entry, &dirs, self.opts.spec_max_age, self.boot_time);
        let mut spec = entry.spec;
        if is_root && let Some(machine) = &self.machine {
            spec.has_memory = true;
            spec.memory_limit = machine.memory_bytes;
            spec.memory_swap_limit = machine.swap_bytes;
        }
        push_lifetime(families, container, entry.created);
        push_spec(families, base, &spec);
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
            oom_events: kinds.oom_event,
        };
        let mut stats = std::mem::take(&mut self.stats);
        reader.read(&dirs, &want, &mut stats);
        if kinds.process {
            // cAdvisor reads the ulimits of a runtime container's init process only.
            let root_pid = container
                .runtime
                .as_ref()
                .and_then(|_| container.meta.as_ref().and_then(|m| m.pid).or(entry.pid));
            reader.read_process(&dirs, root_pid, &mut stats);
        }
        let mut netns_pid = None;
        if kinds.network || self.extras.wants_netns() {
            let (remembered, reported) =
                network_pid(reader, container, &dirs, entry.pid, is_root, seen_netns);
            entry.pid = remembered;
            netns_pid = reported;
            if kinds.network
                && let Some(pid) = reported
            {
                reader.network(pid, &mut stats);
            }
        }
        self.extras.collect(&Cgroup {
            path,
            dirs: &dirs,
            base,
            netns_pid,
        });
        if let Some(disk) = self.disk.as_mut() {
            let target = match &container.runtime {
                _ if is_root => Some(DiskTarget::Root),
                Some((runtime, id)) => Some(DiskTarget::Runtime {
                    runtime: *runtime,
                    id,
                }),
                None => None,
            };
            if let Some(target) = target {
                let mut pid = container.meta.as_ref().and_then(|m| m.pid).or(entry.pid);
                if pid.is_none() && !is_root && disk.wants_pid(path) {
                    pid = reader.first_pid(&dirs);
                }
                let io_devices: Vec<String> = stats
                    .io
                    .iter()
                    .map(|io| self.devices.name(io.major, io.minor).to_owned())
                    .collect();
                disk.push(path, target, pid, base, &io_devices);
            }
        }
        families.push(F::LastSeen, base, &[], now);
        if let Some(health) = self.health_state(container) {
            families.push(F::HealthState, base, &[], health);
        }
        self.push_stats(&stats, &spec, base, families);
        self.stats = stats;
    }

    /// `container_health_state` of a runtime container with metadata: 1 healthy, 0
    /// unhealthy, -1 without a health check.
    fn health_state(&self, container: &Tracked) -> Option<f64> {
        let (Some((_, id)), Some(engine)) = (&container.runtime, container.engine) else {
            return None;
        };
        container.meta.as_ref()?;
        Some(match self.engines.get(engine)?.healthy(id) {
            Some(true) => 1.0,
            Some(false) => 0.0,
            None => -1.0,
        })
    }

    /// The readings of one cgroup, kind by kind.
    fn push_stats(
        &mut self,
        stats: &Stats,
        spec: &Spec,
        base: &SharedLabels,
        families: &mut Families,
    ) {
        if let Some(cpu) = &stats.cpu {
            let percpu = self.opts.kinds.percpu;
            push_cpu(families, base, cpu, spec, percpu, &mut self.cpu_names);
        }
        if let Some(memory) = &stats.memory {
            push_memory(families, base, memory);
        }
        push_io(families, base, &stats.io, &mut self.devices);
        push_network(families, base, &stats.network);
        push_pressure(families, base, &stats.pressure);
        if let Some(kills) = stats.oom_kills {
            families.push(F::OomEvents, base, &[], kills as f64);
        }
        if let Some(process) = &stats.process {
            push_process(families, base, process);
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
        self.extras.machine_families(&labels, &mut out);
        out
    }
}

/// Re-reads the cgroup's limits once they are older than `spec_max_age`, and its creation
/// time until it is known.
fn refresh_entry(
    reader: &mut CgroupReader,
    entry: &mut Entry,
    dirs: &Dirs<'_>,
    spec_max_age: Duration,
    boot_time: f64,
) {
    if entry
        .spec_read
        .is_none_or(|at| at.elapsed() >= spec_max_age)
    {
        entry.spec = reader.spec(dirs);
        entry.spec_read = Some(Instant::now());
    }
    if entry.created.is_none() {
        entry.created = reader.creation_time(dirs, boot_time);
    }
}

/// `container_creation_time_seconds` and `container_start_time_seconds`: the runtime's times
/// where it has them, the cgroup's otherwise.
fn push_lifetime(families: &mut Families, container: &Tracked, cgroup_created: Option<f64>) {
    let meta = container.meta.as_ref();
    let Some(created) = meta.and_then(|m| m.created).or(cgroup_created) else {
        return;
    };
    let base = &container.base;
    families.push(F::CreationTime, base, &[], created.trunc());
    let started = meta.and_then(|m| m.started).unwrap_or(created);
    families.push(F::StartTime, base, &[], started.trunc());
}

/// Gives every seed the union of all seeds' label names (empty where it lacks one), sorted as
/// the exposition sorts series (by label values), so encoding finds most families already
/// sorted.
fn with_label_union(seeds: Vec<(Tracked, Vec<(String, String)>)>) -> Vec<Tracked> {
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
    tracked.sort_by(|a, b| {
        a.base
            .iter()
            .map(|(_, v)| v)
            .cmp(b.base.iter().map(|(_, v)| v))
    });
    tracked
}

/// The process whose network namespace the container reports: returns the pid to remember
/// for the next scrape (a container's first process rarely changes, so `cgroup.procs` is read
/// only when the remembered one is gone) and the pid to read the namespace's files through,
/// when this container reports it.
fn network_pid(
    reader: &mut CgroupReader,
    container: &Tracked,
    dirs: &Dirs<'_>,
    cached_pid: Option<u32>,
    is_root: bool,
    seen_netns: &mut HashSet<PathBuf>,
) -> (Option<u32>, Option<u32>) {
    let meta = container.meta.as_ref();
    if !is_root
        && (container.runtime.is_none()
            || meta.is_some_and(|m| m.network_mode.starts_with("container:")))
    {
        return (None, None);
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
    let Some(pid) = pid else {
        return (None, None);
    };
    // One namespace is reported once: pods share the sandbox's, and host-network
    // containers the machine's (reported on `/`).
    let first_sighting = netns.is_some_and(|n| seen_netns.insert(n));
    let reported = (first_sighting || is_root).then_some(pid);
    (Some(pid), reported)
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
