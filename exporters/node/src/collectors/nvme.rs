//! `nvme`: `node_nvme_info{device,firmware_revision,model,serial,state,cntlid}` per controller in
//! `<sysfs>/class/nvme`, and per namespace (`nvme<C>n<N>` directories)
//! `node_nvme_namespace_{info,capacity_bytes,size_bytes,used_bytes,logical_block_size_bytes}`.
//! Sizes are block counts × the logical block size, as upstream computes them.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{dir_names, read_trimmed};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Nvme {
        root: paths.sys("class/nvme"),
    }))
}

struct Nvme {
    root: PathBuf,
}

#[derive(Debug, PartialEq)]
struct Namespace {
    id: String,
    ana_state: String,
    used_blocks: u64,
    size_blocks: u64,
    logical_block_size: u64,
}

/// The namespace id of a directory named like `nvme0n1` (anywhere in the name, as upstream's
/// unanchored `nvme\d+n(\d+)`).
fn namespace_id(name: &str) -> Option<&str> {
    let mut rest = name;
    while let Some(at) = rest.find("nvme") {
        let after = &rest[at + 4..];
        let controller_digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if controller_digits > 0
            && let Some(tail) = after[controller_digits..].strip_prefix('n')
        {
            let id_digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            if id_digits > 0 {
                return Some(&tail[..id_digits]);
            }
        }
        rest = after;
    }
    None
}

fn read_namespace(dir: &Path, id: &str) -> Result<Namespace, CollectorError> {
    // Unparsable numbers count 0, as upstream; a missing file is an error, except ana_state.
    let number = |rel: &str| -> Result<u64, CollectorError> {
        Ok(read_trimmed(&dir.join(rel))?.parse().unwrap_or(0))
    };
    let ana_state = match read_trimmed(&dir.join("ana_state")) {
        Ok(state) => state,
        Err(_) => "unknown".to_owned(),
    };
    Ok(Namespace {
        id: id.to_owned(),
        ana_state,
        used_blocks: number("nuse")?,
        size_blocks: number("size")?,
        logical_block_size: number("queue/logical_block_size")?,
    })
}

impl Collector for Nvme {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = dir_names(&self.root).map_err(|err| {
            if err.is_not_found() {
                tracing::debug!("nvme statistics not found, skipping");
            }
            err.not_found_as_no_data()
        })?;
        let mut info = MetricFamily::gauge(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
        );
        let mut ns_info = MetricFamily::gauge(
            "node_nvme_namespace_info",
            "Information about NVMe namespaces. Value is always 1",
        );
        let mut capacity = MetricFamily::gauge(
            "node_nvme_namespace_capacity_bytes",
            "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
        );
        let mut size = MetricFamily::gauge(
            "node_nvme_namespace_size_bytes",
            "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
        );
        let mut used = MetricFamily::gauge(
            "node_nvme_namespace_used_bytes",
            "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
        );
        let mut block_size = MetricFamily::gauge(
            "node_nvme_namespace_logical_block_size_bytes",
            "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
        );
        for device in &devices {
            let dir = self.root.join(device);
            let attribute = |name: &str| read_trimmed(&dir.join(name));
            let (firmware, model, serial, state, cntlid) = (
                attribute("firmware_rev")?,
                attribute("model")?,
                attribute("serial")?,
                attribute("state")?,
                attribute("cntlid")?,
            );
            info.push(
                &[
                    ("device", device),
                    ("firmware_revision", &firmware),
                    ("model", &model),
                    ("serial", &serial),
                    ("state", &state),
                    ("cntlid", &cntlid),
                ],
                1.0,
            );
            for entry in dir_names(&dir)? {
                let Some(id) = namespace_id(&entry) else {
                    continue;
                };
                let namespace = read_namespace(&dir.join(&entry), id)?;
                let labels = [("device", device.as_str()), ("nsid", namespace.id.as_str())];
                ns_info.push(
                    &[
                        ("device", device),
                        ("nsid", &namespace.id),
                        ("ana_state", &namespace.ana_state),
                    ],
                    1.0,
                );
                let bytes = |blocks: u64| blocks.wrapping_mul(namespace.logical_block_size) as f64;
                capacity.push(&labels, bytes(namespace.size_blocks));
                size.push(&labels, bytes(namespace.size_blocks));
                used.push(&labels, bytes(namespace.used_blocks));
                block_size.push(&labels, namespace.logical_block_size as f64);
            }
        }
        out.extend([info, ns_info, capacity, size, used, block_size]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_directories() {
        assert_eq!(namespace_id("nvme0n1"), Some("1"));
        assert_eq!(namespace_id("nvme12n34"), Some("34"));
        assert_eq!(namespace_id("nvme0c0n1"), None);
        assert_eq!(namespace_id("ng0n1"), None);
        assert_eq!(namespace_id("nvme"), None);
        assert_eq!(namespace_id("power"), None);
    }

    #[test]
    fn reads_controllers_and_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let nvme0 = dir.path().join("nvme0");
        std::fs::create_dir_all(nvme0.join("nvme0n1/queue")).unwrap();
        for (file, text) in [
            ("firmware_rev", "1B2QEXP7\n"),
            ("model", "Samsung SSD 970 PRO 512GB               \n"),
            ("serial", "S680HF8N190894I\n"),
            ("state", "live\n"),
            ("cntlid", "1997\n"),
            ("nvme0n1/size", "3906250000\n"),
            ("nvme0n1/nuse", "488281250\n"),
            ("nvme0n1/queue/logical_block_size", "4096\n"),
        ] {
            std::fs::write(nvme0.join(file), text).unwrap();
        }
        let mut out = Vec::new();
        Nvme {
            root: dir.path().to_owned(),
        }
        .update(&mut out)
        .unwrap();
        let family = |name: &str| out.iter().find(|f| f.name == name).unwrap();
        assert!(
            family("node_nvme_info").samples[0]
                .labels
                .contains(&("model".into(), "Samsung SSD 970 PRO 512GB".into()))
        );
        assert_eq!(
            family("node_nvme_namespace_used_bytes").samples[0].value,
            2e12
        );
        assert!(
            family("node_nvme_namespace_info").samples[0]
                .labels
                .contains(&("ana_state".into(), "unknown".into()))
        );
    }

    proptest::proptest! {
        #[test]
        fn names_never_panic(name in ".{0,30}") {
            let _ = namespace_id(&name);
        }
    }
}
