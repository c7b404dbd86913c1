//! `SHOW GLOBAL VARIABLES`: every numeric or on/off variable as a gauge
//! `mysql_global_variables_<name>`, plus `mysql_version_info`, `mysql_transaction_isolation`
//! and the Galera information families.

use octo_exporter_kit::{MetricFamily, MetricType};

use super::db::Db;
use super::family::single;
use super::scraper::{ScrapeFuture, Scraper};
use crate::parse::{bytes, metric_name_part, parse_status, text};

pub struct GlobalVariables;

/// Upstream gives MyRocks variables their own help texts; every other variable, and MyRocks ones
/// here, carry this one (names, types and values are the same).
const GENERIC_HELP: &str = "Generic gauge metric from SHOW GLOBAL VARIABLES.";

#[derive(Default)]
struct TextItems {
    innodb_version: String,
    version: String,
    version_comment: String,
    wsrep_cluster_name: String,
    wsrep_provider_options: String,
    tx_isolation: String,
    transaction_isolation: String,
}

/// Builds the families row by row, so no copy of the result set is kept.
#[derive(Default)]
pub struct Accumulator {
    items: TextItems,
}

impl Accumulator {
    /// One `(Variable_name, Value)` row.
    pub fn add(&mut self, raw_name: &str, value: &[u8], out: &mut Vec<MetricFamily>) {
        let name = metric_name_part(raw_name);
        if let Some(number) = parse_status(value) {
            out.push(single(
                "mysql_global_variables_",
                &name,
                GENERIC_HELP,
                MetricType::Gauge,
                number,
            ));
            return;
        }
        let items = &mut self.items;
        let keep = match name.as_str() {
            "innodb_version" => &mut items.innodb_version,
            "version" => &mut items.version,
            "version_comment" => &mut items.version_comment,
            "wsrep_cluster_name" => &mut items.wsrep_cluster_name,
            "wsrep_provider_options" => &mut items.wsrep_provider_options,
            "tx_isolation" => &mut items.tx_isolation,
            "transaction_isolation" => &mut items.transaction_isolation,
            _ => return,
        };
        *keep = String::from_utf8_lossy(value).into_owned();
    }

    pub fn finish(self, out: &mut Vec<MetricFamily>) {
        let items = self.items;
        out.push(
            MetricFamily::gauge("mysql_version_info", "MySQL version and distribution.").with(
                &[
                    ("innodb_version", &items.innodb_version),
                    ("version", &items.version),
                    ("version_comment", &items.version_comment),
                ],
                1.0,
            ),
        );
        if !items.wsrep_cluster_name.is_empty() {
            out.push(
                MetricFamily::gauge(
                    "mysql_galera_variables_info",
                    "PXC/Galera variables information.",
                )
                .with(&[("wsrep_cluster_name", &items.wsrep_cluster_name)], 1.0),
            );
        }
        if !items.wsrep_provider_options.is_empty() {
            out.push(
                MetricFamily::gauge("mysql_galera_gcache_size_bytes", "PXC/Galera gcache size.")
                    .with(&[], gcache_size(&items.wsrep_provider_options)),
            );
        }
        let level = if items.transaction_isolation.is_empty() {
            &items.tx_isolation
        } else {
            &items.transaction_isolation
        };
        if !level.is_empty() {
            out.push(
                MetricFamily::gauge(
                    "mysql_transaction_isolation",
                    "MySQL transaction isolation.",
                )
                .with(&[("level", level)], 1.0),
            );
        }
    }
}

/// `gcache.size = <n>[M|G];` inside wsrep_provider_options, in bytes (0 when absent).
fn gcache_size(options: &str) -> f64 {
    let Some(start) = options.find("gcache.size = ") else {
        return 0.0;
    };
    let rest = &options[start + "gcache.size = ".len()..];
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(number) = rest[..digits_end].parse::<f64>() else {
        return 0.0;
    };
    let rest = &rest[digits_end..];
    let (unit, rest) = match rest.chars().next() {
        Some('M') => (1024.0 * 1024.0, &rest[1..]),
        Some('G') => (1024.0 * 1024.0 * 1024.0, &rest[1..]),
        _ => (1.0, rest),
    };
    if rest.starts_with(';') {
        number * unit
    } else {
        0.0
    }
}

impl Scraper for GlobalVariables {
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut accumulator = Accumulator::default();
            db.for_each_row(
                "SHOW GLOBAL VARIABLES",
                "SHOW GLOBAL VARIABLES",
                |_, row| {
                    if let (Some(name), Some(value)) = (row.as_ref(0), row.as_ref(1)) {
                        accumulator.add(
                            &text(name),
                            bytes(value).as_deref().unwrap_or_default(),
                            out,
                        );
                    }
                },
            )
            .await?;
            accumulator.finish(out);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_versions_and_isolation() {
        let mut out = Vec::new();
        let mut accumulator = Accumulator::default();
        for (name, value) in [
            ("max_connections", "151"),
            ("innodb_version", "10.11.6"),
            ("version", "10.11.6-MariaDB"),
            ("version_comment", "Debian 12"),
            ("tx_isolation", "REPEATABLE-READ"),
            ("read_only", "OFF"),
            ("datadir", "/var/lib/mysql/"),
            (
                "wsrep_provider_options",
                "base_dir = /x; gcache.size = 128M; gcs.fc_limit = 16;",
            ),
        ] {
            accumulator.add(name, value.as_bytes(), &mut out);
        }
        accumulator.finish(&mut out);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_ref()).collect();
        assert!(names.contains(&"mysql_global_variables_max_connections"));
        assert!(names.contains(&"mysql_global_variables_read_only"));
        assert!(
            !names
                .iter()
                .any(|n| n.contains("datadir") || n.contains("innodb_version"))
        );
        let version = out.iter().find(|f| f.name == "mysql_version_info").unwrap();
        assert!(
            version.samples[0]
                .labels
                .contains(&("version".into(), "10.11.6-MariaDB".into()))
        );
        let isolation = out
            .iter()
            .find(|f| f.name == "mysql_transaction_isolation")
            .unwrap();
        assert_eq!(isolation.samples[0].labels[0].1, "REPEATABLE-READ");
        let gcache = out
            .iter()
            .find(|f| f.name == "mysql_galera_gcache_size_bytes")
            .unwrap();
        assert_eq!(gcache.samples[0].value, 128.0 * 1024.0 * 1024.0);
    }
}
