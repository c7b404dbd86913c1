//! `information_schema.table_statistics` summed per schema (MariaDB and Percona with
//! `userstat=1`).

use octo_exporter_kit::MetricFamily;

use super::statistics::userstat_enabled;
use super::{Db, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct SchemaStats;

impl Scraper for SchemaStats {
    fn name(&self) -> &'static str {
        "info_schema.schemastats"
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            if userstat_enabled(db).await? != Some(true) {
                return Ok(());
            }
            let mut families = [
                MetricFamily::counter(
                    "mysql_info_schema_schema_statistics_rows_read_total",
                    "The number of rows read from the schema.",
                ),
                MetricFamily::counter(
                    "mysql_info_schema_schema_statistics_rows_changed_total",
                    "The number of rows changed in the schema.",
                ),
                MetricFamily::counter(
                    "mysql_info_schema_schema_statistics_rows_changed_x_indexes_total",
                    "The number of rows changed in the schema, multiplied by the number of indexes changed.",
                ),
            ];
            db.for_each_row(
                "information_schema.table_statistics",
                "SELECT TABLE_SCHEMA, SUM(ROWS_READ), SUM(ROWS_CHANGED), SUM(ROWS_CHANGED_X_INDEXES) \
                 FROM information_schema.TABLE_STATISTICS GROUP BY TABLE_SCHEMA",
                |_, row| {
                    let schema = row.as_ref(0).map(text).unwrap_or_default();
                    for (i, family) in families.iter_mut().enumerate() {
                        let value = row.as_ref(i + 1).and_then(number).unwrap_or(0.0);
                        family.push(&[("schema", &schema)], value);
                    }
                },
            )
            .await?;
            out.extend(families);
            Ok(())
        })
    }
}
