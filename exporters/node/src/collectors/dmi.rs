//! `dmi`: `node_dmi_info{bios_*,board_*,chassis_*,product_*,system_vendor} 1` from
//! `/sys/class/dmi/id`.
//!
//! Read once when the exporter starts, as upstream does: DMI data cannot change before the next
//! boot. Attributes that exist become labels (an empty file is an empty label); files only root
//! may read (`product_serial`, `board_serial`, ...) are left out for other users. No DMI (VMs,
//! ARM boards) means no data. Unlike upstream, which refuses to start when a DMI file cannot be
//! read for another reason, the error is reported on every scrape (success 0).

use std::io::ErrorKind;
use std::path::Path;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, \
board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, \
chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, \
product_sku, product_uuid, product_version, system_vendor if provided by DMI.";

/// DMI attribute file → label.
const LABELS: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    let dir = paths.sys("class/dmi/id");
    let info = match read_dmi(&dir) {
        Ok(labels) => Ok(labels),
        Err(err) => {
            tracing::error!(%err, "failed to read Desktop Management Interface (DMI) information");
            Err(err.to_string())
        }
    };
    Ok(Box::new(Dmi { info }))
}

struct Dmi {
    /// The labels read at start, or why they could not be read.
    info: Result<Vec<(String, String)>, String>,
}

fn read_dmi(dir: &Path) -> Result<Vec<(String, String)>, CollectorError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            tracing::debug!(
                "Platform does not support Desktop Management Interface (DMI) information"
            );
            return Ok(Vec::new());
        }
        Err(err) => return Err(CollectorError::io(dir, err)),
    };
    let mut labels = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let file = entry.file_name();
        let Some(&(_, label)) = LABELS.iter().find(|(f, _)| file.to_str() == Some(*f)) else {
            continue;
        };
        let path = entry.path();
        match sys_read_file(&path) {
            Ok(raw) => labels.push((label.to_owned(), to_valid_utf8(go_trim_space(&raw)))),
            Err(err) if err.kind() == ErrorKind::PermissionDenied => {}
            Err(err) => return Err(CollectorError::io(&path, err)),
        }
    }
    labels.sort();
    Ok(labels)
}

impl Collector for Dmi {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        match &self.info {
            Err(err) => Err(CollectorError::Other(err.clone())),
            Ok(labels) if labels.is_empty() => Err(CollectorError::NoData),
            Ok(labels) => {
                let mut family = MetricFamily::gauge("node_dmi_info", HELP);
                family.push_owned(labels.clone(), 1.0);
                out.push(family);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_present_attributes_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("class/dmi/id");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bios_vendor"), "Dell Inc.\n").unwrap();
        std::fs::write(dir.join("sys_vendor"), "Dell Inc.\n").unwrap();
        std::fs::write(dir.join("chassis_asset_tag"), "\n").unwrap();
        std::fs::write(dir.join("product_version"), b"\xff\xfe[\xff\n").unwrap();
        std::fs::write(dir.join("chassis_type"), "23\n").unwrap();
        std::fs::write(dir.join("modalias"), "dmi:bvn...\n").unwrap();
        let paths = Paths {
            sysfs: root.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(&paths).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let labels: Vec<(String, String)> = out[0].samples[0].label_strings();
        let expected: Vec<(String, String)> = [
            ("bios_vendor", "Dell Inc."),
            ("chassis_asset_tag", ""),
            ("product_version", "\u{FFFD}[\u{FFFD}"),
            ("system_vendor", "Dell Inc."),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn no_dmi_is_no_data() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths {
            sysfs: root.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(&paths).unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }
}
