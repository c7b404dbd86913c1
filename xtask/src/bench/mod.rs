//! `cargo xtask bench <exporter>`: our exporter and its upstream binary side by side against the
//! same target, scraped alternately N times each; prints CPU time per scrape, scrape latency,
//! resident memory and bytes per scrape, with the ratios (ours / upstream).
//!
//! Figures, not assertions: nothing here fails because a number is high.

pub mod app;
pub mod container;
pub mod mysql;
pub mod nginx;
pub mod node;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use octo_testbed::ExporterProcess;

/// Scrapes each side this many times unless told otherwise.
pub const DEFAULT_SCRAPES: usize = 500;

/// How long a scrape may take before the harness's client gives up.
const SCRAPE_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The target the exporters are built for, so that `+crt-static` links them statically.
const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// How a benchmarked binary is built.
pub enum Profile {
    /// As the exporters ship: size-optimised and statically linked (see `docs/benchmarks.md` for
    /// why), under a target triple of its own so test builds stay untouched.
    SmallStatic,
    /// Plain `--release`, as the app is deployed.
    Release,
}

/// Builds the binary named after its package and returns its path.
pub fn build(package: &str, profile: Profile) -> anyhow::Result<PathBuf> {
    let mut command = crate::cargo();
    command.args(["build", "--quiet"]);
    let output_dir = match profile {
        Profile::SmallStatic => {
            println!("bench: building {package} (profile small, static)...");
            command
                .args(["--profile", "small", "--target", TARGET_TRIPLE])
                .env("RUSTFLAGS", "-C target-feature=+crt-static");
            target_dir().join(TARGET_TRIPLE).join("small")
        }
        Profile::Release => {
            println!("bench: building {package} (release)...");
            command.arg("--release");
            target_dir().join("release")
        }
    };
    let status = command
        .args(["-p", package, "--bin", package])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building {package} failed");
    }
    let path = output_dir.join(package);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, or the workspace's `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// One side of a comparison.
pub struct Contender<'a> {
    pub name: String,
    pub process: &'a ExporterProcess,
    pub path: String,
}

#[derive(Debug, Default, Clone)]
struct Figures {
    cpu_seconds: f64,
    latencies: Vec<Duration>,
    rss_kib: u64,
    peak_rss_kib: u64,
    gzip_bytes: usize,
    plain_bytes: usize,
    series: usize,
    errors: usize,
}

/// A process's CPU time so far, from `/proc/<pid>/stat`.
struct CpuTime {
    user_ticks: f64,
    system_ticks: f64,
    ticks_per_second: f64,
}

impl CpuTime {
    fn of(pid: u32) -> anyhow::Result<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The command name, in parentheses, may hold spaces: fields are counted after it.
        let after = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .context("malformed /proc stat line")?;
        let fields: Vec<&str> = after.split(' ').collect();
        let field = |index: usize, name: &str| -> anyhow::Result<f64> {
            Ok(fields
                .get(index)
                .with_context(|| format!("no {name} in /proc/{pid}/stat"))?
                .parse()?)
        };
        Ok(CpuTime {
            user_ticks: field(11, "utime")?,
            system_ticks: field(12, "stime")?,
            ticks_per_second: nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100)
                as f64,
        })
    }

    /// User plus system seconds.
    fn seconds(&self) -> f64 {
        (self.user_ticks + self.system_ticks) / self.ticks_per_second
    }

    fn user_seconds(&self) -> f64 {
        self.user_ticks / self.ticks_per_second
    }

    fn system_seconds(&self) -> f64 {
        self.system_ticks / self.ticks_per_second
    }
}

/// A `kB` figure of `/proc/<pid>/status` (`key` is `VmRSS:`, `VmHWM:`...); 0 when unreadable.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// An HTTP client for loopback, giving up on a request after `timeout`.
fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    // Feature unification may give reqwest TLS without a provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()?)
}

/// One scrape as Prometheus sends it (gzip only when `gzip`); returns the latency and the body
/// as received.
async fn scrape(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
) -> anyhow::Result<(Duration, Vec<u8>)> {
    let mut request = client
        .get(url)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )
        .header("x-prometheus-scrape-timeout-seconds", "10");
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    Ok((elapsed, body.to_vec()))
}

/// The samples in exposition text: its lines that are neither empty nor comments.
fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Scrapes both contenders alternately and prints the comparison.
pub async fn compare(
    ours: Contender<'_>,
    theirs: Contender<'_>,
    scrapes: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    let client = client(SCRAPE_CLIENT_TIMEOUT)?;
    let sides = [&ours, &theirs];
    let mut figures = [Figures::default(), Figures::default()];
    for (side, fig) in sides.iter().zip(figures.iter_mut()) {
        let url = side.process.url(&side.path);
        let (_, plain) = scrape(&client, &url, false).await?;
        fig.plain_bytes = plain.len();
        fig.series = series_count(&String::from_utf8_lossy(&plain));
        for _ in 0..warmup {
            scrape(&client, &url, true).await?;
        }
    }
    let pids = [
        ours.process.pid().context("our exporter is not running")?,
        theirs
            .process
            .pid()
            .context("upstream exporter is not running")?,
    ];
    let cpu_before = [CpuTime::of(pids[0])?, CpuTime::of(pids[1])?];
    for _ in 0..scrapes {
        for (index, side) in sides.iter().enumerate() {
            let url = side.process.url(&side.path);
            match scrape(&client, &url, true).await {
                Ok((latency, body)) => {
                    figures[index].latencies.push(latency);
                    figures[index].gzip_bytes = body.len();
                }
                Err(_) => figures[index].errors += 1,
            }
        }
    }
    for (index, pid) in pids.iter().enumerate() {
        figures[index].cpu_seconds = CpuTime::of(*pid)?.seconds() - cpu_before[index].seconds();
        figures[index].rss_kib = status_kib(*pid, "VmRSS:");
        figures[index].peak_rss_kib = status_kib(*pid, "VmHWM:");
    }
    print_report(&ours.name, &theirs.name, &figures, scrapes);
    Ok(())
}

fn percentile(latencies: &[Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    let mut sorted: Vec<Duration> = latencies.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn print_report(ours: &str, theirs: &str, f: &[Figures; 2], scrapes: usize) {
    let per_scrape = |fig: &Figures| fig.cpu_seconds * 1000.0 / scrapes as f64;
    let rows: Vec<(&str, f64, f64, usize)> = vec![
        (
            "CPU per scrape (ms)",
            per_scrape(&f[0]),
            per_scrape(&f[1]),
            3,
        ),
        (
            "latency p50 (ms)",
            percentile(&f[0].latencies, 0.5),
            percentile(&f[1].latencies, 0.5),
            3,
        ),
        (
            "latency p99 (ms)",
            percentile(&f[0].latencies, 0.99),
            percentile(&f[1].latencies, 0.99),
            3,
        ),
        (
            "resident memory (MiB)",
            f[0].rss_kib as f64 / 1024.0,
            f[1].rss_kib as f64 / 1024.0,
            2,
        ),
        (
            "peak resident (MiB)",
            f[0].peak_rss_kib as f64 / 1024.0,
            f[1].peak_rss_kib as f64 / 1024.0,
            2,
        ),
        (
            "bytes per scrape (gzip)",
            f[0].gzip_bytes as f64,
            f[1].gzip_bytes as f64,
            0,
        ),
        (
            "bytes per scrape (plain)",
            f[0].plain_bytes as f64,
            f[1].plain_bytes as f64,
            0,
        ),
        ("series", f[0].series as f64, f[1].series as f64, 0),
    ];
    println!();
    println!("{scrapes} scrapes each, alternating, gzip, sequential");
    println!("{:<26} {:>22} {:>28} {:>8}", "", ours, theirs, "ratio");
    for (label, a, b, decimals) in rows {
        let ratio = if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "-".into()
        };
        println!("{label:<26} {a:>22.decimals$} {b:>28.decimals$} {ratio:>8}");
    }
    if f[0].errors + f[1].errors > 0 {
        println!("errors: ours {}, upstream {}", f[0].errors, f[1].errors);
    }
}
