//! The `schedstat` collector (not implemented yet).

use octo_exporter_kit::{FlagSet, Flags};

use super::{BuildError, Collector};
use crate::paths::Paths;

pub fn flags(set: FlagSet) -> FlagSet {
    set
}

pub fn build(_flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Err(BuildError::NotImplemented)
}
