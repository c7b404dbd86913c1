//! `information_schema.processlist`: threads and their seconds by command and state, and
//! processes by user and by client host.

use std::collections::BTreeMap;

use octo_exporter_kit::{FlagSet, MetricFamily};

use super::db::Db;
use super::scraper::{Builder, ScrapeFuture, Scraper};
use crate::parse::{number, text};

pub struct Processlist {
    min_time: i64,
    by_user: bool,
    by_host: bool,
}

/// Declares the processlist options; the builder reads them through their handles.
pub fn declare(set: &mut FlagSet) -> Builder {
    let min_time = set.number(
        "collect.info_schema.processlist.min_time",
        0i64,
        "Minimum time a thread must be in each state to be counted",
    );
    let by_user = set.bool(
        "collect.info_schema.processlist.processes_by_user",
        true,
        "Enable collecting the number of processes by user",
    );
    let by_host = set.bool(
        "collect.info_schema.processlist.processes_by_host",
        true,
        "Enable collecting the number of processes by host",
    );
    Box::new(move |flags| {
        Ok(Box::new(Processlist {
            min_time: flags.get(min_time),
            by_user: flags.get(by_user),
            by_host: flags.get(by_host),
        }))
    })
}

/// Upstream's `sanitizeState`: lower case, punctuation dropped, spaces and dashes to `_`.
fn sanitize_state(state: &str) -> String {
    if state.is_empty() {
        return "unknown".into();
    }
    state
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ';' | ',' | ':' | '.' | '(' | ')'))
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

impl Scraper for Processlist {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            // Grouped on the server, host without its port (as 0.14 did).
            let sql = format!(
                "SELECT user, SUBSTRING_INDEX(host, ':', 1) AS host, COALESCE(command, '') AS command, \
                 COALESCE(state, '') AS state, COUNT(*) AS processes, SUM(time) AS seconds \
                 FROM information_schema.processlist WHERE ID != connection_id() AND TIME >= {} \
                 GROUP BY user, SUBSTRING_INDEX(host, ':', 1), command, state",
                self.min_time
            );
            let mut by_state: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
            let mut by_host: BTreeMap<String, f64> = BTreeMap::new();
            let mut by_user: BTreeMap<String, f64> = BTreeMap::new();
            db.for_each_row("information_schema.processlist", &sql, |_, row| {
                let field = |i| row.as_ref(i).map(text).unwrap_or_default();
                let count = row.as_ref(4).and_then(number).unwrap_or(0.0);
                let seconds = row.as_ref(5).and_then(number).unwrap_or(0.0);
                let mut host = field(1);
                if host.is_empty() {
                    host = "unknown".into();
                }
                let entry = by_state
                    .entry((sanitize_state(&field(2)), sanitize_state(&field(3))))
                    .or_default();
                entry.0 += count;
                entry.1 += seconds;
                *by_host.entry(host).or_default() += count;
                *by_user.entry(field(0)).or_default() += count;
            })
            .await?;
            let mut threads = MetricFamily::gauge(
                "mysql_info_schema_processlist_threads",
                "The number of threads split by current state.",
            );
            let mut seconds = MetricFamily::gauge(
                "mysql_info_schema_processlist_seconds",
                "The number of seconds threads have used split by current state.",
            );
            for ((command, state), (count, time)) in &by_state {
                let labels = [("command", command.as_str()), ("state", state.as_str())];
                threads.push(&labels, *count);
                seconds.push(&labels, *time);
            }
            out.push(threads);
            out.push(seconds);
            if self.by_host {
                let mut family = MetricFamily::gauge(
                    "mysql_info_schema_processlist_processes_by_host",
                    "The number of processes by host.",
                );
                for (host, count) in &by_host {
                    family.push(&[("client_host", host)], *count);
                }
                out.push(family);
            }
            if self.by_user {
                let mut family = MetricFamily::gauge(
                    "mysql_info_schema_processlist_processes_by_user",
                    "The number of processes by user.",
                );
                for (user, count) in &by_user {
                    family.push(&[("mysql_user", user)], *count);
                }
                out.push(family);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn states_are_sanitised_like_upstream() {
        assert_eq!(
            super::sanitize_state("Waiting for table metadata lock"),
            "waiting_for_table_metadata_lock"
        );
        assert_eq!(super::sanitize_state("Binlog Dump"), "binlog_dump");
        assert_eq!(
            super::sanitize_state("Slave has read all relay log; waiting"),
            "slave_has_read_all_relay_log_waiting"
        );
        assert_eq!(super::sanitize_state("init (x)-y"), "init_x_y");
        assert_eq!(super::sanitize_state(""), "unknown");
    }
}
