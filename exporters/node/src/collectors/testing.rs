//! Helpers for the collectors' unit tests: fixture files, and one update of a collector built
//! from its own flags, rendered as sorted `name labels value` lines.

use std::path::Path;

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::CollectorError;
use crate::paths::Paths;

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

/// Builds a collector with its flags and `args` against a sysfs root, and runs one update.
pub fn run_on_sysfs(
    flags: fn(FlagSet) -> FlagSet,
    build: super::Build,
    sys: &Path,
    args: &[&str],
) -> (Result<(), CollectorError>, Vec<String>) {
    let flags = flags(FlagSet::new("test", "test", "0".into()))
        .parse_args(args)
        .expect("test flags parse");
    let paths = Paths {
        sysfs: sys.to_owned(),
        ..Paths::default()
    };
    let collector = match build(&flags, &paths) {
        Ok(collector) => collector,
        Err(err) => panic!("the collector builds: {err}"),
    };
    let mut out = Vec::new();
    let result = collector.update(&mut out);
    (result, lines(&out, &sys.to_string_lossy()))
}
