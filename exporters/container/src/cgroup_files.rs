//! Where the opt-in kinds (`extras`) find a cgroup's files: in the hierarchies discovery
//! follows (held directories, as the default kinds read them), in the unified tree, or in a v1
//! controller's mount that discovery does not walk (`hugetlb`, `cpuset`), by path.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::cgroup::{Controller, Layout, Mode};
use crate::discovery::Dirs;
use crate::reader::{Dir, Reader, Records};

/// A tree holding cgroup files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The hierarchy of a controller discovery follows (v2: the one tree).
    Controller(Controller),
    /// The unified tree: the v2 root, or the `unified` mount of a hybrid host.
    Unified,
}

/// Reads cgroup and process files for the opt-in kinds, into one reused buffer.
#[derive(Debug)]
pub struct CgroupFiles {
    layout: Layout,
    /// `layout.tracked()`, indexed like a cgroup's `Dirs`.
    trees: Vec<PathBuf>,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    reader: Reader,
    scratch: PathBuf,
}

impl CgroupFiles {
    pub fn new(layout: Layout, procfs: PathBuf, sysfs: PathBuf) -> CgroupFiles {
        CgroupFiles {
            trees: layout.tracked(),
            layout,
            procfs,
            sysfs,
            reader: Reader::default(),
            scratch: PathBuf::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.layout.mode
    }

    /// The mount of a v1 controller (`hugetlb`, `cpuset`: also co-mounted, `cpuset,cpu`),
    /// found beside the controllers discovery follows; `None` on v2 or where it is not
    /// mounted.
    pub fn v1_mount(&self, controller: &str) -> Option<PathBuf> {
        if self.layout.mode == Mode::V2 {
            return None;
        }
        let root = self.layout.hierarchies.first()?.parent()?;
        let exact = root.join(controller);
        if exact.join("cgroup.procs").is_file() {
            return Some(exact);
        }
        std::fs::read_dir(root)
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.split(',').any(|part| part == controller))
                    && path.join("cgroup.procs").is_file()
            })
    }

    /// The index of a tree among the ones discovery follows (see `Layout::tracked`).
    fn index(&self, tree: Tree) -> Option<usize> {
        match tree {
            Tree::Controller(controller) => self.layout.hierarchy(controller),
            Tree::Unified => self.layout.pressure_hierarchy(),
        }
    }

    /// The cgroup's directory in `tree`, when the cgroup is there.
    pub fn dir(&self, dirs: &Dirs<'_>, tree: Tree) -> Option<PathBuf> {
        let index = self.index(tree)?;
        if !dirs.in_hierarchy(index) {
            return None;
        }
        Some(Layout::dir(self.trees.get(index)?, dirs.path))
    }

    /// A file of the cgroup in `tree`: `Ok(None)` when the cgroup is not in that tree or the
    /// file does not exist (a controller this kernel lacks, a cgroup removed meanwhile).
    pub fn read(
        &mut self,
        dirs: &Dirs<'_>,
        tree: Tree,
        file: &str,
    ) -> std::io::Result<Option<&[u8]>> {
        let Some(index) = self.index(tree) else {
            return Ok(None);
        };
        if !dirs.in_hierarchy(index) {
            return Ok(None);
        }
        let dir = match dirs.fd(index) {
            Some(fd) => Dir::Fd(fd),
            None => {
                let Some(mount) = self.trees.get(index) else {
                    return Ok(None);
                };
                self.scratch = Layout::dir(mount, dirs.path);
                Dir::Path(&self.scratch)
            }
        };
        absent_as_none(self.reader.read_in(dir, file, Records::One))
    }

    /// A file in a directory given by path (a v1 mount discovery does not follow, `/proc`).
    pub fn read_at(
        &mut self,
        dir: &Path,
        file: &str,
        records: Records,
    ) -> std::io::Result<Option<&[u8]>> {
        absent_as_none(self.reader.read_in(Dir::Path(dir), file, records))
    }

    /// The processes of the cgroup (its `cgroup.procs` in the cpu hierarchy, or the memory
    /// one), with those of every descendant when `recursive`, into `out` (cleared first).
    pub fn pids(&mut self, dirs: &Dirs<'_>, recursive: bool, out: &mut Vec<u32>) {
        out.clear();
        let tree = [Controller::Cpu, Controller::Memory]
            .into_iter()
            .map(Tree::Controller)
            .find(|tree| self.index(*tree).is_some_and(|i| dirs.in_hierarchy(i)));
        let Some(tree) = tree else {
            return;
        };
        if !recursive {
            if let Ok(Some(text)) = self.read(dirs, tree, "cgroup.procs") {
                parse_pids(text, out);
            }
            return;
        }
        let Some(top) = self.dir(dirs, tree) else {
            return;
        };
        let mut pending = vec![top];
        while let Some(dir) = pending.pop() {
            if let Ok(Some(text)) = self.read_at(&dir, "cgroup.procs", Records::Many) {
                parse_pids(text, out);
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            pending.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
}

fn absent_as_none(result: std::io::Result<&[u8]>) -> std::io::Result<Option<&[u8]>> {
    match result {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        // A process gone between listing and reading.
        Err(err) if err.raw_os_error() == Some(nix::libc::ESRCH) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Appends the pids of a `cgroup.procs` text to `out`; garbage lines are skipped.
pub fn parse_pids(text: &[u8], out: &mut Vec<u32>) {
    out.extend(
        text.split(|b| *b == b'\n')
            .filter_map(|line| crate::parse::parse_u64(line.trim_ascii()))
            .filter_map(|pid| u32::try_from(pid).ok())
            .filter(|pid| *pid > 0),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_mounts_files_and_pids() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, procs) in [
            ("cpu", "1\n"),
            ("cpu/a", "10\n11\n"),
            ("cpu/a/b", "12\nbad\n"),
            ("memory", ""),
            ("memory/a", "10\n"),
            ("cpuset,cpuacct", ""),
            ("hugetlb", ""),
        ] {
            std::fs::create_dir_all(root.join(path)).unwrap();
            std::fs::write(root.join(path).join("cgroup.procs"), procs).unwrap();
        }
        std::fs::write(root.join("memory/a/memory.numa_stat"), "total=1 N0=1\n").unwrap();
        let layout = Layout::detect(root).unwrap();
        let mut files = CgroupFiles::new(layout, root.join("proc"), root.join("sys"));
        assert_eq!(files.v1_mount("hugetlb"), Some(root.join("hugetlb")));
        assert_eq!(files.v1_mount("cpuset"), Some(root.join("cpuset,cpuacct")));
        assert_eq!(files.v1_mount("pids"), None);
        let tree = crate::discovery::CgroupTree::<()>::new(
            Layout::detect(root).unwrap().tracked(),
            2,
            false,
            0,
        );
        let node = tree.node(tree.slot("/a").unwrap()).unwrap();
        let dirs = node.dirs("/a");
        let memory = Tree::Controller(Controller::Memory);
        assert_eq!(
            files.read(&dirs, memory, "memory.numa_stat").unwrap(),
            Some(&b"total=1 N0=1\n"[..])
        );
        assert_eq!(files.read(&dirs, memory, "missing").unwrap(), None);
        assert_eq!(files.read(&dirs, Tree::Unified, "x").unwrap(), None);
        let mut pids = vec![99];
        files.pids(&dirs, false, &mut pids);
        assert_eq!(pids, [10, 11]);
        files.pids(&dirs, true, &mut pids);
        pids.sort_unstable();
        assert_eq!(pids, [10, 11, 12]);
    }
}
