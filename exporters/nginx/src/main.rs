//! octo-nginx-exporter: a drop-in replacement for nginx-prometheus-exporter (stub_status).
//!
//! Accepts the flags of 1.x (`--nginx.scrape-uri`, repeatable, with an `addr` label when there
//! are several) and of 0.11, which Debian ships (`-nginx.scrape-uri=...`, `-nginx.retries`,
//! `-prometheus.const-labels a=b,c=d`), and their environment variables. Unlike 0.11 it never
//! exits because nginx is unreachable: it answers `nginx_up 0` until nginx is back.
//!
//! Beyond upstream: `/probe?target=<scrape uri>` for many nginx instances from one exporter
//! (within `--probe.allowed-targets`), and, opt-in, status codes and latency from nginx's access
//! log (`--nginxlog.socket`, `--nginxlog.file`) under prometheus-nginxlog-exporter's names.

mod config;
mod log_options;
mod logline;
mod logsource;
mod logstats;
mod probe_target;
mod stub_status;
mod target;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;
use octo_exporter_kit::{
    Exporter, ExporterFlags, ExporterInfo, HandlerMetrics, HttpError, MetricFamily, Reply,
    ScrapeRequest,
};

use octo_exporter_kit::probe_targets::AllowedTargets;

use crate::config::{Config, NginxFlags};
use crate::log_options::LogOptions;
use crate::logsource::SharedStats;
use crate::logstats::LogStats;
use crate::probe_target::Endpoint;
use crate::stub_status::StubStatus;
use crate::target::{Target, TlsOptions};

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-nginx-exporter",
    title: "Octo NGINX Exporter",
    upstream: "nginx-prometheus-exporter",
    build_info_metric: "nginx_exporter_build_info",
    default_listen_address: ":9113",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::Requests,
};

struct NginxExporter {
    targets: Vec<Target>,
    const_labels: Vec<(String, String)>,
    probe: Probe,
    log: Option<(SharedStats, String)>,
}

/// What `/probe?target=` may reach, and how.
struct Probe {
    allowed: AllowedTargets,
    tls: TlsOptions,
    timeout: Duration,
}

impl NginxExporter {
    fn families(&self, results: &[Option<StubStatus>]) -> Vec<MetricFamily> {
        stub_families(&self.targets, &self.const_labels, results)
    }

    /// One nginx named by the request, scraped with a client of its own; its series carry no
    /// `addr` label (the target is Prometheus's `instance`).
    async fn probe(&self, request: &ScrapeRequest) -> Reply {
        let text = |status: u16, body: String| Reply::Text { status, body };
        let Some(uri) = request.query_value("target").filter(|t| !t.is_empty()) else {
            return text(400, "target is required\n".into());
        };
        let Some(endpoint) = Endpoint::of_uri(uri) else {
            return text(
                400,
                "target must be an http://, https:// or unix: scrape URI\n".into(),
            );
        };
        if !self.probe.allowed.allows(&endpoint.as_probe_target()) {
            tracing::warn!(target = uri, "probe refused by --probe.allowed-targets");
            // 400, as the mysqld exporter answers: the request named what it may not.
            return text(
                400,
                "target is not allowed by --probe.allowed-targets\n".into(),
            );
        }
        let timeout = request
            .scrape_timeout
            .map_or(self.probe.timeout, |t| t.min(self.probe.timeout));
        let target = match Target::new(uri, timeout, &self.probe.tls) {
            Ok(target) => target,
            Err(err) => return text(400, format!("{err}\n")),
        };
        let result = match target.scrape().await {
            Ok(status) => Some(status),
            Err(err) => {
                tracing::error!(error = %err, "error probing nginx");
                None
            }
        };
        Reply::Metrics(stub_families(
            std::slice::from_ref(&target),
            &self.const_labels,
            &[result],
        ))
    }
}

fn stub_families(
    targets: &[Target],
    const_labels: &[(String, String)],
    results: &[Option<StubStatus>],
) -> Vec<MetricFamily> {
    {
        let with_addr = targets.len() > 1;
        let labels_for = |target: &Target| {
            let mut labels = const_labels.to_vec();
            if with_addr {
                labels.push(("addr".to_owned(), target.uri.clone()));
            }
            labels
        };
        type Field = fn(&StubStatus) -> u64;
        let mut stats: [(MetricFamily, Field); 7] = [
            (
                MetricFamily::gauge("nginx_connections_active", "Active client connections"),
                |s| s.active,
            ),
            // Counters without `_total`, exactly as nginx-prometheus-exporter names them.
            (
                MetricFamily::counter("nginx_connections_accepted", "Accepted client connections"),
                |s| s.accepted,
            ),
            (
                MetricFamily::counter("nginx_connections_handled", "Handled client connections"),
                |s| s.handled,
            ),
            (
                MetricFamily::gauge(
                    "nginx_connections_reading",
                    "Connections where NGINX is reading the request header",
                ),
                |s| s.reading,
            ),
            (
                MetricFamily::gauge(
                    "nginx_connections_writing",
                    "Connections where NGINX is writing the response back to the client",
                ),
                |s| s.writing,
            ),
            (
                MetricFamily::gauge("nginx_connections_waiting", "Idle client connections"),
                |s| s.waiting,
            ),
            (
                MetricFamily::counter("nginx_http_requests_total", "Total http requests"),
                |s| s.requests,
            ),
        ];
        let mut up = MetricFamily::gauge("nginx_up", "Status of the last metric scrape");
        let mut out: Vec<MetricFamily> = Vec::with_capacity(8);
        for (target, result) in targets.iter().zip(results) {
            let labels = labels_for(target);
            up.push_owned(labels.clone(), if result.is_some() { 1.0 } else { 0.0 });
            if let Some(status) = result {
                for (family, field) in &mut stats {
                    family.push_owned(labels.clone(), field(status) as f64);
                }
            }
        }
        out.push(up);
        out.extend(stats.into_iter().map(|(family, _)| family));
        out
    }
}

impl Exporter for NginxExporter {
    async fn collect(&self, _request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        let results = join_all(self.targets.iter().map(|target| async move {
            match target.scrape().await {
                Ok(status) => Some(status),
                Err(err) => {
                    tracing::error!(error = %err, "error scraping nginx");
                    None
                }
            }
        }))
        .await;
        let mut families = self.families(&results);
        if let Some((stats, namespace)) = &self.log {
            let stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
            families.extend(stats.families(namespace, &self.const_labels));
        }
        Ok(families)
    }

    async fn handle_other(&self, request: &ScrapeRequest) -> Option<Reply> {
        match request.path.as_str() {
            "/probe" => Some(self.probe(request).await),
            _ => None,
        }
    }
}

/// Starts the access-log sources; the counts they share.
fn start_log_sources(options: LogOptions) -> anyhow::Result<SharedStats> {
    let stats: SharedStats = Arc::new(Mutex::new(LogStats::new(options.labels, options.buckets)));
    if let Some(path) = &options.socket {
        let socket = logsource::bind_socket(path, options.socket_mode)?;
        let batch_wait = options.batch_wait;
        tracing::info!(socket = %path.display(), "receiving nginx's access log");
        let shared = stats.clone();
        std::thread::Builder::new()
            .name("nginxlog-socket".into())
            .spawn(move || logsource::receive(socket, shared, batch_wait))?;
    }
    if let Some(path) = options.file {
        tracing::info!(file = %path.display(), "following nginx's access log");
        let shared = stats.clone();
        std::thread::Builder::new()
            .name("nginxlog-file".into())
            .spawn(move || logsource::follow_file(path, shared, Duration::from_millis(250)))?;
    }
    Ok(stats)
}

async fn run(flags: ExporterFlags, handles: NginxFlags) -> anyhow::Result<()> {
    let config = Config::read(&flags, &handles)?;
    let log = match config.log {
        Some(options) => {
            let namespace = options.namespace.clone();
            Some((start_log_sources(options)?, namespace))
        }
        None => None,
    };
    let exporter = NginxExporter {
        targets: config.targets,
        const_labels: config.const_labels,
        probe: Probe {
            allowed: config.allowed_targets,
            tls: config.tls,
            timeout: config.timeout,
        },
        log,
    };
    tracing::info!(
        version = INFO.version,
        targets = exporter.targets.len(),
        "Starting octo-nginx-exporter"
    );
    octo_exporter_kit::serve(&INFO, config.web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let (flags, handles) =
        config::parse(&INFO, std::env::args_os()).unwrap_or_else(|err| err.exit());
    octo_exporter_kit::run_exporter(flags, move |flags| run(flags, handles))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn failed_targets_report_only_up() {
        let tls = TlsOptions::default();
        let t = Duration::from_secs(1);
        let exporter = NginxExporter {
            targets: vec![
                Target::new("http://a/stub_status", t, &tls).unwrap(),
                Target::new("http://b/stub_status", t, &tls).unwrap(),
            ],
            const_labels: vec![("env".into(), "prod".into())],
            probe: Probe {
                allowed: AllowedTargets::default(),
                tls: TlsOptions::default(),
                timeout: t,
            },
            log: None,
        };
        let status = StubStatus {
            active: 1,
            accepted: 2,
            handled: 2,
            requests: 3,
            reading: 0,
            writing: 1,
            waiting: 0,
        };
        let families = exporter.families(&[Some(status), None]);
        let up = families.iter().find(|f| f.name == "nginx_up").unwrap();
        assert_eq!(up.samples.len(), 2);
        assert!(
            up.samples
                .iter()
                .all(|s| s.labels.iter().any(|(k, _)| k == "addr"))
        );
        let requests = families
            .iter()
            .find(|f| f.name == "nginx_http_requests_total")
            .unwrap();
        assert_eq!(requests.samples.len(), 1);
        assert_eq!(requests.samples[0].value, 3.0);
    }
}
