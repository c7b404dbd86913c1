//! Upstream's scrapers, one file each. A scraper is a small type with a name (the
//! `--collect.<name>` flag and the `collector="collect.<name>"` label), a default, its own flags,
//! the MySQL version it needs, and a `scrape` that appends families.
//!
//! [`REGISTRY`] is the table of them all, in upstream's order of flag names.

mod auto_increment;
mod binlog;
mod engine_innodb_status;
mod global_status;
mod global_variables;
mod heartbeat;
mod innodb_cmp;
mod innodb_cmpmem;
mod innodb_metrics;
mod mysql_user;
mod perf_schema_events_statements;
mod perf_schema_events_statements_sum;
mod perf_schema_events_waits;
mod perf_schema_file_events;
mod perf_schema_file_instances;
mod perf_schema_index_io_waits;
mod perf_schema_memory_events;
mod perf_schema_replication_group_members;
mod perf_schema_table_io_waits;
mod perf_schema_table_lock_waits;
mod processlist;
mod query_response_time;
mod schemastats;
mod slave_hosts;
mod slave_status;
mod statistics;
mod tables;
mod tablestats;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use octo_exporter_kit::{FlagSet, Flags, MetricFamily, MetricType, Sample};

/// A boxed scrape future (trait objects cannot have `async fn`).
pub type ScrapeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ScrapeError>> + Send + 'a>>;

/// One upstream scraper.
pub trait Scraper: Send + Sync {
    fn name(&self) -> &'static str;

    /// The lowest `major.minor` server version it runs on (upstream's `Version()`).
    fn min_version(&self) -> f64 {
        5.1
    }

    /// Appends this scraper's families for one scrape.
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a>;
}

/// Why a scraper failed: its success metric is 0 and the rest of the scrape goes on.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("{what}: {source}")]
    Query {
        what: &'static str,
        source: mysql_async::Error,
    },
    #[error("{0}")]
    Data(String),
}

impl ScrapeError {
    /// Whether the connection is unusable afterwards (so the next scraper needs another one).
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            ScrapeError::Query {
                source: mysql_async::Error::Io(_) | mysql_async::Error::Driver(_),
                ..
            }
        )
    }
}

/// The server flavour, which some queries depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MySql,
    MariaDb,
}

/// What is known about the server from `SELECT @@version`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub version_text: String,
    /// `major.minor` as a number, as upstream compares it (999 when unparsable).
    pub major_minor: f64,
    pub version: (u32, u32, u32),
    pub flavor: Flavor,
}

impl ServerInfo {
    pub fn from_version(text: &str) -> ServerInfo {
        let mut numbers = text
            .split(|c: char| !c.is_ascii_digit())
            .map(|part| part.parse::<u32>().ok());
        let major = numbers.next().flatten();
        let minor = numbers.next().flatten();
        let patch = numbers.next().flatten().unwrap_or(0);
        let major_minor = match (major, minor) {
            (Some(major), Some(minor)) => format!("{major}.{minor}").parse().unwrap_or(999.0),
            _ => 999.0,
        };
        ServerInfo {
            version_text: text.to_owned(),
            major_minor,
            version: (major.unwrap_or(0), minor.unwrap_or(0), patch),
            flavor: if text.to_ascii_lowercase().contains("mariadb") {
                Flavor::MariaDb
            } else {
                Flavor::MySql
            },
        }
    }
}

/// A connection with what is known about its server.
pub struct Db {
    pub conn: Conn,
    pub server: ServerInfo,
    /// Shared by the lanes of one collection.
    pub collection: Arc<CollectionFacts>,
}

/// What several scrapers of one collection ask the server, asked once.
#[derive(Default)]
pub struct CollectionFacts {
    /// Whether `userstat` is on (`statistics::userstat_enabled`).
    pub userstat: tokio::sync::OnceCell<Option<bool>>,
}

impl Db {
    /// Runs a text-protocol query and hands every row to `each`, returning the column names.
    pub async fn for_each_row(
        &mut self,
        what: &'static str,
        sql: &str,
        mut each: impl FnMut(&[String], Row) + Send,
    ) -> Result<(), ScrapeError> {
        let error = |source| ScrapeError::Query { what, source };
        let mut result = self.conn.query_iter(sql).await.map_err(error)?;
        let columns: Vec<String> = result
            .columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect();
        result
            .for_each(|row| each(&columns, row))
            .await
            .map_err(error)?;
        // Further result sets (none expected) are drained so the connection stays usable.
        result.drop_result().await.map_err(error)
    }

    /// Runs a query and returns its first row; the others are read and dropped.
    pub async fn first_row(
        &mut self,
        what: &'static str,
        sql: &str,
    ) -> Result<Option<Row>, ScrapeError> {
        self.conn
            .query_first(sql)
            .await
            .map_err(|source| ScrapeError::Query { what, source })
    }

    /// Runs a query and returns all rows.
    pub async fn rows(&mut self, what: &'static str, sql: &str) -> Result<Vec<Row>, ScrapeError> {
        self.conn
            .query(sql)
            .await
            .map_err(|source| ScrapeError::Query { what, source })
    }
}

/// A family with one unlabelled sample, allocated to fit: the generic status and variable
/// families number in the hundreds per scrape, and `MetricFamily::push` would reserve room for
/// four samples in each.
pub fn single(prefix: &str, name: &str, help: &str, kind: MetricType, value: f64) -> MetricFamily {
    let mut full_name = String::with_capacity(prefix.len() + name.len());
    full_name.push_str(prefix);
    full_name.push_str(name);
    MetricFamily {
        name: full_name,
        help: help.to_owned(),
        kind,
        samples: vec![Sample {
            suffix: "",
            shared: None,
            labels: Vec::new(),
            value,
        }],
    }
}

/// A string literal for SQL text (for names from flags, such as schema names).
pub fn sql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// A backquoted identifier (database and table names from flags).
pub fn sql_identifier(value: &str) -> String {
    format!("`{}`", value.replace('`', "``"))
}

/// Builds a scraper from the parsed flags, or says which flag value is wrong.
pub type Build = fn(&Flags) -> Result<Box<dyn Scraper>, String>;

/// One row of the registry: everything the flags and `main` need to know about a scraper.
pub struct Entry {
    pub name: &'static str,
    pub help: &'static str,
    pub enabled_by_default: bool,
    /// Declares the scraper's own option flags (`--collect.<name>.<option>`).
    pub declare: fn(FlagSet) -> FlagSet,
    /// Builds the scraper from the parsed flags; `None` for scrapers not implemented here.
    pub build: Option<Build>,
}

fn no_flags(set: FlagSet) -> FlagSet {
    set
}

macro_rules! simple {
    ($ty:expr) => {
        Some(|_: &Flags| Ok(Box::new($ty) as Box<dyn Scraper>))
    };
}

/// Every upstream scraper, with upstream's defaults.
pub static REGISTRY: &[Entry] = &[
    Entry {
        name: "auto_increment.columns",
        help: "Collect auto_increment columns and max values from information_schema",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(auto_increment::AutoIncrementColumns),
    },
    Entry {
        name: "binlog_size",
        help: "Collect the current size of all registered binlog files",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(binlog::BinlogSize),
    },
    Entry {
        name: "engine_innodb_status",
        help: "Collect from SHOW ENGINE INNODB STATUS",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(engine_innodb_status::EngineInnodbStatus),
    },
    Entry {
        name: "engine_tokudb_status",
        help: "Collect from SHOW ENGINE TOKUDB STATUS (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "global_status",
        help: "Collect from SHOW GLOBAL STATUS",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(global_status::GlobalStatus),
    },
    Entry {
        name: "global_variables",
        help: "Collect from SHOW GLOBAL VARIABLES",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(global_variables::GlobalVariables),
    },
    Entry {
        name: "heartbeat",
        help: "Collect from heartbeat",
        enabled_by_default: false,
        declare: heartbeat::declare,
        build: Some(heartbeat::build),
    },
    Entry {
        name: "info_schema.clientstats",
        help: "If running with userstat=1, set to true to collect client statistics",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(statistics::Statistics::CLIENT),
    },
    Entry {
        name: "info_schema.innodb_cmp",
        help: "Collect metrics from information_schema.innodb_cmp",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(innodb_cmp::InnodbCmp),
    },
    Entry {
        name: "info_schema.innodb_cmpmem",
        help: "Collect metrics from information_schema.innodb_cmpmem",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(innodb_cmpmem::InnodbCmpMem),
    },
    Entry {
        name: "info_schema.innodb_metrics",
        help: "Collect metrics from information_schema.innodb_metrics",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(innodb_metrics::InnodbMetrics),
    },
    Entry {
        name: "info_schema.innodb_tablespaces",
        help: "Collect metrics from information_schema.innodb_sys_tablespaces (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "info_schema.processlist",
        help: "Collect current thread state counts from the information_schema.processlist",
        enabled_by_default: false,
        declare: processlist::declare,
        build: Some(processlist::build),
    },
    Entry {
        name: "info_schema.query_response_time",
        help: "Collect query response time distribution if query_response_time_stats is ON.",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(query_response_time::QueryResponseTime),
    },
    Entry {
        name: "info_schema.replica_host",
        help: "Collect metrics from information_schema.replica_host_status (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "info_schema.rocksdb_perf_context",
        help: "Collect metrics from information_schema.ROCKSDB_PERF_CONTEXT (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "info_schema.schemastats",
        help: "If running with userstat=1, set to true to collect schema statistics",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(schemastats::SchemaStats),
    },
    Entry {
        name: "info_schema.tables",
        help: "Collect metrics from information_schema.tables",
        enabled_by_default: false,
        declare: tables::declare,
        build: Some(tables::build),
    },
    Entry {
        name: "info_schema.tablestats",
        help: "If running with userstat=1, set to true to collect table statistics",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(tablestats::TableStats),
    },
    Entry {
        name: "info_schema.userstats",
        help: "If running with userstat=1, set to true to collect user statistics",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(statistics::Statistics::USER),
    },
    Entry {
        name: "mysql.user",
        help: "Collect data from mysql.user",
        enabled_by_default: false,
        declare: mysql_user::declare,
        build: Some(mysql_user::build),
    },
    Entry {
        name: "perf_schema.eventsstatements",
        help: "Collect metrics from performance_schema.events_statements_summary_by_digest",
        enabled_by_default: false,
        declare: perf_schema_events_statements::declare,
        build: Some(perf_schema_events_statements::build),
    },
    Entry {
        name: "perf_schema.eventsstatementssum",
        help: "Collect metrics of grand sums from performance_schema.events_statements_summary_by_digest",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_events_statements_sum::EventsStatementsSum),
    },
    Entry {
        name: "perf_schema.eventswaits",
        help: "Collect metrics from performance_schema.events_waits_summary_global_by_event_name",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_events_waits::EventsWaits),
    },
    Entry {
        name: "perf_schema.file_events",
        help: "Collect metrics from performance_schema.file_summary_by_event_name",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_file_events::FileEvents),
    },
    Entry {
        name: "perf_schema.file_instances",
        help: "Collect metrics from performance_schema.file_summary_by_instance",
        enabled_by_default: false,
        declare: perf_schema_file_instances::declare,
        build: Some(perf_schema_file_instances::build),
    },
    Entry {
        name: "perf_schema.indexiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_index_usage",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_index_io_waits::IndexIoWaits),
    },
    Entry {
        name: "perf_schema.memory_events",
        help: "Collect metrics from performance_schema.memory_summary_global_by_event_name",
        enabled_by_default: false,
        declare: perf_schema_memory_events::declare,
        build: Some(perf_schema_memory_events::build),
    },
    Entry {
        name: "perf_schema.replication_applier_status_by_worker",
        help: "Collect metrics from performance_schema.replication_applier_status_by_worker (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "perf_schema.replication_group_member_stats",
        help: "Collect metrics from performance_schema.replication_group_member_stats (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
    Entry {
        name: "perf_schema.replication_group_members",
        help: "Collect metrics from performance_schema.replication_group_members",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_replication_group_members::ReplicationGroupMembers),
    },
    Entry {
        name: "perf_schema.tableiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_table",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_table_io_waits::TableIoWaits),
    },
    Entry {
        name: "perf_schema.tablelocks",
        help: "Collect metrics from performance_schema.table_lock_waits_summary_by_table",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(perf_schema_table_lock_waits::TableLockWaits),
    },
    Entry {
        name: "slave_hosts",
        help: "Scrape information from 'SHOW SLAVE HOSTS'",
        enabled_by_default: false,
        declare: no_flags,
        build: simple!(slave_hosts::SlaveHosts),
    },
    Entry {
        name: "slave_status",
        help: "Collect from SHOW SLAVE STATUS",
        enabled_by_default: true,
        declare: no_flags,
        build: simple!(slave_status::SlaveStatus),
    },
    Entry {
        name: "sys.user_summary",
        help: "Collect per user metrics from sys.x$user_summary (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: no_flags,
        build: None,
    },
];

/// Declares `--collect.<name>` for every scraper, then each scraper's own options.
pub fn declare_flags(mut set: FlagSet) -> FlagSet {
    set = set.heading("Scrapers");
    for entry in REGISTRY {
        set = set.bool(
            format!("collect.{}", entry.name),
            entry.enabled_by_default,
            entry.help,
        );
    }
    set = set.heading("Scraper options");
    for entry in REGISTRY {
        set = (entry.declare)(set);
    }
    set
}

/// The enabled scrapers, built from the flags. Enabling one that is not implemented here is an
/// error, so that nobody loses metrics without noticing.
pub fn enabled(flags: &Flags) -> Result<Vec<Box<dyn Scraper>>, String> {
    let mut scrapers = Vec::new();
    let mut missing = Vec::new();
    for entry in REGISTRY {
        if !flags.bool(&format!("collect.{}", entry.name)) {
            continue;
        }
        match entry.build {
            Some(build) => scrapers.push(build(flags)?),
            None => missing.push(format!("--collect.{}", entry.name)),
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "{} not implemented by octo-mysqld-exporter; remove the flag (see docs/mysqld-exporter.md)",
            missing.join(", ")
        ));
    }
    Ok(scrapers)
}

/// Reads an integer option flag.
pub fn int_flag(flags: &Flags, name: &str) -> Result<i64, String> {
    flags
        .parsed::<i64>(name)
        .map_err(|e| e.to_string())
        .map(|v| v.unwrap_or(0))
}

/// Picoseconds per second: performance_schema timers count picoseconds.
pub const PICOSECONDS: f64 = 1e12;

/// One counter family per value column of a table.
pub struct CounterColumn {
    pub name: &'static str,
    pub help: &'static str,
    /// What the column's value is divided by, as upstream divides (1000 for milliseconds to
    /// seconds), usually 1.
    pub divisor: f64,
}

/// What a counter column's value that is not a number (NULL, text) does.
pub enum NonNumber {
    /// Fails the scraper, as upstream's row scan into an integer does.
    FailsScraper,
    /// Counts as 0, where upstream's query cannot yield anything else.
    Zero,
}

/// A table whose first `labels.len()` columns name a row and whose following columns are
/// counters, `columns[i]` from column `labels.len() + i`.
pub struct CounterTable {
    pub what: &'static str,
    pub sql: &'static str,
    pub labels: &'static [&'static str],
    pub columns: &'static [CounterColumn],
    pub non_number: NonNumber,
}

impl CounterTable {
    pub async fn scrape(
        &self,
        db: &mut Db,
        out: &mut Vec<MetricFamily>,
    ) -> Result<(), ScrapeError> {
        let labels = self.labels;
        let mut families: Vec<MetricFamily> = self
            .columns
            .iter()
            .map(|column| MetricFamily::counter(column.name, column.help))
            .collect();
        let mut bad = None;
        db.for_each_row(self.what, self.sql, |_, row| {
            let values: Vec<String> = (0..labels.len())
                .map(|i| row.as_ref(i).map(crate::parse::text).unwrap_or_default())
                .collect();
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .zip(&values)
                .map(|(label, value)| (*label, value.as_str()))
                .collect();
            for (i, (family, column)) in families.iter_mut().zip(self.columns).enumerate() {
                let index = labels.len() + i;
                let value = match (
                    row.as_ref(index).and_then(crate::parse::number),
                    &self.non_number,
                ) {
                    (Some(value), _) => value,
                    (None, NonNumber::Zero) => 0.0,
                    (None, NonNumber::FailsScraper) => {
                        bad = Some(format!("{}: column {index} is not a number", self.what));
                        continue;
                    }
                };
                family.push(&pairs, value / column.divisor);
            }
        })
        .await?;
        if let Some(message) = bad {
            return Err(ScrapeError::Data(message));
        }
        out.extend(families);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_upstream() {
        let maria = ServerInfo::from_version("10.11.6-MariaDB-0+deb12u1-log");
        assert_eq!(maria.major_minor, 10.11);
        assert_eq!(maria.flavor, Flavor::MariaDb);
        assert_eq!(maria.version, (10, 11, 6));
        let mysql = ServerInfo::from_version("8.0.36-28.1");
        assert_eq!(mysql.major_minor, 8.0);
        assert_eq!(mysql.flavor, Flavor::MySql);
        assert_eq!(ServerInfo::from_version("garbage").major_minor, 999.0);
    }

    #[test]
    fn names_are_sorted_and_unique() {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(sql_string("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(sql_identifier("we`ird"), "`we``ird`");
    }
}
