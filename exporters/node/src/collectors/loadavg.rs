//! `loadavg`: `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.
//!
//! The smallest collector, and the pattern the others follow: flags (none here), `build` from the
//! flags and paths, `update` reading through [`Paths`], a parser that never panics, unit tests
//! on real and garbage input.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_string;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Loadavg {
        path: paths.proc("loadavg"),
    }))
}

struct Loadavg {
    path: PathBuf,
}

/// The three load averages at the start of `/proc/loadavg`.
fn parse(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

impl Collector for Loadavg {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let text = read_string(&self.path)?;
        let [one, five, fifteen] = parse(&text).ok_or_else(|| {
            CollectorError::parse(&self.path, format!("unexpected content {:?}", text.trim()))
        })?;
        out.push(MetricFamily::gauge("node_load1", "1m load average.").with(&[], one));
        out.push(MetricFamily::gauge("node_load5", "5m load average.").with(&[], five));
        out.push(MetricFamily::gauge("node_load15", "15m load average.").with(&[], fifteen));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_format() {
        assert_eq!(
            parse("0.21 0.37 0.39 1/719 19737\n"),
            Some([0.21, 0.37, 0.39])
        );
        assert_eq!(parse("0.21 0.37"), None);
        assert_eq!(parse("a b c"), None);
        assert_eq!(parse(""), None);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }
    }
}
