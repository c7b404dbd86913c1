//! `thermal_zone`: `node_thermal_zone_temp{zone,type}` from `/sys/class/thermal/thermal_zoneN`
//! and `node_cooling_device_{cur,max}_state{name,type}` from `cooling_deviceN`.
//!
//! As node_exporter 1.12 (procfs 0.21): every zone is reported, even one whose `type` or `temp`
//! cannot be read (they then read as `""` and `0`, which is what upstream exports); a cooling
//! device whose files are missing, unreadable or invalid is skipped, and any other failure fails
//! the collector after the zones were reported. No `/sys/class/thermal` means no series and
//! success 1, as upstream.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::sysfs::{go_trim_space, numbered_entries, sys_read_file};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ThermalZone {
        class_dir: paths.sys("class/thermal"),
    }))
}

struct ThermalZone {
    class_dir: PathBuf,
}

/// A one-value attribute, trimmed.
fn read_attribute(path: &Path) -> std::io::Result<String> {
    let raw = sys_read_file(path)?;
    Ok(String::from_utf8_lossy(go_trim_space(&raw)).into_owned())
}

/// Errors procfs treats as "this device has nothing to say" for cooling devices.
fn ignorable(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
    ) || err.raw_os_error() == Some(libc::EOPNOTSUPP)
}

enum CoolingError {
    /// Skip this device.
    Ignorable,
    /// Fail the collector.
    Fatal(CollectorError),
}

struct CoolingDevice {
    kind: String,
    max_state: i64,
    cur_state: i64,
}

fn read_cooling_device(dir: &Path) -> Result<CoolingDevice, CoolingError> {
    let read = |file: &str| {
        let path = dir.join(file);
        read_attribute(&path).map_err(|err| {
            if ignorable(&err) {
                CoolingError::Ignorable
            } else {
                CoolingError::Fatal(CollectorError::io(&path, err))
            }
        })
    };
    let number = |file: &str| -> Result<i64, CoolingError> {
        let text = read(file)?;
        // A value that is not a number is an error upstream (not one of the ignorable ones).
        text.parse().map_err(|_| {
            CoolingError::Fatal(CollectorError::parse(
                &dir.join(file),
                format!("{text:?} is not an integer"),
            ))
        })
    };
    let kind = read("type")?;
    let max_state = number("max_state")?;
    let cur_state = number("cur_state")?;
    Ok(CoolingDevice {
        kind,
        max_state,
        cur_state,
    })
}

impl Collector for ThermalZone {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut temp = MetricFamily::gauge("node_thermal_zone_temp", "Zone temperature in Celsius");
        for (zone, dir) in numbered_entries(&self.class_dir, "thermal_zone") {
            let kind = read_attribute(&dir.join("type")).unwrap_or_default();
            let millidegrees: i64 = read_attribute(&dir.join("temp"))
                .ok()
                .and_then(|text| text.parse().ok())
                .unwrap_or(0);
            temp.push(
                &[("zone", &zone), ("type", &kind)],
                millidegrees as f64 / 1000.0,
            );
        }
        out.push(temp);

        let mut cur = MetricFamily::gauge(
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
        );
        let mut max = MetricFamily::gauge(
            "node_cooling_device_max_state",
            "Maximum throttle state of the cooling device",
        );
        for (name, dir) in numbered_entries(&self.class_dir, "cooling_device") {
            match read_cooling_device(&dir) {
                Ok(device) => {
                    let labels = [("name", name.as_str()), ("type", device.kind.as_str())];
                    cur.push(&labels, device.cur_state as f64);
                    max.push(&labels, device.max_state as f64);
                }
                Err(CoolingError::Ignorable) => {}
                Err(CoolingError::Fatal(err)) => return Err(err),
            }
        }
        out.push(cur);
        out.push(max);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::testing::write;

    fn run(sys: &Path) -> (Result<(), CollectorError>, Vec<String>) {
        crate::collectors::testing::run_on_sysfs(declare, sys, &[])
    }

    #[test]
    fn reads_zones_and_cooling_devices() {
        let root = tempfile::tempdir().unwrap();
        let thermal = root.path().join("class/thermal");
        write(&thermal.join("thermal_zone0/type"), "cpu-thermal\n");
        write(&thermal.join("thermal_zone0/temp"), "12376\n");
        write(&thermal.join("thermal_zone0/policy"), "step_wise\n");
        // An unreadable temperature reads as 0, as upstream exports it.
        write(&thermal.join("thermal_zone1/type"), "iwlwifi_1\n");
        write(&thermal.join("thermal_zone10/type"), "acpitz\n");
        write(&thermal.join("thermal_zone10/temp"), "-5000\n");
        write(&thermal.join("thermal_zoneX/temp"), "1\n");
        write(&thermal.join("cooling_device0/type"), "Processor\n");
        write(&thermal.join("cooling_device0/max_state"), "3\n");
        write(&thermal.join("cooling_device0/cur_state"), "0\n");
        // Missing files: skipped.
        write(&thermal.join("cooling_device1/type"), "Fan\n");
        let (result, lines) = run(root.path());
        result.unwrap();
        assert_eq!(
            lines,
            vec![
                "node_cooling_device_cur_state name=0,type=Processor 0",
                "node_cooling_device_max_state name=0,type=Processor 3",
                "node_thermal_zone_temp type=acpitz,zone=10 -5",
                "node_thermal_zone_temp type=cpu-thermal,zone=0 12.376",
                "node_thermal_zone_temp type=iwlwifi_1,zone=1 0",
            ]
        );
        // A cooling state that is not a number fails the collector, zones stay reported.
        write(&thermal.join("cooling_device2/type"), "Fan\n");
        write(&thermal.join("cooling_device2/max_state"), "lots\n");
        write(&thermal.join("cooling_device2/cur_state"), "0\n");
        let (result, lines) = run(root.path());
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn no_thermal_class_is_empty_success() {
        let root = tempfile::tempdir().unwrap();
        let (result, lines) = run(root.path());
        result.unwrap();
        assert!(lines.is_empty());
    }
}
