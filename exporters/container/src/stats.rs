//! Reading one cgroup's statistics and limits, for v1 (and hybrid) and v2, the way runc's
//! cgroup managers (which cAdvisor uses) interpret the files.

use std::io::ErrorKind;
use std::path::PathBuf;

use nix::fcntl::AtFlags;

use crate::cgroup::{Controller, Layout, Mode};
use crate::discovery::Dirs;
use crate::parse::{self, DeviceIo, Interface};
use crate::process::{self, ProcessStats};
use crate::reader::{Dir, Reader, Records};

/// Limits, the part of a container's spec cAdvisor exports as `container_spec_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spec {
    pub has_cpu: bool,
    pub cpu_shares: u64,
    pub cpu_period: u64,
    pub cpu_quota: u64,
    pub has_memory: bool,
    pub memory_limit: u64,
    pub memory_swap_limit: u64,
    pub memory_reservation: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cpu {
    pub total_ns: u64,
    pub user_ns: u64,
    pub system_ns: u64,
    /// Per possible CPU (v1 only).
    pub per_cpu_ns: Vec<u64>,
    pub throttling: Option<Throttling>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
    pub burst_periods: u64,
    pub burst_ns: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub usage: u64,
    pub max_usage: Option<u64>,
    pub failcnt: Option<u64>,
    pub kernel: Option<u64>,
    pub cache: u64,
    pub rss: u64,
    pub swap: u64,
    pub mapped_file: u64,
    pub active_file: u64,
    pub inactive_file: u64,
    pub working_set: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
    /// `oom_kill` of v2's `memory.events`, read with the other events.
    pub oom_kills: Option<u64>,
    /// v2 only.
    pub v2: Option<MemoryV2>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemoryV2 {
    pub events_high: u64,
    pub events_max: u64,
    pub file_dirty: u64,
    pub file_writeback: u64,
    pub pgscan: u64,
    pub pgsteal: u64,
    pub refault_file: u64,
    pub refault_anon: u64,
}

/// Pressure totals in microseconds: (some, full).
pub type Pressure = (Option<u64>, Option<u64>);

/// One cgroup's readings, reused from cgroup to cgroup to keep allocations away.
#[derive(Debug, Default)]
pub struct Stats {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
    pub io: Vec<DeviceIo>,
    pub pressure: [Option<Pressure>; 3],
    pub network: Vec<Interface>,
    pub has_network: bool,
    /// OOM kills the kernel counted (`oom_event`).
    pub oom_kills: Option<u64>,
    pub process: Option<ProcessStats>,
    spare_per_cpu: Vec<u64>,
    pids: Vec<u32>,
}

impl Stats {
    fn clear(&mut self) {
        if let Some(cpu) = self.cpu.take() {
            self.spare_per_cpu = cpu.per_cpu_ns;
        }
        self.memory = None;
        self.io.clear();
        self.pressure = [None; 3];
        self.network.clear();
        self.has_network = false;
        self.oom_kills = None;
        self.process = None;
    }
}

/// Which blkio file group runc would read, per host (v1): the first whose files exist and whose
/// first file has device lines for the cgroup.
const BLKIO_GROUPS: [(&str, &str); 4] = [
    (
        "blkio.bfq.io_serviced_recursive",
        "blkio.bfq.io_service_bytes_recursive",
    ),
    (
        "blkio.io_serviced_recursive",
        "blkio.io_service_bytes_recursive",
    ),
    (
        "blkio.throttle.io_serviced_recursive",
        "blkio.throttle.io_service_bytes_recursive",
    ),
    (
        "blkio.throttle.io_serviced",
        "blkio.throttle.io_service_bytes",
    ),
];

/// Reads cgroups of one layout.
#[derive(Debug)]
pub struct CgroupReader {
    layout: Layout,
    procfs: PathBuf,
    reader: Reader,
    /// The trees discovery follows, indexed like a cgroup's [`Dirs`].
    trees: Vec<PathBuf>,
    /// The directory of a cgroup held by path only (beyond the descriptor budget).
    scratch: PathBuf,
    /// `cpuacct.usage_all` exists (one file for per-CPU, user and system time).
    usage_all: bool,
    blkio_groups: Vec<(&'static str, &'static str)>,
    /// Per group, whether this scrape reads it (see [`begin_scrape`](Self::begin_scrape)).
    blkio_active: Vec<bool>,
    clock_ticks: u64,
    pid_dir: PathBuf,
}

/// Which tree a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    Controller(Controller),
    /// The pressure files: the v2 tree, or the unified tree of a hybrid host.
    Pressure,
}

impl CgroupReader {
    pub fn new(layout: Layout, procfs: PathBuf) -> CgroupReader {
        let usage_all = layout
            .controller(Controller::Cpuacct)
            .is_some_and(|d| d.join("cpuacct.usage_all").is_file());
        let blkio_groups = layout
            .controller(Controller::Blkio)
            .map(|d| {
                let mut groups: Vec<(&'static str, &'static str)> = BLKIO_GROUPS
                    .iter()
                    .copied()
                    .filter(|(first, _)| d.join(first).is_file())
                    .collect();
                // The non-recursive throttle files are runc's fallback for kernels without the
                // recursive ones; where those exist, an empty recursive file means an empty
                // base file too, so reading it would only cost an open per cgroup.
                if groups.contains(&BLKIO_GROUPS[2]) {
                    groups.retain(|g| *g != BLKIO_GROUPS[3]);
                }
                groups
            })
            .unwrap_or_default();
        let clock_ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(100);
        CgroupReader {
            trees: layout.tracked(),
            layout,
            procfs,
            reader: Reader::default(),
            scratch: PathBuf::new(),
            usage_all,
            blkio_active: vec![true; blkio_groups.len()],
            blkio_groups,
            clock_ticks,
            pid_dir: PathBuf::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.layout.mode
    }

    /// The trees discovery follows (see [`Layout::tracked`]) and how many of them are reported.
    pub fn trees(&self) -> (Vec<PathBuf>, usize) {
        (self.trees.clone(), self.layout.hierarchies.len())
    }

    /// The index of a tree among [`trees`](Self::trees).
    fn hierarchy(&self, tree: Tree) -> Option<usize> {
        match tree {
            Tree::Controller(controller) => self.layout.hierarchy(controller),
            Tree::Pressure => self.layout.pressure_hierarchy(),
        }
    }

    /// One file of the cgroup, or `None` when the cgroup is not in that tree or the file
    /// cannot be read (a cgroup removed mid-scrape, a controller file this kernel lacks).
    fn file(&mut self, dirs: &Dirs<'_>, tree: Tree, file: &str) -> Option<&[u8]> {
        match self.try_file(dirs, tree, file) {
            Some(Ok(text)) => Some(text),
            Some(Err(_)) | None => None,
        }
    }

    /// A one-number file of the cgroup, `None` when absent or not a number.
    fn number(&mut self, dirs: &Dirs<'_>, tree: Tree, file: &str) -> Option<u64> {
        self.file(dirs, tree, file).and_then(parse::number)
    }

    /// [`file`](Self::file) with the error (`None`: the cgroup is not in that tree).
    fn try_file(
        &mut self,
        dirs: &Dirs<'_>,
        tree: Tree,
        file: &str,
    ) -> Option<std::io::Result<&[u8]>> {
        let index = self.hierarchy(tree)?;
        let path = dirs.path;
        if !dirs.in_hierarchy(index) {
            return None;
        }
        let dir = match dirs.fd(index) {
            Some(fd) => Dir::Fd(fd),
            None => {
                let mount = self.trees.get(index)?;
                self.scratch.clear();
                self.scratch.push(mount);
                let relative = path.trim_start_matches('/');
                if !relative.is_empty() {
                    self.scratch.push(relative);
                }
                Dir::Path(&self.scratch)
            }
        };
        let result = self.reader.read_in(dir, file, Records::One);
        if let Err(err) = &result
            && err.kind() != ErrorKind::NotFound
        {
            tracing::debug!(cgroup = path, file, error = %err, "cannot read");
        }
        Some(result)
    }

    /// The creation time as cAdvisor reckons it: the oldest modification time of the cgroup's
    /// directories and of `cgroup.clone_children` (v1) / `cgroup.events` (v2), not before boot.
    pub fn creation_time(&mut self, dirs: &Dirs<'_>, boot_time: f64) -> Option<f64> {
        let marker = if self.layout.mode == Mode::V2 {
            "cgroup.events"
        } else {
            "cgroup.clone_children"
        };
        let reported = self.layout.hierarchies.len();
        let mut lowest: Option<f64> = None;
        for index in 0..reported {
            if !dirs.in_hierarchy(index) {
                continue;
            }
            let by_path;
            let dir = match (dirs.fd(index), self.trees.get(index)) {
                (Some(fd), _) => Dir::Fd(fd),
                (None, Some(mount)) => {
                    by_path = Layout::dir(mount, dirs.path);
                    Dir::Path(&by_path)
                }
                (None, None) => continue,
            };
            for candidate in [".", marker] {
                if let Some(modified) = modified(dir, candidate) {
                    lowest = Some(lowest.map_or(modified, |l| l.min(modified)));
                }
            }
        }
        Some(lowest?.max(boot_time))
    }

    /// Reads the limits of the cgroup.
    pub fn spec(&mut self, dirs: &Dirs<'_>) -> Spec {
        let mut spec = Spec::default();
        let cpu = Tree::Controller(Controller::Cpu);
        let memory = Tree::Controller(Controller::Memory);
        let present = |reader: &Self, tree: Tree| {
            reader
                .hierarchy(tree)
                .is_some_and(|index| dirs.in_hierarchy(index))
        };
        if self.layout.mode == Mode::V2 {
            spec.has_cpu = present(self, cpu);
            if let Some(weight) = self.number(dirs, cpu, "cpu.weight")
                && (1..=10_000).contains(&weight)
            {
                spec.cpu_shares = 2 + ((weight - 1) * 262_142) / 9_999;
            }
            if let Some(text) = self.file(dirs, cpu, "cpu.max") {
                let text = parse::trim(text);
                let mut parts = text.split(|b| *b == b' ');
                if let (Some(quota), Some(period)) = (parts.next(), parts.next()) {
                    if quota != b"max" {
                        spec.cpu_quota = parse::parse_u64(quota).unwrap_or(0);
                    }
                    spec.cpu_period = parse::number(period).unwrap_or(0);
                }
            }
            // memory.max exists where the memory controller is enabled for the cgroup.
            let limit = match self.try_file(dirs, memory, "memory.max") {
                Some(Ok(text)) => Some(parse::number(text).unwrap_or(0)),
                Some(Err(err)) if err.kind() != ErrorKind::NotFound => Some(0),
                _ => None,
            };
            if let Some(limit) = limit {
                spec.has_memory = true;
                spec.memory_limit = limit;
                spec.memory_swap_limit = self.number(dirs, memory, "memory.swap.max").unwrap_or(0);
                spec.memory_reservation = self.number(dirs, memory, "memory.min").unwrap_or(0);
            }
            return spec;
        }
        if present(self, cpu) {
            spec.has_cpu = true;
            spec.cpu_shares = self.number(dirs, cpu, "cpu.shares").unwrap_or(0);
            spec.cpu_period = self.number(dirs, cpu, "cpu.cfs_period_us").unwrap_or(0);
            spec.cpu_quota = self
                .file(dirs, cpu, "cpu.cfs_quota_us")
                .and_then(parse::signed)
                .filter(|q| *q > 0)
                .map_or(0, |q| q as u64);
        }
        if present(self, memory) {
            spec.has_memory = true;
            spec.memory_limit = self
                .number(dirs, memory, "memory.limit_in_bytes")
                .unwrap_or(0);
            spec.memory_swap_limit = self
                .number(dirs, memory, "memory.memsw.limit_in_bytes")
                .unwrap_or(0);
            spec.memory_reservation = self
                .number(dirs, memory, "memory.soft_limit_in_bytes")
                .unwrap_or(0);
        }
        spec
    }

    /// Decides, from the root cgroup, which blkio file groups are worth reading this scrape.
    ///
    /// A cgroup's blkio file lists a device only where the group's policy is active on that
    /// device's queue (bfq only where bfq is the scheduler), and the cgroup's ancestors, the
    /// root first, get a line for every device any descendant has one for. So a group whose
    /// first file has no device line at the root has none anywhere, and runc would move past
    /// it for every cgroup: skipping it saves an open per cgroup (on hosts without bfq, every
    /// scrape).
    pub fn begin_scrape(&mut self, root: Option<&Dirs<'_>>) {
        let tree = Tree::Controller(Controller::Blkio);
        for index in 0..self.blkio_groups.len() {
            let (serviced, _) = self.blkio_groups[index];
            // A root that cannot be read tells nothing: read the group everywhere.
            self.blkio_active[index] =
                match root.and_then(|root| self.try_file(root, tree, serviced)) {
                    Some(Ok(text)) => parse::blkio(text, &mut Vec::new(), false),
                    Some(Err(_)) | None => true,
                };
        }
    }

    /// Whether the cgroup's pressure files can be read (v2; hybrid: it exists in the unified
    /// tree).
    pub fn has_pressure(&self, dirs: &Dirs<'_>) -> bool {
        self.hierarchy(Tree::Pressure)
            .is_some_and(|index| dirs.in_hierarchy(index))
    }

    /// Reads the statistics of the cgroup into `stats` (cleared first).
    pub fn read(&mut self, dirs: &Dirs<'_>, want: &Want, stats: &mut Stats) {
        stats.clear();
        if self.layout.mode == Mode::V2 {
            self.read_v2(dirs, want, stats);
        } else {
            self.read_v1(dirs, want, stats);
        }
        if want.oom_events {
            stats.oom_kills = match stats.memory.and_then(|m| m.oom_kills) {
                Some(kills) => Some(kills),
                None => self.read_oom_kills(dirs),
            };
        }
    }

    /// `oom_kill` of `memory.events` (v2) or `memory.oom_control` (v1, since Linux 4.13).
    fn read_oom_kills(&mut self, dirs: &Dirs<'_>) -> Option<u64> {
        let file = if self.layout.mode == Mode::V2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = self.file(dirs, Tree::Controller(Controller::Memory), file)?;
        parse::key_values(text).find_map(|(key, value)| (key == b"oom_kill").then_some(value))
    }

    /// The `process` kind: the cgroup's own processes (`cgroup.procs` of the cpu hierarchy,
    /// or the memory one), their descriptors and sockets, `pids.current`/`pids.max`, and the
    /// soft open-file limit of `root_pid` (a runtime container's init process).
    pub fn read_process(&mut self, dirs: &Dirs<'_>, root_pid: Option<u32>, stats: &mut Stats) {
        let tree = [Controller::Cpu, Controller::Memory]
            .into_iter()
            .map(Tree::Controller)
            .find(|tree| {
                self.hierarchy(*tree)
                    .is_some_and(|index| dirs.in_hierarchy(index))
            });
        let Some(text) = tree.and_then(|tree| self.file(dirs, tree, "cgroup.procs")) else {
            return;
        };
        process::parse_pids(text, &mut stats.pids);
        let (fds, sockets) = process::descriptors(&self.procfs, &stats.pids, &mut self.pid_dir);
        let mut found = ProcessStats {
            processes: stats.pids.len() as u64,
            fds,
            sockets,
            ..ProcessStats::default()
        };
        if let Some(mount) = &self.layout.pids {
            let dir = Layout::dir(mount, dirs.path);
            found.threads = self
                .reader
                .read(&dir, "pids.current")
                .and_then(parse::number);
            if found.threads.is_some() {
                found.threads_max = self
                    .reader
                    .read(&dir, "pids.max")
                    .and_then(process::pids_max);
            }
        }
        if let Some(pid) = root_pid {
            let limits = self.procfs.join(pid.to_string()).join("limits");
            found.max_open_files = std::fs::read_to_string(limits)
                .ok()
                .and_then(|text| process::max_open_files(&text));
        }
        stats.process = Some(found);
    }

    fn read_v1(&mut self, dirs: &Dirs<'_>, want: &Want, stats: &mut Stats) {
        if want.cpu {
            self.read_cpu_v1(dirs, want.throttling, stats);
        }
        if want.memory {
            stats.memory = self.read_memory_v1(dirs);
        }
        if want.disk_io {
            self.read_blkio_v1(dirs, stats);
        }
        if want.pressure {
            self.read_pressure(dirs, stats);
        }
    }

    /// CPU time from `cpuacct.usage_all` (or `usage_percpu` and `stat`), and the throttling
    /// counters of `cpu.stat`.
    fn read_cpu_v1(&mut self, dirs: &Dirs<'_>, throttling: bool, stats: &mut Stats) {
        let cpuacct = Tree::Controller(Controller::Cpuacct);
        let mut per_cpu = std::mem::take(&mut stats.spare_per_cpu);
        let mut cpu = None;
        if self.usage_all {
            if let Some((user, system)) = self
                .file(dirs, cpuacct, "cpuacct.usage_all")
                .and_then(|text| parse::usage_all(text, &mut per_cpu))
            {
                cpu = Some(Cpu {
                    total_ns: per_cpu.iter().sum(),
                    user_ns: user,
                    system_ns: system,
                    per_cpu_ns: Vec::new(),
                    throttling: None,
                });
            }
        } else if let Some(text) = self.file(dirs, cpuacct, "cpuacct.usage_percpu") {
            parse::per_cpu(text, &mut per_cpu);
            let ticks = self.clock_ticks;
            let (mut user, mut system) = (0, 0);
            if let Some(text) = self.file(dirs, cpuacct, "cpuacct.stat") {
                for (key, value) in parse::key_values(text) {
                    let ns = value.saturating_mul(1_000_000_000 / ticks);
                    match key {
                        b"user" => user = ns,
                        b"system" => system = ns,
                        _ => {}
                    }
                }
            }
            cpu = Some(Cpu {
                total_ns: per_cpu.iter().sum(),
                user_ns: user,
                system_ns: system,
                per_cpu_ns: Vec::new(),
                throttling: None,
            });
        }
        if let Some(mut cpu) = cpu {
            cpu.per_cpu_ns = per_cpu;
            if throttling {
                let tree = Tree::Controller(Controller::Cpu);
                cpu.throttling = self.file(dirs, tree, "cpu.stat").map(|text| {
                    let mut t = Throttling::default();
                    for (key, value) in parse::key_values(text) {
                        match key {
                            b"nr_periods" => t.periods = value,
                            b"nr_throttled" => t.throttled_periods = value,
                            b"throttled_time" => t.throttled_ns = value,
                            b"nr_bursts" => t.burst_periods = value,
                            b"burst_time" => t.burst_ns = value,
                            _ => {}
                        }
                    }
                    t
                });
            }
            stats.cpu = Some(cpu);
        } else {
            stats.spare_per_cpu = per_cpu;
        }
    }

    /// Memory usage and the hierarchical `memory.stat` figures.
    fn read_memory_v1(&mut self, dirs: &Dirs<'_>) -> Option<Memory> {
        let tree = Tree::Controller(Controller::Memory);
        let usage = self.number(dirs, tree, "memory.usage_in_bytes")?;
        let mut memory = Memory {
            usage,
            max_usage: self.number(dirs, tree, "memory.max_usage_in_bytes"),
            failcnt: self.number(dirs, tree, "memory.failcnt"),
            kernel: self.number(dirs, tree, "memory.kmem.usage_in_bytes"),
            ..Memory::default()
        };
        let mut inactive = None;
        if let Some(text) = self.file(dirs, tree, "memory.stat") {
            for (key, value) in parse::key_values(text) {
                match key {
                    b"total_cache" => memory.cache = value,
                    b"total_rss" => memory.rss = value,
                    b"total_swap" => memory.swap = value,
                    b"total_mapped_file" => memory.mapped_file = value,
                    b"total_active_file" => memory.active_file = value,
                    b"total_inactive_file" => inactive = Some(value),
                    b"pgfault" => memory.pgfault = value,
                    b"pgmajfault" => memory.pgmajfault = value,
                    _ => {}
                }
            }
        }
        memory.inactive_file = inactive.unwrap_or(0);
        memory.working_set = usage.saturating_sub(memory.inactive_file);
        Some(memory)
    }

    /// Per-device I/O from the first blkio file group that lists devices, in runc's order.
    fn read_blkio_v1(&mut self, dirs: &Dirs<'_>, stats: &mut Stats) {
        let tree = Tree::Controller(Controller::Blkio);
        for index in 0..self.blkio_groups.len() {
            if !self.blkio_active[index] {
                continue;
            }
            let (serviced, bytes) = self.blkio_groups[index];
            let found = self
                .file(dirs, tree, serviced)
                .is_some_and(|text| parse::blkio(text, &mut stats.io, false));
            if found {
                if let Some(text) = self.file(dirs, tree, bytes) {
                    parse::blkio(text, &mut stats.io, true);
                }
                break;
            }
            stats.io.clear();
        }
    }

    fn read_v2(&mut self, dirs: &Dirs<'_>, want: &Want, stats: &mut Stats) {
        let cpu_tree = Tree::Controller(Controller::Cpu);
        if want.cpu
            && let Some(text) = self.file(dirs, cpu_tree, "cpu.stat")
        {
            let mut cpu = Cpu {
                per_cpu_ns: std::mem::take(&mut stats.spare_per_cpu),
                ..Cpu::default()
            };
            cpu.per_cpu_ns.clear();
            let mut throttling = Throttling::default();
            let mut has_throttling = false;
            for (key, value) in parse::key_values(text) {
                match key {
                    b"usage_usec" => cpu.total_ns = value.saturating_mul(1000),
                    b"user_usec" => cpu.user_ns = value.saturating_mul(1000),
                    b"system_usec" => cpu.system_ns = value.saturating_mul(1000),
                    b"nr_periods" => {
                        throttling.periods = value;
                        has_throttling = true;
                    }
                    b"nr_throttled" => throttling.throttled_periods = value,
                    b"throttled_usec" => throttling.throttled_ns = value.saturating_mul(1000),
                    b"nr_bursts" => throttling.burst_periods = value,
                    b"burst_usec" => throttling.burst_ns = value.saturating_mul(1000),
                    _ => {}
                }
            }
            if want.throttling && has_throttling {
                cpu.throttling = Some(throttling);
            }
            stats.cpu = Some(cpu);
        }
        if want.memory
            && let Some(memory) = self.read_memory_v2(dirs)
        {
            stats.memory = Some(memory);
        }
        if want.disk_io
            && let Some(text) = self.file(dirs, Tree::Controller(Controller::Blkio), "io.stat")
        {
            parse::io_stat(text, &mut stats.io);
        }
        if want.pressure {
            self.read_pressure(dirs, stats);
        }
    }

    fn read_memory_v2(&mut self, dirs: &Dirs<'_>) -> Option<Memory> {
        let tree = Tree::Controller(Controller::Memory);
        let current = self.number(dirs, tree, "memory.current");
        let mut memory = Memory::default();
        let mut v2 = MemoryV2::default();
        let mut inactive = None;
        let mut kernel = None;
        let (mut anon, mut file) = (0, 0);
        let text = self.file(dirs, tree, "memory.stat")?;
        for (key, value) in parse::key_values(text) {
            match key {
                b"anon" => anon = value,
                b"file" => file = value,
                b"file_mapped" => memory.mapped_file = value,
                b"active_file" => memory.active_file = value,
                b"inactive_file" => inactive = Some(value),
                b"pgfault" => memory.pgfault = value,
                b"pgmajfault" => memory.pgmajfault = value,
                b"kernel" => kernel = Some(value),
                b"file_dirty" => v2.file_dirty = value,
                b"file_writeback" => v2.file_writeback = value,
                b"pgscan" => v2.pgscan = value,
                b"pgsteal" => v2.pgsteal = value,
                b"workingset_refault_file" => v2.refault_file = value,
                b"workingset_refault_anon" => v2.refault_anon = value,
                _ => {}
            }
        }
        memory.cache = file;
        memory.rss = anon;
        memory.kernel = kernel;
        match current {
            Some(usage) => {
                memory.usage = usage;
                memory.max_usage = self.number(dirs, tree, "memory.peak");
                memory.swap = self.number(dirs, tree, "memory.swap.current").unwrap_or(0);
                if let Some(text) = self.file(dirs, tree, "memory.events") {
                    for (key, value) in parse::key_values(text) {
                        match key {
                            b"high" => v2.events_high = value,
                            b"max" => v2.events_max = value,
                            b"oom_kill" => memory.oom_kills = Some(value),
                            _ => {}
                        }
                    }
                }
            }
            None if dirs.path == "/" => {
                // The v2 root has no memory.current: runc reports anon + file, and swap from
                // /proc/meminfo.
                memory.usage = anon.saturating_add(file);
                if let Some(text) = self.reader.read(&self.procfs, "meminfo") {
                    let total = parse::meminfo(text, "SwapTotal").unwrap_or(0);
                    let free = parse::meminfo(text, "SwapFree").unwrap_or(0);
                    memory.swap = total.saturating_sub(free);
                }
            }
            None => return None,
        }
        memory.inactive_file = inactive.unwrap_or(0);
        memory.working_set = memory.usage.saturating_sub(memory.inactive_file);
        memory.v2 = Some(v2);
        Some(memory)
    }

    fn read_pressure(&mut self, dirs: &Dirs<'_>, stats: &mut Stats) {
        for (index, file) in ["cpu.pressure", "memory.pressure", "io.pressure"]
            .iter()
            .enumerate()
        {
            stats.pressure[index] = self.file(dirs, Tree::Pressure, file).map(parse::pressure);
        }
    }

    /// The first process of the cgroup (for its network namespace), from the cpu hierarchy,
    /// or the memory one if the cgroup is not in the cpu one. (A process is in one cgroup per
    /// hierarchy, and runtimes put a container's processes in the same path in each: reading
    /// a second hierarchy's list of an empty cgroup would only cost another open.)
    pub fn first_pid(&mut self, dirs: &Dirs<'_>) -> Option<u32> {
        let tree = [Controller::Cpu, Controller::Memory]
            .into_iter()
            .map(Tree::Controller)
            .find(|tree| {
                self.hierarchy(*tree)
                    .is_some_and(|index| dirs.in_hierarchy(index))
            })?;
        self.file(dirs, tree, "cgroup.procs")
            .and_then(parse::first_pid)
    }

    /// The network namespace of `pid` (the target of `/proc/<pid>/ns/net`).
    pub fn netns(&mut self, pid: u32) -> Option<PathBuf> {
        self.pid_dir.clear();
        self.pid_dir.push(&self.procfs);
        self.pid_dir.push(pid.to_string());
        std::fs::read_link(self.pid_dir.join("ns/net")).ok()
    }

    /// The interfaces in the network namespace of `pid`, into `stats.network`.
    pub fn network(&mut self, pid: u32, stats: &mut Stats) {
        self.pid_dir.clear();
        self.pid_dir.push(&self.procfs);
        self.pid_dir.push(pid.to_string());
        self.pid_dir.push("net");
        // One line per interface, handed out a page at a time: read to the end.
        stats.has_network = match self
            .reader
            .read_records(&self.pid_dir, "dev", Records::Many)
        {
            Some(text) => parse::net_dev(text, &mut stats.network).is_some(),
            None => false,
        };
        if !stats.has_network {
            stats.network.clear();
        }
    }
}

/// The modification time (unix seconds) of `name` in `dir`.
fn modified(dir: Dir<'_>, name: &str) -> Option<f64> {
    let stat = match dir {
        Dir::Fd(fd) => nix::sys::stat::fstatat(fd, name, AtFlags::empty()).ok()?,
        Dir::Path(path) => nix::sys::stat::stat(&path.join(name)).ok()?,
    };
    Some(stat.st_mtime as f64 + stat.st_mtime_nsec as f64 / 1e9)
}

/// What to read for one cgroup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub cpu: bool,
    pub throttling: bool,
    pub memory: bool,
    pub disk_io: bool,
    pub pressure: bool,
    pub oom_events: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::CgroupTree;

    fn write(dir: &std::path::Path, file: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }

    fn reading(root: &std::path::Path) -> (CgroupReader, CgroupTree<()>) {
        let layout = Layout::detect(root).unwrap();
        let reader = CgroupReader::new(layout, root.join("proc"));
        let (trees, reported) = reader.trees();
        let tree = CgroupTree::new(trees, reported, false, 100);
        (reader, tree)
    }

    fn io_of(reader: &mut CgroupReader, tree: &CgroupTree<()>, path: &str) -> Vec<DeviceIo> {
        let root = tree.node(tree.slot("/").unwrap()).unwrap();
        reader.begin_scrape(Some(&root.dirs("/")));
        let node = tree.node(tree.slot(path).unwrap()).unwrap();
        let want = Want {
            disk_io: true,
            ..Want::default()
        };
        let mut stats = Stats::default();
        reader.read(&node.dirs(path), &want, &mut stats);
        stats.io
    }

    const BFQ: &str = "blkio.bfq.io_serviced_recursive";
    const BFQ_BYTES: &str = "blkio.bfq.io_service_bytes_recursive";
    const THROTTLE: &str = "blkio.throttle.io_serviced_recursive";
    const THROTTLE_BYTES: &str = "blkio.throttle.io_service_bytes_recursive";

    #[test]
    fn blkio_groups_without_devices_at_the_root_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let blkio = dir.path().join("blkio");
        for (file, text) in [
            (BFQ, "Total 0\n"),
            (BFQ_BYTES, "Total 0\n"),
            (THROTTLE, "8:0 Read 3\nTotal 3\n"),
            (THROTTLE_BYTES, "8:0 Read 4096\nTotal 4096\n"),
        ] {
            write(&blkio, file, text);
        }
        let child = blkio.join("c");
        write(&child, THROTTLE, "8:0 Read 1\nTotal 1\n");
        write(&child, THROTTLE_BYTES, "8:0 Read 512\nTotal 512\n");
        // bfq is nobody's scheduler (the root lists no device), so the kernel would print no
        // device in any cgroup's bfq file either; this line shows the file is not read.
        write(&child, BFQ, "8:0 Read 99\nTotal 99\n");
        write(&child, BFQ_BYTES, "8:0 Read 99\nTotal 99\n");
        let (mut reader, tree) = reading(dir.path());
        let io = io_of(&mut reader, &tree, "/c");
        assert_eq!(io.len(), 1);
        assert_eq!((io[0].ios[0], io[0].bytes[0]), (Some(1), Some(512)));

        // Once a device has bfq, its group comes first again, as runc reads it.
        write(&blkio, BFQ, "8:0 Read 99\nTotal 99\n");
        let io = io_of(&mut reader, &tree, "/c");
        assert_eq!((io[0].ios[0], io[0].bytes[0]), (Some(99), Some(99)));
    }

    #[test]
    fn first_pid_from_the_cpu_hierarchy_else_the_memory_one() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("cpu/a"), "cgroup.procs", "41\n");
        write(&dir.path().join("memory/a"), "cgroup.procs", "41\n");
        write(&dir.path().join("memory/b"), "cgroup.procs", "\n42\n43\n");
        let (mut reader, tree) = reading(dir.path());
        for (path, pid) in [("/a", Some(41)), ("/b", Some(42))] {
            let node = tree.node(tree.slot(path).unwrap()).unwrap();
            assert_eq!(reader.first_pid(&node.dirs(path)), pid, "{path}");
        }
    }
}
