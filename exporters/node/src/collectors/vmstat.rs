//! `vmstat`: `node_vmstat_<field>` (untyped) for the `/proc/vmstat` fields matching
//! `--collector.vmstat.fields`.

use std::path::PathBuf;
use std::sync::Mutex;

use octo_exporter_kit::{FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::field_filter::FieldFilter;
use crate::read::read_string;

const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

pub fn declare(set: &mut FlagSet) -> Builder {
    let fields = set.string(
        "collector.vmstat.fields",
        DEFAULT_FIELDS,
        "Regexp of fields to return for vmstat collector.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        // Used as given: upstream does not anchor it (the default anchors itself with `^`).
        let fields_regex = Regex::new(flags.get(fields)).map_err(|err| {
            BuildError::Invalid(format!(
                "invalid regular expression for --{}: {err}",
                flags.name(fields)
            ))
        })?;
        Ok(Box::new(Vmstat {
            path: context.paths.proc("vmstat"),
            fields: FieldFilter::new(fields_regex),
            layout: Mutex::new(Vec::new()),
        }))
    })
}

struct Vmstat {
    path: PathBuf,
    fields: FieldFilter,
    layout: Mutex<Layout>,
}

/// The field names of the last scrape in file order, each with the filter's answer: the
/// kernel prints the same fields in the same order until a reboot, so a scrape compares each
/// name with the one at its position instead of hashing it (`FieldFilter` still answers for a
/// name not seen there).
type Layout = Vec<(String, bool)>;

impl Vmstat {
    fn wanted(&self, layout: &mut Layout, position: usize, field: &str) -> bool {
        match layout.get(position) {
            Some((name, matched)) if name == field => *matched,
            _ => {
                let matched = self.fields.is_match(field);
                layout.truncate(position);
                layout.push((field.to_owned(), matched));
                matched
            }
        }
    }
}

impl Collector for Vmstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let mut layout = self
            .layout
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Each line is `name value`, value an i64, as procfs-core's `VmStat` reads it; a
        // malformed line fails the collector as it does there. Read here without building
        // procfs-core's map of all ~180 fields, of which a handful are wanted.
        let mut families: Vec<MetricFamily> = Vec::new();
        for (position, line) in text.lines().enumerate() {
            let mut parts = line.split_whitespace();
            let (Some(field), Some(value)) = (parts.next(), parts.next()) else {
                return Err(CollectorError::parse(
                    &self.path,
                    format!("malformed line {line:?}"),
                ));
            };
            let value: i64 = value.parse().map_err(|_| {
                CollectorError::parse(&self.path, format!("invalid value in {line:?}"))
            })?;
            if !self.wanted(&mut layout, position, field) {
                continue;
            }
            let name = format!("node_vmstat_{field}");
            // A repeated field keeps its last value, as the map procfs-core builds does.
            families.retain(|family| family.name != name);
            families.push(
                MetricFamily::untyped(name, format!("/proc/vmstat information field {field}."))
                    .with(&[], value as f64),
            );
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    const KERNEL: &str = "nr_free_pages 30000\npgpgin 7344136\npgpgout 1541180581\npswpin 1476\n\
                          pswpout 35045\npgfault 2320168809\npgmajfault 507162\noom_kill 0\nnr_dirty 12\n";

    fn collect(pattern: &str, text: &str) -> Result<Vec<MetricFamily>, CollectorError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmstat"), text).unwrap();
        let collector = Vmstat {
            path: dir.path().join("vmstat"),
            fields: FieldFilter::new(Regex::new(pattern).unwrap()),
            layout: Mutex::new(Vec::new()),
        };
        let mut out = Vec::new();
        collector.update(&mut out).map(|()| out)
    }

    #[test]
    fn the_default_fields() {
        let mut out = collect(DEFAULT_FIELDS, KERNEL).unwrap();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = out.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_vmstat_oom_kill",
                "node_vmstat_pgfault",
                "node_vmstat_pgmajfault",
                "node_vmstat_pgpgin",
                "node_vmstat_pgpgout",
                "node_vmstat_pswpin",
                "node_vmstat_pswpout"
            ]
        );
        assert_eq!(out[1].samples[0].value, 2320168809.0);
        assert_eq!(out[1].help, "/proc/vmstat information field pgfault.");
        assert_eq!(out[1].kind, octo_exporter_kit::MetricType::Untyped);
    }

    #[test]
    fn a_custom_pattern_and_garbage() {
        assert_eq!(collect("^nr_", KERNEL).unwrap().len(), 2);
        assert!(collect(DEFAULT_FIELDS, "pgfault lots\n").is_err());
        assert!(collect(DEFAULT_FIELDS, "pgfault\n").is_err());
    }

    #[test]
    fn the_fields_flag() {
        let build =
            |args: &[&str], paths: &Paths| crate::collectors::testing::build(declare, paths, args);
        let paths = Paths::default();
        let collector = build(&[], &paths).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out.iter().any(|f| f.name == "node_vmstat_pgfault"));
        assert!(!out.iter().any(|f| f.name == "node_vmstat_nr_free_pages"));
        let bad = &["--collector.vmstat.fields=(oops"];
        assert!(matches!(build(bad, &paths), Err(BuildError::Invalid(_))));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "([a-z_é]{0,8} ?-?[0-9]{0,22}\n?){0,6}") {
            let _ = collect(DEFAULT_FIELDS, &text);
        }
    }
}
