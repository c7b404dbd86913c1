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
mod guard;
mod parse;
mod scrapers;
mod task;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::{
    Exporter, ExporterFlagSet, ExporterFlags, ExporterInfo, Flag, Flags, HandlerMetrics, HttpError,
    MetricFamily, Reply, ScrapeRequest,
};

use crate::collector::{Collector, Endpoints, Settings};
use crate::config::client::{DEFAULT_MODULE, Secret};
use crate::config::load::load;
use crate::config::sources::Sources;
use crate::connection::ConnectOptions;
use crate::scrapers::registry::{self, ScraperFlags};
use octo_exporter_kit::probe_targets::AllowedTargets;

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-mysqld-exporter",
    title: "MySQLd Exporter",
    upstream: "mysqld_exporter",
    build_info_metric: "mysqld_exporter_build_info",
    default_listen_address: ":9104",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::Requests,
};

/// The handles of the exporter's own flags.
struct Options {
    my_cnf: Flag<Option<String>>,
    mysqld_address: Flag<String>,
    mysqld_username: Flag<Option<String>>,
    insecure_skip_verify: Flag<bool>,
    allowed_targets: Flag<Vec<String>>,
    timeout_offset: Flag<f64>,
    lock_wait_timeout: Flag<u64>,
    enable_lock_wait_timeout: Flag<bool>,
    log_slow_filter: Flag<bool>,
    query_timeout: Flag<i64>,
    max_open_connections: Flag<i64>,
    scrapers: ScraperFlags,
}

fn flag_set() -> (ExporterFlagSet, Options) {
    let mut set = INFO.flag_set(
        "Prometheus exporter for MySQL and MariaDB servers (drop-in for mysqld_exporter).",
    );
    set.heading("MySQL connection");
    let my_cnf = set.optional(
        "config.my-cnf",
        "Path to .my.cnf file to read MySQL credentials from. [default: .my.cnf in the working \
         directory if it exists, else $HOME/.my.cnf]",
    );
    let mysqld_address = set.string(
        "mysqld.address",
        "localhost:3306",
        "Address to use for connecting to MySQL (host:port or unix:///path/to.sock); fills \
         what [client] leaves empty.",
    );
    let mysqld_username = set.optional(
        "mysqld.username",
        "Username to use for connecting to MySQL; fills what [client] leaves empty.",
    );
    let insecure_skip_verify = set.bool(
        "tls.insecure-skip-verify",
        false,
        "Ignore certificate and server verification when using a tls connection.",
    );
    let allowed_targets = set.repeatable(
        "probe.allowed-targets",
        &[],
        "Servers a request may name with ?target= (on /probe and /metrics): host:port with * \
         and ? inside one label (db-*.example.com:3306), a network (10.0.0.0/8), or \
         unix:///path; repeatable or comma-separated. [default: any]",
    );
    set.heading("Scrape behaviour");
    let timeout_offset = set.number(
        "timeout-offset",
        0.25f64,
        "Offset to subtract from timeout in seconds.",
    );
    let lock_wait_timeout = set.number(
        "exporter.lock_wait_timeout",
        2u64,
        "Set a lock_wait_timeout (in seconds) on the connection to avoid long metadata locking.",
    );
    let enable_lock_wait_timeout = set.bool(
        "exporter.enable_lock_wait_timeout",
        true,
        "Enable the lock_wait_timeout MySQL connection parameter.",
    );
    let log_slow_filter = set.bool(
        "exporter.log_slow_filter",
        false,
        "Add a log_slow_filter to avoid slow query logging of scrapes. NOTE: Not supported by Oracle MySQL.",
    );
    let query_timeout = set.number(
        "exporter.query_timeout",
        0i64,
        "Per-scraper query timeout (in seconds). 0 means the scrape deadline only.",
    );
    let max_open_connections = set.number(
        "exporter.max_open_connections",
        2i64,
        "Maximum number of open connections to each target, kept between scrapes. Must be >= 1.",
    );
    let scrapers = registry::declare_flags(&mut set);
    let options = Options {
        my_cnf,
        mysqld_address,
        mysqld_username,
        insecure_skip_verify,
        allowed_targets,
        timeout_offset,
        lock_wait_timeout,
        enable_lock_wait_timeout,
        log_slow_filter,
        query_timeout,
        max_open_connections,
        scrapers,
    };
    (set, options)
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

fn sources(flags: &Flags, options: &Options) -> Sources {
    let environment = std::env::vars().collect();
    Sources {
        my_cnf: flags
            .get(options.my_cnf)
            .filter(|p| !p.is_empty())
            .map(Into::into),
        mysqld_address: flags.get(options.mysqld_address).to_owned(),
        mysqld_username: flags
            .get(options.mysqld_username)
            .unwrap_or_default()
            .to_owned(),
        insecure_skip_verify: flags.get(options.insecure_skip_verify),
        data_source_name: std::env::var("DATA_SOURCE_NAME").ok().map(Secret::new),
        environment,
    }
}

fn settings(flags: &Flags, options: &Options) -> anyhow::Result<Settings> {
    let max_open_connections = flags.get(options.max_open_connections);
    if max_open_connections < 1 {
        bail!(
            "invalid value for --{}, must be >= 1: {max_open_connections}",
            flags.name(options.max_open_connections)
        );
    }
    let query_timeout = flags.get(options.query_timeout);
    if query_timeout < 0 {
        bail!(
            "invalid value for --{}, must be >= 0: {query_timeout}",
            flags.name(options.query_timeout)
        );
    }
    let timeout_offset = flags.get(options.timeout_offset);
    if !timeout_offset.is_finite() || timeout_offset < 0.0 {
        bail!(
            "invalid value for --{}, must be a non-negative number of seconds",
            flags.name(options.timeout_offset)
        );
    }
    let allowed_targets = AllowedTargets::parse(flags.get(options.allowed_targets))?;
    let scrapers = options
        .scrapers
        .enabled(flags)
        .map_err(anyhow::Error::msg)?;
    for scraper in &scrapers {
        tracing::info!(scraper = scraper.name(), "Scraper enabled");
    }
    Ok(Settings {
        scrapers,
        connect: ConnectOptions {
            lock_wait_timeout: flags
                .get(options.enable_lock_wait_timeout)
                .then_some(flags.get(options.lock_wait_timeout)),
            log_slow_filter: flags.get(options.log_slow_filter),
            max_open_connections: usize::try_from(max_open_connections).unwrap_or(usize::MAX),
        },
        timeout_offset,
        query_timeout: u64::try_from(query_timeout)
            .ok()
            .filter(|seconds| *seconds > 0)
            .map(Duration::from_secs),
        allowed_targets,
    })
}

async fn run(flags: ExporterFlags, options: Options) -> anyhow::Result<()> {
    let web = flags.web_options()?;
    tracing::info!(version = INFO.version, "Starting octo-mysqld-exporter");
    let settings = settings(&flags, &options)?;
    let sources = sources(&flags, &options);
    let credentials = load(&sources).context("Error parsing host config")?;
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
    let (set, options) = flag_set();
    octo_exporter_kit::run_exporter(set.parse_env_or_exit(), |flags| run(flags, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(ExporterFlags, Options), String> {
        let (set, options) = flag_set();
        let flags = set.parse_args(args).map_err(|e| e.to_string())?;
        Ok((flags, options))
    }

    #[test]
    fn upstream_flags_parse_with_defaults() {
        let (flags, options) = parse(&[
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
        let names: Vec<&str> = options
            .scrapers
            .enabled(&flags)
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
        let settings = settings(&flags, &options).unwrap();
        assert_eq!(settings.connect.lock_wait_timeout, Some(3));
        assert_eq!(settings.connect.max_open_connections, 2);
        assert_eq!(settings.timeout_offset, 0.25);
    }

    #[test]
    fn unimplemented_scrapers_and_bad_values_are_refused() {
        let (flags, options) = parse(&["--collect.info_schema.innodb_tablespaces"]).unwrap();
        let err = options.scrapers.enabled(&flags).err().unwrap();
        assert!(
            err.contains("--collect.info_schema.innodb_tablespaces"),
            "{err}"
        );
        let (flags, options) = parse(&["--exporter.max_open_connections=0"]).unwrap();
        assert!(settings(&flags, &options).is_err());
        // A number that does not parse is refused with the command line now (exit 1, as
        // kingpin); a negative one still at start-up.
        assert!(parse(&["--timeout-offset=soon"]).is_err());
        let (flags, options) = parse(&["--timeout-offset=-1"]).unwrap();
        assert!(settings(&flags, &options).is_err());
        assert!(parse(&["--collect.no_such_scraper"]).is_err());
    }

    #[test]
    fn start_up_messages_name_the_flag() {
        let (flags, options) = parse(&["--exporter.max_open_connections=0"]).unwrap();
        let err = settings(&flags, &options).err().unwrap().to_string();
        assert_eq!(
            err,
            "invalid value for --exporter.max_open_connections, must be >= 1: 0"
        );
        let (flags, options) = parse(&["--exporter.query_timeout=-1"]).unwrap();
        let err = settings(&flags, &options).err().unwrap().to_string();
        assert_eq!(
            err,
            "invalid value for --exporter.query_timeout, must be >= 0: -1"
        );
        let (flags, options) = parse(&[
            "--collect.perf_schema.eventsstatements",
            "--collect.perf_schema.eventsstatements.limit=-1",
        ])
        .unwrap();
        let err = settings(&flags, &options).err().unwrap().to_string();
        assert_eq!(
            err,
            "--collect.perf_schema.eventsstatements.limit must not be negative"
        );
    }
}
