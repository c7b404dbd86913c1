//! `vmstat`: `node_vmstat_<field>` (untyped) for the `/proc/vmstat` fields matching
//! `--collector.vmstat.fields`, parsed with procfs-core's `VmStat`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};
use procfs_core::{FromBufRead, VmStat};
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
        }))
    })
}

struct Vmstat {
    path: PathBuf,
    fields: FieldFilter,
}

impl Collector for Vmstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let VmStat(values) = VmStat::from_buf_read(text.as_bytes())
            .map_err(|err| CollectorError::parse(&self.path, err.to_string()))?;
        for (field, value) in values {
            if !self.fields.is_match(&field) {
                continue;
            }
            out.push(
                MetricFamily::untyped(
                    format!("node_vmstat_{field}"),
                    format!("/proc/vmstat information field {field}."),
                )
                .with(&[], value as f64),
            );
        }
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
        };
        let mut out = Vec::new();
        collector.update(&mut out).map(|()| out)
    }

    #[test]
    fn the_default_fields() {
        let mut out = collect(DEFAULT_FIELDS, KERNEL).unwrap();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
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
            let _ = VmStat::from_buf_read(text.as_bytes());
        }
    }
}
