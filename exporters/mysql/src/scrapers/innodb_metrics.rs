//! `information_schema.innodb_metrics`: every enabled InnoDB counter, as a counter
//! (`..._total`) or a gauge, with the buffer page I/O and pool page metrics grouped by label.

use octo_exporter_kit::MetricFamily;
use octo_exporter_kit::exposition::sanitize_name;

use super::db::{Db, ScrapeError};
use super::scraper::{ScrapeFuture, Scraper};

use crate::parse::{number, text};

pub struct InnodbMetrics;

impl Scraper for InnodbMetrics {
    fn min_version(&self) -> f64 {
        5.6
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // MySQL says STATUS = 'enabled', MariaDB ENABLED = 1.
            let row = db
                .first_row(
                    "information_schema.columns",
                    "SELECT column_name FROM information_schema.columns \
                     WHERE table_schema = 'information_schema' AND table_name = 'INNODB_METRICS' \
                     AND column_name IN ('status', 'enabled') LIMIT 1",
                )
                .await?;
            let column = row
                .as_ref()
                .and_then(|r| r.as_ref(0))
                .map(text)
                .unwrap_or_default();
            let condition = match column.to_ascii_uppercase().as_str() {
                "STATUS" => "`status` = 'enabled'",
                "ENABLED" => "`enabled` = '1'",
                _ => {
                    return Err(ScrapeError::Data(
                        "couldn't find column STATUS or ENABLED in innodb_metrics table".into(),
                    ));
                }
            };
            let sql = format!(
                "SELECT name, subsystem, type, comment, count FROM information_schema.innodb_metrics WHERE {condition}"
            );
            let mut read = MetricFamily::counter(
                "mysql_info_schema_innodb_metrics_buffer_page_read_total",
                "Total number of buffer pages read total.",
            );
            let mut written = MetricFamily::counter(
                "mysql_info_schema_innodb_metrics_buffer_page_written_total",
                "Total number of buffer pages written total.",
            );
            let mut pool_pages = MetricFamily::gauge(
                "mysql_info_schema_innodb_metrics_buffer_pool_pages",
                "Total number of buffer pool pages by state.",
            );
            let mut dirty = MetricFamily::gauge(
                "mysql_info_schema_innodb_metrics_buffer_pool_dirty_pages",
                "Total number of dirty pages in the buffer pool.",
            );
            let mut others = Vec::new();
            db.for_each_row("information_schema.innodb_metrics", &sql, |_, row| {
                let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                let (name, subsystem, kind, comment) = (field(0), field(1), field(2), field(3));
                let Some(value) = row.as_ref(4).and_then(number) else {
                    return;
                };
                if subsystem == "buffer_page_io" {
                    if let Some(rest) = name.strip_prefix("buffer_page_read_") {
                        read.push(&[("type", rest)], value);
                    } else if let Some(rest) = name.strip_prefix("buffer_page_written_") {
                        written.push(&[("type", rest)], value);
                    } else {
                        tracing::warn!(%name, "innodb_metrics subsystem buffer_page_io returned an invalid name");
                    }
                    return;
                }
                if subsystem == "buffer"
                    && let Some(state) = name.strip_prefix("buffer_pool_pages_")
                {
                    match state {
                        "total" => {}
                        "dirty" => dirty.push(&[], value),
                        _ => pool_pages.push(&[("state", state)], value),
                    }
                    return;
                }
                // Upstream keeps the case of InnoDB's names (`buffer_LRU_batch_flush_total_pages`).
                let base = sanitize_name(&format!("innodb_metrics_{subsystem}_{name}"));
                let family = if (kind == "counter" || kind == "status_counter") && value >= 0.0 {
                    MetricFamily::counter(format!("mysql_info_schema_{base}_total"), comment)
                } else {
                    MetricFamily::gauge(format!("mysql_info_schema_{base}"), comment)
                };
                others.push(family.with(&[], value));
            })
            .await?;
            out.extend([read, written, pool_pages, dirty]);
            out.extend(others);
            Ok(())
        })
    }
}
