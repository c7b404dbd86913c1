//! The `hugetlb` kind: huge page usage per page size, read as runc (which cAdvisor uses)
//! reads it. v1: `hugetlb.<size>.rsvd.usage_in_bytes` (or, on kernels before 5.7, without
//! `.rsvd`), `.max_usage_in_bytes` and `.failcnt` in the hugetlb mount. v2 (and a hybrid host
//! without a v1 hugetlb mount, where the controller sits in the unified tree):
//! `hugetlb.<size>.rsvd.current` (or `.current`) and the `max` count of `hugetlb.<size>.events`;
//! v2 keeps no maximum, so `container_hugetlb_max_usage_bytes` is not written there (cAdvisor
//! writes 0). Page sizes are those of `<sysfs>/kernel/mm/hugepages`, named as runc names them
//! (`2MB`, `1GB`), which is the `pagesize` label.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup::{Layout, Mode};
use crate::cgroup_files::{CgroupFiles, Tree};
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::reader::Records;

const FAILCNT: usize = 0;
const USAGE: usize = 1;
const MAX_USAGE: usize = 2;
const FAMILIES: &[FamilyDef] = &[
    (
        "container_hugetlb_failcnt",
        MetricType::Counter,
        "Number of hugepage usage hits limits",
    ),
    (
        "container_hugetlb_usage_bytes",
        MetricType::Gauge,
        "Current hugepage usage in bytes",
    ),
    (
        "container_hugetlb_max_usage_bytes",
        MetricType::Gauge,
        "Maximum hugepage usage recorded in bytes",
    ),
];

/// One page size's readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizeUsage {
    pub usage: u64,
    pub max_usage: Option<u64>,
    pub failcnt: u64,
}

#[derive(Debug)]
pub struct Hugetlb {
    /// runc's names of the host's page sizes (`2MB`).
    sizes: Vec<String>,
    /// The v1 hugetlb mount (v1 and hybrid hosts that have one).
    v1_mount: Option<PathBuf>,
    families: KindFamilies,
    readings: Vec<(usize, PageSizeUsage)>,
}

impl Hugetlb {
    pub fn new(files: &CgroupFiles) -> Hugetlb {
        let sizes = std::fs::read_dir(files.sysfs.join("kernel/mm/hugepages"))
            .map(|entries| {
                let mut sizes: Vec<String> = entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str().and_then(page_size_name))
                    .collect();
                sizes.sort();
                sizes
            })
            .unwrap_or_default();
        if sizes.is_empty() {
            tracing::info!("hugetlb: no huge page sizes in sysfs; the kind produces nothing");
        }
        let v1_mount = match files.mode() {
            Mode::V2 => None,
            Mode::V1 | Mode::Hybrid => files.v1_mount("hugetlb"),
        };
        Hugetlb {
            sizes,
            v1_mount,
            families: KindFamilies::new(FAMILIES),
            readings: Vec::new(),
        }
    }

    fn read_v1(&mut self, dir: &Path, files: &mut CgroupFiles) -> Result<(), KindError> {
        // runc reads the `.rsvd` files (reservations included) where the kernel has them.
        let mut rsvd = ".rsvd";
        for (index, size) in self.sizes.iter().enumerate() {
            let mut usage = None;
            for variant in [rsvd, ""] {
                usage = number(
                    files,
                    dir,
                    &format!("hugetlb.{size}{variant}.usage_in_bytes"),
                )?;
                if usage.is_some() {
                    rsvd = variant;
                    break;
                }
            }
            let Some(usage) = usage else { continue };
            let max_usage = number(
                files,
                dir,
                &format!("hugetlb.{size}{rsvd}.max_usage_in_bytes"),
            )?;
            let failcnt = number(files, dir, &format!("hugetlb.{size}{rsvd}.failcnt"))?;
            self.readings.push((
                index,
                PageSizeUsage {
                    usage,
                    max_usage,
                    failcnt: failcnt.unwrap_or(0),
                },
            ));
        }
        Ok(())
    }

    fn read_v2(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        for (index, size) in self.sizes.iter().enumerate() {
            let mut usage = None;
            for variant in [".rsvd", ""] {
                let file = format!("hugetlb.{size}{variant}.current");
                usage = match files.read(cgroup.dirs, Tree::Unified, &file) {
                    Ok(Some(text)) => Some(
                        crate::parse::number(text)
                            .ok_or_else(|| KindError::garbage(&file, "not a number"))?,
                    ),
                    Ok(None) => None,
                    Err(err) => return Err(KindError::read(file, err)),
                };
                if usage.is_some() {
                    break;
                }
            }
            // No file: the controller is not enabled for this cgroup.
            let Some(usage) = usage else { continue };
            let file = format!("hugetlb.{size}.events");
            let failcnt = match files.read(cgroup.dirs, Tree::Unified, &file) {
                Ok(Some(text)) => events_max(text),
                Ok(None) => 0,
                Err(err) => return Err(KindError::read(file, err)),
            };
            self.readings.push((
                index,
                PageSizeUsage {
                    usage,
                    max_usage: None,
                    failcnt,
                },
            ));
        }
        Ok(())
    }
}

impl CgroupKind for Hugetlb {
    fn name(&self) -> &'static str {
        "hugetlb"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        self.readings.clear();
        let result = match &self.v1_mount {
            Some(mount) => {
                let dir = Layout::dir(mount, cgroup.path);
                if !dir.is_dir() {
                    return Ok(());
                }
                self.read_v1(&dir, files)
            }
            None => self.read_v2(cgroup, files),
        };
        result?;
        for (index, reading) in &self.readings {
            let label = [("pagesize", self.sizes[*index].as_str())];
            let base = cgroup.base;
            self.families
                .push(FAILCNT, base, &label, reading.failcnt as f64);
            self.families
                .push(USAGE, base, &label, reading.usage as f64);
            if let Some(max) = reading.max_usage {
                self.families.push(MAX_USAGE, base, &label, max as f64);
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        self.families.drain_into(out);
    }
}

/// A one-number v1 file of `dir`: `None` when absent, an error when not a number.
fn number(files: &mut CgroupFiles, dir: &Path, file: &str) -> Result<Option<u64>, KindError> {
    match files.read_at(dir, file, Records::One) {
        Ok(Some(text)) => crate::parse::number(text)
            .map(Some)
            .ok_or_else(|| KindError::garbage(file, "not a number")),
        Ok(None) => Ok(None),
        Err(err) => Err(KindError::read(file, err)),
    }
}

/// runc's name of a page size from its sysfs directory (`hugepages-2048kB` → `2MB`,
/// `hugepages-1048576kB` → `1GB`, `hugepages-64kB` → `64KB`).
pub fn page_size_name(dir: &str) -> Option<String> {
    let kb: u64 = dir
        .strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse()
        .ok()?;
    Some(if kb >= 1 << 20 {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    })
}

/// The `max` count of a v2 `hugetlb.<size>.events` file (0 when absent or garbage).
pub fn events_max(text: &[u8]) -> u64 {
    crate::parse::key_values(text)
        .find_map(|(key, value)| (key == b"max").then_some(value))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn page_size_names_as_runc() {
        assert_eq!(page_size_name("hugepages-2048kB").as_deref(), Some("2MB"));
        assert_eq!(
            page_size_name("hugepages-1048576kB").as_deref(),
            Some("1GB")
        );
        assert_eq!(page_size_name("hugepages-64kB").as_deref(), Some("64KB"));
        assert_eq!(page_size_name("hugepages-32768kB").as_deref(), Some("32MB"));
        assert_eq!(page_size_name("hugepages-2048MB"), None);
        assert_eq!(page_size_name("other"), None);
        assert_eq!(events_max(b"max 3\n"), 3);
        assert_eq!(events_max(b"max x\n"), 0);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,40}", bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = page_size_name(&text);
            let _ = events_max(&bytes);
        }
    }
}
