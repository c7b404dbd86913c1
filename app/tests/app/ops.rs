//! `/metrics`, `/healthz`, `/readyz`, and the seed's dashboard and alert queries run by a real
//! Prometheus against the app.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use octo_testbed::Prometheus;
use octo_testbed::metrics::{parse, promtool_check};

use super::support::TestApp;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seed/grafana/provisioning/dashboards/system_monitoring.json"
);
const SEED_RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/seed/prometheus");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_the_dashboards_names_and_bounded_labels() {
    let app = TestApp::start().await;
    let id = app.add_user("Ana", "ana@example.com").await;
    for other in [id, id + 1000, id + 2000] {
        app.get(&format!("/api/usuarios/{other}")).await;
    }
    app.get("/usuarios").await;
    for junk in ["/random/a", "/random/b", "/wp-admin.php?x=1"] {
        assert_eq!(app.get(junk).await.status, 404);
    }
    let _ = app
        .client
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            app.url("/usuarios"),
        )
        .send()
        .await
        .unwrap();
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let exposition = parse(&reply.body).unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
    let lint = promtool_check(&reply.body).expect("promtool parses the exposition");
    assert!(lint.is_empty(), "promtool lint: {lint:?}");

    let requests = exposition
        .family("http_requests_total")
        .expect("http_requests_total");
    assert_eq!(requests.kind, "counter");
    assert_eq!(
        requests.label_names(),
        BTreeSet::from(["endpoint".into(), "method".into(), "status".into()])
    );
    let endpoints: BTreeSet<&str> = requests
        .series
        .iter()
        .map(|s| s.labels["endpoint"].as_str())
        .collect();
    assert!(endpoints.contains("/api/usuarios/{id}"), "{endpoints:?}");
    assert!(endpoints.contains("/usuarios"));
    assert!(
        endpoints.contains("other"),
        "unmatched paths share one label"
    );
    assert!(
        endpoints
            .iter()
            .all(|e| !e.contains("random") && !e.chars().any(|c| c.is_ascii_digit())),
        "raw paths never become labels: {endpoints:?}"
    );
    assert_eq!(
        exposition.value(
            "http_requests_total",
            &[
                ("method", "GET"),
                ("endpoint", "/api/usuarios/{id}"),
                ("status", "404")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        exposition.value(
            "http_requests_total",
            &[
                ("method", "POST"),
                ("endpoint", "/api/usuarios"),
                ("status", "201")
            ]
        ),
        Some(1.0)
    );
    assert!(
        exposition
            .value(
                "http_requests_total",
                &[("method", "OTHER"), ("endpoint", "/usuarios")]
            )
            .is_some(),
        "unknown methods are folded into OTHER"
    );

    let durations = exposition
        .family("http_request_duration_seconds")
        .expect("the latency histogram");
    assert_eq!(durations.kind, "histogram");
    assert_eq!(
        durations.label_names(),
        BTreeSet::from(["endpoint".into(), "method".into()])
    );
    let bounds: BTreeSet<&str> = durations
        .series
        .iter()
        .filter_map(|s| s.labels.get("le").map(String::as_str))
        .collect();
    for bound in ["0.005", "0.01", "0.1", "0.5", "1", "2", "5", "+Inf"] {
        assert!(bounds.contains(bound), "bucket {bound} in {bounds:?}");
    }
    assert_eq!(
        exposition.value(
            "http_request_duration_seconds_count",
            &[("method", "GET"), ("endpoint", "/api/usuarios/{id}")]
        ),
        Some(3.0)
    );

    // The scrape itself is in flight while it is encoded.
    assert_eq!(exposition.value("http_requests_in_flight", &[]), Some(1.0));
    assert_eq!(
        exposition.value(
            "app_info",
            &[
                ("app", "app-under-test"),
                ("version", env!("CARGO_PKG_VERSION"))
            ]
        ),
        Some(1.0)
    );
    assert!(
        exposition
            .value(
                "app_requests_total",
                &[("app", "app-under-test"), ("status", "404")]
            )
            .is_some_and(|v| v >= 5.0)
    );
    assert_eq!(
        exposition.value("app_db_pool_max_connections", &[]),
        Some(8.0)
    );
    assert!(
        exposition
            .value("app_db_pool_connections", &[("state", "idle")])
            .is_some()
    );
    assert!(
        exposition
            .value("app_db_pool_connections", &[("state", "in_use")])
            .is_some()
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let value = exposition
            .value(name, &[])
            .unwrap_or_else(|| panic!("{name}"));
        assert!(value > 0.0, "{name} = {value}");
    }
    let rss = exposition
        .value("process_resident_memory_bytes", &[])
        .unwrap();
    assert!(rss > 1e6 && rss < 1e9, "resident memory {rss}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    let health = app.get("/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = app.get("/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    app.stop().await;
}

/// Every `expr` of the seed's dashboard and rules that reads the app's metrics.
fn seed_app_queries() -> Vec<String> {
    let mut queries = Vec::new();
    let dashboard =
        std::fs::read_to_string(DASHBOARD).unwrap_or_else(|e| panic!("reading {DASHBOARD}: {e}"));
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if key == "expr"
                        && let Some(expr) = value.as_str()
                    {
                        out.push(expr.to_owned());
                    }
                    walk(value, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut queries);
    for entry in std::fs::read_dir(SEED_RULES).expect("the seed's rules directory") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(expr) = line.trim().strip_prefix("expr:") {
                queries.push(expr.trim().to_owned());
            }
        }
    }
    queries.retain(|q| {
        let app_metric = |name: &str| {
            q.match_indices(name).any(|(at, _)| {
                at == 0 || !q[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        };
        app_metric("http_request") || app_metric("app_requests")
    });
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_answers_the_seeds_dashboard_and_alert_queries() {
    let app = TestApp::start().await;
    let queries = seed_app_queries();
    assert!(queries.len() >= 5, "{queries:?}");
    let target = app.base.trim_start_matches("http://").to_owned();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app_instances\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let prometheus = Prometheus::start(&config, &[])
        .await
        .expect("Prometheus starts");
    // Traffic while Prometheus scrapes a few times, with a spell of 5xx in the middle (the table
    // renamed away: the database answers, but not as the app needs) for the error-rate panel.
    let started = Instant::now();
    let mut broken = false;
    let mut saw_503 = false;
    while started.elapsed() < Duration::from_secs(6) {
        let in_window = (2..4).contains(&started.elapsed().as_secs());
        if in_window != broken {
            broken = in_window;
            app.sql(if broken {
                "RENAME TABLE usuarios TO usuarios_away"
            } else {
                "RENAME TABLE usuarios_away TO usuarios"
            })
            .await;
        }
        saw_503 |= app.get("/usuarios").await.status == 503;
        app.get("/api/usuarios/12345").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_503, "the broken spell answered 503");
    assert_eq!(app.get("/usuarios").await.status, 200, "and recovered");
    let deadline = Instant::now() + Duration::from_secs(30);
    for query in &queries {
        // Alert expressions compare with a threshold; the series behind them must exist.
        let expr = query.split(" > ").next().unwrap().replace("[5m]", "[1m]");
        loop {
            let result = prometheus.query(&expr).await.expect("a valid query");
            if !result.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "no data for {expr}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let up = prometheus.query("up{job=\"app_instances\"}").await.unwrap();
    assert_eq!(up[0]["value"][1], "1");
    app.stop().await;
}
