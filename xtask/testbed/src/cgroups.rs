//! One cgroup per service of the native stack (`/<root>/<service>`), with a memory limit, so the
//! container exporter can report each service as Compose would report its containers
//! (`-raw_cgroup_name_labels` names them). Needs root and a writable cgroup filesystem; where
//! that is missing the stack runs without them and says so.

use std::path::{Path, PathBuf};

use crate::host::running_as_root;

/// The cgroup directories of one layout: every v1 hierarchy we use, or the v2 root.
#[derive(Debug)]
pub struct ServiceCgroups {
    /// `<hierarchy>/<root>` for each hierarchy in use.
    roots: Vec<PathBuf>,
    unified: bool,
    /// The cgroup path as the container exporter shows it (`/<root>`).
    pub prefix: String,
}

const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "blkio"];

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

fn is_unified(cgroupfs: &Path) -> bool {
    cgroupfs.join("cgroup.controllers").is_file()
}

/// Where cgroups go under `cgroupfs`: the v2 root, or each mounted v1 hierarchy of the
/// controllers the container exporter reads, once each. Empty when there is none.
pub fn hierarchies(cgroupfs: &Path) -> Vec<PathBuf> {
    if is_unified(cgroupfs) {
        return vec![cgroupfs.to_owned()];
    }
    let mut hierarchies: Vec<PathBuf> = Vec::new();
    for controller in V1_CONTROLLERS {
        let hierarchy = cgroupfs.join(controller);
        // Co-mounted hierarchies (cpu,cpuacct) appear under both names; use each once.
        let real = std::fs::canonicalize(&hierarchy).unwrap_or(hierarchy.clone());
        if hierarchy.join("cgroup.procs").is_file() && !hierarchies.contains(&real) {
            hierarchies.push(real);
        }
    }
    hierarchies
}

impl ServiceCgroups {
    /// Creates `/<root>` in every hierarchy, or explains why it cannot.
    pub fn create(cgroupfs: &Path, root: &str) -> Result<ServiceCgroups, String> {
        if !running_as_root() {
            return Err("not running as root".into());
        }
        let unified = is_unified(cgroupfs);
        let hierarchies = hierarchies(cgroupfs);
        if hierarchies.is_empty() {
            return Err(format!(
                "no cgroup hierarchy found under {}",
                cgroupfs.display()
            ));
        }
        let mut roots = Vec::new();
        for hierarchy in hierarchies {
            let dir = hierarchy.join(root);
            std::fs::create_dir_all(&dir)
                .map_err(|err| format!("creating {}: {err}", dir.display()))?;
            if unified {
                // Let the services' cgroups account memory, CPU and IO.
                let _ = write(&dir.join("cgroup.subtree_control"), "+memory +cpu +io");
            }
            roots.push(dir);
        }
        Ok(ServiceCgroups {
            roots,
            unified,
            prefix: format!("/{root}"),
        })
    }

    /// Moves `pid` (all its threads) into `/<root>/<service>` with a memory limit.
    pub fn adopt(&self, service: &str, pid: u32, memory_limit: u64) {
        for root in &self.roots {
            let dir = root.join(service);
            if let Err(err) = std::fs::create_dir_all(&dir) {
                tracing::warn!(cgroup = %dir.display(), error = %err, "creating a service cgroup");
                continue;
            }
            let limit_file = if self.unified {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            if dir.join(limit_file).is_file() {
                let _ = write(&dir.join(limit_file), &memory_limit.to_string());
            }
            if let Err(err) = write(&dir.join("cgroup.procs"), &pid.to_string()) {
                tracing::warn!(cgroup = %dir.display(), pid, error = %err, "moving a service into its cgroup");
            }
        }
    }
}

impl Drop for ServiceCgroups {
    fn drop(&mut self) {
        for root in &self.roots {
            if let Ok(entries) = std::fs::read_dir(root) {
                for entry in entries.filter_map(Result::ok) {
                    if entry.path().is_dir() {
                        let _ = std::fs::remove_dir(entry.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(root);
        }
    }
}
