//! The `cpuLoad` kind: `container_cpu_load_average_10s`, `container_cpu_load_d_average_10s`
//! and `container_tasks_state{state}`, from the kernel's per-cgroup task counts (netlink
//! taskstats, [`crate::taskstats`]), as cAdvisor serves them when `-enable_load_reader` is set.
//! The counts are sampled in the background ([`crate::load_sampler`]); a scrape reports the
//! last sample of each cgroup and registers the cgroups it reports for the next ones.
//!
//! The kernel answers only for cgroup v1 directories: on a pure v2 host the kind is not built
//! (a warning at start-up). cAdvisor there asks anyway, gets `EINVAL`, and its housekeeping
//! returns the error before it stores the sample.

use std::time::Duration;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup::{Controller, Mode};
use crate::cgroup_files::{CgroupFiles, Tree};
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::load_sampler::LoadSampler;

const LOAD: usize = 0;
const LOAD_D: usize = 1;
const TASKS: usize = 2;
const FAMILIES: &[FamilyDef] = &[
    (
        "container_cpu_load_average_10s",
        MetricType::Gauge,
        "Value of container cpu load average over the last 10 seconds.",
    ),
    (
        "container_cpu_load_d_average_10s",
        MetricType::Gauge,
        "Value of container cpu load.d average over the last 10 seconds.",
    ),
    (
        "container_tasks_state",
        MetricType::Gauge,
        "Number of tasks in given state",
    ),
];

#[derive(Debug)]
pub struct CpuLoad {
    sampler: LoadSampler,
    families: KindFamilies,
}

impl CpuLoad {
    /// The kind sampling every `interval`; `None` on a pure cgroup v2 host, where the kernel
    /// has no task counts to give.
    pub fn new(files: &CgroupFiles, interval: Duration) -> Option<CpuLoad> {
        if files.mode() == Mode::V2 {
            tracing::warn!(
                "-enable_load_reader: the kernel gives task counts only for cgroup v1 hierarchies; on this cgroup v2 host the cpuLoad families are not produced"
            );
            return None;
        }
        Some(CpuLoad {
            sampler: LoadSampler::new(interval),
            families: KindFamilies::new(FAMILIES),
        })
    }
}

impl CgroupKind for CpuLoad {
    fn name(&self) -> &'static str {
        "cpuLoad"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        // cAdvisor asks for the cgroup's directory in the cpu hierarchy.
        let Some(dir) = files.dir(cgroup.dirs, Tree::Controller(Controller::Cpu)) else {
            return Ok(());
        };
        let Some(load) = self.sampler.want(cgroup.path, dir) else {
            return Ok(());
        };
        let base = cgroup.base;
        self.families
            .push(LOAD, base, &[], f64::from(load.load_milli));
        self.families
            .push(LOAD_D, base, &[], f64::from(load.load_d_milli));
        let tasks = load.tasks;
        for (state, count) in [
            ("sleeping", tasks.sleeping),
            ("running", tasks.running),
            ("stopped", tasks.stopped),
            ("uninterruptible", tasks.uninterruptible),
            ("iowaiting", tasks.io_wait),
        ] {
            self.families
                .push(TASKS, base, &[("state", state)], count as f64);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        self.sampler.end_scrape();
        self.families.drain_into(out);
    }
}
