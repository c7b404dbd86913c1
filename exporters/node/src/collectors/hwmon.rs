//! `hwmon`: `/sys/class/hwmon/*` sensors (what lm-sensors shows) as `node_hwmon_*{chip,sensor}`,
//! plus `node_hwmon_chip_names{chip,chip_name}` and `node_hwmon_sensor_label{chip,sensor,label}`.
//!
//! Naming follows node_exporter exactly: the `chip` label comes from the device path
//! (`platform_coretemp_0`), else the `name` file, else the `hwmonN` directory; chips sharing a
//! device get the `name` file (or `hwmonN`) appended (1.12). Sensor files `<type><n>_<property>`
//! become `node_hwmon_<type>[_<property>]_<unit>` with upstream's unit conversions.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};
use regex_lite::Regex;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::sysfs::{parse_go_float, sys_read_file, to_valid_utf8};

pub fn declare(set: &mut FlagSet) -> Builder {
    let chip_include = set.optional(
        "collector.hwmon.chip-include",
        "Regexp of hwmon chip to include (mutually exclusive to device-exclude).",
    );
    let chip_exclude = set.optional(
        "collector.hwmon.chip-exclude",
        "Regexp of hwmon chip to exclude (mutually exclusive to device-include).",
    );
    let sensor_include = set.optional(
        "collector.hwmon.sensor-include",
        "Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).",
    );
    let sensor_exclude = set.optional(
        "collector.hwmon.sensor-exclude",
        "Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).",
    );
    Box::new(move |context| {
        Ok(Box::new(Hwmon {
            class_dir: context.paths.sys("class/hwmon"),
            chips: DeviceFilter::from_flags(context.flags, chip_exclude, chip_include)?,
            sensors: DeviceFilter::from_flags(context.flags, sensor_exclude, sensor_include)?,
            sensor_file: Regex::new(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$")
                .map_err(|err| BuildError::Invalid(err.to_string()))?,
        }))
    })
}

/// node_exporter's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, `_` trimmed.
fn clean_name(raw: &str) -> String {
    let replaced: String = raw
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_matches('_').to_owned()
}

const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

struct Hwmon {
    class_dir: PathBuf,
    chips: DeviceFilter,
    sensors: DeviceFilter,
    sensor_file: Regex,
}

/// Sensor name (`temp1`) → property (`input`, `max`, `""` for a bare `fan1`) → raw value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

/// Families being built during one scrape, by name.
#[derive(Default)]
struct Families {
    list: Vec<MetricFamily>,
    index: HashMap<String, usize>,
}

impl Families {
    fn add(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        v: f64,
    ) {
        let index = match self.index.get(name) {
            Some(&index) => index,
            None => {
                self.list
                    .push(MetricFamily::new(name.to_owned(), help.to_owned(), kind));
                self.index.insert(name.to_owned(), self.list.len() - 1);
                self.list.len() - 1
            }
        };
        self.list[index].push(labels, v);
    }

    fn gauge(&mut self, name: &str, help: &str, chip: &str, sensor: &str, value: f64) {
        self.add(
            name,
            help,
            MetricType::Gauge,
            &[("chip", chip), ("sensor", sensor)],
            value,
        );
    }
}

/// One `hwmonN` directory with the chip name it is derived to.
struct Chip {
    dir: PathBuf,
    base_name: String,
    /// The `name` file as read (`None` when absent), read once per scrape.
    name_raw: Option<String>,
    /// The same, trimmed.
    name_file: String,
}

impl Hwmon {
    /// `<type><n>_<property>` → (type, n, property); `None` for names that do not fit.
    fn explode<'a>(&self, file: &'a str) -> Option<(&'a str, u64, &'a str)> {
        let captures = self.sensor_file.captures(file)?;
        let kind = captures.name("type").map_or("", |m| m.as_str());
        let id = match captures.name("id").map(|m| m.as_str()) {
            Some(digits) if !digits.is_empty() => digits.parse().ok()?,
            _ => 0,
        };
        let property = captures.name("property").map_or("", |m| m.as_str());
        Some((kind, id, property))
    }

    fn collect_sensor_data(&self, dir: &Path, data: &mut SensorData) -> Result<(), CollectorError> {
        let entries = std::fs::read_dir(dir).map_err(|err| CollectorError::io(dir, err))?;
        for entry in entries.filter_map(Result::ok) {
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            let Some((kind, id, property)) = self.explode(file_name) else {
                continue;
            };
            if !SENSOR_TYPES.contains(&kind) {
                continue;
            }
            // Unreadable attributes (EAGAIN, EIO, write-only) are skipped, as upstream does.
            let Ok(raw) = sys_read_file(&dir.join(file_name)) else {
                continue;
            };
            let text = String::from_utf8_lossy(&raw);
            data.entry(format!("{kind}{id}"))
                .or_default()
                .insert(property.to_owned(), text.trim_matches('\n').to_owned());
        }
        Ok(())
    }

    /// The chip name derived from the device path, the `name` file, or the directory.
    fn chip_name(dir: &Path, name_raw: Option<&str>) -> Option<String> {
        if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
            let device_name = device.file_name().map(|n| clean_name(&n.to_string_lossy()));
            let device_type = device
                .parent()
                .and_then(Path::file_name)
                .map(|n| clean_name(&n.to_string_lossy()));
            match (device_type, device_name) {
                (Some(kind), Some(name)) if !kind.is_empty() && !name.is_empty() => {
                    return Some(format!("{kind}_{name}"));
                }
                (_, Some(name)) if !name.is_empty() => return Some(name),
                _ => {}
            }
        }
        if let Some(raw) = name_raw {
            let name = clean_name(raw);
            if !name.is_empty() {
                return Some(name);
            }
        }
        let real = std::fs::canonicalize(dir).ok()?;
        let name = clean_name(&real.file_name()?.to_string_lossy());
        (!name.is_empty()).then_some(name)
    }

    fn update_chip(
        &self,
        families: &mut Families,
        dir: &Path,
        chip: &str,
        name_raw: Option<&str>,
    ) -> Result<(), CollectorError> {
        let mut data = SensorData::new();
        self.collect_sensor_data(dir, &mut data)?;
        let device = dir.join("device");
        if device.exists() {
            self.collect_sensor_data(&device, &mut data)?;
        }

        if let Some(raw) = name_raw {
            let chip_name = clean_name(raw);
            if !chip_name.is_empty() {
                families.add(
                    "node_hwmon_chip_names",
                    "Annotation metric for human-readable chip names",
                    MetricType::Gauge,
                    &[("chip", chip), ("chip_name", &chip_name)],
                    1.0,
                );
            }
        }

        for (sensor, properties) in &data {
            if self.sensors.is_active() && self.sensors.ignored(&format!("{chip};{sensor}")) {
                tracing::debug!(chip, sensor, "ignoring sensor");
                continue;
            }
            let kind = self.explode(sensor).map_or("", |(kind, _, _)| kind);
            if let Some(label) = properties.get("label") {
                let label = to_valid_utf8(label.as_bytes());
                families.add(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    MetricType::Gauge,
                    &[("chip", chip), ("sensor", sensor), ("label", &label)],
                    1.0,
                );
            }
            let bare = properties.get("").map(String::as_str);
            match kind {
                "beep_enable" => {
                    let value = if bare == Some("1") { 1.0 } else { 0.0 };
                    families.gauge(
                        "node_hwmon_beep_enabled",
                        "Hardware beep enabled",
                        chip,
                        sensor,
                        value,
                    );
                    continue;
                }
                "vrm" => {
                    if let Some(value) = bare.and_then(parse_go_float) {
                        families.gauge(
                            "node_hwmon_voltage_regulator_version",
                            "Hardware voltage regulator",
                            chip,
                            sensor,
                            value,
                        );
                    }
                    continue;
                }
                "update_interval" => {
                    if let Some(value) = bare.and_then(parse_go_float) {
                        families.gauge(
                            "node_hwmon_update_interval_seconds",
                            "Hardware monitor update interval",
                            chip,
                            sensor,
                            value * 0.001,
                        );
                    }
                    continue;
                }
                _ => {}
            }
            for (element, raw) in properties {
                if element == "label" {
                    continue;
                }
                self.emit_element(families, chip, sensor, kind, element, raw, properties);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_element(
        &self,
        families: &mut Families,
        chip: &str,
        sensor: &str,
        kind: &str,
        element: &str,
        raw: &str,
        properties: &BTreeMap<String, String>,
    ) {
        let mut name = format!("node_hwmon_{kind}");
        if element == "input" {
            // `input` is the value itself, unless a bare `<type><n>` file also exists.
            if properties.contains_key("") {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_name(element));
        }
        let Some(value) = parse_go_float(raw) else {
            return;
        };
        let gauge = |families: &mut Families, name: &str, help: &str, value: f64| {
            families.gauge(name, help, chip, sensor, value);
        };
        if element == "fault" || element == "alarm" {
            let help = format!("Hardware sensor {element} status ({kind})");
            return gauge(families, &name, &help, value);
        }
        if element == "beep" {
            return gauge(
                families,
                &format!("{name}_enabled"),
                "Hardware monitor sensor has beeping enabled",
                value,
            );
        }
        match kind {
            "in" | "cpu" => {
                let help = format!("Hardware monitor for voltage ({element})");
                gauge(families, &format!("{name}_volts"), &help, value * 0.001)
            }
            "temp" if element != "type" => {
                let shown = if element.is_empty() { "input" } else { element };
                let help = format!("Hardware monitor for temperature ({shown})");
                gauge(families, &format!("{name}_celsius"), &help, value * 0.001)
            }
            "curr" => {
                let help = format!("Hardware monitor for current ({element})");
                gauge(families, &format!("{name}_amps"), &help, value * 0.001)
            }
            "energy" => families.add(
                &format!("{name}_joule_total"),
                &format!("Hardware monitor for joules used so far ({element})"),
                MetricType::Counter,
                &[("chip", chip), ("sensor", sensor)],
                value / 1_000_000.0,
            ),
            "power" => gauge_power(families, chip, sensor, &name, element, value),
            "humidity" => {
                let help = format!(
                    "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
                );
                gauge(families, &name, &help, value / 1_000_000.0)
            }
            "fan" if matches!(element, "input" | "min" | "max" | "target") => {
                let help = format!("Hardware monitor for fan revolutions per minute ({element})");
                gauge(families, &format!("{name}_rpm"), &help, value)
            }
            "freq" if element == "input" => {
                // Only labelled frequencies are exported, with the label as the sensor name.
                if let Some(label) = properties.get("label") {
                    families.add(
                        &format!("{name}_freq_mhz"),
                        "Hardware monitor for GPU frequency in MHz",
                        MetricType::Gauge,
                        &[("chip", chip), ("sensor", &clean_name(label))],
                        value / 1_000_000.0,
                    );
                }
            }
            _ => {
                let help = format!("Hardware monitor {kind} element {element}");
                gauge(families, &name, &help, value)
            }
        }
    }
}

/// A `power<n>_<element>` file: the accuracy as a ratio, update intervals in seconds, the rest in
/// watts.
fn gauge_power(
    families: &mut Families,
    chip: &str,
    sensor: &str,
    name: &str,
    element: &str,
    value: f64,
) {
    if element == "accuracy" {
        let help = "Hardware monitor power meter accuracy, as a ratio";
        families.gauge(name, help, chip, sensor, value / 1_000_000.0);
    } else if matches!(
        element,
        "average_interval" | "average_interval_min" | "average_interval_max"
    ) {
        let help = format!("Hardware monitor power usage update interval ({element})");
        families.gauge(
            &format!("{name}_seconds"),
            &help,
            chip,
            sensor,
            value * 0.001,
        );
    } else {
        let help = format!("Hardware monitor for power usage in watts ({element})");
        families.gauge(
            &format!("{name}_watt"),
            &help,
            chip,
            sensor,
            value / 1_000_000.0,
        );
    }
}

impl Collector for Hwmon {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let entries = match std::fs::read_dir(&self.class_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("hwmon collector metrics are not available for this system");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.class_dir, err)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();

        // Pass 1: derive each chip's name; several hwmon nodes may share one device.
        let mut chips = Vec::with_capacity(names.len());
        let mut base_counts: HashMap<String, usize> = HashMap::new();
        let mut name_counts: HashMap<(String, String), usize> = HashMap::new();
        for name in names {
            let dir = self.class_dir.join(&name);
            if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let name_raw = std::fs::read(dir.join("name"))
                .ok()
                .map(|raw| String::from_utf8_lossy(&raw).into_owned());
            let Some(base_name) = Self::chip_name(&dir, name_raw.as_deref()) else {
                tracing::debug!(dir = %dir.display(), "failed to derive hwmon chip name");
                continue;
            };
            let name_file = name_raw.as_deref().unwrap_or_default().trim().to_owned();
            *base_counts.entry(base_name.clone()).or_default() += 1;
            *name_counts
                .entry((base_name.clone(), name_file.clone()))
                .or_default() += 1;
            chips.push(Chip {
                dir,
                base_name,
                name_raw,
                name_file,
            });
        }

        // Pass 2: a unique chip label, then the filter on that label, then the sensors.
        let mut families = Families::default();
        let mut last_error = None;
        for chip in &chips {
            let mut label = chip.base_name.clone();
            if base_counts.get(&chip.base_name).copied().unwrap_or(0) > 1 {
                let mut suffix = clean_name(&chip.name_file);
                let shared = name_counts
                    .get(&(chip.base_name.clone(), chip.name_file.clone()))
                    .copied()
                    .unwrap_or(0)
                    > 1;
                if suffix.is_empty() || shared {
                    suffix = clean_name(
                        &chip
                            .dir
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                }
                label = format!("{}_{suffix}", chip.base_name);
            }
            if self.chips.ignored(&label) {
                tracing::debug!(chip = %label, "ignoring hwmon chip");
                continue;
            }
            if let Err(err) =
                self.update_chip(&mut families, &chip.dir, &label, chip.name_raw.as_deref())
            {
                last_error = Some(err);
            }
        }
        out.extend(families.list);
        match last_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use crate::sysfs::{go_trim_space, parse_go_int};

    fn collector(sys: &Path, args: &[&str]) -> Result<Box<dyn Collector>, BuildError> {
        let paths = Paths {
            sysfs: sys.to_owned(),
            ..Paths::default()
        };
        crate::collectors::testing::build(declare, &paths, args)
    }

    use crate::collectors::testing::write;

    fn series(families: &[MetricFamily]) -> Vec<String> {
        let mut out: Vec<String> = families
            .iter()
            .flat_map(|f| {
                f.samples.iter().map(move |s| {
                    let mut labels = s.labels.clone();
                    labels.sort();
                    let labels: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}{{{}}} {}", f.name, labels.join(","), s.value)
                })
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn names_chips_from_device_path_and_converts_units() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path();
        let dev = sys.join("devices/platform/coretemp.0");
        let hw = dev.join("hwmon/hwmon0");
        write(&hw.join("name"), "coretemp\n");
        write(&hw.join("temp1_input"), "55000\n");
        write(&hw.join("temp1_label"), "Core 0\n");
        write(&hw.join("temp1_crit_alarm"), "0\n");
        write(&hw.join("in0_input"), "792\n");
        write(&hw.join("fan1_input"), "1098\n");
        write(&hw.join("fan1_alarm"), "1\n");
        write(&hw.join("power1_average"), "5002000\n");
        write(&hw.join("energy1_input"), "3000000\n");
        write(&hw.join("pwm1"), "128\n");
        write(&hw.join("update_interval"), "1000\n");
        write(&hw.join("garbage1_input"), "1\n");
        write(&hw.join("temp2_input"), "not a number\n");
        std::os::unix::fs::symlink("../../../coretemp.0", hw.join("device")).unwrap();
        std::fs::create_dir_all(sys.join("class/hwmon")).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/platform/coretemp.0/hwmon/hwmon0",
            sys.join("class/hwmon/hwmon0"),
        )
        .unwrap();
        let c = collector(sys, &[]).unwrap();
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        let chip = "chip=platform_coretemp_0";
        assert_eq!(
            series(&out),
            vec![
                format!("node_hwmon_chip_names{{{chip},chip_name=coretemp}} 1"),
                format!("node_hwmon_energy_joule_total{{{chip},sensor=energy1}} 3"),
                format!("node_hwmon_fan_alarm{{{chip},sensor=fan1}} 1"),
                format!("node_hwmon_fan_rpm{{{chip},sensor=fan1}} 1098"),
                format!("node_hwmon_in_volts{{{chip},sensor=in0}} 0.792"),
                format!("node_hwmon_power_average_watt{{{chip},sensor=power1}} 5.002"),
                format!("node_hwmon_pwm{{{chip},sensor=pwm1}} 128"),
                format!("node_hwmon_sensor_label{{{chip},label=Core 0,sensor=temp1}} 1"),
                format!("node_hwmon_temp_celsius{{{chip},sensor=temp1}} 55"),
                format!("node_hwmon_temp_crit_alarm_celsius{{{chip},sensor=temp1}} 0"),
                format!("node_hwmon_update_interval_seconds{{{chip},sensor=update_interval0}} 1"),
            ]
        );
        let energy = out
            .iter()
            .find(|f| f.name == "node_hwmon_energy_joule_total")
            .unwrap();
        assert_eq!(energy.kind, MetricType::Counter);

        // Sensor filter on "<chip>;<sensor>", chip filter on the chip label.
        let c = collector(
            sys,
            &["--collector.hwmon.sensor-exclude=platform_coretemp_0;(temp1|fan1)"],
        )
        .unwrap();
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert!(!series(&out).iter().any(|s| s.contains("sensor=temp1")));
        assert!(series(&out).iter().any(|s| s.contains("sensor=in0")));
        let c = collector(sys, &["--collector.hwmon.chip-exclude=coretemp"]).unwrap();
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn disambiguates_chips_sharing_a_device() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path();
        let dev = sys.join("devices/platform/asus-nb-wmi");
        std::fs::create_dir_all(sys.join("class/hwmon")).unwrap();
        for (n, name) in [
            (6, "asus"),
            (7, "asus_wmi_sensors"),
            (8, "asus"),
            (9, "asus"),
        ] {
            let hw = dev.join(format!("hwmon/hwmon{n}"));
            write(&hw.join("name"), &format!("{name}\n"));
            write(&hw.join("pwm1_enable"), "2\n");
            std::os::unix::fs::symlink("../../../asus-nb-wmi", hw.join("device")).unwrap();
            std::os::unix::fs::symlink(
                format!("../../devices/platform/asus-nb-wmi/hwmon/hwmon{n}"),
                sys.join(format!("class/hwmon/hwmon{n}")),
            )
            .unwrap();
        }
        // A chip with neither device nor name is named after its directory.
        write(&sys.join("class/hwmon/hwmon4/temp1_input"), "1000\n");
        let c = collector(sys, &[]).unwrap();
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        let enable: Vec<String> = series(&out)
            .into_iter()
            .filter(|s| s.starts_with("node_hwmon_pwm_enable"))
            .collect();
        assert_eq!(
            enable,
            vec![
                "node_hwmon_pwm_enable{chip=platform_asus_nb_wmi_asus_wmi_sensors,sensor=pwm1} 2",
                "node_hwmon_pwm_enable{chip=platform_asus_nb_wmi_hwmon6,sensor=pwm1} 2",
                "node_hwmon_pwm_enable{chip=platform_asus_nb_wmi_hwmon8,sensor=pwm1} 2",
                "node_hwmon_pwm_enable{chip=platform_asus_nb_wmi_hwmon9,sensor=pwm1} 2",
            ]
        );
        assert!(
            series(&out).contains(&"node_hwmon_temp_celsius{chip=hwmon4,sensor=temp1} 1".into())
        );
    }

    #[test]
    fn flags_are_checked() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            collector(
                root.path(),
                &[
                    "--collector.hwmon.chip-include=a",
                    "--collector.hwmon.chip-exclude=b"
                ]
            ),
            Err(BuildError::Invalid(_))
        ));
        assert!(matches!(
            collector(root.path(), &["--collector.hwmon.sensor-include=("]),
            Err(BuildError::Invalid(_))
        ));
        let c = collector(root.path(), &[]).unwrap();
        assert!(matches!(
            c.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    #[test]
    fn go_helpers_behave_like_go() {
        assert_eq!(clean_name("Core 0\n"), "core_0");
        assert_eq!(clean_name("_asus-nb.wmi_"), "asus_nb_wmi");
        assert_eq!(go_trim_space(b" \tab c\n\x0b"), b"ab c");
        assert_eq!(go_trim_space(b"  "), b"");
        assert_eq!(to_valid_utf8(b"ab"), "ab");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb\xff"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(to_valid_utf8(b"\xe2\x82"), "\u{FFFD}");
        assert_eq!(parse_go_int("42"), Some(42));
        assert_eq!(parse_go_int("-42"), Some(-42));
        assert_eq!(parse_go_int("0x10"), Some(16));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("0x_1"), None);
        assert_eq!(parse_go_int("1_000"), None);
        assert_eq!(parse_go_int("0x1_0"), Some(16));
        assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775808"), None);
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("-"), None);
        assert_eq!(parse_go_int("--1"), None);
        assert_eq!(parse_go_int("0x-1"), None);
        assert_eq!(parse_go_float("1e400"), None);
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("1.5"), Some(1.5));
    }

    proptest::proptest! {
        #[test]
        fn helpers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64), text in ".{0,40}") {
            let _ = to_valid_utf8(&bytes);
            let _ = go_trim_space(&bytes);
            let _ = parse_go_int(&text);
            let _ = parse_go_float(&text);
            let _ = clean_name(&text);
        }

        #[test]
        fn valid_utf8_is_kept(text in "\\PC{0,40}") {
            proptest::prop_assert_eq!(to_valid_utf8(text.as_bytes()), text);
        }
    }
}
