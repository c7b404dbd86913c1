//! The `memory_numa` kind: `container_memory_numa_pages{type,scope,node}`, pages of the cgroup
//! per NUMA node, from `memory.numa_stat`.
//!
//! v1 (as runc reads it): `file=`, `anon=`, `unevictable=` lines count the cgroup's own pages
//! (`scope="container"`), their `hierarchical_` twins those of the cgroup and its descendants
//! (`scope="hierarchy"`); `N<id>=<pages>` columns per node.
//! v2: `anon`, `file`, `unevictable` lines with `N<id>=<bytes>` columns, hierarchical by
//! nature. runc does not read this file on v2, so cAdvisor writes nothing there; here they are
//! reported as `scope="hierarchy"`, in pages (bytes divided by the page size) to keep the
//! family's unit.

use octo_exporter_kit::{MetricFamily, MetricType};

use crate::cgroup::{Controller, Mode};
use crate::cgroup_files::{CgroupFiles, Tree};
use crate::cgroup_kind::{Cgroup, CgroupKind, FamilyDef, KindError, KindFamilies};

const FAMILIES: &[FamilyDef] = &[(
    "container_memory_numa_pages",
    MetricType::Gauge,
    "Number of used pages per NUMA node",
)];

/// The `type` label values, in cAdvisor's order.
const TYPES: [&str; 3] = ["file", "anon", "unevictable"];
/// The `scope` label values.
const SCOPES: [&str; 2] = ["container", "hierarchy"];

/// One value: type and scope (indexes into [`TYPES`], [`SCOPES`]), node, pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePages {
    pub kind: usize,
    pub scope: usize,
    pub node: u8,
    pub pages: u64,
}

#[derive(Debug)]
pub struct MemoryNuma {
    v2: bool,
    page_size: u64,
    families: KindFamilies,
    values: Vec<NodePages>,
    node_names: Vec<String>,
}

impl MemoryNuma {
    pub fn new(files: &CgroupFiles) -> MemoryNuma {
        let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|size| u64::try_from(size).ok())
            .filter(|size| *size > 0)
            .unwrap_or(4096);
        MemoryNuma {
            v2: files.mode() == Mode::V2,
            page_size,
            families: KindFamilies::new(FAMILIES),
            values: Vec::new(),
            node_names: (0..=u8::MAX).map(|n| n.to_string()).collect(),
        }
    }
}

impl CgroupKind for MemoryNuma {
    fn name(&self) -> &'static str {
        "memory_numa"
    }

    fn collect(&mut self, cgroup: &Cgroup<'_>, files: &mut CgroupFiles) -> Result<(), KindError> {
        let file = "memory.numa_stat";
        let tree = Tree::Controller(Controller::Memory);
        let text = match files.read(cgroup.dirs, tree, file) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(()),
            Err(err) => return Err(KindError::read(file, err)),
        };
        self.values.clear();
        let parsed = if self.v2 {
            parse_v2(text, self.page_size, &mut self.values)
        } else {
            parse_v1(text, &mut self.values)
        };
        parsed.map_err(|what| KindError::garbage(file, what))?;
        for v in &self.values {
            let labels = [
                ("type", TYPES[v.kind]),
                ("scope", SCOPES[v.scope]),
                ("node", self.node_names[usize::from(v.node)].as_str()),
            ];
            self.families.push(0, cgroup.base, &labels, v.pages as f64);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<MetricFamily>) {
        self.families.drain_into(out);
    }
}

/// `N<id>=<value>`.
fn node_column(column: &[u8]) -> Option<(u8, u64)> {
    let (key, value) = split_once(column, b'=')?;
    let node = crate::parse::parse_u64(key.strip_prefix(b"N")?)?;
    Some((u8::try_from(node).ok()?, crate::parse::parse_u64(value)?))
}

fn split_once(text: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = text.iter().position(|b| *b == separator)?;
    Some((&text[..at], &text[at + 1..]))
}

/// v1's `memory.numa_stat` into `out`. As runc: lines whose first column is not `key=value`
/// (custom kernels' `numa_locality 0 0 …`) and unknown keys are skipped; a known line with a
/// malformed column is an error.
pub fn parse_v1(text: &[u8], out: &mut Vec<NodePages>) -> Result<(), String> {
    for line in text.split(|b| *b == b'\n') {
        let mut columns = line.split(|b| *b == b' ').filter(|c| !c.is_empty());
        let Some((key, total)) = columns.next().and_then(|c| split_once(c, b'=')) else {
            continue;
        };
        let (scope, name) = match key.strip_prefix(b"hierarchical_") {
            Some(name) => (1, name),
            None => (0, key),
        };
        let Some(kind) = TYPES.iter().position(|t| t.as_bytes() == name) else {
            continue;
        };
        if crate::parse::parse_u64(total).is_none() {
            return Err(format!("bad total in {:?}", String::from_utf8_lossy(line)));
        }
        for column in columns {
            let (node, pages) = node_column(column)
                .ok_or_else(|| format!("bad column in {:?}", String::from_utf8_lossy(line)))?;
            out.push(NodePages {
                kind,
                scope,
                node,
                pages,
            });
        }
    }
    Ok(())
}

/// v2's `memory.numa_stat` (bytes per node) into `out`, as pages of `page_size` bytes in the
/// hierarchy scope.
pub fn parse_v2(text: &[u8], page_size: u64, out: &mut Vec<NodePages>) -> Result<(), String> {
    for line in text.split(|b| *b == b'\n') {
        let mut columns = line.split(|b| *b == b' ').filter(|c| !c.is_empty());
        let Some(key) = columns.next() else { continue };
        let Some(kind) = TYPES.iter().position(|t| t.as_bytes() == key) else {
            continue;
        };
        for column in columns {
            let (node, bytes) = node_column(column)
                .ok_or_else(|| format!("bad column in {:?}", String::from_utf8_lossy(line)))?;
            out.push(NodePages {
                kind,
                scope: 1,
                node,
                pages: bytes / page_size.max(1),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(kind: usize, scope: usize, node: u8, pages: u64) -> NodePages {
        NodePages {
            kind,
            scope,
            node,
            pages,
        }
    }

    #[test]
    fn v1_and_v2_files() {
        let v1 = b"total=300 N0=200 N1=100\nfile=120 N0=100 N1=20\nanon=180 N0=100 N1=80\nunevictable=0 N0=0 N1=0\nnuma_locality 0 0 0\nhierarchical_total=900 N0=600 N1=300\nhierarchical_file=400 N0=300 N1=100\nhierarchical_anon=500 N0=300 N1=200\nhierarchical_unevictable=0 N0=0 N1=0\n";
        let mut out = Vec::new();
        parse_v1(v1, &mut out).unwrap();
        assert_eq!(out.len(), 12);
        assert_eq!(out[0], v(0, 0, 0, 100));
        assert_eq!(out[3], v(1, 0, 1, 80));
        assert!(out.contains(&v(1, 1, 1, 200)));
        let mut out = Vec::new();
        assert!(parse_v1(b"anon=1 N0=1 X=2\n", &mut out).is_err());
        assert!(parse_v1(b"anon=1 N300=2\n", &mut Vec::new()).is_err());
        let v2 =
            b"anon 8192 N0=8192\nfile N0=40960 N1=0\nkernel_stack N0=16384\nunevictable N0=0\n";
        let mut out = Vec::new();
        // "anon 8192" is not a node column: the line is garbage.
        assert!(parse_v2(v2, 4096, &mut out).is_err());
        let mut out = Vec::new();
        parse_v2(&v2[17..], 4096, &mut out).unwrap();
        assert_eq!(out, [v(0, 1, 0, 10), v(0, 1, 1, 0), v(2, 1, 0, 0)]);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_v1(&bytes, &mut Vec::new());
            let _ = parse_v2(&bytes, 4096, &mut Vec::new());
        }

        #[test]
        fn truncated_files_never_panic(cut in 0usize..200) {
            let text = b"file=120 N0=100 N1=20\nanon=180 N0=100 N1=80\nhierarchical_file=400 N0=300 N1=100\n";
            let cut = cut.min(text.len());
            let _ = parse_v1(&text[..cut], &mut Vec::new());
            let _ = parse_v2(&text[..cut], 4096, &mut Vec::new());
        }
    }
}
