//! The systemd collector against a real systemd manager: Debian's systemd started as PID 1 of a
//! PID and mount namespace of its own (`unshare`; `/run` and `/proc` private to it), with a unit
//! path of its own (a oneshot that succeeds, one that fails, a socket, a timer, and dbus
//! socket-activated as the system bus it registers on). The exporter runs inside the same
//! namespaces (`nsenter`), so it finds the system bus where it always is. Killing the manager
//! ends the namespace and everything in it. The same manager runs systemd-logind for the logind
//! collector (with no session: logind's sessions come from PAM logins).
//!
//! Needs root, `unshare`/`nsenter` (util-linux), systemd and dbus-daemon (`cargo xtask setup`
//! installs them): without them the test says why and passes.

use std::path::Path;
use std::time::Duration;

use octo_testbed::ExporterProcess;
use octo_testbed::http_get;

use super::support::OURS;

const SYSTEMD: &str = "/lib/systemd/systemd";

const UNITS: &[(&str, &str)] = &[
    (
        "systemd-logind.service",
        "[Service]\nType=dbus\nBusName=org.freedesktop.login1\nExecStart=/lib/systemd/systemd-logind\n",
    ),
    (
        "default.target",
        "[Unit]\nWants=octo-ok.service octo-fail.service octo.socket octo.timer dbus.socket dbus.service systemd-logind.service\n",
    ),
    (
        "octo-ok.service",
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
    ),
    (
        "octo-fail.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    ),
    (
        "octo.socket",
        "[Socket]\nListenStream=/run/octo.sock\nAccept=yes\n",
    ),
    (
        "octo@.service",
        "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
    ),
    (
        "octo.timer",
        "[Timer]\nOnCalendar=hourly\nUnit=octo-ok.service\n",
    ),
    (
        "dbus.socket",
        "[Socket]\nListenStream=/run/dbus/system_bus_socket\n",
    ),
    (
        "dbus.service",
        "[Unit]\nRequires=dbus.socket\n[Service]\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation\n",
    ),
];

fn missing_prerequisite() -> Option<String> {
    if !nix_is_root() {
        return Some("not root".into());
    }
    for tool in [
        SYSTEMD,
        "/usr/bin/unshare",
        "/usr/bin/nsenter",
        "/usr/bin/dbus-daemon",
    ] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// systemd, PID 1 of its namespace; SIGKILL from outside ends the namespace.
struct Manager {
    unshare: std::process::Child,
    pid: u32,
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn start_manager(units: &Path) -> Manager {
    for (name, text) in UNITS {
        std::fs::write(units.join(name), text).unwrap();
    }
    let script = format!(
        "mount -t tmpfs tmpfs /run && mount -t proc proc /proc && exec env SYSTEMD_UNIT_PATH={} {SYSTEMD} --system",
        units.display()
    );
    let mut unshare = std::process::Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // unshare forks once: systemd is its only child. The child is waited for in Drop.
    let children = format!("/proc/{0}/task/{0}/children", unshare.id());
    for _ in 0..100 {
        if let Some(pid) = std::fs::read_to_string(&children)
            .ok()
            .and_then(|text| text.split_whitespace().next().and_then(|p| p.parse().ok()))
        {
            return Manager { unshare, pid };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = unshare.kill();
    let _ = unshare.wait();
    panic!("systemd did not start under unshare");
}

/// A test that cannot get a systemd manager fails, saying what is missing.
fn require_systemd() {
    if let Some(reason) = missing_prerequisite() {
        panic!(
            "the systemd test needs root and Debian's systemd and dbus packages \
             (`cargo xtask setup` installs them): {reason}"
        );
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn reads_a_real_systemd_manager() {
    require_systemd();
    let units = tempfile::tempdir().unwrap();
    let manager = start_manager(units.path());
    let pid = manager.pid.to_string();
    let args = [
        "-t",
        pid.as_str(),
        "-p",
        "-m",
        "--",
        OURS,
        "--collector.disable-defaults",
        "--collector.systemd",
        "--collector.systemd.enable-task-metrics",
        "--collector.systemd.enable-restarts-metrics",
        "--collector.systemd.enable-start-time-metrics",
        "--collector.logind",
    ];
    let exporter = ExporterProcess::start(
        "octo-node-exporter in systemd's namespace",
        Path::new("/usr/bin/nsenter"),
        args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("octo-node-exporter starts");

    // The manager needs a moment to start its units and register on the bus it started.
    let mut text = String::new();
    for _ in 0..100 {
        text = http_get(&exporter.url("/metrics"))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default();
        let ready = value(
            &text,
            r#"node_scrape_collector_success{collector="systemd"}"#,
        ) == Some(1.0)
            && value(
                &text,
                r#"node_systemd_unit_state{name="octo-fail.service",state="failed",type="oneshot"}"#,
            ) == Some(1.0)
            && value(
                &text,
                r#"node_scrape_collector_success{collector="logind"}"#,
            ) == Some(1.0);
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let expect = |series: &str, expected: f64| {
        assert_eq!(
            value(&text, series),
            Some(expected),
            "{series} in\n{text}\nlog:\n{}",
            exporter.log()
        );
    };
    expect(r#"node_scrape_collector_success{collector="systemd"}"#, 1.0);
    expect(
        r#"node_systemd_unit_state{name="octo-ok.service",state="active",type="oneshot"}"#,
        1.0,
    );
    expect(
        r#"node_systemd_unit_state{name="octo-ok.service",state="failed",type="oneshot"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_unit_state{name="octo-fail.service",state="failed",type="oneshot"}"#,
        1.0,
    );
    expect(
        r#"node_systemd_unit_state{name="octo.socket",state="active",type=""}"#,
        1.0,
    );
    expect(
        r#"node_systemd_socket_accepted_connections_total{name="octo.socket"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_socket_current_connections{name="octo.socket"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_socket_refused_connections_total{name="octo.socket"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_timer_last_trigger_seconds{name="octo.timer"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_service_restart_total{name="octo-ok.service"}"#,
        0.0,
    );
    expect(
        r#"node_systemd_unit_start_time_seconds{name="octo-fail.service"}"#,
        0.0,
    );
    assert!(
        value(
            &text,
            r#"node_systemd_unit_start_time_seconds{name="octo-ok.service"}"#
        )
        .unwrap()
            > 1.7e9
    );
    assert!(
        value(
            &text,
            r#"node_systemd_unit_tasks_current{name="dbus.service"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert!(value(&text, r#"node_systemd_units{state="failed"}"#).unwrap() >= 1.0);
    // A failed unit makes the system "degraded", not "running".
    expect("node_systemd_system_running", 0.0);
    let version = text
        .lines()
        .find(|line| line.starts_with("node_systemd_version{"))
        .unwrap();
    assert!(
        value(version, version.split(' ').next().unwrap()).unwrap() >= 212.0,
        "{version}"
    );
    // Slices and scopes are excluded by default, unloaded units always.
    assert!(!text.contains(r#"name="system.slice""#));
    assert!(!text.contains(r#"name="init.scope""#));
    // logind: seat0 and the empty seat of remote sessions, every known value, no session.
    expect(r#"node_scrape_collector_success{collector="logind"}"#, 1.0);
    expect(
        r#"node_logind_sessions{class="user",remote="false",seat="seat0",type="tty"}"#,
        0.0,
    );
    expect(
        r#"node_logind_sessions{class="other",remote="true",seat="",type="web"}"#,
        0.0,
    );
    let sessions = text
        .lines()
        .filter(|l| l.starts_with("node_logind_sessions{"))
        .count();
    assert_eq!(sessions, 2 * 7 * 5 * 2);
    drop(exporter);
    drop(manager);
}

/// Our exporter inside the manager's namespaces, with the systemd collector and `extra` flags.
async fn exporter_in(manager: &Manager, extra: &[&str]) -> ExporterProcess {
    let pid = manager.pid.to_string();
    let mut args = vec![
        "-t",
        pid.as_str(),
        "-p",
        "-m",
        "--",
        OURS,
        "--collector.disable-defaults",
        "--collector.systemd",
    ];
    args.extend_from_slice(extra);
    ExporterProcess::start(
        "octo-node-exporter in systemd's namespace",
        Path::new("/usr/bin/nsenter"),
        args,
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("octo-node-exporter starts")
}

/// The systemd collector's series of a scrape, without the scrape's own duration.
fn systemd_series(text: &str) -> Vec<String> {
    let mut series: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with("node_systemd_"))
        .map(str::to_owned)
        .collect();
    series.sort();
    series
}

/// `--collector.systemd.private`: the same series from systemd's private socket
/// (`/run/systemd/private`, D-Bus without a bus daemon) as from the system bus.
#[tokio::test]
async fn the_private_socket_gives_the_bus_series() {
    require_systemd();
    let units = tempfile::tempdir().unwrap();
    let manager = start_manager(units.path());
    let flags = [
        "--collector.systemd.enable-task-metrics",
        "--collector.systemd.enable-restarts-metrics",
        "--collector.systemd.enable-start-time-metrics",
    ];
    let bus = exporter_in(&manager, &flags).await;
    let mut private_flags = flags.to_vec();
    private_flags.push("--collector.systemd.private");
    let private = exporter_in(&manager, &private_flags).await;
    let success = r#"node_scrape_collector_success{collector="systemd"}"#;
    let failed =
        r#"node_systemd_unit_state{name="octo-fail.service",state="failed",type="oneshot"}"#;
    // Units start for a while (and tasks come and go): wait until both sides agree.
    let (mut over_bus, mut over_private) = (String::new(), String::new());
    for _ in 0..150 {
        over_bus = http_get(&bus.url("/metrics"))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default();
        over_private = http_get(&private.url("/metrics"))
            .await
            .map(|(_, body)| body)
            .unwrap_or_default();
        let settled = [&over_bus, &over_private]
            .iter()
            .all(|text| value(text, success) == Some(1.0) && value(text, failed) == Some(1.0));
        if settled && systemd_series(&over_bus) == systemd_series(&over_private) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        value(&over_private, success),
        Some(1.0),
        "over the private socket:\n{over_private}\nlog:\n{}",
        private.log()
    );
    let series = systemd_series(&over_private);
    assert!(
        series
            .iter()
            .any(|line| line.starts_with(r#"node_systemd_unit_state{name="octo-ok.service""#)),
        "{over_private}"
    );
    assert_eq!(series, systemd_series(&over_bus));
    drop(private);
    drop(bus);
    drop(manager);
}
