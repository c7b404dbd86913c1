//! The `cpuset` kind: `container_memory_migrate`, the cgroup's `cpuset.memory_migrate` flag,
//! which runc reads from the v1 cpuset mount. The file exists on cgroup v1 only: v2's cpuset
//! controller has no such flag, so on v2 (and in cgroups outside a v1 cpuset mount) nothing is
//! written (cAdvisor writes 0 there).

use std::path::PathBuf;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup::Layout;
use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::reader::Records;

const FAMILIES: &[FamilyDef] = &[(
    "container_memory_migrate",
    MetricType::Gauge,
    "Memory migrate status.",
)];

#[derive(Debug)]
pub struct Cpuset {
    /// The v1 cpuset mount; `None` on v2 or where cpuset is not mounted.
    mount: Option<PathBuf>,
    families: KindFamilies,
}

impl Cpuset {
    pub fn new(files: &CgroupFiles) -> Cpuset {
        let mount = files.v1_mount("cpuset");
        if mount.is_none() {
            tracing::info!(
                "cpuset: no v1 cpuset mount (cpuset.memory_migrate exists on cgroup v1 only); the kind produces nothing"
            );
        }
        Cpuset {
            mount,
            families: KindFamilies::new(FAMILIES),
        }
    }
}

impl CgroupKind for Cpuset {
    fn name(&self) -> &'static str {
        "cpuset"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let Some(mount) = &self.mount else {
            return Ok(());
        };
        let dir = Layout::dir(mount, cgroup.path);
        let file = "cpuset.memory_migrate";
        let value = match files.read_at(&dir, file, Records::One) {
            Ok(Some(text)) => {
                memory_migrate(text).ok_or_else(|| KindError::garbage(file, "not a number"))?
            }
            Ok(None) => return Ok(()),
            Err(err) => return Err(KindError::read(file, err)),
        };
        self.families.push(0, cgroup.base, &[], value as f64);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        self.families.drain_into(out);
    }
}

/// `cpuset.memory_migrate`: `0` or `1`.
pub fn memory_migrate(text: &[u8]) -> Option<u64> {
    crate::parse::parse_u64(text.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flag_values() {
        assert_eq!(memory_migrate(b"1\n"), Some(1));
        assert_eq!(memory_migrate(b"0"), Some(0));
        assert_eq!(memory_migrate(b""), None);
        assert_eq!(memory_migrate(b"max\n"), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = memory_migrate(&bytes);
        }
    }
}
