//! `time`: `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the clock
//! sources of `<sysfs>/devices/system/clocksource/clocksource*`:
//! `node_time_clocksource_{available,current}_info{device,clocksource}`.
//!
//! The zone is the process's local time zone (`TZ`, else `/etc/localtime`), as Go's
//! `time.Local`, read through the C library's `localtime_r`: its abbreviation (`UTC`, `CEST`)
//! labels the offset, as upstream.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::{dir_names, read_string, read_trimmed};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Time {
        clocksource_dir: paths.sys("devices/system/clocksource"),
    }))
}

struct Time {
    clocksource_dir: PathBuf,
}

/// The local zone's abbreviation and UTC offset in seconds at `unix_seconds`. glibc and musl
/// load the zone rules (TZ, /etc/localtime) on the first call.
#[allow(unsafe_code)]
// c_long is i32 on 32-bit targets: the widening is only a no-op on 64-bit ones.
#[allow(clippy::useless_conversion)]
fn local_zone(unix_seconds: i64) -> Option<(String, i64)> {
    let time = libc::time_t::try_from(unix_seconds).ok()?;
    let mut tm = MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: both pointers are valid for the call; localtime_r is the reentrant variant and
    // writes only into `tm`.
    let result = unsafe { libc::localtime_r(&time, tm.as_mut_ptr()) };
    if result.is_null() {
        return None;
    }
    // SAFETY: localtime_r succeeded, so it initialised `tm` (and it was zeroed before anyway).
    let tm = unsafe { tm.assume_init() };
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated abbreviation in the C library's zone
        // tables, which live as long as the process (TZ is never changed).
        unsafe { CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((zone, i64::from(tm.tm_gmtoff)))
}

/// One clock source device: its available sources and the current one.
fn read_clocksource(dir: &std::path::Path) -> Result<(Vec<String>, String), CollectorError> {
    let available = read_string(&dir.join("available_clocksource"))?
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    let current = read_trimmed(&dir.join("current_clocksource"))?;
    Ok((available, current))
}

impl Collector for Time {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|err| CollectorError::Other(format!("system clock before 1970: {err}")))?;
        out.push(
            MetricFamily::gauge(
                "node_time_seconds",
                "System time in seconds since epoch (1970).",
            )
            .with(&[], now.as_nanos() as f64 / 1e9),
        );
        match local_zone(i64::try_from(now.as_secs()).unwrap_or(i64::MAX)) {
            Some((zone, offset)) => out.push(
                MetricFamily::gauge(
                    "node_time_zone_offset_seconds",
                    "System time zone offset in seconds.",
                )
                .with(&[("time_zone", &zone)], offset as f64),
            ),
            None => tracing::debug!("could not determine the local time zone"),
        }

        let names = match dir_names(&self.clocksource_dir) {
            Ok(names) => names,
            Err(err) if err.is_not_found() => return Ok(()),
            Err(err) => return Err(err),
        };
        let mut available = MetricFamily::gauge(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
        );
        let mut current = MetricFamily::gauge(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
        );
        // Upstream labels devices by their position in the sorted listing.
        let devices = names.iter().filter(|name| {
            name.strip_prefix("clocksource")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        });
        for (index, name) in devices.enumerate() {
            let (sources, now_used) = read_clocksource(&self.clocksource_dir.join(name))?;
            let device = index.to_string();
            for source in &sources {
                available.push(&[("device", &device), ("clocksource", source)], 1.0);
            }
            current.push(&[("device", &device), ("clocksource", &now_used)], 1.0);
        }
        out.push(available);
        out.push(current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_time_zone_and_clock_sources() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("clocksource0");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("available_clocksource"), "tsc hpet acpi_pm\n").unwrap();
        std::fs::write(source.join("current_clocksource"), "tsc\n").unwrap();
        let collector = Time {
            clocksource_dir: dir.path().to_owned(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let find = |name: &str| out.iter().find(|f| f.name == name).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((find("node_time_seconds").samples[0].value - now).abs() < 60.0);
        assert_eq!(
            find("node_time_clocksource_available_info").samples.len(),
            3
        );
        let current = &find("node_time_clocksource_current_info").samples[0];
        assert_eq!(
            current.label_strings()[1],
            ("clocksource".to_owned(), "tsc".to_owned())
        );
        let zone = &find("node_time_zone_offset_seconds").samples[0];
        assert!(!zone.labels[0].1.is_empty());
        assert!(zone.value.abs() <= 14.0 * 3600.0);
    }

    #[test]
    fn the_zone_matches_the_c_library_date_command() {
        // `date +%Z/%z` uses the same TZ / /etc/localtime rules as Go's time.Local.
        let output = std::process::Command::new("date")
            .arg("+%Z %z")
            .output()
            .expect("date(1) runs");
        let text = String::from_utf8(output.stdout).unwrap();
        let (abbreviation, offset) = text.trim().split_once(' ').unwrap();
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let hours: i64 = offset[1..3].parse().unwrap();
        let minutes: i64 = offset[3..5].parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (zone, seconds) = local_zone(now as i64).unwrap();
        assert_eq!(zone, abbreviation);
        assert_eq!(seconds, sign * (hours * 3600 + minutes * 60));
    }

    #[test]
    fn a_missing_clock_source_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clocksource0")).unwrap();
        let collector = Time {
            clocksource_dir: dir.path().to_owned(),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
    }
}
