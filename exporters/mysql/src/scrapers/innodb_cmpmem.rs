//! `information_schema.innodb_cmpmem`: compressed buffer pool blocks per page size and pool.

use octo_exporter_kit::MetricFamily;

use super::counter_table::{CounterColumn, CounterTable, NonNumber};
use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};

pub struct InnodbCmpMem;

const QUERY: &str = "SELECT page_size, buffer_pool_instance, pages_used, pages_free, \
                     relocation_ops, relocation_time FROM information_schema.innodb_cmpmem";

const COLUMNS: [CounterColumn; 4] = [
    CounterColumn {
        name: "mysql_info_schema_innodb_cmpmem_pages_used_total",
        help: "Number of blocks of the size PAGE_SIZE that are currently in use.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmpmem_pages_free_total",
        help: "Number of blocks of the size PAGE_SIZE that are currently available for allocation.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmpmem_relocation_ops_total",
        help: "Number of times a block of the size PAGE_SIZE has been relocated.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total",
        help: "Total time in seconds spent in relocating blocks.",
        divisor: 1000.0,
    },
];

const TABLE: CounterTable = CounterTable {
    what: "information_schema.innodb_cmpmem",
    sql: QUERY,
    labels: &["page_size", "buffer_pool"],
    columns: &COLUMNS,
    non_number: NonNumber::FailsScraper,
};

impl Scraper for InnodbCmpMem {
    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(TABLE.scrape(db, out))
    }
}
