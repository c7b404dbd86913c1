//! `softnet`: per-CPU packet processing counters from `/proc/net/softnet_stat`:
//! `node_softnet_{processed,dropped,times_squeezed,cpu_collision,received_rps,flow_limit_count}_total`
//! and `node_softnet_backlog_len`.
//!
//! Hand-written: procfs-core has no softnet parser. One line per CPU of hexadecimal columns; the
//! column count grew with kernel versions (9 before 2.6.36, 10 with RPS, 11 with flow limits,
//! 13 since 5.10 with the backlog length and the CPU number). Older files have no CPU column, so
//! the line number is the CPU, as upstream does.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Softnet {
        path: paths.proc("net/softnet_stat"),
    }))
}

struct Softnet {
    path: PathBuf,
}

#[derive(Debug, Default, PartialEq)]
struct CpuSoftnet {
    cpu: u32,
    processed: u32,
    dropped: u32,
    time_squeezed: u32,
    cpu_collision: u32,
    received_rps: u32,
    flow_limit_count: u32,
    backlog_len: u32,
}

fn parse(text: &str) -> Result<Vec<CpuSoftnet>, String> {
    const MIN_COLUMNS: usize = 9;
    const KNOWN_COLUMNS: usize = 13;
    let mut cpus = Vec::new();
    let mut columns: Vec<u32> = Vec::with_capacity(16);
    for (index, line) in text.lines().enumerate() {
        columns.clear();
        let mut width = 0;
        for field in line.split_ascii_whitespace() {
            width += 1;
            // Columns after the 13 we know are counted, not read (future kernels).
            if width <= KNOWN_COLUMNS {
                let value = u32::from_str_radix(field, 16).map_err(|_| {
                    format!("line {}: {field:?} is not a 32-bit hex number", index + 1)
                })?;
                columns.push(value);
            }
        }
        if width < MIN_COLUMNS {
            return Err(format!(
                "line {}: detected {width} columns, but expected at least {MIN_COLUMNS}",
                index + 1,
            ));
        }
        let column = |i: usize| columns.get(i).copied().unwrap_or(0);
        let (backlog_len, cpu) = if width >= KNOWN_COLUMNS {
            (column(11), column(12))
        } else {
            (0, u32::try_from(index).unwrap_or(u32::MAX))
        };
        cpus.push(CpuSoftnet {
            cpu,
            processed: column(0),
            dropped: column(1),
            time_squeezed: column(2),
            cpu_collision: column(8),
            received_rps: column(9),
            flow_limit_count: column(10),
            backlog_len,
        });
    }
    Ok(cpus)
}

impl Collector for Softnet {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let cpus = parse(&text).map_err(|reason| {
            CollectorError::parse(
                &self.path,
                format!("could not get softnet statistics: {reason}"),
            )
        })?;
        let counter = MetricFamily::counter;
        let mut processed = counter(
            "node_softnet_processed_total",
            "Number of processed packets",
        );
        let mut dropped = counter("node_softnet_dropped_total", "Number of dropped packets");
        let mut squeezed = counter(
            "node_softnet_times_squeezed_total",
            "Number of times processing packets ran out of quota",
        );
        let mut collision = counter(
            "node_softnet_cpu_collision_total",
            "Number of collision occur while obtaining device lock while transmitting",
        );
        let mut rps = counter(
            "node_softnet_received_rps_total",
            "Number of times cpu woken up received_rps",
        );
        let mut flow_limit = counter(
            "node_softnet_flow_limit_count_total",
            "Number of times flow limit has been reached",
        );
        let mut backlog = MetricFamily::gauge("node_softnet_backlog_len", "Softnet backlog status");
        for stats in &cpus {
            let cpu = stats.cpu.to_string();
            let labels = [("cpu", cpu.as_str())];
            processed.push(&labels, f64::from(stats.processed));
            dropped.push(&labels, f64::from(stats.dropped));
            squeezed.push(&labels, f64::from(stats.time_squeezed));
            collision.push(&labels, f64::from(stats.cpu_collision));
            rps.push(&labels, f64::from(stats.received_rps));
            flow_limit.push(&labels, f64::from(stats.flow_limit_count));
            backlog.push(&labels, f64::from(stats.backlog_len));
        }
        out.extend([
            processed, dropped, squeezed, collision, rps, flow_limit, backlog,
        ]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_old_and_new_kernel_formats() {
        let old = "00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                   000dfb82 00000029 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
        let cpus = parse(old).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[1].cpu, 1);
        assert_eq!(cpus[1].processed, 0xdfb82);
        assert_eq!(cpus[1].dropped, 41);
        assert_eq!(cpus[1].time_squeezed, 10);

        // Since 5.10: backlog length and the CPU number (CPU 1 offline here).
        let new = "0000aa86 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000006 00000000\n\
                   0000dfdd 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002\n";
        let cpus = parse(new).unwrap();
        assert_eq!(
            cpus[0],
            CpuSoftnet {
                cpu: 0,
                processed: 0xaa86,
                dropped: 0,
                time_squeezed: 0,
                cpu_collision: 3,
                received_rps: 4,
                flow_limit_count: 5,
                backlog_len: 6,
            }
        );
        assert_eq!(cpus[1].cpu, 2);
    }

    #[test]
    fn short_or_garbage_lines_are_errors() {
        assert!(parse("00000001 00000002\n").is_err());
        assert!(parse("0000000g 0 0 0 0 0 0 0 0\n").is_err());
        assert!(parse("100000000 0 0 0 0 0 0 0 0\n").is_err());
        assert_eq!(parse("").unwrap(), Vec::new());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "[0-9a-fx \n]{0,200}") {
            let _ = parse(&text);
        }
    }
}
