//! `cargo xtask setup`: installs the Debian packages that tests, benchmarks and the stack need.

use std::process::Command;

use anyhow::{Context as _, bail};

/// Packages and what needs them.
pub const PACKAGES: &[(&str, &str)] = &[
    ("nginx", "load balancer, stub_status for the nginx exporter"),
    (
        "mariadb-server",
        "the database (tests start their own mariadbd)",
    ),
    (
        "mariadb-client",
        "the mariadb command-line client used by the tests",
    ),
    ("prometheus", "Prometheus and promtool"),
    ("prometheus-alertmanager", "Alertmanager for the stack"),
    (
        "prometheus-node-exporter",
        "upstream node_exporter, for side-by-side tests and benchmarks",
    ),
    (
        "prometheus-mysqld-exporter",
        "upstream mysqld_exporter, side by side",
    ),
    (
        "prometheus-nginx-exporter",
        "upstream nginx-prometheus-exporter, side by side",
    ),
    (
        "systemd",
        "a real systemd manager (PID 1 of its own namespace) for the node exporter's systemd test",
    ),
    (
        "dbus-daemon",
        "the system bus that systemd test's manager registers on",
    ),
    ("wrk", "HTTP load generator for the app's benchmarks"),
    ("apache2-utils", "htpasswd (bcrypt hashes) and ab"),
    (
        "docker-compose",
        "validates compose.yml (no Docker engine needed)",
    ),
    (
        "chromium",
        "headless browser tests of the app and of the dashboard viewer",
    ),
    (
        "nodejs",
        "node --test on the dashboard viewer's JavaScript helpers",
    ),
    (
        "systemd",
        "systemd-analyze verify and systemd-socket-activate for the packages' units",
    ),
    ("curl", "the packages' tests scrape the installed exporters"),
    (
        "util-linux",
        "setpriv: the packages' tests run a unit's command as user prometheus",
    ),
    (
        "python3-venv",
        "a virtual environment for the Kubernetes schema validator",
    ),
    (
        "btrfs-progs",
        "mkfs.btrfs for the node exporter's btrfs ioctl test on a loop device",
    ),
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Packages not yet installed.
pub fn missing() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !installed(name))
        .collect()
}

fn is_debian_like() -> bool {
    std::fs::read_to_string("/etc/os-release")
        .map(|text| {
            text.lines().any(|line| {
                let line = line.to_ascii_lowercase();
                (line.starts_with("id=") || line.starts_with("id_like="))
                    && (line.contains("debian") || line.contains("ubuntu"))
            })
        })
        .unwrap_or(false)
}

/// Installs whatever is missing; does nothing when everything is there.
pub fn run() -> anyhow::Result<()> {
    if !is_debian_like()
        || Command::new("dpkg-query")
            .arg("--version")
            .output()
            .is_err()
    {
        bail!(
            "this is not Debian or Ubuntu: install these packages (or their equivalents) by hand:\n  {}",
            PACKAGES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    // The packages' test builds .debs with it (`cargo xtask package`).
    crate::package::ensure_cargo_deb()?;
    let missing = missing();
    if missing.is_empty() {
        println!("setup: every package is installed");
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "setup needs root to install: {}\nrun as root, or: sudo apt-get install -y {}",
            missing.join(" "),
            missing.join(" ")
        );
    }
    println!("setup: installing {}", missing.join(" "));
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed with {status}", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    apt(&args)?;
    // Debian's maintainer scripts may start the packaged services; the project runs its own
    // instances on its own ports, so stop any that came up to keep ports and CPU free.
    for service in [
        "nginx",
        "mariadb",
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-node-exporter",
        "prometheus-mysqld-exporter",
        "prometheus-nginx-exporter",
    ] {
        let _ = Command::new("service")
            .args([service, "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let still = self::missing();
    if !still.is_empty() {
        bail!("still missing after apt-get: {}", still.join(" "));
    }
    println!("setup: done");
    Ok(())
}
