//! `filefd`: `node_filefd_allocated` and `node_filefd_maximum` from `/proc/sys/fs/file-nr`
//! (three tab-separated numbers: allocated, unused (always 0 since 2.6), maximum).

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Filefd {
        path: paths.proc("sys/fs/file-nr"),
    }))
}

struct Filefd {
    path: PathBuf,
}

/// (allocated, maximum).
fn parse(text: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = text.trim().split('\t').collect();
    let [allocated, _, maximum, ..] = parts.as_slice() else {
        return Err(format!(
            "unexpected number of file stats in {:?}",
            text.trim()
        ));
    };
    let number = |value: &str| {
        value
            .parse::<f64>()
            .map_err(|_| format!("invalid value {value:?} in file-nr"))
    };
    Ok((number(allocated)?, number(maximum)?))
}

impl Collector for Filefd {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let (allocated, maximum) = parse(&text).map_err(|reason| {
            CollectorError::parse(&self.path, format!("couldn't get file-nr: {reason}"))
        })?;
        out.push(
            MetricFamily::gauge(
                "node_filefd_allocated",
                "File descriptor statistics: allocated.",
            )
            .with(&[], allocated),
        );
        out.push(
            MetricFamily::gauge(
                "node_filefd_maximum",
                "File descriptor statistics: maximum.",
            )
            .with(&[], maximum),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_format() {
        assert_eq!(parse("1024\t0\t1631329\n").unwrap(), (1024.0, 1631329.0));
        assert!(parse("1024 0 1631329\n").is_err());
        assert!(parse("1024\t0\n").is_err());
        assert!(parse("a\t0\tb\n").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn live_host() {
        let text = std::fs::read_to_string("/proc/sys/fs/file-nr").unwrap();
        let (allocated, maximum) = parse(&text).unwrap();
        assert!(allocated > 0.0 && maximum >= allocated);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "[0-9a-z\t \n.]{0,40}") {
            let _ = parse(&text);
        }
    }
}
