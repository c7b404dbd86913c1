//! `octo-app`: flags (each also an environment variable), logging, the server, and the
//! SIGTERM/SIGINT shutdown sequence.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use octo_app::{Cli, start};
use tracing::level_filters::LevelFilter;

fn init_logging(level: &str, format: &str) {
    use std::io::IsTerminal as _;
    let level: LevelFilter = level.parse().unwrap_or(LevelFilter::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.into_config().map_err(anyhow::Error::msg)?;
    let running = start(config).await?;
    let signal = wait_for_signal().await?;
    tracing::info!(signal, "stopping");
    running.stop().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level, &cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("octo-app: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Anything still running (a connection past the shutdown timeout) is dropped, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}
