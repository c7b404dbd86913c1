//! The `netclass` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.value(
        "collector.netclass.ignored-devices",
        Some("^$"),
        "Regexp of net devices to ignore for netclass collector.",
    )
    .bool(
        "collector.netclass.ignore-invalid-speed",
        false,
        "Ignore devices where the speed is invalid. This will be the default behavior in 2.x.",
    )
    .bool(
        "collector.netclass.netlink",
        false,
        "Use netlink to gather stats instead of /proc/net/dev.",
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
