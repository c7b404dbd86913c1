//! `sysctl`: chosen `/proc/sys` values. `--collector.sysctl.include=<name>[:key,key...]` makes
//! numeric families (`node_sysctl_<name>`, indexed or one per key), and
//! `--collector.sysctl.include-info=<name>` makes `node_sysctl_info{name,value,index}`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::sysfs::{go_trim_space, parse_go_int, sys_read_file, to_valid_utf8};

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.repeatable(
        "collector.sysctl.include",
        &[],
        "Select sysctl metrics to include",
    );
    let include_info = set.repeatable(
        "collector.sysctl.include-info",
        &[],
        "Select sysctl metrics to include as info metrics",
    );
    Box::new(move |context| {
        let flags = context.flags;
        let numeric = flags.get(include).into_iter().map(|spec| (spec, true));
        let info = flags
            .get(include_info)
            .into_iter()
            .map(|spec| (spec, false));
        let unsafe_chars = Regex::new(r"_*[^0-9A-Za-z_]+_*")
            .map_err(|err| BuildError::Invalid(format!("sanitizing pattern: {err}")))?;
        let sysctls = numeric
            .chain(info)
            .map(|(spec, numeric)| Sysctl::from_spec(spec, numeric, &unsafe_chars, context.paths))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(SysctlCollector { sysctls }))
    })
}

struct SysctlCollector {
    sysctls: Vec<Sysctl>,
}

/// One `--collector.sysctl.include[-info]` value.
#[derive(Debug)]
struct Sysctl {
    /// As given: `fs.file-nr`.
    name: String,
    /// `<procfs>/sys/fs/file-nr`.
    path: PathBuf,
    /// `node_sysctl_fs_file_nr`.
    metric: String,
    /// From `include`: numbers; from `include-info`: strings in `node_sysctl_info`.
    numeric: bool,
    /// After `:`, one family per value (`node_sysctl_<name>_<key>`).
    keys: Vec<String>,
}

impl Sysctl {
    /// Upstream's grammar: `name` or `name:key,key...`; dots in the name are path separators.
    fn from_spec(
        spec: &str,
        numeric: bool,
        unsafe_chars: &Regex,
        paths: &Paths,
    ) -> Result<Sysctl, BuildError> {
        let (name, keys) = match spec.split_once(':') {
            Some((name, keys)) => (name, keys.split(',').map(str::to_owned).collect()),
            None => (spec, Vec::new()),
        };
        let metric = format!("node_sysctl_{}", unsafe_chars.replace_all(name, "_"));
        // Upstream appends keys unchecked and fails every scrape on a bad one; refusing the
        // command line says so once.
        let valid_key = |key: &String| key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(bad) = keys.iter().find(|key| !valid_key(key)) {
            return Err(BuildError::Invalid(format!(
                "sysctl {name}: key {bad:?} is not a valid metric name part"
            )));
        }
        Ok(Sysctl {
            name: name.to_owned(),
            path: paths.proc("sys").join(name.replace('.', "/")),
            metric,
            numeric,
            keys,
        })
    }

    /// Appends this sysctl's families from the file's text, as upstream shapes them.
    fn families(&self, text: &str, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let numbers = if self.numeric {
            let numbers = fields
                .iter()
                .enumerate()
                .map(|(i, field)| {
                    parse_go_int(field).ok_or_else(|| {
                        format!(
                            "field {i} in sysctl {} is not a valid int: {field:?}",
                            self.name
                        )
                    })
                })
                .collect::<Result<Vec<i64>, String>>()?;
            Some(numbers)
        } else {
            None
        };
        match (fields.len(), self.keys.len()) {
            (0, _) => return Err(format!("sysctl {} has no values", self.name)),
            (1, 0) => {}
            (1, _) => {
                return Err(format!(
                    "sysctl {} has only one value, but expected {:?}",
                    self.name, self.keys
                ));
            }
            (_, 0) => {}
            (values, keys) if values != keys => {
                return Err(format!(
                    "sysctl {} has {values} keys but only {keys} defined in flag",
                    self.name
                ));
            }
            _ if numbers.is_none() => {
                return Err("mapped sysctl string values not supported".into());
            }
            _ => {}
        }
        let help = format!("sysctl {}", self.name);
        match numbers {
            Some(numbers) if self.keys.is_empty() => {
                let mut family = MetricFamily::untyped(self.metric.clone(), help);
                if let [only] = numbers[..] {
                    family.push(&[], only as f64);
                } else {
                    for (i, n) in numbers.iter().enumerate() {
                        family.push(&[("index", &i.to_string())], *n as f64);
                    }
                }
                out.push(family);
            }
            Some(numbers) => {
                for (i, (key, n)) in self.keys.iter().zip(&numbers).enumerate() {
                    out.push(
                        MetricFamily::untyped(
                            format!("{}_{key}", self.metric),
                            format!("{help}, field {i}"),
                        )
                        .with(&[], *n as f64),
                    );
                }
            }
            None => {
                let mut family = MetricFamily::gauge("node_sysctl_info", "sysctl info");
                for (i, value) in fields.iter().enumerate() {
                    family.push(
                        &[
                            ("name", &self.name),
                            ("value", value),
                            ("index", &i.to_string()),
                        ],
                        1.0,
                    );
                }
                out.push(family);
            }
        }
        Ok(())
    }
}

impl Collector for SysctlCollector {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        for sysctl in &self.sysctls {
            // procfs reads sysctls as sysfs attributes: one read of at most 128 bytes.
            let bytes = sys_read_file(&sysctl.path)
                .map_err(|source| CollectorError::io(&sysctl.path, source))?;
            let text = to_valid_utf8(go_trim_space(&bytes));
            sysctl
                .families(&text, out)
                .map_err(|reason| CollectorError::parse(&sysctl.path, reason))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{build, lines, write};
    use proptest::prelude::*;

    fn sysctl(spec: &str, numeric: bool) -> Sysctl {
        let unsafe_chars = Regex::new(r"_*[^0-9A-Za-z_]+_*").unwrap();
        Sysctl::from_spec(spec, numeric, &unsafe_chars, &Paths::default()).unwrap()
    }

    fn render(spec: &str, numeric: bool, text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        sysctl(spec, numeric).families(text, &mut out)?;
        Ok(lines(&out, "/nowhere"))
    }

    #[test]
    fn grammar_and_names() {
        let s = sysctl("fs.file-nr:total,current,max", true);
        assert_eq!(s.name, "fs.file-nr");
        assert_eq!(s.metric, "node_sysctl_fs_file_nr");
        assert_eq!(s.path, PathBuf::from("/proc/sys/fs/file-nr"));
        assert_eq!(s.keys, ["total", "current", "max"]);
        assert_eq!(sysctl("a_.-_b", true).metric, "node_sysctl_a_b");
        let unsafe_chars = Regex::new(r"_*[^0-9A-Za-z_]+_*").unwrap();
        assert!(Sysctl::from_spec("x:a b", true, &unsafe_chars, &Paths::default()).is_err());
    }

    #[test]
    fn shapes() {
        assert_eq!(
            render("kernel.threads-max", true, "7801").unwrap(),
            ["node_sysctl_kernel_threads_max  7801"]
        );
        assert_eq!(
            render("fs.file-nr", true, "1024\t0\t0x10").unwrap(),
            [
                "node_sysctl_fs_file_nr index=0 1024",
                "node_sysctl_fs_file_nr index=1 0",
                "node_sysctl_fs_file_nr index=2 16"
            ]
        );
        assert_eq!(
            render("fs.file-nr:total,current,max", true, "1024 0 9").unwrap(),
            [
                "node_sysctl_fs_file_nr_current  0",
                "node_sysctl_fs_file_nr_max  9",
                "node_sysctl_fs_file_nr_total  1024"
            ]
        );
        assert_eq!(
            render("k.s", false, "trap log").unwrap(),
            [
                "node_sysctl_info index=0,name=k.s,value=trap 1",
                "node_sysctl_info index=1,name=k.s,value=log 1"
            ]
        );
        assert!(render("x", true, "").is_err());
        assert!(render("x:a,b", true, "1").is_err());
        assert!(render("x:a,b", true, "1 2 3").is_err());
        assert!(render("x:a,b", false, "1 2").is_err());
        assert!(render("x", true, "1 two").is_err());
    }

    #[test]
    fn collector_reads_through_procfs() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("sys/kernel/threads-max"), "7801\n");
        let paths = Paths {
            procfs: dir.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(
            declare,
            &paths,
            &[
                "--collector.sysctl.include=kernel.threads-max",
                "--collector.sysctl.include-info=kernel.threads-max",
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        let missing = build(declare, &paths, &["--collector.sysctl.include=no.such"]).unwrap();
        assert!(missing.update(&mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,60}", keys in "[a-z,]{0,10}") {
            let spec = if keys.is_empty() { "x".to_owned() } else { format!("x:{keys}") };
            let _ = render(&spec, true, &text);
            let _ = render(&spec, false, &text);
        }
    }
}
