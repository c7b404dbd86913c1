//! `performance_schema.memory_summary_global_by_event_name`: bytes allocated, freed and in use
//! by instrument.

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::Db;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct MemoryEvents {
    remove_prefix: String,
}

/// Declares the instrument prefix option; the builder reads it through its handle.
pub fn declare(set: &mut FlagSet) -> Builder {
    let remove_prefix = set.string(
        "collect.perf_schema.memory_events.remove_prefix",
        "memory/",
        "Remove instrument prefix in performance_schema.memory_summary_global_by_event_name",
    );
    Box::new(move |flags| {
        Ok(Box::new(MemoryEvents {
            remove_prefix: flags.get(remove_prefix).to_owned(),
        }))
    })
}

impl Scraper for MemoryEvents {
    fn min_version(&self) -> f64 {
        5.7
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut allocated = MetricFamily::counter(
                "mysql_perf_schema_memory_events_alloc_bytes_total",
                "The total number of bytes allocated by events.",
            );
            let mut freed = MetricFamily::counter(
                "mysql_perf_schema_memory_events_free_bytes_total",
                "The total number of bytes freed by events.",
            );
            let mut used = MetricFamily::gauge(
                "mysql_perf_schema_memory_events_used_bytes",
                "The number of bytes currently allocated by events.",
            );
            db.for_each_row(
                "performance_schema.memory_summary_global_by_event_name",
                "SELECT EVENT_NAME, SUM_NUMBER_OF_BYTES_ALLOC, SUM_NUMBER_OF_BYTES_FREE, \
                 CURRENT_NUMBER_OF_BYTES_USED FROM performance_schema.memory_summary_global_by_event_name \
                 WHERE COUNT_ALLOC > 0",
                |_, row| {
                    let raw = row.as_ref(0).map(text).unwrap_or_default();
                    let event = raw.strip_prefix(self.remove_prefix.as_str()).unwrap_or(&raw);
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    allocated.push(&[("event_name", event)], value(1));
                    freed.push(&[("event_name", event)], value(2));
                    used.push(&[("event_name", event)], value(3));
                },
            )
            .await?;
            out.extend([allocated, freed, used]);
            Ok(())
        })
    }
}
