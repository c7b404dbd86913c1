//! `cargo xtask bench app`: octo-app (release build) under wrk, 64 connections, against one
//! instance directly and against two instances behind nginx, for the list page with 100 users
//! (`/usuarios?per_page=100`) and for inserts (`POST /api/usuarios`, distinct e-mails). Prints
//! requests per second, latency percentiles, errors and the peak resident memory of each
//! instance during each run, with ratios against the seed's Flask app (its figures on the
//! project's 2-core machine, from `docs/app.md`).
//!
//! Figures, not assertions. `--scrapes N` sets each wrk run to N/50 seconds (3 to 60; the
//! default 500 gives 10 s).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_testbed::{ExporterProcess, MariaDb, Nginx, require_program, try_free_port};

use super::binary::{Profile, build};
use super::process::status_kib;
use super::scrape::client;

/// The seed's Flask app on the project's 2-core machine: list pages and inserts per second
/// (`docs/app.md`, "Benchmark").
const FLASK_LIST_PER_SECOND: f64 = 110.0;
const FLASK_INSERTS_PER_SECOND: f64 = 290.0;
/// The app's performance goals, as `docs/app.md` states them.
const LIST_GOAL_RATIO: f64 = 50.0;
const INSERT_GOAL_RATIO: f64 = 10.0;
const P99_GOAL_MS: f64 = 20.0;
const RSS_GOAL_MIB: f64 = 30.0;

const CONNECTIONS: u32 = 64;
const THREADS: u32 = 2;
const LIST_PATH: &str = "/usuarios?per_page=100";

/// Posts `{"nombre", "email"}` with an e-mail unique per run, wrk thread and request.
const INSERT_SCRIPT: &str = r#"
local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
end
function init(args)
  prefix = args[1] or "run"
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
end
function request()
  counter = counter + 1
  local body = string.format('{"nombre":"Bench %d %d","email":"%s-%d-%d@bench.example"}',
    tid, counter, prefix, tid, counter)
  return wrk.format("POST", "/api/usuarios", headers, body)
end
"#;

/// What one wrk run measured.
#[derive(Debug, Default, Clone)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: String,
    peak_rss_mib: Vec<f64>,
}

async fn instance(binary: &Path, url: &str, name: &str) -> anyhow::Result<ExporterProcess> {
    ExporterProcess::start(
        name,
        binary,
        [
            format!("--database-url={url}"),
            format!("--app-name={name}"),
            "--db-pool-size=16".into(),
            "--log-level=warn".into(),
        ],
        &[],
        |port| vec![format!("--listen-addr=127.0.0.1:{port}")],
        "/readyz",
    )
    .await
    .with_context(|| format!("starting octo-app {name}"))
}

/// Samples the resident memory of `pids` every 100 ms until stopped; returns the peaks.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Vec<AtomicU64>>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pids: Vec<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Arc<Vec<AtomicU64>> = Arc::new(pids.iter().map(|_| AtomicU64::new(0)).collect());
        let thread = {
            let (stop, peaks) = (stop.clone(), peaks.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (pid, peak) in pids.iter().zip(peaks.iter()) {
                        peak.fetch_max(status_kib(*pid, "VmRSS:"), Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        RssSampler {
            stop,
            peaks,
            thread,
        }
    }

    fn finish(self) -> Vec<f64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peaks
            .iter()
            .map(|peak| peak.load(Ordering::Relaxed) as f64 / 1024.0)
            .collect()
    }
}

fn duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(output: &str) -> anyhow::Result<Run> {
    let mut run = Run::default();
    for line in output.lines() {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            run.requests_per_second = value.trim().parse().context("Requests/sec")?;
        } else if let Some(value) = line.strip_prefix("50%") {
            run.p50_ms = duration_ms(value).context("the 50% latency")?;
        } else if let Some(value) = line.strip_prefix("99%") {
            run.p99_ms = duration_ms(value).context("the 99% latency")?;
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.non_2xx = value.trim().parse().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("Socket errors:") {
            run.socket_errors = value.trim().to_owned();
        } else if line.contains(" requests in ") {
            run.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    if run.requests_per_second == 0.0 {
        bail!("could not read wrk's output:\n{output}");
    }
    Ok(run)
}

fn wrk(
    program: &Path,
    url: &str,
    seconds: u64,
    script: Option<(&Path, &str)>,
    pids: &[u32],
) -> anyhow::Result<Run> {
    let mut command = Command::new(program);
    command.args([
        format!("-t{THREADS}"),
        format!("-c{CONNECTIONS}"),
        format!("-d{seconds}s"),
        "--latency".into(),
        "--timeout=5s".into(),
    ]);
    if let Some((path, _)) = script {
        command.arg("-s").arg(path);
    }
    command.arg(url);
    if let Some((_, argument)) = script {
        command.args(["--", argument]);
    }
    let sampler = RssSampler::start(pids.to_vec());
    let output = command.output().context("running wrk")?;
    let peaks = sampler.finish();
    if !output.status.success() {
        bail!(
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut run = parse_wrk(&String::from_utf8_lossy(&output.stdout))?;
    run.peak_rss_mib = peaks;
    Ok(run)
}

async fn seed_users(base: &str, count: usize) -> anyhow::Result<()> {
    let client = client(Duration::from_secs(10))?;
    for n in 0..count {
        let response = client
            .post(format!("{base}/api/usuarios"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"nombre":"Usuario de prueba {n}","email":"seed{n}@bench.example"}}"#
            ))
            .send()
            .await?;
        if response.status().as_u16() != 201 {
            bail!("seeding user {n}: {}", response.status());
        }
    }
    Ok(())
}

pub async fn run(requests: usize) -> anyhow::Result<()> {
    let seconds = (requests / 50).clamp(3, 60) as u64;
    let binary = build("octo-app", Profile::Release)?;
    let wrk_program = require_program("wrk", "wrk")?;
    let services = Services::start(&binary).await?;
    println!(
        "bench: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, {} cores, table of 100 users",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runs = Runs::measure(&wrk_program, &services, seconds)?;
    let (rows, answered_201) = inserts(&services).await?;
    runs.print();
    println!(
        "rows in usuarios: {rows}; 201 answers counted by the instances (seeding included): \
         {answered_201}; difference {} (at most {} requests are cut off in flight when wrk stops)",
        rows as i64 - answered_201 as i64,
        2 * CONNECTIONS
    );
    drop(services);
    Ok(())
}

/// MariaDB, two app instances with 100 users, and nginx in front of both.
struct Services {
    // Field order is drop order: the front first, the database last.
    nginx: Nginx,
    first: ExporterProcess,
    second: ExporterProcess,
    mariadb: MariaDb,
    pids: [u32; 2],
}

impl Services {
    async fn start(binary: &Path) -> anyhow::Result<Services> {
        println!("bench: starting MariaDB...");
        let mariadb = MariaDb::start().await?;
        mariadb.create_user("octo", "bench-pass", "ALL").await?;
        mariadb
            .sql("CREATE DATABASE octo_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            .await?;
        let url = mariadb.url("octo", "bench-pass", "octo_bench");
        let first = instance(binary, &url, "app1").await?;
        let second = instance(binary, &url, "app2").await?;
        seed_users(&first.url(""), 100).await?;
        let pids = [
            first.pid().context("app1 is not running")?,
            second.pid().context("app2 is not running")?,
        ];

        let nginx_port = try_free_port()?;
        let (port1, port2) = (first.port, second.port);
        let nginx = Nginx::start_with(nginx_port, move |_| {
            format!(
                "upstream octo_app {{\n  server 127.0.0.1:{port1};\n  server 127.0.0.1:{port2};\n  keepalive 64;\n}}\n\
                 server {{\n  listen 127.0.0.1:{nginx_port};\n  location / {{\n    proxy_pass http://octo_app;\n    \
                 proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n    proxy_set_header Host $host;\n  }}\n}}\n"
            )
        })
        .await
        .context("starting nginx")?;
        Ok(Services {
            nginx,
            first,
            second,
            mariadb,
            pids,
        })
    }
}

/// The four measured wrk runs.
struct Runs {
    list_direct: Run,
    list_nginx: Run,
    insert_direct: Run,
    insert_nginx: Run,
}

impl Runs {
    fn measure(wrk_program: &Path, services: &Services, seconds: u64) -> anyhow::Result<Runs> {
        let Services {
            nginx, first, pids, ..
        } = services;
        let script =
            std::env::temp_dir().join(format!("octo-bench-app-{}.lua", std::process::id()));
        std::fs::write(&script, INSERT_SCRIPT)
            .with_context(|| format!("writing {}", script.display()))?;
        // Warm-up (statement caches, pool, page cache); not reported.
        wrk(wrk_program, &first.url(LIST_PATH), 2, None, pids)?;
        let list_direct = wrk(
            wrk_program,
            &first.url(LIST_PATH),
            seconds,
            None,
            &pids[..1],
        )?;
        let list_nginx = wrk(wrk_program, &nginx.url(LIST_PATH), seconds, None, pids)?;
        let insert_direct = wrk(
            wrk_program,
            &first.url("/api/usuarios"),
            seconds,
            Some((&script, "direct")),
            &pids[..1],
        )?;
        let insert_nginx = wrk(
            wrk_program,
            &nginx.url("/api/usuarios"),
            seconds,
            Some((&script, "nginx")),
            pids,
        )?;
        let _ = std::fs::remove_file(&script);
        Ok(Runs {
            list_direct,
            list_nginx,
            insert_direct,
            insert_nginx,
        })
    }

    fn print(&self) {
        println!();
        println!(
            "{:<34} {:>10} {:>9} {:>9} {:>8} {:>10} {:>16}",
            "", "req/s", "p50 ms", "p99 ms", "non-2xx", "vs Flask", "peak RSS MiB"
        );
        for (label, run, flask) in [
            (
                "list, 100 users, direct",
                &self.list_direct,
                FLASK_LIST_PER_SECOND,
            ),
            (
                "list, 100 users, nginx + 2",
                &self.list_nginx,
                FLASK_LIST_PER_SECOND,
            ),
            (
                "insert (API), direct",
                &self.insert_direct,
                FLASK_INSERTS_PER_SECOND,
            ),
            (
                "insert (API), nginx + 2",
                &self.insert_nginx,
                FLASK_INSERTS_PER_SECOND,
            ),
        ] {
            let rss: Vec<String> = run.peak_rss_mib.iter().map(|m| format!("{m:.1}")).collect();
            println!(
                "{label:<34} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>9.1}x {:>16}",
                run.requests_per_second,
                run.p50_ms,
                run.p99_ms,
                run.non_2xx,
                run.requests_per_second / flask,
                rss.join(" / ")
            );
            if !run.socket_errors.is_empty() {
                println!("    socket errors: {}", run.socket_errors);
            }
        }
        println!();
        println!(
            "Flask baseline (given): {FLASK_LIST_PER_SECOND} list pages/s, {FLASK_INSERTS_PER_SECOND} inserts/s. \
             Goals: list >= {LIST_GOAL_RATIO}x, inserts >= {INSERT_GOAL_RATIO}x, p99 < {P99_GOAL_MS} ms \
             at {CONNECTIONS} connections, < {RSS_GOAL_MIB} MiB resident per instance."
        );
    }
}

/// The rows in the table, and the 201s as the instances counted them (wrk does not count the
/// requests still in flight when it stops, which the app may still have answered).
async fn inserts(services: &Services) -> anyhow::Result<(u64, u64)> {
    let rows: u64 = services
        .mariadb
        .sql("SELECT COUNT(*) FROM octo_bench.usuarios")
        .await?
        .trim()
        .parse()
        .unwrap_or(0);
    let mut answered_201 = 0.0;
    for process in [&services.first, &services.second] {
        let (_, text) = octo_testbed::http_get(&process.url("/metrics")).await?;
        let exposition = octo_testbed::metrics::parse(&text)
            .map_err(|err| anyhow::anyhow!("reading the app's metrics: {err}"))?;
        answered_201 += exposition
            .value(
                "http_requests_total",
                &[
                    ("method", "POST"),
                    ("endpoint", "/api/usuarios"),
                    ("status", "201"),
                ],
            )
            .unwrap_or(0.0);
    }
    Ok((rows, answered_201 as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let output = "Running 10s test @ http://127.0.0.1:1/usuarios?per_page=100
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.52ms    3.01ms  48.10ms   80.12%
    Req/Sec     3.05k   200.00     3.50k    70.00%
  Latency Distribution
     50%   10.10ms
     75%   12.00ms
     90%   14.00ms
     99%  950.00us
  60712 requests in 10.01s, 1.40GB read
  Non-2xx or 3xx responses: 3
Requests/sec:   6065.03
Transfer/sec:    143.12MB
";
        let run = parse_wrk(output).unwrap();
        assert_eq!(run.requests_per_second, 6065.03);
        assert_eq!(run.p50_ms, 10.10);
        assert_eq!(run.p99_ms, 0.95);
        assert_eq!(run.requests, 60712);
        assert_eq!(run.non_2xx, 3);
        assert_eq!(duration_ms("1.20s"), Some(1200.0));
        assert!(parse_wrk("garbage").is_err());
    }
}
