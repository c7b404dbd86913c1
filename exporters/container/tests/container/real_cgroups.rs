//! The exporter on this machine's real cgroups: cgroups named as Docker's are created while it
//! runs (found through inotify), a busy process and a memory-hungry one run in them, and the
//! CPU seconds and memory usage it reports move as they should. Everything is removed at the
//! end, also when an assertion fails (a guard's Drop).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use octo_testbed::{Service, require_program, running_as_root};

use crate::golden;
use crate::support::{container_id, scrape, start, sum_for, value};

pub const ROOT: &str = "/sys/fs/cgroup";

/// Created cgroup directories and the processes in them; removed and killed on drop.
pub struct Cgroups {
    pub dirs: Vec<PathBuf>,
    pub services: Vec<Service>,
    pub _logs: tempfile::TempDir,
}

impl Cgroups {
    fn kill_all(&mut self) {
        for mut service in self.services.drain(..) {
            // Each service leads a process group of its own: its shell's children (a
            // background loop, a `sleep` not exec'd) die with it instead of outliving the test.
            if let Some(pid) = service.pid().and_then(|pid| i32::try_from(pid).ok()) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            service.kill();
        }
    }

    pub fn remove_all(&mut self) {
        self.kill_all();
        for dir in self.dirs.drain(..).rev() {
            // rmdir fails with EBUSY until the killed tasks are gone.
            for _ in 0..100 {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// The v1 controller directories to create the cgroups in (this machine: separate cpu,
/// cpuacct, memory, blkio and pids hierarchies).
pub fn hierarchies() -> Vec<PathBuf> {
    ["cpu", "cpuacct", "memory", "blkio", "pids"]
        .iter()
        .map(|c| Path::new(ROOT).join(c))
        .filter(|p| p.join("cgroup.procs").is_file())
        .collect()
}

/// mkdir `/docker/<id>` in every hierarchy (and `/docker` where missing).
pub fn create(cgroups: &mut Cgroups, id: &str) -> Vec<PathBuf> {
    let mut procs = Vec::new();
    for hierarchy in hierarchies() {
        let parent = hierarchy.join("docker");
        for attempt in 0..10 {
            if !parent.exists() {
                match std::fs::create_dir(&parent) {
                    Ok(()) => cgroups.dirs.push(parent.clone()),
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(err) => panic!("mkdir {}: {err}", parent.display()),
                }
            }
            let dir = parent.join(id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    cgroups.dirs.push(dir.clone());
                    procs.push(dir.join("cgroup.procs"));
                    break;
                }
                // A parallel run removed the shared /docker parent meanwhile: again.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound && attempt < 9 => {}
                Err(err) => panic!("mkdir {}: {err}", dir.display()),
            }
        }
    }
    procs
}

/// Runs `script` in a shell that first moves itself into the cgroups (so that everything it
/// allocates is charged there).
pub fn run_in(cgroups: &mut Cgroups, name: &str, procs: &[PathBuf], script: &str) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "for f; do echo $$ > \"$f\" || exit 1; done; {script}"
        ))
        .arg("sh")
        .args(procs);
    let log = cgroups._logs.path().join(format!("{name}.log"));
    let service = Service::spawn(name, command, &log)
        .expect("spawning a load process")
        .with_stop_signal(Signal::SIGKILL, Duration::from_secs(5));
    cgroups.services.push(service);
}

#[tokio::test]
async fn docker_named_cgroups_on_this_machine() {
    assert!(
        running_as_root(),
        "this test creates cgroups and must run as root"
    );
    let python = require_program("python3", "python3").unwrap();
    assert!(
        !hierarchies().is_empty(),
        "no cgroup v1 cpu/memory hierarchy under {ROOT}"
    );
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(vec![
        format!("--path.cgroupfs={ROOT}"),
        format!("-docker=unix://{}/no-docker.sock", dir.path().display()),
        "-podman=".into(),
        "--cgroup.spec-max-age=0s".into(),
    ])
    .await;
    let mut cgroups = Cgroups {
        dirs: Vec::new(),
        services: Vec::new(),
        _logs: tempfile::tempdir().unwrap(),
    };
    let busy_id = container_id("busy");
    let hungry_id = container_id("hungry");
    let busy = format!("/docker/{busy_id}");
    let hungry = format!("/docker/{hungry_id}");
    let busy_procs = create(&mut cgroups, &busy_id);
    let hungry_procs = create(&mut cgroups, &hungry_id);
    run_in(&mut cgroups, "busy", &busy_procs, "while :; do :; done");
    run_in(
        &mut cgroups,
        "hungry",
        &hungry_procs,
        &format!(
            "exec {} -c 'import time; b = bytearray(b\"x\") * (50 * 1024 * 1024); time.sleep(600)'",
            python.display()
        ),
    );

    // Found without a restart (inotify), and the memory shows once it is allocated.
    let deadline = Instant::now() + Duration::from_secs(30);
    let m = loop {
        let (_, m) = scrape(&exporter).await;
        let usage = value(&m, "container_memory_usage_bytes", &[("id", &hungry)]).unwrap_or(0.0);
        if usage >= 45.0 * 1024.0 * 1024.0 {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "memory of {hungry} never reached 45 MiB (last {usage})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    golden::check(&m, "this machine's cgroups, default kinds");
    let mib = 1024.0 * 1024.0;
    let rss = value(&m, "container_memory_rss", &[("id", &hungry)]).unwrap();
    let working_set = value(&m, "container_memory_working_set_bytes", &[("id", &hungry)]).unwrap();
    assert!(rss >= 45.0 * mib, "rss {rss}");
    assert!(working_set >= 45.0 * mib, "working set {working_set}");
    let busy_memory = value(&m, "container_memory_usage_bytes", &[("id", &busy)]).unwrap();
    assert!(
        busy_memory < 20.0 * mib,
        "the busy loop uses little memory, got {busy_memory}"
    );
    assert!(value(&m, "container_start_time_seconds", &[("id", &busy)]).is_some());
    assert_eq!(
        value(&m, "container_spec_cpu_shares", &[("id", &busy)]),
        Some(1024.0)
    );

    // CPU: the busy loop accrues CPU seconds, the sleeping one hardly any.
    let cpu = |m: &octo_testbed::metrics::Exposition, id: &str| {
        sum_for(m, "container_cpu_usage_seconds_total", id)
    };
    let (busy_before, hungry_before) = (cpu(&m, &busy), cpu(&m, &hungry));
    let user_before = value(&m, "container_cpu_user_seconds_total", &[("id", &busy)]).unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, m) = scrape(&exporter).await;
    let elapsed = started.elapsed().as_secs_f64();
    let busy_delta = cpu(&m, &busy) - busy_before;
    let hungry_delta = cpu(&m, &hungry) - hungry_before;
    // Other builds share the two cores; even so the loop gets a fair share of one.
    assert!(
        busy_delta >= 0.3,
        "busy loop accrued only {busy_delta}s of CPU in {elapsed}s"
    );
    assert!(
        busy_delta <= elapsed * 2.0 + 0.1,
        "{busy_delta}s of CPU in {elapsed}s on 2 cores"
    );
    assert!(
        hungry_delta < 0.2,
        "a sleeping process accrued {hungry_delta}s"
    );
    let user_delta =
        value(&m, "container_cpu_user_seconds_total", &[("id", &busy)]).unwrap() - user_before;
    assert!(user_delta > 0.1, "user time moved by {user_delta}s");
    // The parent /docker cgroup contains both.
    assert!(cpu(&m, "/docker") >= cpu(&m, &busy));

    // Removed: gone from the next scrape.
    cgroups.remove_all();
    let (text, _) = scrape(&exporter).await;
    assert!(
        !text.contains(&busy_id) && !text.contains(&hungry_id),
        "removed cgroups still reported"
    );
}
