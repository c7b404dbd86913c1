//! `performance_schema.file_summary_by_event_name`: file I/O events, time and bytes by event
//! name and mode.

use octo_exporter_kit::MetricFamily;

use super::db::Db;
use super::family::PICOSECONDS;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct FileEvents;

impl Scraper for FileEvents {
    fn min_version(&self) -> f64 {
        5.6
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut count = MetricFamily::counter(
                "mysql_perf_schema_file_events_total",
                "The total file events by event name/mode.",
            );
            let mut time = MetricFamily::counter(
                "mysql_perf_schema_file_events_seconds_total",
                "The total seconds of file events by event name/mode.",
            );
            let mut bytes = MetricFamily::counter(
                "mysql_perf_schema_file_events_bytes_total",
                "The total bytes of file events by event name/mode.",
            );
            db.for_each_row(
                "performance_schema.file_summary_by_event_name",
                "SELECT EVENT_NAME, COUNT_READ, SUM_TIMER_READ, SUM_NUMBER_OF_BYTES_READ, \
                 COUNT_WRITE, SUM_TIMER_WRITE, SUM_NUMBER_OF_BYTES_WRITE, COUNT_MISC, SUM_TIMER_MISC \
                 FROM performance_schema.file_summary_by_event_name",
                |_, row| {
                    let event = row.as_ref(0).map(text).unwrap_or_default();
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    for (mode, first) in [("read", 1), ("write", 4), ("misc", 7)] {
                        let labels = [("event_name", event.as_str()), ("mode", mode)];
                        count.push(&labels, value(first));
                        time.push(&labels, value(first + 1) / PICOSECONDS);
                        if mode != "misc" {
                            bytes.push(&labels, value(first + 2));
                        }
                    }
                },
            )
            .await?;
            out.extend([count, time, bytes]);
            Ok(())
        })
    }
}
