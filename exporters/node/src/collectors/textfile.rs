//! The `textfile` collector (not implemented yet; its flags are declared so upstream command lines parse).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set.repeatable(
        "collector.textfile.directory",
        &[],
        "Directory to read text files with metrics from, supports glob matching. (repeatable)",
        |arg| arg,
    )
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
