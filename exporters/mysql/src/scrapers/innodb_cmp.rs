//! `information_schema.innodb_cmp`: compression counters per page size.

use octo_exporter_kit::MetricFamily;

use super::counter_table::{CounterColumn, CounterTable, NonNumber};
use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};

pub struct InnodbCmp;

const QUERY: &str = "SELECT page_size, compress_ops, compress_ops_ok, compress_time, \
                     uncompress_ops, uncompress_time FROM information_schema.innodb_cmp";

const COLUMNS: [CounterColumn; 5] = [
    CounterColumn {
        name: "mysql_info_schema_innodb_cmp_compress_ops_total",
        help: "Number of times a B-tree page of the size PAGE_SIZE has been compressed.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmp_compress_ops_ok_total",
        help: "Number of times a B-tree page of the size PAGE_SIZE has been successfully compressed.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmp_compress_time_seconds_total",
        help: "Total time in seconds spent in attempts to compress B-tree pages.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmp_uncompress_ops_total",
        help: "Number of times a B-tree page of the size PAGE_SIZE has been uncompressed.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total",
        help: "Total time in seconds spent in uncompressing B-tree pages.",
        divisor: 1.0,
    },
];

const TABLE: CounterTable = CounterTable {
    what: "information_schema.innodb_cmp",
    sql: QUERY,
    labels: &["page_size"],
    columns: &COLUMNS,
    non_number: NonNumber::FailsScraper,
};

impl Scraper for InnodbCmp {
    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(TABLE.scrape(db, out))
    }
}
