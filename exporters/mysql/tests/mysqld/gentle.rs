//! Gentle on the database: concurrent scrapes share one collection, connections persist and stay
//! within `--exporter.max_open_connections`, and a slow scraper is cut at the scrape deadline.

use std::time::{Duration, Instant};

use octo_testbed::ExporterProcess;
use octo_testbed::metrics::{Exposition, parse};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::common::{dsn, ours, scrape, shared, user, value};

/// A "heartbeat table" that takes `seconds` to read, to make a scraper slow on purpose.
async fn slow_table(name: &str, seconds: u32) {
    shared()
        .sql(&format!(
            "CREATE DATABASE IF NOT EXISTS gentle; \
             CREATE OR REPLACE VIEW gentle.{name} AS \
             SELECT NOW() AS ts, 1 AS server_id FROM (SELECT SLEEP({seconds}) AS s) AS pause;"
        ))
        .await
        .expect("creating the slow view");
}

async fn exporter_with_slow_heartbeat(user_name: &str, table: &str) -> ExporterProcess {
    let db = shared();
    user(db, user_name, "pw", "PROCESS, SELECT").await;
    ours(
        &[
            "--collect.heartbeat".into(),
            "--collect.heartbeat.database=gentle".into(),
            format!("--collect.heartbeat.table={table}"),
            "--no-collect.slave_status".into(),
        ],
        &[("DATA_SOURCE_NAME", &dsn(db, user_name, "pw"))],
    )
    .await
}

/// A GET with Prometheus's timeout header (the testbed's client sends none).
async fn get_with_timeout(exporter: &ExporterProcess, timeout: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", exporter.port))
        .await
        .expect("connecting to the exporter");
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Prometheus-Scrape-Timeout-Seconds: {timeout}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("sending");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("reading");
    (
        String::from_utf8_lossy(&response).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn concurrent_scrapes_share_one_collection_on_few_connections() {
    slow_table("one_second", 1).await;
    let exporter = exporter_with_slow_heartbeat("gentle_sf", "one_second").await;
    let url = exporter.url("/metrics");
    let answers = futures_join(8, &url).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let e = parse(body).expect("exposition");
        assert_eq!(e.value("mysql_up", &[]), Some(1.0));
        assert!(
            e.value(
                "mysql_heartbeat_stored_timestamp_seconds",
                &[("server_id", "1")]
            )
            .is_some()
        );
    }
    let (_, after) = scrape(&exporter, "/metrics").await;
    let collections = value(&after, "mysql_exporter_scrapes_total").expect("scrapes_total");
    // Eight concurrent requests, then one more: at most two collections for the eight.
    assert!(
        collections <= 3.0,
        "{collections} collections for 9 requests"
    );

    // Connections persist between scrapes and stay within the pool's bound of 2.
    let open = shared()
        .sql("SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'gentle_sf';")
        .await
        .expect("processlist");
    let open: u32 = open.trim().parse().expect("a count");
    assert!((1..=2).contains(&open), "{open} connections open");
}

async fn futures_join(count: usize, url: &str) -> Vec<(u16, String)> {
    let requests = (0..count).map(|_| octo_testbed::http_get(url));
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.expect("HTTP request"))
        .collect()
}

#[tokio::test]
async fn slow_scraper_is_cut_at_the_scrape_deadline() {
    slow_table("five_seconds", 5).await;
    let exporter = exporter_with_slow_heartbeat("gentle_dl", "five_seconds").await;
    // 1.25 s from Prometheus minus the 0.25 s offset: one second for the whole scrape.
    let (response, took) = get_with_timeout(&exporter, "1.25").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(took < Duration::from_secs(4), "the scrape took {took:?}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let e: Exposition = parse(&dechunk(body)).expect("exposition");
    assert_eq!(value(&e, "mysql_up"), Some(1.0));
    let success = |c: &str| e.value("mysql_exporter_collector_success", &[("collector", c)]);
    assert_eq!(success("collect.heartbeat"), Some(0.0));
    assert_eq!(success("collect.global_status"), Some(1.0));
    assert!(e.family("mysql_heartbeat_now_timestamp_seconds").is_none());
    assert!(exporter.log().contains("timed out"), "{}", exporter.log());
}

/// Undoes HTTP/1.1 chunked transfer encoding (the kit answers with a length, but be tolerant).
fn dechunk(body: &str) -> String {
    let looks_chunked = body
        .lines()
        .next()
        .is_some_and(|l| !l.is_empty() && l.trim().chars().all(|c| c.is_ascii_hexdigit()));
    if !looks_chunked {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
