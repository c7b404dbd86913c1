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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// Every cgroup path (`/`, `/docker/<id>`, ...) present in at least one hierarchy.
#[derive(Debug)]
pub struct CgroupTree {
    hierarchies: Vec<PathBuf>,
    /// Path → bit set of the hierarchies holding it.
    paths: BTreeMap<String, u32>,
    watcher: Option<Watcher>,
    /// Bumped whenever the set of paths changes.
    generation: u64,
}

#[derive(Debug)]
struct Watcher {
    inotify: Inotify,
    watches: HashMap<WatchDescriptor, (usize, String)>,
}

const WATCH_MASK: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

impl CgroupTree {
    /// Walks the hierarchies once; with `watch`, keeps them current through inotify.
    pub fn new(hierarchies: Vec<PathBuf>, watch: bool) -> CgroupTree {
        let watcher = if watch {
            match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
                Ok(inotify) => Some(Watcher {
                    inotify,
                    watches: HashMap::new(),
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
            hierarchies,
            paths: BTreeMap::new(),
            watcher,
            generation: 0,
        };
        tree.walk_all();
        tree
    }

    /// Brings the set up to date; returns whether it changed.
    pub fn refresh(&mut self) -> bool {
        let before = self.generation;
        if self.watcher.is_none() {
            let old = std::mem::take(&mut self.paths);
            self.walk_all();
            self.generation = before + u64::from(old != self.paths);
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

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.paths.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether inotify keeps the set current (otherwise every scrape walks the trees).
    pub fn is_watching(&self) -> bool {
        self.watcher.is_some()
    }

    fn apply(&mut self, wd: WatchDescriptor, mask: AddWatchFlags, name: Option<&std::ffi::OsStr>) {
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
            let mount = self.hierarchies[hierarchy].clone();
            self.add_subtree(hierarchy, &mount, path);
        } else if mask.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
            self.remove_subtree(hierarchy, &path);
        }
    }

    fn walk_all(&mut self) {
        for (index, mount) in self.hierarchies.clone().iter().enumerate() {
            self.add_subtree(index, mount, "/".to_owned());
        }
    }

    /// Adds `path` and everything below it (watching each directory before listing it, so a
    /// child created in between raises an event instead of being missed).
    fn add_subtree(&mut self, hierarchy: usize, mount: &Path, path: String) {
        let mut pending = vec![path];
        while let Some(path) = pending.pop() {
            let dir = crate::cgroup::Layout::dir(mount, &path);
            self.watch(hierarchy, &dir, &path);
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // Removed meanwhile (its rmdir event follows), or not readable: not a cgroup
                // we can report.
                Err(_) => continue,
            };
            let bit = 1u32 << hierarchy;
            let slot = self.paths.entry(path.clone()).or_insert(0);
            if *slot & bit == 0 {
                *slot |= bit;
                self.generation += 1;
            }
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                if let Ok(name) = entry.file_name().into_string() {
                    pending.push(child_path(&path, &name));
                }
            }
        }
    }

    fn remove_subtree(&mut self, hierarchy: usize, path: &str) {
        let bit = 1u32 << hierarchy;
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .paths
            .range(path.to_owned()..)
            .take_while(|(p, _)| p.as_str() == path || p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            if let Some(bits) = self.paths.get_mut(&p) {
                *bits &= !bit;
                if *bits == 0 {
                    self.paths.remove(&p);
                }
                self.generation += 1;
            }
        }
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

    fn set(tree: &CgroupTree) -> Vec<String> {
        tree.paths().map(str::to_owned).collect()
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
            let mut tree = CgroupTree::new(vec![cpu.clone(), memory.clone()], watch);
            assert_eq!(tree.is_watching(), watch);
            assert_eq!(
                set(&tree),
                vec!["/", "/docker", "/docker/a", "/only-memory"]
            );
            assert!(!tree.refresh());

            std::fs::create_dir_all(cpu.join("docker/b/nested")).unwrap();
            std::fs::remove_dir(memory.join("only-memory")).unwrap();
            assert!(tree.refresh());
            assert_eq!(
                set(&tree),
                vec!["/", "/docker", "/docker/a", "/docker/b", "/docker/b/nested"]
            );
            // Still in the memory hierarchy: stays.
            std::fs::remove_dir(cpu.join("docker/a")).unwrap();
            assert!(tree.refresh());
            assert!(set(&tree).contains(&"/docker/a".to_owned()));
            std::fs::remove_dir(memory.join("docker/a")).unwrap();
            std::fs::remove_dir_all(cpu.join("docker/b")).unwrap();
            assert!(tree.refresh());
            assert_eq!(set(&tree), vec!["/", "/docker"]);
        }
    }
}
