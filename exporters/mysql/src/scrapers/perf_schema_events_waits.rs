//! `performance_schema.events_waits_summary_global_by_event_name`: wait events and their time by
//! event name.

use octo_exporter_kit::MetricFamily;

use super::perf_schema_table_io_waits::PICOSECONDS;
use super::{Db, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct EventsWaits;

impl Scraper for EventsWaits {
    fn name(&self) -> &'static str {
        "perf_schema.eventswaits"
    }

    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut count = MetricFamily::counter(
                "mysql_perf_schema_events_waits_total",
                "The total events waits by event name.",
            );
            let mut time = MetricFamily::counter(
                "mysql_perf_schema_events_waits_seconds_total",
                "The total seconds of events waits by event name.",
            );
            db.for_each_row(
                "performance_schema.events_waits_summary_global_by_event_name",
                "SELECT EVENT_NAME, COUNT_STAR, SUM_TIMER_WAIT \
                 FROM performance_schema.events_waits_summary_global_by_event_name",
                |_, row| {
                    let event = row.as_ref(0).map(text).unwrap_or_default();
                    let value = |i| row.as_ref(i).and_then(number).unwrap_or(0.0);
                    count.push(&[("event_name", &event)], value(1));
                    time.push(&[("event_name", &event)], value(2) / PICOSECONDS);
                },
            )
            .await?;
            out.extend([count, time]);
            Ok(())
        })
    }
}
