//! One cgroup's limits and readings turned into samples of cAdvisor's families, one function
//! per resource kind.

use octo_exporter_kit::SharedLabels;

use crate::devices::DeviceNames;
use crate::families::{F, Families, spec_memory};
use crate::parse::{DeviceIo, Interface, OPERATIONS};
use crate::process::ProcessStats;
use crate::stats::{Cpu, Memory, Pressure, Spec};

/// `container_spec_*`: the cgroup's limits.
pub fn push_spec(families: &mut Families, base: &SharedLabels, spec: &Spec) {
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
}

/// CPU time, per CPU when `percpu` is on (`cpu_names` keeps the `cpuNN` labels across
/// cgroups), and the CFS throttling counters when a quota is set.
pub fn push_cpu(
    families: &mut Families,
    base: &SharedLabels,
    cpu: &Cpu,
    spec: &Spec,
    percpu: bool,
    cpu_names: &mut Vec<String>,
) {
    families.push(F::CpuUser, base, &[], cpu.user_ns as f64 / 1e9);
    families.push(F::CpuSystem, base, &[], cpu.system_ns as f64 / 1e9);
    if percpu && !cpu.per_cpu_ns.is_empty() {
        while cpu_names.len() < cpu.per_cpu_ns.len() {
            let index = cpu_names.len();
            cpu_names.push(format!("cpu{index:02}"));
        }
        for (name, ns) in cpu_names.iter().zip(&cpu.per_cpu_ns) {
            if *ns > 0 {
                families.push(F::CpuUsage, base, &[("cpu", name)], *ns as f64 / 1e9);
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

/// Memory usage, the `memory.stat` figures, and the v2-only counters.
pub fn push_memory(families: &mut Families, base: &SharedLabels, m: &Memory) {
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

/// Per-device I/O: bytes and operations, iocost, and the blkio device usage.
pub fn push_io(
    families: &mut Families,
    base: &SharedLabels,
    devices: &[DeviceIo],
    names: &mut DeviceNames,
) {
    for io in devices {
        let device = names.name(io.major, io.minor).to_owned();
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
}

/// Per-interface network counters.
pub fn push_network(families: &mut Families, base: &SharedLabels, interfaces: &[Interface]) {
    for interface in interfaces {
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
}

/// Pressure stall totals for cpu, memory and io, in that order.
pub fn push_pressure(
    families: &mut Families,
    base: &SharedLabels,
    pressure: &[Option<Pressure>; 3],
) {
    let psi = [
        (F::PsiCpuWaiting, F::PsiCpuStalled),
        (F::PsiMemoryWaiting, F::PsiMemoryStalled),
        (F::PsiIoWaiting, F::PsiIoStalled),
    ];
    for ((waiting, stalled), pressure) in psi.into_iter().zip(pressure) {
        if let Some((some, full)) = pressure {
            if let Some(some) = some {
                families.push(waiting, base, &[], *some as f64 / 1e6);
            }
            if let Some(full) = full {
                families.push(stalled, base, &[], *full as f64 / 1e6);
            }
        }
    }
}

/// The `process` kind.
pub fn push_process(families: &mut Families, base: &SharedLabels, p: &ProcessStats) {
    families.push(F::Processes, base, &[], p.processes as f64);
    families.push(F::FileDescriptors, base, &[], p.fds as f64);
    families.push(F::Sockets, base, &[], p.sockets as f64);
    if let Some(threads) = p.threads {
        families.push(F::Threads, base, &[], threads as f64);
    }
    if let Some(max) = p.threads_max {
        families.push(F::ThreadsMax, base, &[], max as f64);
    }
    if let Some(files) = p.max_open_files {
        families.push(F::UlimitsSoft, base, &[("ulimit", "max_open_files")], files);
    }
}
