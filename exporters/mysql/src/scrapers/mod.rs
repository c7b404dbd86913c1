//! Upstream's scrapers, one file each, and what they stand on.
//!
//! Ground floor, shared by the scrapers: [`db`] (the connection and its server), [`sql`],
//! [`family`], [`counter_table`], [`userstat`], and [`scraper`] (the trait). The scrapers import
//! those, never each other. Above them, [`registry`] is the table of them all, in upstream's order
//! of flag names: each scraper's name, default and flags.

pub mod counter_table;
pub mod db;
pub mod family;
pub mod registry;
pub mod scraper;
pub mod sql;
pub mod userstat;

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
