//! pt-heartbeat's table: the stored timestamp per server_id and the server's current time.

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::{Db, ScrapeError};
use super::scraper::{Builder, ScrapeFuture, Scraper};
use super::sql::sql_identifier;
use crate::parse::number;

pub struct Heartbeat {
    database: String,
    table: String,
    utc: bool,
}

/// Declares the heartbeat table options; the builder reads them through their handles.
pub fn declare(set: &mut FlagSet) -> Builder {
    let database = set.string(
        "collect.heartbeat.database",
        "heartbeat",
        "Database from where to collect heartbeat data",
    );
    let table = set.string(
        "collect.heartbeat.table",
        "heartbeat",
        "Table from where to collect heartbeat data",
    );
    let utc = set.bool(
        "collect.heartbeat.utc",
        false,
        "Use UTC for timestamps of the current server (`pt-heartbeat` is called with `--utc`)",
    );
    Box::new(move |flags| {
        Ok(Box::new(Heartbeat {
            database: flags.get(database).to_owned(),
            table: flags.get(table).to_owned(),
            utc: flags.get(utc),
        }))
    })
}

impl Scraper for Heartbeat {
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
