//! Scrapes as Prometheus sends them.

use std::time::{Duration, Instant};

use anyhow::bail;

/// How long a scrape may take before the harness's client gives up.
pub(crate) const SCRAPE_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client for loopback, giving up on a request after `timeout`.
pub(crate) fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    // Feature unification may give reqwest TLS without a provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()?)
}

/// One scrape as Prometheus sends it (gzip only when `gzip`); returns the latency and the body
/// as received.
pub(crate) async fn scrape(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
) -> anyhow::Result<(Duration, Vec<u8>)> {
    let mut request = client
        .get(url)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )
        .header("x-prometheus-scrape-timeout-seconds", "10");
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    Ok((elapsed, body.to_vec()))
}

/// The samples in exposition text: its lines that are neither empty nor comments.
pub(super) fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}
