//! `rapl`: Intel/AMD RAPL energy counters from `/sys/class/powercap/*` as
//! `node_rapl_<zone>_joules_total{index,path}`, or with `--collector.rapl.enable-zone-label` as
//! `node_rapl_joules_total{index,path,rapl_zone}`.
//!
//! Zones are the powercap entries with a `name` file; `package-0` is zone `package` index 0, a
//! name without a numeric suffix (`dram`, `core`) is indexed by how often it was seen. `path` is
//! the zone's directory under `--path.sysfs` as given (cleaned as Go's `filepath.Join` does).
//! Missing or unreadable (non-root: `energy_uj` is root-only since Linux 5.10) powercap files
//! mean no data, as upstream.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::gopath::go_clean_path;
use crate::read::read_trimmed;

pub fn declare(set: &mut FlagSet) -> Builder {
    // The help is upstream's, word for word (it was copied from the systemd collector there).
    let zone_label = set.bool(
        "collector.rapl.enable-zone-label",
        false,
        "Enables service unit metric unit_start_time_seconds",
    );
    Box::new(move |context| {
        Ok(Box::new(Rapl {
            powercap: context.paths.sys("class/powercap"),
            zone_label: context.flags.get(zone_label),
            unsafe_chars: Regex::new(r"_*[^0-9A-Za-z_]+_*")
                .map_err(|err| BuildError::Invalid(err.to_string()))?,
        }))
    })
}

struct Rapl {
    powercap: PathBuf,
    zone_label: bool,
    /// node_exporter's `SanitizeMetricName`.
    unsafe_chars: Regex,
}

#[derive(Debug, PartialEq)]
struct Zone {
    name: String,
    index: u64,
    path: PathBuf,
}

/// `package-0` → (0, `package`); otherwise the name with the number of times it was seen.
fn index_and_name(seen: &HashMap<String, u64>, name: &str) -> (u64, String) {
    let parts: Vec<&str> = name.split('-').collect();
    if let [base, number] = parts.as_slice()
        && let Ok(index) = number.parse::<i64>()
        && let Ok(index) = u64::try_from(index)
    {
        return (index, (*base).to_owned());
    }
    (seen.get(name).copied().unwrap_or(0), name.to_owned())
}

/// A failed read with one of `kinds` means no data (upstream: missing powercap files, and files
/// unreadable for lack of permission); other failures stay failures.
fn no_data_when(err: CollectorError, kinds: &[ErrorKind]) -> CollectorError {
    match &err {
        CollectorError::Io { path, source } if kinds.contains(&source.kind()) => {
            if source.kind() == ErrorKind::PermissionDenied {
                tracing::debug!(path = %path, "Can't access powercap files");
            }
            CollectorError::NoData
        }
        _ => err,
    }
}

fn read_counter(path: &Path) -> Result<u64, CollectorError> {
    let text = read_trimmed(path)
        .map_err(|err| no_data_when(err, &[ErrorKind::NotFound, ErrorKind::PermissionDenied]))?;
    parse_counter(path, &text)
}

/// `energy_uj`: unreadable for lack of permission is "no data"; missing is an error there.
fn read_energy(path: &Path) -> Result<u64, CollectorError> {
    let text =
        read_trimmed(path).map_err(|err| no_data_when(err, &[ErrorKind::PermissionDenied]))?;
    parse_counter(path, &text)
}

fn parse_counter(path: &Path, trimmed: &str) -> Result<u64, CollectorError> {
    trimmed
        .parse()
        .map_err(|_| CollectorError::parse(path, format!("{trimmed:?} is not a counter")))
}

impl Rapl {
    fn zones(&self) -> Result<Vec<Zone>, CollectorError> {
        let entries = std::fs::read_dir(&self.powercap).map_err(|err| {
            no_data_when(
                CollectorError::io(&self.powercap, err),
                &[ErrorKind::NotFound, ErrorKind::PermissionDenied],
            )
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut zones = Vec::new();
        for entry in names {
            let dir = self.powercap.join(&entry);
            let Ok(raw_name) = read_trimmed(&dir.join("name")) else {
                continue; // not a zone (the `intel-rapl` control type itself)
            };
            let (index, name) = index_and_name(&seen, &raw_name);
            // Upstream requires the range file of every zone.
            read_counter(&dir.join("max_energy_range_uj"))?;
            seen.insert(name.clone(), index + 1);
            zones.push(Zone {
                name,
                index,
                path: dir,
            });
        }
        Ok(zones)
    }
}

impl Collector for Rapl {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let zones = self.zones()?;
        let mut with_label =
            MetricFamily::counter("node_rapl_joules_total", "Current RAPL value in joules");
        let mut result = Ok(());
        for zone in zones {
            let microjoules = match read_energy(&zone.path.join("energy_uj")) {
                Ok(value) => value,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            };
            let joules = microjoules as f64 / 1_000_000.0;
            let index = zone.index.to_string();
            let path = go_clean_path(&zone.path.to_string_lossy());
            if self.zone_label {
                with_label.push(
                    &[
                        ("index", &index),
                        ("path", &path),
                        ("rapl_zone", &zone.name),
                    ],
                    joules,
                );
            } else {
                let metric = self.unsafe_chars.replace_all(&zone.name, "_");
                out.push(
                    MetricFamily::counter(
                        format!("node_rapl_{metric}_joules_total"),
                        format!("Current RAPL {} value in joules", zone.name),
                    )
                    .with(&[("index", &index), ("path", &path)], joules),
                );
            }
        }
        out.push(with_label);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::testing::write;

    fn run(sys: &Path, args: &[&str]) -> (Result<(), CollectorError>, Vec<String>) {
        crate::collectors::testing::run_on_sysfs(declare, sys, args)
    }

    fn zone(sys: &Path, dir: &str, name: &str, energy: &str) {
        let d = sys.join("class/powercap").join(dir);
        write(&d.join("name"), &format!("{name}\n"));
        write(&d.join("energy_uj"), energy);
        write(&d.join("max_energy_range_uj"), "262143328850\n");
    }

    #[test]
    fn reads_zones_with_indexes() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path();
        write(&sys.join("class/powercap/intel-rapl/enabled"), "1\n");
        zone(sys, "intel-rapl:0", "package-0", "240422366267\n");
        zone(sys, "intel-rapl:0:0", "core", "118821284256\n");
        zone(sys, "intel-rapl:0:1", "dram", "1000000\n");
        zone(sys, "intel-rapl:1:1", "dram", "2000000\n");
        let (result, lines) = run(sys, &[]);
        result.unwrap();
        assert_eq!(
            lines,
            vec![
                "node_rapl_core_joules_total index=0,path=SYS/class/powercap/intel-rapl:0:0 118821.284256",
                "node_rapl_dram_joules_total index=0,path=SYS/class/powercap/intel-rapl:0:1 1",
                "node_rapl_dram_joules_total index=1,path=SYS/class/powercap/intel-rapl:1:1 2",
                "node_rapl_package_joules_total index=0,path=SYS/class/powercap/intel-rapl:0 240422.366267",
            ]
        );
        let (result, lines) = run(sys, &["--collector.rapl.enable-zone-label"]);
        result.unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines.contains(
            &"node_rapl_joules_total index=0,path=SYS/class/powercap/intel-rapl:0,rapl_zone=package 240422.366267"
                .to_owned()
        ));
    }

    #[test]
    fn missing_powercap_is_no_data_and_bad_counters_fail() {
        let root = tempfile::tempdir().unwrap();
        let (result, _) = run(root.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
        zone(root.path(), "intel-rapl:0", "package-0", "garbage");
        let (result, _) = run(root.path(), &[]);
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
        std::fs::remove_file(root.path().join("class/powercap/intel-rapl:0/energy_uj")).unwrap();
        let (result, _) = run(root.path(), &[]);
        assert!(matches!(result, Err(CollectorError::Io { .. })));
    }

    #[test]
    fn zone_names_split_like_upstream() {
        let mut seen = HashMap::new();
        assert_eq!(index_and_name(&seen, "package-1"), (1, "package".into()));
        assert_eq!(index_and_name(&seen, "dram"), (0, "dram".into()));
        seen.insert("dram".to_owned(), 1);
        assert_eq!(index_and_name(&seen, "dram"), (1, "dram".into()));
        assert_eq!(index_and_name(&seen, "a-b-1"), (0, "a-b-1".into()));
        assert_eq!(index_and_name(&seen, "psys-x"), (0, "psys-x".into()));
    }
}
