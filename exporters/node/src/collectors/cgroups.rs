//! `cgroups`: `node_cgroups_cgroups{subsys_name}` and `node_cgroups_enabled{subsys_name}` from
//! `/proc/cgroups`.
//!
//! Hand-written rather than procfs-core's `CGroupControllers`: that one reads `enabled` as
//! "is it 1" and accepts any text there, where upstream reports the integer and fails the
//! collector on garbage.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Cgroups {
            path: context.paths.proc("cgroups"),
        }))
    })
}

struct Cgroups {
    path: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
struct Controller<'a> {
    name: &'a str,
    cgroups: i64,
    enabled: i64,
}

/// Go's `strconv.Atoi`: optional sign, base-10 digits.
fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// As procfs: `#` lines are comments; every other line needs four integer-ish fields
/// (name, hierarchy, cgroups, enabled).
fn parse(text: &str) -> Result<Vec<Controller<'_>>, String> {
    let mut controllers = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, hierarchy, cgroups, enabled, ..] = fields[..] else {
            return Err(format!(
                "4+ fields required, found {} fields in cgroup info string: {line}",
                fields.len()
            ));
        };
        let number = |what: &str, field: &str| {
            atoi(field).ok_or_else(|| format!("unable to parse {what} from {field:?}"))
        };
        number("hierarchy ID", hierarchy)?;
        controllers.push(Controller {
            name,
            cgroups: number("cgroup num", cgroups)?,
            enabled: number("enabled", enabled)?,
        });
    }
    Ok(controllers)
}

impl Collector for Cgroups {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let controllers =
            parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        // Upstream gives both families the same help text.
        let help = "Current cgroup number of the subsystem.";
        let mut cgroups = MetricFamily::gauge("node_cgroups_cgroups", help);
        let mut enabled = MetricFamily::gauge("node_cgroups_enabled", help);
        for controller in &controllers {
            let labels = [("subsys_name", controller.name)];
            cgroups.push(&labels, controller.cgroups as f64);
            enabled.push(&labels, controller.enabled as f64);
        }
        out.push(cgroups);
        out.push(enabled);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t5\t47\t1
memory\t7\t234\t0
rdma\t4\t1\t1";

    #[test]
    fn parses_controllers() {
        let controllers = parse(SAMPLE).unwrap();
        assert_eq!(controllers.len(), 3);
        assert_eq!(
            controllers[1],
            Controller {
                name: "memory",
                cgroups: 234,
                enabled: 0
            }
        );
        assert!(parse("cpu 1 2\n").is_err());
        assert!(parse("cpu 1 2 x\n").is_err());
        assert!(parse("cpu x 2 1\n").is_err());
        assert!(parse("\n").is_err());
        assert_eq!(atoi("-3"), Some(-3));
        assert_eq!(atoi("+"), None);
    }

    #[test]
    fn collector_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Cgroups {
            path: dir.path().join("cgroups"),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
        std::fs::write(&collector.path, SAMPLE).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].samples[1].value, 0.0);
    }

    proptest! {
        #[test]
        fn truncated_or_garbage_never_panics(cut in 0usize..120, noise in "\\PC{0,80}") {
            let cut = SAMPLE.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(SAMPLE.len());
            let _ = parse(&SAMPLE[..cut]);
            let _ = parse(&format!("{}{noise}", &SAMPLE[..cut]));
            let _ = parse(&noise);
        }
    }
}
