//! `entropy`: `node_entropy_available_bits` and `node_entropy_pool_size_bits` from
//! `/proc/sys/kernel/random/{entropy_avail,poolsize}`.

use std::path::PathBuf;

use octo_exporter_kit::{FlagSet, MetricFamily};

use crate::collector::{BuildError, Builder, Collector, CollectorError};
use crate::paths::Paths;
use crate::read::read_u64;

pub fn declare(_set: &mut FlagSet) -> Builder {
    Box::new(|context| build(context.paths))
}

fn build(paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Entropy {
        available: paths.proc("sys/kernel/random/entropy_avail"),
        pool_size: paths.proc("sys/kernel/random/poolsize"),
    }))
}

struct Entropy {
    available: PathBuf,
    pool_size: PathBuf,
}

impl Collector for Entropy {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let available = read_u64(&self.available).map_err(CollectorError::not_found_as_no_data)?;
        out.push(
            MetricFamily::gauge("node_entropy_available_bits", "Bits of available entropy.")
                .with(&[], available as f64),
        );
        let pool_size = read_u64(&self.pool_size).map_err(CollectorError::not_found_as_no_data)?;
        out.push(
            MetricFamily::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.")
                .with(&[], pool_size as f64),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_files_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let collector = Entropy {
            available: dir.path().join("entropy_avail"),
            pool_size: dir.path().join("poolsize"),
        };
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::NoData)
        ));
        std::fs::write(&collector.available, "1337\n").unwrap();
        std::fs::write(&collector.pool_size, "4096\n").unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert_eq!(out[0].samples[0].value, 1337.0);
        assert_eq!(out[1].samples[0].value, 4096.0);
        std::fs::write(&collector.pool_size, "many\n").unwrap();
        assert!(matches!(
            collector.update(&mut Vec::new()),
            Err(CollectorError::Parse { .. })
        ));
    }

    #[test]
    fn live_host() {
        let paths = Paths::default();
        let collector = Entropy {
            available: paths.proc("sys/kernel/random/entropy_avail"),
            pool_size: paths.proc("sys/kernel/random/poolsize"),
        };
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        assert!(out[1].samples[0].value > 0.0);
    }
}
