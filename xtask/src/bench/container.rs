//! `cargo xtask bench container`: octo-container-exporter on 10, 100 and 1,000 real cgroups.
//!
//! cAdvisor is not packaged for Debian, so there is no upstream binary to run beside ours: this
//! reports absolute figures (CPU per scrape, split into user and kernel time, latency, resident
//! memory, bytes) instead of the side-by-side ratios of the other benchmarks. The cgroups are
//! created in this machine's cgroup hierarchies (v1 controllers or v2), named as Docker's
//! systemd driver names them, under a parent unique to the run, and removed afterwards, also
//! on error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use octo_testbed::ExporterProcess;

use super::binary::{Profile, build};
use super::compare::percentile;
use super::process::{CpuTime, status_kib};
use super::scrape::{SCRAPE_CLIENT_TIMEOUT, client, scrape, series_count};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const SIZES: [usize; 3] = [10, 100, 1000];
/// The kind sets measured: the default before `oom_event` and `disk` were produced, today's
/// default without `disk` (its scrape-time part: `statvfs` of the machine's filesystems and
/// `/proc/diskstats`, for `/`), today's default, and today's default with the opt-in `process`
/// kind. The benchmark's cgroups hold no process, so no writable layer is walked: the walk's
/// background cost is its own, `octo_container_exporter_disk_walk_cpu_seconds_total`.
const CONFIGS: [(&str, &[&str]); 4] = [
    (
        "old default",
        &[
            "-disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,process,referenced_memory,resctrl,sched,tcp,udp,oom_event,disk",
        ],
    ),
    (
        "-disk",
        &[
            "-disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,process,referenced_memory,resctrl,sched,tcp,udp,disk",
        ],
    ),
    ("default", &[]),
    (
        "+process",
        &[
            "-disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,referenced_memory,resctrl,sched,tcp,udp",
        ],
    ),
];

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the container benchmark creates cgroups: run it as root");
    }
    let binary = build("octo-container-exporter", Profile::SmallStatic)?;
    let hierarchies = hierarchies()?;
    let parent = format!("octo-bench-{}.slice", std::process::id());
    println!(
        "bench: cgroup hierarchies {}",
        hierarchies
            .iter()
            .map(|h| h.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rows = Vec::new();
    for size in SIZES {
        let cgroups = Cgroups::create(&hierarchies, &parent, size)?;
        let count = if size >= 1000 {
            scrapes.min(200)
        } else {
            scrapes
        };
        for (config, args) in CONFIGS {
            // On an error `cgroups` is dropped on the way out, removing them.
            rows.push(measure(&binary, size, count, config, args).await?);
        }
        drop(cgroups);
    }
    println!();
    println!(
        "octo-container-exporter, cgroups named /{parent}/docker-<id>.scope, gzip, sequential scrapes"
    );
    println!(
        "{:>12} {:>8} {:>8} {:>9} {:>12} {:>10} {:>10} {:>11} {:>11} {:>10} {:>10} {:>8}",
        "kinds",
        "cgroups",
        "scrapes",
        "CPU ms",
        "per 100 cg",
        "user ms",
        "kernel ms",
        "p50 ms",
        "p99 ms",
        "RSS MiB",
        "peak MiB",
        "series"
    );
    for r in &rows {
        let per_scrape = |s: f64| s * 1000.0 / r.scrapes as f64;
        let cpu = per_scrape(r.user + r.system);
        println!(
            "{:>12} {:>8} {:>8} {:>9.3} {:>12.3} {:>10.3} {:>10.3} {:>11.3} {:>11.3} {:>10.2} {:>10.2} {:>8}",
            r.config,
            r.cgroups,
            r.scrapes,
            cpu,
            cpu * 100.0 / r.total_cgroups as f64,
            per_scrape(r.user),
            per_scrape(r.system),
            percentile(&r.latencies, 0.5),
            percentile(&r.latencies, 0.99),
            r.rss_kib as f64 / 1024.0,
            r.peak_kib as f64 / 1024.0,
            r.series
        );
    }
    println!(
        "(\"per 100 cg\" divides by every cgroup reported, the machine's own included; bytes per scrape: {})",
        rows.iter()
            .map(|r| format!(
                "{} cgroups {} plain / {} gzip",
                r.cgroups, r.plain_bytes, r.gzip_bytes
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(())
}

/// Where to create cgroups: the v2 root, or the v1 hierarchies the exporter reads.
fn hierarchies() -> anyhow::Result<Vec<PathBuf>> {
    let found = octo_testbed::cgroups::hierarchies(Path::new(CGROUP_ROOT));
    if found.is_empty() {
        bail!("no cgroup hierarchy under {CGROUP_ROOT}");
    }
    Ok(found)
}

/// The benchmark's cgroups; removed when dropped.
struct Cgroups {
    dirs: Vec<PathBuf>,
}

impl Cgroups {
    fn create(hierarchies: &[PathBuf], parent: &str, count: usize) -> anyhow::Result<Cgroups> {
        let mut cgroups = Cgroups { dirs: Vec::new() };
        for hierarchy in hierarchies {
            let parent_dir = hierarchy.join(parent);
            std::fs::create_dir(&parent_dir)
                .with_context(|| format!("mkdir {}", parent_dir.display()))?;
            cgroups.dirs.push(parent_dir.clone());
            for index in 0..count {
                let id = format!("{:064x}", 0xbe7c_0000_0000u64 + index as u64);
                let dir = parent_dir.join(format!("docker-{id}.scope"));
                std::fs::create_dir(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
                cgroups.dirs.push(dir);
            }
        }
        Ok(cgroups)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in self.dirs.drain(..).rev() {
            if let Err(err) = std::fs::remove_dir(&dir) {
                eprintln!("bench: could not remove {}: {err}", dir.display());
            }
        }
    }
}

struct Row {
    config: &'static str,
    cgroups: usize,
    total_cgroups: usize,
    scrapes: usize,
    user: f64,
    system: f64,
    latencies: Vec<Duration>,
    rss_kib: u64,
    peak_kib: u64,
    plain_bytes: usize,
    gzip_bytes: usize,
    series: usize,
}

async fn measure(
    binary: &Path,
    size: usize,
    scrapes: usize,
    config: &'static str,
    kinds: &[&str],
) -> anyhow::Result<Row> {
    let mut args = vec![
        "-docker=unix:///nonexistent/docker.sock".to_owned(),
        "-podman=".to_owned(),
    ];
    args.extend(kinds.iter().map(|k| (*k).to_owned()));
    let exporter = ExporterProcess::start(
        "octo-container-exporter",
        binary,
        args,
        &[],
        |port| vec!["-listen_ip=127.0.0.1".to_owned(), format!("-port={port}")],
        "/metrics",
    )
    .await
    .context("starting octo-container-exporter")?;
    let pid = exporter.pid().context("the exporter is not running")?;
    let client = client(SCRAPE_CLIENT_TIMEOUT)?;
    let url = exporter.url("/metrics");
    let (_, plain) = scrape(&client, &url, false).await?;
    let text = String::from_utf8_lossy(&plain);
    let series = series_count(&text);
    let total_cgroups = text
        .lines()
        .filter(|l| l.starts_with("container_last_seen{"))
        .count();
    for _ in 0..20 {
        scrape(&client, &url, true).await?;
    }
    let cpu_before = CpuTime::of(pid)?;
    let mut latencies = Vec::with_capacity(scrapes);
    let mut gzip_bytes = 0;
    let started = Instant::now();
    for _ in 0..scrapes {
        let (latency, body) = scrape(&client, &url, true).await?;
        latencies.push(latency);
        gzip_bytes = body.len();
    }
    let cpu_after = CpuTime::of(pid)?;
    println!(
        "bench: {size} cgroups, {config}: {scrapes} scrapes in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(Row {
        config,
        cgroups: size,
        total_cgroups,
        scrapes,
        user: cpu_after.user_seconds() - cpu_before.user_seconds(),
        system: cpu_after.system_seconds() - cpu_before.system_seconds(),
        latencies,
        rss_kib: status_kib(pid, "VmRSS:"),
        peak_kib: status_kib(pid, "VmHWM:"),
        plain_bytes: plain.len(),
        gzip_bytes,
        series,
    })
}
