//! `cargo xtask up`: the stack, natively, in the foreground.

use std::time::Duration;

use anyhow::Context as _;
use octo_testbed::{ExporterProcess, Nginx, Prometheus};

use crate::{bench::workspace_root, cargo, run_checked, setup};

pub async fn run() -> anyhow::Result<()> {
    setup::run()?;
    println!("up: building the exporters (release)...");
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "-p", "octo-nginx-exporter"]);
    run_checked(build, "cargo build --release")?;
    let bin = workspace_root().join("target/release");

    println!("up: starting nginx...");
    let nginx = Nginx::start_with(8080, |_| {
        "server {\n  listen 127.0.0.1:8080;\n  location = /stub_status { stub_status; allow 127.0.0.1; deny all; }\n  \
         location / { return 200 \"Octo: the app arrives with its own issue\\n\"; }\n}\n"
            .to_string()
    })
    .await
    .context("starting nginx on 127.0.0.1:8080")?;
    println!("up: starting octo-nginx-exporter...");
    let exporter = ExporterProcess::start(
        "octo-nginx-exporter",
        &bin.join("octo-nginx-exporter"),
        [format!("--nginx.scrape-uri={}", nginx.stub_status_url())],
        &[],
        ExporterProcess::web_listen,
        "/metrics",
    )
    .await?;
    println!("up: starting Prometheus...");
    let config = format!(
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: nginx\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        exporter.port
    );
    let prometheus = Prometheus::start_on(9090, &config, &[])
        .await
        .context("starting Prometheus on 9090")?;
    println!();
    println!("  nginx       http://127.0.0.1:{}/", nginx.port);
    println!("  exporter    {}", exporter.url("/metrics"));
    println!("  Prometheus  {}", prometheus.url("/"));
    println!();
    println!("Running; Ctrl-C stops everything.");
    wait_for_signal().await?;
    println!("up: stopping...");
    drop(prometheus);
    drop(exporter);
    drop(nginx);
    tokio::time::sleep(Duration::from_millis(10)).await;
    println!("up: stopped");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
