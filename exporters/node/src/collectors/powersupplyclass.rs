//! `powersupplyclass`: `/sys/class/power_supply/<supply>/*` as `node_power_supply_*{power_supply}`
//! gauges and `node_power_supply_info{power_supply,...}`.
//!
//! Units as node_exporter: µA, µV, µWh, µAh and µW attributes ÷ 1e6, tenths of a degree ÷ 10,
//! everything else as read. Numbers are parsed as Go's `strconv.ParseInt(v, 0, 64)` (so `0x10`
//! and `010` are 16 and 8, as upstream); a number that does not parse fails the collector, as
//! upstream's procfs does. Supplies matching `--collector.powersupply.ignored-supplies`
//! (unanchored, default `^$`) are skipped.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, parse_go_int, sys_read_file, to_valid_utf8};

pub fn declare(set: &mut FlagSet) -> Builder {
    let ignored = set.string(
        "collector.powersupply.ignored-supplies",
        "^$",
        "Regexp of power supplies to ignore for powersupplyclass collector.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        let ignored = Regex::new(flags.get(ignored)).map_err(|err| {
            BuildError::Invalid(format!(
                "--{}: invalid regular expression: {err}",
                flags.name(ignored)
            ))
        })?;
        Ok(Box::new(PowerSupplyClass {
            class_dir: context.paths.sys("class/power_supply"),
            ignored,
        }))
    })
}

struct PowerSupplyClass {
    class_dir: PathBuf,
    ignored: Regex,
}

/// How an attribute file becomes a family: its metric name and the divisor applied.
struct Numeric {
    file: &'static str,
    metric: &'static str,
    divisor: f64,
}

const fn num(file: &'static str, metric: &'static str, divisor: f64) -> Numeric {
    Numeric {
        file,
        metric,
        divisor,
    }
}

/// Every numeric attribute upstream exports, with its name and unit conversion.
const NUMERIC: &[Numeric] = &[
    num("authentic", "authentic", 1.0),
    num("calibrate", "calibrate", 1.0),
    num("capacity", "capacity", 1.0),
    num("capacity_alert_max", "capacity_alert_max", 1.0),
    num("capacity_alert_min", "capacity_alert_min", 1.0),
    num("cycle_count", "cyclecount", 1.0),
    num("online", "online", 1.0),
    num("present", "present", 1.0),
    num("time_to_empty_now", "time_to_empty_seconds", 1.0),
    num("time_to_full_now", "time_to_full_seconds", 1.0),
    num("current_boot", "current_boot", 1e6),
    num("current_max", "current_max", 1e6),
    num("current_now", "current_ampere", 1e6),
    num("energy_empty", "energy_empty", 1e6),
    num("energy_empty_design", "energy_empty_design", 1e6),
    num("energy_full", "energy_full", 1e6),
    num("energy_full_design", "energy_full_design", 1e6),
    num("energy_now", "energy_watthour", 1e6),
    num("voltage_boot", "voltage_boot", 1e6),
    num("voltage_max", "voltage_max", 1e6),
    num("voltage_max_design", "voltage_max_design", 1e6),
    num("voltage_min", "voltage_min", 1e6),
    num("voltage_min_design", "voltage_min_design", 1e6),
    num("voltage_now", "voltage_volt", 1e6),
    num("voltage_ocv", "voltage_ocv", 1e6),
    num("charge_control_limit", "charge_control_limit", 1e6),
    num("charge_control_limit_max", "charge_control_limit_max", 1e6),
    num("charge_counter", "charge_counter", 1e6),
    num("charge_empty", "charge_empty", 1e6),
    num("charge_empty_design", "charge_empty_design", 1e6),
    num("charge_full", "charge_full", 1e6),
    num("charge_full_design", "charge_full_design", 1e6),
    num("charge_now", "charge_ampere", 1e6),
    num("charge_term_current", "charge_term_current", 1e6),
    num("constant_charge_current", "constant_charge_current", 1e6),
    num(
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    num("constant_charge_voltage", "constant_charge_voltage", 1e6),
    num(
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    num("precharge_current", "precharge_current", 1e6),
    num("input_current_limit", "input_current_limit", 1e6),
    num("power_now", "power_watt", 1e6),
    num("temp", "temp_celsius", 10.0),
    num("temp_alert_max", "temp_alert_max_celsius", 10.0),
    num("temp_alert_min", "temp_alert_min_celsius", 10.0),
    num("temp_ambient", "temp_ambient_celsius", 10.0),
    num("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    num("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    num("temp_max", "temp_max_celsius", 10.0),
    num("temp_min", "temp_min_celsius", 10.0),
];

/// Numeric attributes procfs parses (and so can fail on) without node_exporter exporting them.
const PARSED_ONLY: &[&str] = &[
    "charge_avg",
    "current_avg",
    "energy_avg",
    "power_avg",
    "time_to_empty_avg",
    "time_to_full_avg",
    "voltage_avg",
];

/// Text attributes that become labels of `node_power_supply_info` (file, label).
const INFO: &[(&str, &str)] = &[
    ("capacity_level", "capacity_level"),
    ("charge_type", "charge_type"),
    ("health", "health"),
    ("manufacturer", "manufacturer"),
    ("model_name", "model_name"),
    ("serial_number", "serial_number"),
    ("status", "status"),
    ("technology", "technology"),
    ("type", "type"),
    ("usb_type", "usb_type"),
    ("scope", "scope"),
];

/// One supply's attributes: numbers by metric name, info labels.
#[derive(Debug, Default, PartialEq)]
struct Supply {
    numbers: Vec<(&'static str, f64)>,
    info: Vec<(&'static str, String)>,
}

/// Reads one attribute; `None` for the errors procfs skips (missing, not supported, no device,
/// invalid argument).
fn read_attribute(path: &Path) -> Result<Option<Vec<u8>>, CollectorError> {
    match sys_read_file(path) {
        Ok(raw) => Ok(Some(go_trim_space(&raw).to_vec())),
        Err(err)
            if err.kind() == ErrorKind::NotFound
                || err.kind() == ErrorKind::InvalidInput
                || matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENODEV)) =>
        {
            Ok(None)
        }
        Err(err) => Err(CollectorError::io(path, err)),
    }
}

fn read_supply(dir: &Path) -> Result<Supply, CollectorError> {
    let entries = std::fs::read_dir(dir).map_err(|err| CollectorError::io(dir, err))?;
    let mut files: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    files.sort();
    let mut supply = Supply::default();
    for file in &files {
        let numeric = NUMERIC.iter().find(|n| n.file == file);
        let info = INFO.iter().find(|(f, _)| f == file);
        if numeric.is_none() && info.is_none() && !PARSED_ONLY.contains(&file.as_str()) {
            continue; // upstream reads it and ignores it
        }
        let path = dir.join(file);
        let Some(raw) = read_attribute(&path)? else {
            continue;
        };
        if let Some((_, label)) = info {
            supply.info.push((label, to_valid_utf8(&raw)));
            continue;
        }
        let text = String::from_utf8_lossy(&raw);
        let value = parse_go_int(&text)
            .ok_or_else(|| CollectorError::parse(&path, format!("{text:?} is not an integer")))?;
        if let Some(numeric) = numeric {
            supply
                .numbers
                .push((numeric.metric, value as f64 / numeric.divisor));
        }
    }
    Ok(supply)
}

impl Collector for PowerSupplyClass {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let names = match std::fs::read_dir(&self.class_dir) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect();
                names.sort();
                names
            }
            Err(err) if err.kind() == ErrorKind::NotFound => return Err(CollectorError::NoData),
            Err(err) => return Err(CollectorError::io(&self.class_dir, err)),
        };
        // Upstream reads every supply before exporting any: one bad supply fails them all.
        let mut supplies = Vec::with_capacity(names.len());
        for name in names {
            let supply = read_supply(&self.class_dir.join(&name))?;
            if self.ignored.is_match(&name) {
                continue;
            }
            supplies.push((name, supply));
        }
        let mut families: Vec<MetricFamily> = Vec::new();
        let mut info = MetricFamily::gauge(
            "node_power_supply_info",
            "info of /sys/class/power_supply/<power_supply>.",
        );
        for (name, supply) in &supplies {
            for (metric, value) in &supply.numbers {
                let full = format!("node_power_supply_{metric}");
                let index = match families.iter().position(|f| f.name == full) {
                    Some(index) => index,
                    None => {
                        families.push(MetricFamily::gauge(
                            full,
                            format!("{metric} value of /sys/class/power_supply/<power_supply>."),
                        ));
                        families.len() - 1
                    }
                };
                let family = &mut families[index];
                family.push(&[("power_supply", name)], *value);
            }
            let mut labels = vec![("power_supply".to_owned(), name.clone())];
            labels.extend(
                supply
                    .info
                    .iter()
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(label, value)| ((*label).to_owned(), value.clone())),
            );
            info.push_owned(labels, 1.0);
        }
        out.extend(families);
        out.push(info);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;

    use crate::collectors::testing::write;

    fn run(sys: &Path, args: &[&str]) -> (Result<(), CollectorError>, Vec<String>) {
        crate::collectors::testing::run_on_sysfs(declare, sys, args)
    }

    fn battery(sys: &Path) {
        let bat = sys.join("class/power_supply/BAT0");
        write(&bat.join("capacity"), "81\n");
        write(&bat.join("energy_now"), "36580000\n");
        write(&bat.join("voltage_now"), "11660000\n");
        write(&bat.join("temp"), "295\n");
        write(&bat.join("cycle_count"), "0\n");
        write(&bat.join("status"), "Discharging\n");
        write(&bat.join("model_name"), "LNV-45N1\u{FFFD}\n");
        write(&bat.join("serial_number"), "\n");
        write(&bat.join("type"), "Battery\n");
        write(&bat.join("charge_start_threshold"), "whatever\n");
        write(&bat.join("uevent"), "POWER_SUPPLY_NAME=BAT0\n");
        std::fs::create_dir_all(bat.join("power")).unwrap();
        write(&sys.join("class/power_supply/AC/online"), "0\n");
        write(&sys.join("class/power_supply/AC/type"), "Mains\n");
    }

    #[test]
    fn reads_batteries_and_mains() {
        let root = tempfile::tempdir().unwrap();
        battery(root.path());
        let (result, lines) = run(root.path(), &[]);
        result.unwrap();
        assert_eq!(
            lines,
            vec![
                "node_power_supply_capacity power_supply=BAT0 81",
                "node_power_supply_cyclecount power_supply=BAT0 0",
                "node_power_supply_energy_watthour power_supply=BAT0 36.58",
                "node_power_supply_info model_name=LNV-45N1\u{FFFD},power_supply=BAT0,status=Discharging,type=Battery 1",
                "node_power_supply_info power_supply=AC,type=Mains 1",
                "node_power_supply_online power_supply=AC 0",
                "node_power_supply_temp_celsius power_supply=BAT0 29.5",
                "node_power_supply_voltage_volt power_supply=BAT0 11.66",
            ]
        );
        let (_, lines) = run(
            root.path(),
            &["--collector.powersupply.ignored-supplies=^BAT"],
        );
        assert!(lines.iter().all(|l| l.contains("power_supply=AC")));
    }

    #[test]
    fn bad_number_fails_and_missing_class_is_no_data() {
        let root = tempfile::tempdir().unwrap();
        let (result, _) = run(root.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
        battery(root.path());
        write(
            &root.path().join("class/power_supply/BAT0/capacity"),
            "full\n",
        );
        let (result, lines) = run(root.path(), &[]);
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
        assert!(lines.is_empty());
    }

    #[test]
    fn invalid_regex_is_refused() {
        let args = &["--collector.powersupply.ignored-supplies=("];
        assert!(matches!(
            crate::collectors::testing::build(declare, &Paths::default(), args),
            Err(BuildError::Invalid(_))
        ));
    }
}
