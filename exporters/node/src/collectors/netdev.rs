//! The `netdev` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.value_with(
        "collector.netdev.device-include",
        None,
        "Regexp of net devices to include (mutually exclusive to device-exclude).",
        |arg| arg.alias("collector.netdev.device-whitelist"),
    )
    .value_with(
        "collector.netdev.device-exclude",
        None,
        "Regexp of net devices to exclude (mutually exclusive to device-include).",
        |arg| arg.alias("collector.netdev.device-blacklist"),
    )
    .bool(
        "collector.netdev.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/dev.",
    )
    .bool(
        "collector.netdev.address-info",
        false,
        "Collect address-info for every device",
    )
    .bool(
        "collector.netdev.enable-detailed-metrics",
        false,
        "Use (incompatible) metric names that provide more detailed stats on Linux",
    )
    .bool("collector.netdev.label-ifalias", false, "Add ifAlias label")
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
