//! `watchdog` (node_exporter 1.8+): `/sys/class/watchdog/<name>/*` as
//! `node_watchdog_{bootstatus,fw_version,nowayout,timeleft_seconds,timeout_seconds,
//! pretimeout_seconds,access_cs0}{name}` for the attributes present, and
//! `node_watchdog_info{name,options,identity,state,status,pretimeout_governor} 1` for every device.
//!
//! Numbers parse as Go's `strconv.ParseInt(v, 0, 64)`; one that does not parse, or a file that
//! exists but cannot be read, fails the collector (as upstream's procfs). No watchdog class means
//! no data.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::sysfs::{go_trim_space, parse_go_int, sys_read_file};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Watchdog {
        class_dir: paths.sys("class/watchdog"),
    }))
}

struct Watchdog {
    class_dir: PathBuf,
}

/// Numeric attributes: file and metric suffix.
const NUMBERS: &[(&str, &str)] = &[
    ("bootstatus", "bootstatus"),
    ("fw_version", "fw_version"),
    ("nowayout", "nowayout"),
    ("timeleft", "timeleft_seconds"),
    ("timeout", "timeout_seconds"),
    ("pretimeout", "pretimeout_seconds"),
    ("access_cs0", "access_cs0"),
];

/// Text attributes: file, which is also the label of `node_watchdog_info`.
const TEXTS: &[&str] = &[
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

#[derive(Debug, Default)]
struct Device {
    numbers: Vec<(&'static str, &'static str, f64)>,
    texts: Vec<(&'static str, String)>,
}

fn read_optional_attribute(path: &Path) -> Result<Option<String>, CollectorError> {
    match sys_read_file(path) {
        Ok(raw) => Ok(Some(
            String::from_utf8_lossy(go_trim_space(&raw)).into_owned(),
        )),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

fn read_device(dir: &Path) -> Result<Device, CollectorError> {
    let mut device = Device::default();
    for &(file, suffix) in NUMBERS {
        let path = dir.join(file);
        if let Some(text) = read_optional_attribute(&path)? {
            let value = parse_go_int(&text).ok_or_else(|| {
                CollectorError::parse(&path, format!("{text:?} is not an integer"))
            })?;
            device.numbers.push((file, suffix, value as f64));
        }
    }
    for &file in TEXTS {
        if let Some(text) = read_optional_attribute(&dir.join(file))? {
            device.texts.push((file, text));
        }
    }
    Ok(device)
}

impl Collector for Watchdog {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.class_dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
                ) =>
            {
                tracing::debug!(%err, "Could not read watchdog stats");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.class_dir, err)),
        };
        names.sort();
        // Upstream reads every device before exporting any.
        let mut devices = Vec::with_capacity(names.len());
        for name in names {
            let device = read_device(&self.class_dir.join(&name))?;
            devices.push((name, device));
        }
        let mut families: Vec<MetricFamily> = NUMBERS
            .iter()
            .map(|(file, suffix)| {
                MetricFamily::gauge(
                    format!("node_watchdog_{suffix}"),
                    format!("Value of /sys/class/watchdog/<watchdog>/{file}"),
                )
            })
            .collect();
        let mut info = MetricFamily::gauge(
            "node_watchdog_info",
            "Info of /sys/class/watchdog/<watchdog>",
        );
        for (name, device) in &devices {
            for &(file, _, value) in &device.numbers {
                if let Some(index) = NUMBERS.iter().position(|(f, _)| *f == file) {
                    families[index].push(&[("name", name)], value);
                }
            }
            let mut labels = vec![("name".to_owned(), name.clone())];
            for &file in TEXTS {
                let value = device
                    .texts
                    .iter()
                    .find(|(f, _)| *f == file)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                labels.push((file.to_owned(), value));
            }
            info.push_owned(labels, 1.0);
        }
        out.extend(families);
        out.push(info);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sys: &Path) -> (Result<(), CollectorError>, Vec<String>) {
        crate::collectors::testing::run_on_sysfs(declare, sys, &[])
    }

    #[test]
    fn reads_present_attributes() {
        let root = tempfile::tempdir().unwrap();
        let wd0 = root.path().join("class/watchdog/watchdog0");
        std::fs::create_dir_all(&wd0).unwrap();
        std::fs::create_dir_all(root.path().join("class/watchdog/watchdog1")).unwrap();
        for (file, value) in [
            ("bootstatus", "1"),
            ("timeout", "60"),
            ("options", "0x8380"),
            ("identity", "Software Watchdog"),
            ("status", "0x8000"),
        ] {
            std::fs::write(wd0.join(file), value).unwrap();
        }
        let (result, lines) = run(root.path());
        result.unwrap();
        assert_eq!(
            lines,
            vec![
                "node_watchdog_bootstatus name=watchdog0 1",
                "node_watchdog_info identity=,name=watchdog1,options=,pretimeout_governor=,state=,status= 1",
                "node_watchdog_info identity=Software Watchdog,name=watchdog0,options=0x8380,pretimeout_governor=,state=,status=0x8000 1",
                "node_watchdog_timeout_seconds name=watchdog0 60",
            ]
        );
        std::fs::write(wd0.join("nowayout"), "maybe").unwrap();
        let (result, lines) = run(root.path());
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
        assert!(lines.is_empty());
    }

    #[test]
    fn no_watchdog_class_is_no_data() {
        let root = tempfile::tempdir().unwrap();
        let (result, _) = run(root.path());
        assert!(matches!(result, Err(CollectorError::NoData)));
    }
}
