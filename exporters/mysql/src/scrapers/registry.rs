//! The table of upstream's scrapers: name, default and help of each `--collect.<name>` flag, and
//! how each declares its own options and is built. A scraper's name is written here only.

use octo_exporter_kit::{Flag, FlagSet, Flags};

use super::scraper::{Builder, EnabledScraper, Scraper};
use super::{
    auto_increment, binlog, engine_innodb_status, global_status, global_variables, heartbeat,
    innodb_cmp, innodb_cmpmem, innodb_metrics, mysql_user, perf_schema_events_statements,
    perf_schema_events_statements_sum, perf_schema_events_waits, perf_schema_file_events,
    perf_schema_file_instances, perf_schema_index_io_waits, perf_schema_memory_events,
    perf_schema_replication_group_members, perf_schema_table_io_waits,
    perf_schema_table_lock_waits, processlist, query_response_time, schemastats, slave_hosts,
    slave_status, statistics, tables, tablestats,
};

/// Declares a scraper's own option flags (`--collect.<name>.<option>`) and returns the builder
/// that reads them.
pub type Declare = fn(&mut FlagSet) -> Builder;

/// One row of the registry: everything the flags and `main` need to know about a scraper.
pub struct Entry {
    /// The `--collect.<name>` flag, the `collector="collect.<name>"` label and `collect[]=<name>`.
    pub name: &'static str,
    pub help: &'static str,
    pub enabled_by_default: bool,
    /// `None` for scrapers not implemented here.
    pub declare: Option<Declare>,
}

/// A scraper without options of its own.
macro_rules! simple {
    ($scraper:expr) => {
        Some(|_: &mut FlagSet| -> Builder {
            Box::new(|_: &Flags| Ok(Box::new($scraper) as Box<dyn Scraper>))
        })
    };
}

/// Every upstream scraper, with upstream's defaults.
pub static REGISTRY: &[Entry] = &[
    Entry {
        name: "auto_increment.columns",
        help: "Collect auto_increment columns and max values from information_schema",
        enabled_by_default: false,
        declare: simple!(auto_increment::AutoIncrementColumns),
    },
    Entry {
        name: "binlog_size",
        help: "Collect the current size of all registered binlog files",
        enabled_by_default: false,
        declare: simple!(binlog::BinlogSize),
    },
    Entry {
        name: "engine_innodb_status",
        help: "Collect from SHOW ENGINE INNODB STATUS",
        enabled_by_default: false,
        declare: simple!(engine_innodb_status::EngineInnodbStatus),
    },
    Entry {
        name: "engine_tokudb_status",
        help: "Collect from SHOW ENGINE TOKUDB STATUS (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "global_status",
        help: "Collect from SHOW GLOBAL STATUS",
        enabled_by_default: true,
        declare: simple!(global_status::GlobalStatus),
    },
    Entry {
        name: "global_variables",
        help: "Collect from SHOW GLOBAL VARIABLES",
        enabled_by_default: true,
        declare: simple!(global_variables::GlobalVariables),
    },
    Entry {
        name: "heartbeat",
        help: "Collect from heartbeat",
        enabled_by_default: false,
        declare: Some(heartbeat::declare),
    },
    Entry {
        name: "info_schema.clientstats",
        help: "If running with userstat=1, set to true to collect client statistics",
        enabled_by_default: false,
        declare: simple!(statistics::Statistics::CLIENT),
    },
    Entry {
        name: "info_schema.innodb_cmp",
        help: "Collect metrics from information_schema.innodb_cmp",
        enabled_by_default: true,
        declare: simple!(innodb_cmp::InnodbCmp),
    },
    Entry {
        name: "info_schema.innodb_cmpmem",
        help: "Collect metrics from information_schema.innodb_cmpmem",
        enabled_by_default: true,
        declare: simple!(innodb_cmpmem::InnodbCmpMem),
    },
    Entry {
        name: "info_schema.innodb_metrics",
        help: "Collect metrics from information_schema.innodb_metrics",
        enabled_by_default: false,
        declare: simple!(innodb_metrics::InnodbMetrics),
    },
    Entry {
        name: "info_schema.innodb_tablespaces",
        help: "Collect metrics from information_schema.innodb_sys_tablespaces (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "info_schema.processlist",
        help: "Collect current thread state counts from the information_schema.processlist",
        enabled_by_default: false,
        declare: Some(processlist::declare),
    },
    Entry {
        name: "info_schema.query_response_time",
        help: "Collect query response time distribution if query_response_time_stats is ON.",
        enabled_by_default: true,
        declare: simple!(query_response_time::QueryResponseTime),
    },
    Entry {
        name: "info_schema.replica_host",
        help: "Collect metrics from information_schema.replica_host_status (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "info_schema.rocksdb_perf_context",
        help: "Collect metrics from information_schema.ROCKSDB_PERF_CONTEXT (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "info_schema.schemastats",
        help: "If running with userstat=1, set to true to collect schema statistics",
        enabled_by_default: false,
        declare: simple!(schemastats::SchemaStats),
    },
    Entry {
        name: "info_schema.tables",
        help: "Collect metrics from information_schema.tables",
        enabled_by_default: false,
        declare: Some(tables::declare),
    },
    Entry {
        name: "info_schema.tablestats",
        help: "If running with userstat=1, set to true to collect table statistics",
        enabled_by_default: false,
        declare: simple!(tablestats::TableStats),
    },
    Entry {
        name: "info_schema.userstats",
        help: "If running with userstat=1, set to true to collect user statistics",
        enabled_by_default: false,
        declare: simple!(statistics::Statistics::USER),
    },
    Entry {
        name: "mysql.user",
        help: "Collect data from mysql.user",
        enabled_by_default: false,
        declare: Some(mysql_user::declare),
    },
    Entry {
        name: "perf_schema.eventsstatements",
        help: "Collect metrics from performance_schema.events_statements_summary_by_digest",
        enabled_by_default: false,
        declare: Some(perf_schema_events_statements::declare),
    },
    Entry {
        name: "perf_schema.eventsstatementssum",
        help: "Collect metrics of grand sums from performance_schema.events_statements_summary_by_digest",
        enabled_by_default: false,
        declare: simple!(perf_schema_events_statements_sum::EventsStatementsSum),
    },
    Entry {
        name: "perf_schema.eventswaits",
        help: "Collect metrics from performance_schema.events_waits_summary_global_by_event_name",
        enabled_by_default: false,
        declare: simple!(perf_schema_events_waits::EventsWaits),
    },
    Entry {
        name: "perf_schema.file_events",
        help: "Collect metrics from performance_schema.file_summary_by_event_name",
        enabled_by_default: false,
        declare: simple!(perf_schema_file_events::FileEvents),
    },
    Entry {
        name: "perf_schema.file_instances",
        help: "Collect metrics from performance_schema.file_summary_by_instance",
        enabled_by_default: false,
        declare: Some(perf_schema_file_instances::declare),
    },
    Entry {
        name: "perf_schema.indexiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_index_usage",
        enabled_by_default: false,
        declare: simple!(perf_schema_index_io_waits::IndexIoWaits),
    },
    Entry {
        name: "perf_schema.memory_events",
        help: "Collect metrics from performance_schema.memory_summary_global_by_event_name",
        enabled_by_default: false,
        declare: Some(perf_schema_memory_events::declare),
    },
    Entry {
        name: "perf_schema.replication_applier_status_by_worker",
        help: "Collect metrics from performance_schema.replication_applier_status_by_worker (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "perf_schema.replication_group_member_stats",
        help: "Collect metrics from performance_schema.replication_group_member_stats (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
    Entry {
        name: "perf_schema.replication_group_members",
        help: "Collect metrics from performance_schema.replication_group_members",
        enabled_by_default: false,
        declare: simple!(perf_schema_replication_group_members::ReplicationGroupMembers),
    },
    Entry {
        name: "perf_schema.tableiowaits",
        help: "Collect metrics from performance_schema.table_io_waits_summary_by_table",
        enabled_by_default: false,
        declare: simple!(perf_schema_table_io_waits::TableIoWaits),
    },
    Entry {
        name: "perf_schema.tablelocks",
        help: "Collect metrics from performance_schema.table_lock_waits_summary_by_table",
        enabled_by_default: false,
        declare: simple!(perf_schema_table_lock_waits::TableLockWaits),
    },
    Entry {
        name: "slave_hosts",
        help: "Scrape information from 'SHOW SLAVE HOSTS'",
        enabled_by_default: false,
        declare: simple!(slave_hosts::SlaveHosts),
    },
    Entry {
        name: "slave_status",
        help: "Collect from SHOW SLAVE STATUS",
        enabled_by_default: true,
        declare: simple!(slave_status::SlaveStatus),
    },
    Entry {
        name: "sys.user_summary",
        help: "Collect per user metrics from sys.x$user_summary (not implemented by octo-mysqld-exporter)",
        enabled_by_default: false,
        declare: None,
    },
];

/// The handles of every scraper's flags, as [`declare_flags`] declared them.
pub struct ScraperFlags {
    declared: Vec<Declared>,
}

struct Declared {
    entry: &'static Entry,
    /// `--collect.<name>`.
    enabled: Flag<bool>,
    /// `None` for scrapers not implemented here.
    builder: Option<Builder>,
}

/// Declares `--collect.<name>` for every scraper, then each scraper's own options.
pub fn declare_flags(set: &mut FlagSet) -> ScraperFlags {
    set.heading("Scrapers");
    let toggles: Vec<Flag<bool>> = REGISTRY
        .iter()
        .map(|entry| {
            set.bool(
                format!("collect.{}", entry.name),
                entry.enabled_by_default,
                entry.help,
            )
        })
        .collect();
    set.heading("Scraper options");
    let declared = REGISTRY
        .iter()
        .zip(toggles)
        .map(|(entry, enabled)| Declared {
            entry,
            enabled,
            builder: entry.declare.map(|declare| declare(set)),
        })
        .collect();
    ScraperFlags { declared }
}

impl ScraperFlags {
    /// The enabled scrapers, built from the flags. Enabling one that is not implemented here is
    /// an error, so that nobody loses metrics without noticing.
    pub fn enabled(&self, flags: &Flags) -> Result<Vec<EnabledScraper>, String> {
        let mut scrapers = Vec::new();
        let mut missing = Vec::new();
        for declared in &self.declared {
            if !flags.get(declared.enabled) {
                continue;
            }
            let name = declared.entry.name;
            match &declared.builder {
                Some(build) => scrapers.push(EnabledScraper::new(name, build(flags)?)),
                None => missing.push(format!("--collect.{name}")),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_unique() {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn help_says_which_are_not_implemented() {
        for entry in REGISTRY {
            assert_eq!(
                entry
                    .help
                    .contains("(not implemented by octo-mysqld-exporter)"),
                entry.declare.is_none(),
                "{}",
                entry.name
            );
        }
    }
}
