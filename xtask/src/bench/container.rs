//! `cargo xtask bench container`: octo-container-exporter on 10, 100 and 1,000 real cgroups.
//!
//! cAdvisor is not packaged for Debian, so there is no upstream binary to run beside ours: this
//! reports absolute figures (CPU per scrape, split into user and kernel time, latency, resident
//! memory, bytes) instead of the side-by-side ratios of the other benchmarks. The cgroups are
//! created in this machine's cgroup hierarchies (v1 controllers or v2), named as Docker's
//! systemd driver names them, under a parent unique to the run, and removed afterwards, also
//! on error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use octo_testbed::ExporterProcess;

use super::{client, percentile, scrape, status_kib, workspace_root};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const SIZES: [usize; 3] = [10, 100, 1000];

pub async fn run(scrapes: usize) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the container benchmark creates cgroups: run it as root");
    }
    let binary = build()?;
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
        let row = measure(&binary, size, count).await;
        drop(cgroups);
        rows.push(row?);
    }
    println!();
    println!(
        "octo-container-exporter, cgroups named /{parent}/docker-<id>.scope, gzip, sequential scrapes"
    );
    println!(
        "{:>8} {:>8} {:>9} {:>12} {:>10} {:>10} {:>11} {:>11} {:>10} {:>10} {:>8}",
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
            "{:>8} {:>8} {:>9.3} {:>12.3} {:>10.3} {:>10.3} {:>11.3} {:>11.3} {:>10.2} {:>10.2} {:>8}",
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

/// Builds as shipped (size-optimised, static), honouring `CARGO_TARGET_DIR`.
fn build() -> anyhow::Result<PathBuf> {
    let triple = "x86_64-unknown-linux-gnu";
    let binary = "octo-container-exporter";
    println!("bench: building {binary} (profile small, static)...");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--profile", "small", "--target", triple])
        .args(["-p", binary, "--bin", binary])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building {binary} failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join(triple).join("small").join(binary);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// Where to create cgroups: the v2 root, or the v1 controllers the exporter reads.
fn hierarchies() -> anyhow::Result<Vec<PathBuf>> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let found: Vec<PathBuf> = ["cpu", "cpuacct", "memory", "blkio"]
        .iter()
        .map(|c| root.join(c))
        .filter(|p| p.join("cgroup.procs").is_file())
        .collect();
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

/// User and system CPU seconds of a process.
fn cpu_split(pid: u32) -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let after = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    let field = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short stat")?.parse::<f64>()? / ticks)
    };
    Ok((field(11)?, field(12)?))
}

async fn measure(binary: &Path, size: usize, scrapes: usize) -> anyhow::Result<Row> {
    let exporter = ExporterProcess::start(
        "octo-container-exporter",
        binary,
        [
            "-docker=unix:///nonexistent/docker.sock".to_owned(),
            "-podman=".to_owned(),
        ],
        &[],
        |port| vec!["-listen_ip=127.0.0.1".to_owned(), format!("-port={port}")],
        "/metrics",
    )
    .await
    .context("starting octo-container-exporter")?;
    let pid = exporter.pid().context("the exporter is not running")?;
    let client = client()?;
    let url = exporter.url("/metrics");
    let (_, plain) = scrape(&client, &url, false).await?;
    let text = String::from_utf8_lossy(&plain);
    let series = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let total_cgroups = text
        .lines()
        .filter(|l| l.starts_with("container_last_seen{"))
        .count();
    for _ in 0..20 {
        scrape(&client, &url, true).await?;
    }
    let (user_before, system_before) = cpu_split(pid)?;
    let mut latencies = Vec::with_capacity(scrapes);
    let mut gzip_bytes = 0;
    let started = Instant::now();
    for _ in 0..scrapes {
        let (latency, body) = scrape(&client, &url, true).await?;
        latencies.push(latency);
        gzip_bytes = body.len();
    }
    let (user_after, system_after) = cpu_split(pid)?;
    println!(
        "bench: {size} cgroups: {scrapes} scrapes in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(Row {
        cgroups: size,
        total_cgroups,
        scrapes,
        user: user_after - user_before,
        system: system_after - system_before,
        latencies,
        rss_kib: status_kib(pid, "VmRSS:"),
        peak_kib: status_kib(pid, "VmHWM:"),
        plain_bytes: plain.len(),
        gzip_bytes,
        series,
    })
}
