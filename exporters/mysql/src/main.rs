//! octo-mysqld-exporter: a drop-in replacement for mysqld_exporter that is gentle on the database.
//!
//! Configuration in both upstream models: 0.14's `DATA_SOURCE_NAME` and `[client]` of
//! `--config.my-cnf` (what Debian ships), and 0.15+'s auth modules, `--mysqld.address`,
//! `--mysqld.username`, `MYSQLD_EXPORTER_PASSWORD`, `/probe?target=&auth_module=` and `/-/reload`.
//! Scrapers, names, types and labels as upstream (see `scrapers`); a small persistent pool per
//! target, a deadline per scrape and single-flight collections (see `collector`).

mod collector;
mod config;
mod connection;
mod parse;
mod scrapers;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::{
    Exporter, ExporterInfo, FlagSet, Flags, HandlerMetrics, HttpError, MetricFamily, Reply,
    ScrapeRequest, WebOptions,
};

use crate::collector::{Collector, Endpoints, Settings};
use crate::config::{DEFAULT_MODULE, Secret, Sources};
use crate::connection::ConnectOptions;

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-mysqld-exporter",
    title: "MySQLd Exporter",
    upstream: "mysqld_exporter",
    build_info_metric: "mysqld_exporter_build_info",
    default_listen_address: ":9104",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::Requests,
};

fn flag_set() -> FlagSet {
    let set = INFO
        .flag_set("Prometheus exporter for MySQL and MariaDB servers (drop-in for mysqld_exporter).")
        .heading("MySQL connection")
        .value(
            "config.my-cnf",
            None,
            "Path to .my.cnf file to read MySQL credentials from. [default: .my.cnf in the working \
             directory if it exists, else $HOME/.my.cnf]",
        )
        .value(
            "mysqld.address",
            Some("localhost:3306"),
            "Address to use for connecting to MySQL (host:port or unix:///path/to.sock); fills \
             what [client] leaves empty.",
        )
        .value(
            "mysqld.username",
            None,
            "Username to use for connecting to MySQL; fills what [client] leaves empty.",
        )
        .bool(
            "tls.insecure-skip-verify",
            false,
            "Ignore certificate and server verification when using a tls connection.",
        )
        .heading("Scrape behaviour")
        .value(
            "timeout-offset",
            Some("0.25"),
            "Offset to subtract from timeout in seconds.",
        )
        .value(
            "exporter.lock_wait_timeout",
            Some("2"),
            "Set a lock_wait_timeout (in seconds) on the connection to avoid long metadata locking.",
        )
        .bool(
            "exporter.enable_lock_wait_timeout",
            true,
            "Enable the lock_wait_timeout MySQL connection parameter.",
        )
        .bool(
            "exporter.log_slow_filter",
            false,
            "Add a log_slow_filter to avoid slow query logging of scrapes. NOTE: Not supported by Oracle MySQL.",
        )
        .value(
            "exporter.query_timeout",
            Some("0"),
            "Per-scraper query timeout (in seconds). 0 means the scrape deadline only.",
        )
        .value(
            "exporter.max_open_connections",
            Some("2"),
            "Maximum number of open connections to each target, kept between scrapes. Must be >= 1.",
        );
    scrapers::declare_flags(set)
}

/// The exporter: `/metrics` scrapes the `[client]` target (or `?target=`), `/probe` any target
/// with any auth module, `/-/reload` re-reads the credentials.
struct MysqldExporter {
    collector: Collector,
}

impl Exporter for MysqldExporter {
    async fn collect(&self, request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        self.collector
            .scrape(
                DEFAULT_MODULE,
                request.query_value("target"),
                request,
                Endpoints::Metrics,
            )
            .await
    }

    async fn handle_other(&self, request: &ScrapeRequest) -> Option<Reply> {
        match request.path.as_str() {
            "/probe" => Some(self.probe(request).await),
            "/-/reload" => Some(match self.collector.reload() {
                Ok(()) => Reply::Text {
                    status: 200,
                    body: "ok".into(),
                },
                Err(err) => {
                    tracing::warn!(error = %err, "error reloading host config; keeping the previous one");
                    Reply::Text {
                        status: 500,
                        body: format!("failed to reload config: {err}\n"),
                    }
                }
            }),
            _ => None,
        }
    }
}

impl MysqldExporter {
    async fn probe(&self, request: &ScrapeRequest) -> Reply {
        let Some(target) = request.query_value("target").filter(|t| !t.is_empty()) else {
            return Reply::Text {
                status: 400,
                body: "target is required\n".into(),
            };
        };
        let module = request
            .query_value("auth_module")
            .filter(|m| !m.is_empty())
            .unwrap_or(DEFAULT_MODULE);
        match self
            .collector
            .scrape(module, Some(target), request, Endpoints::Probe)
            .await
        {
            Ok(families) => Reply::Metrics(families),
            Err(err) => {
                tracing::warn!(server = target, auth_module = module, error = %err, "probe refused");
                Reply::Text {
                    status: err.status,
                    body: format!("{}\n", err.message),
                }
            }
        }
    }
}

fn sources(flags: &Flags) -> Sources {
    let environment = std::env::vars().collect();
    Sources {
        my_cnf: flags
            .value("config.my-cnf")
            .filter(|p| !p.is_empty())
            .map(Into::into),
        mysqld_address: flags.value("mysqld.address").unwrap_or_default().to_owned(),
        mysqld_username: flags
            .value("mysqld.username")
            .unwrap_or_default()
            .to_owned(),
        insecure_skip_verify: flags.bool("tls.insecure-skip-verify"),
        data_source_name: std::env::var("DATA_SOURCE_NAME").ok().map(Secret::new),
        environment,
    }
}

fn settings(flags: &Flags) -> anyhow::Result<Settings> {
    let max_open_connections: i64 = flags.parsed("exporter.max_open_connections")?.unwrap_or(2);
    if max_open_connections < 1 {
        bail!(
            "invalid value for --exporter.max_open_connections, must be >= 1: {max_open_connections}"
        );
    }
    let query_timeout: i64 = flags.parsed("exporter.query_timeout")?.unwrap_or(0);
    if query_timeout < 0 {
        bail!("invalid value for --exporter.query_timeout, must be >= 0: {query_timeout}");
    }
    let lock_wait_timeout: u64 = flags.parsed("exporter.lock_wait_timeout")?.unwrap_or(2);
    let timeout_offset: f64 = flags.parsed("timeout-offset")?.unwrap_or(0.25);
    if !timeout_offset.is_finite() || timeout_offset < 0.0 {
        bail!("invalid value for --timeout-offset, must be a non-negative number of seconds");
    }
    let scrapers = scrapers::enabled(flags).map_err(anyhow::Error::msg)?;
    for scraper in &scrapers {
        tracing::info!(scraper = scraper.name(), "Scraper enabled");
    }
    Ok(Settings {
        scrapers,
        connect: ConnectOptions {
            lock_wait_timeout: flags
                .bool("exporter.enable_lock_wait_timeout")
                .then_some(lock_wait_timeout),
            log_slow_filter: flags.bool("exporter.log_slow_filter"),
            max_open_connections: usize::try_from(max_open_connections).unwrap_or(usize::MAX),
        },
        timeout_offset,
        query_timeout: (query_timeout > 0).then(|| Duration::from_secs(query_timeout as u64)),
    })
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let web = WebOptions::from_flags(&flags)?;
    tracing::info!(version = INFO.version, "Starting octo-mysqld-exporter");
    let settings = settings(&flags)?;
    let sources = sources(&flags);
    let credentials = config::load(&sources).context("Error parsing host config")?;
    tracing::info!(
        origin = %credentials.origin,
        auth_modules = credentials.modules.len(),
        "credentials loaded"
    );
    let exporter = MysqldExporter {
        collector: Collector::new(settings, sources, credentials),
    };
    octo_exporter_kit::serve(&INFO, web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    octo_exporter_kit::run_exporter(flag_set().parse_env_or_exit(), run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, String> {
        flag_set().parse_args(args).map_err(|e| e.to_string())
    }

    #[test]
    fn upstream_flags_parse_with_defaults() {
        let flags = parse(&[
            "--collect.info_schema.processlist",
            "--no-collect.slave_status",
            "--collect.info_schema.processlist.min_time=5",
            "--collect.perf_schema.eventsstatements.exclude_schemas=a",
            "--collect.perf_schema.eventsstatements.exclude_schemas=b",
            "--config.my-cnf",
            "/etc/mysql/debian.cnf",
            "--exporter.lock_wait_timeout=3",
        ])
        .unwrap();
        let names: Vec<&str> = scrapers::enabled(&flags)
            .unwrap()
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(
            names,
            vec![
                "global_status",
                "global_variables",
                "info_schema.innodb_cmp",
                "info_schema.innodb_cmpmem",
                "info_schema.processlist",
                "info_schema.query_response_time",
            ]
        );
        let settings = settings(&flags).unwrap();
        assert_eq!(settings.connect.lock_wait_timeout, Some(3));
        assert_eq!(settings.connect.max_open_connections, 2);
        assert_eq!(settings.timeout_offset, 0.25);
    }

    #[test]
    fn unimplemented_scrapers_and_bad_values_are_refused() {
        let flags = parse(&["--collect.info_schema.innodb_tablespaces"]).unwrap();
        let err = scrapers::enabled(&flags).err().unwrap();
        assert!(
            err.contains("--collect.info_schema.innodb_tablespaces"),
            "{err}"
        );
        let flags = parse(&["--exporter.max_open_connections=0"]).unwrap();
        assert!(settings(&flags).is_err());
        let flags = parse(&["--timeout-offset=soon"]).unwrap();
        assert!(settings(&flags).is_err());
        assert!(parse(&["--collect.no_such_scraper"]).is_err());
    }
}
