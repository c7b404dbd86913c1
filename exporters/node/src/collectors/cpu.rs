//! The `cpu` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.bool(
        "collector.cpu.guest",
        true,
        "Enables metric node_cpu_guest_seconds_total",
    )
    .bool("collector.cpu.info", false, "Enables metric cpu_info")
    .value(
        "collector.cpu.info.flags-include",
        None,
        "Filter the `flags` field in cpuInfo with a value that must be a regular expression",
    )
    .value(
        "collector.cpu.info.bugs-include",
        None,
        "Filter the `bugs` field in cpuInfo with a value that must be a regular expression",
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
