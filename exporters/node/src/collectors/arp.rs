//! The `arp` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.value(
        "collector.arp.device-include",
        None,
        "Regexp of arp devices to include (mutually exclusive to device-exclude).",
    )
    .value(
        "collector.arp.device-exclude",
        None,
        "Regexp of arp devices to exclude (mutually exclusive to device-include).",
    )
    .bool(
        "collector.arp.netlink",
        true,
        "Use netlink to gather stats instead of /proc/net/arp.",
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
