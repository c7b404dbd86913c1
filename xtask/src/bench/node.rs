//! `cargo xtask bench node`: octo-node-exporter against Debian's prometheus-node-exporter
//! (1.5.0) on this machine, with the same explicit collector list and the same flags, Debian's
//! patched defaults given explicitly so both read the same things (as the live side-by-side
//! test in `exporters/node/tests/node/live.rs` does). Both keep their exporter self metrics, as
//! they run in production.
//!
//! `OCTO_BENCH_NODE_COLLECTORS=cpu,meminfo,...` replaces the collector list (to measure one
//! collector, or only the default-on ones).
//!
//! Then the floor (see `floor`): each exporter's files of one scrape, read with no parsing.

use std::path::Path;

use anyhow::Context as _;
use octo_testbed::{ExporterProcess, require_program};

use octo_testbed::upstream::node::{COLLECTORS_SHARED_WITH_1_5, comparable_flags};

use super::binary::{Profile, build};
use super::compare::{Contender, compare_cpu};
use super::floor;

fn flags(textfiles: &Path, collectors: &[String]) -> Vec<String> {
    let names: Vec<&str> = collectors.iter().map(String::as_str).collect();
    comparable_flags(textfiles, &names)
}

fn collectors() -> Vec<String> {
    match std::env::var("OCTO_BENCH_NODE_COLLECTORS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect(),
        _ => COLLECTORS_SHARED_WITH_1_5
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
    }
}

/// A small textfile directory, as a host with a cron job writing one file has.
fn write_textfiles(dir: &Path) -> anyhow::Result<()> {
    let mut text = String::from(
        "# HELP octo_bench_backup_last_success_timestamp_seconds Last successful backup.\n\
         # TYPE octo_bench_backup_last_success_timestamp_seconds gauge\n",
    );
    for job in ["db", "files", "config", "logs"] {
        text.push_str(&format!(
            "octo_bench_backup_last_success_timestamp_seconds{{job=\"{job}\"}} 1.7e+09\n"
        ));
    }
    std::fs::write(dir.join("backup.prom"), text).context("writing the textfile")?;
    Ok(())
}

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    let ours_binary = build("octo-node-exporter", Profile::SmallStatic)?;
    let upstream_binary = require_program("prometheus-node-exporter", "prometheus-node-exporter")?;
    let textfiles = octo_testbed::temp_dir("octo-bench-node-")?;
    write_textfiles(textfiles.path())?;
    let args = flags(textfiles.path(), &collectors());
    println!(
        "bench: both exporters run with: {} (+ --web.listen-address)",
        args.join(" ")
    );
    let ours = ExporterProcess::start(
        "octo-node-exporter",
        &ours_binary,
        &args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .context("starting octo-node-exporter")?;
    let theirs = ExporterProcess::start(
        "prometheus-node-exporter",
        Path::new(&upstream_binary),
        &args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .context("starting prometheus-node-exporter")?;
    let cpu = compare_cpu(
        Contender {
            name: "octo-node-exporter".into(),
            process: &ours,
            path: "/metrics".into(),
        },
        Contender {
            name: "prometheus-node-exporter 1.5.0".into(),
            process: &theirs,
            path: "/metrics".into(),
        },
        scrapes,
        20,
    )
    .await?;
    let pid = |process: &ExporterProcess| process.pid().context("an exporter exited");
    floor::report(
        [
            (
                "octo-node-exporter",
                pid(&ours)?,
                ours.url("/metrics"),
                cpu[0],
            ),
            (
                "prometheus-node-exporter 1.5.0",
                pid(&theirs)?,
                theirs.url("/metrics"),
                cpu[1],
            ),
        ],
        scrapes,
    )
    .await
}
