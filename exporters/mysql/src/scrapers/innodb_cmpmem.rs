//! `information_schema.innodb_cmpmem`: compressed buffer pool blocks per page size and pool.

use octo_exporter_kit::MetricFamily;

use super::{Db, ScrapeError, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct InnodbCmpMem;

const QUERY: &str = "SELECT page_size, buffer_pool_instance, pages_used, pages_free, \
                     relocation_ops, relocation_time FROM information_schema.innodb_cmpmem";

const FAMILIES: [(&str, &str); 4] = [
    (
        "mysql_info_schema_innodb_cmpmem_pages_used_total",
        "Number of blocks of the size PAGE_SIZE that are currently in use.",
    ),
    (
        "mysql_info_schema_innodb_cmpmem_pages_free_total",
        "Number of blocks of the size PAGE_SIZE that are currently available for allocation.",
    ),
    (
        "mysql_info_schema_innodb_cmpmem_relocation_ops_total",
        "Number of times a block of the size PAGE_SIZE has been relocated.",
    ),
    (
        "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total",
        "Total time in seconds spent in relocating blocks.",
    ),
];

impl Scraper for InnodbCmpMem {
    fn name(&self) -> &'static str {
        "info_schema.innodb_cmpmem"
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
            db.for_each_row("information_schema.innodb_cmpmem", QUERY, |_, row| {
                let page_size = row.as_ref(0).map(text).unwrap_or_default();
                let buffer_pool = row.as_ref(1).map(text).unwrap_or_default();
                let labels = [
                    ("page_size", page_size.as_str()),
                    ("buffer_pool", buffer_pool.as_str()),
                ];
                for (i, family) in families.iter_mut().enumerate() {
                    match row.as_ref(i + 2).and_then(number) {
                        // relocation_time is in milliseconds.
                        Some(value) if i == 3 => family.push(&labels, value / 1000.0),
                        Some(value) => family.push(&labels, value),
                        None => {
                            bad = Some(format!("innodb_cmpmem: column {} is not a number", i + 2))
                        }
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
