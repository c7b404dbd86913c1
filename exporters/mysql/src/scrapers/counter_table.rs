//! A table of counters, one family per value column, as several performance_schema and
//! information_schema scrapers read them.

use octo_exporter_kit::MetricFamily;

use super::db::{Db, ScrapeError};
use crate::parse::{number, text};

/// One counter family per value column of a table.
pub struct CounterColumn {
    pub name: &'static str,
    pub help: &'static str,
    /// What the column's value is divided by, as upstream divides (1000 for milliseconds to
    /// seconds), usually 1.
    pub divisor: f64,
}

/// What a counter column's value that is not a number (NULL, text) does.
pub enum NonNumber {
    /// Fails the scraper, as upstream's row scan into an integer does.
    FailsScraper,
    /// Counts as 0, where upstream's query cannot yield anything else.
    Zero,
}

/// A table whose first `labels.len()` columns name a row and whose following columns are
/// counters, `columns[i]` from column `labels.len() + i`.
pub struct CounterTable {
    pub what: &'static str,
    pub sql: &'static str,
    pub labels: &'static [&'static str],
    pub columns: &'static [CounterColumn],
    pub non_number: NonNumber,
}

impl CounterTable {
    pub async fn scrape(
        &self,
        db: &mut Db,
        out: &mut Vec<MetricFamily>,
    ) -> Result<(), ScrapeError> {
        let labels = self.labels;
        let mut families: Vec<MetricFamily> = self
            .columns
            .iter()
            .map(|column| MetricFamily::counter(column.name, column.help))
            .collect();
        let mut bad = None;
        db.for_each_row(self.what, self.sql, |_, row| {
            let values: Vec<String> = (0..labels.len())
                .map(|i| row.as_ref(i).map(text).unwrap_or_default())
                .collect();
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .zip(&values)
                .map(|(label, value)| (*label, value.as_str()))
                .collect();
            for (i, (family, column)) in families.iter_mut().zip(self.columns).enumerate() {
                let index = labels.len() + i;
                let value = match (row.as_ref(index).and_then(number), &self.non_number) {
                    (Some(value), _) => value,
                    (None, NonNumber::Zero) => 0.0,
                    (None, NonNumber::FailsScraper) => {
                        bad = Some(format!("{}: column {index} is not a number", self.what));
                        continue;
                    }
                };
                family.push(&pairs, value / column.divisor);
            }
        })
        .await?;
        if let Some(message) = bad {
            return Err(ScrapeError::Data(message));
        }
        out.extend(families);
        Ok(())
    }
}
