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
    pub version: String,
}
