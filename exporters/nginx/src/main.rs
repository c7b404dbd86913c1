//! octo-nginx-exporter: a drop-in replacement for nginx-prometheus-exporter (stub_status).
//!
//! Accepts the flags of 1.x (`--nginx.scrape-uri`, repeatable, with an `addr` label when there
//! are several) and of 0.11, which Debian ships (`-nginx.scrape-uri=...`, `-nginx.retries`,
//! `-prometheus.const-labels a=b,c=d`), and their environment variables. Unlike 0.11 it never
//! exits because nginx is unreachable: it answers `nginx_up 0` until nginx is back.

mod stub_status;
mod target;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::future::join_all;
use octo_exporter_kit::{
    DashStyle, Exporter, ExporterInfo, FlagSet, Flags, HandlerMetrics, HttpError, MetricFamily,
    ScrapeRequest, WebOptions,
};

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

fn flag_set() -> FlagSet {
    INFO.flag_set("Exports nginx stub_status as Prometheus metrics (drop-in for nginx-prometheus-exporter).")
        .dash_style(DashStyle::AcceptSingle)
        .env("web.listen-address", "LISTEN_ADDRESS")
        .env("web.telemetry-path", "TELEMETRY_PATH")
        .env("web.config.file", "CONFIG_FILE")
        .env("web.systemd-socket", "SYSTEMD_SOCKET")
        .heading("NGINX")
        .repeatable(
            "nginx.scrape-uri",
            &["http://127.0.0.1:8080/stub_status"],
            "A URI or unix domain socket path for scraping NGINX metrics (http://, https://, or \
             unix:/path.sock:/request-path). Repeatable; with several, series get an addr label.",
            |arg| arg.env("SCRAPE_URI"),
        )
        .bool_with(
            "nginx.ssl-verify",
            false,
            "Perform SSL certificate verification.",
            |arg| arg.env("SSL_VERIFY"),
        )
        .value_with(
            "nginx.ssl-ca-cert",
            None,
            "Path to the PEM encoded CA certificate file used to validate the servers' SSL certificates.",
            |arg| arg.env("SSL_CA_CERT"),
        )
        .value_with(
            "nginx.ssl-client-cert",
            None,
            "Path to the PEM encoded client certificate file to use when connecting to the server.",
            |arg| arg.env("SSL_CLIENT_CERT"),
        )
        .value_with(
            "nginx.ssl-client-key",
            None,
            "Path to the PEM encoded client certificate key file to use when connecting to the server.",
            |arg| arg.env("SSL_CLIENT_KEY"),
        )
        .value_with(
            "nginx.timeout",
            Some("5s"),
            "A timeout for scraping metrics from NGINX.",
            |arg| arg.env("TIMEOUT"),
        )
        .bool_with(
            "nginx.plus",
            false,
            "Start the exporter for NGINX Plus (not supported).",
            |arg| arg.env("NGINX_PLUS"),
        )
        .repeatable(
            "prometheus.const-label",
            &[],
            "Label that will be used in every metric, as name=value. Repeatable.",
            |arg| arg.env("CONST_LABELS"),
        )
        .heading("Accepted for nginx-prometheus-exporter 0.11 compatibility")
        .value(
            "prometheus.const-labels",
            None,
            "Comma-separated labels used in every metric (0.11), as name1=value1,name2=value2.",
        )
        .value_with(
            "nginx.retries",
            Some("0"),
            "Accepted and ignored: this exporter starts without nginx and reports nginx_up 0.",
            |arg| arg.env("NGINX_RETRIES"),
        )
        .value_with(
            "nginx.retry-interval",
            Some("5s"),
            "Accepted and ignored (see --nginx.retries).",
            |arg| arg.env("NGINX_RETRY_INTERVAL"),
        )
        .bool_with(
            "web.secured-metrics",
            false,
            "Not supported: serve TLS with --web.config.file and a tls_server_config instead.",
            |arg| arg.env("SECURED_METRICS"),
        )
        .value_with("web.ssl-server-cert", None, "See --web.secured-metrics.", |arg| {
            arg.env("SSL_SERVER_CERT")
        })
        .value_with("web.ssl-server-key", None, "See --web.secured-metrics.", |arg| {
            arg.env("SSL_SERVER_KEY")
        })
}

/// Reads `name=value` labels from the 1.x repeatable flag and 0.11's comma-separated one.
fn const_labels(flags: &Flags) -> anyhow::Result<Vec<(String, String)>> {
    let mut items: Vec<&str> = Vec::new();
    for value in flags.values("prometheus.const-label") {
        // CONST_LABELS written for 0.11 holds `a=b,c=d`; split it when every part is a pair.
        if value.contains(',') && value.split(',').all(|part| part.contains('=')) {
            items.extend(value.split(','));
        } else {
            items.push(value);
        }
    }
    if let Some(old) = flags
        .value("prometheus.const-labels")
        .filter(|v| !v.is_empty())
    {
        items.extend(old.split(',').filter(|part| !part.trim().is_empty()));
    }
    let mut labels: Vec<(String, String)> = Vec::new();
    for item in items {
        let (name, value) = item
            .split_once('=')
            .with_context(|| format!("const label {item:?} is not name=value"))?;
        let name = name.trim();
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !valid || name.starts_with("__") {
            bail!("const label name {name:?} is not a valid label name");
        }
        if name == "addr" {
            bail!("const label name \"addr\" is reserved for the scrape URI");
        }
        labels.retain(|(existing, _)| existing != name);
        labels.push((name.to_owned(), value.to_owned()));
    }
    Ok(labels)
}

struct NginxExporter {
    targets: Vec<Target>,
    const_labels: Vec<(String, String)>,
}

impl NginxExporter {
    fn families(&self, results: &[Option<StubStatus>]) -> Vec<MetricFamily> {
        let with_addr = self.targets.len() > 1;
        let labels_for = |target: &Target| {
            let mut labels = self.const_labels.clone();
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
        for (target, result) in self.targets.iter().zip(results) {
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
        Ok(self.families(&results))
    }
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let web = WebOptions::from_flags(&flags)?;
    if flags.bool("nginx.plus") {
        bail!(
            "--nginx.plus: the NGINX Plus API is not supported by octo-nginx-exporter; it reads stub_status"
        );
    }
    if flags.bool("web.secured-metrics") {
        bail!(
            "--web.secured-metrics is not supported: put the certificate and key in a \
             tls_server_config section of a --web.config.file"
        );
    }
    if flags.was_given("nginx.retries") || flags.was_given("nginx.retry-interval") {
        tracing::info!(
            "--nginx.retries and --nginx.retry-interval are ignored: nginx may start after the exporter, which reports nginx_up 0 meanwhile"
        );
    }
    let timeout: Duration = flags
        .duration("nginx.timeout")?
        .unwrap_or(Duration::from_secs(5));
    if timeout.is_zero() {
        bail!("--nginx.timeout must be greater than zero");
    }
    let tls = TlsOptions {
        verify: flags.bool("nginx.ssl-verify"),
        ca_cert: flags
            .value("nginx.ssl-ca-cert")
            .filter(|v| !v.is_empty())
            .map(Into::into),
        client_cert: flags
            .value("nginx.ssl-client-cert")
            .filter(|v| !v.is_empty())
            .map(Into::into),
        client_key: flags
            .value("nginx.ssl-client-key")
            .filter(|v| !v.is_empty())
            .map(Into::into),
    };
    let uris = flags.values("nginx.scrape-uri");
    if uris.is_empty() {
        bail!("--nginx.scrape-uri: at least one URI is needed");
    }
    let mut targets = Vec::with_capacity(uris.len());
    for uri in uris {
        if targets.iter().any(|t: &Target| t.uri == uri) {
            continue;
        }
        targets.push(Target::new(uri, timeout, &tls)?);
    }
    let exporter = NginxExporter {
        targets,
        const_labels: const_labels(&flags)?,
    };
    tracing::info!(
        version = INFO.version,
        targets = exporter.targets.len(),
        "Starting octo-nginx-exporter"
    );
    octo_exporter_kit::serve(&INFO, web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    octo_exporter_kit::run_exporter(flag_set().parse_env_or_exit(), run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        flag_set().parse_args(args).unwrap()
    }

    #[test]
    fn both_flag_generations_parse() {
        let new = parse(&[
            "--nginx.scrape-uri=http://a/stub_status",
            "--nginx.scrape-uri",
            "unix:/s.sock:/stub_status",
            "--prometheus.const-label=env=prod",
        ]);
        assert_eq!(new.values("nginx.scrape-uri").len(), 2);
        let old = parse(&[
            "-nginx.scrape-uri=http://a/stub_status",
            "-nginx.ssl-verify=false",
            "-nginx.retries",
            "3",
            "-prometheus.const-labels",
            "a=b,c=d",
            "-web.listen-address=:9999",
        ]);
        assert_eq!(old.values("nginx.scrape-uri"), vec!["http://a/stub_status"]);
        assert_eq!(old.values("web.listen-address"), vec![":9999"]);
        assert_eq!(
            const_labels(&old).unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
    }

    #[test]
    fn bad_const_labels_are_refused() {
        for bad in ["noequals", "1a=b", "addr=x", "__x=y"] {
            let flags = parse(&["--prometheus.const-label", bad]);
            assert!(const_labels(&flags).is_err(), "{bad}");
        }
    }

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
