//! The `cpu_topology` kind: NUMA nodes, their cores and threads, CPU caches, memory, huge pages
//! and distances, from sysfs (`<sysfs>/devices/system/node/node<N>`, the `cpu<N>` entries in
//! them, `cpu<N>/topology/{core_id,physical_package_id}` and `cpu<N>/cache/index<N>`), grouped
//! as cAdvisor's machine info groups them. Static data: read at start and again with the other
//! machine facts (`-update_machine_info_interval`), never per scrape.
//!
//! Caches as cAdvisor files them: level 1 and 2 caches shared by exactly a core's threads are
//! the core's; level 3 and above shared by the whole node are the node's (`core_id=""`),
//! otherwise the core's "uncore" ones. A machine without NUMA nodes in sysfs gets one node per
//! physical package, without memory, huge pages or distances.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use octo_exporter_kit::MetricFamily;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub id: i64,
    pub size: u64,
    pub level: u32,
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Core {
    pub id: i64,
    pub package: i64,
    pub threads: Vec<u32>,
    pub caches: Vec<Cache>,
    pub uncore: Vec<Cache>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub id: i64,
    pub cores: Vec<Core>,
    pub caches: Vec<Cache>,
    pub memory: Option<u64>,
    /// (page size in kB, pages).
    pub hugepages: Vec<(u64, u64)>,
    pub distances: Vec<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub nodes: Vec<Node>,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn number<T: std::str::FromStr>(path: &Path) -> Option<T> {
    read(path)?.trim().parse().ok()
}

/// The numbered entries `<prefix><N>` of a directory, sorted by number.
fn numbered(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name();
                    let id = name.to_str()?.strip_prefix(prefix)?.parse().ok()?;
                    Some((id, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Whether CPU `id` is in a cpulist (`0-3,8`); a list that cannot be parsed says no.
pub fn cpu_list_contains(list: &str, id: u32) -> bool {
    list.trim()
        .split(',')
        .any(|range| match range.split_once('-') {
            Some((low, high)) => match (low.parse::<u32>(), high.parse::<u32>()) {
                (Ok(low), Ok(high)) => (low..=high).contains(&id),
                _ => false,
            },
            None => range.parse() == Ok(id),
        })
}

/// A cache `size` file (`48K`) in bytes.
pub fn cache_size(text: &str) -> Option<u64> {
    text.trim()
        .strip_suffix('K')?
        .parse::<u64>()
        .ok()?
        .checked_mul(1024)
}

/// How many CPUs a `shared_cpu_map` (comma-separated hex words) holds.
pub fn shared_cpu_count(text: &str) -> Option<u32> {
    text.trim().split(',').try_fold(0u32, |count, word| {
        Some(count + u64::from_str_radix(word, 16).ok()?.count_ones())
    })
}

/// `MemTotal` of a node's `meminfo` (`Node 0 MemTotal:  24471368 kB`), in bytes.
pub fn node_memory(meminfo: &str) -> Option<u64> {
    let rest = meminfo.split("MemTotal:").nth(1)?;
    let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
    kb.checked_mul(1024)
}

/// A node's `distance` line.
pub fn distances(text: &str) -> Option<Vec<u64>> {
    text.split_whitespace().map(|d| d.parse().ok()).collect()
}

impl Topology {
    pub fn read(sysfs: &Path) -> Topology {
        let system = sysfs.join("devices/system");
        let online = read(&system.join("cpu/online"));
        let is_online = |cpu: u32| {
            online
                .as_deref()
                .is_none_or(|list| cpu_list_contains(list, cpu))
        };
        let node_dirs = numbered(&system.join("node"), "node");
        let mut nodes = Vec::new();
        if node_dirs.is_empty() {
            let mut by_package: BTreeMap<i64, Vec<(u32, PathBuf)>> = BTreeMap::new();
            for (cpu, dir) in numbered(&system.join("cpu"), "cpu") {
                if let Some(package) = number(&dir.join("topology/physical_package_id")) {
                    by_package.entry(package).or_default().push((cpu, dir));
                }
            }
            for (package, cpus) in by_package {
                let mut node = Node {
                    id: package,
                    cores: cores(&cpus, &is_online),
                    ..Node::default()
                };
                add_caches(&system, &mut node);
                nodes.push(node);
            }
        }
        for (id, dir) in node_dirs {
            let mut node = Node {
                id: i64::from(id),
                cores: cores(&numbered(&dir, "cpu"), &is_online),
                memory: read(&dir.join("meminfo")).and_then(|m| node_memory(&m)),
                distances: read(&dir.join("distance"))
                    .and_then(|d| distances(&d))
                    .unwrap_or_default(),
                ..Node::default()
            };
            node.hugepages = hugepages(&dir.join("hugepages"));
            add_caches(&system, &mut node);
            nodes.push(node);
        }
        Topology { nodes }
    }

    /// The `cpu_topology` families, with the machine labels.
    pub fn families(&self, machine: &[(&'static str, &str)], out: &mut Vec<MetricFamily>) {
        let mut caches = MetricFamily::gauge(
            "machine_cpu_cache_capacity_bytes",
            "Cache size in bytes assigned to NUMA node and CPU core.",
        );
        let mut siblings = MetricFamily::gauge(
            "machine_thread_siblings_count",
            "Number of CPU thread siblings.",
        );
        let mut memory = MetricFamily::gauge(
            "machine_node_memory_capacity_bytes",
            "Amount of memory assigned to NUMA node.",
        );
        let mut hugepages = MetricFamily::gauge(
            "machine_node_hugepages_count",
            "Numer of hugepages assigned to NUMA node.",
        );
        let mut distance = MetricFamily::gauge(
            "machine_node_distance",
            "Distance between NUMA node and target NUMA node.",
        );
        let with = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
            machine
                .iter()
                .chain(extra)
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        for node in &self.nodes {
            let node_id = node.id.to_string();
            for core in &node.cores {
                let core_id = core.id.to_string();
                for thread in &core.threads {
                    let labels = [
                        ("node_id", node_id.as_str()),
                        ("core_id", &core_id),
                        ("thread_id", &thread.to_string()),
                    ];
                    siblings.push_owned(with(&labels), core.threads.len() as f64);
                }
                for cache in core.caches.iter().chain(&core.uncore) {
                    let level = cache.level.to_string();
                    let labels = [
                        ("node_id", node_id.as_str()),
                        ("core_id", &core_id),
                        ("type", &cache.kind),
                        ("level", &level),
                    ];
                    caches.push_owned(with(&labels), cache.size as f64);
                }
            }
            for cache in &node.caches {
                let level = cache.level.to_string();
                let labels = [
                    ("node_id", node_id.as_str()),
                    ("core_id", ""),
                    ("type", &cache.kind),
                    ("level", &level),
                ];
                caches.push_owned(with(&labels), cache.size as f64);
            }
            if let Some(bytes) = node.memory {
                memory.push_owned(with(&[("node_id", &node_id)]), bytes as f64);
            }
            for (size, pages) in &node.hugepages {
                let labels = [
                    ("node_id", node_id.as_str()),
                    ("page_size", &size.to_string()),
                ];
                hugepages.push_owned(with(&labels), *pages as f64);
            }
            for (target, d) in node.distances.iter().enumerate() {
                let labels = [
                    ("node_id", node_id.as_str()),
                    ("target_node_id", &target.to_string()),
                ];
                distance.push_owned(with(&labels), *d as f64);
            }
        }
        out.extend([caches, siblings, memory, hugepages, distance]);
    }
}

/// The online CPUs of a node grouped into cores by (core id, package id).
fn cores(cpus: &[(u32, PathBuf)], is_online: &impl Fn(u32) -> bool) -> Vec<Core> {
    let mut cores: Vec<Core> = Vec::new();
    for (cpu, dir) in cpus {
        if !is_online(*cpu) {
            continue;
        }
        let (Some(id), Some(package)) = (
            number::<i64>(&dir.join("topology/core_id")),
            number::<i64>(&dir.join("topology/physical_package_id")),
        ) else {
            continue;
        };
        match cores
            .iter_mut()
            .find(|c| c.id == id && c.package == package)
        {
            Some(core) => core.threads.push(*cpu),
            None => cores.push(Core {
                id,
                package,
                threads: vec![*cpu],
                ..Core::default()
            }),
        }
    }
    cores
}

/// The caches seen from each core's first thread, filed as cAdvisor files them.
fn add_caches(system: &Path, node: &mut Node) {
    // As cAdvisor reckons it: the node's cores times this core's threads.
    let core_count = node.cores.len();
    let mut node_caches: Vec<Cache> = Vec::new();
    for core in &mut node.cores {
        let Some(first) = core.threads.first() else {
            continue;
        };
        let dir = system.join(format!("cpu/cpu{first}/cache"));
        for (_, index) in numbered(&dir, "index") {
            let (Some(id), Some(size), Some(level), Some(kind), Some(shared)) = (
                number::<i64>(&index.join("id")),
                read(&index.join("size")).and_then(|s| cache_size(&s)),
                number::<u32>(&index.join("level")),
                read(&index.join("type")).map(|t| t.trim().to_owned()),
                read(&index.join("shared_cpu_map")).and_then(|m| shared_cpu_count(&m)),
            ) else {
                continue;
            };
            let cache = Cache {
                id,
                size,
                level,
                kind,
            };
            let shared = shared as usize;
            let threads_per_core = core.threads.len();
            if level > 2 {
                if shared == core_count * threads_per_core {
                    if !node_caches.contains(&cache) {
                        node_caches.push(cache);
                    }
                } else if !core.uncore.contains(&cache) {
                    core.uncore.push(cache);
                }
            } else if shared == threads_per_core {
                core.caches.push(cache);
            }
        }
    }
    node.caches = node_caches;
}

/// `hugepages/hugepages-<kB>kB/nr_hugepages` of a node.
fn hugepages(dir: &Path) -> Vec<(u64, u64)> {
    let mut found: Vec<(u64, u64)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name();
                    let kb = name
                        .to_str()?
                        .strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()?;
                    Some((kb, number(&e.path().join("nr_hugepages"))?))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Two nodes of two cores with two threads each; L1d and L2 per core, L3 per node.
    fn two_nodes(sys: &Path) {
        let system = sys.join("devices/system");
        write(&system.join("cpu/online"), "0-7\n");
        for cpu in 0..8u32 {
            let dir = system.join(format!("cpu/cpu{cpu}"));
            let node = cpu / 4;
            write(
                &dir.join("topology/core_id"),
                &format!("{}\n", (cpu % 4) / 2),
            );
            write(
                &dir.join("topology/physical_package_id"),
                &format!("{node}\n"),
            );
            for (index, level, kind, size, shared) in [
                (0, 1, "Data", "32K", "3"),
                (1, 2, "Unified", "1024K", "3"),
                (2, 3, "Unified", "8192K", "f"),
            ] {
                let cache = dir.join(format!("cache/index{index}"));
                write(
                    &cache.join("id"),
                    &format!("{}\n", if level == 3 { node } else { cpu / 2 }),
                );
                write(&cache.join("level"), &format!("{level}\n"));
                write(&cache.join("type"), &format!("{kind}\n"));
                write(&cache.join("size"), &format!("{size}\n"));
                write(&cache.join("shared_cpu_map"), &format!("{shared}\n"));
            }
            let node_dir = system.join(format!("node/node{node}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            std::os::unix::fs::symlink(&dir, node_dir.join(format!("cpu{cpu}"))).unwrap();
        }
        for node in 0..2 {
            let dir = system.join(format!("node/node{node}"));
            write(
                &dir.join("meminfo"),
                &format!("Node {node} MemTotal:       1024 kB\nNode {node} MemFree: 1 kB\n"),
            );
            write(
                &dir.join("distance"),
                if node == 0 { "10 21\n" } else { "21 10\n" },
            );
            write(&dir.join("hugepages/hugepages-2048kB/nr_hugepages"), "4\n");
            write(
                &dir.join("hugepages/hugepages-1048576kB/nr_hugepages"),
                "0\n",
            );
        }
    }

    #[test]
    fn two_numa_nodes() {
        let dir = tempfile::tempdir().unwrap();
        two_nodes(dir.path());
        let topology = Topology::read(dir.path());
        assert_eq!(topology.nodes.len(), 2);
        let node = &topology.nodes[1];
        assert_eq!(node.id, 1);
        assert_eq!(node.cores.len(), 2);
        assert_eq!(node.cores[0].threads, [4, 5]);
        assert_eq!(node.cores[0].caches.len(), 2);
        assert_eq!(node.caches.len(), 1, "{:?}", node.caches);
        assert_eq!(node.caches[0].size, 8 << 20);
        assert_eq!(node.memory, Some(1 << 20));
        assert_eq!(node.distances, [21, 10]);
        assert_eq!(node.hugepages, [(2048, 4), (1048576, 0)]);
        let mut out = Vec::new();
        topology.families(&[("machine_id", "m")], &mut out);
        let count = |name: &str| out.iter().find(|f| f.name == name).unwrap().samples.len();
        assert_eq!(count("machine_thread_siblings_count"), 8);
        assert_eq!(count("machine_cpu_cache_capacity_bytes"), 2 * 2 * 2 + 2);
        assert_eq!(count("machine_node_distance"), 4);
        assert_eq!(count("machine_node_hugepages_count"), 4);
        assert_eq!(count("machine_node_memory_capacity_bytes"), 2);

        // CPU 5 offline: core 0 of node 1 keeps one thread.
        write(&dir.path().join("devices/system/cpu/online"), "0-4,6-7\n");
        assert_eq!(Topology::read(dir.path()).nodes[1].cores[0].threads, [4]);
        // Without NUMA nodes: one node per package, no memory.
        std::fs::remove_dir_all(dir.path().join("devices/system/node")).unwrap();
        let topology = Topology::read(dir.path());
        assert_eq!(topology.nodes.len(), 2);
        assert_eq!(topology.nodes[0].memory, None);
    }

    #[test]
    fn this_machine() {
        let topology = Topology::read(Path::new("/sys"));
        let threads: usize = topology
            .nodes
            .iter()
            .flat_map(|n| &n.cores)
            .map(|c| c.threads.len())
            .sum();
        assert!(threads >= 1, "{topology:?}");
    }

    #[test]
    fn parsers() {
        assert!(cpu_list_contains("0-3,8\n", 8));
        assert!(cpu_list_contains("0-3,8", 2));
        assert!(!cpu_list_contains("0-3,8", 5));
        assert!(!cpu_list_contains("x", 0));
        assert_eq!(cache_size("48K\n"), Some(48 * 1024));
        assert_eq!(cache_size("48M"), None);
        assert_eq!(shared_cpu_count("00000000,0000000f\n"), Some(4));
        assert_eq!(shared_cpu_count("zz"), None);
        assert_eq!(
            node_memory("Node 0 MemTotal:       24471368 kB\n"),
            Some(24471368 * 1024)
        );
        assert_eq!(node_memory("Node 0 MemFree: 1 kB"), None);
        assert_eq!(distances("10 20\n"), Some(vec![10, 20]));
        assert_eq!(distances("10 x"), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,60}", id in any::<u32>()) {
            let _ = cpu_list_contains(&text, id);
            let _ = cache_size(&text);
            let _ = shared_cpu_count(&text);
            let _ = node_memory(&text);
            let _ = distances(&text);
        }
    }
}
