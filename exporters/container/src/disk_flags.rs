//! The disk kind's flags (Octo's: cAdvisor has none, its walk period is a constant minute
//! and its walks unbounded).

use std::time::Duration;

use octo_exporter_kit::{Flag, FlagSet, Flags};

use crate::du::Limits;
use crate::options::DiskOptions;

#[derive(Debug, Clone, Copy)]
pub struct DiskFlags {
    period: Flag<Duration>,
    max_duration: Flag<Duration>,
    max_inodes: Flag<u64>,
    max_depth: Flag<usize>,
}

pub fn declare(set: &mut FlagSet) -> DiskFlags {
    let defaults = Limits::default();
    DiskFlags {
        period: set.duration(
            "disk.usage-period",
            "1m",
            "disk kind: how often a container's writable layer is measured in the background (cAdvisor: 1m); a layer whose walk takes long is measured less often",
        ),
        max_duration: set.duration(
            "disk.walk-max-duration",
            "1m",
            "disk kind: a walk of one writable layer stops after this long (its figures are then a lower bound)",
        ),
        max_inodes: set.number(
            "disk.walk-max-inodes",
            defaults.max_inodes,
            "disk kind: a walk of one writable layer stops after counting this many inodes",
        ),
        max_depth: set.number(
            "disk.walk-max-depth",
            defaults.max_depth,
            "disk kind: directories deeper than this in a writable layer are counted but not entered (one descriptor is held per level)",
        ),
    }
}

impl DiskFlags {
    pub fn options(&self, flags: &Flags) -> DiskOptions {
        DiskOptions {
            period: flags.get(self.period).max(Duration::from_secs(1)),
            limits: Limits {
                max_depth: flags.get(self.max_depth).min(1024),
                max_inodes: flags.get(self.max_inodes),
                max_duration: flags.get(self.max_duration),
            },
        }
    }
}
