//! Block device names for the `device` label.

use std::collections::HashMap;
use std::path::PathBuf;

/// Block device names (`/dev/sda`) by major:minor, from `<sysfs>/dev/block/M:m/uevent`.
#[derive(Debug)]
pub struct DeviceNames {
    sysfs: PathBuf,
    names: HashMap<(u64, u64), String>,
}

impl DeviceNames {
    pub fn new(sysfs: PathBuf) -> DeviceNames {
        DeviceNames {
            sysfs,
            names: HashMap::new(),
        }
    }

    pub fn name(&mut self, major: u64, minor: u64) -> &str {
        let sysfs = &self.sysfs;
        self.names.entry((major, minor)).or_insert_with(|| {
            std::fs::read_to_string(sysfs.join(format!("dev/block/{major}:{minor}/uevent")))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("DEVNAME="))
                        .map(|name| format!("/dev/{}", name.trim()))
                })
                .unwrap_or_default()
        })
    }
}
