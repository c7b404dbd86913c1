//! Small helpers for building families the way several scrapers need them.

use octo_exporter_kit::{MetricFamily, MetricType, Sample};

/// Picoseconds per second: performance_schema timers count picoseconds.
pub const PICOSECONDS: f64 = 1e12;

/// A family with one unlabelled sample, allocated to fit: the generic status and variable
/// families number in the hundreds per scrape, and `MetricFamily::push` would reserve room for
/// four samples in each.
pub fn single(prefix: &str, name: &str, help: &str, kind: MetricType, value: f64) -> MetricFamily {
    let mut full_name = String::with_capacity(prefix.len() + name.len());
    full_name.push_str(prefix);
    full_name.push_str(name);
    MetricFamily {
        name: full_name.into(),
        help: help.to_owned().into(),
        kind,
        samples: vec![Sample {
            suffix: "",
            shared: None,
            labels: Vec::new(),
            value,
        }],
    }
}
