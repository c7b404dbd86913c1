//! Real services on loopback for tests, benchmarks and `cargo xtask up`.
//!
//! Each service runs as a child process in its own temporary directory on a free loopback port,
//! is waited for until it answers, and is stopped when its handle drops (see [`process`]). A
//! service whose program is missing fails with a message naming the Debian package to install
//! (`cargo xtask setup` installs them all); nothing is skipped silently.

pub mod cgroups;
pub mod exporter;
pub mod mariadb;
pub mod metrics;
pub mod nginx;
pub mod process;
pub mod prometheus;
pub mod stack;
pub mod upstream;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub use exporter::ExporterProcess;
pub use mariadb::{MariaDb, MariaDbOptions};
pub use nginx::Nginx;
pub use process::Service;
pub use prometheus::Prometheus;
pub use stack::{Stack, StackOptions, StackPorts};

/// Why a service could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error(
        "{program} not found: install the Debian package `{package}` (`cargo xtask setup` installs everything the tests need)"
    )]
    Missing { program: String, package: String },
    #[error("{service} did not start: {detail}")]
    Start { service: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{service}: {detail}")]
    Command { service: String, detail: String },
    #[error("HTTP request to {url}: {detail}")]
    Http { url: String, detail: String },
}

/// A TCP port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding an ephemeral port on 127.0.0.1")
}

/// Finds a program in the usual system directories or on `PATH`, or says which Debian package
/// provides it.
pub fn require_program(program: &str, package: &str) -> Result<PathBuf, TestbedError> {
    let mut candidates: Vec<PathBuf> = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(program)));
    }
    candidates
        .into_iter()
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| TestbedError::Missing {
            program: program.into(),
            package: package.into(),
        })
}

/// Whether we run as root (services then need to be told to keep running as root).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A GET on loopback, returning status and body.
pub async fn http_get(url: &str) -> Result<(u16, String), TestbedError> {
    get_with(&loopback_client(url)?, url).await
}

/// A client for GETs on loopback (`url` only names the request in the error).
pub(crate) fn loopback_client(url: &str) -> Result<reqwest::Client, TestbedError> {
    // Feature unification may give reqwest TLS without a provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|err| TestbedError::Http {
            url: url.into(),
            detail: err.to_string(),
        })
}

/// [`http_get`] with `client`.
pub(crate) async fn get_with(
    client: &reqwest::Client,
    url: &str,
) -> Result<(u16, String), TestbedError> {
    let http_error = |err: reqwest::Error| TestbedError::Http {
        url: url.into(),
        detail: err.to_string(),
    };
    let response = client.get(url).send().await.map_err(http_error)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(http_error)?;
    Ok((status, body))
}

pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), TestbedError> {
    std::fs::write(path, contents).map_err(|source| TestbedError::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// dropped.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, TestbedError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|source| TestbedError::Io {
            context: "creating a temporary directory".into(),
            source,
        })
}

/// Runs `start` to completion on a runtime of its own, on a thread of its own, and returns what
/// it gives: for a service that a whole test binary shares (kept in a `OnceLock`), whose
/// tests each run on their own runtime, so none of theirs can start it.
pub fn start_on_own_runtime<T, F>(start: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to start a shared service")
            .block_on(start)
    })
    .join()
    .expect("the thread starting a shared service")
}

/// Runs `program` with `args` to its end and returns its exit status (-1 when a signal ended
/// it) and everything it wrote, stdout then stderr: what a user at a shell would see.
pub fn run_to_exit(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (i32, String) {
    let program = program.as_ref();
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", program.to_string_lossy()));
    (output.status.code().unwrap_or(-1), combined_output(&output))
}

/// What a finished command wrote, stdout then stderr, as text.
pub fn combined_output(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
