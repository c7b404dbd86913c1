//! `nfsd`: the NFS server's RPC statistics from `<procfs>/net/rpc/nfsd`: reply cache, file
//! handles, disk bytes, threads, read-ahead cache, packets, RPC errors, and the calls of every
//! NFSv2 and v3 procedure and v4 operation (`node_nfsd_requests_total{proto,method}`).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_optional;
use crate::rpc_stats::{self, V2_PROCEDURES, V3_PROCEDURES, V4_SERVER_OPERATIONS};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Nfsd {
            path: context.paths.proc("net/rpc/nfsd"),
        }))
    })
}

struct Nfsd {
    path: PathBuf,
}

/// Procedures and operations upstream does not export: the NULL procedures, the reserved v4
/// operation numbers and the public/root file handle operations.
const NOT_EXPORTED: &[&str] = &[
    "Null",
    "Op0Unused",
    "Op1Unused",
    "Op2Future",
    "PutPubFH",
    "PutRootFH",
];

impl Collector for Nfsd {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let Some(text) = read_optional(&self.path)? else {
            tracing::debug!(file = %self.path.display(), "Not collecting NFSd metrics, file does not exist");
            return Err(CollectorError::NoData);
        };
        let stats = rpc_stats::parse_server(&text).map_err(|reason| {
            CollectorError::parse(
                &self.path,
                format!("failed to retrieve nfsd stats: {reason}"),
            )
        })?;
        out.extend(families(&stats));
        Ok(())
    }
}

fn counter(name: &'static str, help: &'static str, value: u64) -> MetricFamily {
    MetricFamily::counter(name, help).with(&[], value as f64)
}

fn families(stats: &rpc_stats::ServerStats) -> Vec<MetricFamily> {
    let [hits, misses, nocache] = stats.reply_cache;
    let [read, written] = stats.io;
    let [rpcs, _bad, bad_fmt, bad_auth, bad_client] = stats.rpc;
    let network = &stats.network;
    let mut requests = MetricFamily::counter(
        "node_nfsd_requests_total",
        "Total number NFSd Requests by method and protocol.",
    );
    let versions: [(&str, &[&str], &[u64]); 3] = [
        ("2", &V2_PROCEDURES, &stats.v2),
        ("3", &V3_PROCEDURES, &stats.v3),
        ("4", &V4_SERVER_OPERATIONS, &stats.v4_ops),
    ];
    for (proto, names, values) in versions {
        for (method, value) in names.iter().zip(values) {
            if !NOT_EXPORTED.contains(method) {
                requests.push(&[("proto", proto), ("method", method)], *value as f64);
            }
        }
    }
    requests.push(
        &[("proto", "4"), ("method", "WdelegGetattr")],
        stats.wdeleg_getattr as f64,
    );
    vec![
        counter(
            "node_nfsd_reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            hits,
        ),
        counter(
            "node_nfsd_reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            misses,
        ),
        counter(
            "node_nfsd_reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            nocache,
        ),
        counter(
            "node_nfsd_file_handles_stale_total",
            "Total number of NFSd stale file handles",
            stats.file_handles_stale,
        ),
        counter(
            "node_nfsd_disk_bytes_read_total",
            "Total NFSd bytes read.",
            read,
        ),
        counter(
            "node_nfsd_disk_bytes_written_total",
            "Total NFSd bytes written.",
            written,
        ),
        MetricFamily::gauge(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
        )
        .with(&[], stats.threads as f64),
        MetricFamily::gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
        )
        .with(&[], stats.read_ahead_size as f64),
        counter(
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            stats.read_ahead_not_found,
        ),
        MetricFamily::counter(
            "node_nfsd_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
        )
        .with(&[("proto", "udp")], network.udp_count as f64)
        .with(&[("proto", "tcp")], network.tcp_count as f64),
        counter(
            "node_nfsd_connections_total",
            "Total number of NFSd TCP connections.",
            network.tcp_connect,
        ),
        MetricFamily::counter(
            "node_nfsd_rpc_errors_total",
            "Total number of NFSd RPC errors by error type.",
        )
        .with(&[("error", "fmt")], bad_fmt as f64)
        .with(&[("error", "auth")], bad_auth as f64)
        .with(&[("error", "cInt")], bad_client as f64),
        counter(
            "node_nfsd_server_rpcs_total",
            "Total number of NFSd RPCs.",
            rpcs,
        ),
        requests,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_no_data_and_garbage_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Nfsd {
            path: dir.path().join("nfsd"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::write(&collector.path, "rc 1 2 3\nwdeleg_getattr 15\n").unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let requests = out
            .iter()
            .find(|f| f.name == "node_nfsd_requests_total")
            .unwrap();
        // 17 v2 + 21 v3 + 35 v4 operations + WdelegGetattr.
        assert_eq!(requests.samples.len(), 17 + 21 + 35 + 1);
        std::fs::write(&collector.path, "rc 1 2\n").unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }
}
