//! The testbed's services start for real, answer, and leave no process behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use octo_testbed::{MariaDb, Nginx, Prometheus, Service, http_get};

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !process_exists(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn nginx_serves_stub_status_and_stops_on_drop() {
    let mut nginx = Nginx::start().await.expect("nginx");
    let (status, body) = http_get(&nginx.stub_status_url()).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("Active connections:"), "{body}");
    assert!(nginx.unix_socket().exists());
    let pid = nginx.service().pid().unwrap();
    drop(nginx);
    assert!(wait_gone(pid), "nginx {pid} survived its handle");
}

#[tokio::test]
async fn mariadb_runs_sql_survives_restart_and_stops() {
    let mut db = MariaDb::start().await.expect("mariadb");
    db.sql("CREATE DATABASE t; CREATE TABLE t.x (v INT); INSERT INTO t.x VALUES (42);")
        .await
        .unwrap();
    db.kill();
    assert!(!db.is_running());
    db.restart().await.expect("restart after a crash");
    assert_eq!(db.sql("SELECT v FROM t.x").await.unwrap().trim(), "42");
    let err = db.sql("SELECT * FROM nowhere.nothing").await.unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    let pid = db.pid().unwrap();
    drop(db);
    assert!(wait_gone(pid), "mariadbd {pid} survived its handle");
}

#[tokio::test]
async fn prometheus_scrapes_and_answers_queries() {
    let port = octo_testbed::free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let prometheus = Prometheus::start_on(port, &config, &[])
        .await
        .expect("prometheus");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = prometheus.query("up{job=\"self\"}").await.unwrap();
        if result.first().is_some_and(|r| r["value"][1] == "1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped itself: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let targets = prometheus.targets().await.unwrap();
    assert_eq!(targets[0].0, "self");
    assert_eq!(targets[0].2, "up");
}

/// A test process that dies without dropping its services must not leave them running.
#[test]
fn children_die_with_the_process_that_started_them() {
    if std::env::var_os("OCTO_TESTBED_ORPHAN_CHILD").is_some() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sleep");
        command.arg("600");
        let service = Service::spawn("sleep", command, &dir.path().join("log")).unwrap();
        println!("SERVICE_PID={}", service.pid().unwrap());
        std::process::exit(0); // no destructors run
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "children_die_with_the_process_that_started_them",
            "--nocapture",
        ])
        .env("OCTO_TESTBED_ORPHAN_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SERVICE_PID="))
        .unwrap_or_else(|| panic!("child printed no pid: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_gone(pid),
        "service {pid} outlived the process that started it"
    );
}
