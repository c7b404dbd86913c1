//! Reading one cgroup's statistics and limits, for v1 (and hybrid) and v2, the way runc's
//! cgroup managers (which cAdvisor uses) interpret the files.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cgroup::{Controller, Layout, Mode};
use crate::parse::{self, DeviceIo, Interface};
use crate::reader::Reader;

/// Limits, cAdvisor's `ContainerSpec`.
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
    spare_per_cpu: Vec<u64>,
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
    dirs: [PathBuf; 4],
    unified_dir: PathBuf,
    /// `cpuacct.usage_all` exists (one file for per-CPU, user and system time).
    usage_all: bool,
    blkio_groups: Vec<(&'static str, &'static str)>,
    clock_ticks: u64,
    pid_dir: PathBuf,
}

/// Whether the cgroup directory exists in a hierarchy.
fn exists(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
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
            layout,
            procfs,
            reader: Reader::default(),
            dirs: Default::default(),
            unified_dir: PathBuf::new(),
            usage_all,
            blkio_groups,
            clock_ticks,
            pid_dir: PathBuf::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.layout.mode
    }

    fn set_dirs(&mut self, path: &str) {
        let relative = path.trim_start_matches('/');
        if self.layout.mode == Mode::V2 {
            let dir = &mut self.dirs[0];
            dir.clear();
            dir.push(&self.layout.root);
            if !relative.is_empty() {
                dir.push(relative);
            }
            return;
        }
        for (index, controller) in Controller::ALL.iter().enumerate() {
            let dir = &mut self.dirs[index];
            dir.clear();
            if let Some(mount) = self.layout.controller(*controller) {
                dir.push(mount);
                if !relative.is_empty() {
                    dir.push(relative);
                }
            }
        }
        if let Some(unified) = &self.layout.unified {
            self.unified_dir.clear();
            self.unified_dir.push(unified);
            if !relative.is_empty() {
                self.unified_dir.push(relative);
            }
        }
    }

    /// The index in `dirs` of a controller's directory for the current cgroup.
    fn idx(&self, controller: Controller) -> usize {
        if self.layout.mode == Mode::V2 {
            return 0;
        }
        Controller::ALL
            .iter()
            .position(|c| *c == controller)
            .unwrap_or(0)
    }

    /// The creation time as cAdvisor reckons it: the oldest modification time of the cgroup's
    /// directories and of `cgroup.clone_children` (v1) / `cgroup.events` (v2), not before boot.
    pub fn creation_time(&mut self, path: &str, boot_time: f64) -> Option<f64> {
        self.set_dirs(path);
        let marker = if self.layout.mode == Mode::V2 {
            "cgroup.events"
        } else {
            "cgroup.clone_children"
        };
        let dirs: Vec<&PathBuf> = if self.layout.mode == Mode::V2 {
            vec![&self.dirs[0]]
        } else {
            self.dirs
                .iter()
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        };
        let mut lowest: Option<SystemTime> = None;
        for dir in dirs {
            for candidate in [dir.clone(), dir.join(marker)] {
                if let Ok(modified) = std::fs::metadata(&candidate).and_then(|m| m.modified()) {
                    lowest = Some(lowest.map_or(modified, |l| l.min(modified)));
                }
            }
        }
        let seconds = lowest?
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some(seconds.max(boot_time))
    }

    /// Reads the limits of cgroup `path`.
    pub fn spec(&mut self, path: &str) -> Spec {
        self.set_dirs(path);
        let mut spec = Spec::default();
        if self.layout.mode == Mode::V2 {
            let dir = self.dirs[0].clone();
            spec.has_cpu = exists(&dir);
            if let Some(weight) = self.reader.parse(&dir, "cpu.weight", parse::number)
                && (1..=10_000).contains(&weight)
            {
                spec.cpu_shares = 2 + ((weight - 1) * 262_142) / 9_999;
            }
            if let Some(text) = self.reader.read(&dir, "cpu.max") {
                let text = parse::trim(text);
                let mut parts = text.split(|b| *b == b' ');
                if let (Some(quota), Some(period)) = (parts.next(), parts.next()) {
                    if quota != b"max" {
                        spec.cpu_quota = parse::parse_u64(quota).unwrap_or(0);
                    }
                    spec.cpu_period = parse::number(period).unwrap_or(0);
                }
            }
            if dir.join("memory.max").is_file() {
                spec.has_memory = true;
                spec.memory_limit = self
                    .reader
                    .parse(&dir, "memory.max", parse::number)
                    .unwrap_or(0);
                spec.memory_swap_limit = self
                    .reader
                    .parse(&dir, "memory.swap.max", parse::number)
                    .unwrap_or(0);
                spec.memory_reservation = self
                    .reader
                    .parse(&dir, "memory.min", parse::number)
                    .unwrap_or(0);
            }
            return spec;
        }
        let cpu = self.dirs[self.idx(Controller::Cpu)].clone();
        if !cpu.as_os_str().is_empty() && exists(&cpu) {
            spec.has_cpu = true;
            spec.cpu_shares = self
                .reader
                .parse(&cpu, "cpu.shares", parse::number)
                .unwrap_or(0);
            spec.cpu_period = self
                .reader
                .parse(&cpu, "cpu.cfs_period_us", parse::number)
                .unwrap_or(0);
            spec.cpu_quota = self
                .reader
                .parse(&cpu, "cpu.cfs_quota_us", parse::signed)
                .filter(|q| *q > 0)
                .map_or(0, |q| q as u64);
        }
        let memory = self.dirs[self.idx(Controller::Memory)].clone();
        if !memory.as_os_str().is_empty() && exists(&memory) {
            spec.has_memory = true;
            spec.memory_limit = self
                .reader
                .parse(&memory, "memory.limit_in_bytes", parse::number)
                .unwrap_or(0);
            spec.memory_swap_limit = self
                .reader
                .parse(&memory, "memory.memsw.limit_in_bytes", parse::number)
                .unwrap_or(0);
            spec.memory_reservation = self
                .reader
                .parse(&memory, "memory.soft_limit_in_bytes", parse::number)
                .unwrap_or(0);
        }
        spec
    }

    /// Reads the statistics of cgroup `path` into `stats` (cleared first). `quota` says whether
    /// throttling counters are wanted; `network_pid` is the process whose network namespace
    /// holds the container's interfaces.
    pub fn read(&mut self, path: &str, want: &Want, stats: &mut Stats) {
        stats.clear();
        self.set_dirs(path);
        if self.layout.mode == Mode::V2 {
            self.read_v2(path, want, stats);
        } else {
            self.read_v1(want, stats);
        }
    }

    fn read_v1(&mut self, want: &Want, stats: &mut Stats) {
        if want.cpu {
            let cpuacct = self.idx(Controller::Cpuacct);
            let mut per_cpu = std::mem::take(&mut stats.spare_per_cpu);
            let mut cpu = None;
            if self.usage_all {
                if let Some((user, system)) = self
                    .reader
                    .read(&self.dirs[cpuacct], "cpuacct.usage_all")
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
            } else if let Some(text) = self
                .reader
                .read(&self.dirs[cpuacct], "cpuacct.usage_percpu")
            {
                parse::per_cpu(text, &mut per_cpu);
                let ticks = self.clock_ticks;
                let (mut user, mut system) = (0, 0);
                if let Some(text) = self.reader.read(&self.dirs[cpuacct], "cpuacct.stat") {
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
                if want.throttling {
                    let dir = self.idx(Controller::Cpu);
                    cpu.throttling = self.reader.read(&self.dirs[dir], "cpu.stat").map(|text| {
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
        if want.memory {
            let dir = &self.dirs[self.idx(Controller::Memory)];
            if let Some(usage) = self
                .reader
                .parse(dir, "memory.usage_in_bytes", parse::number)
            {
                let mut memory = Memory {
                    usage,
                    max_usage: self
                        .reader
                        .parse(dir, "memory.max_usage_in_bytes", parse::number),
                    failcnt: self.reader.parse(dir, "memory.failcnt", parse::number),
                    kernel: self
                        .reader
                        .parse(dir, "memory.kmem.usage_in_bytes", parse::number),
                    ..Memory::default()
                };
                let mut inactive = None;
                if let Some(text) = self.reader.read(dir, "memory.stat") {
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
                stats.memory = Some(memory);
            }
        }
        if want.disk_io && !self.blkio_groups.is_empty() {
            let dir = &self.dirs[self.idx(Controller::Blkio)];
            for &(serviced, bytes) in &self.blkio_groups {
                let found = self
                    .reader
                    .read(dir, serviced)
                    .is_some_and(|text| parse::blkio(text, &mut stats.io, false));
                if found {
                    if let Some(text) = self.reader.read(dir, bytes) {
                        parse::blkio(text, &mut stats.io, true);
                    }
                    break;
                }
                stats.io.clear();
            }
        }
        if want.pressure && self.layout.unified.is_some() {
            read_pressure(&mut self.reader, &self.unified_dir, stats);
        }
    }

    fn read_v2(&mut self, path: &str, want: &Want, stats: &mut Stats) {
        let dir = &self.dirs[0];
        if want.cpu
            && let Some(text) = self.reader.read(dir, "cpu.stat")
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
            && let Some(memory) = read_memory_v2(&mut self.reader, &self.procfs, path, dir)
        {
            stats.memory = Some(memory);
        }
        if want.disk_io
            && let Some(text) = self.reader.read(dir, "io.stat")
        {
            parse::io_stat(text, &mut stats.io);
        }
        if want.pressure {
            read_pressure(&mut self.reader, dir, stats);
        }
    }

    /// Whether cgroup `path` exists in the unified hierarchy of a hybrid host.
    pub fn in_unified(&mut self, path: &str) -> bool {
        if self.layout.mode != Mode::Hybrid {
            return false;
        }
        self.set_dirs(path);
        exists(&self.unified_dir)
    }

    /// The first process of cgroup `path` (for its network namespace).
    pub fn first_pid(&mut self, path: &str) -> Option<u32> {
        self.set_dirs(path);
        let candidates = [self.idx(Controller::Cpu), self.idx(Controller::Memory)];
        candidates
            .iter()
            .map(|i| &self.dirs[*i])
            .filter(|d| !d.as_os_str().is_empty())
            .find_map(|d| self.reader.parse(d, "cgroup.procs", parse::first_pid))
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
        let dir = self.pid_dir.clone();
        stats.has_network = match self.reader.read(&dir, "dev") {
            Some(text) => parse::net_dev(text, &mut stats.network).is_some(),
            None => false,
        };
        if !stats.has_network {
            stats.network.clear();
        }
    }
}

/// What to read for one cgroup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub cpu: bool,
    pub throttling: bool,
    pub memory: bool,
    pub disk_io: bool,
    pub pressure: bool,
}

fn read_memory_v2(reader: &mut Reader, procfs: &Path, path: &str, dir: &Path) -> Option<Memory> {
    let current = reader.parse(dir, "memory.current", parse::number);
    let mut memory = Memory::default();
    let mut v2 = MemoryV2::default();
    let mut inactive = None;
    let mut kernel = None;
    let (mut anon, mut file) = (0, 0);
    let text = reader.read(dir, "memory.stat")?;
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
            memory.max_usage = reader.parse(dir, "memory.peak", parse::number);
            memory.swap = reader
                .parse(dir, "memory.swap.current", parse::number)
                .unwrap_or(0);
            if let Some(text) = reader.read(dir, "memory.events") {
                for (key, value) in parse::key_values(text) {
                    match key {
                        b"high" => v2.events_high = value,
                        b"max" => v2.events_max = value,
                        _ => {}
                    }
                }
            }
        }
        None if path == "/" => {
            // The v2 root has no memory.current: runc reports anon + file, and swap from
            // /proc/meminfo.
            memory.usage = anon.saturating_add(file);
            if let Some(text) = reader.read(procfs, "meminfo") {
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

fn read_pressure(reader: &mut Reader, dir: &Path, stats: &mut Stats) {
    for (index, file) in ["cpu.pressure", "memory.pressure", "io.pressure"]
        .iter()
        .enumerate()
    {
        stats.pressure[index] = reader.read(dir, file).map(parse::pressure);
    }
}
