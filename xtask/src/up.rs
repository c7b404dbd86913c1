//! `cargo xtask up`: the whole stack, natively, in the foreground until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use octo_testbed::{Stack, StackOptions, StackPorts};

use crate::setup;
use crate::workspace::{cargo, run_checked, target_dir, workspace_root};

/// The binaries the stack runs.
const PACKAGES: &[&str] = &[
    "octo-app",
    "octo-nginx-exporter",
    "octo-node-exporter",
    "octo-mysqld-exporter",
    "octo-container-exporter",
];

/// `extra_dashboards`: dashboard files or directories the viewer lists after the shipped ones.
pub async fn run(extra_dashboards: Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    setup::run()?;
    println!("up: building the stack (release; the first build takes a few minutes)...");
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "--bins"]);
    for package in PACKAGES {
        build.args(["-p", package]);
    }
    run_checked(build, "cargo build --release")?;

    let target_dir = target_dir();
    let mariadb_data = target_dir.join("octo-stack/mariadb");
    std::fs::create_dir_all(mariadb_data.parent().unwrap_or(&target_dir))
        .context("creating the stack's data directory")?;
    let mut dashboards = vec![workspace_root().join("grafana/dashboards")];
    dashboards.extend(extra_dashboards);
    println!("up: starting the stack");
    let stack = Stack::start(StackOptions {
        repo: workspace_root(),
        bin_dir: target_dir.join("release"),
        ports: StackPorts::native(),
        scrape_interval: Duration::from_secs(15),
        rule_for: None,
        mariadb_data: Some(mariadb_data.clone()),
        progress: true,
        cgroup_root: "octo".into(),
        dashboards,
    })
    .await
    .context("starting the stack")?;

    println!();
    println!("The stack is up. Open:");
    for (what, url) in stack.urls() {
        println!("  {what:<22} {url}");
    }
    let (admin_user, _) = stack.admin();
    println!();
    println!(
        "  Adding and deleting users asks for user {admin_user}, password in {}",
        stack.admin_password_file().display()
    );
    println!();
    println!(
        "  Dashboards: {} (the viewer draws grafana/dashboards/ from Prometheus;",
        stack.viewer_url("/")
    );
    println!("  it is a viewer, not Grafana: Compose and Kubernetes run the real Grafana with the");
    println!("  same dashboard files, at http://localhost:3000 under `docker compose up -d`)");
    println!();
    println!("  MariaDB data persists in {}.", mariadb_data.display());
    println!("Alerts are printed here as they change. Ctrl-C stops everything.");
    println!();

    watch_alerts_until_signal(&stack).await?;
    println!("up: stopping...");
    drop(stack);
    println!("up: stopped; no process left running");
    Ok(())
}

/// Prints alert state changes from Prometheus until SIGINT or SIGTERM.
async fn watch_alerts_until_signal(stack: &Stack) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = tick.tick() => {
                let Ok(alerts) = stack.prometheus.alerts().await else { continue };
                let mut now = BTreeMap::new();
                for (name, state, labels) in alerts {
                    let instance = labels["instance"].as_str().unwrap_or("").to_owned();
                    now.insert(format!("{name} {instance}").trim().to_owned(), state);
                }
                for (alert, state) in &now {
                    if known.get(alert) != Some(state) {
                        println!("  alert {alert}: {state}");
                    }
                }
                for alert in known.keys() {
                    if !now.contains_key(alert) {
                        println!("  alert {alert}: resolved");
                    }
                }
                known = now;
            }
        }
    }
}
