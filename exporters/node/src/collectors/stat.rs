//! The `stat` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.bool(
        "collector.stat.softirq",
        false,
        "Export softirq calls per vector",
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
