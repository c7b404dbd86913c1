//! `performance_schema.table_lock_waits_summary_by_table`: SQL and external lock waits per
//! table and operation.

use std::sync::LazyLock;

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::family::PICOSECONDS;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct TableLockWaits;

/// (column suffix, operation label, external lock?) in upstream's order.
const OPERATIONS: [(&str, &str, bool); 10] = [
    ("READ_NORMAL", "read_normal", false),
    ("READ_WITH_SHARED_LOCKS", "read_with_shared_locks", false),
    ("READ_HIGH_PRIORITY", "read_high_priority", false),
    ("READ_NO_INSERT", "read_no_insert", false),
    ("READ_EXTERNAL", "read", true),
    ("WRITE_ALLOW_WRITE", "write_allow_write", false),
    ("WRITE_CONCURRENT_INSERT", "write_concurrent_insert", false),
    ("WRITE_LOW_PRIORITY", "write_low_priority", false),
    ("WRITE_NORMAL", "write_normal", false),
    ("WRITE_EXTERNAL", "write", true),
];

/// The counts, then the timers, of every operation.
static SQL: LazyLock<String> = LazyLock::new(|| {
    let counts: Vec<String> = OPERATIONS
        .iter()
        .map(|(c, ..)| format!("COUNT_{c}"))
        .collect();
    let timers: Vec<String> = OPERATIONS
        .iter()
        .map(|(c, ..)| format!("SUM_TIMER_{c}"))
        .collect();
    format!(
        "SELECT OBJECT_SCHEMA, OBJECT_NAME, {}, {} FROM performance_schema.table_lock_waits_summary_by_table \
         WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema', 'information_schema')",
        counts.join(", "),
        timers.join(", ")
    )
});

impl Scraper for TableLockWaits {
    fn min_version(&self) -> f64 {
        5.6
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut sql_count = MetricFamily::counter(
                "mysql_perf_schema_sql_lock_waits_total",
                "The total number of SQL lock wait events for each table and operation.",
            );
            let mut external_count = MetricFamily::counter(
                "mysql_perf_schema_external_lock_waits_total",
                "The total number of external lock wait events for each table and operation.",
            );
            let mut sql_time = MetricFamily::counter(
                "mysql_perf_schema_sql_lock_waits_seconds_total",
                "The total time of SQL lock wait events for each table and operation.",
            );
            let mut external_time = MetricFamily::counter(
                "mysql_perf_schema_external_lock_waits_seconds_total",
                "The total time of external lock wait events for each table and operation.",
            );
            db.for_each_row(
                "performance_schema.table_lock_waits_summary_by_table",
                &SQL,
                |_, row| {
                    let schema = row.as_ref(0).map(text).unwrap_or_default();
                    let name = row.as_ref(1).map(text).unwrap_or_default();
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    for (i, (_, operation, external)) in OPERATIONS.iter().enumerate() {
                        let labels = [
                            ("schema", schema.as_str()),
                            ("name", name.as_str()),
                            ("operation", operation),
                        ];
                        let (count, time) = if *external {
                            (&mut external_count, &mut external_time)
                        } else {
                            (&mut sql_count, &mut sql_time)
                        };
                        count.push(&labels, value(2 + i));
                        time.push(&labels, value(2 + OPERATIONS.len() + i) / PICOSECONDS);
                    }
                },
            )
            .await?;
            out.extend([sql_count, external_count, sql_time, external_time]);
            Ok(())
        })
    }
}
