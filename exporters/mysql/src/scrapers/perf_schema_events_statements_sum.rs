//! Grand sums over `performance_schema.events_statements_summary_by_digest`.

use std::sync::LazyLock;

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::number;

pub struct EventsStatementsSum;

/// (summed column, metric suffix, help).
const COLUMNS: [(&str, &str, &str); 21] = [
    (
        "COUNT_STAR",
        "total",
        "The total count of events statements.",
    ),
    (
        "SUM_CREATED_TMP_DISK_TABLES",
        "created_tmp_disk_tables",
        "The number of on-disk temporary tables created.",
    ),
    (
        "SUM_CREATED_TMP_TABLES",
        "created_tmp_tables",
        "The number of temporary tables created.",
    ),
    ("SUM_ERRORS", "errors", "Number of errors."),
    (
        "SUM_LOCK_TIME",
        "lock_time",
        "Time in picoseconds spent waiting for locks.",
    ),
    (
        "SUM_NO_GOOD_INDEX_USED",
        "no_good_index_used",
        "Number of times no good index was found.",
    ),
    (
        "SUM_NO_INDEX_USED",
        "no_index_used",
        "Number of times no index was found.",
    ),
    (
        "SUM_ROWS_AFFECTED",
        "rows_affected",
        "Number of rows affected by statements.",
    ),
    (
        "SUM_ROWS_EXAMINED",
        "rows_examined",
        "Number of rows read during statements' execution.",
    ),
    ("SUM_ROWS_SENT", "rows_sent", "Number of rows returned."),
    (
        "SUM_SELECT_FULL_JOIN",
        "select_full_join",
        "Number of joins performed by statements which did not use an index.",
    ),
    (
        "SUM_SELECT_FULL_RANGE_JOIN",
        "select_full_range_join",
        "Number of joins performed by statements which used a range search of the first table.",
    ),
    (
        "SUM_SELECT_RANGE",
        "select_range",
        "Number of joins performed by statements which used a range of the first table.",
    ),
    (
        "SUM_SELECT_RANGE_CHECK",
        "select_range_check",
        "Number of joins without keys performed by statements that check for key usage after each row.",
    ),
    (
        "SUM_SELECT_SCAN",
        "select_scan",
        "Number of joins performed by statements which used a full scan of the first table.",
    ),
    (
        "SUM_SORT_MERGE_PASSES",
        "sort_merge_passes",
        "Number of merge passes by the sort algorithm performed by statements.",
    ),
    (
        "SUM_SORT_RANGE",
        "sort_range",
        "Number of sorts performed by statements which used a range.",
    ),
    ("SUM_SORT_ROWS", "sort_rows", "Number of rows sorted."),
    (
        "SUM_SORT_SCAN",
        "sort_scan",
        "Number of sorts performed by statements which used a full table scan.",
    ),
    (
        "SUM_TIMER_WAIT",
        "timer_wait",
        "Total wait time of the summarized events that are timed.",
    ),
    ("SUM_WARNINGS", "warnings", "Number of warnings."),
];

static SQL: LazyLock<String> = LazyLock::new(|| {
    let sums: Vec<String> = COLUMNS.iter().map(|(c, ..)| format!("SUM({c})")).collect();
    format!(
        "SELECT {} FROM performance_schema.events_statements_summary_by_digest",
        sums.join(", ")
    )
});

impl Scraper for EventsStatementsSum {
    fn min_version(&self) -> f64 {
        5.7
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let row = db
                .first_row(
                    "performance_schema.events_statements_summary_by_digest",
                    &SQL,
                )
                .await?;
            let Some(row) = row else {
                return Ok(());
            };
            for (i, (_, suffix, help)) in COLUMNS.iter().enumerate() {
                // An empty digest table sums to NULL: that is zero statements, not an error.
                let value = row.as_ref(i).and_then(number).unwrap_or(0.0);
                out.push(
                    MetricFamily::counter(
                        format!("mysql_perf_schema_events_statements_sum_{suffix}"),
                        *help,
                    )
                    .with(&[], value),
                );
            }
            Ok(())
        })
    }
}
