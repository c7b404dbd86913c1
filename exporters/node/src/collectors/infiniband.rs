//! `infiniband`: `/sys/class/infiniband/<device>`: `node_infiniband_info`, each port's state,
//! physical state and rate, and its `counters`, `counters_ext` and `hw_counters` files.
//!
//! Hand-written (procfs-core reads only /proc), following prometheus/procfs's
//! `InfiniBandClass`: an unreadable device attribute or port file fails the scrape, an
//! unreadable counter is skipped, a counter reading "N/A (no PMA)" is absent, and the data
//! counters count 4-byte words (multiplied by 4).

use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::DeviceFilter;
use crate::family_set::FamilySet;
use crate::read::dir_names;
use crate::sysfs::{go_trim_space, sys_read_file, to_valid_utf8};

/// A port counter: the directory and file it is read from, the metric suffix, whether it
/// counts 4-byte words, and its help.
struct Counter {
    dir: &'static str,
    file: &'static str,
    metric: &'static str,
    words: bool,
    help: &'static str,
}

const fn c(
    dir: &'static str,
    file: &'static str,
    metric: &'static str,
    help: &'static str,
) -> Counter {
    Counter {
        dir,
        file,
        metric,
        words: false,
        help,
    }
}

const fn words(
    dir: &'static str,
    file: &'static str,
    metric: &'static str,
    help: &'static str,
) -> Counter {
    Counter {
        words: true,
        ..c(dir, file, metric, help)
    }
}

const CNT: &str = "counters";
const EXT: &str = "counters_ext";
const HW: &str = "hw_counters";

/// Every counter upstream exports (`lifespan` is a gauge in seconds, handled apart).
static COUNTERS: &[Counter] = &[
    c(
        EXT,
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
    ),
    c(
        EXT,
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
    ),
    words(
        EXT,
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
    ),
    c(
        EXT,
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        "Number of data packets received on all links",
    ),
    c(
        EXT,
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
    ),
    c(
        EXT,
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
    ),
    words(
        EXT,
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
    ),
    c(
        EXT,
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
    ),
    c(
        CNT,
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.",
    ),
    c(
        CNT,
        "link_downed",
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down",
    ),
    c(
        CNT,
        "link_error_recovery",
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state",
    ),
    c(
        CNT,
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.",
    ),
    c(
        CNT,
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)",
    ),
    c(
        CNT,
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)",
    ),
    c(
        CNT,
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded",
    ),
    c(
        CNT,
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port",
    ),
    words(
        CNT,
        "port_rcv_data",
        "port_data_received_bytes_total",
        "Number of data octets received on all links",
    ),
    words(
        CNT,
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
    ),
    c(
        CNT,
        "port_rcv_discards",
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or congested",
    ),
    c(
        CNT,
        "port_xmit_discards",
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or congested",
    ),
    c(
        CNT,
        "port_rcv_errors",
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port",
    ),
    c(
        CNT,
        "port_rcv_packets",
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)",
    ),
    c(
        CNT,
        "port_xmit_packets",
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)",
    ),
    c(
        CNT,
        "port_xmit_wait",
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent during the entire tick",
    ),
    c(
        CNT,
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        "Number of unicast packets received (including errors)",
    ),
    c(
        CNT,
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)",
    ),
    c(
        CNT,
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.",
    ),
    c(
        CNT,
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch.",
    ),
    c(
        CNT,
        "symbol_error",
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes.",
    ),
    c(
        CNT,
        "VL15_dropped",
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations.",
    ),
    c(
        HW,
        "duplicate_request",
        "duplicate_requests_packets_total",
        "The number of received packets. A duplicate request is a request that had been previously executed.",
    ),
    c(
        HW,
        "implied_nak_seq_err",
        "implied_nak_seq_errors_total",
        "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response.",
    ),
    c(
        HW,
        "local_ack_timeout_err",
        "local_ack_timeout_errors_total",
        "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error.",
    ),
    c(
        HW,
        "np_cnp_sent",
        "np_cnp_packets_sent_total",
        "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "np_ecn_marked_roce_packets",
        "np_ecn_marked_roce_packets_received_total",
        "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "out_of_buffer",
        "out_of_buffer_drops_total",
        "The number of drops occurred due to lack of WQE for the associated QPs.",
    ),
    c(
        HW,
        "out_of_sequence",
        "out_of_sequence_packets_received_total",
        "The number of out of sequence packets received.",
    ),
    c(
        HW,
        "packet_seq_err",
        "packet_sequence_errors_total",
        "The number of received NAK sequence error packets. The QP retry limit was not exceeded.",
    ),
    c(
        HW,
        "req_cqe_error",
        "req_cqes_errors_total",
        "The number of times requester detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "req_cqe_flush_error",
        "req_cqes_flush_errors_total",
        "The number of times requester detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "req_remote_access_errors",
        "req_remote_access_errors_total",
        "The number of times requester detected remote access errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "req_remote_invalid_request",
        "req_remote_invalid_request_errors_total",
        "The number of times requester detected remote invalid request errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "resp_cqe_error",
        "resp_cqes_errors_total",
        "The number of times responder detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "resp_cqe_flush_error",
        "resp_cqes_flush_errors_total",
        "The number of times responder detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "resp_local_length_error",
        "resp_local_length_errors_total",
        "The number of times responder detected local length errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "resp_remote_access_errors",
        "resp_remote_access_errors_total",
        "The number of times responder detected remote access errors. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "rnr_nak_retry_err",
        "rnr_nak_retry_packets_received_total",
        "The number of received RNR NAK packets. The QP retry limit was not exceeded.",
    ),
    c(
        HW,
        "roce_adp_retrans",
        "roce_adp_retransmits_total",
        "The number of adaptive retransmissions for RoCE traffic. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    c(
        HW,
        "roce_adp_retrans_to",
        "roce_adp_retransmits_timeout_total",
        "The number of times RoCE traffic reached timeout due to adaptive retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    c(
        HW,
        "roce_slow_restart",
        "roce_slow_restart_used_total",
        "The number of times RoCE slow restart was used. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    c(
        HW,
        "roce_slow_restart_cnps",
        "roce_slow_restart_cnps_total",
        "The number of times RoCE slow restart generated CNP packets. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    c(
        HW,
        "roce_slow_restart_trans",
        "roce_slow_restart_total",
        "The number of times RoCE slow restart changed state to slow restart. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    ),
    c(
        HW,
        "rp_cnp_handled",
        "rp_cnp_packets_handled_total",
        "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate. The counters was added in MLNX_OFED 4.1",
    ),
    c(
        HW,
        "rp_cnp_ignored",
        "rp_cnp_ignored_packets_received_total",
        "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter.",
    ),
    c(
        HW,
        "rx_atomic_requests",
        "rx_atomic_requests_total",
        "The number of received ATOMIC request for the associated QPs.",
    ),
    c(
        HW,
        "rx_dct_connect",
        "rx_dct_connect_requests_total",
        "The number of received connection requests for the associated DCTs.",
    ),
    c(
        HW,
        "rx_read_requests",
        "rx_read_requests_total",
        "The number of received READ requests for the associated QPs.",
    ),
    c(
        HW,
        "rx_write_requests",
        "rx_write_requests_total",
        "The number of received WRITE requests for the associated QPs.",
    ),
    c(
        HW,
        "rx_icrc_encapsulated",
        "rx_icrc_encapsulated_errors_total",
        "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19",
    ),
];

pub fn declare(set: &mut FlagSet) -> Builder {
    let include = set.optional(
        "collector.infiniband.device-include",
        "Regexp of InfiniBand devices to include (mutually exclusive to device-exclude).",
    );
    let exclude = set.optional(
        "collector.infiniband.device-exclude",
        "Regexp of InfiniBand devices to exclude (mutually exclusive to device-include).",
    );
    Box::new(move |context| {
        Ok(Box::new(InfiniBand {
            class: context.paths.sys("class/infiniband"),
            filter: DeviceFilter::from_flags(context.flags, exclude, include)?,
        }))
    })
}

struct InfiniBand {
    class: PathBuf,
    filter: DeviceFilter,
}

/// A sysfs attribute, trimmed, as procfs' `SysReadFile`.
fn attribute(path: &Path) -> Result<String, CollectorError> {
    sys_read_file(path)
        .map(|bytes| to_valid_utf8(go_trim_space(&bytes)))
        .map_err(|err| CollectorError::io(path, err))
}

/// `"4: ACTIVE"` → 4.
fn parse_state(text: &str) -> Option<u64> {
    let (id, name) = text.split_once(':')?;
    if name.contains(':') {
        return None;
    }
    id.trim().parse().ok()
}

/// `"40 Gb/sec (4X QDR)"` → bytes per second (Gb/s × 125,000,000), as a 32-bit float parse,
/// as upstream.
fn parse_rate(text: &str) -> Option<u64> {
    let (value, _) = text.split_once(' ')?;
    let gbits: f32 = value.trim().parse().ok()?;
    Some((f64::from(gbits) * 125_000_000.0) as u64)
}

/// A counter's value: `None` when the file cannot be read (skipped as upstream) or reads
/// "N/A (no PMA)"; an error for any other garbage.
fn counter_value(path: &Path) -> Result<Option<u64>, CollectorError> {
    let Ok(bytes) = sys_read_file(path) else {
        return Ok(None);
    };
    let text = to_valid_utf8(go_trim_space(&bytes));
    match text.parse::<u64>() {
        Ok(value) => Ok(Some(value)),
        Err(_) if text.contains("N/A (no PMA)") => Ok(None),
        Err(_) => Err(CollectorError::parse(
            path,
            format!("{text:?} is not a counter"),
        )),
    }
}

impl InfiniBand {
    fn device(&self, name: &str, out: &mut FamilySet) -> Result<(), CollectorError> {
        let dir = self.class.join(name);
        let firmware = attribute(&dir.join("fw_ver"))?;
        let optional = |file: &str| match attribute(&dir.join(file)) {
            Err(err) if err.is_not_found() => Ok(String::new()),
            other => other,
        };
        let board_id = optional("board_id")?;
        let hca_type = optional("hca_type")?;
        out.push(
            "info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
            MetricType::Gauge,
            &[
                ("device", name),
                ("board_id", &board_id),
                ("firmware_version", &firmware),
                ("hca_type", &hca_type),
            ],
            1.0,
        );
        for port in dir_names(&dir.join("ports"))? {
            self.port(name, &dir.join("ports").join(&port), &port, out)?;
        }
        Ok(())
    }

    fn port(
        &self,
        device: &str,
        dir: &Path,
        port: &str,
        out: &mut FamilySet,
    ) -> Result<(), CollectorError> {
        let number: u32 = port
            .parse()
            .map_err(|_| CollectorError::parse(dir, "port directory is not a number"))?;
        let port = number.to_string();
        let labels = [("device", device), ("port", port.as_str())];
        attribute(&dir.join("link_layer"))?;
        let parsed = |file: &str, parse: fn(&str) -> Option<u64>| {
            let path = dir.join(file);
            let text = attribute(&path)?;
            parse(&text)
                .ok_or_else(|| CollectorError::parse(&path, format!("cannot parse {text:?}")))
        };
        let state = parsed("state", parse_state)?;
        let physical = parsed("phys_state", parse_state)?;
        let rate = parsed("rate", parse_rate)?;
        out.push("state_id", "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)", MetricType::Gauge, &labels, state as f64);
        out.push("physical_state_id", "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)", MetricType::Gauge, &labels, physical as f64);
        out.push(
            "rate_bytes_per_second",
            "Maximum signal transfer rate",
            MetricType::Gauge,
            &labels,
            rate as f64,
        );
        for counter in COUNTERS {
            if let Some(value) = counter_value(&dir.join(counter.dir).join(counter.file))? {
                let value = if counter.words {
                    value.wrapping_mul(4)
                } else {
                    value
                };
                out.push(
                    counter.metric,
                    counter.help,
                    MetricType::Counter,
                    &labels,
                    value as f64,
                );
            }
        }
        if let Some(lifespan) = counter_value(&dir.join(HW).join("lifespan"))? {
            out.push("lifespan_seconds", "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.", MetricType::Gauge, &labels, (lifespan / 1000) as f64);
        }
        Ok(())
    }
}

impl Collector for InfiniBand {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let devices = dir_names(&self.class).map_err(|err| {
            if err.is_not_found() {
                tracing::debug!("infiniband statistics not found, skipping");
                CollectorError::NoData
            } else {
                err
            }
        })?;
        let mut families = FamilySet::new("node_infiniband_");
        // Upstream reads every device before exporting any: one bad device fails the scrape.
        for device in devices.iter().filter(|device| !self.filter.ignored(device)) {
            self.device(device, &mut families)?;
        }
        out.extend(families.families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        crate::collectors::testing::write(&root.join(rel), text);
    }

    #[test]
    fn parses_state_and_rate() {
        assert_eq!(parse_state("4: ACTIVE"), Some(4));
        assert_eq!(parse_state("5: LinkUp"), Some(5));
        assert_eq!(parse_state("ACTIVE"), None);
        assert_eq!(parse_state("x: y"), None);
        assert_eq!(parse_rate("40 Gb/sec (4X QDR)"), Some(5_000_000_000));
        assert_eq!(parse_rate("10 Gb/sec (4X)"), Some(1_250_000_000));
        assert_eq!(parse_rate("fast"), None);
    }

    #[test]
    fn reads_a_device_and_fails_alone_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "mlx4_0/fw_ver", "2.31.5050\n");
        write(root, "mlx4_0/hca_type", "MT4099\n");
        write(root, "mlx4_0/ports/1/link_layer", "InfiniBand\n");
        write(root, "mlx4_0/ports/1/state", "4: ACTIVE\n");
        write(root, "mlx4_0/ports/1/phys_state", "5: LinkUp\n");
        write(root, "mlx4_0/ports/1/rate", "40 Gb/sec (4X QDR)\n");
        write(root, "mlx4_0/ports/1/counters/port_rcv_data", "10\n");
        write(
            root,
            "mlx4_0/ports/1/counters/symbol_error",
            "N/A (no PMA)\n",
        );
        write(root, "mlx4_0/ports/1/hw_counters/lifespan", "12000\n");
        let collector = InfiniBand {
            class: root.to_path_buf(),
            filter: DeviceFilter::new(None, None).unwrap(),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let value = |name: &str| {
            out.iter()
                .find(|f| f.name == format!("node_infiniband_{name}"))
                .map(|f| f.samples[0].value)
        };
        assert_eq!(value("port_data_received_bytes_total"), Some(40.0));
        assert_eq!(value("symbol_error_total"), None);
        assert_eq!(value("lifespan_seconds"), Some(12.0));
        assert_eq!(value("rate_bytes_per_second"), Some(5e9));
        write(root, "mlx4_0/ports/1/counters/link_downed", "lots\n");
        assert!(collector.update(&mut Vec::new()).is_err());
        let absent = InfiniBand {
            class: root.join("none"),
            filter: DeviceFilter::new(None, None).unwrap(),
        };
        assert!(matches!(
            absent.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "\\PC{0,40}") {
            let _ = parse_state(&text);
            let _ = parse_rate(&text);
        }
    }
}
