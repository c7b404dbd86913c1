//! Our exporter and its upstream binary, scraped alternately, side by side.

use std::time::Duration;

use anyhow::Context as _;
use octo_testbed::ExporterProcess;

use super::process::{CpuTime, status_kib};
use super::scrape::{SCRAPE_CLIENT_TIMEOUT, client, scrape, series_count};

/// Scrapes each side this many times unless told otherwise.
pub const DEFAULT_SCRAPES: usize = 500;

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

/// Scrapes both contenders alternately and prints the comparison.
pub async fn compare(
    ours: Contender<'_>,
    theirs: Contender<'_>,
    scrapes: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    compare_cpu(ours, theirs, scrapes, warmup).await.map(|_| ())
}

/// [`compare`], returning both sides' CPU milliseconds per scrape (ours, theirs).
pub async fn compare_cpu(
    ours: Contender<'_>,
    theirs: Contender<'_>,
    scrapes: usize,
    warmup: usize,
) -> anyhow::Result<[f64; 2]> {
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
    Ok(figures.map(|fig| fig.cpu_seconds * 1000.0 / scrapes as f64))
}

pub(super) fn percentile(latencies: &[Duration], p: f64) -> f64 {
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
