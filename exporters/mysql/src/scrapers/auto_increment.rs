//! Current and maximum values of every auto_increment column, from information_schema.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct AutoIncrementColumns;

const QUERY: &str = "SELECT c.table_schema, c.table_name, column_name, auto_increment, \
    pow(2, case data_type when 'tinyint' then 7 when 'smallint' then 15 when 'mediumint' then 23 \
    when 'int' then 31 when 'bigint' then 63 end+(column_type like '% unsigned'))-1 as max_int \
    FROM information_schema.columns c STRAIGHT_JOIN information_schema.tables t \
    ON (BINARY c.table_schema=t.table_schema AND BINARY c.table_name=t.table_name) \
    WHERE c.extra = 'auto_increment' AND t.auto_increment IS NOT NULL";

impl Scraper for AutoIncrementColumns {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut current = MetricFamily::gauge(
                "mysql_info_schema_auto_increment_column",
                "The current value of an auto_increment column from information_schema.",
            );
            let mut max = MetricFamily::gauge(
                "mysql_info_schema_auto_increment_column_max",
                "The max value of an auto_increment column from information_schema.",
            );
            db.for_each_row("auto_increment columns", QUERY, |_, row| {
                let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                let (schema, table, column) = (field(0), field(1), field(2));
                let labels = [
                    ("schema", schema.as_str()),
                    ("table", table.as_str()),
                    ("column", column.as_str()),
                ];
                // Types without a known maximum (decimal) give NULL; upstream fails there.
                if let (Some(value), Some(limit)) = (
                    row.as_ref(3).and_then(number),
                    row.as_ref(4).and_then(number),
                ) {
                    current.push(&labels, value);
                    max.push(&labels, limit);
                }
            })
            .await?;
            out.extend([current, max]);
            Ok(())
        })
    }
}
