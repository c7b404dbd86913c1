//! `cargo xtask package`: a Debian package per exporter and one for the app, into
//! `target/dist/`, made by cargo-deb from the `[package.metadata.deb]` of each crate and the
//! units and maintainer scripts in `packaging/`.
//!
//! The exporters are built as they ship and as `cargo xtask bench` measures them: the release
//! profile, statically linked. `--dev` packages the debug build instead (what the test suite
//! checks, to keep CI short: the packaging, units and scripts are the same).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::workspace::{cargo, run_checked, target_dir, workspace_root};

/// The cargo-deb release the project is tested with (its `--profile dev` is deprecated, so a
/// later release could refuse `--dev`).
pub const CARGO_DEB_VERSION: &str = "3.8.0";

/// The target the exporters are built for, so that `+crt-static` links them statically.
const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Cargo packages made into Debian packages, and whether they ship statically linked.
pub const PACKAGES: &[(&str, bool)] = &[
    ("octo-node-exporter", true),
    ("octo-mysqld-exporter", true),
    ("octo-nginx-exporter", true),
    ("octo-container-exporter", true),
    // The app resolves its database's host name through glibc's NSS, which a static glibc
    // cannot load: it links dynamically.
    ("octo-app", false),
];

/// How the binaries are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The release profile, exporters static: what ships.
    Shipped,
    /// The debug build the test suite already has.
    Dev,
}

/// Installs cargo-deb when it is missing (a crates.io package, built once).
pub fn ensure_cargo_deb() -> anyhow::Result<()> {
    let present = cargo()
        .args(["deb", "--version"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    println!(
        "package: cargo-deb is missing; installing it: cargo install cargo-deb --version {CARGO_DEB_VERSION} --locked (a few minutes, once)"
    );
    let mut install = cargo();
    install.args([
        "install",
        "cargo-deb",
        "--version",
        CARGO_DEB_VERSION,
        "--locked",
    ]);
    run_checked(install, "cargo install cargo-deb")
}

/// Builds every package into `out` (default `target/dist`); returns the `.deb` files.
pub fn run(build: Build, out: Option<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    ensure_cargo_deb()?;
    let out = out.unwrap_or_else(|| target_dir().join("dist"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    compile(build)?;
    let mut debs = Vec::new();
    for (package, static_link) in PACKAGES {
        let mut deb = cargo();
        deb.current_dir(workspace_root())
            .args(["deb", "--quiet", "--no-build", "-p", package, "-o"])
            .arg(&out);
        match build {
            Build::Shipped if *static_link => {
                deb.args(["--profile", "release", "--target", TARGET_TRIPLE]);
            }
            Build::Shipped => {
                deb.args(["--profile", "release"]);
            }
            Build::Dev => {
                deb.args(["--profile", "dev", "--no-strip", "--fast"]);
            }
        }
        let output = deb
            .output()
            .with_context(|| format!("running cargo deb -p {package}"))?;
        if !output.status.success() {
            bail!(
                "cargo deb -p {package} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let path = String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| line.ends_with(".deb"))
            .map(PathBuf::from)
            .with_context(|| format!("cargo deb -p {package} named no .deb"))?;
        println!("package: {}", path.display());
        debs.push(path);
    }
    Ok(debs)
}

fn compile(build: Build) -> anyhow::Result<()> {
    let select = |command: &mut Command, static_link: bool| {
        for (package, is_static) in PACKAGES {
            if *is_static == static_link {
                command.args(["-p", package]);
            }
        }
    };
    let root: &Path = &workspace_root();
    match build {
        Build::Dev => {
            let mut command = cargo();
            command.current_dir(root).args(["build", "--quiet"]);
            select(&mut command, true);
            select(&mut command, false);
            run_checked(command, "cargo build (dev)")
        }
        Build::Shipped => {
            println!("package: building the exporters (release profile, static)...");
            let mut exporters = cargo();
            exporters
                .current_dir(root)
                .args(["build", "--quiet", "--release", "--target", TARGET_TRIPLE])
                .env("RUSTFLAGS", "-C target-feature=+crt-static");
            select(&mut exporters, true);
            run_checked(exporters, "cargo build --release (exporters, static)")?;
            println!("package: building the app (release profile)...");
            let mut app = cargo();
            app.current_dir(root)
                .args(["build", "--quiet", "--release"]);
            select(&mut app, false);
            run_checked(app, "cargo build --release (app)")
        }
    }
}
