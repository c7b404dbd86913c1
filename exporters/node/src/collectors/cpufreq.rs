//! `cpufreq`: per-CPU frequencies and governors from
//! `<sysfs>/devices/system/cpu/cpu*/cpufreq/`: `node_cpu_frequency_{,avg_,min_,max_}hertz`,
//! `node_cpu_scaling_frequency_{,min_,max_}hertz` and `node_cpu_scaling_governor{cpu,governor}`.
//!
//! sysfs reports kHz; we export hertz. A file the CPU does not have (or that only root may read,
//! like `cpuinfo_cur_freq`) leaves its family out for that CPU. Offline CPUs are skipped.

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::cpulist::{cpu_dirs, parse_cpu_list};
use crate::paths::Paths;
use crate::read::{read_optional, read_trimmed};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Cpufreq {
        cpu_dir: paths.sys("devices/system/cpu"),
    }))
}

/// The kHz files and the families they feed, in upstream's order.
const FREQUENCY_FILES: [(&str, &str, &str); 7] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_avg_freq",
        "node_cpu_frequency_avg_hertz",
        "Average CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

struct Cpufreq {
    cpu_dir: PathBuf,
}

/// Reads a kHz file: `None` when absent or not readable by us, an error when it holds garbage.
fn read_khz(path: &Path) -> Result<Option<u64>, CollectorError> {
    match read_trimmed(path) {
        Ok(text) => text.parse().map(Some).map_err(|_| {
            CollectorError::parse(path, format!("{text:?} is not an unsigned integer"))
        }),
        Err(CollectorError::Io { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// Reads a one-line string file, trimmed; absent reads as empty.
fn read_text(path: &Path) -> Result<String, CollectorError> {
    Ok(read_optional(path)?
        .map(|text| text.trim().to_owned())
        .unwrap_or_default())
}

impl Collector for Cpufreq {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let cpus = cpu_dirs(&self.cpu_dir).map_err(CollectorError::not_found_as_no_data)?;
        if cpus.is_empty() {
            return Err(CollectorError::NoData);
        }
        let offline_path = self.cpu_dir.join("offline");
        let offline = match read_optional(&offline_path)? {
            Some(text) => parse_cpu_list(text.trim())
                .map_err(|reason| CollectorError::parse(&offline_path, reason))?,
            None => Vec::new(),
        };
        let mut families: Vec<MetricFamily> = FREQUENCY_FILES
            .iter()
            .map(|(_, name, help)| MetricFamily::gauge(*name, *help))
            .collect();
        let mut governors = MetricFamily::gauge(
            "node_cpu_scaling_governor",
            "Current enabled CPU frequency governor.",
        );
        for (number, dir) in &cpus {
            if number.parse::<u32>().is_ok_and(|n| offline.contains(&n)) {
                continue;
            }
            let cpufreq = dir.join("cpufreq");
            if !cpufreq.is_dir() {
                continue;
            }
            for ((file, _, _), family) in FREQUENCY_FILES.iter().zip(&mut families) {
                if let Some(khz) = read_khz(&cpufreq.join(file))? {
                    family.push(&[("cpu", number)], khz as f64 * 1000.0);
                }
            }
            let governor = read_text(&cpufreq.join("scaling_governor"))?;
            if !governor.is_empty() {
                let available = read_text(&cpufreq.join("scaling_available_governors"))?;
                for candidate in available.split(' ') {
                    let state = if candidate == governor { 1.0 } else { 0.0 };
                    governors.push(&[("cpu", number), ("governor", candidate)], state);
                }
            }
        }
        out.extend(families);
        out.push(governors);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::testing::write;

    fn series(out: &[MetricFamily], name: &str) -> Vec<(Vec<(String, String)>, f64)> {
        out.iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.samples.iter().map(|s| (s.label_strings(), s.value)))
            .collect()
    }

    #[test]
    fn reports_frequencies_and_governors_of_online_cpus() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        write(&cpu.join("offline"), "2\n");
        for n in 0..3 {
            let f = cpu.join(format!("cpu{n}/cpufreq"));
            write(&f.join("scaling_cur_freq"), "1699981\n");
            write(&f.join("scaling_min_freq"), "800000\n");
            write(&f.join("cpuinfo_avg_freq"), "1200000\n");
            write(&f.join("scaling_governor"), "powersave\n");
            write(
                &f.join("scaling_available_governors"),
                "performance powersave\n",
            );
        }
        // A CPU without cpufreq is skipped.
        std::fs::create_dir_all(cpu.join("cpu3")).unwrap();
        let collector = Cpufreq { cpu_dir: cpu };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let current = series(&out, "node_cpu_scaling_frequency_hertz");
        assert_eq!(current.len(), 2, "cpu2 is offline");
        assert_eq!(current[0].1, 1_699_981_000.0);
        assert_eq!(series(&out, "node_cpu_frequency_avg_hertz")[1].1, 1.2e9);
        assert!(series(&out, "node_cpu_frequency_hertz").is_empty());
        let governors = series(&out, "node_cpu_scaling_governor");
        assert_eq!(governors.len(), 4);
        assert_eq!(governors[1].1, 1.0);
        assert_eq!(governors[1].0[1].1, "powersave");
    }

    #[test]
    fn garbage_and_absence() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        let collector = Cpufreq {
            cpu_dir: cpu.clone(),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        write(&cpu.join("cpu0/cpufreq/scaling_cur_freq"), "fast\n");
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
        write(&cpu.join("cpu0/cpufreq/scaling_cur_freq"), "1000\n");
        write(&cpu.join("offline"), "x-y\n");
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }
}
