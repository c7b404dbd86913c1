//! The database absent at start, stopped and restarted while the app runs, and SIGTERM with
//! requests in flight, against the real binary where the process itself matters.

use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use octo_testbed::{ExporterProcess, MariaDb, MariaDbOptions, free_port};

use super::support::{APP_PASSWORD, APP_USER, Reply, TestApp, client, config, rows};

const BINARY: &str = env!("CARGO_BIN_EXE_octo-app");

async fn wait_status(app: &TestApp, path: &str, status: u16, within: Duration) -> Reply {
    let deadline = Instant::now() + within;
    loop {
        let reply = app.get(path).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {} after {within:?}: {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One MariaDB of its own (it is stopped): absent when the app starts, then up, then stopped
/// and restarted while the app serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_absent_at_start_then_stopped_and_restarted() {
    let port = free_port();
    let url = format!("mysql://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{port}/resilience");
    let running = octo_app::start(config(&url, "resilient")).await.unwrap();
    let app = TestApp {
        base: format!("http://{}", running.local_addr),
        running: Some(running),
        database: "resilience".into(),
        client: client(),
        admin: None,
    };
    // Nothing listens on the port yet: alive, not ready, friendly 503s.
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 503);
    let page = app.get("/usuarios").await;
    assert_eq!(page.status, 503);
    assert!(page.body.contains("se está iniciando"), "{}", page.body);
    assert_eq!(page.header("retry-after"), Some("5"));
    let api = app.get("/api/usuarios").await;
    assert_eq!(api.status, 503);
    assert!(api.json()["error"].is_string());

    // The database arrives later; the app connects by itself.
    let mut mariadb = MariaDb::start_with(MariaDbOptions {
        port: Some(port),
        ..MariaDbOptions::default()
    })
    .await
    .expect("MariaDB starts");
    mariadb
        .sql("CREATE DATABASE resilience CHARACTER SET utf8mb4")
        .await
        .unwrap();
    mariadb
        .create_user(APP_USER, APP_PASSWORD, "ALL")
        .await
        .unwrap();
    app.wait_ready(Duration::from_secs(40)).await;
    let session = app.form_session("/usuarios").await;
    assert_eq!(
        app.add_user_form(&session, "Antes", "antes@example.com")
            .await
            .status,
        303
    );

    // Stopped: pages and the API say 503 (no internals), a failed insert is never a success,
    // the process stays up.
    mariadb.stop();
    let page = wait_status(&app, "/usuarios", 503, Duration::from_secs(15)).await;
    assert!(
        page.body.contains("La base de datos no está disponible"),
        "{}",
        page.body
    );
    for leak in [
        "mysql", "MySQL", "SQL", "Error {", "panicked", "os error", "refused",
    ] {
        assert!(
            !page.body.contains(leak),
            "{leak} shown to the user: {}",
            page.body
        );
    }
    let insert = app
        .add_user_form(&session, "Durante", "durante@example.com")
        .await;
    assert_eq!(insert.status, 503, "{}", insert.body);
    let api_insert = app
        .post_json(
            "/api/usuarios",
            r#"{"nombre": "Durante", "email": "api@example.com"}"#,
        )
        .await;
    assert_eq!(api_insert.status, 503);
    let error = api_insert.json()["error"].as_str().unwrap().to_owned();
    assert!(
        !error.contains("SQL") && !error.contains("refused"),
        "{error}"
    );
    assert_eq!(app.get("/readyz").await.status, 503);
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(
        app.get("/").await.status,
        200,
        "pages without data still work"
    );

    // Restarted: recovers by itself, nothing lost, nothing invented.
    mariadb.restart().await.expect("MariaDB restarts");
    wait_status(&app, "/readyz", 200, Duration::from_secs(30)).await;
    let page = wait_status(&app, "/usuarios", 200, Duration::from_secs(30)).await;
    assert!(page.body.contains("Antes"));
    let names = rows(
        &mariadb
            .sql("SELECT nombre FROM resilience.usuarios ORDER BY id")
            .await
            .unwrap(),
    );
    assert_eq!(names, [["Antes"]]);
    assert_eq!(
        app.add_user_form(&session, "Después", "despues@example.com")
            .await
            .status,
        303
    );
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("status=\"503\""),
        "the outage shows in http_requests_total"
    );
    app.stop().await;
    drop(mariadb);
}

/// SIGTERM while requests wait on a locked table: readiness turns 503 at once, the listener
/// closes after the drain delay, every in-flight request still completes, the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let mariadb = super::support::shared_mariadb();
    let (database, url) = super::support::create_database(mariadb, "sigterm").await;
    let mut process = ExporterProcess::start(
        "octo-app",
        Path::new(BINARY),
        [
            format!("--database-url={url}"),
            "--app-name=draining".into(),
            "--drain-delay=2s".into(),
            "--shutdown-timeout=30s".into(),
            "--db-timeout=60s".into(),
        ],
        &[],
        |port| vec![format!("--listen-addr=127.0.0.1:{port}")],
        "/readyz",
    )
    .await
    .expect("octo-app starts");
    let base = process.url("");
    let http = client();
    // Hold the table so requests pile up inside the app.
    let root = format!("mysql://root@127.0.0.1:{}/{database}", mariadb.port);
    let mut locker = mysql_async::Conn::from_url(&root)
        .await
        .expect("root connects");
    locker
        .query_drop("LOCK TABLES usuarios WRITE")
        .await
        .unwrap();
    let mut requests = Vec::new();
    for n in 0..12 {
        let (http_get, base_get) = (http.clone(), base.clone());
        requests.push(tokio::spawn(async move {
            http_get
                .get(format!("{base_get}/usuarios?n={n}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
        let http = http.clone();
        let base = base.clone();
        requests.push(tokio::spawn(async move {
            http.post(format!("{base}/api/usuarios"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"nombre": "N{n}", "email": "n{n}@example.com"}}"#
                ))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    // Wait until all 24 are inside the app (the scrape is the 25th).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "http_requests_in_flight 25") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests did not reach the app:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = process.pid().unwrap();
    process.service().signal(nix::sys::signal::Signal::SIGTERM);
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "draining\n");
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still serving during the drain delay"
    );
    // After the drain delay the listener is closed, while the 24 requests are still waiting.
    tokio::time::sleep(Duration::from_millis(2500).saturating_sub(signalled.elapsed())).await;
    let fresh = client().get(format!("{base}/healthz")).send().await;
    assert!(fresh.is_err(), "the listener is closed: {fresh:?}");
    assert!(
        requests.iter().all(|r| !r.is_finished()),
        "none finished before the unlock"
    );
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_ok(),
        "still running"
    );
    locker.query_drop("UNLOCK TABLES").await.unwrap();
    let mut created = 0;
    for request in requests {
        let status = request
            .await
            .unwrap()
            .expect("an answer, not a dropped connection");
        assert!(status == 200 || status == 201, "status {status}");
        created += usize::from(status == 201);
    }
    assert_eq!(created, 12);
    let code = process.service().wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit status; log:\n{}", process.log());
    let log = process.log();
    assert!(log.contains("in-flight requests finished"), "{log}");
    assert!(log.contains("database pool closed"), "{log}");
    assert!(!log.contains(APP_PASSWORD), "the password is never logged");
    let stored = mariadb
        .sql(&format!("SELECT COUNT(*) FROM `{database}`.usuarios"))
        .await
        .unwrap();
    assert_eq!(stored.trim(), "12");
    locker.disconnect().await.unwrap();
}
