//! Where the cgroup hierarchies are: cgroup v1 (one mount per controller, or co-mounted
//! controllers such as `cpu,cpuacct`), v2 (one unified mount) or hybrid (v1 controllers plus a
//! unified mount at `unified/`, used only for pressure files), detected once at start-up from
//! marker files under the cgroup root given by `--path.cgroupfs`.
//!
//! Hand-written: no crate reads cgroup statistics (cgroups-rs manages cgroups; procfs only knows
//! `/proc/cgroups`).

use std::path::{Path, PathBuf};

/// The cgroup mode of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    V1,
    V2,
    Hybrid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// The v1 controllers whose files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Cpu,
    Cpuacct,
    Memory,
    Blkio,
}

impl Controller {
    pub const ALL: [Controller; 4] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Memory,
        Controller::Blkio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Memory => "memory",
            Controller::Blkio => "blkio",
        }
    }
}

/// The detected layout: where each controller's hierarchy is mounted.
#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: Mode,
    /// v1 (and hybrid): the mount of each controller, indexed like [`Controller::ALL`].
    controllers: [Option<PathBuf>; 4],
    /// v2: the root; hybrid: the `unified` mount (pressure files only).
    pub unified: Option<PathBuf>,
    /// The distinct directories walked to find cgroups (co-mounted controllers appear once).
    pub hierarchies: Vec<PathBuf>,
    /// v1: the index in `hierarchies` of each controller's mount, indexed like
    /// [`Controller::ALL`]; v2: all `0`.
    hierarchy_of: [Option<usize>; 4],
    /// The mount holding `pids.current`/`pids.max` (the `process` kind reads them by path;
    /// discovery does not follow it). v2: the root.
    pub pids: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "no cgroup hierarchy under {0}: neither cgroup.controllers (v2) nor cpu/memory controller directories (v1) were found; point --path.cgroupfs at the host's /sys/fs/cgroup"
    )]
    NotFound(PathBuf),
    #[error("reading the cgroup root {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Layout {
    /// Detects the mode from marker files: `cgroup.controllers` at the root means v2;
    /// controller directories (`cpu`, `memory`, or co-mounts such as `cpu,cpuacct`) mean v1,
    /// and hybrid when `unified/cgroup.controllers` exists beside them.
    pub fn detect(root: &Path) -> Result<Layout, LayoutError> {
        if root.join("cgroup.controllers").is_file() {
            return Ok(Layout {
                mode: Mode::V2,
                controllers: [None, None, None, None],
                unified: Some(root.to_owned()),
                hierarchies: vec![root.to_owned()],
                hierarchy_of: [Some(0); 4],
                pids: Some(root.to_owned()),
            });
        }
        let entries = std::fs::read_dir(root).map_err(|source| LayoutError::Read {
            path: root.to_owned(),
            source,
        })?;
        let mut controllers: [Option<PathBuf>; 4] = [None, None, None, None];
        let mut pids = None;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        // Exact names first, so `cpu` (often a symlink to `cpu,cpuacct`) wins over a scan.
        names.sort_by_key(|name| name.contains(','));
        for name in &names {
            let path = root.join(name);
            if !path.is_dir() {
                continue;
            }
            for part in name.split(',') {
                if part == "pids" && pids.is_none() {
                    pids = Some(path.clone());
                }
                if let Some(index) = Controller::ALL.iter().position(|c| c.name() == part)
                    && controllers[index].is_none()
                {
                    controllers[index] = Some(path.clone());
                }
            }
        }
        if controllers.iter().all(Option::is_none) {
            return Err(LayoutError::NotFound(root.to_owned()));
        }
        let unified = root.join("unified");
        let hybrid = unified.join("cgroup.controllers").is_file();
        let mut hierarchies: Vec<PathBuf> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut hierarchy_of = [None; 4];
        for (index, path) in controllers.iter().enumerate() {
            let Some(path) = path else {
                continue;
            };
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let position = match seen.iter().position(|s| *s == canonical) {
                Some(position) => position,
                None => {
                    seen.push(canonical);
                    hierarchies.push(path.clone());
                    hierarchies.len() - 1
                }
            };
            hierarchy_of[index] = Some(position);
        }
        Ok(Layout {
            mode: if hybrid { Mode::Hybrid } else { Mode::V1 },
            controllers,
            unified: hybrid.then_some(unified),
            hierarchies,
            hierarchy_of,
            pids,
        })
    }

    /// The v1 mount of a controller.
    pub fn controller(&self, controller: Controller) -> Option<&Path> {
        let index = Controller::ALL.iter().position(|c| *c == controller)?;
        self.controllers[index].as_deref()
    }

    /// The index in [`hierarchies`](Self::hierarchies) of the tree holding a controller's
    /// cgroups (v2: the one tree).
    pub fn hierarchy(&self, controller: Controller) -> Option<usize> {
        let index = Controller::ALL.iter().position(|c| *c == controller)?;
        self.hierarchy_of[index]
    }

    /// The trees discovery follows: [`hierarchies`](Self::hierarchies), then on a hybrid host
    /// the unified tree (its cgroups are not reported; their pressure files are read).
    pub fn tracked(&self) -> Vec<PathBuf> {
        let mut trees = self.hierarchies.clone();
        if self.mode == Mode::Hybrid
            && let Some(unified) = &self.unified
        {
            trees.push(unified.clone());
        }
        trees
    }

    /// The index in [`tracked`](Self::tracked) of the tree holding the pressure files.
    pub fn pressure_hierarchy(&self) -> Option<usize> {
        match self.mode {
            Mode::V2 => Some(0),
            Mode::Hybrid => Some(self.hierarchies.len()),
            Mode::V1 => None,
        }
    }

    /// The directory of cgroup `path` (`/` or `/a/b`) under a hierarchy mount.
    pub fn dir(mount: &Path, path: &str) -> PathBuf {
        let relative = path.trim_start_matches('/');
        if relative.is_empty() {
            mount.to_owned()
        } else {
            mount.join(relative)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_v2_v1_comount_and_hybrid() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("v2");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        let layout = Layout::detect(&v2).unwrap();
        assert_eq!(layout.mode, Mode::V2);
        assert_eq!(layout.hierarchies, vec![v2.clone()]);

        let v1 = dir.path().join("v1");
        std::fs::create_dir_all(v1.join("cpu,cpuacct")).unwrap();
        std::fs::create_dir_all(v1.join("memory")).unwrap();
        std::fs::create_dir_all(v1.join("blkio")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", v1.join("cpu")).unwrap();
        let layout = Layout::detect(&v1).unwrap();
        assert_eq!(layout.mode, Mode::V1);
        assert_eq!(layout.hierarchies.len(), 3, "{:?}", layout.hierarchies);
        assert_eq!(layout.hierarchy(Controller::Cpu), Some(0));
        assert_eq!(layout.hierarchy(Controller::Cpuacct), Some(0));
        assert_eq!(layout.hierarchy(Controller::Memory), Some(1));
        assert_eq!(layout.hierarchy(Controller::Blkio), Some(2));
        assert_eq!(
            layout.controller(Controller::Cpu),
            Some(v1.join("cpu").as_path())
        );
        assert_eq!(
            layout.controller(Controller::Cpuacct),
            Some(v1.join("cpu,cpuacct").as_path())
        );

        std::fs::create_dir_all(v1.join("unified")).unwrap();
        std::fs::write(v1.join("unified/cgroup.controllers"), "").unwrap();
        let layout = Layout::detect(&v1).unwrap();
        assert_eq!(layout.mode, Mode::Hybrid);
        assert_eq!(layout.unified, Some(v1.join("unified")));
        assert_eq!(layout.tracked().last(), Some(&v1.join("unified")));
        assert_eq!(layout.pressure_hierarchy(), Some(3));

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(
            Layout::detect(&empty),
            Err(LayoutError::NotFound(_))
        ));
        assert!(matches!(
            Layout::detect(&dir.path().join("missing")),
            Err(LayoutError::Read { .. })
        ));
    }

    #[test]
    fn cgroup_dirs() {
        assert_eq!(Layout::dir(Path::new("/m"), "/"), PathBuf::from("/m"));
        assert_eq!(
            Layout::dir(Path::new("/m"), "/docker/x"),
            PathBuf::from("/m/docker/x")
        );
    }
}
