//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `setup`: install the Debian packages the tests, benchmarks and the stack need;
//! - `test`: setup, then the whole test suite (what CI runs, through `.ci/run`);
//! - `up [--dashboard FILE_OR_DIR]...`: build and run the stack natively in the foreground until
//!   Ctrl-C, with the dashboard viewer showing grafana/dashboards/ and any other dashboards given;
//! - `package [--dev] [--out DIR]`: the Debian packages, into `target/dist/`;
//! - `bench <nginx|node|mysql|container>`: an exporter against its upstream binary;
//!   `bench app`: the app under wrk, directly and through nginx; `bench nginx-log`: what the
//!   nginx exporter's access-log source costs (lines per CPU second, CPU per 10,000 requests);
//! - `hot-text`: record the functions the node exporter runs and write
//!   `exporters/node/hot-text.ld` (needs valgrind).

mod bench;
mod hot_text;
mod package;
mod setup;
mod up;
mod workspace;

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command as Cli};

use crate::workspace::{cargo, run_checked};

fn cli() -> Cli {
    Cli::new("xtask")
        .about("Octo project tasks")
        .subcommand_required(true)
        .subcommand(
            Cli::new("setup")
                .about("Install the Debian packages tests, benchmarks and the stack need"),
        )
        .subcommand(
            Cli::new("test")
                .about("Set up what is missing, then run the whole test suite (CI runs this)")
                .arg(
                    Arg::new("cargo-args")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true),
                ),
        )
        .subcommand(
            Cli::new("up")
                .about("Run the whole stack natively until Ctrl-C")
                .arg(
                    Arg::new("dashboard")
                        .long("dashboard")
                        .value_name("FILE_OR_DIR")
                        .action(ArgAction::Append)
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help(
                            "Another Grafana dashboard JSON file (or directory of them) for the \
                             dashboard viewer, after grafana/dashboards/ (repeatable)",
                        ),
                ),
        )
        .subcommand(
            Cli::new("package")
                .about("Build a Debian package per exporter and one for the app into target/dist/")
                .arg(
                    Arg::new("dev")
                        .long("dev")
                        .action(ArgAction::SetTrue)
                        .help("Package the debug build (tests), not the shipped release build"),
                )
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help("Directory for the .deb files [default: target/dist]"),
                ),
        )
        .subcommand(
            Cli::new("hot-text")
                .about(
                    "Record the functions octo-node-exporter runs (valgrind) and write \
                     exporters/node/hot-text.ld",
                )
                .arg(
                    Arg::new("scrapes")
                        .long("scrapes")
                        .value_parser(clap::value_parser!(usize))
                        .default_value("10"),
                ),
        )
        .subcommand(
            Cli::new("bench")
                .about("Benchmark an exporter against its upstream binary")
                .arg(Arg::new("exporter").required(true).value_parser([
                    "nginx",
                    "nginx-log",
                    "node",
                    "mysql",
                    "container",
                    "app",
                ]))
                .arg(
                    Arg::new("scrapes")
                        .long("scrapes")
                        .value_parser(clap::value_parser!(usize))
                        .action(ArgAction::Set),
                ),
        )
}

fn test(extra: Vec<String>) -> anyhow::Result<()> {
    setup::run()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_checked(fmt, "cargo fmt --check")?;
    let mut tests = cargo();
    tests
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("RUST_BACKTRACE", "1");
    run_checked(tests, "cargo test --workspace")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    let result = match matches.subcommand() {
        Some(("setup", _)) => setup::run(),
        Some(("test", args)) => test(
            args.get_many::<String>("cargo-args")
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
        ),
        Some(("package", args)) => {
            let build = if args.get_flag("dev") {
                package::Build::Dev
            } else {
                package::Build::Shipped
            };
            package::run(build, args.get_one::<std::path::PathBuf>("out").cloned()).map(|_| ())
        }
        Some(("up", args)) => {
            let dashboards = args
                .get_many::<std::path::PathBuf>("dashboard")
                .map(|paths| paths.cloned().collect())
                .unwrap_or_default();
            runtime().and_then(|rt| rt.block_on(up::run(dashboards)))
        }
        Some(("hot-text", args)) => {
            let scrapes = args.get_one::<usize>("scrapes").copied().unwrap_or(10);
            runtime().and_then(|rt| rt.block_on(hot_text::run(scrapes)))
        }
        Some(("bench", args)) => {
            let scrapes = args
                .get_one::<usize>("scrapes")
                .copied()
                .unwrap_or(bench::compare::DEFAULT_SCRAPES);
            let exporter = args
                .get_one::<String>("exporter")
                .cloned()
                .unwrap_or_default();
            runtime().and_then(|rt| {
                rt.block_on(async {
                    match exporter.as_str() {
                        "nginx" => bench::nginx::run(scrapes).await,
                        "nginx-log" => bench::nginx_log::run().await,
                        "node" => bench::node::run(scrapes).await,
                        "mysql" => bench::mysql::run(scrapes).await,
                        "app" => bench::app::run(scrapes).await,
                        _ => bench::container::run(scrapes).await,
                    }
                })
            })
        }
        _ => unreachable!("clap requires a subcommand"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
