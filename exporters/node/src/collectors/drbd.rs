//! `drbd`: DRBD 8 device statistics from `<procfs>/drbd` (`node_drbd_*{device}`).
//!
//! Hand-written (procfs-core has no DRBD parser), reading the file as upstream does: a stream of
//! whitespace-separated `key:value` words; `<n>:` starts device `drbd<n>`, known keys become
//! samples, everything else is skipped. A number that does not parse fails the collector; so does
//! a role or disk-state pair without its `/` (upstream panics there).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_optional;
use crate::sysfs::parse_go_float;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Drbd {
            path: context.paths.proc("drbd"),
        }))
    })
}

struct Drbd {
    path: PathBuf,
}

/// Numeric keys: (key, family, help, counter, multiplier to bytes).
const NUMERICAL: &[(&str, &str, &str, bool, f64)] = &[
    (
        "ns",
        "node_drbd_network_sent_bytes_total",
        "Total number of bytes sent via the network.",
        true,
        1024.0,
    ),
    (
        "nr",
        "node_drbd_network_received_bytes_total",
        "Total number of bytes received via the network.",
        true,
        1.0,
    ),
    (
        "dw",
        "node_drbd_disk_written_bytes_total",
        "Net data written on local hard disk; in bytes.",
        true,
        1024.0,
    ),
    (
        "dr",
        "node_drbd_disk_read_bytes_total",
        "Net data read from local hard disk; in bytes.",
        true,
        1024.0,
    ),
    (
        "al",
        "node_drbd_activitylog_writes_total",
        "Number of updates of the activity log area of the meta data.",
        true,
        1.0,
    ),
    (
        "bm",
        "node_drbd_bitmap_writes_total",
        "Number of updates of the bitmap area of the meta data.",
        true,
        1.0,
    ),
    (
        "lo",
        "node_drbd_local_pending",
        "Number of open requests to the local I/O sub-system.",
        false,
        1.0,
    ),
    (
        "pe",
        "node_drbd_remote_pending",
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
        false,
        1.0,
    ),
    (
        "ua",
        "node_drbd_remote_unacknowledged",
        "Number of requests received by the peer via the network connection, but that have not yet been answered.",
        false,
        1.0,
    ),
    (
        "ap",
        "node_drbd_application_pending",
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
        false,
        1.0,
    ),
    (
        "ep",
        "node_drbd_epochs",
        "Number of Epochs currently on the fly.",
        false,
        1.0,
    ),
    (
        "oos",
        "node_drbd_out_of_sync_bytes",
        "Amount of data known to be out of sync; in bytes.",
        false,
        1024.0,
    ),
];

/// `local/remote` keys: (key, family, help, the value that reads as 1).
const STRING_PAIRS: &[(&str, &str, &str, &str)] = &[
    (
        "ro",
        "node_drbd_node_role_is_primary",
        "Whether the role of the node is in the primary state.",
        "Primary",
    ),
    (
        "ds",
        "node_drbd_disk_state_is_up_to_date",
        "Whether the disk of the node is up to date.",
        "UpToDate",
    ),
];

/// One sample: family index into [`families`], device, node, value.
type Sample = (usize, String, Option<&'static str>, f64);

/// The families in the order [`NUMERICAL`], [`STRING_PAIRS`], then `connected`.
fn families() -> Vec<MetricFamily> {
    let mut families: Vec<MetricFamily> = NUMERICAL
        .iter()
        .map(|(_, name, help, counter, _)| {
            if *counter {
                MetricFamily::counter(*name, *help)
            } else {
                MetricFamily::gauge(*name, *help)
            }
        })
        .collect();
    families.extend(
        STRING_PAIRS
            .iter()
            .map(|(_, name, help, _)| MetricFamily::gauge(*name, *help)),
    );
    families.push(MetricFamily::gauge(
        "node_drbd_connected",
        "Whether DRBD is connected to the peer.",
    ));
    families
}

fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut device = "unknown".to_owned();
    for word in text.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once(':') else {
            continue;
        };
        if value.contains(':') {
            continue;
        }
        if value.is_empty()
            && !key.starts_with('+')
            && let Ok(id) = key.parse::<u64>()
        {
            device = format!("drbd{id}");
            continue;
        }
        if let Some(index) = NUMERICAL.iter().position(|(known, ..)| *known == key) {
            let number =
                parse_go_float(value).ok_or_else(|| format!("invalid number in {word:?}"))?;
            samples.push((index, device.clone(), None, number * NUMERICAL[index].4));
        } else if let Some(pair) = STRING_PAIRS.iter().position(|(known, ..)| *known == key) {
            let ok = STRING_PAIRS[pair].3;
            let mut sides = value.split('/');
            let (Some(local), Some(remote)) = (sides.next(), sides.next()) else {
                return Err(format!("no local/remote pair in {word:?}"));
            };
            let index = NUMERICAL.len() + pair;
            let is_ok = |side: &str| if side == ok { 1.0 } else { 0.0 };
            samples.push((index, device.clone(), Some("local"), is_ok(local)));
            samples.push((index, device.clone(), Some("remote"), is_ok(remote)));
        } else if key == "cs" {
            let connected = if value == "Connected" { 1.0 } else { 0.0 };
            let index = NUMERICAL.len() + STRING_PAIRS.len();
            samples.push((index, device.clone(), None, connected));
        }
    }
    Ok(samples)
}

impl Collector for Drbd {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let Some(text) = read_optional(&self.path)? else {
            tracing::debug!(file = %self.path.display(), "stats file does not exist, skipping");
            return Err(CollectorError::NoData);
        };
        let samples = parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        let mut families = families();
        for (index, device, node, value) in samples {
            match node {
                Some(node) => families[index].push(&[("device", &device), ("node", node)], value),
                None => families[index].push(&[("device", &device)], value),
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::lines;

    const DRBD: &str = "version: 8.4.3 (api:1/proto:86-101)
srcversion: 1A9F77B1CA5FF92235C2213

 1: cs:Connected ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
    ns:17324442 nr:10961011 dw:28263521 dr:118696670 al:1100 bm:221 lo:12345 pe:12346 ua:12347 ap:12348 ep:1 wo:d oos:12349
 2: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----
    ns:0 nr:0
";

    #[test]
    fn reads_the_kernel_format() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Drbd {
            path: dir.path().join("drbd"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::write(&collector.path, DRBD).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        let lines = lines(&out, "/nonexistent-root");
        for line in [
            "node_drbd_network_sent_bytes_total device=drbd1 17740228608",
            "node_drbd_out_of_sync_bytes device=drbd1 12645376",
            "node_drbd_node_role_is_primary device=drbd1,node=local 1",
            "node_drbd_disk_state_is_up_to_date device=drbd1,node=remote 0",
            "node_drbd_connected device=drbd1 1",
            "node_drbd_connected device=drbd2 0",
            "node_drbd_network_received_bytes_total device=drbd2 0",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
        }
        assert_eq!(lines.len(), 24);
    }

    #[test]
    fn malformed_values_fail() {
        assert!(parse("1: ns:many\n").is_err());
        assert!(parse("1: ro:Primary\n").is_err());
        assert_eq!(parse("ns:1\n").unwrap()[0].1, "unknown");
        assert!(parse("a:b:c x y:\n").unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(.{0,60}\n){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..400) {
            let cut = cut.min(DRBD.len());
            let _ = parse(&DRBD[..cut]);
        }
    }
}
