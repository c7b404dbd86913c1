//! What the tests share: one MariaDB, users, exporter processes, scraping.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use octo_testbed::metrics::{Exposition, parse};
use octo_testbed::{ExporterProcess, MariaDb, MariaDbOptions, http_get, require_program};

pub const OURS: &str = env!("CARGO_BIN_EXE_octo-mysqld-exporter");

/// The grants the README of mysqld_exporter asks for, plus SLAVE MONITOR, which MariaDB ≥ 10.5.9
/// needs for SHOW SLAVE STATUS (mysqld_exporter#640) — given to both exporters alike.
pub const MONITOR_GRANTS: &str = "PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT";

/// One MariaDB for every test that only needs a server. Its data lives under the target
/// directory so that later runs skip `mariadb-install-db`.
pub fn shared() -> &'static MariaDb {
    static SHARED: OnceLock<MariaDb> = OnceLock::new();
    SHARED.get_or_init(|| {
        octo_testbed::start_on_own_runtime(async {
            MariaDb::start_with(MariaDbOptions {
                data_dir: Some(
                    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("octo-mysqld-shared-mariadb"),
                ),
                ..MariaDbOptions::default()
            })
            .await
            .expect("MariaDB starts (Debian package mariadb-server)")
        })
    })
}

/// Creates (or recreates) a user with these grants.
pub async fn user(db: &MariaDb, name: &str, password: &str, grants: &str) {
    db.sql(&format!("DROP USER IF EXISTS '{name}'@'%';"))
        .await
        .expect("dropping the user");
    db.create_user(name, password, grants)
        .await
        .expect("creating the user");
}

pub fn dsn(db: &MariaDb, user: &str, password: &str) -> String {
    format!("{user}:{password}@tcp(127.0.0.1:{})/", db.port)
}

/// Starts our exporter with these arguments and environment.
pub async fn ours(args: &[String], envs: &[(&str, &str)]) -> ExporterProcess {
    ExporterProcess::start(
        "octo-mysqld-exporter",
        Path::new(OURS),
        args,
        envs,
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("octo-mysqld-exporter starts")
}

/// Starts Debian's exporter with DATA_SOURCE_NAME.
pub async fn debian(dsn: &str, args: &[String]) -> ExporterProcess {
    let program = require_program("prometheus-mysqld-exporter", "prometheus-mysqld-exporter")
        .expect("Debian's exporter");
    ExporterProcess::start(
        "prometheus-mysqld-exporter",
        &program,
        args,
        &[("DATA_SOURCE_NAME", dsn)],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("Debian's prometheus-mysqld-exporter starts")
}

/// GETs a path, expecting 200 and valid exposition.
pub async fn scrape(exporter: &ExporterProcess, path: &str) -> (String, Exposition) {
    let (status, body) = http_get(&exporter.url(path)).await.expect("HTTP request");
    assert_eq!(status, 200, "{path}: {body}");
    let exposition = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    (body, exposition)
}

/// Scrapes until `accept` holds or `within` passes; returns the last exposition.
pub async fn scrape_until(
    exporter: &ExporterProcess,
    path: &str,
    within: Duration,
    accept: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let started = Instant::now();
    loop {
        let (_, exposition) = scrape(exporter, path).await;
        if accept(&exposition) || started.elapsed() > within {
            return exposition;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of a series without labels.
pub fn value(exposition: &Exposition, name: &str) -> Option<f64> {
    exposition.value(name, &[])
}
