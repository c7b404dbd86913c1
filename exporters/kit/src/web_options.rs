//! The exporter-toolkit web flags (`--web.*`) and what they say, read.

use std::path::PathBuf;

use crate::flags::{Flag, FlagSet, FlagValueError, Flags};
use crate::info::ExporterInfo;

/// The exporter-toolkit web flags, read.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `--web.listen-address`, every one given.
    pub listen_addresses: Vec<String>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--web.config.file`.
    pub config_file: Option<PathBuf>,
    /// 0 means unlimited.
    pub max_requests: usize,
    /// `--web.disable-exporter-metrics`.
    pub disable_exporter_metrics: bool,
    /// `--web.systemd-socket`: serve on the sockets systemd passes (`LISTEN_FDS`) instead of
    /// binding `listen_addresses`.
    pub systemd_socket: bool,
}

/// The handles of the exporter-toolkit web flags.
#[derive(Debug, Clone, Copy)]
pub struct WebFlags {
    /// `--web.listen-address`.
    pub listen_addresses: Flag<Vec<String>>,
    /// `--web.telemetry-path`.
    pub telemetry_path: Flag<String>,
    /// `--web.config.file`.
    pub config_file: Flag<Option<String>>,
    /// `--web.max-requests`.
    pub max_requests: Flag<usize>,
    /// `--web.disable-exporter-metrics`.
    pub disable_exporter_metrics: Flag<bool>,
    /// `--web.systemd-socket`.
    pub systemd_socket: Flag<bool>,
}

impl WebFlags {
    /// Declares the toolkit's web flags with this exporter's default listen address.
    pub fn declare(set: &mut FlagSet, info: &ExporterInfo) -> Self {
        set.heading("Web server");
        WebFlags {
            listen_addresses: set.repeatable(
                "web.listen-address",
                &[info.default_listen_address],
                "Addresses on which to expose metrics and web interface. Repeatable for multiple addresses.",
            ),
            telemetry_path: set.string(
                "web.telemetry-path",
                "/metrics",
                "Path under which to expose metrics.",
            ),
            config_file: set.optional(
                "web.config.file",
                "Path to configuration file that can enable TLS or authentication (exporter-toolkit format).",
            ),
            max_requests: set.number(
                "web.max-requests",
                40usize,
                "Maximum number of parallel scrape requests. Use 0 to disable.",
            ),
            disable_exporter_metrics: set.bool(
                "web.disable-exporter-metrics",
                false,
                "Exclude metrics about the exporter itself (process_*, promhttp_*).",
            ),
            systemd_socket: set.bool(
                "web.systemd-socket",
                false,
                "Use systemd socket activation listeners instead of port listeners (Linux only).",
            ),
        }
    }
}

impl WebOptions {
    /// Reads the web flags declared as `web`.
    pub fn from_flags(flags: &Flags, web: WebFlags) -> Result<Self, FlagValueError> {
        let telemetry_path = flags.get(web.telemetry_path).to_owned();
        if !telemetry_path.starts_with('/') {
            return Err(FlagValueError {
                flag: "web.telemetry-path".into(),
                value: telemetry_path,
                reason: "must start with /".into(),
            });
        }
        Ok(WebOptions {
            listen_addresses: flags
                .get(web.listen_addresses)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            telemetry_path,
            config_file: flags
                .get(web.config_file)
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            max_requests: flags.get(web.max_requests),
            disable_exporter_metrics: flags.get(web.disable_exporter_metrics),
            systemd_socket: flags.get(web.systemd_socket),
        })
    }
}
