//! Clients that ask for a probe of a server that never answers, announce a huge scrape timeout,
//! and hang up: nothing they started may outlive them (no connection to the target, no task, no
//! descriptor, no memory), however many of them come.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use octo_testbed::ExporterProcess;
use tokio::io::AsyncWriteExt as _;

use super::common::ours;
use super::fake_mysql;

/// Threads, open descriptors and resident KiB of the exporter.
fn footprint(exporter: &ExporterProcess) -> (usize, usize, u64) {
    let pid = exporter.pid().expect("the exporter runs");
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .unwrap()
            .count()
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    (count("task"), count("fd"), rss)
}

/// Sends a probe with a huge scrape timeout, waits a little so the exporter starts on it, and
/// hangs up.
async fn abandoned_probe(exporter: &ExporterProcess, target: &str) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", exporter.port))
        .await
        .unwrap();
    let request = format!(
        "GET /probe?target={target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         X-Prometheus-Scrape-Timeout-Seconds: 1e20\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(stream);
}

/// Waits until `done` holds, up to `within`.
async fn settle(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

#[tokio::test]
async fn aborted_probes_with_huge_timeouts_leave_nothing_behind() {
    let (port, open) = fake_mysql::silent().await;
    let dir = tempfile::tempdir().unwrap();
    let cnf = dir.path().join("exporter.cnf");
    std::fs::write(&cnf, "[client]\nuser = exporter\npassword = pw\n").unwrap();
    let exporter = ours(&[format!("--config.my-cnf={}", cnf.display())], &[]).await;
    let target = |i: usize| format!("127.0.{}.{}:{port}", 1 + i / 200, 1 + i % 200);

    // Warm up (runtime threads, allocator arenas), then take the baseline.
    for i in 0..10 {
        abandoned_probe(&exporter, &target(i)).await;
    }
    assert!(settle(Duration::from_secs(5), || open.load(Ordering::SeqCst) == 0).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (threads, fds, rss) = footprint(&exporter);

    // 500 abandoned probes of 500 distinct targets, 25 at a time.
    for wave in 0..20 {
        let probes = (0..25).map(|i| {
            let target = target(wave * 25 + i);
            let exporter = &exporter;
            async move { abandoned_probe(exporter, &target).await }
        });
        futures_util::future::join_all(probes).await;
    }

    // The target sees every connection closed soon after its client left.
    let closed = settle(Duration::from_secs(10), || open.load(Ordering::SeqCst) == 0).await;
    assert!(
        closed,
        "{} connections to the silent target still open after their clients left",
        open.load(Ordering::SeqCst)
    );
    let mut after = footprint(&exporter);
    settle(Duration::from_secs(5), || {
        after = footprint(&exporter);
        after.1 <= fds + 4
    })
    .await;
    let (threads_after, fds_after, rss_after) = after;
    eprintln!(
        "threads {threads} -> {threads_after}, descriptors {fds} -> {fds_after}, \
         resident {rss} KiB -> {rss_after} KiB"
    );
    assert!(
        fds_after <= fds + 4,
        "descriptors: {fds} before, {fds_after} after"
    );
    assert!(
        threads_after <= threads + 2,
        "threads: {threads} before, {threads_after} after"
    );
    assert!(
        rss_after <= rss + 4 * 1024,
        "resident memory: {rss} KiB before, {rss_after} KiB after"
    );

    // Still serving.
    let (status, _) = octo_testbed::http_get(&exporter.url("/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200);
}
