//! The set of cgroups, kept current without walking every hierarchy on every scrape.
//!
//! Listing a cgroup directory costs the kernel far more than reading one of its files (kernfs
//! builds every entry), and a v1 host has one tree per controller: walking 1,000 cgroups in four
//! hierarchies on each scrape would cost more than reading their statistics. So the trees are
//! walked once, every directory gets an inotify watch for subdirectories created and removed
//! (mkdir and rmdir on cgroupfs raise them, which is how cAdvisor discovers containers too), and
//! a scrape only drains the pending events. When inotify is unavailable or runs out of watches
//! (`fs.inotify.max_user_watches`), or its queue overflows, the trees are walked again on every
//! scrape instead: slower, never wrong.
//!
//! Each cgroup directory also stays open (one descriptor per cgroup and hierarchy) from the
//! moment discovery finds it until it goes, so that reading a file costs the kernel a lookup of
//! one name instead of a walk down the whole path (`/sys/fs/cgroup/memory/system.slice/x/...`):
//! path lookup was the largest single cost of a scrape. Only directories stay open, never files
//! (an open cgroup file pins a kernel buffer). A descriptor budget (the open-file limit minus a
//! reserve for sockets and file reads) caps them; cgroups beyond it are read by path.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::stat::{Mode, SFlag};

/// Hierarchies whose directories are kept open: up to four v1 controllers plus the unified
/// tree of a hybrid host, or the one v2 tree.
pub const MAX_HIERARCHIES: usize = 5;

/// What the tree keeps for each cgroup on behalf of its user, created when the path first
/// appears in any hierarchy and dropped when it has left all of them.
pub trait CgroupData {
    fn new(path: &str) -> Self;
}

impl CgroupData for () {
    fn new(_path: &str) -> Self {}
}

/// One cgroup path: the hierarchies holding it, their open directories, and the user's data.
#[derive(Debug)]
pub struct Node<T> {
    bits: u32,
    dirs: [Option<OwnedFd>; MAX_HIERARCHIES],
    pub data: T,
}

impl<T> Node<T> {
    /// The user's data, and where the cgroup's files are.
    pub fn split<'a>(&'a mut self, path: &'a str) -> (&'a mut T, Dirs<'a>) {
        (&mut self.data, dirs_of(path, self.bits, &self.dirs))
    }

    /// Where the cgroup's files are.
    pub fn dirs<'a>(&'a self, path: &'a str) -> Dirs<'a> {
        dirs_of(path, self.bits, &self.dirs)
    }
}

fn dirs_of<'a>(path: &'a str, bits: u32, held: &'a [Option<OwnedFd>; MAX_HIERARCHIES]) -> Dirs<'a> {
    Dirs {
        path,
        bits,
        fds: std::array::from_fn(|i| held[i].as_ref().map(OwnedFd::as_fd)),
    }
}

/// Where one cgroup's files are: per hierarchy, whether it exists there and its directory
/// when held open (otherwise its path is built from the mount).
#[derive(Debug, Clone, Copy)]
pub struct Dirs<'a> {
    pub path: &'a str,
    bits: u32,
    fds: [Option<BorrowedFd<'a>>; MAX_HIERARCHIES],
}

impl<'a> Dirs<'a> {
    /// Whether the cgroup exists in hierarchy `index`.
    pub fn in_hierarchy(&self, index: usize) -> bool {
        index < 32 && self.bits & (1 << index) != 0
    }

    /// The open directory of the cgroup in hierarchy `index`, when one is held.
    pub fn fd(&self, index: usize) -> Option<BorrowedFd<'a>> {
        self.fds.get(index).copied().flatten()
    }
}

/// Every cgroup path (`/`, `/docker/<id>`, ...) present in at least one hierarchy, each in a
/// slot that stays the same for as long as the path exists.
#[derive(Debug)]
pub struct CgroupTree<T> {
    hierarchies: Vec<PathBuf>,
    /// The hierarchies whose cgroups are reported (the others, the unified tree of a hybrid
    /// host, are followed only to read their pressure files).
    reported: u32,
    index: BTreeMap<String, usize>,
    slots: Vec<Option<Node<T>>>,
    free: Vec<usize>,
    watcher: Option<Watcher>,
    /// Bumped whenever the set of paths, or a path's hierarchies, change.
    generation: u64,
    fds: FdBudget,
}

#[derive(Debug)]
struct Watcher {
    inotify: Inotify,
    watches: std::collections::HashMap<WatchDescriptor, (usize, String)>,
}

/// How many directory descriptors may stay open, and how many do.
#[derive(Debug)]
struct FdBudget {
    limit: usize,
    open: usize,
    warned: bool,
}

const WATCH_MASK: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

fn open_dir(dir: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// The names of the subdirectories of the open directory `dir`.
fn subdirectories(dir: &OwnedFd) -> std::io::Result<Vec<String>> {
    // A duplicate shares the open directory: listing it costs no path lookup.
    let mut listing = Dir::from_fd(dir.try_clone()?)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            Some(kind) => kind == Type::Directory,
            None => nix::sys::stat::fstatat(dir, entry.file_name(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| {
                    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
                }),
        };
        if let (true, Ok(name)) = (is_dir, std::str::from_utf8(name)) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

impl<T: CgroupData> CgroupTree<T> {
    /// Walks the hierarchies once; with `watch`, keeps them current through inotify. The
    /// cgroups of the first `reported` hierarchies are reported; at most `fd_budget`
    /// directories are kept open.
    pub fn new(
        hierarchies: Vec<PathBuf>,
        reported: usize,
        watch: bool,
        fd_budget: usize,
    ) -> CgroupTree<T> {
        let watcher = if watch {
            match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
                Ok(inotify) => Some(Watcher {
                    inotify,
                    watches: std::collections::HashMap::new(),
                }),
                Err(err) => {
                    tracing::warn!(error = %err, "inotify is unavailable; cgroup trees are walked on every scrape");
                    None
                }
            }
        } else {
            None
        };
        let mut tree = CgroupTree {
            reported: (0..reported.min(32)).fold(0, |mask, i| mask | 1 << i),
            hierarchies,
            index: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            watcher,
            generation: 0,
            fds: FdBudget {
                limit: fd_budget,
                open: 0,
                warned: false,
            },
        };
        tree.walk_all();
        tree
    }

    /// Brings the set up to date; returns whether it changed.
    pub fn refresh(&mut self) -> bool {
        let before = self.generation;
        if self.watcher.is_none() {
            self.walk_all();
            return self.generation != before;
        }
        loop {
            let events = match self.watcher.as_ref().map(|w| w.inotify.read_events()) {
                Some(Ok(events)) => events,
                Some(Err(Errno::EAGAIN)) | None => break,
                Some(Err(err)) => {
                    self.give_up_watching(&format!("reading inotify events: {err}"));
                    return self.refresh() || self.generation != before;
                }
            };
            for event in events {
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    self.give_up_watching("the inotify queue overflowed");
                    return self.refresh() || self.generation != before;
                }
                self.apply(event.wd, event.mask, event.name.as_deref());
            }
        }
        self.generation != before
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The reported paths in order, with their slots.
    pub fn paths(&self) -> impl Iterator<Item = (&str, usize)> {
        self.index
            .iter()
            .filter(|(_, slot)| self.is_reported(**slot))
            .map(|(path, slot)| (path.as_str(), *slot))
    }

    fn is_reported(&self, slot: usize) -> bool {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|node| node.bits & self.reported != 0)
    }

    /// The slot of a reported or followed path.
    pub fn slot(&self, path: &str) -> Option<usize> {
        self.index.get(path).copied()
    }

    pub fn node(&self, slot: usize) -> Option<&Node<T>> {
        self.slots.get(slot)?.as_ref()
    }

    pub fn node_mut(&mut self, slot: usize) -> Option<&mut Node<T>> {
        self.slots.get_mut(slot)?.as_mut()
    }

    /// Every reported cgroup's data, in no particular order.
    pub fn data(&self) -> impl Iterator<Item = &T> {
        self.slots
            .iter()
            .flatten()
            .filter(|node| node.bits & self.reported != 0)
            .map(|node| &node.data)
    }

    /// How many cgroups are reported.
    pub fn len(&self) -> usize {
        self.paths().count()
    }

    /// How many cgroup directories are held open.
    pub fn open_dirs(&self) -> usize {
        self.fds.open
    }

    /// Whether inotify keeps the set current (otherwise every scrape walks the trees).
    pub fn is_watching(&self) -> bool {
        self.watcher.is_some()
    }

    fn apply(&mut self, wd: WatchDescriptor, mask: AddWatchFlags, name: Option<&OsStr>) {
        if mask.contains(AddWatchFlags::IN_IGNORED) {
            if let Some(watcher) = &mut self.watcher {
                watcher.watches.remove(&wd);
            }
            return;
        }
        if !mask.contains(AddWatchFlags::IN_ISDIR) {
            return;
        }
        let Some(name) = name.and_then(|n| n.to_str()) else {
            return;
        };
        let Some((hierarchy, parent)) = self
            .watcher
            .as_ref()
            .and_then(|w| w.watches.get(&wd))
            .cloned()
        else {
            return;
        };
        let path = child_path(&parent, name);
        if mask.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO) {
            self.add_subtree(hierarchy, path, None);
        } else if mask.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
            self.remove_subtree(hierarchy, &path);
        }
    }

    /// Walks every hierarchy; what was not found any more is removed. Directories opened for
    /// listing replace the ones held, so a walk also renews every descriptor.
    fn walk_all(&mut self) {
        let mut seen: Vec<u32> = vec![0; self.slots.len()];
        for index in 0..self.hierarchies.len() {
            self.add_subtree(index, "/".to_owned(), Some(&mut seen));
        }
        let mut gone: Vec<(String, u32)> = Vec::new();
        for (path, slot) in &self.index {
            let bits = self.slots[*slot].as_ref().map_or(0, |n| n.bits);
            let missing = bits & !seen.get(*slot).copied().unwrap_or(0);
            if missing != 0 {
                gone.push((path.clone(), missing));
            }
        }
        for (path, missing) in gone {
            for hierarchy in 0..self.hierarchies.len().min(32) {
                if missing & (1 << hierarchy) != 0 {
                    self.remove_one(hierarchy, &path);
                }
            }
        }
    }

    /// Adds `path` and everything below it (watching each directory before listing it, so a
    /// child created in between raises an event instead of being missed).
    fn add_subtree(&mut self, hierarchy: usize, path: String, mut seen: Option<&mut Vec<u32>>) {
        let mount = self.hierarchies[hierarchy].clone();
        let mut pending = vec![path];
        while let Some(path) = pending.pop() {
            let dir = crate::cgroup::Layout::dir(&mount, &path);
            self.watch(hierarchy, &dir, &path);
            let opened = open_dir(&dir).map_err(std::io::Error::from);
            let (fd, children) = match opened.and_then(|fd| Ok((subdirectories(&fd)?, fd))) {
                Ok((children, fd)) => (fd, children),
                // Removed meanwhile (its rmdir event follows), or not readable: not a cgroup
                // we can report.
                Err(_) => continue,
            };
            let slot = self.insert(hierarchy, &path, fd);
            if let Some(seen) = seen.as_deref_mut() {
                if seen.len() <= slot {
                    seen.resize(slot + 1, 0);
                }
                seen[slot] |= 1 << hierarchy;
            }
            for name in children {
                pending.push(child_path(&path, &name));
            }
        }
    }

    /// Records that `path` exists in `hierarchy`, with its directory `fd` (kept if the budget
    /// allows). Returns the path's slot.
    fn insert(&mut self, hierarchy: usize, path: &str, fd: OwnedFd) -> usize {
        let slot = match self.index.get(path) {
            Some(slot) => *slot,
            None => {
                let node = Node {
                    bits: 0,
                    dirs: Default::default(),
                    data: T::new(path),
                };
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slots[slot] = Some(node);
                        slot
                    }
                    None => {
                        self.slots.push(Some(node));
                        self.slots.len() - 1
                    }
                };
                self.index.insert(path.to_owned(), slot);
                slot
            }
        };
        let Some(node) = self.slots[slot].as_mut() else {
            return slot;
        };
        let bit = 1u32 << hierarchy;
        if node.bits & bit == 0 {
            node.bits |= bit;
            self.generation += 1;
        }
        if let Some(held) = node.dirs.get_mut(hierarchy) {
            if held.take().is_some() {
                self.fds.open -= 1;
            }
            if self.fds.open < self.fds.limit {
                *held = Some(fd);
                self.fds.open += 1;
            } else if !self.fds.warned {
                self.fds.warned = true;
                tracing::warn!(
                    open = self.fds.open,
                    "the descriptor budget for cgroup directories is used up (raise the open-file limit, ulimit -n); further cgroups are read by path, which costs more CPU"
                );
            }
        }
        slot
    }

    fn remove_subtree(&mut self, hierarchy: usize, path: &str) {
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .index
            .range(path.to_owned()..)
            .take_while(|(p, _)| p.as_str() == path || p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            self.remove_one(hierarchy, &p);
        }
    }

    /// Forgets `path` in `hierarchy` (closing its directory), and the path itself once no
    /// hierarchy holds it.
    fn remove_one(&mut self, hierarchy: usize, path: &str) {
        let Some(&slot) = self.index.get(path) else {
            return;
        };
        let Some(node) = self.slots[slot].as_mut() else {
            return;
        };
        let bit = 1u32 << hierarchy;
        if node.bits & bit == 0 {
            return;
        }
        node.bits &= !bit;
        if let Some(held) = node.dirs.get_mut(hierarchy)
            && held.take().is_some()
        {
            self.fds.open -= 1;
        }
        if node.bits == 0 {
            self.slots[slot] = None;
            self.free.push(slot);
            self.index.remove(path);
        }
        self.generation += 1;
    }

    fn watch(&mut self, hierarchy: usize, dir: &Path, path: &str) {
        let Some(watcher) = &mut self.watcher else {
            return;
        };
        match watcher.inotify.add_watch(dir, WATCH_MASK) {
            Ok(wd) => {
                watcher.watches.insert(wd, (hierarchy, path.to_owned()));
            }
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
            Err(err) => self.give_up_watching(&format!(
                "watching {}: {err} (raise fs.inotify.max_user_watches)",
                dir.display()
            )),
        }
    }

    /// Drops inotify (closing its descriptor removes every watch) and walks from now on.
    fn give_up_watching(&mut self, why: &str) {
        if self.watcher.take().is_some() {
            tracing::warn!("{why}; cgroup trees are walked on every scrape from now on");
        }
    }
}

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tree: &CgroupTree<()>) -> Vec<String> {
        tree.paths().map(|(p, _)| p.to_owned()).collect()
    }

    /// The directory held for `path` in hierarchy `index`, read back through `/proc/self/fd`.
    fn held(tree: &mut CgroupTree<()>, path: &str, index: usize) -> Option<PathBuf> {
        let slot = tree.paths().find(|(p, _)| *p == path)?.1;
        let node = tree.node_mut(slot)?;
        let (_, dirs) = node.split(path);
        let fd = dirs.fd(index)?;
        std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .ok()
    }

    #[test]
    fn follows_mkdir_and_rmdir_with_and_without_inotify() {
        for watch in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let cpu = dir.path().join("cpu");
            let memory = dir.path().join("memory");
            std::fs::create_dir_all(cpu.join("docker/a")).unwrap();
            std::fs::create_dir_all(memory.join("docker/a")).unwrap();
            std::fs::create_dir_all(memory.join("only-memory")).unwrap();
            std::fs::write(cpu.join("cpu.stat"), "").unwrap();
            let mut tree = CgroupTree::<()>::new(vec![cpu.clone(), memory.clone()], 2, watch, 100);
            assert_eq!(tree.is_watching(), watch);
            assert_eq!(
                set(&tree),
                vec!["/", "/docker", "/docker/a", "/only-memory"]
            );
            assert_eq!(tree.open_dirs(), 7);
            assert_eq!(
                held(&mut tree, "/docker/a", 1),
                Some(memory.join("docker/a"))
            );
            assert_eq!(held(&mut tree, "/only-memory", 0), None);
            assert!(!tree.refresh());

            std::fs::create_dir_all(cpu.join("docker/b/nested")).unwrap();
            std::fs::remove_dir(memory.join("only-memory")).unwrap();
            assert!(tree.refresh());
            assert_eq!(
                set(&tree),
                vec!["/", "/docker", "/docker/a", "/docker/b", "/docker/b/nested"]
            );
            assert_eq!(tree.open_dirs(), 8);
            // Still in the memory hierarchy: stays, with only that directory held.
            std::fs::remove_dir(cpu.join("docker/a")).unwrap();
            assert!(tree.refresh());
            assert!(set(&tree).contains(&"/docker/a".to_owned()));
            assert_eq!(held(&mut tree, "/docker/a", 0), None);
            assert_eq!(tree.open_dirs(), 7);
            // Removed and created again between two scrapes: the new directory is held.
            std::fs::remove_dir(memory.join("docker/a")).unwrap();
            std::fs::create_dir(memory.join("docker/a")).unwrap();
            std::fs::write(memory.join("docker/a/marker"), "new").unwrap();
            tree.refresh();
            let (_, slot) = tree.paths().find(|(p, _)| *p == "/docker/a").unwrap();
            let (_, dirs) = tree.node_mut(slot).unwrap().split("/docker/a");
            let fd = dirs.fd(1).unwrap();
            let mut reader = crate::reader::Reader::default();
            let text = reader
                .read_in(
                    crate::reader::Dir::Fd(fd),
                    "marker",
                    crate::reader::Records::One,
                )
                .unwrap();
            assert_eq!(text, b"new");

            std::fs::remove_dir_all(memory.join("docker/a")).unwrap();
            std::fs::remove_dir_all(cpu.join("docker/b")).unwrap();
            assert!(tree.refresh());
            assert_eq!(set(&tree), vec!["/", "/docker"]);
            assert_eq!(tree.open_dirs(), 4);
        }
    }

    #[test]
    fn beyond_the_descriptor_budget_cgroups_are_kept_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("cpu");
        for name in ["a", "b", "c"] {
            std::fs::create_dir_all(cpu.join(name)).unwrap();
        }
        let mut tree = CgroupTree::<()>::new(vec![cpu.clone()], 1, true, 2);
        assert_eq!(set(&tree), vec!["/", "/a", "/b", "/c"]);
        assert_eq!(tree.open_dirs(), 2);
        let held_count = ["/", "/a", "/b", "/c"]
            .iter()
            .filter(|p| held(&mut tree, p, 0).is_some())
            .count();
        assert_eq!(held_count, 2);
        // Freed descriptors go to cgroups found later.
        std::fs::remove_dir(cpu.join("a")).unwrap();
        std::fs::remove_dir(cpu.join("b")).unwrap();
        std::fs::remove_dir(cpu.join("c")).unwrap();
        assert!(tree.refresh());
        std::fs::create_dir(cpu.join("d")).unwrap();
        assert!(tree.refresh());
        assert_eq!(held(&mut tree, "/d", 0), Some(cpu.join("d")));
    }

    #[test]
    fn unreported_trees_are_followed_but_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let memory = dir.path().join("memory");
        let unified = dir.path().join("unified");
        std::fs::create_dir_all(memory.join("docker/a")).unwrap();
        std::fs::create_dir_all(unified.join("docker/a")).unwrap();
        std::fs::create_dir_all(unified.join("init.scope")).unwrap();
        let mut tree = CgroupTree::<()>::new(vec![memory, unified.clone()], 1, true, 100);
        assert_eq!(set(&tree), vec!["/", "/docker", "/docker/a"]);
        assert_eq!(tree.len(), 3);
        assert_eq!(
            held(&mut tree, "/docker/a", 1),
            Some(unified.join("docker/a"))
        );
    }
}
