//! The benchmarked binaries, built as they ship.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::workspace::{cargo, target_dir};

/// The target the exporters are built for, so that `+crt-static` links them statically.
const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// How a benchmarked binary is built.
pub enum Profile {
    /// As the exporters ship: size-optimised and statically linked (see `docs/benchmarks.md` for
    /// why), under a target triple of its own so test builds stay untouched.
    SmallStatic,
    /// Plain `--release`, as the app is deployed.
    Release,
}

/// Builds the binary named after its package and returns its path.
pub fn build(package: &str, profile: Profile) -> anyhow::Result<PathBuf> {
    let mut command = cargo();
    command.args(["build", "--quiet"]);
    let output_dir = match profile {
        Profile::SmallStatic => {
            println!("bench: building {package} (profile small, static)...");
            command
                .args(["--profile", "small", "--target", TARGET_TRIPLE])
                .env("RUSTFLAGS", "-C target-feature=+crt-static");
            target_dir().join(TARGET_TRIPLE).join("small")
        }
        Profile::Release => {
            println!("bench: building {package} (release)...");
            command.arg("--release");
            target_dir().join("release")
        }
    };
    let status = command
        .args(["-p", package, "--bin", package])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building {package} failed");
    }
    let path = output_dir.join(package);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}
