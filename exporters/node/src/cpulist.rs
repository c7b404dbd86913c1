//! The CPUs of `<sysfs>/devices/system/cpu` and the kernel's CPU list format, read by the `cpu`
//! and `cpufreq` collectors.

use std::path::{Path, PathBuf};

use crate::collector::CollectorError;
use crate::read::dir_names;

/// The `cpu[0-9]*` directories of `<sysfs>/devices/system/cpu`, sorted by name as Go's glob
/// sorts them, with the CPU number as upstream labels it (the name without `cpu`).
pub(crate) fn cpu_dirs(cpu_dir: &Path) -> Result<Vec<(String, PathBuf)>, CollectorError> {
    Ok(dir_names(cpu_dir)?
        .into_iter()
        .filter_map(|name| {
            let number = name.strip_prefix("cpu")?;
            number.starts_with(|c: char| c.is_ascii_digit()).then(|| {
                let path = cpu_dir.join(&name);
                (number.to_owned(), path)
            })
        })
        .collect())
}

/// Parses a kernel CPU list (`1,3-5,9`), as in `isolated`, `offline` and `online`.
pub(crate) fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut cpus = Vec::new();
    for item in text.trim_end_matches('\n').split(',') {
        if item.is_empty() {
            continue;
        }
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("invalid cpu number {s:?} in {item:?}"))
        };
        match item.split_once('-') {
            Some((start, end)) => {
                let (start, end) = (number(start)?, number(end)?);
                // Kernels number CPUs below 2^16 (upstream stores them as uint16).
                if end.saturating_sub(start) > u32::from(u16::MAX) {
                    return Err(format!("cpu range {item:?} is too large"));
                }
                cpus.extend(start..=end);
            }
            None => cpus.push(number(item)?),
        }
    }
    Ok(cpus)
}
