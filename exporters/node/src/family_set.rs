//! Families a collector creates as it finds their first series: for collectors whose set of
//! families depends on what the host (or a fixture) has, one family per name.

use octo_exporter_kit::{MetricFamily, MetricType};

/// Families named `<prefix><name>`, each created by its first sample.
pub struct FamilySet {
    prefix: &'static str,
    /// The families so far, in the order their first samples came.
    pub families: Vec<MetricFamily>,
}

impl FamilySet {
    /// An empty set whose families are named `<prefix><name>`.
    pub fn new(prefix: &'static str) -> Self {
        FamilySet {
            prefix,
            families: Vec::new(),
        }
    }

    /// Adds a sample to family `<prefix><name>`, created with `help` and `kind` if it is new.
    pub fn push(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let prefix = self.prefix;
        let named = |family: &&mut MetricFamily| family.name.strip_prefix(prefix) == Some(name);
        match self.families.iter_mut().find(named) {
            Some(family) => family.push(labels, value),
            None => self.families.push(
                MetricFamily::new(format!("{prefix}{name}"), help.to_owned(), kind)
                    .with(labels, value),
            ),
        }
    }
}
