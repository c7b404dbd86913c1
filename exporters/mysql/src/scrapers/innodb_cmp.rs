//! `information_schema.innodb_cmp`: compression counters per page size.

use octo_exporter_kit::MetricFamily;

use super::{Db, ScrapeError, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct InnodbCmp;

const QUERY: &str = "SELECT page_size, compress_ops, compress_ops_ok, compress_time, \
                     uncompress_ops, uncompress_time FROM information_schema.innodb_cmp";

const FAMILIES: [(&str, &str); 5] = [
    (
        "mysql_info_schema_innodb_cmp_compress_ops_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been compressed.",
    ),
    (
        "mysql_info_schema_innodb_cmp_compress_ops_ok_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been successfully compressed.",
    ),
    (
        "mysql_info_schema_innodb_cmp_compress_time_seconds_total",
        "Total time in seconds spent in attempts to compress B-tree pages.",
    ),
    (
        "mysql_info_schema_innodb_cmp_uncompress_ops_total",
        "Number of times a B-tree page of the size PAGE_SIZE has been uncompressed.",
    ),
    (
        "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total",
        "Total time in seconds spent in uncompressing B-tree pages.",
    ),
];

impl Scraper for InnodbCmp {
    fn name(&self) -> &'static str {
        "info_schema.innodb_cmp"
    }

    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut families: Vec<MetricFamily> = FAMILIES
                .iter()
                .map(|(name, help)| MetricFamily::counter(*name, *help))
                .collect();
            let mut bad = None;
            db.for_each_row("information_schema.innodb_cmp", QUERY, |_, row| {
                let page_size = row.as_ref(0).map(text).unwrap_or_default();
                for (i, family) in families.iter_mut().enumerate() {
                    match row.as_ref(i + 1).and_then(number) {
                        Some(value) => family.push(&[("page_size", &page_size)], value),
                        None => bad = Some(format!("innodb_cmp: column {} is not a number", i + 1)),
                    }
                }
            })
            .await?;
            if let Some(message) = bad {
                return Err(ScrapeError::Data(message));
            }
            out.extend(families);
            Ok(())
        })
    }
}
