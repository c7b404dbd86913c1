//! `cargo xtask bench mysql`: octo-mysqld-exporter against Debian's prometheus-mysqld-exporter
//! (0.14), both scraping one real MariaDB with the default scrapers.
//!
//! Besides the harness's exporter-side figures, this measures what each side costs the database:
//! mariadbd's CPU time (from `/proc/<pid>/stat`) over N scrapes of ours, then N of theirs, each
//! minus what the server burns idle over the same wall time.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use octo_testbed::{ExporterProcess, MariaDb};

use super::binary::{Profile, build};
use super::compare::{Contender, compare};
use super::process::CpuTime;
use super::scrape::{SCRAPE_CLIENT_TIMEOUT, client, scrape};

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    let ours_binary = build("octo-mysqld-exporter", Profile::SmallStatic)?;
    let upstream_binary =
        octo_testbed::require_program("prometheus-mysqld-exporter", "prometheus-mysqld-exporter")?;
    let db = MariaDb::start().await.context("starting MariaDB")?;
    db.create_user(
        "bench",
        "bench-pw",
        "PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT",
    )
    .await
    .context("creating the monitoring user")?;
    let dsn = format!("bench:bench-pw@tcp(127.0.0.1:{})/", db.port);
    let env = [("DATA_SOURCE_NAME", dsn.as_str())];
    let ours = ExporterProcess::start(
        "octo-mysqld-exporter",
        &ours_binary,
        Vec::<String>::new(),
        &env,
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .context("starting octo-mysqld-exporter")?;
    let theirs = ExporterProcess::start(
        "prometheus-mysqld-exporter",
        Path::new(&upstream_binary),
        Vec::<String>::new(),
        &env,
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .context("starting prometheus-mysqld-exporter")?;
    compare(
        Contender {
            name: "octo-mysqld-exporter".into(),
            process: &ours,
            path: "/metrics".into(),
        },
        Contender {
            name: "prometheus-mysqld-exporter 0.14".into(),
            process: &theirs,
            path: "/metrics".into(),
        },
        scrapes,
        20,
    )
    .await?;

    database_cost(&db, &ours, &theirs, scrapes).await
}

/// Prints what each exporter's scrapes cost the database: mariadbd's CPU time and the
/// connections opened.
async fn database_cost(
    db: &MariaDb,
    ours: &ExporterProcess,
    theirs: &ExporterProcess,
    scrapes: usize,
) -> anyhow::Result<()> {
    let server = db.pid().context("mariadbd is not running")?;
    let client = client(SCRAPE_CLIENT_TIMEOUT)?;
    let connections_before = connections(db).await?;
    let (ours_cpu, ours_wall) = database_cpu(&client, ours, server, scrapes).await?;
    let connections_between = connections(db).await?;
    let (theirs_cpu, theirs_wall) = database_cpu(&client, theirs, server, scrapes).await?;
    let connections_after = connections(db).await?;
    // Each reading is itself one connection of the mariadb client.
    let ours_connections = connections_between - connections_before - 1.0;
    let theirs_connections = connections_after - connections_between - 1.0;
    let idle_per_second = idle_cpu(server, Duration::from_secs(5)).await?;
    let per_scrape = |cpu: f64, wall: Duration| {
        (cpu - idle_per_second * wall.as_secs_f64()).max(0.0) * 1000.0 / scrapes as f64
    };
    let (ours_ms, theirs_ms) = (
        per_scrape(ours_cpu, ours_wall),
        per_scrape(theirs_cpu, theirs_wall),
    );
    println!();
    println!(
        "MariaDB CPU per scrape, {scrapes} sequential scrapes per side, idle {:.3} ms/s subtracted",
        idle_per_second * 1000.0
    );
    println!(
        "{:<26} {:>22} {:>28} {:>8}",
        "", "octo-mysqld-exporter", "prometheus-mysqld-exporter 0.14", "ratio"
    );
    let ratio = if theirs_ms > 0.0 {
        format!("{:.2}", ours_ms / theirs_ms)
    } else {
        "-".into()
    };
    println!(
        "{:<26} {:>22.3} {:>28.3} {:>8}",
        "mariadbd CPU (ms)", ours_ms, theirs_ms, ratio
    );
    println!(
        "{:<26} {:>22.0} {:>28.0}",
        "connections opened", ours_connections, theirs_connections
    );
    Ok(())
}

/// mariadbd's CPU seconds and the wall time over `scrapes` sequential scrapes of `exporter`.
async fn database_cpu(
    client: &reqwest::Client,
    exporter: &ExporterProcess,
    server: u32,
    scrapes: usize,
) -> anyhow::Result<(f64, Duration)> {
    let url = exporter.url("/metrics");
    scrape(client, &url, false).await?;
    let before = CpuTime::of(server)?.seconds();
    let started = Instant::now();
    for _ in 0..scrapes {
        scrape(client, &url, false).await?;
    }
    let wall = started.elapsed();
    Ok((CpuTime::of(server)?.seconds() - before, wall))
}

/// mariadbd's own CPU per second while nobody scrapes (InnoDB's background threads).
async fn idle_cpu(server: u32, over: Duration) -> anyhow::Result<f64> {
    let before = CpuTime::of(server)?.seconds();
    tokio::time::sleep(over).await;
    Ok((CpuTime::of(server)?.seconds() - before) / over.as_secs_f64())
}

/// The server's `Connections` status counter (connection attempts since start).
async fn connections(db: &MariaDb) -> anyhow::Result<f64> {
    let output = db
        .sql("SHOW GLOBAL STATUS LIKE 'Connections';")
        .await
        .context("reading Connections")?;
    output
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unexpected answer {output:?}"))
}
