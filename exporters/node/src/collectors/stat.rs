//! `stat`: `node_boot_time_seconds`, `node_context_switches_total`, `node_forks_total`,
//! `node_intr_total`, `node_procs_running`, `node_procs_blocked` and, with
//! `--collector.stat.softirq`, `node_softirqs_total{vector}`, from `/proc/stat`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::procstat::{SOFTIRQ_VECTORS, parse_proc_stat};
use crate::read::read_string;

pub fn declare(set: &mut FlagSet) -> Builder {
    let softirq = set.bool(
        "collector.stat.softirq",
        false,
        "Export softirq calls per vector",
    );
    Box::new(move |context| {
        Ok(Box::new(Stat {
            path: context.paths.proc("stat"),
            softirq: context.flags.get(softirq),
        }))
    })
}

struct Stat {
    path: PathBuf,
    softirq: bool,
}

impl Collector for Stat {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let stat =
            parse_proc_stat(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        let count = |v: u64| v as f64;
        out.push(
            MetricFamily::counter("node_intr_total", "Total number of interrupts serviced.")
                .with(&[], count(stat.intr_total)),
        );
        out.push(
            MetricFamily::counter(
                "node_context_switches_total",
                "Total number of context switches.",
            )
            .with(&[], count(stat.context_switches)),
        );
        out.push(
            MetricFamily::counter("node_forks_total", "Total number of forks.")
                .with(&[], count(stat.forks)),
        );
        out.push(
            MetricFamily::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
                .with(&[], count(stat.boot_time)),
        );
        out.push(
            MetricFamily::gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
            )
            .with(&[], count(stat.procs_running)),
        );
        out.push(
            MetricFamily::gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
            )
            .with(&[], count(stat.procs_blocked)),
        );
        if self.softirq {
            // Upstream reports zeros when the kernel has no softirq line.
            let vectors = stat.softirqs.unwrap_or_default();
            let mut family =
                MetricFamily::counter("node_softirqs_total", "Number of softirq calls.");
            for (name, value) in SOFTIRQ_VECTORS.iter().zip(vectors) {
                family.push(&[("vector", name)], count(value));
            }
            out.push(family);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use crate::procstat::ProcStat;

    const KERNEL: &str = "cpu  301854 612 111922 8979004 3552 2 3944 0 44 36
cpu0 44490 19 21045 1087069 220 1 3410 0 2 1
cpu2 46504 36 15916 1112321 441 0 326 0 4 3
intr 8885917 17 0 0 0 0 0 0 0 1 79281 0
ctxt 38014093
btime 1418183276
processes 26442
procs_running 2
procs_blocked 0
softirq 5057579 250191 1481983 1647 211099 186066 0 1783454 622196 12499 508444
";

    #[test]
    fn reads_the_kernel_format_keeping_cpu_numbers() {
        let stat = parse_proc_stat(KERNEL).unwrap();
        assert_eq!(stat.cpus.len(), 2);
        assert_eq!(stat.cpus[0].0, 0);
        // cpu1 is offline: cpu2 keeps its own number.
        assert_eq!(stat.cpus[1].0, 2);
        assert_eq!(stat.cpus[1].1.user, 46504);
        assert_eq!(stat.cpus[1].1.guest_nice, 3);
        assert_eq!(stat.intr_total, 8885917);
        assert_eq!(stat.context_switches, 38014093);
        assert_eq!(stat.boot_time, 1418183276);
        assert_eq!(stat.forks, 26442);
        assert_eq!(stat.procs_running, 2);
        assert_eq!(stat.procs_blocked, 0);
        assert_eq!(stat.softirqs.unwrap()[0], 250191);
        assert_eq!(stat.softirqs.unwrap()[9], 508444);
    }

    #[test]
    fn old_kernels_have_fewer_cpu_fields() {
        let stat = parse_proc_stat("cpu0 1 2 3 4\n").unwrap();
        assert_eq!(stat.cpus[0].1.idle, 4);
        assert_eq!(stat.cpus[0].1.iowait, 0);
    }

    #[test]
    fn garbage_values_are_errors() {
        assert!(parse_proc_stat("ctxt many\n").is_err());
        assert!(parse_proc_stat("cpux 1 2 3\n").is_err());
        assert!(parse_proc_stat("cpu0 1 x 3\n").is_err());
        assert!(parse_proc_stat("softirq 1 2 3\n").is_err());
        // Unknown and short lines are ignored.
        assert_eq!(
            parse_proc_stat("page 1 2\nswap\n\n").unwrap(),
            ProcStat::default()
        );
    }

    #[test]
    fn the_collector_reports_the_fixture() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stat"), KERNEL).unwrap();
        let paths = Paths {
            procfs: dir.path().to_owned(),
            ..Paths::default()
        };
        let collector = Stat {
            path: paths.proc("stat"),
            softirq: true,
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let softirqs = out
            .iter()
            .find(|f| f.name == "node_softirqs_total")
            .unwrap();
        assert_eq!(softirqs.samples.len(), 10);
        let boot = out
            .iter()
            .find(|f| f.name == "node_boot_time_seconds")
            .unwrap();
        assert_eq!(boot.samples[0].value, 1418183276.0);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(cpu[0-9]? |intr |softirq |ctxt |[a-z]{0,6} )?[0-9 a-z\n]{0,120}") {
            let _ = parse_proc_stat(&text);
        }

        #[test]
        fn truncated_input_never_panics(cut in 0usize..KERNEL.len()) {
            let _ = parse_proc_stat(&KERNEL[..cut]);
        }
    }
}
