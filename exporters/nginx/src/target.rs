//! One nginx to scrape: its URI as the user gave it, and an HTTP client reused across scrapes.

use std::path::PathBuf;
use std::time::Duration;

use crate::stub_status::{self, StubStatus};

/// TLS settings for `https://` targets (`--nginx.ssl-*`).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub verify: bool,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// Why a target could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("invalid scrape URI {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("setting up the HTTP client for {uri}: {source}")]
    Client { uri: String, source: reqwest::Error },
}

/// Why one scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("failed to get {uri}: {source}")]
    Network { uri: String, source: reqwest::Error },
    #[error("expected 200 response, got {status} from {uri}")]
    Status { uri: String, status: u16 },
    #[error("failed to parse response body from {uri}: {source}")]
    Parse {
        uri: String,
        source: stub_status::ParseError,
    },
}

/// A scrape target.
#[derive(Debug)]
pub struct Target {
    /// The URI as given, used in the `addr` label and in logs (without credentials).
    pub uri: String,
    shown: String,
    request_url: reqwest::Url,
    client: reqwest::Client,
}

impl Target {
    /// Accepts `http://...`, `https://...`, `unix:/path.sock` and `unix:/path.sock:/request`.
    pub fn new(uri: &str, timeout: Duration, tls: &TlsOptions) -> Result<Target, TargetError> {
        let uri_error = |reason: &str| TargetError::Uri {
            uri: redact(uri),
            reason: reason.into(),
        };
        octo_exporter_kit::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!(
                "NGINX-Prometheus-Exporter/v",
                env!("CARGO_PKG_VERSION")
            ))
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(90));
        let request_url = if let Some(rest) = uri.strip_prefix("unix:") {
            let (socket, path) = match rest.split_once(':') {
                Some((socket, path)) => (socket, path),
                None => (rest, "/"),
            };
            if socket.is_empty() {
                return Err(uri_error("missing socket path"));
            }
            if !path.starts_with('/') {
                return Err(uri_error(
                    "the request path after the socket must start with /",
                ));
            }
            builder = plain_http_only(builder).unix_socket(PathBuf::from(socket));
            format!("http://localhost{path}")
        } else if uri.starts_with("http://") || uri.starts_with("https://") {
            let parsed = reqwest::Url::parse(uri).map_err(|err| uri_error(&err.to_string()))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(uri_error("missing host"));
            }
            if parsed.scheme() == "https" {
                builder = configure_tls(builder, tls)?;
            } else {
                builder = plain_http_only(builder);
            }
            uri.to_owned()
        } else {
            return Err(uri_error("expected http://, https:// or unix:"));
        };
        let client = builder.build().map_err(|source| TargetError::Client {
            uri: redact(uri),
            source,
        })?;
        let request_url =
            reqwest::Url::parse(&request_url).map_err(|err| uri_error(&err.to_string()))?;
        Ok(Target {
            uri: uri.to_owned(),
            shown: redact(uri),
            request_url,
            client,
        })
    }

    /// Fetches and parses the status page once.
    pub async fn scrape(&self) -> Result<StubStatus, ScrapeError> {
        let network = |source: reqwest::Error| ScrapeError::Network {
            uri: self.shown.clone(),
            source: source.without_url(),
        };
        let response = self
            .client
            .get(self.request_url.clone())
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(ScrapeError::Status {
                uri: self.shown.clone(),
                status,
            });
        }
        let body = response.text().await.map_err(network)?;
        stub_status::parse(&body).map_err(|source| ScrapeError::Parse {
            uri: self.shown.clone(),
            source,
        })
    }
}

/// A client that only ever speaks plain HTTP needs no certificate store; without this reqwest
/// would load the system's roots (hundreds of kilobytes and a measurable start-up cost).
fn plain_http_only(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder
        .tls_danger_accept_invalid_certs(true)
        .https_only(false)
}

fn configure_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsOptions,
) -> Result<reqwest::ClientBuilder, TargetError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| TargetError::Read {
            path: path.clone(),
            source,
        })
    };
    let client_error = |source| TargetError::Client {
        uri: "https targets".into(),
        source,
    };
    builder = builder.tls_danger_accept_invalid_certs(!tls.verify);
    if let Some(ca) = &tls.ca_cert {
        for cert in reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(client_error)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert)?;
            pem.push(b'\n');
            pem.extend(read(key)?);
            builder = builder.identity(reqwest::Identity::from_pem(&pem).map_err(client_error)?);
        }
        (None, None) => {}
        _ => {
            return Err(TargetError::Uri {
                uri: "https targets".into(),
                reason: "--nginx.ssl-client-cert and --nginx.ssl-client-key go together".into(),
            });
        }
    }
    Ok(builder)
}

/// The URI without a password, for logs and errors.
fn redact(uri: &str) -> String {
    match reqwest::Url::parse(uri) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("xxxxx"));
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_upstream_uri_forms() {
        let tls = TlsOptions::default();
        let t = Duration::from_secs(1);
        assert_eq!(
            Target::new("unix:/run/nginx.sock:/stub_status", t, &tls)
                .unwrap()
                .request_url
                .as_str(),
            "http://localhost/stub_status"
        );
        assert_eq!(
            Target::new("unix:/run/nginx.sock", t, &tls)
                .unwrap()
                .request_url
                .as_str(),
            "http://localhost/"
        );
        assert!(Target::new("http://127.0.0.1:8080/stub_status", t, &tls).is_ok());
        for bad in [
            "ftp://x/",
            "127.0.0.1:8080",
            "unix:",
            "unix:/s:status",
            "http://",
        ] {
            assert!(Target::new(bad, t, &tls).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(redact("http://u:secret@h/stub"), "http://u:xxxxx@h/stub");
        assert_eq!(redact("unix:/s:/x"), "unix:/s:/x");
    }
}
