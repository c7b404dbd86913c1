//! `SHOW GLOBAL STATUS`: every numeric status variable, with upstream's grouping of commands,
//! handlers, connection errors, buffer pool pages, InnoDB row operations and
//! performance_schema losses into labelled families; the rest as untyped
//! `mysql_global_status_<name>`.

use octo_exporter_kit::{MetricFamily, MetricType};

use super::db::Db;
use super::family::single;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{bytes, metric_name_part, parse_status, text};

pub struct GlobalStatus;

const GENERIC_HELP: &str = "Generic metric from SHOW GLOBAL STATUS.";

/// The labelled groups: status name prefix, family, help, label, and the family type.
struct Grouped {
    commands: MetricFamily,
    handlers: MetricFamily,
    connection_errors: MetricFamily,
    buffer_pool_pages: MetricFamily,
    buffer_pool_dirty: MetricFamily,
    buffer_pool_changes: MetricFamily,
    row_ops: MetricFamily,
    perf_schema_lost: MetricFamily,
}

impl Grouped {
    fn new() -> Self {
        Grouped {
            commands: MetricFamily::counter(
                "mysql_global_status_commands_total",
                "Total number of executed MySQL commands.",
            ),
            handlers: MetricFamily::counter(
                "mysql_global_status_handlers_total",
                "Total number of executed MySQL handlers.",
            ),
            connection_errors: MetricFamily::counter(
                "mysql_global_status_connection_errors_total",
                "Total number of MySQL connection errors.",
            ),
            buffer_pool_pages: MetricFamily::gauge(
                "mysql_global_status_buffer_pool_pages",
                "Innodb buffer pool pages by state.",
            ),
            buffer_pool_dirty: MetricFamily::gauge(
                "mysql_global_status_buffer_pool_dirty_pages",
                "Innodb buffer pool dirty pages.",
            ),
            buffer_pool_changes: MetricFamily::counter(
                "mysql_global_status_buffer_pool_page_changes_total",
                "Innodb buffer pool page state changes.",
            ),
            row_ops: MetricFamily::counter(
                "mysql_global_status_innodb_row_ops_total",
                "Total number of MySQL InnoDB row operations.",
            ),
            perf_schema_lost: MetricFamily::counter(
                "mysql_global_status_performance_schema_lost_total",
                "Total number of MySQL instrumentations that could not be loaded or created due to memory constraints.",
            ),
        }
    }

    /// Files a sanitised, lower-cased name into its group; false when it belongs to none.
    fn add(&mut self, name: &str, value: f64) -> bool {
        const PREFIXES: [&str; 6] = [
            "com_",
            "handler_",
            "connection_errors_",
            "innodb_buffer_pool_pages_",
            "innodb_rows_",
            "performance_schema_",
        ];
        let Some((index, rest)) = PREFIXES
            .iter()
            .enumerate()
            .find_map(|(i, p)| name.strip_prefix(p).map(|rest| (i, rest)))
        else {
            return false;
        };
        let labelled = |family: &mut MetricFamily, label: &'static str| {
            family.push(&[(label, rest)], value);
        };
        match index {
            0 => labelled(&mut self.commands, "command"),
            1 => labelled(&mut self.handlers, "handler"),
            2 => labelled(&mut self.connection_errors, "error"),
            3 => match rest {
                "data" | "free" | "misc" | "old" => labelled(&mut self.buffer_pool_pages, "state"),
                "dirty" => self.buffer_pool_dirty.push(&[], value),
                "total" => {}
                _ => labelled(&mut self.buffer_pool_changes, "operation"),
            },
            4 => labelled(&mut self.row_ops, "operation"),
            _ => labelled(&mut self.perf_schema_lost, "instrumentation"),
        }
        true
    }

    fn into_families(self, out: &mut Vec<MetricFamily>) {
        out.extend([
            self.commands,
            self.handlers,
            self.connection_errors,
            self.buffer_pool_pages,
            self.buffer_pool_dirty,
            self.buffer_pool_changes,
            self.row_ops,
            self.perf_schema_lost,
        ]);
    }
}

/// Builds the families row by row, so no copy of the result set is kept.
pub struct Accumulator {
    grouped: Grouped,
    generic: Vec<MetricFamily>,
    local_state_uuid: String,
    cluster_state_uuid: String,
    provider_version: String,
    evs_repl_latency: String,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            grouped: Grouped::new(),
            generic: Vec::with_capacity(400),
            local_state_uuid: String::new(),
            cluster_state_uuid: String::new(),
            provider_version: String::new(),
            evs_repl_latency: String::new(),
        }
    }
}

impl Accumulator {
    /// One `(Variable_name, Value)` row.
    pub fn add(&mut self, raw_name: &str, value: &[u8]) {
        match parse_status(value) {
            Some(number) => {
                let name = metric_name_part(raw_name);
                if !self.grouped.add(&name, number) {
                    self.generic.push(single(
                        "mysql_global_status_",
                        &name,
                        GENERIC_HELP,
                        MetricType::Untyped,
                        number,
                    ));
                }
            }
            None => {
                let keep = match raw_name {
                    "wsrep_local_state_uuid" => &mut self.local_state_uuid,
                    "wsrep_cluster_state_uuid" => &mut self.cluster_state_uuid,
                    "wsrep_provider_version" => &mut self.provider_version,
                    "wsrep_evs_repl_latency" => &mut self.evs_repl_latency,
                    _ => return,
                };
                *keep = String::from_utf8_lossy(value).into_owned();
            }
        }
    }

    pub fn finish(self, out: &mut Vec<MetricFamily>) {
        out.extend(self.generic);
        self.grouped.into_families(out);
        if !self.local_state_uuid.is_empty() {
            out.push(
                MetricFamily::gauge("mysql_galera_status_info", "PXC/Galera status information.")
                    .with(
                        &[
                            ("wsrep_local_state_uuid", &self.local_state_uuid),
                            ("wsrep_cluster_state_uuid", &self.cluster_state_uuid),
                            ("wsrep_provider_version", &self.provider_version),
                        ],
                        1.0,
                    ),
            );
        }
        if !self.evs_repl_latency.is_empty() {
            let parts: Vec<Option<f64>> = self
                .evs_repl_latency
                .split('/')
                .map(crate::parse::parse_go_float)
                .collect();
            const EVS: [(&str, &str); 5] = [
                (
                    "min_seconds",
                    "PXC/Galera group communication latency. Min value.",
                ),
                (
                    "avg_seconds",
                    "PXC/Galera group communication latency. Avg value.",
                ),
                (
                    "max_seconds",
                    "PXC/Galera group communication latency. Max value.",
                ),
                (
                    "stdev",
                    "PXC/Galera group communication latency. Standard Deviation.",
                ),
                (
                    "sample_size",
                    "PXC/Galera group communication latency. Sample Size.",
                ),
            ];
            if parts.len() == EVS.len() && parts.iter().all(Option::is_some) {
                for ((suffix, help), value) in EVS.iter().zip(parts) {
                    out.push(
                        MetricFamily::gauge(
                            format!("mysql_galera_evs_repl_latency_{suffix}"),
                            *help,
                        )
                        .with(&[], value.unwrap_or_default()),
                    );
                }
            }
        }
    }
}

impl Scraper for GlobalStatus {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut accumulator = Accumulator::default();
            db.for_each_row("SHOW GLOBAL STATUS", "SHOW GLOBAL STATUS", |_, row| {
                if let (Some(name), Some(value)) = (row.as_ref(0), row.as_ref(1)) {
                    accumulator.add(&text(name), bytes(value).as_deref().unwrap_or_default());
                }
            })
            .await?;
            accumulator.finish(out);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rows: &[(&str, &str)]) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        let mut accumulator = Accumulator::default();
        for (name, value) in rows {
            accumulator.add(name, value.as_bytes());
        }
        accumulator.finish(&mut out);
        out.retain(|f| !f.samples.is_empty());
        out
    }

    fn find<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn upstream_mapping() {
        let f = run(&[
            ("Com_select", "5"),
            ("Handler_commit", "2"),
            ("Connection_errors_accept", "0"),
            ("Innodb_buffer_pool_pages_data", "100"),
            ("Innodb_buffer_pool_pages_dirty", "3"),
            ("Innodb_buffer_pool_pages_total", "8000"),
            ("Innodb_buffer_pool_pages_flushed", "9"),
            ("Innodb_rows_read", "7"),
            ("Performance_schema_users_lost", "0"),
            ("Uptime", "1234"),
            ("Ssl_cipher", ""),
            ("Slave_running", "OFF"),
            ("wsrep_local_state_uuid", "abc-def"),
        ]);
        let commands = find(&f, "mysql_global_status_commands_total");
        assert_eq!(
            commands.samples[0].label_strings(),
            vec![("command".to_owned(), "select".to_owned())]
        );
        assert_eq!(
            find(&f, "mysql_global_status_buffer_pool_dirty_pages").samples[0].value,
            3.0
        );
        assert_eq!(
            find(&f, "mysql_global_status_buffer_pool_page_changes_total").samples[0].labels[0].1,
            "flushed"
        );
        assert_eq!(
            find(&f, "mysql_global_status_uptime").kind,
            MetricType::Untyped
        );
        assert_eq!(
            find(&f, "mysql_global_status_slave_running").samples[0].value,
            0.0
        );
        assert!(
            f.iter()
                .all(|f| !f.name.contains("ssl_cipher") && !f.name.contains("pages_total"))
        );
        assert_eq!(
            find(&f, "mysql_galera_status_info").samples[0].labels[0].1,
            "abc-def"
        );
    }
}
