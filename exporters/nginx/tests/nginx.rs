//! octo-nginx-exporter against real nginx, and side by side with Debian's
//! prometheus-nginx-exporter (0.11).

// Test support code: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "nginx/log.rs"]
mod log;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use octo_testbed::metrics::{Exposition, parse, promtool_check};
use octo_testbed::{ExporterProcess, Nginx, free_port, http_get, require_program};

const OURS: &str = env!("CARGO_BIN_EXE_octo-nginx-exporter");

async fn ours(args: &[String]) -> ExporterProcess {
    ExporterProcess::start(
        "octo-nginx-exporter",
        Path::new(OURS),
        args,
        &[],
        ExporterProcess::web_listen,
        "/metrics",
    )
    .await
    .expect("octo-nginx-exporter starts")
}

async fn scrape(exporter: &ExporterProcess) -> (String, Exposition) {
    let (status, body) = http_get(&exporter.url("/metrics")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let exposition = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    (body, exposition)
}

fn nginx_families(exp: &Exposition) -> Vec<(String, String, BTreeSet<String>)> {
    exp.families
        .values()
        .filter(|f| f.name.starts_with("nginx_") && !f.name.ends_with("build_info"))
        .map(|f| (f.name.clone(), f.kind.clone(), f.label_names()))
        .collect()
}

#[tokio::test]
async fn side_by_side_with_debian_exporter() {
    let nginx = Nginx::start().await.expect("nginx");
    let upstream_program =
        require_program("prometheus-nginx-exporter", "prometheus-nginx-exporter")
            .expect("Debian's exporter");
    let uri = nginx.stub_status_url();
    let ours = ours(&[format!("--nginx.scrape-uri={uri}")]).await;
    let upstream = ExporterProcess::start(
        "prometheus-nginx-exporter",
        &upstream_program,
        [format!("-nginx.scrape-uri={uri}")],
        &[],
        |port| vec![format!("-web.listen-address=127.0.0.1:{port}")],
        "/metrics",
    )
    .await
    .expect("Debian's prometheus-nginx-exporter starts");

    // Warm up: each exporter now holds one idle keep-alive connection to nginx.
    scrape(&ours).await;
    let (upstream_text, _) = {
        let (status, body) = http_get(&upstream.url("/metrics")).await.unwrap();
        assert_eq!(status, 200);
        (body.clone(), parse(&body).unwrap())
    };
    let (_, before) = scrape(&ours).await;
    let (_, theirs) = {
        let (_, body) = http_get(&upstream.url("/metrics")).await.unwrap();
        (body.clone(), parse(&body).unwrap())
    };
    let (our_text, after) = scrape(&ours).await;

    assert_eq!(
        nginx_families(&after),
        nginx_families(&theirs),
        "families, types and label names"
    );
    assert_eq!(after.value("nginx_up", &[]), Some(1.0));

    // Each scrape is one request to nginx: ours, theirs, ours.
    let requests = |e: &Exposition| e.value("nginx_http_requests_total", &[]).unwrap();
    assert_eq!(requests(&theirs), requests(&before) + 1.0);
    assert_eq!(requests(&after), requests(&theirs) + 1.0);
    for counter in ["nginx_connections_accepted", "nginx_connections_handled"] {
        let (b, t, a) = (
            before.value(counter, &[]).unwrap(),
            theirs.value(counter, &[]).unwrap(),
            after.value(counter, &[]).unwrap(),
        );
        assert!(b <= t && t <= a, "{counter}: {b} {t} {a}");
    }
    for gauge in [
        "nginx_connections_active",
        "nginx_connections_reading",
        "nginx_connections_writing",
        "nginx_connections_waiting",
    ] {
        assert_eq!(after.value(gauge, &[]), theirs.value(gauge, &[]), "{gauge}");
    }

    // Differences by design: 1.x's build-info name and self metrics (Debian ships 0.11).
    assert!(after.family("nginx_exporter_build_info").is_some());
    assert!(theirs.family("nginxexporter_build_info").is_some());
    assert!(after.family("process_resident_memory_bytes").is_some());

    // promtool reads ours; its only lint findings are the ones upstream's names cause too.
    let our_lints = promtool_check(&our_text).expect("promtool parses our output");
    let their_lints = promtool_check(&upstream_text).expect("promtool parses upstream output");
    for lint in &our_lints {
        assert!(
            their_lints.contains(lint),
            "lint {lint:?} is ours alone ({their_lints:?})"
        );
    }
}

#[tokio::test]
async fn nginx_down_at_start_then_up_without_restart() {
    let port = free_port();
    let exporter = ours(&[format!(
        "--nginx.scrape-uri=http://127.0.0.1:{port}/stub_status"
    )])
    .await;
    let (_, down) = scrape(&exporter).await;
    assert_eq!(down.value("nginx_up", &[]), Some(0.0));
    assert!(down.family("nginx_connections_active").is_none());
    assert!(down.family("nginx_http_requests_total").is_none());

    let mut nginx = Nginx::start_with(port, |_| {
        format!(
            "server {{ listen 127.0.0.1:{port}; location = /stub_status {{ stub_status; }} }}\n"
        )
    })
    .await
    .expect("nginx");
    let (_, up) = scrape(&exporter).await;
    assert_eq!(up.value("nginx_up", &[]), Some(1.0));
    assert!(up.value("nginx_http_requests_total", &[]).unwrap() >= 1.0);

    nginx.stop();
    let (_, down_again) = scrape(&exporter).await;
    assert_eq!(down_again.value("nginx_up", &[]), Some(0.0));
}

#[tokio::test]
async fn garbage_truncated_and_tengine_pages_are_down_with_a_log_line() {
    let port = free_port();
    let nginx = Nginx::start_with(port, |_| {
        format!(
            "server {{\n listen 127.0.0.1:{port};\n location = /stub_status {{ stub_status; }}\n \
             location = /garbage {{ return 200 \"<html>hello</html>\"; }}\n \
             location = /truncated {{ return 200 \"Active connections: 1 \\nserver accepts handled requests\\n 1 1\"; }}\n \
             location = /tengine {{ return 200 \"Active connections: 1\\nserver accepts handled requests request_time\\n 1 1 1 0\\nReading: 0 Writing: 1 Waiting: 0\\n\"; }}\n \
             location = /missing {{ return 404; }}\n}}\n"
        )
    })
    .await
    .expect("nginx");
    let uris: Vec<String> = ["stub_status", "garbage", "truncated", "tengine", "missing"]
        .iter()
        .map(|p| nginx.url(&format!("/{p}")))
        .collect();
    let args: Vec<String> = uris
        .iter()
        .map(|u| format!("--nginx.scrape-uri={u}"))
        .collect();
    let exporter = ours(&args).await;
    let (_, exp) = scrape(&exporter).await;
    for uri in &uris {
        let expected = if uri.ends_with("/stub_status") {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            exp.value("nginx_up", &[("addr", uri)]),
            Some(expected),
            "{uri}"
        );
    }
    let requests = exp.family("nginx_http_requests_total").unwrap();
    assert_eq!(
        requests.series.len(),
        1,
        "only the real page yields numbers"
    );
    let log = exporter.log();
    assert!(log.contains("failed to parse response body"), "{log}");
    assert!(log.contains("expected 200 response, got 404"), "{log}");
}

#[tokio::test]
async fn unix_socket_targets_const_labels_and_addr() {
    let nginx = Nginx::start().await.expect("nginx");
    let unix = format!("unix:{}:/stub_status", nginx.unix_socket().display());
    let single = ours(&[
        format!("--nginx.scrape-uri={unix}"),
        "--prometheus.const-label=env=test".into(),
        "-prometheus.const-labels=dc=eu,rack=7".into(),
    ])
    .await;
    let (_, exp) = scrape(&single).await;
    assert_eq!(
        exp.value("nginx_up", &[("env", "test"), ("dc", "eu"), ("rack", "7")]),
        Some(1.0)
    );
    let up = exp.family("nginx_up").unwrap();
    assert!(
        !up.label_names().contains("addr"),
        "one target, no addr label"
    );
    let build = exp.family("nginx_exporter_build_info").unwrap();
    assert!(
        !build.label_names().contains("env"),
        "const labels stay off self metrics"
    );

    let both = ours(&[
        format!("--nginx.scrape-uri={unix}"),
        format!("--nginx.scrape-uri={}", nginx.stub_status_url()),
    ])
    .await;
    let (_, exp) = scrape(&both).await;
    assert_eq!(exp.value("nginx_up", &[("addr", &unix)]), Some(1.0));
    assert_eq!(
        exp.value("nginx_up", &[("addr", &nginx.stub_status_url())]),
        Some(1.0)
    );
    assert_eq!(
        exp.family("nginx_connections_active").unwrap().series.len(),
        2
    );
}

#[tokio::test]
async fn slow_targets_cost_one_timeout_concurrently() {
    // Listeners that accept connections (in the kernel backlog) and never answer.
    let hung: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut args: Vec<String> = hung
        .iter()
        .map(|l| {
            format!(
                "--nginx.scrape-uri=http://{}/stub_status",
                l.local_addr().unwrap()
            )
        })
        .collect();
    args.push("--nginx.timeout=1s".into());
    let exporter = ours(&args).await;
    let started = Instant::now();
    let (_, exp) = scrape(&exporter).await;
    let elapsed = started.elapsed();
    assert_eq!(exp.family("nginx_up").unwrap().series.len(), 3);
    assert!(
        exp.family("nginx_up")
            .unwrap()
            .series
            .iter()
            .all(|s| s.value == 0.0)
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "{elapsed:?}: the timeout was not waited for"
    );
    assert!(
        elapsed < Duration::from_millis(2500),
        "{elapsed:?}: three 1 s timeouts ran one after another"
    );
}

#[tokio::test]
async fn sigterm_finishes_the_scrape_in_flight_then_exits_zero() {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut exporter = ours(&[
        format!(
            "--nginx.scrape-uri=http://{}/stub_status",
            hung.local_addr().unwrap()
        ),
        "--nginx.timeout=2s".into(),
    ])
    .await;
    let url = exporter.url("/metrics");
    let in_flight = tokio::spawn(async move { http_get(&url).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    exporter.service().signal(nix::sys::signal::Signal::SIGTERM);
    let (status, body) = in_flight
        .await
        .unwrap()
        .expect("the in-flight scrape is answered");
    assert_eq!(status, 200);
    assert!(body.contains("nginx_up 0"), "{body}");
    let code =
        tokio::task::spawn_blocking(move || exporter.service().wait_exit(Duration::from_secs(10)))
            .await
            .unwrap();
    assert_eq!(code, Some(0));
}

fn run(args: &[&str]) -> (i32, String) {
    octo_testbed::run_to_exit(OURS, args)
}

#[test]
fn web_flags_read_nginx_exporter_environment_variables() {
    let run_with = |variable: &str, value: &str, args: &[&str]| {
        let output = std::process::Command::new(OURS)
            .args(args)
            .env(variable, value)
            .output()
            .expect("the exporter runs");
        (output.status.code(), octo_testbed::combined_output(&output))
    };
    let (code, text) = run_with("SYSTEMD_SOCKET", "true", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("web.systemd-socket"), "{text}");
    let (code, text) = run_with("TELEMETRY_PATH", "metrics", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("must start with /"), "{text}");
    // The command line wins: the telemetry path passes, and the next check speaks.
    let (code, text) = run_with(
        "TELEMETRY_PATH",
        "metrics",
        &["--web.telemetry-path=/x", "--nginx.plus"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("NGINX Plus") && !text.contains("must start with /"),
        "{text}"
    );
    let (code, text) = run_with("CONFIG_FILE", "/nonexistent/web.yml", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("/nonexistent/web.yml"), "{text}");
}

#[test]
fn command_line_errors_exit_1_with_a_message() {
    let (code, text) = run(&["--nginx.scrape-url=http://x"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("--nginx.scrape-url"), "{text}");
    let (code, text) = run(&["--nginx.timeout=soon"]);
    assert_eq!(code, 1);
    assert!(text.contains("nginx.timeout"), "{text}");
    let (code, text) = run(&[
        "--nginx.scrape-uri=ftp://x/",
        "--web.listen-address=127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(text.contains("ftp://x/"), "{text}");
    let (code, text) = run(&[
        "--web.config.file=/nonexistent/web.yml",
        "--web.listen-address=127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(text.contains("/nonexistent/web.yml"), "{text}");
    let (code, text) = run(&["--nginx.plus"]);
    assert_eq!(code, 1);
    assert!(text.contains("not supported"), "{text}");
    let (code, text) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(text.contains("--nginx.scrape-uri"), "{text}");
}

#[tokio::test]
async fn environment_variables_configure_it_as_upstream() {
    let nginx = Nginx::start().await.expect("nginx");
    let uri = nginx.stub_status_url();
    let exporter = ExporterProcess::start(
        "octo-nginx-exporter",
        Path::new(OURS),
        Vec::<String>::new(),
        &[
            ("SCRAPE_URI", &uri),
            ("CONST_LABELS", "team=web"),
            ("TELEMETRY_PATH", "/custom"),
        ],
        ExporterProcess::web_listen,
        "/custom",
    )
    .await
    .expect("starts from the environment");
    let (status, body) = http_get(&exporter.url("/custom")).await.unwrap();
    assert_eq!(status, 200);
    let exp = parse(&body).unwrap();
    assert_eq!(exp.value("nginx_up", &[("team", "web")]), Some(1.0));
}
