//! `xfrm`: IPsec transformation error counters from `/proc/net/xfrm_stat`, one
//! `node_xfrm_<kind>_packets_total` counter per line upstream knows.
//!
//! Hand-written (procfs-core has no xfrm_stat parser): `Name value` per line; any line that is
//! not exactly two fields, or a value that is not an integer, fails the scrape, as
//! prometheus/procfs does. Counters the file lacks are exported as 0, as upstream.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

/// The kernel's name, the metric name between `node_xfrm_` and `_packets_total`, and its help.
static STATS: &[(&str, &str, &str)] = &[
    ("XfrmInError", "in_error", "All errors not matched by other"),
    ("XfrmInBufferError", "in_buffer_error", "No buffer is left"),
    ("XfrmInHdrError", "in_hdr_error", "Header error"),
    (
        "XfrmInNoStates",
        "in_no_states",
        "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong",
    ),
    (
        "XfrmInStateProtoError",
        "in_state_proto_error",
        "Transformation protocol specific error e.g. SA key is wrong",
    ),
    (
        "XfrmInStateModeError",
        "in_state_mode_error",
        "Transformation mode specific error",
    ),
    (
        "XfrmInStateSeqError",
        "in_state_seq_error",
        "Sequence error i.e. Sequence number is out of window",
    ),
    ("XfrmInStateExpired", "in_state_expired", "State is expired"),
    (
        "XfrmInStateMismatch",
        "in_state_mismatch",
        "State has mismatch option e.g. UDP encapsulation type is mismatch",
    ),
    ("XfrmInStateInvalid", "in_state_invalid", "State is invalid"),
    (
        "XfrmInTmplMismatch",
        "in_tmpl_mismatch",
        "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong",
    ),
    (
        "XfrmInNoPols",
        "in_no_pols",
        "No policy is found for states e.g. Inbound SAs are correct but no SP is found",
    ),
    ("XfrmInPolBlock", "in_pol_block", "Policy discards"),
    ("XfrmInPolError", "in_pol_error", "Policy error"),
    (
        "XfrmOutError",
        "out_error",
        "All errors which is not matched others",
    ),
    (
        "XfrmOutBundleGenError",
        "out_bundle_gen_error",
        "Bundle generation error",
    ),
    (
        "XfrmOutBundleCheckError",
        "out_bundle_check_error",
        "Bundle check error",
    ),
    ("XfrmOutNoStates", "out_no_states", "No state is found"),
    (
        "XfrmOutStateProtoError",
        "out_state_proto_error",
        "Transformation protocol specific error",
    ),
    (
        "XfrmOutStateModeError",
        "out_state_mode_error",
        "Transformation mode specific error",
    ),
    (
        "XfrmOutStateSeqError",
        "out_state_seq_error",
        "Sequence error i.e. Sequence number overflow",
    ),
    (
        "XfrmOutStateExpired",
        "out_state_expired",
        "State is expired",
    ),
    ("XfrmOutPolBlock", "out_pol_block", "Policy discards"),
    ("XfrmOutPolDead", "out_pol_dead", "Policy is dead"),
    ("XfrmOutPolError", "out_pol_error", "Policy error"),
    (
        "XfrmFwdHdrError",
        "fwd_hdr_error",
        "Forward routing of a packet is not allowed",
    ),
    (
        "XfrmOutStateInvalid",
        "out_state_invalid",
        "State is invalid, perhaps expired",
    ),
    (
        "XfrmAcquireError",
        "acquire_error",
        "State hasn\u{2019}t been fully acquired before use",
    ),
];

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(Xfrm {
            path: context.paths.proc("net/xfrm_stat"),
        }))
    })
}

struct Xfrm {
    path: PathBuf,
}

/// The value of every known counter, in `STATS` order (0 when the file lacks it).
fn parse(text: &str) -> Result<Vec<i64>, String> {
    let mut values = vec![0; STATS.len()];
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, value] = fields[..] else {
            return Err(format!("unexpected line {line:?}"));
        };
        let value: i64 = value
            .parse()
            .map_err(|_| format!("{value:?} is not an integer"))?;
        if let Some(index) = STATS.iter().position(|(kernel, _, _)| *kernel == name) {
            values[index] = value;
        }
    }
    Ok(values)
}

impl Collector for Xfrm {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let values = parse(&text).map_err(|reason| CollectorError::parse(&self.path, reason))?;
        for ((_, name, help), value) in STATS.iter().zip(values) {
            out.push(
                MetricFamily::counter(format!("node_xfrm_{name}_packets_total"), *help)
                    .with(&[], value as f64),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_lines_and_rejects_garbage() {
        let values = parse("XfrmInError 1\nXfrmAcquireError   24532\nXfrmNew 9\n").unwrap();
        assert_eq!(values[0], 1);
        assert_eq!(values[STATS.len() - 1], 24532);
        assert_eq!(values[1], 0);
        assert!(parse("XfrmInError\n").is_err());
        assert!(parse("XfrmInError one\n").is_err());
        assert!(parse("").unwrap().iter().all(|v| *v == 0));
    }

    #[test]
    fn missing_file_fails_the_collector() {
        let collector = Xfrm {
            path: PathBuf::from("/nonexistent/xfrm_stat"),
        };
        assert!(collector.update(&mut Vec::new()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(\\PC{0,40}\n){0,5}") {
            let _ = parse(&text);
        }
    }
}
