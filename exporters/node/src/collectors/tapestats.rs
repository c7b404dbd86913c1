//! `tapestats`: SCSI tape drive statistics from `<sysfs>/class/scsi_tape/st<N>/stats/`
//! (`node_tape_*{device}`), minus the devices `--collector.tapestats.ignored-devices` matches.
//!
//! Hand-written (procfs-core reads no sysfs), following upstream procfs: every file of the
//! `stats` directory is read; the known ones must hold an unsigned number in Go's base-0 syntax,
//! or the collector fails. No `scsi_tape` class is "no data".

use std::path::{Path, PathBuf};

use octo_exporter_kit::{Flag, FlagSet, MetricFamily};
use regex_lite::Regex;

use crate::collector::{Builder, Collector, CollectorError};
use crate::device_filter::compile_regex;
use crate::sysfs::{go_trim_space, parse_go_uint, sys_read_file, to_valid_utf8};

pub fn declare(set: &mut FlagSet) -> Builder {
    let ignored: Flag<String> = set.string(
        "collector.tapestats.ignored-devices",
        "^$",
        "Regexp of devices to ignore for tapestats.",
    );
    Box::new(move |context| {
        let flags = context.flags;
        Ok(Box::new(Tapestats {
            class: context.paths.sys("class/scsi_tape"),
            ignored: compile_regex(flags.name(ignored), flags.get(ignored))?,
        }))
    })
}

struct Tapestats {
    class: PathBuf,
    ignored: Regex,
}

/// The stats files: (file, family, help, counter, scale to the family's unit).
const COUNTERS: [(&str, &str, &str, bool, f64); 10] = [
    (
        "in_flight",
        "node_tape_io_now",
        "The number of I/Os currently outstanding to this device.",
        false,
        1.0,
    ),
    (
        "io_ns",
        "node_tape_io_time_seconds_total",
        "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.",
        true,
        1e-9,
    ),
    (
        "other_cnt",
        "node_tape_io_others_total",
        "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
        true,
        1.0,
    ),
    (
        "read_byte_cnt",
        "node_tape_read_bytes_total",
        "The number of bytes read from the tape drive.",
        true,
        1.0,
    ),
    (
        "read_cnt",
        "node_tape_reads_completed_total",
        "The number of read requests issued to the tape drive.",
        true,
        1.0,
    ),
    (
        "read_ns",
        "node_tape_read_time_seconds_total",
        "The amount of time spent waiting for read requests to complete.",
        true,
        1e-9,
    ),
    (
        "resid_cnt",
        "node_tape_residual_total",
        "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.",
        true,
        1.0,
    ),
    (
        "write_byte_cnt",
        "node_tape_written_bytes_total",
        "The number of bytes written to the tape drive.",
        true,
        1.0,
    ),
    (
        "write_cnt",
        "node_tape_writes_completed_total",
        "The number of write requests issued to the tape drive.",
        true,
        1.0,
    ),
    (
        "write_ns",
        "node_tape_write_time_seconds_total",
        "The amount of time spent waiting for write requests to complete.",
        true,
        1e-9,
    ),
];

/// `st<digits>`: the rewinding device of each drive (not `nst0`, `st0a`, ...).
fn is_tape(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The counters of one drive's `stats` directory, in [`COUNTERS`] order; absent ones are 0.
fn read_counters(stats: &Path) -> Result<[u64; 10], CollectorError> {
    let mut values = [0u64; 10];
    let entries = std::fs::read_dir(stats).map_err(|err| CollectorError::io(stats, err))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let bytes = sys_read_file(&path).map_err(|err| CollectorError::io(&path, err))?;
        let name = entry.file_name();
        let Some(index) = COUNTERS.iter().position(|(file, ..)| name == *file) else {
            continue;
        };
        let text = to_valid_utf8(go_trim_space(&bytes));
        values[index] = parse_go_uint(&text).ok_or_else(|| {
            CollectorError::parse(&path, format!("{text:?} is not an unsigned integer"))
        })?;
    }
    Ok(values)
}

impl Collector for Tapestats {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let entries = match std::fs::read_dir(&self.class) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("scsi_tape stats not found, skipping");
                return Err(CollectorError::NoData);
            }
            Err(err) => return Err(CollectorError::io(&self.class, err)),
        };
        let mut tapes: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| is_tape(name))
            .collect();
        tapes.sort();
        let mut readings = Vec::with_capacity(tapes.len());
        for tape in tapes {
            let values = read_counters(&self.class.join(&tape).join("stats"))?;
            readings.push((tape, values));
        }
        let mut families: Vec<MetricFamily> = COUNTERS
            .iter()
            .map(|(_, name, help, counter, _)| {
                if *counter {
                    MetricFamily::counter(*name, *help)
                } else {
                    MetricFamily::gauge(*name, *help)
                }
            })
            .collect();
        for (tape, values) in readings {
            if self.ignored.is_match(&tape) {
                tracing::debug!(device = %tape, "Ignoring device");
                continue;
            }
            for ((.., scale), (family, value)) in
                COUNTERS.iter().zip(families.iter_mut().zip(values))
            {
                family.push(&[("device", &tape)], value as f64 * scale);
            }
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{run_on_sysfs, write};

    fn tape(sys: &Path, name: &str, read_ns: &str) {
        let stats = sys.join("class/scsi_tape").join(name).join("stats");
        write(&stats.join("read_ns"), read_ns);
        write(&stats.join("write_cnt"), "0x10\n");
        write(&stats.join("unknown"), "whatever\n");
    }

    #[test]
    fn reads_tapes_and_ignores_devices() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        tape(sys, "st0", "33788355744\n");
        tape(sys, "st1", "1\n");
        tape(sys, "nst0", "garbage\n");
        let (result, lines) = run_on_sysfs(
            declare,
            sys,
            &["--collector.tapestats.ignored-devices=^st1$"],
        );
        result.unwrap();
        assert_eq!(lines.len(), 10);
        assert!(
            lines.contains(&"node_tape_read_time_seconds_total device=st0 33.788355744".into())
        );
        assert!(lines.contains(&"node_tape_writes_completed_total device=st0 16".into()));
        tape(sys, "st1", "-1\n");
        let (result, _) = run_on_sysfs(declare, sys, &[]);
        assert!(matches!(result, Err(CollectorError::Parse { .. })));
    }

    #[test]
    fn no_class_is_no_data_and_bad_regex_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = run_on_sysfs(declare, dir.path(), &[]);
        assert!(matches!(result, Err(CollectorError::NoData)));
        let paths = crate::paths::Paths::default();
        assert!(
            crate::collectors::testing::build(
                declare,
                &paths,
                &["--collector.tapestats.ignored-devices=("]
            )
            .is_err()
        );
    }

    #[test]
    fn go_unsigned_syntax() {
        assert_eq!(parse_go_uint("0x10"), Some(16));
        assert_eq!(parse_go_uint("010"), Some(8));
        assert_eq!(parse_go_uint("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_go_uint("+1"), None);
        assert_eq!(parse_go_uint(""), None);
        assert!(is_tape("st12") && !is_tape("st") && !is_tape("st0a") && !is_tape("nst0"));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in ".{0,30}") {
            let _ = parse_go_uint(&text);
            let _ = is_tape(&text);
        }

        #[test]
        fn truncation_never_panics(cut in 0usize..12) {
            let text = "0x1234567890";
            let _ = parse_go_uint(&text[..cut.min(text.len())]);
        }
    }
}
