//! `performance_schema.table_io_waits_summary_by_index_usage`: I/O wait events and time per
//! index and operation (inserts only for `index="NONE"`, as upstream).

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::family::PICOSECONDS;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct IndexIoWaits;

const OPERATIONS: [&str; 4] = ["fetch", "insert", "update", "delete"];

impl Scraper for IndexIoWaits {
    fn min_version(&self) -> f64 {
        5.6
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut count = MetricFamily::counter(
                "mysql_perf_schema_index_io_waits_total",
                "The total number of index I/O wait events for each index and operation.",
            );
            let mut time = MetricFamily::counter(
                "mysql_perf_schema_index_io_waits_seconds_total",
                "The total time of index I/O wait events for each index and operation.",
            );
            db.for_each_row(
                "performance_schema.table_io_waits_summary_by_index_usage",
                "SELECT OBJECT_SCHEMA, OBJECT_NAME, ifnull(INDEX_NAME, 'NONE') as INDEX_NAME, \
                 COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, COUNT_DELETE, \
                 SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE, SUM_TIMER_DELETE \
                 FROM performance_schema.table_io_waits_summary_by_index_usage \
                 WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')",
                |_, row| {
                    let schema = row.as_ref(0).map(text).unwrap_or_default();
                    let name = row.as_ref(1).map(text).unwrap_or_default();
                    let index = row.as_ref(2).map(text).unwrap_or_default();
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    for (i, operation) in OPERATIONS.iter().enumerate() {
                        if *operation == "insert" && index != "NONE" {
                            continue;
                        }
                        let labels = [
                            ("schema", schema.as_str()),
                            ("name", name.as_str()),
                            ("index", index.as_str()),
                            ("operation", operation),
                        ];
                        count.push(&labels, value(3 + i));
                        time.push(&labels, value(7 + i) / PICOSECONDS);
                    }
                },
            )
            .await?;
            out.extend([count, time]);
            Ok(())
        })
    }
}
