//! `--log.level` and `--log.format` (logfmt or json), on tracing, to standard error as the Go
//! exporters log.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::flags::{FlagSet, Flags};

/// Declares `--log.level` and `--log.format`.
pub fn declare(set: FlagSet) -> FlagSet {
    set.heading("Logging")
        .value_with(
            "log.level",
            Some("info"),
            "Only log messages with the given severity or above. One of: [debug, info, warn, error]",
            |arg| arg.value_parser(["debug", "info", "warn", "error"]),
        )
        .value_with(
            "log.format",
            Some("logfmt"),
            "Output format of log messages. One of: [logfmt, json]",
            |arg| arg.value_parser(["logfmt", "json"]),
        )
}

/// Installs the global subscriber chosen by the flags.
pub fn init(flags: &Flags) {
    let level = match flags.value("log.level").unwrap_or("info") {
        "debug" => LevelFilter::DEBUG,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let registry = tracing_subscriber::registry().with(level);
    let result = if flags.value("log.format") == Some("json") {
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
