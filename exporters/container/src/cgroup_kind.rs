//! What an opt-in per-cgroup kind implements (one file per kind, run by `extras`), and the
//! families it fills: each kind owns its families' names, types and help strings (cAdvisor's).

use octo_exporter_kit::{MetricFamily, MetricType, SharedLabels};

use crate::cgroup_files::CgroupFiles;
use crate::discovery::Dirs;

/// One reported cgroup, as a kind sees it.
#[derive(Debug, Clone, Copy)]
pub struct Cgroup<'a> {
    pub path: &'a str,
    pub dirs: &'a Dirs<'a>,
    /// The container's labels, shared by all its series.
    pub base: &'a SharedLabels,
    /// The process whose network namespace this cgroup reports, chosen as for the network
    /// kind: pid 1 for `/`, a runtime container's first process; `None` for raw cgroups and
    /// for a namespace another container already reported this scrape.
    pub netns_pid: Option<u32>,
}

/// Why a kind produced nothing for one cgroup (logged; the other kinds and cgroups go on).
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    #[error("reading {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {what}")]
    Garbage { file: String, what: String },
}

impl KindError {
    pub fn read(file: impl Into<String>, source: std::io::Error) -> KindError {
        KindError::Read {
            file: file.into(),
            source,
        }
    }

    pub fn garbage(file: impl Into<String>, what: impl Into<String>) -> KindError {
        KindError::Garbage {
            file: file.into(),
            what: what.into(),
        }
    }
}

/// A cAdvisor kind read per cgroup.
pub trait CgroupKind: Send + std::fmt::Debug {
    /// cAdvisor's name of the kind (`-enable_metrics`).
    fn name(&self) -> &'static str;

    /// Reads the cgroup and adds its series. On an error nothing of this cgroup may have
    /// been added (parse first, push after).
    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError>;

    /// Hands over the scrape's families (and forgets state of cgroups not seen this scrape).
    fn finish(&mut self, out: &mut Vec<MetricFamily>);
}

/// A family definition: name, type, help (cAdvisor's).
pub type FamilyDef = (&'static str, MetricType, &'static str);

/// The families of one kind for one scrape, indexed like its definitions.
#[derive(Debug)]
pub struct KindFamilies {
    defs: &'static [FamilyDef],
    families: Vec<MetricFamily>,
}

impl KindFamilies {
    pub fn new(defs: &'static [FamilyDef]) -> KindFamilies {
        KindFamilies {
            defs,
            families: fresh(defs),
        }
    }

    /// Adds a sample to family `index`: the container's labels plus `extra`.
    pub fn push(
        &mut self,
        index: usize,
        base: &SharedLabels,
        extra: &[(&'static str, &str)],
        value: f64,
    ) {
        if let Some(family) = self.families.get_mut(index) {
            family.push_shared(base, extra, value);
        }
    }

    /// Moves the families into `out` and starts empty ones for the next scrape.
    pub fn drain_into(&mut self, out: &mut Vec<MetricFamily>) {
        out.append(&mut self.families);
        self.families = fresh(self.defs);
    }
}

fn fresh(defs: &[FamilyDef]) -> Vec<MetricFamily> {
    defs.iter()
        .map(|(name, kind, help)| MetricFamily::new(*name, *help, *kind))
        .collect()
}
