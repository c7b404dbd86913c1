//! The exporter stays up and tells the truth when the server is down, the password is wrong or
//! a privilege is missing, and recovers by itself.

use std::time::Duration;

use octo_testbed::{MariaDb, free_port};

use super::common::{dsn, ours, scrape, scrape_until, shared, user, value};

#[tokio::test]
async fn killed_and_restarted_server_needs_no_exporter_restart() {
    let mut db = MariaDb::start().await.expect("MariaDB");
    user(
        &db,
        "mon",
        "mon-pw",
        "PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT",
    )
    .await;
    let mut exporter = ours(&[], &[("DATA_SOURCE_NAME", &dsn(&db, "mon", "mon-pw"))]).await;
    let pid = exporter.pid();
    let (_, up) = scrape(&exporter, "/metrics").await;
    assert_eq!(value(&up, "mysql_up"), Some(1.0));

    db.kill();
    let (_, down) = scrape(&exporter, "/metrics").await;
    assert_eq!(value(&down, "mysql_up"), Some(0.0));
    assert_eq!(value(&down, "mysql_exporter_last_scrape_error"), Some(1.0));
    assert!(down.family("mysql_global_status_uptime").is_none());

    db.restart().await.expect("MariaDB restarts");
    let back = scrape_until(&exporter, "/metrics", Duration::from_secs(20), |e| {
        value(e, "mysql_up") == Some(1.0)
    })
    .await;
    assert_eq!(value(&back, "mysql_up"), Some(1.0));
    assert!(value(&back, "mysql_global_status_uptime").is_some_and(|u| u < 60.0));
    assert_eq!(exporter.pid(), pid, "the exporter was restarted");
    assert!(exporter.service().is_running());
    let log = exporter.log();
    assert!(log.contains("Error connecting to mysqld"), "{log}");
    assert!(log.contains("recovered"), "{log}");
}

#[tokio::test]
async fn missing_privilege_fails_only_that_scraper() {
    let db = shared();
    // No SLAVE MONITOR: SHOW ALL SLAVES STATUS is refused on MariaDB ≥ 10.5.9.
    user(db, "weak", "weak-pw", "PROCESS, SELECT").await;
    let exporter = ours(&[], &[("DATA_SOURCE_NAME", &dsn(db, "weak", "weak-pw"))]).await;
    scrape(&exporter, "/metrics").await;
    let (_, e) = scrape(&exporter, "/metrics").await;
    assert_eq!(value(&e, "mysql_up"), Some(1.0));
    let success = |c: &str| e.value("mysql_exporter_collector_success", &[("collector", c)]);
    assert_eq!(success("collect.slave_status"), Some(0.0));
    assert_eq!(success("collect.global_status"), Some(1.0));
    assert_eq!(value(&e, "mysql_exporter_last_scrape_error"), Some(1.0));
    assert_eq!(
        e.value(
            "mysql_exporter_scrape_errors_total",
            &[("collector", "collect.slave_status")]
        ),
        Some(2.0)
    );
    assert!(value(&e, "mysql_global_status_uptime").is_some());
    // One log line for the error, not one per scrape.
    let log = exporter.log();
    assert_eq!(log.matches("Error from scraper").count(), 1, "{log}");
}

#[tokio::test]
async fn wrong_password_and_no_server_answer_200_with_up_0() {
    let db = shared();
    user(db, "right", "right-pw", "PROCESS, SELECT").await;
    let wrong = ours(
        &[],
        &[("DATA_SOURCE_NAME", &dsn(db, "right", "not-the-pw"))],
    )
    .await;
    let (_, e) = scrape(&wrong, "/metrics").await;
    assert_eq!(value(&e, "mysql_up"), Some(0.0));
    assert!(e.family("mysqld_exporter_build_info").is_some());
    let log = wrong.log();
    assert!(log.contains("Access denied"), "{log}");
    assert!(
        !log.contains("not-the-pw"),
        "the log shows the password:\n{log}"
    );

    // Nothing listening at all (0.15+ style flags, password from the environment).
    let nobody = ours(
        &[
            format!("--mysqld.address=127.0.0.1:{}", free_port()),
            "--mysqld.username=exporter".into(),
            "--config.my-cnf=/nonexistent/.my.cnf".into(),
        ],
        &[("MYSQLD_EXPORTER_PASSWORD", "env-secret")],
    )
    .await;
    let (text, e) = scrape(&nobody, "/metrics").await;
    assert_eq!(value(&e, "mysql_up"), Some(0.0), "{text}");
    assert!(!nobody.log().contains("env-secret"));
}

#[tokio::test]
async fn no_credentials_at_all_is_a_clear_start_up_error() {
    let output = std::process::Command::new(super::common::OURS)
        .args([
            "--config.my-cnf=/nonexistent/.my.cnf",
            "--web.listen-address=127.0.0.1:0",
        ])
        .env_remove("DATA_SOURCE_NAME")
        .env_remove("MYSQLD_EXPORTER_PASSWORD")
        .output()
        .expect("running the exporter");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no configuration found"), "{stderr}");
    let output = std::process::Command::new(super::common::OURS)
        .args(["--web.listen-address=127.0.0.1:0"])
        .env("DATA_SOURCE_NAME", "user:supersecret@tcp(db:port/")
        .output()
        .expect("running the exporter");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATA_SOURCE_NAME"), "{stderr}");
    assert!(!stderr.contains("supersecret"), "{stderr}");
}

/// Debian's documented setup: `DATA_SOURCE_NAME=user@unix(/run/mysqld/mysqld.sock)/` with the
/// account identified by the unix_socket plugin (the operating system user running the test).
#[tokio::test]
async fn unix_socket_authentication_over_the_socket() {
    let db = MariaDb::start().await.expect("MariaDB");
    let output = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("id -un");
    let os_user = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!os_user.is_empty(), "no user name from id -un");
    db.sql(&format!(
        "CREATE OR REPLACE USER '{os_user}'@'localhost' IDENTIFIED VIA unix_socket; \
         GRANT PROCESS, SELECT ON *.* TO '{os_user}'@'localhost';"
    ))
    .await
    .expect("an account authenticated by unix_socket");
    let dsn = format!("{os_user}@unix({})/", db.socket.display());
    let exporter = ours(&[], &[("DATA_SOURCE_NAME", &dsn)]).await;
    let (text, e) = scrape(&exporter, "/metrics").await;
    assert_eq!(
        value(&e, "mysql_up"),
        Some(1.0),
        "{text}\n{}",
        exporter.log()
    );
}
