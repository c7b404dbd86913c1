//! `interrupts` (off by default): `node_interrupts_total{cpu,type,info,devices}` from
//! `/proc/interrupts`, filtered by `--collector.interrupts.name-include` / `-exclude` (matched
//! against `<type>;<info>;<devices>`) and `--collector.interrupts.include-zeros`.
//!
//! Hand-written: procfs-core has no `/proc/interrupts` parser. The header names one column per
//! CPU; a numbered interrupt has its chip in `info` and the rest of the line in `devices`, a
//! named one (`NMI`, `LOC`...) has its description in `info`. Lines with fewer values than CPUs
//! (`ERR`, `MIS`) are skipped, as upstream does.

use std::collections::HashMap;
use std::path::PathBuf;

use octo_exporter_kit::{Flag, FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::read::read_string;

pub fn declare(set: &mut FlagSet) -> Builder {
    let options = Options::declare(set);
    Box::new(move |context| {
        Ok(Box::new(Interrupts {
            path: context.paths.proc("interrupts"),
            filter: DeviceFilter::from_flags(context.flags, options.exclude, options.include)?,
            include_zeros: context.flags.get(options.include_zeros),
        }))
    })
}

#[derive(Clone, Copy)]
struct Options {
    include: Flag<Option<String>>,
    exclude: Flag<Option<String>>,
    include_zeros: Flag<bool>,
}

impl Options {
    fn declare(set: &mut FlagSet) -> Self {
        Options {
            include: set.optional(
                "collector.interrupts.name-include",
                "Regexp of interrupts name to include (mutually exclusive to --collector.interrupts.name-exclude).",
            ),
            exclude: set.optional(
                "collector.interrupts.name-exclude",
                "Regexp of interrupts name to exclude (mutually exclusive to --collector.interrupts.name-include).",
            ),
            include_zeros: set.bool(
                "collector.interrupts.include-zeros",
                true,
                "Include interrupts that have a zero value",
            ),
        }
    }
}

struct Interrupts {
    path: PathBuf,
    filter: DeviceFilter,
    include_zeros: bool,
}

#[derive(Debug, PartialEq)]
struct Interrupt<'a> {
    name: &'a str,
    info: String,
    devices: String,
    values: Vec<&'a str>,
}

fn parse(text: &str) -> Result<Vec<Interrupt<'_>>, String> {
    let mut lines = text.lines();
    let header = lines.next().ok_or("interrupts empty")?;
    let cpus = header.split_ascii_whitespace().count();
    let mut interrupts: Vec<Interrupt<'_>> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for line in lines {
        // aarch64 may put no space between the name and the values: split at ':' first.
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let parts: Vec<&str> = rest.split_ascii_whitespace().collect();
        if parts.len() < cpus + 1 {
            continue;
        }
        let name = name.trim_start_matches(' ');
        let (info, devices) = if name.parse::<i64>().is_ok() {
            (parts[cpus].to_owned(), parts[cpus + 1..].join(" "))
        } else {
            (parts[cpus..].join(" "), String::new())
        };
        let interrupt = Interrupt {
            name,
            info,
            devices,
            values: parts[..cpus].to_vec(),
        };
        // A name seen twice keeps its last line, as upstream's map does.
        match index_of.get(name) {
            Some(&index) => interrupts[index] = interrupt,
            None => {
                index_of.insert(name, interrupts.len());
                interrupts.push(interrupt);
            }
        }
    }
    Ok(interrupts)
}

impl Collector for Interrupts {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let interrupts = parse(&text).map_err(|reason| {
            CollectorError::parse(&self.path, format!("couldn't get interrupts: {reason}"))
        })?;
        let mut family = MetricFamily::counter("node_interrupts_total", "Interrupt details.");
        let mut cpu_labels: Vec<String> = Vec::new();
        let mut failure = None;
        for interrupt in &interrupts {
            let filter_name = format!(
                "{};{};{}",
                interrupt.name, interrupt.info, interrupt.devices
            );
            if self.filter.ignored(&filter_name) {
                tracing::debug!(filter_name, "ignoring interrupt name");
                continue;
            }
            for (cpu, value) in interrupt.values.iter().enumerate() {
                let Ok(value) = value.parse::<f64>() else {
                    failure = Some(CollectorError::parse(
                        &self.path,
                        format!("invalid value {value:?} in interrupts"),
                    ));
                    break;
                };
                if !self.include_zeros && value == 0.0 {
                    continue;
                }
                while cpu_labels.len() <= cpu {
                    cpu_labels.push(cpu_labels.len().to_string());
                }
                family.push(
                    &[
                        ("cpu", &cpu_labels[cpu]),
                        ("type", interrupt.name),
                        ("info", &interrupt.info),
                        ("devices", &interrupt.devices),
                    ],
                    value,
                );
            }
            if failure.is_some() {
                break;
            }
        }
        // Series read before a bad value are still exported, as upstream does.
        out.push(family);
        failure.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::BuildError;
    use crate::paths::Paths;

    const X86: &str = "           CPU0       CPU1       
  0:         18          0  IR-IO-APIC-edge      timer
 16:     328511     322879  IR-IO-APIC-fasteoi   ehci_hcd:usb1, mmc0
 40:          0          0  DMAR_MSI-edge      dmar0
NMI:         47       5031   Non-maskable interrupts
ERR:          0
";

    #[test]
    fn reads_numbered_and_named_interrupts() {
        let interrupts = parse(X86).unwrap();
        assert_eq!(interrupts.len(), 4);
        assert_eq!(interrupts[1].name, "16");
        assert_eq!(interrupts[1].info, "IR-IO-APIC-fasteoi");
        assert_eq!(interrupts[1].devices, "ehci_hcd:usb1, mmc0");
        assert_eq!(interrupts[1].values, ["328511", "322879"]);
        assert_eq!(interrupts[3].name, "NMI");
        assert_eq!(interrupts[3].info, "Non-maskable interrupts");
        assert_eq!(interrupts[3].devices, "");
    }

    #[test]
    fn reads_aarch64_lines() {
        let text = "          CPU0       CPU1\n 10: 3287008667 3310445093     GICv3  27 Level     arch_timer\nIPI0:12 13 Rescheduling interrupts\n";
        let interrupts = parse(text).unwrap();
        assert_eq!(interrupts[0].info, "GICv3");
        assert_eq!(interrupts[0].devices, "27 Level arch_timer");
        assert_eq!(interrupts[1].name, "IPI0");
        assert_eq!(interrupts[1].values, ["12", "13"]);
    }

    #[test]
    fn empty_is_an_error() {
        assert!(parse("").is_err());
    }

    fn run(filter: DeviceFilter, include_zeros: bool, text: &str) -> (Vec<MetricFamily>, bool) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("interrupts"), text).unwrap();
        let collector = Interrupts {
            path: dir.path().join("interrupts"),
            filter,
            include_zeros,
        };
        let mut out = Vec::new();
        let ok = collector.update(&mut out).is_ok();
        (out, ok)
    }

    #[test]
    fn filters_apply_to_type_info_and_devices() {
        let (out, ok) = run(DeviceFilter::default(), true, X86);
        assert!(ok);
        assert_eq!(out[0].samples.len(), 8);
        let (out, _) = run(DeviceFilter::default(), false, X86);
        assert_eq!(out[0].samples.len(), 5);
        let include =
            DeviceFilter::new(None, Some(("collector.interrupts.name-include", "^NMI;"))).unwrap();
        let (out, _) = run(include, true, X86);
        assert_eq!(out[0].samples.len(), 2);
        let exclude =
            DeviceFilter::new(Some(("collector.interrupts.name-exclude", "mmc0")), None).unwrap();
        let (out, _) = run(exclude, true, X86);
        assert_eq!(out[0].samples.len(), 6);
    }

    #[test]
    fn a_bad_value_is_an_error() {
        let (_, ok) = run(DeviceFilter::default(), true, "CPU0\n 1: many edge x\n");
        assert!(!ok);
    }

    fn build(args: &[&str], paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
        crate::collectors::testing::build(declare, paths, args)
    }

    #[test]
    fn include_and_exclude_are_mutually_exclusive_and_checked() {
        let paths = Paths::default();
        assert!(build(&[], &paths).is_ok());
        let both = &[
            "--collector.interrupts.name-include=a",
            "--collector.interrupts.name-exclude=b",
        ];
        let Err(BuildError::Invalid(reason)) = build(both, &paths) else {
            panic!("both filters accepted");
        };
        assert!(reason.contains("mutually exclusive"), "{reason}");
        let bad = &["--collector.interrupts.name-exclude=(unclosed"];
        assert!(matches!(build(bad, &paths), Err(BuildError::Invalid(_))));
        let mut set = FlagSet::new("t", "t", "0".into());
        let options = Options::declare(&mut set);
        let zeros = set
            .parse_args(&["--no-collector.interrupts.include-zeros"])
            .unwrap();
        assert!(!zeros.get(options.include_zeros));
    }

    #[test]
    fn live_interrupts_parse() {
        let collector = build(&[], &Paths::default()).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(!out[0].samples.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "( *CPU[0-9] *){0,3}\n([ A-Z0-9]{0,4}:?[ 0-9a-z,]{0,30}\n){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..X86.len()) {
            let _ = parse(&X86[..cut]);
        }
    }
}
