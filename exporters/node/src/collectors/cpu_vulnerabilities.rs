//! `cpu_vulnerabilities`: `node_cpu_vulnerabilities_info{codename,state,mitigation}` from
//! `/sys/devices/system/cpu/vulnerabilities/*`, one series per file.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(CpuVulnerabilities {
            dir: context.paths.sys("devices/system/cpu/vulnerabilities"),
        }))
    })
}

struct CpuVulnerabilities {
    dir: PathBuf,
}

/// One vulnerability's state as the kernel words it (sysfs-devices-system-cpu ABI).
#[derive(Debug, PartialEq, Eq)]
struct Vulnerability {
    state: &'static str,
    mitigation: String,
}

/// Classifies a vulnerability file as procfs does: a known state prefix (any case), the words
/// after the first one as the mitigation; an unrecognised text is "unknown" with the whole
/// text as its mitigation.
fn parse_vulnerability(raw: &str) -> Vulnerability {
    let raw = raw.trim();
    let lower = raw.to_lowercase();
    let rest_words = || raw.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    if lower.starts_with("not affected") {
        Vulnerability {
            state: "not affected",
            mitigation: String::new(),
        }
    } else if let Some(state) = ["vulnerable", "mitigation", "unknown"]
        .into_iter()
        .find(|state| lower.starts_with(state))
    {
        Vulnerability {
            state,
            mitigation: rest_words(),
        }
    } else {
        Vulnerability {
            state: "unknown",
            mitigation: raw.to_owned(),
        }
    }
}

impl Collector for CpuVulnerabilities {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut family = MetricFamily::gauge(
            "node_cpu_vulnerabilities_info",
            "Details of each CPU vulnerability reported by sysfs. The value of the series is an int encoded state of the vulnerability. The same state is stored as a string in the label",
        );
        // Upstream globs the directory: an absent one is an empty list, not an error.
        let names = match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(_) => Vec::new(),
        };
        for name in names {
            let vulnerability = parse_vulnerability(&read_string(&self.dir.join(&name))?);
            family.push(
                &[
                    ("codename", &name),
                    ("state", vulnerability.state),
                    ("mitigation", &vulnerability.mitigation),
                ],
                1.0,
            );
        }
        out.push(family);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn states_and_mitigations() {
        assert_eq!(
            parse_vulnerability("Not affected\n"),
            Vulnerability {
                state: "not affected",
                mitigation: String::new()
            }
        );
        assert_eq!(
            parse_vulnerability("Mitigation: usercopy/swapgs barriers  and __user\n"),
            Vulnerability {
                state: "mitigation",
                mitigation: "usercopy/swapgs barriers and __user".into()
            }
        );
        assert_eq!(
            parse_vulnerability("Vulnerable"),
            Vulnerability {
                state: "vulnerable",
                mitigation: String::new()
            }
        );
        assert_eq!(
            parse_vulnerability("KVM: Mitigation: VMX disabled"),
            Vulnerability {
                state: "unknown",
                mitigation: "KVM: Mitigation: VMX disabled".into()
            }
        );
    }

    #[test]
    fn absent_directory_is_empty_and_unreadable_entry_fails() {
        let dir = tempfile::tempdir().unwrap();
        let collector = CpuVulnerabilities {
            dir: dir.path().join("vulnerabilities"),
        };
        collector.update(&mut Vec::new()).unwrap();
        std::fs::create_dir_all(collector.dir.join("mds")).unwrap();
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,60}") {
            let parsed = parse_vulnerability(&text);
            prop_assert!(["not affected", "vulnerable", "mitigation", "unknown"].contains(&parsed.state));
        }
    }
}
