//! The `referenced_memory` kind: `container_referenced_bytes`, the memory the cgroup's
//! processes (its `cgroup.procs`) have referenced, summed from the `Referenced:` lines of
//! `/proc/<pid>/smaps_rollup` (one line per process; `smaps`, one per mapping, on kernels
//! before 4.14), streamed.
//!
//! Read only. cAdvisor also writes `1` to every process's `/proc/<pid>/clear_refs` every
//! `-referenced_reset_interval` scrapes when that flag is above 0 (its default, 0, never
//! does): a write into every container process, which resets the kernel's referenced bits
//! that other tools (working-set estimators) rely on. Here the flag is accepted and ignored
//! and nothing is ever written: the value is what was referenced since the process started or
//! someone else last cleared the bits, as cAdvisor's default gives it.

use std::path::PathBuf;

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup_files::CgroupFiles;
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};
use crate::lines::LineReader;

const FAMILIES: &[FamilyDef] = &[(
    "container_referenced_bytes",
    MetricType::Gauge,
    "Container referenced bytes during last measurements cycle",
)];

/// The kB of a `Referenced:` line (`Referenced:        1234 kB`); `Ok(None)` for other
/// lines, an error for a `Referenced:` line without a number of kB.
pub fn referenced_kb(line: &[u8]) -> Result<Option<u64>, String> {
    let Some(rest) = line.strip_prefix(b"Referenced:") else {
        return Ok(None);
    };
    let mut parts = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    match (parts.next().and_then(crate::parse::parse_u64), parts.next()) {
        (Some(kb), Some(b"kB")) => Ok(Some(kb)),
        _ => Err(format!("bad line {:?}", String::from_utf8_lossy(line))),
    }
}

#[derive(Debug, Default)]
pub struct Referenced {
    lines: LineReader,
    pids: Vec<u32>,
    path: PathBuf,
    families: Option<KindFamilies>,
}

impl Referenced {
    /// The referenced kB of one process; `Ok(None)` when it has exited.
    fn process_kb(&mut self, procfs: &std::path::Path, pid: u32) -> Result<Option<u64>, KindError> {
        for file in ["smaps_rollup", "smaps"] {
            self.path.clear();
            self.path.push(procfs);
            self.path.push(pid.to_string());
            self.path.push(file);
            let mut kb: u64 = 0;
            let mut bad = None;
            let pass = self
                .lines
                .for_each_line(&self.path, |line| match referenced_kb(line) {
                    Ok(Some(value)) => kb = kb.saturating_add(value),
                    Ok(None) => {}
                    Err(err) => bad = Some(err),
                });
            let name = format!("{pid}/{file}");
            match pass {
                Ok(_) => {
                    return match bad {
                        Some(what) => Err(KindError::garbage(name, what)),
                        None => Ok(Some(kb)),
                    };
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    // No smaps_rollup on this kernel: smaps; neither: the process is gone.
                    if file == "smaps" || !self.path.with_file_name("").is_dir() {
                        return Ok(None);
                    }
                }
                Err(err) if err.raw_os_error() == Some(nix::libc::ESRCH) => return Ok(None),
                Err(err) => return Err(KindError::read(name, err)),
            }
        }
        Ok(None)
    }
}

impl CgroupKind for Referenced {
    fn name(&self) -> &'static str {
        "referenced_memory"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let mut pids = std::mem::take(&mut self.pids);
        files.pids(cgroup.dirs, false, &mut pids);
        let mut kb: u64 = 0;
        let mut result = Ok(());
        for pid in &pids {
            match self.process_kb(&files.procfs, *pid) {
                Ok(found) => kb = kb.saturating_add(found.unwrap_or(0)),
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        self.pids = pids;
        result?;
        self.families
            .get_or_insert_with(|| KindFamilies::new(FAMILIES))
            .push(0, cgroup.base, &[], kb.saturating_mul(1024) as f64);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        if let Some(families) = &mut self.families {
            families.drain_into(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn referenced_lines_and_this_process() {
        assert_eq!(referenced_kb(b"Referenced:        1234 kB"), Ok(Some(1234)));
        assert_eq!(referenced_kb(b"Rss:        1234 kB"), Ok(None));
        assert!(referenced_kb(b"Referenced: x kB").is_err());
        assert!(referenced_kb(b"Referenced: 12").is_err());
        let mut kind = Referenced::default();
        let kb = kind
            .process_kb(std::path::Path::new("/proc"), std::process::id())
            .unwrap()
            .unwrap();
        assert!(kb > 100, "{kb} kB referenced by this test process");
        assert_eq!(
            kind.process_kb(std::path::Path::new("/proc"), u32::MAX)
                .unwrap(),
            None
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut line = b"Referenced:".to_vec();
            line.extend(&bytes);
            let _ = referenced_kb(&line);
            let _ = referenced_kb(&bytes);
        }
    }
}
