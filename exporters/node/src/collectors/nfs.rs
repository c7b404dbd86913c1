//! `nfs`: the NFS client's RPC statistics from `<procfs>/net/rpc/nfs`: packets and connections,
//! RPC calls, retransmissions and authentication refreshes, and the calls of every NFSv2, v3 and
//! v4 procedure (`node_nfs_requests_total{proto,method}`).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_optional;
use crate::rpc_stats::{self, V2_PROCEDURES, V3_PROCEDURES, V4_CLIENT_OPERATIONS};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Nfs {
            path: context.paths.proc("net/rpc/nfs"),
        }))
    })
}

struct Nfs {
    path: PathBuf,
}

impl Collector for Nfs {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let Some(text) = read_optional(&self.path)? else {
            tracing::debug!(file = %self.path.display(), "Not collecting NFS metrics, file does not exist");
            return Err(CollectorError::NoData);
        };
        let stats = rpc_stats::parse_client(&text).map_err(|reason| {
            CollectorError::parse(
                &self.path,
                format!("failed to retrieve nfs stats: {reason}"),
            )
        })?;
        out.extend(families(&stats));
        Ok(())
    }
}

fn families(stats: &rpc_stats::ClientStats) -> Vec<MetricFamily> {
    let network = &stats.network;
    let [rpcs, retransmissions, refreshes] = stats.rpc;
    let mut requests = MetricFamily::counter(
        "node_nfs_requests_total",
        "Number of NFS procedures invoked.",
    );
    let versions: [(&str, &[&str], &[u64]); 3] = [
        ("2", &V2_PROCEDURES, &stats.v2),
        ("3", &V3_PROCEDURES, &stats.v3),
        ("4", &V4_CLIENT_OPERATIONS, &stats.v4),
    ];
    for (proto, names, values) in versions {
        for (method, value) in names.iter().zip(values) {
            requests.push(&[("proto", proto), ("method", method)], *value as f64);
        }
    }
    vec![
        MetricFamily::counter(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        )
        .with(&[("protocol", "udp")], network.udp_count as f64)
        .with(&[("protocol", "tcp")], network.tcp_count as f64),
        MetricFamily::counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
        )
        .with(&[], network.tcp_connect as f64),
        MetricFamily::counter("node_nfs_rpcs_total", "Total number of RPCs performed.")
            .with(&[], rpcs as f64),
        MetricFamily::counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
        )
        .with(&[], retransmissions as f64),
        MetricFamily::counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
        )
        .with(&[], refreshes as f64),
        requests,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_no_data_and_garbage_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Nfs {
            path: dir.path().join("nfs"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::write(&collector.path, "net 1 2 3 4\nrpc 5 6 7\n").unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let requests = out
            .iter()
            .find(|f| f.name == "node_nfs_requests_total")
            .unwrap();
        assert_eq!(requests.samples.len(), 18 + 22 + 59);
        std::fs::write(&collector.path, "net 1 2 x 4\n").unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }
}
