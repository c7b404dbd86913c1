//! The `sched` kind: `container_cpu_schedstat_{run_seconds,runqueue_seconds,run_periods}_total`,
//! the scheduler statistics of every process of the cgroup and its descendants (their
//! `cgroup.procs`), from `/proc/<pid>/schedstat` (time on the CPU in ns, time waiting on a run
//! queue in ns, times run), summed as cAdvisor sums them: the kernel's figures are those of
//! each process's main thread, and what processes that exited had accrued is kept, so the sums
//! only grow.

use std::collections::HashMap;
use std::path::PathBuf;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::reader::Records;

const RUN_SECONDS: usize = 0;
const RUNQUEUE_SECONDS: usize = 1;
const RUN_PERIODS: usize = 2;
const FAMILIES: &[FamilyDef] = &[
    (
        "container_cpu_schedstat_run_seconds_total",
        MetricType::Counter,
        "Time duration the processes of the container have run on the CPU.",
    ),
    (
        "container_cpu_schedstat_runqueue_seconds_total",
        MetricType::Counter,
        "Time duration processes of the container have been waiting on a runqueue.",
    ),
    (
        "container_cpu_schedstat_run_periods_total",
        MetricType::Counter,
        "Number of times processes of the cgroup have run on the cpu",
    ),
];

/// One `schedstat`: run time (ns), run-queue wait (ns), times run.
pub type Schedstat = [u64; 3];

/// `/proc/<pid>/schedstat`: exactly three numbers.
pub fn parse(text: &[u8]) -> Option<Schedstat> {
    let mut numbers = text
        .trim_ascii()
        .split(|b| *b == b' ')
        .map(crate::parse::parse_u64);
    let stat = [numbers.next()??, numbers.next()??, numbers.next()??];
    numbers.next().is_none().then_some(stat)
}

/// What one cgroup's processes have accrued.
#[derive(Debug, Default)]
struct Accrued {
    /// The last reading of each live process.
    live: HashMap<u32, Schedstat>,
    /// The sums of processes that exited.
    gone: Schedstat,
    seen: bool,
}

impl Accrued {
    /// Takes this scrape's readings; returns the sums.
    fn update(&mut self, readings: &[(u32, Schedstat)]) -> Schedstat {
        let mut fresh: HashMap<u32, Schedstat> = readings.iter().copied().collect();
        for (pid, last) in self.live.drain() {
            if !fresh.contains_key(&pid) {
                add(&mut self.gone, &last);
            }
        }
        let mut total = self.gone;
        for stat in fresh.values() {
            add(&mut total, stat);
        }
        std::mem::swap(&mut self.live, &mut fresh);
        total
    }
}

fn add(to: &mut Schedstat, stat: &Schedstat) {
    for (sum, value) in to.iter_mut().zip(stat) {
        *sum = sum.saturating_add(*value);
    }
}

#[derive(Debug, Default)]
pub struct Sched {
    accrued: HashMap<String, Accrued>,
    pids: Vec<u32>,
    readings: Vec<(u32, Schedstat)>,
    dir: PathBuf,
    families: Option<KindFamilies>,
}

impl CgroupKind for Sched {
    fn name(&self) -> &'static str {
        "sched"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        // Kept while the cgroup is reported, also through a scrape that fails.
        match self.accrued.get_mut(cgroup.path) {
            Some(accrued) => accrued.seen = true,
            None => {
                let accrued = Accrued {
                    seen: true,
                    ..Accrued::default()
                };
                self.accrued.insert(cgroup.path.to_owned(), accrued);
            }
        }
        files.pids(cgroup.dirs, true, &mut self.pids);
        self.readings.clear();
        for pid in &self.pids {
            self.dir.clear();
            self.dir.push(&files.procfs);
            self.dir.push(pid.to_string());
            let text = match files.read_at(&self.dir, "schedstat", Records::One) {
                Ok(Some(text)) => text,
                // Exited since the listing: it counts with the ones gone.
                Ok(None) => continue,
                Err(err) => return Err(KindError::read(format!("{pid}/schedstat"), err)),
            };
            let stat = parse(text).ok_or_else(|| {
                KindError::garbage(format!("{pid}/schedstat"), "not three numbers")
            })?;
            self.readings.push((*pid, stat));
        }
        let Some(accrued) = self.accrued.get_mut(cgroup.path) else {
            return Ok(());
        };
        let total = accrued.update(&self.readings);
        let families = self
            .families
            .get_or_insert_with(|| KindFamilies::new(FAMILIES));
        families.push(RUN_SECONDS, cgroup.base, &[], total[0] as f64 / 1e9);
        families.push(RUNQUEUE_SECONDS, cgroup.base, &[], total[1] as f64 / 1e9);
        families.push(RUN_PERIODS, cgroup.base, &[], total[2] as f64);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        if let Some(families) = &mut self.families {
            families.drain_into(out);
        }
        // Cgroups gone (or not reported) since the last scrape are forgotten.
        self.accrued
            .retain(|_, accrued| std::mem::take(&mut accrued.seen));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_keeps_what_exited_processes_accrued() {
        assert_eq!(
            parse(b"53643567 479424566378 984285\n"),
            Some([53643567, 479424566378, 984285])
        );
        assert_eq!(parse(b"1 2\n"), None);
        assert_eq!(parse(b"1 2 3 4\n"), None);
        assert_eq!(parse(b"1 x 3\n"), None);
        let mut accrued = Accrued::default();
        assert_eq!(
            accrued.update(&[(10, [5, 1, 1]), (11, [7, 2, 3])]),
            [12, 3, 4]
        );
        // 11 exits: what it had stays in the sums.
        assert_eq!(accrued.update(&[(10, [9, 1, 2])]), [16, 3, 5]);
        assert_eq!(
            accrued.update(&[(10, [10, 1, 3]), (12, [1, 0, 1])]),
            [18, 3, 7]
        );
        let this = std::fs::read(format!("/proc/{}/schedstat", std::process::id())).unwrap();
        assert!(parse(&this).is_some(), "{}", String::from_utf8_lossy(&this));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn sums_never_fall(steps in proptest::collection::vec(proptest::collection::vec((1u32..5, 0u64..1000), 0..4), 1..10)) {
            let mut accrued = Accrued::default();
            let mut last = [0u64; 3];
            let mut by_pid: HashMap<u32, u64> = HashMap::new();
            for step in steps {
                // Each process's own figures only grow while it lives.
                let mut readings: Vec<(u32, Schedstat)> = Vec::new();
                for (pid, more) in step {
                    if readings.iter().any(|(p, _)| *p == pid) { continue; }
                    let value = by_pid.entry(pid).or_insert(0);
                    *value += more;
                    readings.push((pid, [*value, *value, *value]));
                }
                by_pid.retain(|pid, _| readings.iter().any(|(p, _)| p == pid));
                let total = accrued.update(&readings);
                prop_assert!(total[0] >= last[0]);
                last = total;
            }
        }
    }
}
