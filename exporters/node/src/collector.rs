//! What every collector is: the [`Collector`] trait, its errors, and the [`Builder`] a
//! collector's flag declaration returns.

use std::path::Path;

use octo_exporter_kit::{Flags, MetricFamily};

use crate::paths::Paths;

/// Why a collector produced nothing, or not everything.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// Nothing to report on this host (no bonding, no RAPL...): success 0, logged at debug level,
    /// as upstream's `ErrNoData`.
    #[error("collector returned no data")]
    NoData,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl CollectorError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CollectorError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub fn parse(path: &Path, reason: impl Into<String>) -> Self {
        CollectorError::Parse {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Whether the error is a missing file or directory (the feature is absent on this host).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CollectorError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Turns "file not found" into [`CollectorError::NoData`].
    pub fn not_found_as_no_data(self) -> Self {
        if self.is_not_found() {
            CollectorError::NoData
        } else {
            self
        }
    }
}

/// A collector: reads its sources and appends families.
///
/// Families already appended when an error is returned are still exported, as upstream does.
pub trait Collector: Send + Sync {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError>;
}

/// Why a collector could not be set up from its flags.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Invalid(String),
}

/// What a collector is built from once the command line is parsed.
pub struct BuildContext<'a> {
    pub flags: &'a Flags,
    pub paths: &'a Paths,
    /// The collectors switched on, by name: upstream's `cpu` reports frequencies only when
    /// `cpufreq` is on.
    pub enabled: &'a [&'static str],
}

impl BuildContext<'_> {
    /// Whether the collector named `name` is switched on.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(&name)
    }
}

/// Builds a collector from the parsed command line; returned by a collector's `declare`, which
/// declared its flags and keeps their handles in the closure.
pub type Builder =
    Box<dyn FnOnce(&BuildContext<'_>) -> Result<Box<dyn Collector>, BuildError> + Send>;
