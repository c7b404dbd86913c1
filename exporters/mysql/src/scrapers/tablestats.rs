//! `information_schema.table_statistics` (MariaDB and Percona with `userstat=1`): rows read and
//! changed per table.

use octo_exporter_kit::MetricFamily;

use super::counter_table::{CounterColumn, CounterTable, NonNumber};
use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use super::userstat::userstat_enabled;

pub struct TableStats;

const COLUMNS: [CounterColumn; 3] = [
    CounterColumn {
        name: "mysql_info_schema_table_statistics_rows_read_total",
        help: "The number of rows read from the table.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_table_statistics_rows_changed_total",
        help: "The number of rows changed in the table.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_table_statistics_rows_changed_x_indexes_total",
        help: "The number of rows changed in the table, multiplied by the number of indexes changed.",
        divisor: 1.0,
    },
];

const TABLE: CounterTable = CounterTable {
    what: "information_schema.table_statistics",
    sql: "SELECT TABLE_SCHEMA, TABLE_NAME, ROWS_READ, ROWS_CHANGED, ROWS_CHANGED_X_INDEXES \
          FROM information_schema.table_statistics",
    labels: &["schema", "table"],
    columns: &COLUMNS,
    // A NULL (nothing counted yet) reads as 0.
    non_number: NonNumber::Zero,
};

impl Scraper for TableStats {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            if userstat_enabled(db).await? != Some(true) {
                return Ok(());
            }
            TABLE.scrape(db, out).await
        })
    }
}
