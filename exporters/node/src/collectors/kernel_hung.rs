//! `kernel_hung`: `node_kernel_hung_tasks_total` from `/proc/sys/kernel/hung_task_detect_count`
//! (present when the kernel is built with `CONFIG_DETECT_HUNG_TASK`).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{Builder, Collector, CollectorError};
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| {
        Ok(Box::new(KernelHung {
            path: context.paths.proc("sys/kernel/hung_task_detect_count"),
        }))
    })
}

struct KernelHung {
    path: PathBuf,
}

/// The counter's text as procfs parses it (`strconv.ParseUint(.., 10, 64)` after trimming):
/// digits only, no sign.
fn parse_count(text: &str) -> Option<u64> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Collector for KernelHung {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path).map_err(CollectorError::not_found_as_no_data)?;
        let count = parse_count(&text).ok_or_else(|| {
            CollectorError::parse(&self.path, format!("{text:?} is not an unsigned integer"))
        })?;
        out.push(
            MetricFamily::counter(
                "node_kernel_hung_tasks_total",
                "Total number of tasks that have been detected as hung since the system booted.",
            )
            .with(&[], count as f64),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_count_and_fails_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let collector = KernelHung {
            path: dir.path().join("hung_task_detect_count"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::write(&collector.path, "42\n").unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[0].samples[0].value, 42.0);
        std::fs::write(&collector.path, "-1\n").unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in ".{0,40}") {
            let parsed = parse_count(&text);
            if let Some(value) = parsed {
                prop_assert_eq!(value.to_string().len() <= text.trim().len(), true);
            }
        }
    }
}
