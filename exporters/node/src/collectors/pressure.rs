//! `pressure`: pressure stall information from `/proc/pressure/{cpu,io,memory,irq}` (kernel
//! 4.20+, irq 6.1+): `node_pressure_cpu_waiting_seconds_total` (cpu has only "some"),
//! `node_pressure_{io,memory}_{waiting,stalled}_seconds_total` ("some" and "full") and
//! `node_pressure_irq_stalled_seconds_total` (irq has only "full"). Values are the `total=`
//! microseconds as seconds.
//!
//! Records are parsed with procfs-core's `parse_pressure_record`, one line at a time, because
//! the cpu file of older kernels and the irq file do not have both lines that procfs-core's
//! `CpuPressure`/`IoPressure` types require.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};
use procfs_core::parse_pressure_record;

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Pressure {
        dir: paths.proc("pressure"),
    }))
}

struct Pressure {
    dir: PathBuf,
}

/// The `total=` values of the "some" and "full" lines, in microseconds.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    some: Option<u64>,
    full: Option<u64>,
}

fn parse(text: &str) -> Result<Totals, String> {
    let mut totals = Totals::default();
    for line in text.lines() {
        // parse_pressure_record slices after the 5-byte prefix: only hand it lines that have it.
        let slot = if line.starts_with("some ") {
            &mut totals.some
        } else if line.starts_with("full ") {
            &mut totals.full
        } else {
            continue;
        };
        let record = parse_pressure_record(line).map_err(|_| format!("malformed line {line:?}"))?;
        *slot = Some(record.total);
    }
    Ok(totals)
}

#[derive(Clone, Copy)]
enum Resource {
    Cpu,
    Io,
    Memory,
    Irq,
}

impl Resource {
    const ALL: [Resource; 4] = [Resource::Cpu, Resource::Io, Resource::Memory, Resource::Irq];

    fn file(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Io => "io",
            Resource::Memory => "memory",
            Resource::Irq => "irq",
        }
    }
}

fn seconds(microseconds: u64) -> f64 {
    microseconds as f64 / 1000.0 / 1000.0
}

impl Collector for Pressure {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut found = 0;
        for resource in Resource::ALL {
            let path = self.dir.join(resource.file());
            let text = match read_string(&path) {
                Ok(text) => text,
                Err(err) if err.is_not_found() => {
                    tracing::debug!(
                        resource = resource.file(),
                        "pressure information is unavailable, you need a Linux kernel >= 4.20 (6.1 for irq) and/or CONFIG_PSI enabled for your kernel"
                    );
                    continue;
                }
                Err(CollectorError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::EOPNOTSUPP) =>
                {
                    tracing::debug!(
                        "pressure information is disabled, add psi=1 kernel command line to enable it"
                    );
                    return Err(CollectorError::NoData);
                }
                Err(err) => return Err(err),
            };
            let totals = parse(&text).map_err(|reason| {
                CollectorError::parse(
                    &path,
                    format!("failed to retrieve pressure stats: {reason}"),
                )
            })?;
            // As upstream: a file without the lines its resource must have means no data.
            let some = match (resource, totals.some) {
                (Resource::Irq, _) => 0,
                (_, Some(total)) => total,
                (_, None) => {
                    tracing::debug!("pressure information returned no 'some' data");
                    return Err(CollectorError::NoData);
                }
            };
            let full = match (resource, totals.full) {
                (Resource::Cpu, _) => 0,
                (_, Some(total)) => total,
                (_, None) => {
                    tracing::debug!("pressure information returned no 'full' data");
                    return Err(CollectorError::NoData);
                }
            };
            let counter = MetricFamily::counter;
            match resource {
                Resource::Cpu => out.push(
                    counter(
                        "node_pressure_cpu_waiting_seconds_total",
                        "Total time in seconds that processes have waited for CPU time",
                    )
                    .with(&[], seconds(some)),
                ),
                Resource::Io => {
                    out.push(
                        counter(
                            "node_pressure_io_waiting_seconds_total",
                            "Total time in seconds that processes have waited due to IO congestion",
                        )
                        .with(&[], seconds(some)),
                    );
                    out.push(
                        counter(
                            "node_pressure_io_stalled_seconds_total",
                            "Total time in seconds no process could make progress due to IO congestion",
                        )
                        .with(&[], seconds(full)),
                    );
                }
                Resource::Memory => {
                    out.push(
                        counter(
                            "node_pressure_memory_waiting_seconds_total",
                            "Total time in seconds that processes have waited for memory",
                        )
                        .with(&[], seconds(some)),
                    );
                    out.push(
                        counter(
                            "node_pressure_memory_stalled_seconds_total",
                            "Total time in seconds no process could make progress due to memory congestion",
                        )
                        .with(&[], seconds(full)),
                    );
                }
                Resource::Irq => out.push(
                    counter(
                        "node_pressure_irq_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to IRQ congestion",
                    )
                    .with(&[], seconds(full)),
                ),
            }
            found += 1;
        }
        if found == 0 {
            tracing::debug!(
                "pressure information is unavailable, you need a Linux kernel >= 4.20 and/or CONFIG_PSI enabled for your kernel"
            );
            return Err(CollectorError::NoData);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO: &str = "some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802\n\
                      full avg10=0.18 avg60=0.34 avg300=0.10 total=159229614\n";

    #[test]
    fn reads_the_kernel_format() {
        assert_eq!(
            parse(IO).unwrap(),
            Totals {
                some: Some(159886802),
                full: Some(159229614)
            }
        );
        let irq = parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=8494").unwrap();
        assert_eq!(irq.some, None);
        assert_eq!(irq.full, Some(8494));
        assert!(parse("some avg10=x total=1\n").is_err());
        assert_eq!(parse("some\nfull").unwrap(), Totals::default());
    }

    fn write(dir: &std::path::Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn reports_present_resources_and_no_data_without_psi() {
        let dir = tempfile::tempdir().unwrap();
        let pressure = dir.path().join("pressure");
        let collector = Pressure {
            dir: pressure.clone(),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        write(&pressure, "io", IO);
        write(
            &pressure,
            "cpu",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n",
        );
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_pressure_cpu_waiting_seconds_total",
                "node_pressure_io_waiting_seconds_total",
                "node_pressure_io_stalled_seconds_total"
            ]
        );
        // Divided as upstream divides (µs / 1000 / 1000): the golden file has this exact value.
        assert_eq!(out[0].samples[0].value, 14.036781000000001);
        // A memory file without its "full" line: no data, as upstream.
        write(
            &pressure,
            "memory",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    #[test]
    fn live_pressure_files_parse() {
        for name in ["cpu", "io", "memory", "irq"] {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/pressure/{name}")) {
                let totals = parse(&text).unwrap();
                assert!(
                    totals.some.is_some() || totals.full.is_some(),
                    "{name}: {text}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "((some|full)[ a-z0-9=.]{0,40}\n?){0,3}") {
            let _ = parse(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..IO.len()) {
            let _ = parse(&IO[..cut]);
        }
    }
}
