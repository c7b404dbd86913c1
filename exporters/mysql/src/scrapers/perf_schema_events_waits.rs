//! `performance_schema.events_waits_summary_global_by_event_name`: wait events and their time by
//! event name.

use octo_exporter_kit::MetricFamily;

use super::counter_table::{CounterColumn, CounterTable, NonNumber};
use super::db::Db;
use super::family::PICOSECONDS;
use super::scraper::{ScrapeFuture, Scraper};

pub struct EventsWaits;

const COLUMNS: [CounterColumn; 2] = [
    CounterColumn {
        name: "mysql_perf_schema_events_waits_total",
        help: "The total events waits by event name.",
        divisor: 1.0,
    },
    CounterColumn {
        name: "mysql_perf_schema_events_waits_seconds_total",
        help: "The total seconds of events waits by event name.",
        divisor: PICOSECONDS,
    },
];

const TABLE: CounterTable = CounterTable {
    what: "performance_schema.events_waits_summary_global_by_event_name",
    sql: "SELECT EVENT_NAME, COUNT_STAR, SUM_TIMER_WAIT \
          FROM performance_schema.events_waits_summary_global_by_event_name",
    labels: &["event_name"],
    columns: &COLUMNS,
    non_number: NonNumber::Zero,
};

impl Scraper for EventsWaits {
    fn min_version(&self) -> f64 {
        5.5
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(TABLE.scrape(db, out))
    }
}
