//! `performance_schema.file_summary_by_instance`: reads, writes and bytes per file, filtered by
//! a regular expression the server applies.

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::Db;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use super::sql::sql_string;
use crate::parse::{number, text};

pub struct FileInstances {
    filter: String,
    remove_prefix: String,
}

/// Declares the file filter and prefix options; the builder reads them through their handles.
pub fn declare(set: &mut FlagSet) -> Builder {
    let filter = set.string(
        "collect.perf_schema.file_instances.filter",
        ".*",
        "RegEx file_name filter for performance_schema.file_summary_by_instance",
    );
    let remove_prefix = set.string(
        "collect.perf_schema.file_instances.remove_prefix",
        "/var/lib/mysql/",
        "Remove path prefix in performance_schema.file_summary_by_instance",
    );
    Box::new(move |flags| {
        Ok(Box::new(FileInstances {
            filter: flags.get(filter).to_owned(),
            remove_prefix: flags.get(remove_prefix).to_owned(),
        }))
    })
}

impl Scraper for FileInstances {
    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = format!(
                "SELECT FILE_NAME, EVENT_NAME, COUNT_READ, COUNT_WRITE, SUM_NUMBER_OF_BYTES_READ, \
                 SUM_NUMBER_OF_BYTES_WRITE FROM performance_schema.file_summary_by_instance \
                 WHERE FILE_NAME REGEXP {}",
                sql_string(&self.filter)
            );
            let mut count = MetricFamily::counter(
                "mysql_perf_schema_file_instances_total",
                "The total number of file read/write operations.",
            );
            let mut bytes = MetricFamily::counter(
                "mysql_perf_schema_file_instances_bytes",
                "The number of bytes processed by file read/write operations.",
            );
            db.for_each_row(
                "performance_schema.file_summary_by_instance",
                &sql,
                |_, row| {
                    let raw = row.as_ref(0).map(text).unwrap_or_default();
                    let file = raw
                        .strip_prefix(self.remove_prefix.as_str())
                        .unwrap_or(&raw);
                    let event = row.as_ref(1).map(text).unwrap_or_default();
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    for (mode, offset) in [("read", 0), ("write", 1)] {
                        let labels = [
                            ("file_name", file),
                            ("event_name", event.as_str()),
                            ("mode", mode),
                        ];
                        count.push(&labels, value(2 + offset));
                        bytes.push(&labels, value(4 + offset));
                    }
                },
            )
            .await?;
            out.extend([count, bytes]);
            Ok(())
        })
    }
}
