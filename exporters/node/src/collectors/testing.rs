//! Helpers for the collectors' unit tests: fixture files, a collector built from its own flags,
//! and one update rendered as sorted `name labels value` lines.

use std::path::Path;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildContext, BuildError, Collector, CollectorError};
use crate::paths::Paths;
use crate::registry::{Declare, enabled_by_default};

/// Writes a fixture file, creating its directories.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
        .expect("creating fixture directories");
    std::fs::write(path, text).expect("writing a fixture file");
}

/// `name k=v,k=v value` per sample, labels and lines sorted; `root` in label values reads `SYS`.
pub fn lines(families: &[MetricFamily], root: &str) -> Vec<String> {
    let mut lines: Vec<String> = families
        .iter()
        .flat_map(|f| {
            f.samples.iter().map(move |s| {
                let mut labels: Vec<String> = s
                    .label_pairs()
                    .map(|(k, v)| format!("{k}={}", v.replace(root, "SYS")))
                    .collect();
                labels.sort();
                format!("{} {} {}", f.name, labels.join(","), s.value)
            })
        })
        .collect();
    lines.sort();
    lines
}

/// Declares a collector's flags on a set of their own, parses `args` and builds the collector,
/// with upstream's default collectors switched on. A command line the parser refuses (numbers and
/// durations are checked there now) is reported as [`BuildError::Invalid`] too: either way the
/// exporter does not start.
pub fn build(
    declare: Declare,
    paths: &Paths,
    args: &[&str],
) -> Result<Box<dyn Collector>, BuildError> {
    let mut set = FlagSet::new("test", "test", "0".into());
    let builder = declare(&mut set);
    let flags = set
        .parse_args(args)
        .map_err(|err| BuildError::Invalid(err.to_string()))?;
    let enabled = enabled_by_default();
    builder(&BuildContext {
        flags: &flags,
        paths,
        enabled: &enabled,
    })
}

/// Builds a collector with its flags and `args` against a sysfs root, and runs one update.
pub fn run_on_sysfs(
    declare: Declare,
    sys: &Path,
    args: &[&str],
) -> (Result<(), CollectorError>, Vec<String>) {
    let paths = Paths {
        sysfs: sys.to_owned(),
        ..Paths::default()
    };
    let collector = match build(declare, &paths, args) {
        Ok(collector) => collector,
        Err(err) => panic!("the collector builds: {err}"),
    };
    let mut out = Vec::new();
    let result = collector.update(&mut out);
    (result, lines(&out, &sys.to_string_lossy()))
}
