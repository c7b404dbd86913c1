//! `cargo xtask bench nginx-log`: what octo-nginx-exporter's access-log source costs.
//!
//! 1. Lines per CPU second: a fixed corpus of `octo_metrics` lines (escape=json, behind the
//!    syslog header nginx adds) sent to the exporter's socket as fast as it takes them; the
//!    exporter's CPU time (`/proc/<pid>/stat`) over the lines it counted. This is the whole
//!    path of a line in the shipped binary: receiving the datagram, parsing, counting.
//! 2. CPU per 10,000 requests through a real nginx (Debian's) whose access log goes to the
//!    exporter's socket, at 10,000 requests per second from a paced client, and from it the
//!    share of one core (the issue's goal: under 1 %); then the same under a `wrk` flood;
//! 3. the paced run again with nginx writing a file (`buffer=64k flush=1s`) that the exporter
//!    follows: lines arrive by the block instead of a datagram each.
//!
//! CPU is the scheduler's count for the exporter's threads (`/proc/<pid>/task/*/sched`), with
//! their context switches: at a steady rate most of a datagram reader's cost is waking up.
//!
//! Figures, not assertions. Blocking sends on a unix datagram socket wait while the receiver's
//! queue is full, so part 1 loses nothing; nginx sends without blocking, so part 2 reports the
//! lines nginx dropped (the exporter's CPU is divided by the lines it counted).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use octo_testbed::metrics::parse;
use octo_testbed::{ExporterProcess, Nginx, free_port, http_get, require_program, temp_dir};

use super::binary::{Profile, build};
use super::process::{CpuTime, SchedTime};

/// The documented format (docs/nginx-exporter.md).
const LOG_FORMAT: &str = r#"log_format octo_metrics escape=json '{"host":"$host","method":"$request_method","uri":"$uri","status":"$status","request_length":"$request_length","body_bytes_sent":"$body_bytes_sent","request_time":"$request_time","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","upstream_connect_time":"$upstream_connect_time","upstream_response_time":"$upstream_response_time"}';"#;

/// Lines sent in part 1: the corpus, cycled.
const CORPUS_SENDS: usize = 300_000;
/// Distinct lines in the corpus.
const CORPUS_SIZE: usize = 1000;
const LOAD_SECONDS: u32 = 10;
/// The rate the goal is stated at: the exporter's cost per line depends on the rate (lines
/// that arrive together are read together).
const PACED_RATE: u32 = 10_000;
const WRK_CONNECTIONS: u32 = 8;

/// The labels the stack configures, so lines take the path they take in production.
fn label_args() -> Vec<String> {
    vec![
        "--nginxlog.upstream-auto=16".into(),
        "--nginxlog.host=shop.example".into(),
        "--nginxlog.route=/api/=api".into(),
        "--nginxlog.route=/static/=static".into(),
    ]
}

pub async fn run() -> anyhow::Result<()> {
    let binary = build("octo-nginx-exporter", Profile::SmallStatic)?;
    let wrk = require_program("wrk", "wrk")?;
    let dir = temp_dir("octo-bench-nginxlog-")?;
    let parsed = lines_per_cpu_second(&binary, dir.path()).await?;
    let [paced, flood] = through_nginx(&binary, dir.path(), Some(Path::new(&wrk)), LogPath::Socket)
        .await?
        .try_into()
        .map_err(|_| anyhow::anyhow!("two socket measurements expected"))?;
    let [from_file] = through_nginx(&binary, dir.path(), None, LogPath::File)
        .await?
        .try_into()
        .map_err(|_| anyhow::anyhow!("one file measurement expected"))?;

    println!();
    println!("octo-nginx-exporter access log (profile small, static)");
    println!(
        "1. socket, {} corpus lines: {:.0} lines per CPU second ({:.2} µs each; {:.3} s CPU, {} counted, {} wake-ups)",
        CORPUS_SENDS,
        parsed.counted as f64 / parsed.cpu_seconds,
        parsed.cpu_seconds / parsed.counted as f64 * 1e6,
        parsed.cpu_seconds,
        parsed.counted,
        parsed.switches,
    );
    for (title, m) in [
        (
            format!(
                "2. nginx to the socket, paced client at {PACED_RATE} requests/s for {LOAD_SECONDS} s"
            ),
            paced,
        ),
        (
            format!(
                "3. nginx to the socket, wrk flood ({WRK_CONNECTIONS} connections, {LOAD_SECONDS} s)"
            ),
            flood,
        ),
        (
            format!(
                "4. nginx to a file (buffer=64k flush=1s), paced client at {PACED_RATE} requests/s for {LOAD_SECONDS} s"
            ),
            from_file,
        ),
    ] {
        let per_10k_ms = m.cpu_seconds / m.counted as f64 * 10_000.0 * 1000.0;
        println!(
            "{title}: {} requests ({:.0}/s), {} lines counted, {} dropped by nginx; exporter CPU {:.3} s",
            m.requests,
            m.requests as f64 / f64::from(LOAD_SECONDS),
            m.counted,
            m.requests.saturating_sub(m.counted),
            m.cpu_seconds,
        );
        println!(
            "   CPU per 10,000 requests: {per_10k_ms:.1} ms; {:.0} wake-ups per 10,000 requests",
            m.switches as f64 / m.counted.max(1) as f64 * 10_000.0
        );
        // At the rate measured, CPU per second over 10,000 requests per second.
        let share =
            m.cpu_seconds / f64::from(LOAD_SECONDS) / (m.requests as f64 / f64::from(LOAD_SECONDS))
                * 10_000.0
                * 100.0;
        println!(
            "   share of one core at 10,000 requests/s (cost per request at this rate): {share:.2} % (goal < 1 %: {})",
            if share < 1.0 { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

struct Measured {
    counted: u64,
    cpu_seconds: f64,
    /// Times the exporter's threads were switched in: at a steady rate, its wake-ups.
    switches: u64,
    /// Requests wrk completed (part 2 only).
    requests: u64,
}

/// `source` is the exporter's `--nginxlog.socket=` or `--nginxlog.file=` argument.
async fn start_exporter(
    binary: &Path,
    source: String,
    scrape_uri: String,
) -> anyhow::Result<ExporterProcess> {
    let mut args = vec![format!("--nginx.scrape-uri={scrape_uri}"), source];
    args.extend(label_args());
    ExporterProcess::start(
        "octo-nginx-exporter",
        binary,
        args,
        &[],
        ExporterProcess::web_listen,
        "/metrics",
    )
    .await
    .context("starting octo-nginx-exporter")
}

/// Lines the exporter has counted so far, parse errors included.
async fn counted(exporter: &ExporterProcess) -> anyhow::Result<u64> {
    let (status, body) = http_get(&exporter.url("/metrics")).await?;
    if status != 200 {
        bail!("the exporter answered {status}");
    }
    let exposition = parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sum: f64 = exposition
        .series()
        .filter(|s| {
            s.name == "nginx_http_response_count_total" || s.name == "nginx_parse_errors_total"
        })
        .map(|s| s.value)
        .sum();
    Ok(sum as u64)
}

/// Polls until the count reaches `want` or has not moved for 2 s.
async fn settle(exporter: &ExporterProcess, want: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut last, mut unchanged) = (u64::MAX, 0);
    loop {
        let now = counted(exporter).await?;
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
        if now >= want || unchanged >= 4 || Instant::now() > deadline {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The exporter's CPU time so far, as the scheduler counts it (see [`SchedTime`]); the tick
/// figures of `/proc/<pid>/stat` are printed beside it.
fn cpu_seconds(exporter: &ExporterProcess) -> anyhow::Result<SchedTime> {
    let pid = exporter.pid().context("the exporter is not running")?;
    let ticks = CpuTime::of(pid)?;
    let sched = SchedTime::of(pid)?;
    println!(
        "bench: exporter CPU so far: {:.3} s, {} context switches (ticks: user {:.3} s, system {:.3} s)",
        sched.seconds,
        sched.switches,
        ticks.user_seconds(),
        ticks.system_seconds()
    );
    Ok(sched)
}

/// CPU and wake-ups between two readings.
fn spent(before: SchedTime, after: SchedTime) -> (f64, u64) {
    (
        after.seconds - before.seconds,
        after.switches.saturating_sub(before.switches),
    )
}

async fn lines_per_cpu_second(binary: &Path, dir: &Path) -> anyhow::Result<Measured> {
    let socket = dir.join("corpus.sock");
    let exporter = start_exporter(
        binary,
        format!("--nginxlog.socket={}", socket.display()),
        format!("http://127.0.0.1:{}/stub_status", free_port()),
    )
    .await?;
    let corpus = corpus();
    println!("bench: sending {CORPUS_SENDS} lines to the exporter's socket...");
    let before = cpu_seconds(&exporter)?;
    let target: PathBuf = socket.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let sender = UnixDatagram::unbound()?;
        for line in corpus.iter().cycle().take(CORPUS_SENDS) {
            sender
                .send_to(line.as_bytes(), &target)
                .with_context(|| format!("sending to {}", target.display()))?;
        }
        Ok(())
    })
    .await??;
    let counted = settle(&exporter, CORPUS_SENDS as u64).await?;
    let (cpu_seconds, switches) = spent(before, cpu_seconds(&exporter)?);
    if counted < CORPUS_SENDS as u64 {
        bail!("the exporter counted {counted} of {CORPUS_SENDS} lines");
    }
    Ok(Measured {
        counted,
        cpu_seconds,
        switches,
        requests: 0,
    })
}

/// Lines as nginx sends them: a syslog header, then the JSON object. Deterministic, with the
/// mix a shop sees: mostly GET and 200, some redirects, client and server errors, retries,
/// escaped characters, hosts and paths outside the configured sets.
fn corpus() -> Vec<String> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let methods = [
        "GET", "GET", "GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE",
    ];
    let statuses = [
        "200", "200", "200", "200", "200", "200", "304", "301", "404", "499", "502",
    ];
    let hosts = [
        "shop.example",
        "shop.example",
        "www.shop.example",
        "10.0.0.5",
    ];
    let paths = [
        "/",
        "/api/orders/",
        "/api/items/",
        "/static/app.js",
        "/products/",
        "/search/q\\\"x\\\"/",
    ];
    let upstreams = ["10.0.1.11:5000", "10.0.1.12:5000"];
    (0..CORPUS_SIZE)
        .map(|_| {
            let path = paths[next(paths.len() as u64) as usize];
            let id = next(100_000);
            let up = upstreams[next(2) as usize];
            let (addr, up_status, connect, response) = match next(20) {
                0 => (
                    format!("{}, {up}", upstreams[0]),
                    "502, 200".to_owned(),
                    "0.001, 0.000".to_owned(),
                    format!("0.002, 0.0{:02}", next(100)),
                ),
                1 => ("-".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned()),
                _ => (
                    up.to_owned(),
                    "200".to_owned(),
                    "0.000".to_owned(),
                    format!("0.0{:02}", next(100)),
                ),
            };
            format!(
                "<190>Jan 12 10:11:12 nginx: {{\"host\":\"{host}\",\"method\":\"{method}\",\
                 \"uri\":\"{path}{id}\",\"status\":\"{status}\",\"request_length\":\"{req}\",\
                 \"body_bytes_sent\":\"{body}\",\"request_time\":\"0.0{time:02}\",\
                 \"upstream_addr\":\"{addr}\",\"upstream_status\":\"{up_status}\",\
                 \"upstream_connect_time\":\"{connect}\",\"upstream_response_time\":\"{response}\"}}",
                host = hosts[next(hosts.len() as u64) as usize],
                method = methods[next(methods.len() as u64) as usize],
                status = statuses[next(statuses.len() as u64) as usize],
                req = 300 + next(900),
                body = next(60_000),
                time = next(100),
            )
        })
        .collect()
}

/// Where nginx writes its access log in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogPath {
    /// `syslog:server=unix:...`, the exporter's `--nginxlog.socket`.
    Socket,
    /// A file nginx writes in 64 KiB blocks at least once a second, `--nginxlog.file`.
    File,
}

/// A paced run, then a flood when `wrk` is given, through one nginx and one exporter.
async fn through_nginx(
    binary: &Path,
    dir: &Path,
    wrk: Option<&Path>,
    path: LogPath,
) -> anyhow::Result<Vec<Measured>> {
    let socket = dir.join("nginx-log.sock");
    let file = dir.join("access.log");
    let (port, backend) = (free_port(), free_port());
    let stub = format!("http://127.0.0.1:{port}/stub_status");
    let (access_log, source) = match path {
        LogPath::Socket => (
            format!(
                "syslog:server=unix:{},nohostname octo_metrics",
                socket.display()
            ),
            format!("--nginxlog.socket={}", socket.display()),
        ),
        LogPath::File => (
            format!("{} octo_metrics buffer=64k flush=1s", file.display()),
            format!("--nginxlog.file={}", file.display()),
        ),
    };
    let exporter = start_exporter(binary, source, stub).await?;
    let _nginx = Nginx::start_with(port, |_| {
        format!(
            "{LOG_FORMAT}\n\
             upstream app {{ server 127.0.0.1:{backend}; keepalive 16; }}\n\
             server {{\n  listen 127.0.0.1:{port};\n  \
               access_log {access_log};\n  \
               location = /stub_status {{ stub_status; access_log off; }}\n  \
               location / {{ proxy_pass http://app; proxy_http_version 1.1; \
                 proxy_set_header Connection \"\"; }}\n\
             }}\n\
             server {{ listen 127.0.0.1:{backend}; access_log off; \
               location / {{ return 200 \"ok\\n\"; }} }}\n"
        )
    })
    .await
    .context("starting nginx")?;
    let url = format!("http://127.0.0.1:{port}/api/orders/1");
    let mut measured = Vec::new();
    for flood in [None].into_iter().chain(wrk.map(Some)) {
        let start = counted(&exporter).await?;
        let before = cpu_seconds(&exporter)?;
        let requests = if let Some(wrk) = flood {
            println!(
                "bench: wrk, {WRK_CONNECTIONS} connections for {LOAD_SECONDS} s through nginx..."
            );
            run_wrk(wrk, &url).await?
        } else {
            println!(
                "bench: {PACED_RATE} requests/s for {LOAD_SECONDS} s through nginx, log to the {path:?}..."
            );
            paced(&url).await?
        };
        let end = settle(&exporter, start + requests).await?;
        let (cpu_seconds, switches) = spent(before, cpu_seconds(&exporter)?);
        measured.push(Measured {
            counted: end - start,
            cpu_seconds,
            switches,
            requests,
        });
    }
    Ok(measured)
}

async fn run_wrk(wrk: &Path, url: &str) -> anyhow::Result<u64> {
    let (wrk, url) = (wrk.to_owned(), url.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(wrk)
            .args([
                "-t1",
                &format!("-c{WRK_CONNECTIONS}"),
                &format!("-d{LOAD_SECONDS}s"),
                "-H",
                "Host: shop.example",
                &url,
            ])
            .output()
    })
    .await?
    .context("running wrk")?;
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    wrk_requests(&report).with_context(|| format!("reading wrk's report:\n{report}"))
}

/// [`PACED_RATE`] requests per second for [`LOAD_SECONDS`] (wrk has no rate option): workers
/// on keep-alive connections, each on a fixed period; ticks missed while a response is late
/// are caught up, so the average holds. Returns the responses received.
async fn paced(url: &str) -> anyhow::Result<u64> {
    const WORKERS: u32 = 16;
    let client = super::scrape::client(Duration::from_secs(10))?;
    let period = Duration::from_secs_f64(f64::from(WORKERS) / f64::from(PACED_RATE));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(LOAD_SECONDS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut done = 0u64;
                while tick.tick().await < deadline {
                    let response = client.get(&url).header("host", "shop.example").send().await;
                    if let Ok(response) = response
                        && response.bytes().await.is_ok()
                    {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await?;
    }
    Ok(total)
}

/// The request count in wrk's summary line `  123456 requests in 10.00s, 17.02MB read`.
fn wrk_requests(report: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        let (count, rest) = line.trim().split_once(' ')?;
        rest.starts_with("requests in")
            .then(|| count.parse().ok())?
    })
}
