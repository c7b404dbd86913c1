//! What a running process has cost so far, from `/proc`.

use anyhow::Context as _;

/// A process's CPU time so far, from `/proc/<pid>/stat`.
pub(super) struct CpuTime {
    user_ticks: f64,
    system_ticks: f64,
    ticks_per_second: f64,
}

impl CpuTime {
    pub(super) fn of(pid: u32) -> anyhow::Result<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The command name, in parentheses, may hold spaces: fields are counted after it.
        let after = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .context("malformed /proc stat line")?;
        let fields: Vec<&str> = after.split(' ').collect();
        let field = |index: usize, name: &str| -> anyhow::Result<f64> {
            Ok(fields
                .get(index)
                .with_context(|| format!("no {name} in /proc/{pid}/stat"))?
                .parse()?)
        };
        Ok(CpuTime {
            user_ticks: field(11, "utime")?,
            system_ticks: field(12, "stime")?,
            ticks_per_second: nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100)
                as f64,
        })
    }

    /// User plus system seconds.
    pub(super) fn seconds(&self) -> f64 {
        (self.user_ticks + self.system_ticks) / self.ticks_per_second
    }

    pub(super) fn user_seconds(&self) -> f64 {
        self.user_ticks / self.ticks_per_second
    }

    pub(super) fn system_seconds(&self) -> f64 {
        self.system_ticks / self.ticks_per_second
    }
}

/// A `kB` figure of `/proc/<pid>/status` (`key` is `VmRSS:`, `VmHWM:`...); 0 when unreadable.
pub(super) fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What the scheduler has counted for every thread of a process: CPU time to the nanosecond
/// (`se.sum_exec_runtime` of `/proc/<pid>/task/*/sched`) and how often its threads were switched
/// in. `/proc/<pid>/stat` charges whole clock ticks to whoever runs when the tick fires, which
/// misjudges a thread that wakes for a few microseconds thousands of times a second.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SchedTime {
    pub(super) seconds: f64,
    pub(super) switches: u64,
}

impl SchedTime {
    /// Threads that exited are not counted: measure processes whose threads live throughout.
    pub(super) fn of(pid: u32) -> anyhow::Result<SchedTime> {
        let tasks = format!("/proc/{pid}/task");
        let mut total = SchedTime::default();
        for task in std::fs::read_dir(&tasks).with_context(|| format!("listing {tasks}"))? {
            let path = task?.path().join("sched");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // the thread ended meanwhile
            };
            let field = |key: &str| {
                text.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    (name.trim() == key).then(|| value.trim().to_owned())
                })
            };
            let runtime_ms: f64 = field("se.sum_exec_runtime")
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("no se.sum_exec_runtime in {}", path.display()))?;
            total.seconds += runtime_ms / 1000.0;
            total.switches += field("nr_switches")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
        Ok(total)
    }
}
