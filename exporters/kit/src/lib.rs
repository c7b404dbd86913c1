//! The Octo exporter kit: what every exporter shares, so that an exporter's `main.rs` reads like
//! a table of contents (flags, collectors, [`serve`]).
//!
//! - [`flags`]: the upstream flag grammar (kingpin, and Go's `flag` where the exporter replaces
//!   a program that used it);
//! - [`server`]: listeners, TLS and the exporter-toolkit web configuration ([`webconfig`]), the
//!   landing page, the telemetry path, gzip, the concurrent-scrape limit, graceful shutdown;
//! - [`exposition`]: metric families and their text-format encoding;
//! - [`selfmetrics`]: build info, `process_*`, promhttp counters, per-collector outcomes;
//! - [`logging`]: `--log.level` and `--log.format`.

pub mod exposition;
pub mod flags;
pub mod gzip;
pub mod logging;
pub mod selfmetrics;
pub mod server;
pub mod webconfig;

use std::time::Duration;

pub use exposition::{MetricFamily, MetricType, Sample, SharedLabels, shared_labels};
pub use flags::{DashStyle, FlagSet, Flags};
pub use server::{Exporter, HttpError, Reply, ScrapeRequest, WebOptions, serve, start};

/// Who an exporter is: names, the upstream program it replaces, and its defaults.
#[derive(Debug)]
pub struct ExporterInfo {
    /// The binary's name, such as `octo-node-exporter`.
    pub binary: &'static str,
    /// The landing page title.
    pub title: &'static str,
    /// The upstream program this one replaces, such as `node_exporter`.
    pub upstream: &'static str,
    /// The build-info family upstream exports, such as `node_exporter_build_info`.
    pub build_info_metric: &'static str,
    /// The default for `--web.listen-address`, such as `:9100`.
    pub default_listen_address: &'static str,
    pub version: &'static str,
    /// Which promhttp handler families upstream exposes.
    pub handler_metrics: HandlerMetrics,
}

/// The `promhttp_metric_handler_*` families an upstream exporter has, which depends on how it
/// built its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerMetrics {
    /// None (cAdvisor).
    None,
    /// `requests_total{code}` and `requests_in_flight` (mysqld_exporter, nginx exporter 1.x).
    Requests,
    /// Those and `errors_total{cause}` (node_exporter, whose handler has a registry).
    RequestsAndErrors,
}

impl ExporterInfo {
    /// A flag set holding the web and logging flags every exporter has.
    pub fn flag_set(&'static self, about: &'static str) -> FlagSet {
        let version = format!(
            "{} (drop-in for {}; built with {})",
            self.version,
            self.upstream,
            env!("OCTO_RUSTC_VERSION")
        );
        let set = FlagSet::new(self.binary, about, version);
        logging::declare(WebOptions::declare(set, self))
    }
}

/// An exporter's `main` once its command line is parsed: logging as the flags say, then
/// [`run_main`] on `run(flags)`.
pub fn run_exporter<R, F, E>(flags: Flags, run: R) -> std::process::ExitCode
where
    R: FnOnce(Flags) -> F,
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    logging::init(&flags);
    run_main(run(flags))
}

/// Runs an exporter's asynchronous main function on a single-threaded runtime (an exporter does
/// little at a time; one thread keeps its memory small), and turns its result into the exit
/// status: 0, or 1 with the error logged. Blocking work left running at exit (a statfs stuck on
/// a dead NFS server) does not hold the exit up.
pub fn run_main<F, E>(main: F) -> std::process::ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tune_malloc();
    // Blocking helpers (file reads off the event loop) are kept across scrapes rather than
    // re-created every 15 s.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(120))
        .max_blocking_threads(32)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    install_crypto_provider();
    let result = runtime.block_on(main);
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if tracing::dispatcher::has_been_set() {
                tracing::error!("{err:#}");
            } else {
                eprintln!("error: {err:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Keeps glibc's allocator from holding memory the exporter no longer uses.
///
/// - One arena for the whole process: glibc gives each new thread that allocates its own arena
///   (up to eight per core), and every arena keeps its freed memory resident; the blocking
///   helpers that read files off the event loop took ~0.1 MiB that way. An exporter allocates
///   little and rarely from two threads at once, so the lock is never contended.
/// - Free memory at the top of the heap goes back to the system above 64 KiB, and that
///   threshold stays fixed: by default glibc raises it to twice the largest block it has freed
///   to `mmap`, so one large scrape (the mysqld exporter's plain-text body is ~190 KB) made it
///   keep the whole scrape's heap afterwards (0.23 MiB there).
#[allow(unsafe_code)] // mallopt has no safe wrapper in libc or nix.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists, and a value it refuses (returning 0) leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024);
    }
}

/// Makes ring the process-wide rustls provider, so every TLS user (the server, reqwest,
/// mysql_async) agrees on one; harmless when already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
