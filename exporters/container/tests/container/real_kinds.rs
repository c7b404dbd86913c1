//! The kinds dashboards and alerts lean on, on this machine's real cgroups: a CPU quota that
//! throttles, a process writing 50 MB with O_DIRECT, a memory limit that kills, and a busy
//! process's threads, descriptors and sockets. Every family served is held to cAdvisor's
//! golden file on the way.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use octo_testbed::metrics::Exposition;
use octo_testbed::{require_program, running_as_root};

use crate::golden;
use crate::real_cgroups::{Cgroups, ROOT, create, hierarchies, run_in};
use crate::support::{container_id, scrape, start, sum_for, value};

const MIB: f64 = 1024.0 * 1024.0;

fn controller_dir(controller: &str, id: &str) -> PathBuf {
    Path::new(ROOT).join(controller).join("docker").join(id)
}

fn set(controller: &str, id: &str, file: &str, value: &str) {
    let path = controller_dir(controller, id).join(file);
    std::fs::write(&path, value).unwrap_or_else(|err| panic!("writing {value} to {path:?}: {err}"));
}

/// The whole disk (`major:minor`) holding `dir`: blk-throttle limits are set on disks.
fn disk_of(dir: &Path) -> String {
    let dev = std::fs::metadata(dir).unwrap().dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    assert!(
        sys.exists(),
        "{} is not on a block device ({major}:{minor}); the write test needs one",
        dir.display()
    );
    if sys.join("partition").exists() {
        let parent = std::fs::canonicalize(&sys).unwrap().join("..").join("dev");
        return std::fs::read_to_string(parent).unwrap().trim().to_owned();
    }
    format!("{major}:{minor}")
}

/// Scrapes until `done` holds, or fails with `what` after a generous deadline.
async fn until(
    exporter: &octo_testbed::ExporterProcess,
    what: &str,
    done: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, m) = scrape(exporter).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: not seen within 60 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn throttling_writes_oom_kills_and_processes_on_this_machine() {
    assert!(
        running_as_root(),
        "this test creates cgroups and must run as root"
    );
    let python = require_program("python3", "python3").unwrap();
    let dd = require_program("dd", "coreutils").unwrap();
    assert!(
        Path::new(ROOT).join("memory/memory.oom_control").is_file()
            && Path::new(ROOT).join("blkio").is_dir(),
        "this test needs cgroup v1 memory and blkio hierarchies under {ROOT}"
    );
    assert!(!hierarchies().is_empty());
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let exporter = start(vec![
        format!("--path.cgroupfs={ROOT}"),
        format!("-docker=unix://{}/no-docker.sock", work.path().display()),
        "-podman=".into(),
        "--cgroup.spec-max-age=0s".into(),
        "-enable_metrics=cpu,memory,diskIO,disk,network,pressure,oom_event,process".into(),
    ])
    .await;
    let mut cgroups = Cgroups {
        dirs: Vec::new(),
        services: Vec::new(),
        _logs: tempfile::tempdir().unwrap(),
    };
    let [throttled, writer, killed, busy] =
        ["throttled", "writer", "killed", "busy"].map(container_id);
    let id = |c: &str| format!("/docker/{c}");

    // A quota of 10 ms per 100 ms period, and a loop that wants all of it.
    let procs = create(&mut cgroups, &throttled);
    set("cpu", &throttled, "cpu.cfs_quota_us", "10000");
    run_in(&mut cgroups, "throttled", &procs, "while :; do :; done");

    // 50 MB written with O_DIRECT. On this kernel (cgroup v1) per-cgroup I/O is counted
    // only on devices where blk-throttle is on; a limit turns it on, as
    // `docker run --device-write-bps` does (1 TiB/s: never reached).
    let procs = create(&mut cgroups, &writer);
    let disk = disk_of(work.path());
    set(
        "blkio",
        &writer,
        "blkio.throttle.write_bps_device",
        &format!("{disk} 1099511627776"),
    );
    let target = work.path().join("written");
    run_in(
        &mut cgroups,
        "writer",
        &procs,
        &format!(
            "{} if=/dev/zero of={} bs=1M count=50 oflag=direct && exec sleep 600",
            dd.display(),
            target.display()
        ),
    );

    // 32 MiB of memory (and of memory+swap where the kernel has it), and 200 MiB wanted.
    let procs = create(&mut cgroups, &killed);
    set("memory", &killed, "memory.limit_in_bytes", "33554432");
    if controller_dir("memory", &killed)
        .join("memory.memsw.limit_in_bytes")
        .exists()
    {
        set("memory", &killed, "memory.memsw.limit_in_bytes", "33554432");
    }
    run_in(
        &mut cgroups,
        "killed",
        &procs,
        &format!(
            "{} -c 'b = bytearray(200 * 1024 * 1024)'; exec sleep 600",
            python.display()
        ),
    );

    // Eight threads, twenty files and three sockets held open in one process.
    let procs = create(&mut cgroups, &busy);
    if controller_dir("pids", &busy).is_dir() {
        set("pids", &busy, "pids.max", "100");
    }
    let script = "import socket, threading, time\n\
                  files = [open('/dev/null') for _ in range(20)]\n\
                  socks = [socket.socket() for _ in range(3)]\n\
                  for _ in range(8): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n\
                  time.sleep(600)\n";
    std::fs::write(work.path().join("busy.py"), script).unwrap();
    run_in(
        &mut cgroups,
        "busy",
        &procs,
        &format!(
            "exec {} {}",
            python.display(),
            work.path().join("busy.py").display()
        ),
    );

    let m = until(&exporter, "the busy process's threads and files", |m| {
        value(m, "container_threads", &[("id", &id(&busy))]).unwrap_or(0.0) >= 9.0
            && value(m, "container_file_descriptors", &[("id", &id(&busy))]).unwrap_or(0.0) >= 23.0
    })
    .await;
    golden::check(&m, "this machine's cgroups, oom_event and process on");
    let b = [("id", id(&busy))];
    let b = [(b[0].0, b[0].1.as_str())];
    assert_eq!(value(&m, "container_processes", &b), Some(1.0));
    assert!(value(&m, "container_sockets", &b).unwrap() >= 3.0);
    if controller_dir("pids", &busy).is_dir() {
        assert_eq!(value(&m, "container_threads_max", &b), Some(100.0));
    }

    let m = until(&exporter, "50 MB in container_fs_writes_bytes_total", |m| {
        sum_for(m, "container_fs_writes_bytes_total", &id(&writer)) >= 50.0 * MIB
    })
    .await;
    assert!(sum_for(&m, "container_fs_writes_total", &id(&writer)) >= 50.0);
    let device_named = m.series().any(|s| {
        s.name == "container_fs_writes_bytes_total"
            && s.labels.get("id") == Some(&id(&writer))
            && s.labels
                .get("device")
                .is_some_and(|d| d.starts_with("/dev/"))
    });
    assert!(
        device_named,
        "the device label names the disk as cAdvisor does (/dev/…)"
    );

    let m = until(&exporter, "the OOM kill", |m| {
        value(m, "container_oom_events_total", &[("id", &id(&killed))]) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(&m, "container_oom_events_total", &[("id", &id(&busy))]),
        Some(0.0)
    );

    let periods = |m: &Exposition| {
        value(
            m,
            "container_cpu_cfs_throttled_periods_total",
            &[("id", &id(&throttled))],
        )
        .unwrap_or(0.0)
    };
    let first = periods(&until(&exporter, "throttled periods", |m| periods(m) > 0.0).await);
    let rising = until(&exporter, "throttled periods rising", |m| {
        periods(m) > first + 5.0
    })
    .await;
    assert_eq!(
        value(
            &rising,
            "container_spec_cpu_quota",
            &[("id", &id(&throttled))]
        ),
        Some(10000.0)
    );

    cgroups.remove_all();
}
