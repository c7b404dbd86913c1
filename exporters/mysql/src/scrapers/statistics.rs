//! `information_schema.user_statistics` and `client_statistics` (MariaDB and Percona with
//! `userstat=1`): one family per column, labelled by user or client.

use octo_exporter_kit::{MetricFamily, MetricType};

use super::db::{Db, ScrapeError};
use super::scraper::{ScrapeFuture, Scraper};
use super::userstat::userstat_enabled;
use crate::parse::{metric_name_part, number, text};

/// Which table: the two share their columns and differ in names and help wording.
pub struct Statistics {
    table: &'static str,
    prefix: &'static str,
    label: &'static str,
    /// Help texts per column; `{}` is replaced by "user" or "client" as upstream words them.
    help: &'static [(&'static str, MetricType, &'static str, &'static str)],
}

impl Statistics {
    pub const USER: Statistics = Statistics {
        table: "user_statistics",
        prefix: "mysql_info_schema_user_statistics_",
        label: "user",
        help: USER_HELP,
    };

    pub const CLIENT: Statistics = Statistics {
        table: "client_statistics",
        prefix: "mysql_info_schema_client_statistics_",
        label: "client",
        help: CLIENT_HELP,
    };
}

use MetricType::{Counter, Gauge};

/// (column, type, metric suffix, help) for user_statistics, as upstream writes them.
const USER_HELP: &[(&str, MetricType, &str, &str)] = &[
    (
        "TOTAL_CONNECTIONS",
        Counter,
        "total_connections",
        "The number of connections created for this user.",
    ),
    (
        "CONCURRENT_CONNECTIONS",
        Gauge,
        "concurrent_connections",
        "The number of concurrent connections for this user.",
    ),
    (
        "CONNECTED_TIME",
        Counter,
        "connected_time_seconds_total",
        "The cumulative number of seconds elapsed while there were connections from this user.",
    ),
    (
        "BUSY_TIME",
        Counter,
        "busy_seconds_total",
        "The cumulative number of seconds there was activity on connections from this user.",
    ),
    (
        "CPU_TIME",
        Counter,
        "cpu_time_seconds_total",
        "The cumulative CPU time elapsed, in seconds, while servicing this user's connections.",
    ),
    (
        "BYTES_RECEIVED",
        Counter,
        "bytes_received_total",
        "The number of bytes received from this user’s connections.",
    ),
    (
        "BYTES_SENT",
        Counter,
        "bytes_sent_total",
        "The number of bytes sent to this user’s connections.",
    ),
    (
        "BINLOG_BYTES_WRITTEN",
        Counter,
        "binlog_bytes_written_total",
        "The number of bytes written to the binary log from this user’s connections.",
    ),
    (
        "ROWS_READ",
        Counter,
        "rows_read_total",
        "The number of rows read by this user's connections.",
    ),
    (
        "ROWS_SENT",
        Counter,
        "rows_sent_total",
        "The number of rows sent by this user's connections.",
    ),
    (
        "ROWS_DELETED",
        Counter,
        "rows_deleted_total",
        "The number of rows deleted by this user's connections.",
    ),
    (
        "ROWS_INSERTED",
        Counter,
        "rows_inserted_total",
        "The number of rows inserted by this user's connections.",
    ),
    (
        "ROWS_FETCHED",
        Counter,
        "rows_fetched_total",
        "The number of rows fetched by this user’s connections.",
    ),
    (
        "ROWS_UPDATED",
        Counter,
        "rows_updated_total",
        "The number of rows updated by this user’s connections.",
    ),
    (
        "TABLE_ROWS_READ",
        Counter,
        "table_rows_read_total",
        "The number of rows read from tables by this user’s connections. (It may be different from ROWS_FETCHED.)",
    ),
    (
        "SELECT_COMMANDS",
        Counter,
        "select_commands_total",
        "The number of SELECT commands executed from this user’s connections.",
    ),
    (
        "UPDATE_COMMANDS",
        Counter,
        "update_commands_total",
        "The number of UPDATE commands executed from this user’s connections.",
    ),
    (
        "OTHER_COMMANDS",
        Counter,
        "other_commands_total",
        "The number of other commands executed from this user’s connections.",
    ),
    (
        "COMMIT_TRANSACTIONS",
        Counter,
        "commit_transactions_total",
        "The number of COMMIT commands issued by this user’s connections.",
    ),
    (
        "ROLLBACK_TRANSACTIONS",
        Counter,
        "rollback_transactions_total",
        "The number of ROLLBACK commands issued by this user’s connections.",
    ),
    (
        "DENIED_CONNECTIONS",
        Counter,
        "denied_connections_total",
        "The number of connections denied to this user.",
    ),
    (
        "LOST_CONNECTIONS",
        Counter,
        "lost_connections_total",
        "The number of this user’s connections that were terminated uncleanly.",
    ),
    (
        "ACCESS_DENIED",
        Counter,
        "access_denied_total",
        "The number of times this user’s connections issued commands that were denied.",
    ),
    (
        "EMPTY_QUERIES",
        Counter,
        "empty_queries_total",
        "The number of times this user’s connections sent empty queries to the server.",
    ),
    (
        "TOTAL_SSL_CONNECTIONS",
        Counter,
        "total_ssl_connections_total",
        "The number of times this user’s connections connected using SSL to the server.",
    ),
];

/// The same for client_statistics (one more known column).
const CLIENT_HELP: &[(&str, MetricType, &str, &str)] = &[
    (
        "TOTAL_CONNECTIONS",
        Counter,
        "total_connections",
        "The number of connections created for this client.",
    ),
    (
        "CONCURRENT_CONNECTIONS",
        Gauge,
        "concurrent_connections",
        "The number of concurrent connections for this client.",
    ),
    (
        "CONNECTED_TIME",
        Counter,
        "connected_time_seconds_total",
        "The cumulative number of seconds elapsed while there were connections from this client.",
    ),
    (
        "BUSY_TIME",
        Counter,
        "busy_seconds_total",
        "The cumulative number of seconds there was activity on connections from this client.",
    ),
    (
        "CPU_TIME",
        Counter,
        "cpu_time_seconds_total",
        "The cumulative CPU time elapsed, in seconds, while servicing this client's connections.",
    ),
    (
        "BYTES_RECEIVED",
        Counter,
        "bytes_received_total",
        "The number of bytes received from this client’s connections.",
    ),
    (
        "BYTES_SENT",
        Counter,
        "bytes_sent_total",
        "The number of bytes sent to this client’s connections.",
    ),
    (
        "BINLOG_BYTES_WRITTEN",
        Counter,
        "binlog_bytes_written_total",
        "The number of bytes written to the binary log from this client’s connections.",
    ),
    (
        "ROWS_READ",
        Counter,
        "rows_read_total",
        "The number of rows read by this client’s connections.",
    ),
    (
        "ROWS_SENT",
        Counter,
        "rows_sent_total",
        "The number of rows sent by this client’s connections.",
    ),
    (
        "ROWS_DELETED",
        Counter,
        "rows_deleted_total",
        "The number of rows deleted by this client’s connections.",
    ),
    (
        "ROWS_INSERTED",
        Counter,
        "rows_inserted_total",
        "The number of rows inserted by this client’s connections.",
    ),
    (
        "ROWS_FETCHED",
        Counter,
        "rows_fetched_total",
        "The number of rows fetched by this client’s connections.",
    ),
    (
        "ROWS_UPDATED",
        Counter,
        "rows_updated_total",
        "The number of rows updated by this client’s connections.",
    ),
    (
        "TABLE_ROWS_READ",
        Counter,
        "table_rows_read_total",
        "The number of rows read from tables by this client’s connections. (It may be different from ROWS_FETCHED.)",
    ),
    (
        "SELECT_COMMANDS",
        Counter,
        "select_commands_total",
        "The number of SELECT commands executed from this client’s connections.",
    ),
    (
        "UPDATE_COMMANDS",
        Counter,
        "update_commands_total",
        "The number of UPDATE commands executed from this client’s connections.",
    ),
    (
        "OTHER_COMMANDS",
        Counter,
        "other_commands_total",
        "The number of other commands executed from this client’s connections.",
    ),
    (
        "COMMIT_TRANSACTIONS",
        Counter,
        "commit_transactions_total",
        "The number of COMMIT commands issued by this client’s connections.",
    ),
    (
        "ROLLBACK_TRANSACTIONS",
        Counter,
        "rollback_transactions_total",
        "The number of ROLLBACK commands issued by this client’s connections.",
    ),
    (
        "DENIED_CONNECTIONS",
        Counter,
        "denied_connections_total",
        "The number of connections denied to this client.",
    ),
    (
        "LOST_CONNECTIONS",
        Counter,
        "lost_connections_total",
        "The number of this client’s connections that were terminated uncleanly.",
    ),
    (
        "ACCESS_DENIED",
        Counter,
        "access_denied_total",
        "The number of times this client’s connections issued commands that were denied.",
    ),
    (
        "EMPTY_QUERIES",
        Counter,
        "empty_queries_total",
        "The number of times this client’s connections sent empty queries to the server.",
    ),
    (
        "TOTAL_SSL_CONNECTIONS",
        Counter,
        "total_ssl_connections_total",
        "The number of times this client’s connections connected using SSL to the server.",
    ),
    (
        "MAX_STATEMENT_TIME_EXCEEDED",
        Counter,
        "max_statement_time_exceeded_total",
        "The number of times a statement was aborted, because it was executed longer than its MAX_STATEMENT_TIME threshold.",
    ),
];

impl Scraper for Statistics {
    fn min_version(&self) -> f64 {
        if self.label == "client" { 5.5 } else { 5.1 }
    }

    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            if userstat_enabled(db).await? != Some(true) {
                tracing::debug!(
                    table = self.table,
                    "userstat is off or missing; nothing to collect"
                );
                return Ok(());
            }
            let sql = format!("SELECT * FROM information_schema.{}", self.table);
            let mut families: Vec<Option<MetricFamily>> = Vec::new();
            let mut bad = None;
            db.for_each_row("information_schema statistics", &sql, |columns, row| {
                if families.is_empty() {
                    families = columns.iter().skip(1).map(|_| None).collect();
                }
                let subject = row.as_ref(0).map(text).unwrap_or_default();
                for (index, column) in columns.iter().enumerate().skip(1) {
                    let Some(value) = row.as_ref(index).and_then(number) else {
                        bad = Some(format!("{}: column {column} is not a number", self.table));
                        continue;
                    };
                    let family = families[index - 1].get_or_insert_with(|| {
                        match self.help.iter().find(|(c, ..)| c == column) {
                            Some((_, kind, suffix, help)) => {
                                MetricFamily::new(format!("{}{suffix}", self.prefix), *help, *kind)
                            }
                            None => MetricFamily::untyped(
                                format!("{}{}", self.prefix, metric_name_part(column)),
                                format!("Unsupported metric from column {column}"),
                            ),
                        }
                    });
                    family.push(&[(self.label, &subject)], value);
                }
            })
            .await?;
            if let Some(message) = bad {
                return Err(ScrapeError::Data(message));
            }
            out.extend(families.into_iter().flatten());
            Ok(())
        })
    }
}
