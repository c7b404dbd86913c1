//! The command line of nginx-prometheus-exporter 1.x and 0.11 (single-dash flags too), their
//! environment variables, and the configuration they make.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::flags::FlagError;
use octo_exporter_kit::{DashStyle, ExporterFlags, ExporterInfo, Flag, FlagSet, Flags, WebOptions};

use crate::log_options::{self, LogFlags, LogOptions};
use crate::target::{Target, TlsOptions};
use octo_exporter_kit::probe_targets::AllowedTargets;

const ABOUT: &str =
    "Exports nginx stub_status as Prometheus metrics (drop-in for nginx-prometheus-exporter).";

/// The handles of the exporter's own flags.
#[derive(Debug, Clone, Copy)]
pub struct NginxFlags {
    scrape_uris: Flag<Vec<String>>,
    ssl_verify: Flag<bool>,
    ssl_ca_cert: Flag<Option<String>>,
    ssl_client_cert: Flag<Option<String>>,
    ssl_client_key: Flag<Option<String>>,
    timeout: Flag<Duration>,
    plus: Flag<bool>,
    const_label: Flag<Vec<String>>,
    allowed_targets: Flag<Vec<String>>,
    log: LogFlags,
    old: OldFlags,
}

/// The flags only nginx-prometheus-exporter 0.11 has.
#[derive(Debug, Clone, Copy)]
struct OldFlags {
    /// The comma-separated `-prometheus.const-labels`.
    const_labels: Flag<Option<String>>,
    retries: Flag<String>,
    retry_interval: Flag<String>,
    secured_metrics: Flag<bool>,
}

/// What the command line configures.
#[derive(Debug)]
pub struct Config {
    pub web: WebOptions,
    pub targets: Vec<Target>,
    pub const_labels: Vec<(String, String)>,
    /// For `/probe?target=`: which targets, and how to reach them.
    pub allowed_targets: AllowedTargets,
    pub tls: TlsOptions,
    pub timeout: Duration,
    /// The access-log source, when one is given.
    pub log: Option<LogOptions>,
}

/// Declares every flag and parses `args` (the program name first); the environment variables
/// nginx-prometheus-exporter reads are bound to their flags (the command line wins).
pub fn parse(
    info: &'static ExporterInfo,
    args: impl IntoIterator<Item = OsString>,
) -> Result<(ExporterFlags, NginxFlags), FlagError> {
    let mut set = info.flag_set(ABOUT);
    let web = set.kit().web;
    set.env(web.listen_addresses, "LISTEN_ADDRESS")
        .env(web.telemetry_path, "TELEMETRY_PATH")
        .env(web.config_file, "CONFIG_FILE")
        .env(web.systemd_socket, "SYSTEMD_SOCKET");
    let handles = declare(&mut set);
    Ok((set.parse(args)?, handles))
}

fn declare(set: &mut FlagSet) -> NginxFlags {
    set.dash_style(DashStyle::AcceptSingle).heading("NGINX");
    let scrape_uris = set.repeatable(
        "nginx.scrape-uri",
        &["http://127.0.0.1:8080/stub_status"],
        "A URI or unix domain socket path for scraping NGINX metrics (http://, https://, or \
         unix:/path.sock:/request-path). Repeatable; with several, series get an addr label.",
    );
    set.env(scrape_uris, "SCRAPE_URI");
    let ssl_verify = set.bool(
        "nginx.ssl-verify",
        false,
        "Perform SSL certificate verification.",
    );
    set.env(ssl_verify, "SSL_VERIFY");
    let ssl_ca_cert = set.optional(
        "nginx.ssl-ca-cert",
        "Path to the PEM encoded CA certificate file used to validate the servers' SSL certificates.",
    );
    set.env(ssl_ca_cert, "SSL_CA_CERT");
    let ssl_client_cert = set.optional(
        "nginx.ssl-client-cert",
        "Path to the PEM encoded client certificate file to use when connecting to the server.",
    );
    set.env(ssl_client_cert, "SSL_CLIENT_CERT");
    let ssl_client_key = set.optional(
        "nginx.ssl-client-key",
        "Path to the PEM encoded client certificate key file to use when connecting to the server.",
    );
    set.env(ssl_client_key, "SSL_CLIENT_KEY");
    let timeout = set.duration(
        "nginx.timeout",
        "5s",
        "A timeout for scraping metrics from NGINX.",
    );
    set.env(timeout, "TIMEOUT");
    let plus = set.bool(
        "nginx.plus",
        false,
        "Start the exporter for NGINX Plus (not supported).",
    );
    set.env(plus, "NGINX_PLUS");
    let const_label = set.repeatable(
        "prometheus.const-label",
        &[],
        "Label that will be used in every metric, as name=value. Repeatable.",
    );
    set.env(const_label, "CONST_LABELS");
    let allowed_targets = set.repeatable(
        "probe.allowed-targets",
        &[],
        "nginx instances a request may name with /probe?target=: host:port with * and ? \
         wildcards, a network (10.0.0.0/8) or unix:///path; comma-separated or repeated. \
         Without it any target is probed.",
    );
    let log = log_options::declare(set);
    set.heading("Accepted for nginx-prometheus-exporter 0.11 compatibility");
    NginxFlags {
        scrape_uris,
        ssl_verify,
        ssl_ca_cert,
        ssl_client_cert,
        ssl_client_key,
        timeout,
        plus,
        const_label,
        allowed_targets,
        log,
        old: declare_0_11(set),
    }
}

/// Declares the flags only 0.11 has; `-web.ssl-server-cert` and `-web.ssl-server-key` are never
/// read, as `-web.secured-metrics` is refused.
fn declare_0_11(set: &mut FlagSet) -> OldFlags {
    let const_labels = set.optional(
        "prometheus.const-labels",
        "Comma-separated labels used in every metric (0.11), as name1=value1,name2=value2.",
    );
    let retries = set.string(
        "nginx.retries",
        "0",
        "Accepted and ignored: this exporter starts without nginx and reports nginx_up 0.",
    );
    set.env(retries, "NGINX_RETRIES");
    let retry_interval = set.string(
        "nginx.retry-interval",
        "5s",
        "Accepted and ignored (see --nginx.retries).",
    );
    set.env(retry_interval, "NGINX_RETRY_INTERVAL");
    let secured_metrics = set.bool(
        "web.secured-metrics",
        false,
        "Not supported: serve TLS with --web.config.file and a tls_server_config instead.",
    );
    set.env(secured_metrics, "SECURED_METRICS");
    let server_cert = set.optional("web.ssl-server-cert", "See --web.secured-metrics.");
    set.env(server_cert, "SSL_SERVER_CERT");
    let server_key = set.optional("web.ssl-server-key", "See --web.secured-metrics.");
    set.env(server_key, "SSL_SERVER_KEY");
    OldFlags {
        const_labels,
        retries,
        retry_interval,
        secured_metrics,
    }
}

impl Config {
    /// Reads the configuration, refusing what this exporter does not do.
    pub fn read(flags: &ExporterFlags, handles: &NginxFlags) -> anyhow::Result<Config> {
        let web = flags.web_options()?;
        if flags.get(handles.plus) {
            bail!(
                "--nginx.plus: the NGINX Plus API is not supported by octo-nginx-exporter; it reads stub_status"
            );
        }
        let old = &handles.old;
        if flags.get(old.secured_metrics) {
            bail!(
                "--web.secured-metrics is not supported: put the certificate and key in a \
                 tls_server_config section of a --web.config.file"
            );
        }
        if flags.was_given(old.retries) || flags.was_given(old.retry_interval) {
            tracing::info!(
                "--nginx.retries and --nginx.retry-interval are ignored: nginx may start after the exporter, which reports nginx_up 0 meanwhile"
            );
        }
        let allowed_targets = AllowedTargets::parse(flags.get(handles.allowed_targets))?;
        Ok(Config {
            web,
            targets: targets(flags, handles)?,
            const_labels: const_labels(flags, handles)?,
            allowed_targets,
            tls: tls_options(flags, handles),
            timeout: flags.get(handles.timeout),
            log: LogOptions::read(flags, &handles.log)?,
        })
    }
}

/// One target per distinct `--nginx.scrape-uri`.
fn targets(flags: &Flags, handles: &NginxFlags) -> anyhow::Result<Vec<Target>> {
    let timeout = flags.get(handles.timeout);
    if timeout.is_zero() {
        bail!("--nginx.timeout must be greater than zero");
    }
    let tls = tls_options(flags, handles);
    let uris = flags.get(handles.scrape_uris);
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
    Ok(targets)
}

fn tls_options(flags: &Flags, handles: &NginxFlags) -> TlsOptions {
    let path =
        |flag: Flag<Option<String>>| flags.get(flag).filter(|v| !v.is_empty()).map(Into::into);
    TlsOptions {
        verify: flags.get(handles.ssl_verify),
        ca_cert: path(handles.ssl_ca_cert),
        client_cert: path(handles.ssl_client_cert),
        client_key: path(handles.ssl_client_key),
    }
}

/// Reads `name=value` labels from the 1.x repeatable flag and 0.11's comma-separated one.
fn const_labels(flags: &Flags, handles: &NginxFlags) -> anyhow::Result<Vec<(String, String)>> {
    let mut items: Vec<&str> = Vec::new();
    for value in flags.get(handles.const_label) {
        // CONST_LABELS written for 0.11 holds `a=b,c=d`; split it when every part is a pair.
        if value.contains(',') && value.split(',').all(|part| part.contains('=')) {
            items.extend(value.split(','));
        } else {
            items.push(value);
        }
    }
    if let Some(old) = flags
        .get(handles.old.const_labels)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::INFO;

    fn parse_with(args: &[&str]) -> (ExporterFlags, NginxFlags) {
        let mut set = INFO.flag_set(ABOUT);
        let handles = declare(&mut set);
        (set.parse_args(args).unwrap(), handles)
    }

    #[test]
    fn both_flag_generations_parse() {
        let (new, handles) = parse_with(&[
            "--nginx.scrape-uri=http://a/stub_status",
            "--nginx.scrape-uri",
            "unix:/s.sock:/stub_status",
            "--prometheus.const-label=env=prod",
        ]);
        assert_eq!(new.get(handles.scrape_uris).len(), 2);
        let (old, handles) = parse_with(&[
            "-nginx.scrape-uri=http://a/stub_status",
            "-nginx.ssl-verify=false",
            "-nginx.retries",
            "3",
            "-prometheus.const-labels",
            "a=b,c=d",
            "-web.listen-address=:9999",
        ]);
        assert_eq!(old.get(handles.scrape_uris), vec!["http://a/stub_status"]);
        assert_eq!(old.web_options().unwrap().listen_addresses, vec![":9999"]);
        assert_eq!(
            const_labels(&old, &handles).unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
    }

    #[test]
    fn bad_const_labels_are_refused() {
        for bad in ["noequals", "1a=b", "addr=x", "__x=y"] {
            let (flags, handles) = parse_with(&["--prometheus.const-label", bad]);
            assert!(const_labels(&flags, &handles).is_err(), "{bad}");
        }
    }
}
