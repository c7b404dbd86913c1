//! Real services on loopback for tests, benchmarks and `cargo xtask up`.
//!
//! Each service runs as a child process in its own temporary directory on a free loopback port,
//! is waited for until it answers, and is stopped when its handle drops (see [`process`]). A
//! service whose program is missing fails with a message naming the Debian package to install
//! (`cargo xtask setup` installs them all); nothing is skipped silently.
//!
//! This file only declares the modules and names what the callers use; each item lives in the
//! module that defines it, and the modules import one another by those paths.

pub mod cgroups;
mod command;
mod error;
pub mod exporter;
mod files;
mod host;
mod http;
pub mod mariadb;
pub mod metrics;
pub mod nginx;
pub mod process;
pub mod prometheus;
mod runtime;
pub mod stack;
pub mod upstream;

pub use command::{combined_output, run_to_exit};
pub use error::TestbedError;
pub use exporter::{ExporterOptions, ExporterProcess};
pub use files::temp_dir;
pub use host::{free_port, require_program, running_as_root, try_free_port};
pub use http::http_get;
pub use mariadb::{MariaDb, MariaDbOptions};
pub use nginx::Nginx;
pub use process::Service;
pub use prometheus::Prometheus;
pub use runtime::start_on_own_runtime;
pub use stack::{Stack, StackOptions, StackPorts};
