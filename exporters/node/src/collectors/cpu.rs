//! `cpu`: `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}` from
//! `/proc/stat`; thermal throttle counters, `node_cpu_isolated` and `node_cpu_online` from
//! sysfs; with `--collector.cpu.info`, `node_cpu_info`, `node_cpu_frequency_hertz` and the
//! filtered `node_cpu_flag_info` / `node_cpu_bug_info` from `/proc/cpuinfo`.
//!
//! Like upstream, the collector keeps the last value of every CPU counter so that a counter the
//! kernel reports smaller than before (iowait does that, and so do buggy hypervisors) never makes
//! the exported counter go backwards; when idle drops by three seconds or more the CPU is taken to
//! have been hot-plugged and its history is reset. CPUs that leave `/proc/stat` (offline) leave
//! the output.
//!
//! `/proc/cpuinfo` is parsed by hand: procfs-core's `CpuInfo` cuts values at the first `:` and
//! keeps every field of every CPU in hash maps, while we need upstream's per-architecture reading
//! of a handful of fields.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use octo_exporter_kit::{Flag, FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{BuildContext, BuildError, Builder, Collector, CollectorError};
use crate::cpulist::{cpu_dirs, parse_cpu_list};
use crate::procstat::{CpuTicks, parse_proc_stat};
use crate::read::{read_string, read_trimmed, read_u64};

pub fn declare(set: &mut FlagSet) -> Builder {
    let options = Options {
        guest: set.bool(
            "collector.cpu.guest",
            true,
            "Enables metric node_cpu_guest_seconds_total",
        ),
        info: set.bool("collector.cpu.info", false, "Enables metric cpu_info"),
        flags_include: set.optional(
            "collector.cpu.info.flags-include",
            "Filter the `flags` field in cpuInfo with a value that must be a regular expression",
        ),
        bugs_include: set.optional(
            "collector.cpu.info.bugs-include",
            "Filter the `bugs` field in cpuInfo with a value that must be a regular expression",
        ),
    };
    Box::new(move |context| build(context, options))
}

#[derive(Clone, Copy)]
struct Options {
    guest: Flag<bool>,
    info: Flag<bool>,
    flags_include: Flag<Option<String>>,
    bugs_include: Flag<Option<String>>,
}

fn build(context: &BuildContext<'_>, options: Options) -> Result<Box<dyn Collector>, BuildError> {
    let (flags, paths) = (context.flags, context.paths);
    let compile = |flag: Flag<Option<String>>| -> Result<Option<Regex>, BuildError> {
        match flags.get(flag).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(pattern) => Regex::new(pattern).map(Some).map_err(|err| {
                BuildError::Invalid(format!(
                    "fail to compile --collector.cpu.info.flags-include and \
                     --collector.cpu.info.bugs-include, the values of them must be regular \
                     expressions: --{}={pattern:?}: {err}",
                    flags.name(flag)
                ))
            }),
        }
    };
    let flags_include = compile(options.flags_include)?;
    let bugs_include = compile(options.bugs_include)?;
    // Upstream turns the info metrics on when either filter is given.
    let info_flag = flags.get(options.info);
    let info = info_flag || flags_include.is_some() || bugs_include.is_some();
    if info && !info_flag {
        tracing::info!(
            "--collector.cpu.info has been set to `true` because you set the following flags, like --collector.cpu.info.flags-include and --collector.cpu.info.bugs-include"
        );
    }
    Ok(Box::new(Cpu {
        stat_path: paths.proc("stat"),
        cpuinfo_path: paths.proc("cpuinfo"),
        cpu_dir: paths.sys("devices/system/cpu"),
        guest: flags.get(options.guest),
        info: info.then_some(InfoOptions {
            frequency: context.is_enabled("cpufreq"),
            flags_include,
            bugs_include,
            layout: CpuinfoLayout::native(),
        }),
        user_hz: user_hz(),
        seconds: Mutex::new(HashMap::new()),
    }))
}

/// The kernel's USER_HZ, the unit of `/proc/stat` (100 on every Linux architecture in practice).
pub(crate) fn user_hz() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        _ => 100.0,
    }
}

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// Seconds per mode: the eight of [`MODES`], then guest and guest_nice.
type Seconds = [f64; 10];

/// Idle going back by this many seconds or more means the CPU was hot-plugged (upstream's
/// `jumpBackSeconds`).
const JUMP_BACK_SECONDS: f64 = 3.0;

fn ticks_to_seconds(ticks: &CpuTicks, user_hz: f64) -> Seconds {
    [
        ticks.user,
        ticks.nice,
        ticks.system,
        ticks.idle,
        ticks.iowait,
        ticks.irq,
        ticks.softirq,
        ticks.steal,
        ticks.guest,
        ticks.guest_nice,
    ]
    .map(|t| t as f64 / user_hz)
}

const FIELD_NAMES: [&str; 10] = [
    "User",
    "Nice",
    "System",
    "Idle",
    "Iowait",
    "IRQ",
    "SoftIRQ",
    "Steal",
    "Guest",
    "GuestNice",
];
const IDLE: usize = 3;

/// Folds a fresh reading into the kept values: counters never go backwards, a large idle jump
/// back resets the CPU, CPUs absent from the reading are forgotten.
fn fold_readings(kept: &mut HashMap<u32, Seconds>, fresh: &[(u32, Seconds)]) {
    for (cpu, new) in fresh {
        let mut old = kept.get(cpu).copied().unwrap_or_default();
        if old[IDLE] - new[IDLE] >= JUMP_BACK_SECONDS {
            tracing::debug!(
                cpu,
                old_value = old[IDLE],
                new_value = new[IDLE],
                "CPU Idle counter jumped backwards more than {JUMP_BACK_SECONDS} seconds, possible hotplug event, resetting CPU stats"
            );
            old = Seconds::default();
        }
        for (i, (kept_value, new_value)) in old.iter_mut().zip(new).enumerate() {
            if *new_value >= *kept_value {
                *kept_value = *new_value;
            } else {
                tracing::debug!(
                    cpu,
                    old_value = *kept_value,
                    new_value,
                    "CPU {} counter jumped backwards",
                    FIELD_NAMES[i]
                );
            }
        }
        kept.insert(*cpu, old);
    }
    if kept.len() != fresh.len() {
        kept.retain(|cpu, _| fresh.iter().any(|(id, _)| id == cpu));
    }
}

/// Which `/proc/cpuinfo` dialect the running architecture writes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CpuinfoLayout {
    /// `processor : N` blocks with vendor, family, model, MHz, ids, flags and bugs (x86, and
    /// the fallback for architectures upstream reads differently: see the module docs).
    X86,
    /// ARM: `processor`/`Processor`, `BogoMIPS`, `model name`, one `Features` line for all.
    Arm,
}

impl CpuinfoLayout {
    fn native() -> Self {
        if cfg!(any(target_arch = "arm", target_arch = "aarch64")) {
            CpuinfoLayout::Arm
        } else {
            CpuinfoLayout::X86
        }
    }
}

/// One processor of `/proc/cpuinfo`, the fields upstream exports.
#[derive(Debug, Clone, Default, PartialEq)]
struct CpuinfoEntry {
    processor: u32,
    vendor: String,
    family: String,
    model: String,
    model_name: String,
    stepping: String,
    microcode: String,
    mhz: f64,
    cache_size: String,
    physical_id: String,
    core_id: String,
    flags: Vec<String>,
    bugs: Vec<String>,
}

/// Parses a processor number the way Go's `ParseUint(s, 0, 32)` does (`0x` hex allowed).
fn processor_number(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("invalid processor number {text:?}"))
}

/// `key<tabs>: value` split as upstream splits it (at the first `": "`, key trimmed, value not).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(": ")?;
    Some((key.trim(), value))
}

fn first_non_empty_line<'a>(lines: &mut impl Iterator<Item = &'a str>) -> &'a str {
    lines.find(|l| !l.trim().is_empty()).unwrap_or("")
}

fn parse_cpuinfo(text: &str, layout: CpuinfoLayout) -> Result<Vec<CpuinfoEntry>, String> {
    match layout {
        CpuinfoLayout::X86 => parse_cpuinfo_x86(text),
        CpuinfoLayout::Arm => parse_cpuinfo_arm(text),
    }
}

fn parse_cpuinfo_x86(text: &str) -> Result<Vec<CpuinfoEntry>, String> {
    let mut lines = text.lines();
    let first = first_non_empty_line(&mut lines);
    let Some(("processor", number)) = first
        .starts_with("processor")
        .then(|| key_value(first))
        .flatten()
    else {
        return Err(format!("cannot parse line {first:?}"));
    };
    let mut cpus = vec![CpuinfoEntry {
        processor: processor_number(number)?,
        ..CpuinfoEntry::default()
    }];
    for line in lines {
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        if key == "processor" {
            cpus.push(CpuinfoEntry {
                processor: processor_number(value)?,
                ..CpuinfoEntry::default()
            });
            continue;
        }
        let Some(cpu) = cpus.last_mut() else { break };
        match key {
            "vendor" | "vendor_id" => cpu.vendor = value.to_owned(),
            "cpu family" => cpu.family = value.to_owned(),
            "model" => cpu.model = value.to_owned(),
            "model name" => cpu.model_name = value.to_owned(),
            "stepping" => cpu.stepping = value.to_owned(),
            "microcode" => cpu.microcode = value.to_owned(),
            "cpu MHz" => {
                cpu.mhz = value
                    .parse()
                    .map_err(|_| format!("invalid cpu MHz {value:?}"))?;
            }
            "cache size" => cpu.cache_size = value.to_owned(),
            "physical id" => cpu.physical_id = value.to_owned(),
            "core id" => cpu.core_id = value.to_owned(),
            "flags" => cpu.flags = value.split_whitespace().map(str::to_owned).collect(),
            "bugs" => cpu.bugs = value.split_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    Ok(cpus)
}

fn parse_cpuinfo_arm(text: &str) -> Result<Vec<CpuinfoEntry>, String> {
    let mut lines = text.lines();
    let first = first_non_empty_line(&mut lines);
    let parsed_first = (first.starts_with("processor") || first.starts_with("Processor"))
        .then(|| key_value(first))
        .flatten();
    let Some((first_key, first_value)) = parsed_first else {
        return Err(format!("cannot parse line {first:?}"));
    };
    // Old kernels start with `Processor : <model>` shared by every CPU.
    let mut common = CpuinfoEntry::default();
    let mut cpus = Vec::new();
    if first_key == "Processor" {
        common.model_name = first_value.to_owned();
    } else {
        cpus.push(CpuinfoEntry {
            processor: processor_number(first_value)?,
            ..CpuinfoEntry::default()
        });
    }
    let mut features = "";
    for line in lines {
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        match key {
            "processor" => cpus.push(CpuinfoEntry {
                processor: processor_number(value)?,
                ..common.clone()
            }),
            "BogoMIPS" => {
                if cpus.is_empty() {
                    cpus.push(common.clone()); // a single processor, number 0
                }
                value
                    .parse::<f64>()
                    .map_err(|_| format!("invalid BogoMIPS {value:?}"))?;
            }
            "Features" => features = value,
            "model name" => {
                if let Some(cpu) = cpus.last_mut() {
                    cpu.model_name = value.to_owned();
                }
            }
            _ => {}
        }
    }
    let flags: Vec<String> = features.split_whitespace().map(str::to_owned).collect();
    for cpu in &mut cpus {
        cpu.flags = flags.clone();
    }
    Ok(cpus)
}

struct InfoOptions {
    /// Whether `node_cpu_frequency_hertz` comes from cpuinfo (upstream: when cpufreq is on).
    frequency: bool,
    flags_include: Option<Regex>,
    bugs_include: Option<Regex>,
    layout: CpuinfoLayout,
}

struct Cpu {
    stat_path: PathBuf,
    cpuinfo_path: PathBuf,
    cpu_dir: PathBuf,
    guest: bool,
    info: Option<InfoOptions>,
    user_hz: f64,
    /// The last value of every counter per CPU (see the module docs).
    seconds: Mutex<HashMap<u32, Seconds>>,
}

impl Cpu {
    fn update_info(
        &self,
        options: &InfoOptions,
        out: &mut Vec<MetricFamily>,
    ) -> Result<(), CollectorError> {
        let text = read_string(&self.cpuinfo_path)?;
        let cpus = parse_cpuinfo(&text, options.layout)
            .map_err(|reason| CollectorError::parse(&self.cpuinfo_path, reason))?;
        let mut info = MetricFamily::gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
        for cpu in &cpus {
            info.push(
                &[
                    ("package", &cpu.physical_id),
                    ("core", &cpu.core_id),
                    ("cpu", &cpu.processor.to_string()),
                    ("vendor", &cpu.vendor),
                    ("family", &cpu.family),
                    ("model", &cpu.model),
                    ("model_name", &cpu.model_name),
                    ("microcode", &cpu.microcode),
                    ("stepping", &cpu.stepping),
                    ("cachesize", &cpu.cache_size),
                ],
                1.0,
            );
        }
        out.push(info);
        if options.frequency {
            let mut frequency = MetricFamily::gauge(
                "node_cpu_frequency_hertz",
                "CPU frequency in hertz from /proc/cpuinfo.",
            );
            for cpu in &cpus {
                frequency.push(
                    &[
                        ("package", &cpu.physical_id),
                        ("core", &cpu.core_id),
                        ("cpu", &cpu.processor.to_string()),
                    ],
                    cpu.mhz * 1e6,
                );
            }
            out.push(frequency);
        }
        if let Some(first) = cpus.first() {
            let filtered = |values: &[String], filter: &Option<Regex>, name, help, label| {
                let filter = filter.as_ref()?;
                let mut family = MetricFamily::gauge(name, help);
                for value in values.iter().filter(|v| filter.is_match(v)) {
                    family.push(&[(label, value)], 1.0);
                }
                Some(family)
            };
            out.extend(filtered(
                &first.flags,
                &options.flags_include,
                "node_cpu_flag_info",
                "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                "flag",
            ));
            out.extend(filtered(
                &first.bugs,
                &options.bugs_include,
                "node_cpu_bug_info",
                "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                "bug",
            ));
        }
        Ok(())
    }

    fn update_stat(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.stat_path)?;
        let stat = parse_proc_stat(&text)
            .map_err(|reason| CollectorError::parse(&self.stat_path, reason))?;
        let fresh: Vec<(u32, Seconds)> = stat
            .cpus
            .iter()
            .map(|(cpu, ticks)| (*cpu, ticks_to_seconds(ticks, self.user_hz)))
            .collect();
        let mut kept = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        fold_readings(&mut kept, &fresh);
        let mut seconds = MetricFamily::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        let mut guest = MetricFamily::counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        );
        for (cpu, values) in kept.iter() {
            let cpu = cpu.to_string();
            for (mode, value) in MODES.iter().zip(values) {
                seconds.push(&[("cpu", &cpu), ("mode", mode)], *value);
            }
            if self.guest {
                // Guest time is also counted in user and nice; upstream exports it apart.
                guest.push(&[("cpu", &cpu), ("mode", "user")], values[8]);
                guest.push(&[("cpu", &cpu), ("mode", "nice")], values[9]);
            }
        }
        out.push(seconds);
        if self.guest {
            out.push(guest);
        }
        Ok(())
    }

    fn update_isolated(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = self.cpu_dir.join("isolated");
        let text = match read_string(&path) {
            Ok(text) => text,
            Err(err) if err.is_not_found() => return Ok(()),
            Err(err) => return Err(err),
        };
        let cpus = parse_cpu_list(&text).map_err(|reason| CollectorError::parse(&path, reason))?;
        let mut family = MetricFamily::gauge(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
        );
        for cpu in cpus {
            family.push(&[("cpu", &cpu.to_string())], 1.0);
        }
        out.push(family);
        Ok(())
    }

    fn update_thermal_throttle(&self, cpus: &[(String, PathBuf)], out: &mut Vec<MetricFamily>) {
        let mut packages: BTreeMap<u64, u64> = BTreeMap::new();
        let mut cores: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for (_, dir) in cpus {
            let topology = dir.join("topology");
            let (Ok(package), Ok(core)) = (
                read_u64(&topology.join("physical_package_id")),
                read_u64(&topology.join("core_id")),
            ) else {
                tracing::debug!(cpu = %dir.display(), "CPU is missing physical_package_id or core_id");
                continue;
            };
            let throttle = dir.join("thermal_throttle");
            // Core throttles first: some CPU and kernel combinations only have those. Each count
            // is read once per core and package; a sibling is tried when the first read fails.
            if let Entry::Vacant(slot) = cores.entry((package, core)) {
                match read_u64(&throttle.join("core_throttle_count")) {
                    Ok(count) => {
                        slot.insert(count);
                    }
                    Err(_) => {
                        tracing::debug!(cpu = %dir.display(), "CPU is missing core_throttle_count")
                    }
                }
            }
            if let Entry::Vacant(slot) = packages.entry(package) {
                match read_u64(&throttle.join("package_throttle_count")) {
                    Ok(count) => {
                        slot.insert(count);
                    }
                    Err(_) => {
                        tracing::debug!(cpu = %dir.display(), "CPU is missing package_throttle_count")
                    }
                }
            }
        }
        let mut package_family = MetricFamily::counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
        );
        for (package, count) in &packages {
            package_family.push(&[("package", &package.to_string())], *count as f64);
        }
        out.push(package_family);
        let mut core_family = MetricFamily::counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
        );
        for ((package, core), count) in &cores {
            core_family.push(
                &[
                    ("package", &package.to_string()),
                    ("core", &core.to_string()),
                ],
                *count as f64,
            );
        }
        out.push(core_family);
    }

    fn update_online(&self, cpus: &[(String, PathBuf)], out: &mut Vec<MetricFamily>) {
        // Upstream reports nothing when the first CPU has no `online` file (cpu0 usually cannot
        // be taken offline and has none).
        let Some((_, first)) = cpus.first() else {
            return;
        };
        if let Err(err) = read_trimmed(&first.join("online"))
            && err.is_not_found()
        {
            return;
        }
        let mut family = MetricFamily::gauge(
            "node_cpu_online",
            "CPUs that are online and being scheduled.",
        );
        for (number, dir) in cpus {
            let online = read_trimmed(&dir.join("online")).is_ok_and(|v| v == "1");
            family.push(&[("cpu", number)], if online { 1.0 } else { 0.0 });
        }
        out.push(family);
    }
}

impl Collector for Cpu {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        if let Some(options) = &self.info {
            self.update_info(options, out)?;
        }
        self.update_stat(out)?;
        let isolated = self.update_isolated(out);
        let cpus = match cpu_dirs(&self.cpu_dir) {
            Ok(cpus) => cpus,
            Err(err) if err.is_not_found() => Vec::new(),
            Err(err) => return Err(err),
        };
        self.update_thermal_throttle(&cpus, out);
        self.update_online(&cpus, out);
        isolated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use std::path::Path;

    const X86: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 142
model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz
stepping\t: 10
microcode\t: 0xb4
cpu MHz\t\t: 799.998
cache size\t: 8192 KB
physical id\t: 0
siblings\t: 8
core id\t\t: 0
flags\t\t: fpu vme aes avx avx2 constant_tsc
bugs\t\t: cpu_meltdown spectre_v1 spectre_v2 mds swapgs
power management:

processor\t: 1
vendor_id\t: GenuineIntel
cpu MHz\t\t: 800.037
physical id\t: 0
core id\t\t: 1
";

    #[test]
    fn reads_x86_cpuinfo() {
        let cpus = parse_cpuinfo(X86, CpuinfoLayout::X86).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[0].model_name,
            "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"
        );
        assert_eq!(cpus[0].microcode, "0xb4");
        assert_eq!(cpus[0].cache_size, "8192 KB");
        assert_eq!(cpus[0].mhz, 799.998);
        assert_eq!(cpus[0].flags.len(), 6);
        assert_eq!(cpus[0].bugs[4], "swapgs");
        assert_eq!(cpus[1].processor, 1);
        assert_eq!(cpus[1].core_id, "1");
        assert!(cpus[1].flags.is_empty());
    }

    #[test]
    fn reads_arm_cpuinfo() {
        let modern = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm crc32\n\
                      CPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n\
                      Features\t: fp asimd evtstrm crc32\n";
        let cpus = parse_cpuinfo(modern, CpuinfoLayout::Arm).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[1].processor, 1);
        assert_eq!(cpus[1].flags, ["fp", "asimd", "evtstrm", "crc32"]);
        let old =
            "Processor\t: ARMv7 Processor rev 5 (v7l)\nBogoMIPS\t: 38.40\nFeatures\t: swp half\n";
        let cpus = parse_cpuinfo(old, CpuinfoLayout::Arm).unwrap();
        assert_eq!(cpus.len(), 1);
        assert_eq!(cpus[0].model_name, "ARMv7 Processor rev 5 (v7l)");
        assert_eq!(cpus[0].flags, ["swp", "half"]);
    }

    #[test]
    fn bad_cpuinfo_is_an_error() {
        assert!(parse_cpuinfo("", CpuinfoLayout::X86).is_err());
        assert!(parse_cpuinfo("vendor_id: x\n", CpuinfoLayout::X86).is_err());
        assert!(parse_cpuinfo("processor\t: zero\n", CpuinfoLayout::X86).is_err());
        assert!(parse_cpuinfo("processor\t: 0\ncpu MHz\t: fast\n", CpuinfoLayout::X86).is_err());
        assert!(parse_cpuinfo("model name: x\n", CpuinfoLayout::Arm).is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1,3-5,9\n").unwrap(), [1, 3, 4, 5, 9]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list("1-x").is_err());
        assert!(parse_cpu_list("0-4000000000").is_err());
    }

    fn reading(cpu: u32, idle: f64, user: f64) -> (u32, Seconds) {
        let mut values = Seconds::default();
        values[IDLE] = idle;
        values[0] = user;
        (cpu, values)
    }

    #[test]
    fn counters_never_go_backwards_and_hotplug_resets() {
        let mut kept = HashMap::new();
        fold_readings(
            &mut kept,
            &[reading(0, 100.0, 50.0), reading(1, 100.0, 50.0)],
        );
        // A small dip keeps the old value.
        fold_readings(
            &mut kept,
            &[reading(0, 99.0, 49.0), reading(1, 101.0, 51.0)],
        );
        assert_eq!(kept[&0][IDLE], 100.0);
        assert_eq!(kept[&0][0], 50.0);
        assert_eq!(kept[&1][0], 51.0);
        // Idle dropping by three seconds or more: a hot-plugged CPU, its history is reset.
        fold_readings(&mut kept, &[reading(0, 10.0, 5.0), reading(1, 102.0, 52.0)]);
        assert_eq!(kept[&0][IDLE], 10.0);
        assert_eq!(kept[&0][0], 5.0);
        // CPU 1 goes offline: it leaves the output.
        fold_readings(&mut kept, &[reading(0, 11.0, 6.0)]);
        assert_eq!(kept.len(), 1);
    }

    fn collector(root: &Path, info: Option<InfoOptions>) -> Cpu {
        let paths = Paths {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            ..Paths::default()
        };
        Cpu {
            stat_path: paths.proc("stat"),
            cpuinfo_path: paths.proc("cpuinfo"),
            cpu_dir: paths.sys("devices/system/cpu"),
            guest: true,
            info,
            user_hz: 100.0,
            seconds: Mutex::new(HashMap::new()),
        }
    }

    use crate::collectors::testing::write;

    fn values(out: &[MetricFamily], name: &str) -> Vec<(Vec<(String, String)>, f64)> {
        out.iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.samples.iter().map(|s| (s.label_strings(), s.value)))
            .collect()
    }

    #[test]
    fn reports_a_sysfs_and_procfs_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("proc/stat"),
            "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 0 0 200 0 0 0 0 30 40\ncpu1 1 0 0 2 0 0 0 0 0 0\n",
        );
        write(&root.join("proc/cpuinfo"), X86);
        let cpu = root.join("sys/devices/system/cpu");
        write(&cpu.join("isolated"), "1\n");
        for (n, package, core, online) in [(0, 0, 0, None), (1, 0, 1, Some("0"))] {
            let d = cpu.join(format!("cpu{n}"));
            write(
                &d.join("topology/physical_package_id"),
                &format!("{package}\n"),
            );
            write(&d.join("topology/core_id"), &format!("{core}\n"));
            write(
                &d.join("thermal_throttle/core_throttle_count"),
                &format!("{}\n", n + 5),
            );
            write(&d.join("thermal_throttle/package_throttle_count"), "30\n");
            if let Some(online) = online {
                write(&d.join("online"), online);
            }
        }
        let options = InfoOptions {
            frequency: true,
            flags_include: Some(Regex::new("^(aes|avx.?)$").unwrap()),
            bugs_include: None,
            layout: CpuinfoLayout::X86,
        };
        let collector = collector(root, Some(options));
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();

        let seconds = values(&out, "node_cpu_seconds_total");
        assert_eq!(seconds.len(), 16);
        assert!(
            seconds
                .iter()
                .any(|(l, v)| l.contains(&("mode".into(), "user".into()))
                    && l.contains(&("cpu".into(), "0".into()))
                    && *v == 1.0)
        );
        assert_eq!(values(&out, "node_cpu_guest_seconds_total").len(), 4);
        assert_eq!(values(&out, "node_cpu_isolated").len(), 1);
        assert_eq!(values(&out, "node_cpu_package_throttles_total").len(), 1);
        assert_eq!(values(&out, "node_cpu_core_throttles_total").len(), 2);
        // cpu0 has no `online` file: like upstream, no node_cpu_online at all.
        assert!(values(&out, "node_cpu_online").is_empty());
        assert_eq!(values(&out, "node_cpu_info").len(), 2);
        assert_eq!(values(&out, "node_cpu_frequency_hertz")[1].1, 800.037e6);
        assert_eq!(values(&out, "node_cpu_flag_info").len(), 3);
        assert!(values(&out, "node_cpu_bug_info").is_empty());

        // With an `online` file on the first CPU, every CPU is reported.
        write(&cpu.join("cpu0/online"), "1\n");
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let online = values(&out, "node_cpu_online");
        assert_eq!(online.len(), 2);
        assert_eq!(online[1].1, 0.0);
    }

    #[test]
    fn a_missing_proc_stat_is_an_error_and_sysfs_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        let collector = collector(dir.path(), None);
        assert!(
            collector
                .update(&mut Vec::new())
                .unwrap_err()
                .is_not_found()
        );
        write(&dir.path().join("proc/stat"), "cpu0 1 2 3 4\n");
        collector.update(&mut Vec::new()).unwrap();
    }

    fn build(args: &[&str], paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
        crate::collectors::testing::build(declare, paths, args)
    }

    #[test]
    fn flags_build_the_collector_as_upstream() {
        let paths = Paths::default();
        assert!(build(&[], &paths).is_ok());
        let bad = &["--collector.cpu.info.flags-include=("];
        assert!(matches!(build(bad, &paths), Err(BuildError::Invalid(_))));
        let bad = &["--collector.cpu.info.bugs-include=[z-a]"];
        assert!(matches!(build(bad, &paths), Err(BuildError::Invalid(_))));
        // A filter turns the info metrics on, as upstream; live cpuinfo then parses.
        let filtered = &["--collector.cpu.info.flags-include=^fpu$"];
        let collector = build(filtered, &paths).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out.iter().any(|f| f.name == "node_cpu_info"));
        assert!(out.iter().any(|f| f.name == "node_cpu_seconds_total"));
    }

    proptest::proptest! {
        #[test]
        fn cpuinfo_garbage_never_panics(text in "((processor|Processor|BogoMIPS|Features|cpu MHz|model name)?[ \t]*:? ?[0-9a-z. ]{0,12}\n){0,8}") {
            let _ = parse_cpuinfo(&text, CpuinfoLayout::X86);
            let _ = parse_cpuinfo(&text, CpuinfoLayout::Arm);
        }

        #[test]
        fn truncated_cpuinfo_never_panics(cut in 0usize..X86.len()) {
            if X86.is_char_boundary(cut) {
                let _ = parse_cpuinfo(&X86[..cut], CpuinfoLayout::X86);
            }
        }

        #[test]
        fn cpu_list_garbage_never_panics(text in "[0-9,\\- a]{0,40}") {
            let _ = parse_cpu_list(&text);
        }
    }
}
