//! `mountstats`: per-mount NFS client statistics from `<procfs>/<pid>/mountstats` (the
//! exporter's own process, resolved once through `<procfs>/self` as upstream does), with the
//! server address from the same process's `mountinfo`: `node_mountstats_nfs_*{export,protocol,
//! mountaddr}` (age, bytes, events), `..._transport_*{...,transport}`,
//! `..._operations_*{...,operation}` and `node_mountstats_nfs_mountpoint_info{...,mountpoint}`.
//!
//! A mount exported twice (same export, protocol and address) is reported once, as upstream.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::mountstats_parse::{Mount, NfsStats, mount_addresses, parse_mountstats};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        let process = own_process_dir(&context.paths.proc("self"));
        Ok(Box::new(MountStats {
            mountstats: process.join("mountstats"),
            mountinfo: process.join("mountinfo"),
        }))
    })
}

/// `<procfs>/<pid>` for the pid `<procfs>/self` names, read once as upstream's `fs.Self()`;
/// `<procfs>/self` itself when it names no pid. A `self` that is a plain file holding the pid
/// (a copied fixture tree flattens the link) is read the same way.
fn own_process_dir(self_link: &Path) -> PathBuf {
    let target = match std::fs::read_link(self_link) {
        Ok(target) => target.to_string_lossy().into_owned(),
        Err(_) => std::fs::read_to_string(self_link).unwrap_or_default(),
    };
    let pid = target.trim().rsplit('/').next().unwrap_or_default();
    match (pid.parse::<u32>(), self_link.parent()) {
        (Ok(pid), Some(procfs)) => procfs.join(pid.to_string()),
        _ => self_link.to_path_buf(),
    }
}

struct MountStats {
    mountstats: PathBuf,
    mountinfo: PathBuf,
}

/// Go's float64 mantissa: upstream reduces millisecond and second counters modulo 2^53 so
/// their float is exact.
const FLOAT64_MANTISSA: u64 = 1 << 53;

const BYTES: [(&str, &str); 8] = [
    (
        "read_bytes_total",
        "Number of bytes read using the read() syscall.",
    ),
    (
        "write_bytes_total",
        "Number of bytes written using the write() syscall.",
    ),
    (
        "direct_read_bytes_total",
        "Number of bytes read using the read() syscall in O_DIRECT mode.",
    ),
    (
        "direct_write_bytes_total",
        "Number of bytes written using the write() syscall in O_DIRECT mode.",
    ),
    (
        "total_read_bytes_total",
        "Number of bytes read from the NFS server, in total.",
    ),
    (
        "total_write_bytes_total",
        "Number of bytes written to the NFS server, in total.",
    ),
    (
        "read_pages_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        "write_pages_total",
        "Number of pages written directly via mmap()'d files.",
    ),
];

/// The `events:` counters exported, by their index on the line (18, congestion wait, is not).
const EVENTS: [(usize, &str, &str); 26] = [
    (
        0,
        "event_inode_revalidate_total",
        "Number of times cached inode attributes are re-validated from the server.",
    ),
    (
        1,
        "event_dnode_revalidate_total",
        "Number of times cached dentry nodes are re-validated from the server.",
    ),
    (
        2,
        "event_data_invalidate_total",
        "Number of times an inode cache is cleared.",
    ),
    (
        3,
        "event_attribute_invalidate_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        4,
        "event_vfs_open_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        5,
        "event_vfs_lookup_total",
        "Number of times a directory lookup has occurred.",
    ),
    (
        6,
        "event_vfs_access_total",
        "Number of times permissions have been checked.",
    ),
    (
        7,
        "event_vfs_update_page_total",
        "Number of updates (and potential writes) to pages.",
    ),
    (
        8,
        "event_vfs_read_page_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        9,
        "event_vfs_read_pages_total",
        "Number of times a group of pages have been read.",
    ),
    (
        10,
        "event_vfs_write_page_total",
        "Number of pages written directly via mmap()'d files.",
    ),
    (
        11,
        "event_vfs_write_pages_total",
        "Number of times a group of pages have been written.",
    ),
    (
        12,
        "event_vfs_getdents_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        13,
        "event_vfs_setattr_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        14,
        "event_vfs_flush_total",
        "Number of pending writes that have been forcefully flushed to the server.",
    ),
    (
        15,
        "event_vfs_fsync_total",
        "Number of times fsync() has been called on directories and files.",
    ),
    (
        16,
        "event_vfs_lock_total",
        "Number of times locking has been attempted on a file.",
    ),
    (
        17,
        "event_vfs_file_release_total",
        "Number of times files have been closed and released.",
    ),
    (
        19,
        "event_truncation_total",
        "Number of times files have been truncated.",
    ),
    (
        20,
        "event_write_extension_total",
        "Number of times a file has been grown due to writes beyond its existing end.",
    ),
    (
        21,
        "event_silly_rename_total",
        "Number of times a file was removed while still open by another process.",
    ),
    (
        22,
        "event_short_read_total",
        "Number of times the NFS server gave less data than expected while reading.",
    ),
    (
        23,
        "event_short_write_total",
        "Number of times the NFS server wrote less data than expected while writing.",
    ),
    (
        24,
        "event_jukebox_delay_total",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
    ),
    (
        25,
        "event_pnfs_read_total",
        "Number of NFS v4.1+ pNFS reads.",
    ),
    (
        26,
        "event_pnfs_write_total",
        "Number of NFS v4.1+ pNFS writes.",
    ),
];

/// How a transport counter is exported.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    /// A gauge, reduced modulo 2^53 when upstream does.
    Gauge {
        modulo: bool,
    },
}

/// The transport counters exported, by their index in [`crate::mountstats_parse::Transport`].
const TRANSPORT: [(usize, Kind, &str, &str); 10] = [
    (
        1,
        Kind::Counter,
        "transport_bind_total",
        "Number of times the client has had to establish a connection from scratch to the NFS server.",
    ),
    (
        2,
        Kind::Counter,
        "transport_connect_total",
        "Number of times the client has made a TCP connection to the NFS server.",
    ),
    (
        4,
        Kind::Gauge { modulo: true },
        "transport_idle_time_seconds",
        "Duration since the NFS mount last saw any RPC traffic, in seconds.",
    ),
    (
        5,
        Kind::Counter,
        "transport_sends_total",
        "Number of RPC requests for this mount sent to the NFS server.",
    ),
    (
        6,
        Kind::Counter,
        "transport_receives_total",
        "Number of RPC responses for this mount received from the NFS server.",
    ),
    (
        7,
        Kind::Counter,
        "transport_bad_transaction_ids_total",
        "Number of times the NFS server sent a response with a transaction ID unknown to this client.",
    ),
    (
        9,
        Kind::Counter,
        "transport_backlog_queue_total",
        "Total number of items added to the RPC backlog queue.",
    ),
    (
        10,
        Kind::Gauge { modulo: false },
        "transport_maximum_rpc_slots",
        "Maximum number of simultaneously active RPC requests ever used.",
    ),
    (
        11,
        Kind::Counter,
        "transport_sending_queue_total",
        "Total number of items added to the RPC transmission sending queue.",
    ),
    (
        12,
        Kind::Counter,
        "transport_pending_queue_total",
        "Total number of items added to the RPC transmission pending queue.",
    ),
];

/// The per-operation counters, in the order of [`crate::mountstats_parse::Operation`]; the
/// last three are milliseconds, exported as seconds.
const OPERATIONS: [(&str, &str); 8] = [
    (
        "operations_requests_total",
        "Number of requests performed for a given operation.",
    ),
    (
        "operations_transmissions_total",
        "Number of times an actual RPC request has been transmitted for a given operation.",
    ),
    (
        "operations_major_timeouts_total",
        "Number of times a request has had a major timeout for a given operation.",
    ),
    (
        "operations_sent_bytes_total",
        "Number of bytes sent for a given operation, including RPC headers and payload.",
    ),
    (
        "operations_received_bytes_total",
        "Number of bytes received for a given operation, including RPC headers and payload.",
    ),
    (
        "operations_queue_time_seconds_total",
        "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.",
    ),
    (
        "operations_response_time_seconds_total",
        "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.",
    ),
    (
        "operations_request_time_seconds_total",
        "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.",
    ),
];

fn name(suffix: &str) -> String {
    format!("node_mountstats_nfs_{suffix}")
}

/// Every family of the collector, filled mount by mount.
struct Families {
    age: MetricFamily,
    mountpoint_info: MetricFamily,
    bytes: Vec<MetricFamily>,
    events: Vec<MetricFamily>,
    transport: Vec<MetricFamily>,
    operations: Vec<MetricFamily>,
}

impl Families {
    fn new() -> Self {
        Families {
            age: MetricFamily::counter(
                name("age_seconds_total"),
                "The age of the NFS mount in seconds.",
            ),
            mountpoint_info: MetricFamily::gauge(
                name("mountpoint_info"),
                "Info metric for an NFS mountpoint.",
            ),
            bytes: BYTES
                .iter()
                .map(|(suffix, help)| MetricFamily::counter(name(suffix), *help))
                .collect(),
            events: EVENTS
                .iter()
                .map(|(_, suffix, help)| MetricFamily::counter(name(suffix), *help))
                .collect(),
            transport: TRANSPORT
                .iter()
                .map(|(_, kind, suffix, help)| match kind {
                    Kind::Counter => MetricFamily::counter(name(suffix), *help),
                    Kind::Gauge { .. } => MetricFamily::gauge(name(suffix), *help),
                })
                .collect(),
            operations: OPERATIONS
                .iter()
                .map(|(suffix, help)| MetricFamily::counter(name(suffix), *help))
                .collect(),
        }
    }

    /// One mount's statistics, labelled with the protocol of the transport that is reported.
    fn push_stats(&mut self, stats: &NfsStats, labels: &[(&'static str, &str); 3]) {
        self.age.push(labels, stats.age_seconds);
        for (family, value) in self.bytes.iter_mut().zip(stats.bytes) {
            family.push(labels, value as f64);
        }
        for (index, transport) in stats.transports.iter().enumerate() {
            let index = index.to_string();
            let [export, protocol, address] = labels;
            let labels = [*export, *protocol, *address, ("transport", index.as_str())];
            for (family, (field, kind, ..)) in self.transport.iter_mut().zip(TRANSPORT) {
                let raw = transport.counters[field];
                let value = match kind {
                    Kind::Gauge { modulo: true } => raw % FLOAT64_MANTISSA,
                    _ => raw,
                };
                family.push(&labels, value as f64);
            }
        }
        for operation in &stats.operations {
            let [export, protocol, address] = labels;
            let labels = [
                *export,
                *protocol,
                *address,
                ("operation", operation.name.as_str()),
            ];
            for (i, (family, raw)) in self
                .operations
                .iter_mut()
                .zip(operation.counters)
                .enumerate()
            {
                let value = if i >= 5 {
                    (raw % FLOAT64_MANTISSA) as f64 / 1000.0
                } else {
                    raw as f64
                };
                family.push(&labels, value);
            }
        }
        for (family, (index, ..)) in self.events.iter_mut().zip(EVENTS) {
            let value = stats.events.get(index).copied().unwrap_or_default();
            family.push(labels, value as f64);
        }
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        let mut out = vec![self.age, self.mountpoint_info];
        out.extend(self.bytes);
        out.extend(self.transport);
        out.extend(self.operations);
        out.extend(self.events);
        out
    }
}

/// Turns the parsed files into families: for each NFS mount and each of its transports, one
/// mount point info series per distinct (export, protocol, address, mount point) and the
/// statistics once per distinct (export, protocol, address).
fn families(mounts: &[Mount], addresses: &[Option<String>]) -> Vec<MetricFamily> {
    let mut families = Families::new();
    let mut devices_seen = HashSet::new();
    let mut mount_points_seen = HashSet::new();
    for (index, mount) in mounts.iter().enumerate() {
        let Some(stats) = &mount.nfs else {
            continue;
        };
        // Both files list the mounts in the same order.
        let address = addresses
            .get(index)
            .and_then(Option::as_deref)
            .unwrap_or_default();
        for transport in &stats.transports {
            let protocol = transport.protocol.as_str();
            let device = (mount.device.as_str(), protocol, address);
            let labels = [
                ("export", mount.device.as_str()),
                ("protocol", protocol),
                ("mountaddr", address),
            ];
            if mount_points_seen.insert((device, mount.mount_point.as_str())) {
                let [export, protocol, address] = labels;
                families.mountpoint_info.push(
                    &[
                        export,
                        protocol,
                        address,
                        ("mountpoint", mount.mount_point.as_str()),
                    ],
                    1.0,
                );
            } else {
                tracing::debug!(?device, "Skipping duplicate mountpoint info entry");
            }
            if !devices_seen.insert(device) {
                tracing::debug!(?device, "Skipping duplicate device entry");
                break;
            }
            families.push_stats(stats, &labels);
        }
    }
    families.into_vec()
}

impl Collector for MountStats {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.mountstats)?;
        let mounts = parse_mountstats(&text).map_err(|reason| {
            CollectorError::parse(
                &self.mountstats,
                format!("failed to parse mountstats: {reason}"),
            )
        })?;
        let text = read_string(&self.mountinfo)?;
        let addresses = mount_addresses(&text).map_err(|reason| {
            CollectorError::parse(
                &self.mountinfo,
                format!("failed to parse mountinfo: {reason}"),
            )
        })?;
        out.extend(families(&mounts, &addresses));
        Ok(())
    }
}

#[cfg(test)]
#[path = "mountstats_tests.rs"]
mod tests;
