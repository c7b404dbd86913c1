//! Machine facts for `machine_*` and `cadvisor_version_info`: logical and physical cores and
//! sockets from `/proc/cpuinfo`, memory and swap from `/proc/meminfo`, the machine, boot and
//! system ids, the kernel and OS versions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::parse;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineInfo {
    pub cores: u64,
    pub physical_cores: u64,
    pub sockets: u64,
    pub memory_bytes: u64,
    pub swap_bytes: u64,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_version: String,
}

/// Where the facts come from.
#[derive(Debug, Clone)]
pub struct MachineSources {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub machine_id_files: Vec<PathBuf>,
    pub boot_id_files: Vec<PathBuf>,
    pub os_release: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {source}")]
pub struct MachineError {
    path: PathBuf,
    source: std::io::Error,
}

fn read(path: &Path) -> Result<String, MachineError> {
    std::fs::read_to_string(path).map_err(|source| MachineError {
        path: path.to_owned(),
        source,
    })
}

fn first_file(files: &[PathBuf]) -> String {
    files
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl MachineInfo {
    /// Reads the facts; the CPU and memory files are required, the ids optional (empty).
    pub fn read(sources: &MachineSources) -> Result<MachineInfo, MachineError> {
        let cpuinfo = read(&sources.procfs.join("cpuinfo"))?;
        let (cores, physical_cores, sockets) = cpu_topology(&cpuinfo);
        let meminfo = read(&sources.procfs.join("meminfo"))?;
        let kernel_version = read(&sources.procfs.join("sys/kernel/osrelease"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let os_version = std::fs::read_to_string(&sources.os_release)
            .ok()
            .and_then(|text| pretty_name(&text))
            .unwrap_or_else(|| "Linux".to_owned());
        Ok(MachineInfo {
            cores,
            physical_cores,
            sockets,
            memory_bytes: parse::meminfo(meminfo.as_bytes(), "MemTotal").unwrap_or(0),
            swap_bytes: parse::meminfo(meminfo.as_bytes(), "SwapTotal").unwrap_or(0),
            machine_id: first_file(&sources.machine_id_files),
            system_uuid: std::fs::read_to_string(sources.sysfs.join("class/dmi/id/product_uuid"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            boot_id: first_file(&sources.boot_id_files),
            kernel_version,
            os_version,
        })
    }
}

/// Logical CPUs (`processor` lines), physical cores (distinct `physical id`/`core id` pairs)
/// and sockets (distinct `physical id`s); without topology lines each logical CPU counts as a
/// core on one socket, as cAdvisor does on such machines.
pub fn cpu_topology(cpuinfo: &str) -> (u64, u64, u64) {
    let mut logical = 0u64;
    let mut cores: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sockets: BTreeSet<String> = BTreeSet::new();
    let mut physical = String::new();
    let mut core = String::new();
    let mut flush = |physical: &mut String, core: &mut String| {
        if !core.is_empty() || !physical.is_empty() {
            cores.insert((physical.clone(), core.clone()));
            sockets.insert(physical.clone());
        }
        physical.clear();
        core.clear();
    };
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => {
                flush(&mut physical, &mut core);
                logical += 1;
            }
            "physical id" => value.trim().clone_into(&mut physical),
            "core id" => value.trim().clone_into(&mut core),
            _ => {}
        }
    }
    flush(&mut physical, &mut core);
    let physical_cores = if cores.is_empty() {
        logical
    } else {
        cores.len() as u64
    };
    let sockets = if sockets.is_empty() {
        u64::from(logical > 0)
    } else {
        sockets.len() as u64
    };
    (logical, physical_cores, sockets)
}

fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology() {
        let two_sockets = "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 2\nphysical id\t: 1\ncore id\t: 0\n\nprocessor\t: 3\nphysical id\t: 1\ncore id\t: 1\n";
        assert_eq!(cpu_topology(two_sockets), (4, 3, 2));
        assert_eq!(cpu_topology("processor : 0\nprocessor : 1\n"), (2, 2, 1));
        assert_eq!(cpu_topology("garbage\n"), (0, 0, 0));
    }

    #[test]
    fn reads_a_fixture_tree() {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path().join("proc");
        std::fs::create_dir_all(proc.join("sys/kernel")).unwrap();
        std::fs::write(proc.join("cpuinfo"), "processor\t: 0\nprocessor\t: 1\n").unwrap();
        std::fs::write(
            proc.join("meminfo"),
            "MemTotal:       1024 kB\nSwapTotal:      2048 kB\n",
        )
        .unwrap();
        std::fs::write(proc.join("sys/kernel/osrelease"), "6.1.0\n").unwrap();
        std::fs::write(dir.path().join("machine-id"), "abc\n").unwrap();
        std::fs::write(
            dir.path().join("os-release"),
            "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .unwrap();
        let info = MachineInfo::read(&MachineSources {
            procfs: proc.clone(),
            sysfs: dir.path().join("sys"),
            machine_id_files: vec![dir.path().join("missing"), dir.path().join("machine-id")],
            boot_id_files: vec![],
            os_release: dir.path().join("os-release"),
        })
        .unwrap();
        assert_eq!(info.cores, 2);
        assert_eq!(info.memory_bytes, 1024 * 1024);
        assert_eq!(info.swap_bytes, 2048 * 1024);
        assert_eq!(info.machine_id, "abc");
        assert_eq!(info.kernel_version, "6.1.0");
        assert_eq!(info.os_version, "Debian GNU/Linux 12 (bookworm)");
        assert!(
            MachineInfo::read(&MachineSources {
                procfs: dir.path().join("nope"),
                sysfs: dir.path().join("sys"),
                machine_id_files: vec![],
                boot_id_files: vec![],
                os_release: dir.path().join("os-release"),
            })
            .is_err()
        );
    }
}
