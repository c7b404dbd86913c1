//! `SHOW BINARY LOGS`: total size and number of binary logs, and the number of the last one.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct BinlogSize;

impl Scraper for BinlogSize {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let log_bin = db.first_row("@@log_bin", "SELECT @@log_bin").await?;
            if log_bin
                .as_ref()
                .and_then(|r| r.as_ref(0))
                .and_then(number)
                .unwrap_or(0.0)
                == 0.0
            {
                return Ok(());
            }
            let (mut size, mut files, mut last_name) = (0.0, 0.0, String::new());
            db.for_each_row("SHOW BINARY LOGS", "SHOW BINARY LOGS", |_, row| {
                size += row.as_ref(1).and_then(number).unwrap_or(0.0);
                files += 1.0;
                last_name = row.as_ref(0).map(text).unwrap_or_default();
            })
            .await?;
            out.push(
                MetricFamily::gauge(
                    "mysql_binlog_size_bytes",
                    "Combined size of all registered binlog files.",
                )
                .with(&[], size),
            );
            out.push(
                MetricFamily::gauge("mysql_binlog_files", "Number of registered binlog files.")
                    .with(&[], files),
            );
            // `mariadb-bin.000042` -> 42 (upstream takes what follows the first dot).
            let number = last_name
                .split('.')
                .nth(1)
                .and_then(crate::parse::parse_go_float)
                .unwrap_or(0.0);
            out.push(
                MetricFamily::gauge("mysql_binlog_file_number", "The last binlog file number.")
                    .with(&[], number),
            );
            Ok(())
        })
    }
}
