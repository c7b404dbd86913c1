//! `perf`: per-CPU `perf_event_open(2)` counters, `node_perf_*_total{cpu}` (hardware, software
//! and cache events) and `node_perf_<subsystem>_<event>{cpu}` for `--collector.perf.tracepoint`.
//!
//! Counters are opened once when the collector is built and read (one `read(2)` each) per
//! scrape; they close with the collector. The kernel may refuse some or all of them (no PMU in
//! a VM: hardware and cache events fail with ENOENT; `perf_event_paranoid` without
//! CAP_PERFMON: EACCES). Those are logged once at start and not reported; the collector fails
//! (success 0) only when it asked for counters and the kernel gave none.
//!
//! Upstream differs there: its profilers' `HasProfilers` is always true, so refused counters are
//! dropped silently and the collector succeeds with nothing. A tracepoint whose id cannot be read
//! stops upstream from starting; here it is a refused counter like the others.

use std::fmt::Write as _;
use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::perf_event::{Counter, TYPE_HARDWARE, TYPE_HW_CACHE, TYPE_SOFTWARE, TYPE_TRACEPOINT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Hardware,
    Software,
    Cache,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Hardware => "hardware",
            Group::Software => "software",
            Group::Cache => "cache",
        }
    }
}

/// An event upstream reports: the name its `--collector.perf.<group>-profilers` flag takes, the
/// kernel's type and config, and the family.
struct Event {
    group: Group,
    flag_name: &'static str,
    kind: u32,
    config: u64,
    family: &'static str,
    help: &'static str,
}

/// `PERF_TYPE_HW_CACHE` config: cache id | operation << 8 | result << 16 (perf_event_open(2)).
const fn cache(id: u64, write: bool, miss: bool) -> u64 {
    id | ((write as u64) << 8) | ((miss as u64) << 16)
}
const L1D: u64 = 0;
const L1I: u64 = 1;
const LL: u64 = 2;
const DTLB: u64 = 3;
const ITLB: u64 = 4;
const BPU: u64 = 5;

const fn hw(
    flag_name: &'static str,
    config: u64,
    family: &'static str,
    help: &'static str,
) -> Event {
    Event {
        group: Group::Hardware,
        flag_name,
        kind: TYPE_HARDWARE,
        config,
        family,
        help,
    }
}
const fn sw(
    flag_name: &'static str,
    config: u64,
    family: &'static str,
    help: &'static str,
) -> Event {
    Event {
        group: Group::Software,
        flag_name,
        kind: TYPE_SOFTWARE,
        config,
        family,
        help,
    }
}
const fn ca(
    flag_name: &'static str,
    config: u64,
    family: &'static str,
    help: &'static str,
) -> Event {
    Event {
        group: Group::Cache,
        flag_name,
        kind: TYPE_HW_CACHE,
        config,
        family,
        help,
    }
}

/// Upstream's reported events (the ones its profilers open but it never reports, bus cycles,
/// CPU and task clocks, alignment and emulation faults, are not opened here).
#[rustfmt::skip]
const EVENTS: &[Event] = &[
    hw("CpuCycles", 0, "cpucycles_total", "Number of CPU cycles (frequency scaled)"),
    hw("CpuInstr", 1, "instructions_total", "Number of CPU instructions"),
    hw("BranchInstr", 4, "branch_instructions_total", "Number of CPU branch instructions"),
    hw("BranchMisses", 5, "branch_misses_total", "Number of CPU branch misses"),
    hw("CacheRef", 2, "cache_refs_total", "Number of cache references (non frequency scaled)"),
    hw("CacheMisses", 3, "cache_misses_total", "Number of cache misses"),
    hw("RefCpuCycles", 9, "ref_cpucycles_total", "Number of CPU cycles"),
    hw("StalledCyclesBackend", 8, "stalled_cycles_backend_total", "Number of stalled backend CPU cycles"),
    hw("StalledCyclesFrontend", 7, "stalled_cycles_frontend_total", "Number of stalled frontend CPU cycles"),
    sw("PageFault", 2, "page_faults_total", "Number of page faults"),
    sw("ContextSwitch", 3, "context_switches_total", "Number of context switches"),
    sw("CpuMigration", 4, "cpu_migrations_total", "Number of CPU process migrations"),
    sw("MinorFault", 5, "minor_faults_total", "Number of minor page faults"),
    sw("MajorFault", 6, "major_faults_total", "Number of major page faults"),
    ca("L1DataReadHit", cache(L1D, false, false), "cache_l1d_read_hits_total", "Number L1 data cache read hits"),
    ca("L1DataReadMiss", cache(L1D, false, true), "cache_l1d_read_misses_total", "Number L1 data cache read misses"),
    ca("L1DataWriteHit", cache(L1D, true, false), "cache_l1d_write_hits_total", "Number L1 data cache write hits"),
    ca("L1InstrReadMiss", cache(L1I, false, true), "cache_l1_instr_read_misses_total", "Number instruction L1 instruction read misses"),
    ca("InstrTLBReadHit", cache(ITLB, false, false), "cache_tlb_instr_read_hits_total", "Number instruction TLB read hits"),
    ca("InstrTLBReadMiss", cache(ITLB, false, true), "cache_tlb_instr_read_misses_total", "Number instruction TLB read misses"),
    ca("DataTLBReadHit", cache(DTLB, false, false), "cache_tlb_data_read_hits_total", "Number of data TLB read hits"),
    ca("DataTLBReadMiss", cache(DTLB, false, true), "cache_tlb_data_read_misses_total", "Number of data TLB read misses"),
    ca("DataTLBWriteHit", cache(DTLB, true, false), "cache_tlb_data_write_hits_total", "Number of data TLB write hits"),
    ca("DataTLBWriteMiss", cache(DTLB, true, true), "cache_tlb_data_write_misses_total", "Number of data TLB write misses"),
    ca("LLReadHit", cache(LL, false, false), "cache_ll_read_hits_total", "Number last level read hits"),
    ca("LLReadMiss", cache(LL, false, true), "cache_ll_read_misses_total", "Number last level read misses"),
    ca("LLWriteHit", cache(LL, true, false), "cache_ll_write_hits_total", "Number last level write hits"),
    ca("LLWriteMiss", cache(LL, true, true), "cache_ll_write_misses_total", "Number last level write misses"),
    ca("BPUReadHit", cache(BPU, false, false), "cache_bpu_read_hits_total", "Number BPU read hits"),
    ca("BPUReadMiss", cache(BPU, false, true), "cache_bpu_read_misses_total", "Number BPU read misses"),
];

/// Upstream's limit on CPU numbers (it stores them as Go ints; the kernel numbers CPUs far
/// below this): bounds what a `--collector.perf.cpus` range can allocate.
const MAX_CPU: u32 = u16::MAX as u32;

/// Parses `--collector.perf.cpus` as upstream does: comma-separated CPU numbers and ranges
/// (`0-3`), a range optionally with a stride (`0-10:5` is 0, 5, 10). Upstream loops forever on
/// a stride of 0 or below; those are refused here.
pub(crate) fn parse_cpus(text: &str) -> Result<Vec<u32>, String> {
    let number = |s: &str| -> Result<u32, String> {
        let n: i64 = s
            .parse()
            .map_err(|_| format!("invalid cpu number {s:?} in {text:?}"))?;
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= MAX_CPU)
            .ok_or_else(|| format!("cpu number {s:?} out of range in {text:?}"))
    };
    let mut cpus = Vec::new();
    for subset in text.split(',') {
        if !subset.contains('-') {
            cpus.push(number(subset)?);
            continue;
        }
        let parts: Vec<&str> = subset.split(':').collect();
        let stride = match parts.as_slice() {
            [_, stride] => stride
                .parse::<u32>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("invalid stride {stride:?} in {text:?}"))?,
            _ => 1,
        };
        let Some((start, end)) = parts[0].split_once('-').filter(|(_, e)| !e.contains('-')) else {
            return Err(format!("invalid flag value {text:?}"));
        };
        let (start, end) = (number(start)?, number(end)?);
        cpus.extend((start..=end).step_by(stride as usize));
    }
    Ok(cpus)
}

/// A `--collector.perf.tracepoint` value, `subsystem:event`.
#[derive(Debug, PartialEq, Eq)]
struct Tracepoint {
    subsystem: String,
    event: String,
}

fn parse_tracepoint(text: &str) -> Result<Tracepoint, String> {
    match text.split(':').collect::<Vec<_>>().as_slice() {
        [subsystem, event] => Ok(Tracepoint {
            subsystem: (*subsystem).to_owned(),
            event: (*event).to_owned(),
        }),
        _ => Err(format!("invalid tracepoint config {text}")),
    }
}

/// What to open: one family and the (kind, config) of its counter on every CPU.
struct Request {
    family: String,
    help: String,
    group: &'static str,
    kind: u32,
    /// Tracepoints' config is their id in tracefs; `Err` when it could not be read.
    config: Result<u64, String>,
}

/// A family whose counter opened on at least one CPU.
struct Family {
    name: String,
    help: String,
    counters: Vec<(String, Counter)>,
}

pub struct Perf {
    families: Vec<Family>,
    /// Counters asked for and none opened: every scrape fails with this.
    nothing_opened: Option<String>,
}

/// Opens a counter; the real one is [`Counter::open`], tests refuse some kinds.
type Open<'a> = &'a dyn Fn(u32, u64, u32) -> std::io::Result<Counter>;

impl Perf {
    /// Opens every request on every CPU; logs what the kernel refused in one line.
    fn open(requests: Vec<Request>, cpus: &[u32], open: Open<'_>) -> Perf {
        let mut families = Vec::new();
        let mut refused: Vec<(&'static str, usize, String)> = Vec::new();
        let mut asked = 0;
        for request in requests {
            let mut counters = Vec::new();
            for cpu in cpus {
                asked += 1;
                let result = match &request.config {
                    Ok(config) => open(request.kind, *config, *cpu).map_err(|e| e.to_string()),
                    Err(reason) => Err(reason.clone()),
                };
                match result {
                    Ok(counter) => counters.push((cpu.to_string(), counter)),
                    Err(reason) => match refused
                        .iter_mut()
                        .find(|(g, _, r)| *g == request.group && *r == reason)
                    {
                        Some(entry) => entry.1 += 1,
                        None => refused.push((request.group, 1, reason)),
                    },
                }
            }
            if !counters.is_empty() {
                families.push(Family {
                    name: request.family,
                    help: request.help,
                    counters,
                });
            }
        }
        let mut summary = String::new();
        for (group, count, reason) in &refused {
            let _ = write!(
                summary,
                "{}{group}: {count} refused ({reason})",
                if summary.is_empty() { "" } else { "; " }
            );
        }
        let opened: usize = families.iter().map(|f| f.counters.len()).sum();
        if !refused.is_empty() {
            tracing::warn!(
                opened,
                asked,
                refused = %summary,
                "perf: the kernel refused some counters; they are not reported"
            );
        }
        let nothing_opened = (asked > 0 && opened == 0)
            .then(|| format!("no perf counter could be opened: {summary}"));
        Perf {
            families,
            nothing_opened,
        }
    }
}

impl Collector for Perf {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if let Some(reason) = &self.nothing_opened {
            return Err(CollectorError::Other(reason.clone()));
        }
        let mut failed = None;
        for family in &self.families {
            let mut metric = MetricFamily::counter(family.name.clone(), family.help.clone());
            for (cpu, counter) in &family.counters {
                match counter.read() {
                    Ok(value) => metric = metric.with(&[("cpu", cpu.as_str())], value as f64),
                    Err(err) => failed = Some(format!("{} cpu {cpu}: {err}", family.name)),
                }
            }
            if !metric.samples.is_empty() {
                out.push(metric);
            }
        }
        match failed {
            Some(reason) => Err(CollectorError::Other(reason)),
            None => Ok(()),
        }
    }
}

/// The events of `group` the flag names (all of them when it names none); unknown names are
/// logged, as upstream.
fn selected(group: Group, names: &[&str]) -> Vec<&'static Event> {
    let in_group = || EVENTS.iter().filter(move |e| e.group == group);
    if names.is_empty() {
        return in_group().collect();
    }
    for name in names {
        if !in_group().any(|e| e.flag_name == *name) {
            let group = group.name();
            tracing::error!("Unknown {group} profiler: {name}");
        }
    }
    in_group()
        .filter(|e| names.contains(&e.flag_name))
        .collect()
}

/// The tracepoint's id, from tracefs where it is mounted or under debugfs.
fn tracepoint_id(sysfs: &std::path::Path, tracepoint: &Tracepoint) -> Result<u64, String> {
    let relative: PathBuf = ["events", &tracepoint.subsystem, &tracepoint.event, "id"]
        .iter()
        .collect();
    let mut last = String::new();
    for root in ["kernel/tracing", "kernel/debug/tracing"] {
        let path = sysfs.join(root).join(&relative);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{}: not a tracepoint id", path.display()));
            }
            Err(err) => last = format!("{}: {err}", path.display()),
        }
    }
    Err(last)
}

pub fn declare(set: &mut FlagSet) -> Builder {
    let cpus = set.string(
        "collector.perf.cpus",
        "",
        "List of CPUs from which perf metrics should be collected",
    );
    let tracepoints = set.repeatable(
        "collector.perf.tracepoint",
        &[],
        "perf tracepoint that should be collected",
    );
    let no_hardware = set.bool(
        "collector.perf.disable-hardware-profilers",
        false,
        "disable perf hardware profilers",
    );
    let hardware = set.repeatable(
        "collector.perf.hardware-profilers",
        &[],
        "perf hardware profilers that should be collected",
    );
    let no_software = set.bool(
        "collector.perf.disable-software-profilers",
        false,
        "disable perf software profilers",
    );
    let software = set.repeatable(
        "collector.perf.software-profilers",
        &[],
        "perf software profilers that should be collected",
    );
    let no_cache = set.bool(
        "collector.perf.disable-cache-profilers",
        false,
        "disable perf cache profilers",
    );
    let cache = set.repeatable(
        "collector.perf.cache-profilers",
        &[],
        "perf cache profilers that should be collected",
    );
    Box::new(move |context| {
        let flags = context.flags;
        let cpus = match flags.get(cpus) {
            "" => (0..online_cpus()).collect(),
            text => parse_cpus(text).map_err(BuildError::Invalid)?,
        };
        let mut requests = Vec::new();
        for text in flags.get(tracepoints) {
            let tracepoint = parse_tracepoint(text).map_err(BuildError::Invalid)?;
            requests.push(Request {
                family: format!("node_perf_{}_{}", tracepoint.subsystem, tracepoint.event),
                help: format!(
                    "Perf tracepoint {}:{}",
                    tracepoint.subsystem, tracepoint.event
                ),
                group: "tracepoint",
                kind: TYPE_TRACEPOINT,
                config: tracepoint_id(&context.paths.sysfs, &tracepoint),
            });
        }
        let groups = [
            (Group::Hardware, flags.get(no_hardware), flags.get(hardware)),
            (Group::Software, flags.get(no_software), flags.get(software)),
            (Group::Cache, flags.get(no_cache), flags.get(cache)),
        ];
        for (group, disabled, names) in groups {
            if disabled {
                continue;
            }
            for event in selected(group, &names) {
                requests.push(Request {
                    family: format!("node_perf_{}", event.family),
                    help: event.help.to_owned(),
                    group: group.name(),
                    kind: event.kind,
                    config: Ok(event.config),
                });
            }
        }
        Ok(Box::new(Perf::open(requests, &cpus, &Counter::open)))
    })
}

/// Upstream counts CPUs with Go's `runtime.NumCPU` (the CPUs the process may run on) and
/// monitors 0..that; `available_parallelism` is the same count, lowered by a cgroup CPU quota.
fn online_cpus() -> u32 {
    std::thread::available_parallelism()
        .ok()
        .and_then(|n| u32::try_from(n.get()).ok())
        .unwrap_or(1)
}

#[cfg(test)]
#[path = "perf_tests.rs"]
mod tests;
