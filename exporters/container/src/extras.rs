//! The opt-in kinds beyond the default ones, each in a file of its own: the registry that
//! builds the enabled ones and runs them on every reported cgroup. A kind that cannot read or
//! understand a cgroup's files produces nothing for that cgroup (logged at debug level, as
//! cAdvisor logs at `-v=4`); the other kinds and cgroups are not affected.

use octo_exporter_kit::MetricFamily;

use crate::advtcp::AdvTcp;
use crate::cgroup::Layout;
use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind};
use crate::cpu_load::CpuLoad;
use crate::cpuset::Cpuset;
use crate::dimm::Dimms;
use crate::hugetlb::Hugetlb;
use crate::memory_numa::MemoryNuma;
use crate::net_sockets::{Tcp, Udp};
use crate::options::{ExtraKinds, Options};
use crate::referenced::Referenced;
use crate::sched::Sched;
use crate::topology::Topology;

#[derive(Debug)]
pub struct Extras {
    files: CgroupFiles,
    kinds: Vec<Box<dyn CgroupKind>>,
    /// Whether a kind reads the network namespace of the container's process.
    wants_netns: bool,
    /// `cpu_topology`, when enabled (static: re-read with the machine facts).
    topology: Option<Topology>,
    /// The EDAC DIMMs (cAdvisor writes them whatever the kinds).
    dimms: Dimms,
}

impl Extras {
    pub fn new(layout: Layout, opts: &Options) -> Extras {
        let enabled: ExtraKinds = opts.kinds.extra;
        let files = CgroupFiles::new(layout, opts.procfs.clone(), opts.sysfs.clone());
        let mut kinds: Vec<Box<dyn CgroupKind>> = Vec::new();
        if enabled.hugetlb {
            kinds.push(Box::new(Hugetlb::new(&files)));
        }
        if enabled.cpuset {
            kinds.push(Box::new(Cpuset::new(&files)));
        }
        if enabled.memory_numa {
            kinds.push(Box::new(MemoryNuma::new(&files)));
        }
        if enabled.tcp {
            kinds.push(Box::new(Tcp::default()));
        }
        if enabled.udp {
            kinds.push(Box::new(Udp::default()));
        }
        if enabled.advtcp {
            kinds.push(Box::new(AdvTcp::default()));
        }
        if enabled.sched {
            kinds.push(Box::new(Sched::default()));
        }
        if enabled.referenced_memory {
            kinds.push(Box::new(Referenced::default()));
        }
        if let Some(interval) = opts.load_reader
            && let Some(cpu_load) = CpuLoad::new(&files, interval)
        {
            kinds.push(Box::new(cpu_load));
        }
        Extras {
            // Both read by the first scrape's machine refresh.
            topology: enabled.cpu_topology.then(Topology::default),
            dimms: Dimms::default(),
            files,
            kinds,
            wants_netns: enabled.tcp || enabled.udp || enabled.advtcp,
        }
    }

    /// Re-reads the static machine facts (with the other machine facts, not per scrape).
    pub fn refresh_machine(&mut self) {
        if self.topology.is_some() {
            self.topology = Some(Topology::read(&self.files.sysfs));
        }
        self.dimms = Dimms::read(&self.files.sysfs);
    }

    /// The machine families: `cpu_topology`'s and the DIMMs, with the machine labels.
    pub fn machine_families(&self, machine: &[(&'static str, &str)], out: &mut Vec<MetricFamily>) {
        if let Some(topology) = &self.topology {
            topology.families(machine, out);
        }
        self.dimms.families(machine, out);
    }

    /// Whether the container's network namespace must be found even without the network
    /// kind.
    pub fn wants_netns(&self) -> bool {
        self.wants_netns
    }

    /// Runs every enabled kind on one cgroup.
    pub fn collect(&mut self, cgroup: &Cgroup<'_>) {
        for kind in &mut self.kinds {
            if let Err(err) = kind.collect(cgroup, &mut self.files) {
                tracing::debug!(kind = kind.name(), cgroup = cgroup.path, error = %err, "kind skipped for this cgroup");
            }
        }
    }

    /// Hands over the families of the scrape.
    pub fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        for kind in &mut self.kinds {
            kind.finish(out);
        }
    }
}
