//! `fibrechannel`: Fibre Channel host ports from `<sysfs>/class/fc_host/<host>/`
//! (`node_fibrechannel_info{fc_host,...}` and `node_fibrechannel_*_total{fc_host}`).
//!
//! Hand-written (procfs-core reads no sysfs), following upstream procfs: absent attributes are
//! empty labels; the `statistics/` counters must be unsigned numbers in Go's base-0 syntax (the
//! kernel writes hex), and a counter reading all ones (`0xffffffffffffffff`, "not supported by
//! the driver") is not exported; a port whose state is `Unknown` or absent reports 0 for every
//! counter. Two departures where upstream crashes or gives up: a counter file that is absent is
//! not exported (upstream dereferences a nil pointer), and a counter the driver refuses to read
//! (`EOPNOTSUPP`, `EINVAL`) is skipped, as upstream means to.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::sysfs::{go_trim_space, parse_go_uint, sys_read_file, to_valid_utf8};

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(FibreChannel {
            class: context.paths.sys("class/fc_host"),
        }))
    })
}

struct FibreChannel {
    class: PathBuf,
}

/// The info labels after `fc_host`, with the attribute each comes from.
const INFO: [(&str, &str); 10] = [
    ("speed", "speed"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("fabric_name", "fabric_name"),
    ("symbolic_name", "symbolic_name"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("dev_loss_tmo", "dev_loss_tmo"),
];

/// `statistics/<file>` → `node_fibrechannel_<family>`, with its help.
const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "node_fibrechannel_dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "node_fibrechannel_error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "node_fibrechannel_invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "rx_frames",
        "node_fibrechannel_rx_frames_total",
        "Number of frames received",
    ),
    (
        "rx_words",
        "node_fibrechannel_rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "node_fibrechannel_tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "node_fibrechannel_tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "node_fibrechannel_seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "node_fibrechannel_invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "node_fibrechannel_link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "node_fibrechannel_loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "node_fibrechannel_loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "node_fibrechannel_nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "node_fibrechannel_fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

struct Host {
    name: String,
    info: [Option<String>; 10],
    counters: [Option<u64>; 14],
}

fn read_text(path: &Path) -> std::io::Result<String> {
    sys_read_file(path).map(|bytes| to_valid_utf8(go_trim_space(&bytes)))
}

/// `0x...` identifiers are labelled without their prefix, as upstream.
fn strip_hex_prefix(attribute: &str, value: String) -> String {
    match attribute {
        "port_id" | "port_name" | "fabric_name" if value.len() > 2 => {
            value.get(2..).map(str::to_owned).unwrap_or(value)
        }
        _ => value,
    }
}

fn read_counters(dir: &Path) -> Result<[Option<u64>; 14], CollectorError> {
    let mut counters = [None; 14];
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(counters),
        Err(err) => return Err(CollectorError::io(dir, err)),
    };
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let name = entry.file_name();
        let Some(index) = COUNTERS.iter().position(|(file, ..)| name == *file) else {
            continue;
        };
        let path = entry.path();
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(err)
                if err.kind() == ErrorKind::NotFound
                    || matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) =>
            {
                continue;
            }
            Err(err) => return Err(CollectorError::io(&path, err)),
        };
        counters[index] = Some(parse_go_uint(&text).ok_or_else(|| {
            CollectorError::parse(&path, format!("{text:?} is not an unsigned integer"))
        })?);
    }
    Ok(counters)
}

fn read_host(dir: &Path, name: String) -> Result<Host, CollectorError> {
    let mut info: [Option<String>; 10] = Default::default();
    for ((_, attribute), slot) in INFO.iter().zip(&mut info) {
        let path = dir.join(attribute);
        match read_text(&path) {
            Ok(value) => *slot = Some(strip_hex_prefix(attribute, value)),
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => return Err(CollectorError::io(&path, err)),
        }
    }
    let mut counters = read_counters(&dir.join("statistics"))?;
    if info[1].as_deref().is_none_or(|state| state == "Unknown") {
        counters = [Some(0); 14];
    }
    Ok(Host {
        name,
        info,
        counters,
    })
}

impl Collector for FibreChannel {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let entries = match std::fs::read_dir(&self.class) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                tracing::debug!("fibrechannel statistics not found, skipping");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.class, err)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut hosts = Vec::with_capacity(names.len());
        for name in names {
            hosts.push(read_host(&self.class.join(&name), name)?);
        }
        let mut info = MetricFamily::gauge(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
        );
        let mut counters: Vec<MetricFamily> = COUNTERS
            .iter()
            .map(|(_, name, help)| MetricFamily::counter(*name, *help))
            .collect();
        for host in &hosts {
            let mut labels = vec![("fc_host", host.name.as_str())];
            for ((label, _), value) in INFO.iter().zip(&host.info) {
                labels.push((label, value.as_deref().unwrap_or("")));
            }
            info.push(&labels, 1.0);
            for (family, value) in counters.iter_mut().zip(host.counters) {
                if let Some(value) = value.filter(|value| *value != u64::MAX) {
                    family.push(&[("fc_host", &host.name)], value as f64);
                }
            }
        }
        out.push(info);
        out.extend(counters);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{run_on_sysfs, write};

    #[test]
    fn reads_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        let host0 = sys.join("class/fc_host/host0");
        write(&host0.join("port_state"), "Online\n");
        write(&host0.join("port_id"), "0x000002\n");
        write(&host0.join("speed"), "16 Gbit\n");
        write(&host0.join("statistics/rx_frames"), "0x3\n");
        write(&host0.join("statistics/tx_frames"), "0xffffffffffffffff\n");
        write(&host0.join("statistics/reset_statistics"), "");
        write(
            &sys.join("class/fc_host/host1/statistics/rx_frames"),
            "0x9\n",
        );
        let (result, lines) = run_on_sysfs(declare, sys, &[]);
        result.unwrap();
        assert!(lines.contains(&"node_fibrechannel_info dev_loss_tmo=,fabric_name=,fc_host=host0,port_id=000002,port_name=,port_state=Online,port_type=,speed=16 Gbit,supported_classes=,supported_speeds=,symbolic_name= 1".into()), "{lines:#?}");
        assert!(lines.contains(&"node_fibrechannel_rx_frames_total fc_host=host0 3".into()));
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("node_fibrechannel_tx_frames_total fc_host=host0"))
        );
        // No port state: every counter reads 0.
        assert!(lines.contains(&"node_fibrechannel_rx_frames_total fc_host=host1 0".into()));
        assert!(lines.contains(&"node_fibrechannel_nos_total fc_host=host1 0".into()));
        assert_eq!(lines.len(), 2 + 1 + 14);
        write(&host0.join("statistics/rx_frames"), "three\n");
        let (result, _) = run_on_sysfs(declare, sys, &[]);
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
    }

    #[test]
    fn no_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = run_on_sysfs(declare, dir.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn garbage_attributes_never_panic(state in ".{0,12}", id in ".{0,6}", counter in ".{0,20}") {
            let dir = tempfile::tempdir().unwrap();
            let host = dir.path().join("class/fc_host/host0");
            write(&host.join("port_state"), &state);
            write(&host.join("port_id"), &id);
            write(&host.join("statistics/nos_count"), &counter);
            let _ = run_on_sysfs(declare, dir.path(), &[]);
        }
    }
}
