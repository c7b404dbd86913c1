//! `--log.level` and `--log.format` (logfmt or json), on tracing, to standard error as the Go
//! exporters log.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::flags::{Flag, FlagSet, Flags};

/// The handles of `--log.level` and `--log.format`.
#[derive(Debug, Clone, Copy)]
pub struct LogFlags {
    level: Flag<String>,
    format: Flag<String>,
}

impl LogFlags {
    /// Declares `--log.level` and `--log.format`.
    pub fn declare(set: &mut FlagSet) -> Self {
        set.heading("Logging");
        let level = set.string(
            "log.level",
            "info",
            "Only log messages with the given severity or above. One of: [debug, info, warn, error]",
        );
        set.customize(level, |arg| {
            arg.value_parser(["debug", "info", "warn", "error"])
        });
        let format = set.string(
            "log.format",
            "logfmt",
            "Output format of log messages. One of: [logfmt, json]",
        );
        set.customize(format, |arg| arg.value_parser(["logfmt", "json"]));
        LogFlags { level, format }
    }
}

/// Installs the global subscriber chosen by the logging flags declared as `log`.
pub fn init(flags: &Flags, log: LogFlags) {
    let format = flags.get(log.format);
    let level = match flags.get(log.level) {
        "debug" => LevelFilter::DEBUG,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let registry = tracing_subscriber::registry().with(level);
    let result = if format == "json" {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_logfmt::builder()
                    .with_span_name(false)
                    .with_span_path(false)
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
    // Only fails when a subscriber is already installed (tests), which is fine.
    let _ = result;
}
