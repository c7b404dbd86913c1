//! The kit's server seen from a real HTTP client: exposition, gzip, limits, the web config
//! (basic auth, TLS, mutual TLS, headers, rate limit, reload) and graceful shutdown. The attacks
//! of issue 13 have a module each under `tests/kit/`, named after the attack.

// Test support code: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use octo_exporter_kit::{
    Exporter, ExporterInfo, HandlerMetrics, HttpError, MetricFamily, ScrapeRequest, WebOptions,
};
use tokio::sync::{RwLock, Semaphore};

#[path = "kit/abandoned_scrapes.rs"]
mod abandoned_scrapes;
#[path = "kit/bcrypt_flood.rs"]
mod bcrypt_flood;
#[path = "kit/listen_addresses.rs"]
mod listen_addresses;
#[path = "kit/slow_readers.rs"]
mod slow_readers;
#[path = "kit/web_config_rewrite.rs"]
mod web_config_rewrite;

/// Tests that measure the whole process (open fds, resident memory) take this for writing; every
/// other test takes it for reading, so that no other test's sockets or buffers are counted.
static PROCESS: RwLock<()> = RwLock::const_new(());

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-test-exporter",
    title: "Octo Test Exporter",
    upstream: "test_exporter",
    build_info_metric: "test_exporter_build_info",
    default_listen_address: ":0",
    version: "9.9.9",
    handler_metrics: HandlerMetrics::Requests,
};

/// Serves two families; with a gate, each scrape waits for a permit first. `?pad=N` adds N
/// samples of 64 KiB each (a large exposition). `running` counts the collections under way.
struct TestExporter {
    gate: Option<Arc<Semaphore>>,
    running: AtomicUsize,
}

impl TestExporter {
    fn new(gate: Option<Arc<Semaphore>>) -> Self {
        TestExporter {
            gate,
            running: AtomicUsize::new(0),
        }
    }

    fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

/// Counts a collection as running until it ends or is dropped (cancelled).
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Running(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Exporter for TestExporter {
    async fn collect(&self, request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        let _running = Running::enter(&self.running);
        if request.query_value("fail").is_some() {
            return Err(HttpError::bad_request("you asked for it"));
        }
        if let Some(timeout) = request.scrape_timeout {
            return Ok(vec![
                MetricFamily::gauge("test_scrape_timeout_seconds", "The timeout announced.")
                    .with(&[], timeout.as_secs_f64()),
            ]);
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        let mut families = vec![
            MetricFamily::counter("test_events_total", "Events seen.")
                .with(&[("kind", "a\"b")], 3.0),
            MetricFamily::gauge("test_temperature_celsius", "A temperature.").with(&[], 21.5),
        ];
        if let Some(pad) = request
            .query_value("pad")
            .and_then(|n| n.parse::<usize>().ok())
        {
            let filler = "x".repeat(PAD_SAMPLE_BYTES);
            let mut padding = MetricFamily::gauge("test_padding", "Bulk.");
            for i in 0..pad {
                padding.push(&[("i", &i.to_string()), ("pad", &filler)], 1.0);
            }
            families.push(padding);
        }
        Ok(families)
    }
}

/// The size of one `?pad=` sample.
const PAD_SAMPLE_BYTES: usize = 64 * 1024;

fn options(config: Option<PathBuf>) -> WebOptions {
    WebOptions {
        listen_addresses: vec!["127.0.0.1:0".into()],
        telemetry_path: "/metrics".into(),
        config_file: config,
        max_requests: 1,
        disable_exporter_metrics: false,
        systemd_socket: false,
    }
}

async fn start(
    gate: Option<Arc<Semaphore>>,
    options: WebOptions,
) -> (octo_exporter_kit::server::Server, String) {
    start_exporter(Arc::new(TestExporter::new(gate)), options).await
}

async fn start_exporter(
    exporter: Arc<TestExporter>,
    options: WebOptions,
) -> (octo_exporter_kit::server::Server, String) {
    octo_exporter_kit::install_crypto_provider();
    let server = octo_exporter_kit::start(&INFO, options, exporter)
        .await
        .expect("server starts");
    let base = format!("127.0.0.1:{}", server.local_addresses[0].port());
    (server, base)
}

fn client() -> reqwest::Client {
    octo_exporter_kit::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn telemetry_landing_page_and_not_found() {
    let _shared = PROCESS.read().await;
    let (server, base) = start(None, options(None)).await;
    let http = client();
    let response = http
        .get(format!("http://{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains("test_events_total{kind=\"a\\\"b\"} 3\n"),
        "{body}"
    );
    assert!(body.contains("test_temperature_celsius 21.5\n"));
    assert!(body.contains("test_exporter_build_info{branch=\"\",goarch="));
    assert!(body.contains("version=\"9.9.9\"} 1\n"));
    assert!(body.contains("process_resident_memory_bytes "));
    assert!(body.contains("promhttp_metric_handler_requests_in_flight 1\n"));
    let lints = octo_testbed::metrics::promtool_check(&body).expect("promtool parses our output");
    assert!(lints.is_empty(), "promtool lint: {lints:?}");

    // The scrape just served is counted in the next one.
    let body = http
        .get(format!("http://{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1\n"),
        "{body}"
    );

    let landing = http.get(format!("http://{base}/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    let html = landing.text().await.unwrap();
    assert!(
        html.contains("href=\"/metrics\"") && html.contains("9.9.9"),
        "{html}"
    );

    let missing = http
        .get(format!("http://{base}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let refused = http
        .get(format!("http://{base}/metrics?fail=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.text().await.unwrap(), "you asked for it\n");
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_scrape_timeout_headers_are_capped_or_ignored() {
    let _shared = PROCESS.read().await;
    let (server, base) = start(None, options(None)).await;
    let http = client();
    let announced = |header: &'static str| {
        let request = http
            .get(format!("http://{base}/metrics"))
            .header("X-Prometheus-Scrape-Timeout-Seconds", header);
        async move {
            let response = request.send().await.expect("the server answers");
            assert_eq!(response.status(), 200, "header {header:?}");
            let body = response.text().await.unwrap();
            body.lines()
                .find_map(|l| l.strip_prefix("test_scrape_timeout_seconds "))
                .map(str::to_owned)
        }
    };
    assert_eq!(announced("9.5").await.as_deref(), Some("9.5"));
    // Would overflow a Duration (a panic before the cap): capped to ten minutes.
    assert_eq!(announced("1e20").await.as_deref(), Some("600"));
    assert_eq!(announced("1e400").await, None, "infinite: ignored");
    for garbage in ["NaN", "-5", "0", "ten", ""] {
        assert_eq!(announced(garbage).await, None, "{garbage:?} is ignored");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn gzip_when_asked_and_exporter_metrics_can_be_dropped() {
    let _shared = PROCESS.read().await;
    let mut opts = options(None);
    opts.disable_exporter_metrics = true;
    let (server, base) = start(None, opts).await;
    // reqwest is built without decompression: we see the bytes on the wire.
    let response = client()
        .get(format!("http://{base}/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let bytes = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("test_events_total"));
    assert!(
        text.contains("test_exporter_build_info"),
        "build info stays"
    );
    assert!(!text.contains("process_"), "{text}");
    assert!(!text.contains("promhttp_"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_scrapes_beyond_the_limit_get_503() {
    let _shared = PROCESS.read().await;
    let gate = Arc::new(Semaphore::new(0));
    let (server, base) = start(Some(gate.clone()), options(None)).await;
    let http = client();
    let url = format!("http://{base}/metrics");
    let first = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        async move { http.get(url).send().await.unwrap().status() }
    });
    // Wait until the first scrape is in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = http.get(&url).send().await.unwrap();
    assert_eq!(second.status(), 503);
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("Limit of concurrent requests reached (1)")
    );
    gate.add_permits(1);
    assert_eq!(first.await.unwrap(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_scrapes_finish_and_stops_accepting() {
    let _shared = PROCESS.read().await;
    let gate = Arc::new(Semaphore::new(0));
    let (server, base) = start(Some(gate.clone()), options(None)).await;
    let url = format!("http://{base}/metrics");
    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { client().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shutting_down = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        client().get(&url).send().await.is_err(),
        "a new connection was accepted after shutdown began"
    );
    gate.add_permits(1);
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    tokio::time::timeout(Duration::from_secs(5), shutting_down)
        .await
        .expect("shutdown finishes once the scrape is done")
        .unwrap();
}

#[tokio::test]
async fn basic_auth_headers_rate_limit_and_live_reload() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right horse", 4).unwrap();
    let config = write(
        dir.path(),
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    );
    let (server, base) = start(None, options(Some(config.clone()))).await;
    let http = client();
    let url = format!("http://{base}/metrics");

    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic");
    assert_eq!(anonymous.headers()["x-frame-options"], "deny");
    let wrong = http
        .get(&url)
        .basic_auth("prometheus", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let stranger = http
        .get(&url)
        .basic_auth("mallory", Some("right horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    let right = http
        .get(&url)
        .basic_auth("prometheus", Some("right horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);

    // Broken on disk: the last valid users stay (neither open nor failing), the process stays up.
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(dir.path(), "web.yml", "basic_auth_users: [unclosed\n");
    let kept = http
        .get(&url)
        .basic_auth("prometheus", Some("right horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Fixed with a rate limit instead of users.
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(
        dir.path(),
        "web.yml",
        "rate_limit:\n  interval: 1m\n  burst: 2\n",
    );
    let statuses: Vec<u16> = futures_statuses(&http, &url, 3).await;
    assert_eq!(statuses, vec![200, 200, 429]);
    server.shutdown().await;
}

async fn futures_statuses(http: &reqwest::Client, url: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(http.get(url).send().await.unwrap().status().as_u16());
    }
    out
}

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_identity: String,
    other_san_identity: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["scraper.example".into()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other = CertificateParams::new(vec!["other.example".into()])
        .unwrap()
        .signed_by(&other_key, &issuer)
        .unwrap();
    Pki {
        other_san_identity: format!("{}\n{}", other.pem(), other_key.serialize_pem()),
        ca_pem: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_identity: format!("{}\n{}", client.pem(), client_key.serialize_pem()),
    }
}

fn tls_client(ca: &str, identity: Option<&str>) -> reqwest::Client {
    octo_exporter_kit::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()]);
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn tls_serves_https_only() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    write(dir.path(), "server.crt", &pki.server_cert);
    write(dir.path(), "server.key", &pki.server_key);
    let config = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let (server, base) = start(None, options(Some(config))).await;
    let port = base.rsplit(':').next().unwrap();
    let https = tls_client(&pki.ca_pem, None);
    let response = https
        .get(format!("https://localhost:{port}/metrics"))
        .send()
        .await
        .expect("https works");
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("test_events_total"));
    assert!(
        client()
            .get(format!("http://{base}/metrics"))
            .send()
            .await
            .is_err(),
        "plain HTTP to the TLS listener must fail"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let stranger = pki_client_from_other_ca();
    write(dir.path(), "server.crt", &pki.server_cert);
    write(dir.path(), "server.key", &pki.server_key);
    write(dir.path(), "ca.crt", &pki.ca_pem);
    let config = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
         client_allowed_sans: [scraper.example]\n",
    );
    let (server, base) = start(None, options(Some(config))).await;
    let port = base.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}/metrics");

    let without = tls_client(&pki.ca_pem, None).get(&url).send().await;
    assert!(
        without.is_err(),
        "a client without a certificate was served"
    );
    let foreign = tls_client(&pki.ca_pem, Some(&stranger))
        .get(&url)
        .send()
        .await;
    assert!(
        foreign.is_err(),
        "a certificate from another CA was accepted"
    );
    let wrong_san = tls_client(&pki.ca_pem, Some(&pki.other_san_identity))
        .get(&url)
        .send()
        .await;
    assert!(
        wrong_san.is_err(),
        "a certificate without an allowed SAN was served"
    );
    let with = tls_client(&pki.ca_pem, Some(&pki.client_identity))
        .get(&url)
        .send()
        .await
        .expect("a client with a valid certificate is served");
    assert_eq!(with.status(), 200);
    assert!(with.text().await.unwrap().contains("test_events_total"));
    server.shutdown().await;
}

fn pki_client_from_other_ca() -> String {
    let other = pki();
    other.client_identity
}

#[tokio::test]
async fn invalid_web_config_stops_start_up() {
    let _shared = PROCESS.read().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n",
    );
    let result = octo_exporter_kit::start(
        &INFO,
        options(Some(config)),
        Arc::new(TestExporter::new(None)),
    )
    .await;
    let err = result
        .expect_err("start-up refuses a broken web config")
        .to_string();
    assert!(err.contains("nowhere.crt"), "{err}");
}

/// Polls `done` every 50 ms until it holds or `limit` passes; says whether it held.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
