//! The Debian packages of `cargo xtask package`, installed in place of Debian's exporters on
//! this machine and taken back out: Debian's package installed and configured with a
//! non-default `ARGS`, replaced by ours with `dpkg -i`; our unit verifies, and its `ExecStart`
//! (run as systemd would: the environment file read, `$ARGS` split, as user prometheus) serves
//! with those arguments; removing ours and reinstalling Debian's restores it, configuration
//! untouched. Socket activation and several listen addresses run the binaries directly.
//!
//! The packages are built from the dev profile (`cargo xtask package --dev`) to keep CI short;
//! `cargo xtask package` itself builds the shipped profile (release, static). Other tests compare
//! with Debian's exporters, so these end with Debian's packages installed as before, whatever
//! happens: a guard puts them back (and the original `/etc/default` file) when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::support::{program, run_ok};

/// dpkg takes one installation at a time, and the tests change the same packages.
static DPKG: Mutex<()> = Mutex::new(());

/// The .deb files, built once per test binary.
fn debs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = super::support::target_dir().join("dist-test");
        let _ = std::fs::remove_dir_all(&dir);
        run_ok(
            Command::new(env!("CARGO_BIN_EXE_xtask"))
                .args(["package", "--dev", "--out"])
                .arg(&dir),
            "cargo xtask package --dev",
        );
        dir
    })
}

fn deb_of(package: &str) -> PathBuf {
    let prefix = format!("{package}_");
    std::fs::read_dir(debs())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .unwrap_or_else(|| panic!("no .deb of {package} in {}", debs().display()))
}

fn require_root_and_tools() {
    assert!(
        octo_testbed::running_as_root(),
        "the package tests install packages: run them as root (CI does)"
    );
    program("systemd-analyze", "systemd");
    program("setpriv", "util-linux");
    program("dpkg-deb", "dpkg");
}

fn status(package: &str) -> String {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn installed(package: &str) -> bool {
    status(package).contains("install ok installed")
}

fn dpkg(args: &[&str], what: &str) -> String {
    run_ok(
        Command::new("dpkg")
            .args(["--force-confold"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        what,
    )
}

/// Stops whatever Debian's init script started (there is no systemd here to stop it for us).
fn stop_debian_service(service: &str) {
    let _ = Command::new("service")
        .args([service, "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Puts the machine back as it was: Debian's package installed, its `/etc/default` file as it
/// was, ours gone, whatever the test did.
struct Restore {
    debian: &'static str,
    ours: &'static str,
    debian_deb: PathBuf,
    defaults: PathBuf,
    original_defaults: Option<Vec<u8>>,
    extra_files: Vec<(PathBuf, Option<Vec<u8>>)>,
    _dir: tempfile::TempDir,
}

impl Restore {
    /// Fetches Debian's .deb first (nothing is changed if that fails), and remembers the files.
    fn new(debian: &'static str, ours: &'static str) -> Restore {
        assert!(
            installed(debian),
            "{debian} must be installed before the test (cargo xtask setup installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("apt-get")
                .args(["download", debian])
                .current_dir(dir.path()),
            &format!("apt-get download {debian} (to put it back afterwards)"),
        );
        let debian_deb = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
            .expect("apt-get download left a .deb");
        let defaults = PathBuf::from(format!("/etc/default/{debian}"));
        Restore {
            debian,
            ours,
            debian_deb,
            original_defaults: std::fs::read(&defaults).ok(),
            defaults,
            extra_files: Vec::new(),
            _dir: dir,
        }
    }

    /// Writes a file the test needs, to be put back as it was afterwards.
    fn write(&mut self, path: &Path, text: &str) {
        self.extra_files
            .push((path.to_path_buf(), std::fs::read(path).ok()));
        std::fs::write(path, text).unwrap();
    }

    fn reinstall_debian(&self) {
        if installed(self.ours) {
            dpkg(&["-r", self.ours], "dpkg -r ours");
        }
        dpkg(
            &["-i", self.debian_deb.to_str().unwrap()],
            "dpkg -i Debian's package",
        );
        stop_debian_service(self.debian);
        // Purging ours now must leave alone the file Debian's package owns again.
        dpkg(&["--purge", self.ours], "dpkg --purge ours");
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if installed(self.ours) || !installed(self.debian) {
            let _ = Command::new("dpkg").args(["--purge", self.ours]).status();
            let _ = Command::new("dpkg")
                .args(["--force-confold", "-i"])
                .arg(&self.debian_deb)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
        }
        stop_debian_service(self.debian);
        match &self.original_defaults {
            Some(text) => {
                let _ = std::fs::write(&self.defaults, text);
            }
            None => {
                let _ = std::fs::remove_file(&self.defaults);
            }
        }
        for (path, original) in self.extra_files.drain(..).rev() {
            let _ = match original {
                Some(text) => std::fs::write(&path, text),
                None => std::fs::remove_file(&path),
            };
        }
    }
}

/// A unit's `KEY=value` lines of the `[Service]` section, in order.
fn service_settings(unit: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut settings = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service
            && !line.starts_with('#')
            && let Some((key, value)) = line.split_once('=')
        {
            settings.push((key.to_owned(), value.to_owned()));
        }
    }
    settings
}

/// An environment file's variables, as the shell reads it (systemd's reading agrees for the
/// plain assignments these files hold).
fn environment_file(path: &Path) -> Vec<(String, String)> {
    let text = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("set -a; . '{}'; env -0", path.display())),
        "reading the environment file",
    );
    let before: Vec<String> = run_ok(Command::new("sh").arg("-c").arg("env -0"), "env")
        .split('\0')
        .map(str::to_owned)
        .collect();
    text.split('\0')
        .filter(|entry| !entry.is_empty() && !before.iter().any(|b| b == entry))
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Runs the unit's `ExecStart` as systemd would with no manager here: its `EnvironmentFile`
/// read, `$VAR` split into words, as the unit's `User=` with that user's home.
fn start_unit_command(unit_path: &Path) -> Child {
    let unit = std::fs::read_to_string(unit_path).unwrap();
    let settings = service_settings(&unit);
    let get = |key: &str| {
        settings
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let mut environment = Vec::new();
    for file in get("EnvironmentFile") {
        let path = PathBuf::from(file.trim_start_matches('-'));
        if path.exists() {
            environment.extend(environment_file(&path));
        }
    }
    let exec = get("ExecStart").pop().expect("the unit has an ExecStart");
    let mut words = Vec::new();
    for word in exec.split_whitespace() {
        match word.strip_prefix('$') {
            Some(name) => {
                if let Some((_, value)) = environment.iter().find(|(k, _)| k == name) {
                    words.extend(value.split_whitespace().map(str::to_owned));
                }
            }
            None => words.push(word.to_owned()),
        }
    }
    let user = get("User").pop().expect("the unit names a User");
    let home = run_ok(Command::new("getent").args(["passwd", &user]), "getent")
        .split(':')
        .nth(5)
        .unwrap()
        .to_owned();
    Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--init-groups",
            "--",
        ])
        .args(&words)
        .env_clear()
        .env("HOME", home.trim())
        .env("USER", &user)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(environment)
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `url` until it answers 200 (60 s at most), and returns the body.
fn scrape(url: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the exporter exited ({status}) before serving {url}");
        }
        if let Ok(output) = Command::new("curl")
            .args(["-sf", "--max-time", "10", url])
            .output()
            && output.status.success()
        {
            return String::from_utf8_lossy(&output.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The whole round trip for one exporter; `check` reads the exposition served.
fn replace_and_restore(restore: &mut Restore, args: &str, port: u16, check: impl Fn(&str)) {
    let (debian, ours) = (restore.debian, restore.ours);
    let defaults_text = format!("# written by the packages test\nARGS=\"{args}\"\n");
    let defaults = restore.defaults.clone();
    std::fs::write(&defaults, &defaults_text).unwrap();

    dpkg(&["-i", deb_of(ours).to_str().unwrap()], "dpkg -i ours");
    stop_debian_service(debian);
    assert!(installed(ours), "{}", status(ours));
    assert!(
        status(debian).contains("config-files"),
        "Debian's package is removed, its configuration kept: {}",
        status(debian)
    );
    assert_eq!(
        std::fs::read_to_string(&defaults).unwrap(),
        defaults_text,
        "installing ours left {} as it was",
        defaults.display()
    );
    let unit = PathBuf::from(format!("/lib/systemd/system/{debian}.service"));
    run_ok(
        Command::new("systemd-analyze").args(["verify"]).arg(&unit),
        "systemd-analyze verify",
    );
    let socket = unit.with_extension("socket");
    run_ok(
        Command::new("systemd-analyze")
            .args(["verify"])
            .arg(&socket),
        "systemd-analyze verify (socket)",
    );
    let mut exporter = Running(start_unit_command(&unit));
    let body = scrape(&format!("http://127.0.0.1:{port}/metrics"), &mut exporter.0);
    assert!(
        body.contains("_build_info{"),
        "our exporter answered:\n{body}"
    );
    check(&body);
    drop(exporter);

    restore.reinstall_debian();
    assert!(installed(debian), "{}", status(debian));
    assert!(!installed(ours), "{}", status(ours));
    assert_eq!(
        std::fs::read_to_string(&defaults).unwrap(),
        defaults_text,
        "going back kept the configuration"
    );
    let verify = run_ok(
        Command::new("dpkg").args(["--verify", debian]),
        "dpkg --verify",
    );
    assert!(
        verify.lines().all(|line| line.contains(" c /etc/")),
        "Debian's files are Debian's again (only edited conffiles differ):\n{verify}"
    );
}

#[test]
fn node_exporter_package_replaces_debians_and_gives_way_back() {
    require_root_and_tools();
    let _dpkg = DPKG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut restore = Restore::new("prometheus-node-exporter", "octo-node-exporter");
    let textfile = Path::new("/var/lib/prometheus/node-exporter/octo_packages_test.prom");
    restore.write(
        textfile,
        "# TYPE octo_packages_test gauge\nocto_packages_test 42\n",
    );
    let port = octo_testbed::free_port();
    let args = format!(
        "--web.listen-address=127.0.0.1:{port} --collector.disable-defaults --collector.loadavg --collector.textfile"
    );
    replace_and_restore(&mut restore, &args, port, |body| {
        assert!(
            body.contains("node_load1 "),
            "loadavg enabled by ARGS:\n{body}"
        );
        assert!(
            !body.contains("node_cpu_seconds_total"),
            "cpu disabled by ARGS:\n{body}"
        );
        assert!(
            body.contains("octo_packages_test 42"),
            "Debian's textfile directory is read:\n{body}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysqld_exporter_package_reads_debians_my_cnf() {
    require_root_and_tools();
    let db = octo_testbed::MariaDb::start()
        .await
        .expect("MariaDB starts");
    db.create_user("exporter", "s3cret", "PROCESS, REPLICATION CLIENT, SELECT")
        .await
        .unwrap();
    let port = db.port;
    tokio::task::spawn_blocking(move || {
        let _dpkg = DPKG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut restore = Restore::new("prometheus-mysqld-exporter", "octo-mysqld-exporter");
        // Where Debian's exporter reads its credentials by default: ~prometheus/.my.cnf.
        let my_cnf = Path::new("/var/lib/prometheus/.my.cnf");
        restore.write(
            my_cnf,
            &format!("[client]\nuser=exporter\npassword=s3cret\nhost=127.0.0.1\nport={port}\n"),
        );
        run_ok(
            Command::new("chown")
                .args(["prometheus:prometheus"])
                .arg(my_cnf),
            "chown",
        );
        let listen = octo_testbed::free_port();
        let args =
            format!("--web.listen-address=127.0.0.1:{listen} --no-collect.info_schema.tables");
        replace_and_restore(&mut restore, &args, listen, |body| {
            assert!(
                body.contains("\nmysql_up 1"),
                "connected with ~/.my.cnf:\n{body}"
            );
        });
    })
    .await
    .unwrap();
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_exporter_package_keeps_debians_args() {
    require_root_and_tools();
    let nginx = octo_testbed::Nginx::start().await.expect("nginx starts");
    let stub_status = nginx.stub_status_url();
    tokio::task::spawn_blocking(move || {
        let _dpkg = DPKG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut restore = Restore::new("prometheus-nginx-exporter", "octo-nginx-exporter");
        let listen = octo_testbed::free_port();
        let args =
            format!("-nginx.scrape-uri={stub_status} -web.listen-address=127.0.0.1:{listen}");
        replace_and_restore(&mut restore, &args, listen, |body| {
            assert!(
                body.contains("\nnginx_up 1"),
                "scraped stub_status:\n{body}"
            );
        });
    })
    .await
    .unwrap();
    drop(nginx);
}

/// The binary the node package ships, from the dev build.
fn node_binary() -> PathBuf {
    debs();
    super::support::target_dir().join("debug/octo-node-exporter")
}

#[test]
fn socket_activation_serves_the_socket_systemd_passes() {
    let activate = program("systemd-socket-activate", "systemd");
    let port = octo_testbed::free_port();
    let mut child = Running(
        Command::new(activate)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--"])
            .arg(node_binary())
            .args([
                "--web.systemd-socket",
                // Ignored under socket activation, as with exporter-toolkit.
                "--web.listen-address=127.0.0.1:1",
                "--collector.disable-defaults",
                "--collector.loadavg",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let body = scrape(&format!("http://127.0.0.1:{port}/metrics"), &mut child.0);
    assert!(body.contains("node_load1 "), "{body}");
}

#[test]
fn systemd_socket_without_a_socket_is_refused() {
    let output = Command::new(node_binary())
        .arg("--web.systemd-socket")
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .output()
        .unwrap();
    let text = octo_testbed::combined_output(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("LISTEN_PID"), "{text}");
}

#[test]
fn two_listen_addresses_are_served_at_once() {
    let (first, second) = (octo_testbed::free_port(), octo_testbed::free_port());
    let mut child = Running(
        Command::new(node_binary())
            .args([
                &format!("--web.listen-address=127.0.0.1:{first}"),
                &format!("--web.listen-address=127.0.0.1:{second}"),
                "--collector.disable-defaults",
                "--collector.loadavg",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for port in [first, second] {
        let body = scrape(&format!("http://127.0.0.1:{port}/metrics"), &mut child.0);
        assert!(body.contains("node_load1 "), "{port}: {body}");
    }
}
