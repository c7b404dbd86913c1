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
