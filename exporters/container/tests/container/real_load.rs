//! The `cpuLoad` kind on this machine's real cgroup v1 hierarchies: with `-enable_load_reader`,
//! a cgroup with two spinning processes shows running tasks and a load average above 0, one with
//! only sleeping processes shows them all sleeping and none running; without the flag none of
//! the three families is served. Every family served is held to cAdvisor's golden file.

use std::path::Path;
use std::time::{Duration, Instant};

use octo_testbed::metrics::Exposition;
use octo_testbed::running_as_root;

use crate::golden;
use crate::real_cgroups::{Cgroups, ROOT, create, run_in};
use crate::support::{container_id, scrape, start, value};

const FAMILIES: [&str; 3] = [
    "container_cpu_load_average_10s",
    "container_cpu_load_d_average_10s",
    "container_tasks_state",
];

fn tasks(m: &Exposition, id: &str, state: &str) -> Option<f64> {
    value(m, "container_tasks_state", &[("id", id), ("state", state)])
}

/// Scrapes until `done` holds, or fails with `what` (and the last scrape's cpuLoad series).
async fn until(
    exporter: &octo_testbed::ExporterProcess,
    what: &str,
    done: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (text, m) = scrape(exporter).await;
        if done(&m) {
            return m;
        }
        if Instant::now() >= deadline {
            let load: Vec<&str> = text
                .lines()
                .filter(|l| FAMILIES.iter().any(|f| l.starts_with(f)) && l.contains("/docker/"))
                .collect();
            panic!(
                "{what}: not seen within 30 s; last cgroup series:\n{}",
                load.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn exporter_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        format!("--path.cgroupfs={ROOT}"),
        format!("-docker=unix://{}/no-docker.sock", dir.display()),
        "-podman=".into(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

#[tokio::test]
async fn task_counts_and_load_averages_on_this_machine() {
    assert!(
        running_as_root(),
        "this test creates cgroups and must run as root"
    );
    assert!(
        Path::new(ROOT).join("cpu/cgroup.procs").is_file(),
        "this test needs the cgroup v1 cpu hierarchy under {ROOT} (the kernel gives task counts only for v1)"
    );
    let work = tempfile::tempdir().unwrap();
    let exporter = start(exporter_args(
        work.path(),
        &[
            "-enable_load_reader",
            "-housekeeping_interval=500ms",
            "-enable_metrics=cpu,cpuLoad",
        ],
    ))
    .await;
    let mut cgroups = Cgroups {
        dirs: Vec::new(),
        services: Vec::new(),
        _logs: tempfile::tempdir().unwrap(),
    };
    let [spinning, sleeping] = ["spinning", "sleeping"].map(container_id);
    let (spinning, sleeping) = (format!("/docker/{spinning}"), format!("/docker/{sleeping}"));

    let procs = create(&mut cgroups, spinning.trim_start_matches("/docker/"));
    run_in(
        &mut cgroups,
        "spinning",
        &procs,
        "while :; do :; done & while :; do :; done",
    );
    // Three processes blocked opening a FIFO nobody writes: plain TASK_INTERRUPTIBLE. (Not
    // `sleep`: since Linux 6.1 nanosleep waits in TASK_INTERRUPTIBLE|TASK_FREEZABLE, which the
    // kernel's cgroupstats counts in no state at all.)
    let fifo = work.path().join("never-written");
    let procs = create(&mut cgroups, sleeping.trim_start_matches("/docker/"));
    run_in(
        &mut cgroups,
        "sleeping",
        &procs,
        &format!(
            "mkfifo {f} && {{ cat {f} & cat {f} & exec cat {f}; }}",
            f = fifo.display()
        ),
    );

    // The spinning loops are runnable (running or waiting for one of the two cores shared
    // with other builds): the kernel counts them as running.
    let m = until(&exporter, "running tasks and a load above 0", |m| {
        tasks(m, &spinning, "running").unwrap_or(0.0) >= 1.0
            && value(m, "container_cpu_load_average_10s", &[("id", &spinning)]).unwrap_or(0.0) > 0.0
    })
    .await;
    let served = golden::check(
        &m,
        "this machine's cgroups, cpuLoad with -enable_load_reader",
    );
    for family in FAMILIES {
        assert!(served.contains(family), "{family} not served");
    }
    // Milli-load, as cAdvisor: two runnable loops make a load of about 2000, at most 2000.
    let load = value(&m, "container_cpu_load_average_10s", &[("id", &spinning)]).unwrap();
    assert!(load <= 2000.0, "load {load} above two tasks' milli-load");
    assert_eq!(load.fract(), 0.0, "milli-load is an integer: {load}");

    // Three sleeping processes (the shell became the third cat): all sleeping, none running.
    let m = until(&exporter, "three sleeping tasks", |m| {
        tasks(m, &sleeping, "sleeping") == Some(3.0)
    })
    .await;
    assert_eq!(tasks(&m, &sleeping, "running"), Some(0.0));
    assert_eq!(tasks(&m, &sleeping, "stopped"), Some(0.0));

    // The load average rises while the loops spin (it settles towards 2000 over ~10 s).
    let first = value(&m, "container_cpu_load_average_10s", &[("id", &spinning)]).unwrap();
    let m = until(&exporter, "the spinning cgroup's load above 1 task", |m| {
        value(m, "container_cpu_load_average_10s", &[("id", &spinning)]).unwrap_or(0.0) >= 1000.0
    })
    .await;
    assert!(
        tasks(&m, &spinning, "running").unwrap() + tasks(&m, &spinning, "sleeping").unwrap() >= 2.0
    );
    eprintln!("spinning cgroup's load: {first} then >= 1000 milli-load");

    // Removed: the sampler drops the cgroup and the scrape no longer shows it.
    cgroups.remove_all();
    let (text, _) = scrape(&exporter).await;
    assert!(
        !text.contains(&spinning) && !text.contains(&sleeping),
        "removed cgroups still reported"
    );
}

#[tokio::test]
async fn without_the_load_reader_no_cpu_load_family_is_served() {
    let work = tempfile::tempdir().unwrap();
    // cpuLoad is among the default kinds, as in cAdvisor; without -enable_load_reader nothing
    // is read, so nothing is served (cAdvisor would serve zeros).
    let exporter = start(exporter_args(work.path(), &[])).await;
    let (text, m) = scrape(&exporter).await;
    assert!(
        m.families.contains_key("container_cpu_usage_seconds_total"),
        "the default kinds are served"
    );
    for family in FAMILIES {
        assert!(
            !text.contains(family),
            "{family} served without the load reader"
        );
    }
}
