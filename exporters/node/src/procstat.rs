//! `/proc/stat`, read by the `stat` and `cpu` collectors.
//!
//! Hand-written rather than procfs-core's `KernelStats` because that type numbers CPUs by their
//! position in the file (an offline CPU is missing from `/proc/stat`, so every later CPU would
//! get the wrong label) and has neither the `intr` nor the `softirq` line.

/// Ticks one CPU spent in each mode, as the kernel counts them (USER_HZ units).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

/// The softirq vectors of the `softirq` line, in the kernel's order.
pub(crate) const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// What `/proc/stat` says. Lines absent from the file read as zero, as upstream's procfs does.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcStat {
    /// Per-CPU ticks with the CPU number from the `cpuN` label, in file order.
    pub cpus: Vec<(u32, CpuTicks)>,
    pub intr_total: u64,
    pub context_switches: u64,
    pub boot_time: u64,
    pub forks: u64,
    pub procs_running: u64,
    pub procs_blocked: u64,
    /// Per-vector counts, when the kernel has a `softirq` line.
    pub softirqs: Option<[u64; 10]>,
}

fn number(field: &str, what: &str) -> Result<u64, String> {
    field
        .parse()
        .map_err(|_| format!("{what}: {field:?} is not an unsigned integer"))
}

/// A `cpu`/`cpuN` line: the numbers after the label; fields newer than the running kernel are 0.
fn parse_cpu_line<'a>(mut fields: impl Iterator<Item = &'a str>) -> Result<CpuTicks, String> {
    let mut values = [0u64; 10];
    let mut count = 0;
    for (slot, field) in values.iter_mut().zip(&mut fields) {
        *slot = number(field, "cpu")?;
        count += 1;
    }
    if count == 0 {
        return Err("cpu line without values".to_owned());
    }
    let [
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    ] = values;
    Ok(CpuTicks {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    })
}

/// Parses `/proc/stat`. A malformed value in a line we read is an error for the whole file,
/// as upstream; unknown lines are ignored.
pub(crate) fn parse_proc_stat(text: &str) -> Result<ProcStat, String> {
    let mut stat = ProcStat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(key), Some(first)) = (fields.next(), fields.next()) else {
            continue;
        };
        match key {
            "btime" => stat.boot_time = number(first, key)?,
            "intr" => stat.intr_total = number(first, key)?,
            "ctxt" => stat.context_switches = number(first, key)?,
            "processes" => stat.forks = number(first, key)?,
            "procs_running" => stat.procs_running = number(first, key)?,
            "procs_blocked" => stat.procs_blocked = number(first, key)?,
            "softirq" => {
                number(first, key)?; // the total, which the vectors add up to
                let mut vectors = [0u64; 10];
                for slot in &mut vectors {
                    let field = fields
                        .next()
                        .ok_or_else(|| format!("softirq line has too few vectors: {line:?}"))?;
                    *slot = number(field, key)?;
                }
                stat.softirqs = Some(vectors);
            }
            "cpu" => {
                parse_cpu_line(std::iter::once(first).chain(fields))?;
            }
            _ => {
                if let Some(id) = key.strip_prefix("cpu") {
                    let id: u32 = id
                        .parse()
                        .map_err(|_| format!("{key:?} is not a CPU label"))?;
                    let ticks = parse_cpu_line(std::iter::once(first).chain(fields))?;
                    stat.cpus.push((id, ticks));
                }
            }
        }
    }
    Ok(stat)
}
