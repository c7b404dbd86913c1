//! The typed configuration a collector runs on, as the command line decided it.

use std::path::PathBuf;
use std::time::Duration;

use crate::du::Limits;
use crate::machine::MachineSources;

/// cAdvisor's metric kinds this exporter produces (the others are accepted and produce nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub cpu: bool,
    pub percpu: bool,
    pub memory: bool,
    pub disk_io: bool,
    pub network: bool,
    pub pressure: bool,
    /// `oom_event`: OOM kills counted by the kernel.
    pub oom_event: bool,
    /// `process`: processes, threads, descriptors and sockets of each cgroup.
    pub process: bool,
    /// `cpuLoad`: task counts and load averages, read only with `-enable_load_reader`.
    pub cpu_load: bool,
    /// The other opt-in kinds (each in a file of its own, run by `extras`).
    pub extra: ExtraKinds,
    /// `disk`: filesystem usage (root: every filesystem; containers: the writable layer).
    pub disk: bool,
}

/// The disk kind's background walk: how often a writable layer is measured, and the bounds of
/// one walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskOptions {
    pub period: Duration,
    pub limits: Limits,
}

/// cAdvisor's opt-in kinds read by `extras` (all off by default, as in cAdvisor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtraKinds {
    pub hugetlb: bool,
    pub cpuset: bool,
    pub memory_numa: bool,
    pub tcp: bool,
    pub udp: bool,
    pub advtcp: bool,
    pub sched: bool,
    pub referenced_memory: bool,
    pub cpu_topology: bool,
}

impl ExtraKinds {
    /// cAdvisor's names of these kinds, as `-enable_metrics` takes them.
    pub const NAMES: [&'static str; 9] = [
        "hugetlb",
        "cpuset",
        "memory_numa",
        "tcp",
        "udp",
        "advtcp",
        "sched",
        "referenced_memory",
        "cpu_topology",
    ];

    /// The kinds whose names `enabled` says are on.
    pub fn from_names(enabled: impl Fn(&str) -> bool) -> ExtraKinds {
        ExtraKinds {
            hugetlb: enabled("hugetlb"),
            cpuset: enabled("cpuset"),
            memory_numa: enabled("memory_numa"),
            tcp: enabled("tcp"),
            udp: enabled("udp"),
            advtcp: enabled("advtcp"),
            sched: enabled("sched"),
            referenced_memory: enabled("referenced_memory"),
            cpu_topology: enabled("cpu_topology"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kinds: Kinds,
    pub disk: DiskOptions,
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
    /// `-enable_load_reader` with the `cpuLoad` kind on: how often the task counts are
    /// sampled (`-housekeeping_interval`); `None` otherwise.
    pub load_reader: Option<Duration>,
    pub version: String,
}
