//! An exporter's process: its runtime, allocator settings, crypto provider and exit status.

use std::time::Duration;

use crate::cli::ExporterFlags;
use crate::logging;

/// An exporter's `main` once its command line is parsed: logging as the flags say, then
/// [`run_main`] on `run(flags)`.
pub fn run_exporter<R, F, E>(flags: ExporterFlags, run: R) -> std::process::ExitCode
where
    R: FnOnce(ExporterFlags) -> F,
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    logging::init(&flags, flags.kit().log);
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
