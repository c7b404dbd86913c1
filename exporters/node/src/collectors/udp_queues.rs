//! `udp_queues`: `node_udp_queues{ip,queue}`, the bytes queued in UDP sockets' receive and send
//! buffers, summed over `<procfs>/net/udp` (`ip="v4"`) and `<procfs>/net/udp6` (`ip="v6"`).
//! A missing file skips that family; both missing is "no data".

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::socket_table::scan_socket_table;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(UdpQueues {
        tables: [
            (paths.proc("net/udp"), "v4"),
            (paths.proc("net/udp6"), "v6"),
        ],
    }))
}

struct UdpQueues {
    tables: [(PathBuf, &'static str); 2],
}

impl Collector for UdpQueues {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut family = MetricFamily::gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        );
        let mut found = false;
        for (path, ip) in &self.tables {
            let (mut tx, mut rx) = (0u64, 0u64);
            if scan_socket_table(path, |socket| {
                tx = tx.wrapping_add(socket.tx_queue);
                rx = rx.wrapping_add(socket.rx_queue);
            })? {
                found = true;
                family.push(&[("queue", "tx"), ("ip", ip)], tx as f64);
                family.push(&[("queue", "rx"), ("ip", ip)], rx as f64);
            } else {
                tracing::debug!(file = %path.display(), "not collecting {ip} based metrics");
            }
        }
        out.push(family);
        if found {
            Ok(())
        } else {
            Err(CollectorError::NoData)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_queues_per_family() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        std::fs::write(
            dir.path().join("net/udp"),
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             \x20  0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0\n\
             \x20  1: 00000000:0017 00000000:0000 07 00000001:00000100 00:00000000 00000000     0        0 2741 2 ffff88003d3af3c1 0\n",
        )
        .unwrap();
        let paths = Paths {
            procfs: dir.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(&paths).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let samples = &out[0].samples;
        assert_eq!(samples.len(), 2, "no udp6 file, no v6 series");
        assert_eq!(samples[0].value, 0x16 as f64);
        assert_eq!(samples[1].value, 0x100 as f64);

        let empty = tempfile::tempdir().unwrap();
        let paths = Paths {
            procfs: empty.path().to_owned(),
            ..Paths::default()
        };
        let collector = build(&paths).unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }
}
