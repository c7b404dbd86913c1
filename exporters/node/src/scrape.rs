//! One scrape: the selected collectors run one after another, each one's outcome recorded.

use std::time::Instant;

use octo_exporter_kit::MetricFamily;
use octo_exporter_kit::selfmetrics::CollectorOutcomes;

use crate::collector::{Collector, CollectorError};

/// A collector that is on and built.
pub struct Enabled {
    pub name: &'static str,
    pub collector: Box<dyn Collector>,
}

/// Runs the given collectors one after another and returns their families plus
/// `node_scrape_collector_{duration_seconds,success}`. A collector that fails (or panics on a
/// bug) is logged and reported with success 0; the others are unaffected.
pub fn run<'a>(collectors: impl IntoIterator<Item = &'a Enabled>) -> Vec<MetricFamily> {
    let mut families = Vec::with_capacity(256);
    let mut outcomes = CollectorOutcomes::new(
        "node_scrape_collector",
        "node_exporter: Duration of a collector scrape.",
        "node_exporter: Whether a collector succeeded.",
    );
    for enabled in collectors {
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            enabled.collector.update(&mut families)
        }));
        let seconds = started.elapsed().as_secs_f64();
        let success = match result {
            Ok(Ok(())) => true,
            Ok(Err(CollectorError::NoData)) => {
                tracing::debug!(
                    name = enabled.name,
                    duration_seconds = seconds,
                    "collector returned no data"
                );
                false
            }
            Ok(Err(err)) => {
                tracing::error!(name = enabled.name, duration_seconds = seconds, err = %err, "collector failed");
                false
            }
            Err(_) => {
                tracing::error!(
                    name = enabled.name,
                    "collector panicked; this is a bug, please report it"
                );
                false
            }
        };
        outcomes.record(enabled.name, seconds, success);
    }
    families.extend(outcomes.families());
    crate::kept_files::scrape_done();
    families
}
