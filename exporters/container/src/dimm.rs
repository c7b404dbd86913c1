//! `machine_dimm_count` and `machine_dimm_capacity_bytes` by memory type, from the EDAC
//! memory controllers in sysfs (`<sysfs>/devices/system/edac/mc/mc<N>/dimm<N>/{dimm_mem_type,
//! size}`, size in MiB), as cAdvisor's machine info reads them. Written whenever the kernel has
//! them (no kind gates them in cAdvisor); virtual machines usually have no EDAC controller, and
//! then nothing is written.

use std::collections::BTreeMap;
use std::path::Path;

use octo_exporter_kit::MetricFamily;

/// Per memory type (`Unbuffered-DDR4`): DIMMs and their capacity in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dimms(pub BTreeMap<String, (u64, u64)>);

/// `dimm<N>`, `mc<N>`.
fn is_numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn entries(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| is_numbered(n, prefix))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

impl Dimms {
    /// Reads the controllers; a DIMM whose files cannot be read or parsed is skipped.
    pub fn read(sysfs: &Path) -> Dimms {
        let mut dimms = Dimms::default();
        for controller in entries(&sysfs.join("devices/system/edac/mc"), "mc") {
            for dimm in entries(&controller, "dimm") {
                let kind = std::fs::read_to_string(dimm.join("dimm_mem_type"));
                let size = std::fs::read_to_string(dimm.join("size"));
                let (Ok(kind), Ok(size)) = (kind, size) else {
                    continue;
                };
                let Some(bytes) = size
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|mib| mib.checked_mul(1024 * 1024))
                else {
                    continue;
                };
                let entry = dimms.0.entry(kind.trim().to_owned()).or_default();
                entry.0 += 1;
                entry.1 = entry.1.saturating_add(bytes);
            }
        }
        dimms
    }

    pub fn families(&self, machine: &[(&'static str, &str)], out: &mut Vec<MetricFamily>) {
        let mut count = MetricFamily::gauge(
            "machine_dimm_count",
            "Number of RAM DIMM (all types memory modules) value labeled by dimm type.",
        );
        let mut capacity = MetricFamily::gauge(
            "machine_dimm_capacity_bytes",
            "Total RAM DIMM capacity (all types memory modules) value labeled by dimm type.",
        );
        for (kind, (dimms, bytes)) in &self.0 {
            let mut labels = machine.to_vec();
            labels.push(("type", kind));
            count.push(&labels, *dimms as f64);
            capacity.push(&labels, *bytes as f64);
        }
        out.extend([count, capacity]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_controllers_and_skips_fakes() {
        let dir = tempfile::tempdir().unwrap();
        let mc = dir.path().join("devices/system/edac/mc");
        for (path, kind, size) in [
            ("mc0/dimm0", "Unbuffered-DDR4", "16384"),
            ("mc0/dimm1", "Unbuffered-DDR4", "16384"),
            ("mc1/dimm0", "Non-volatile-RAM", "x"),
            ("mc1/dimm_is_fake", "Unbuffered-DDR4", "1"),
            ("mc_fake/dimm0", "Unbuffered-DDR4", "1"),
        ] {
            std::fs::create_dir_all(mc.join(path)).unwrap();
            std::fs::write(mc.join(path).join("dimm_mem_type"), format!("{kind}\n")).unwrap();
            std::fs::write(mc.join(path).join("size"), format!("{size}\n")).unwrap();
        }
        let dimms = Dimms::read(dir.path());
        assert_eq!(dimms.0.len(), 1);
        assert_eq!(dimms.0["Unbuffered-DDR4"], (2, 32 << 30));
        assert_eq!(Dimms::read(&dir.path().join("none")), Dimms::default());
    }
}
