//! The disk kind on this machine: a process in a Docker-named cgroup runs with an overlay as
//! its `/` (made as a runtime makes one: lower layer, upper layer, work dir, in a mount
//! namespace of its own) and keeps writing files; the background walk of the upper (writable)
//! layer shows them in `container_fs_usage_bytes`, growing, on the device holding the layer.
//! The root container reports every filesystem of the machine.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use octo_testbed::metrics::Exposition;
use octo_testbed::{require_program, running_as_root};

use crate::golden;
use crate::real_cgroups::{Cgroups, ROOT, create, hierarchies, run_in};
use crate::support::{container_id, scrape, start, value};

const MIB: f64 = 1024.0 * 1024.0;

async fn until(
    exporter: &octo_testbed::ExporterProcess,
    what: &str,
    done: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, m) = scrape(exporter).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: not seen within 120 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The `device` label cAdvisor gives the filesystem holding `dir`: its mount source, from
/// this process's mounts, by major:minor.
fn device_of(dir: &Path) -> String {
    let dev = std::fs::metadata(dir).unwrap().dev();
    let majmin = format!(
        "{}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            (fields.get(2) == Some(&majmin.as_str())).then(|| fields[dash + 2].to_owned())
        })
        .unwrap_or_else(|| panic!("no mount of {majmin} holds {}", dir.display()))
}

#[tokio::test]
async fn a_growing_writable_layer_shows_in_container_fs_usage_bytes() {
    assert!(
        running_as_root(),
        "this test mounts an overlay and creates cgroups: it must run as root"
    );
    let unshare = require_program("unshare", "util-linux").unwrap();
    let chroot = require_program("chroot", "coreutils").unwrap();
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap();
    assert!(
        filesystems.lines().any(|l| l.ends_with("\toverlay")),
        "this test needs overlayfs (modprobe overlay)"
    );
    assert!(
        !hierarchies().is_empty(),
        "no cgroup hierarchy under {ROOT}"
    );
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (lower, upper, scratch, merged) = (
        work.path().join("lower"),
        work.path().join("upper"),
        work.path().join("work"),
        work.path().join("merged"),
    );
    for dir in [&lower, &upper, &scratch, &merged] {
        std::fs::create_dir(dir).unwrap();
    }
    // A root with the host's /usr bound in (Debian's /bin and /lib are links into it).
    for dir in ["usr", "tmp", "data"] {
        std::fs::create_dir(lower.join(dir)).unwrap();
    }
    for link in ["bin", "lib", "lib64", "sbin"] {
        if Path::new("/").join(link).is_symlink() {
            std::os::unix::fs::symlink(format!("usr/{link}"), lower.join(link)).unwrap();
        }
    }
    let exporter = start(vec![
        format!("--path.cgroupfs={ROOT}"),
        format!("-docker=unix://{}/no-docker.sock", work.path().display()),
        "-podman=".into(),
        "-enable_metrics=cpu,memory,diskIO,disk".into(),
        "--disk.usage-period=1s".into(),
    ])
    .await;
    let mut cgroups = Cgroups {
        dirs: Vec::new(),
        services: Vec::new(),
        _logs: tempfile::tempdir().unwrap(),
    };
    let id = container_id("layer");
    let procs = create(&mut cgroups, &id);
    // One process (its pid kept through the execs) mounts the overlay in a mount namespace of
    // its own, enters it, and writes a MiB every 500 ms up to 60 MiB.
    std::fs::write(
        lower.join("writer.sh"),
        "i=0; while [ $i -lt 60 ]; do i=$((i+1)); yes | head -c 1048576 > /data/f$i; sleep 0.5; done; exec sleep 600\n",
    )
    .unwrap();
    let script = format!(
        "exec {unshare} --mount --propagation private sh -c 'mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={scratch} {merged} && mount --bind /usr {merged}/usr && exec {chroot} {merged} /bin/sh /writer.sh'",
        unshare = unshare.display(),
        chroot = chroot.display(),
        lower = lower.display(),
        upper = upper.display(),
        scratch = scratch.display(),
        merged = merged.display(),
    );
    run_in(&mut cgroups, "layer", &procs, &script);

    let cgroup = format!("/docker/{id}");
    let usage = |m: &Exposition| {
        m.series()
            .filter(|s| s.name == "container_fs_usage_bytes" && s.labels.get("id") == Some(&cgroup))
            .map(|s| s.value)
            .sum::<f64>()
    };
    let first = until(&exporter, "the layer's first MiBs", |m| {
        usage(m) >= 2.0 * MIB
    })
    .await;
    let first_usage = usage(&first);
    let m = until(&exporter, "the layer growing to 60 MiB", |m| {
        usage(m) >= 60.0 * MIB
    })
    .await;
    assert!(usage(&m) > first_usage);
    golden::check(&m, "this machine's cgroups, disk and diskIO on");

    let device = device_of(&upper);
    let on_device = [("id", cgroup.as_str()), ("device", device.as_str())];
    let layer_bytes = value(&m, "container_fs_usage_bytes", &on_device).unwrap();
    // The walk counts allocated blocks: 60 files of a MiB and the directories.
    assert!(layer_bytes < 70.0 * MIB, "{layer_bytes}");
    let limit = value(&m, "container_fs_limit_bytes", &on_device).unwrap();
    assert!(limit > layer_bytes, "limit {limit}");
    // cAdvisor's meaning: the layer's inodes, and 0 free.
    let inodes = value(&m, "container_fs_inodes_total", &on_device).unwrap();
    assert!(inodes >= 61.0, "{inodes}");
    assert_eq!(value(&m, "container_fs_inodes_free", &on_device), Some(0.0));
    // diskIO on too: the filesystem's device counters.
    assert!(value(&m, "container_fs_io_time_seconds_total", &on_device).is_some());

    // The machine: every filesystem, the one holding the layer among them.
    let root = [("id", "/"), ("device", device.as_str())];
    let root_limit = value(&m, "container_fs_limit_bytes", &root).unwrap();
    assert_eq!(root_limit, limit);
    assert!(value(&m, "container_fs_usage_bytes", &root).unwrap() > 0.0);
    assert!(value(&m, "container_fs_inodes_free", &root).unwrap() > 0.0);
    let walks = value(
        &m,
        "octo_container_exporter_disk_walks_total",
        &[("outcome", "complete")],
    )
    .unwrap();
    assert!(walks >= 2.0, "{walks}");

    // Gone with its cgroup.
    cgroups.remove_all();
    let m = until(&exporter, "the container gone", |m| usage(m) == 0.0).await;
    assert_eq!(
        value(&m, "octo_container_exporter_disk_walk_targets", &[]),
        Some(0.0)
    );
}
