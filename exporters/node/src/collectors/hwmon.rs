//! The `hwmon` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.value(
        "collector.hwmon.chip-include",
        None,
        "Regexp of hwmon chip to include (mutually exclusive to device-exclude).",
    )
    .value(
        "collector.hwmon.chip-exclude",
        None,
        "Regexp of hwmon chip to exclude (mutually exclusive to device-include).",
    )
    .value(
        "collector.hwmon.sensor-include",
        None,
        "Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).",
    )
    .value(
        "collector.hwmon.sensor-exclude",
        None,
        "Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).",
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
