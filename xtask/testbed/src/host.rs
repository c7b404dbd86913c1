//! What the host provides: free loopback ports, programs from Debian packages, and whether we
//! are root.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::error::TestbedError;

/// A TCP port that was free on 127.0.0.1 a moment ago.
pub fn try_free_port() -> Result<u16, TestbedError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| TestbedError::Io {
            context: "binding an ephemeral port on 127.0.0.1".into(),
            source,
        })
}

/// [`try_free_port`] for tests, which have no better answer to a host without loopback ports
/// than failing where they stand.
///
/// # Panics
///
/// When no port can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    match try_free_port() {
        Ok(port) => port,
        Err(err) => panic!("{err}"),
    }
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
