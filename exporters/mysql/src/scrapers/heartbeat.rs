//! pt-heartbeat's table: the stored timestamp per server_id and the server's current time.

use octo_exporter_kit::{FlagSet, Flags, MetricFamily};

use super::{Db, ScrapeError, ScrapeFuture, Scraper, sql_identifier};
use crate::parse::number;

pub struct Heartbeat {
    database: String,
    table: String,
    utc: bool,
}

pub fn declare(set: FlagSet) -> FlagSet {
    set.value(
        "collect.heartbeat.database",
        Some("heartbeat"),
        "Database from where to collect heartbeat data",
    )
    .value(
        "collect.heartbeat.table",
        Some("heartbeat"),
        "Table from where to collect heartbeat data",
    )
    .bool(
        "collect.heartbeat.utc",
        false,
        "Use UTC for timestamps of the current server (`pt-heartbeat` is called with `--utc`)",
    )
}

pub fn build(flags: &Flags) -> Result<Box<dyn Scraper>, String> {
    Ok(Box::new(Heartbeat {
        database: flags
            .value("collect.heartbeat.database")
            .unwrap_or("heartbeat")
            .to_owned(),
        table: flags
            .value("collect.heartbeat.table")
            .unwrap_or("heartbeat")
            .to_owned(),
        utc: flags.bool("collect.heartbeat.utc"),
    }))
}

impl Scraper for Heartbeat {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let now = if self.utc {
                "UTC_TIMESTAMP(6)"
            } else {
                "NOW(6)"
            };
            let sql = format!(
                "SELECT UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP({now}), server_id from {}.{}",
                sql_identifier(&self.database),
                sql_identifier(&self.table)
            );
            let mut stored = MetricFamily::gauge(
                "mysql_heartbeat_stored_timestamp_seconds",
                "Timestamp stored in the heartbeat table.",
            );
            let mut current = MetricFamily::gauge(
                "mysql_heartbeat_now_timestamp_seconds",
                "Timestamp of the current server.",
            );
            let mut bad = None;
            db.for_each_row("heartbeat table", &sql, |_, row| {
                let ts = row.as_ref(0).and_then(number);
                let now = row.as_ref(1).and_then(number);
                let server_id = row
                    .as_ref(2)
                    .and_then(number)
                    .map(|n| (n as i64).to_string());
                match (ts, now, server_id) {
                    (Some(ts), Some(now), Some(server_id)) => {
                        current.push(&[("server_id", &server_id)], now);
                        stored.push(&[("server_id", &server_id)], ts);
                    }
                    _ => {
                        bad = Some("heartbeat row with a missing timestamp or server_id".to_owned())
                    }
                }
            })
            .await?;
            if let Some(message) = bad {
                return Err(ScrapeError::Data(message));
            }
            out.extend([current, stored]);
            Ok(())
        })
    }
}
