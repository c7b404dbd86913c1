//! `schedstat`: `node_schedstat_{running_seconds_total,waiting_seconds_total,timeslices_total}`
//! per CPU from `/proc/schedstat`.
//!
//! Hand-written: procfs-core only parses the per-process `/proc/<pid>/schedstat`. Only `cpuN`
//! lines with at least nine numbers count (fields 7, 8 and 9 are running time in ns, waiting time
//! in ns and timeslices); other lines (`version`, `timestamp`, `domainN`) are skipped, and so is a
//! `cpuN` line whose values do not parse, as upstream.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Schedstat {
        path: paths.proc("schedstat"),
    }))
}

struct Schedstat {
    path: PathBuf,
}

#[derive(Debug, PartialEq)]
struct CpuSchedstat<'a> {
    cpu: &'a str,
    running_ns: u64,
    waiting_ns: u64,
    timeslices: u64,
}

fn parse(text: &str) -> Vec<CpuSchedstat<'_>> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let cpu = fields.next()?.strip_prefix("cpu")?;
            if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut values = [0u64; 9];
            for slot in &mut values {
                *slot = fields.next()?.parse().ok()?;
            }
            Some(CpuSchedstat {
                cpu,
                running_ns: values[6],
                waiting_ns: values[7],
                timeslices: values[8],
            })
        })
        .collect()
}

impl Collector for Schedstat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path).map_err(|err| {
            if err.is_not_found() {
                tracing::debug!("schedstat file does not exist");
            }
            err.not_found_as_no_data()
        })?;
        let mut running = MetricFamily::counter(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
        );
        let mut waiting = MetricFamily::counter(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
        );
        let mut timeslices = MetricFamily::counter(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
        );
        for cpu in parse(&text) {
            let labels = [("cpu", cpu.cpu)];
            running.push(&labels, cpu.running_ns as f64 / 1e9);
            waiting.push(&labels, cpu.waiting_ns as f64 / 1e9);
            timeslices.push(&labels, cpu.timeslices as f64);
        }
        out.extend([running, waiting, timeslices]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "version 15
timestamp 15819019232
cpu0 498494191 0 3533438552 2553969831 3853684107 2465731542 2045936778163039 343796328169361 4767485306
domain0 00000000,00000003 212499247 210112015 1861015 1860405436 536440 369895 32599 210079416
cpu1 518377256 0 4155211005 2778589869 10466382 2867629021 1904686152592476 364107263788241 5145567945
";

    #[test]
    fn reads_the_kernel_format() {
        let cpus = parse(KERNEL);
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[0],
            CpuSchedstat {
                cpu: "0",
                running_ns: 2045936778163039,
                waiting_ns: 343796328169361,
                timeslices: 4767485306,
            }
        );
        assert_eq!(cpus[1].cpu, "1");
    }

    #[test]
    fn short_and_garbage_lines_are_skipped() {
        assert!(parse("cpu0 1 2 3\ncpux 1 2 3 4 5 6 7 8 9\ncpu1 1 2 3 4 5 6 7 8 x\n").is_empty());
    }

    #[test]
    fn a_kernel_without_schedstat_has_no_data() {
        let collector = Schedstat {
            path: "/nonexistent/schedstat".into(),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(cpu[0-9]? )?[0-9 a-z\n]{0,120}") {
            let _ = parse(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..KERNEL.len()) {
            let _ = parse(&KERNEL[..cut]);
        }
    }
}
