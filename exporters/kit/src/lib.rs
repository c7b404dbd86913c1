//! The Octo exporter kit: what every exporter shares, so that an exporter's `main.rs` reads like
//! a table of contents (flags, collectors, [`serve`]).
//!
//! - [`flags`]: the upstream flag grammar (kingpin, and Go's `flag` where the exporter replaces
//!   a program that used it);
//! - [`server`]: listeners, TLS and the exporter-toolkit web configuration ([`webconfig`]), the
//!   landing page, the telemetry path, gzip, the concurrent-scrape limit, graceful shutdown;
//!   `connection` keeps, per connection, the write deadline, the slots of answers not yet written
//!   and the watch for a client that left; `basic_auth` the bcrypt checks, cache and queue;
//! - [`exposition`]: metric families and their text-format encoding;
//! - [`selfmetrics`]: build info, `process_*`, promhttp counters, per-collector outcomes;
//! - [`logging`]: `--log.level` and `--log.format`;
//! - [`netlink`]: the netlink socket, framing and attribute walk exporters read the kernel with;
//! - [`cli`]: an exporter's flag set, holding the kit's own flags beside the exporter's;
//! - [`run`]: the process around it (runtime, allocator, exit status).
//!
//! The crate root only declares modules and re-exports; modules import each other by path, so
//! no file imports one that imports it back.

#![warn(missing_docs)]

mod basic_auth;
pub mod cli;
mod connection;
pub mod exposition;
pub mod flags;
pub mod gzip;
pub mod info;
pub mod logging;
pub mod netlink;
pub mod probe_targets;
pub mod run;
pub mod selfmetrics;
pub mod server;
pub mod web_options;
pub mod webconfig;

pub use cli::{ExporterFlagSet, ExporterFlags};
pub use exposition::{
    Label, MetricFamily, MetricType, Sample, SharedLabels, Text, owned_labels, shared_labels,
};
pub use flags::{DashStyle, Flag, FlagSet, Flags};
pub use info::{ExporterInfo, HandlerMetrics};
pub use run::{install_crypto_provider, run_exporter, run_main};
pub use server::{Exporter, HttpError, Reply, ScrapeRequest, serve, start};
pub use web_options::{WebFlags, WebOptions};
