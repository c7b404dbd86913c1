use std::io;

use proptest::prelude::*;

use super::*;
use crate::collectors::testing::{build, lines};
use crate::paths::Paths;

fn sum(families: &[MetricFamily], name: &str) -> f64 {
    families
        .iter()
        .filter(|f| f.name == name)
        .flat_map(|f| f.samples.iter().map(|s| s.value))
        .sum()
}

fn scrape(collector: &dyn Collector) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    collector.update(&mut out).expect("perf update");
    out
}

/// Sleeps (context switches) and touches fresh pages (page faults) for a while.
fn busy_thread() {
    std::thread::spawn(|| {
        for _ in 0..50 {
            let pages = vec![1u8; 64 * 4096];
            std::hint::black_box(&pages);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    })
    .join()
    .expect("busy thread");
}

#[test]
fn software_counters_rise_between_two_reads() {
    let collector = build(
        declare,
        &Paths::default(),
        &[
            "--collector.perf.disable-hardware-profilers",
            "--collector.perf.disable-cache-profilers",
            "--collector.perf.software-profilers=ContextSwitch",
            "--collector.perf.software-profilers=PageFault",
        ],
    )
    .expect("perf builds");
    let before = scrape(collector.as_ref());
    busy_thread();
    let after = scrape(collector.as_ref());
    let names: Vec<&str> = after.iter().map(|f| f.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "node_perf_page_faults_total",
            "node_perf_context_switches_total"
        ]
    );
    for name in names {
        assert!(
            sum(&after, name) > sum(&before, name) + 40.0,
            "{name}: {} then {}",
            sum(&before, name),
            sum(&after, name)
        );
    }
    let cpus = after[0].samples.len();
    assert_eq!(cpus, online_cpus() as usize);
}

#[test]
fn refused_hardware_counters_leave_the_rest() {
    let refuse_hardware = |kind: u32, config: u64, cpu: u32| {
        if kind == TYPE_HARDWARE || kind == TYPE_HW_CACHE {
            Err(io::Error::from_raw_os_error(libc::ENOENT))
        } else {
            Counter::open(kind, config, cpu)
        }
    };
    let requests = [
        hw("CpuCycles", 0, "cpucycles_total", "h"),
        sw("ContextSwitch", 3, "context_switches_total", "h"),
    ]
    .iter()
    .map(|e| Request {
        family: format!("node_perf_{}", e.family),
        help: e.help.to_owned(),
        group: e.group.name(),
        kind: e.kind,
        config: Ok(e.config),
    })
    .collect();
    let perf = Perf::open(requests, &[0], &refuse_hardware);
    let out = scrape(&perf);
    let lines = lines(&out, "/");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("node_perf_context_switches_total cpu=0 "));
}

#[test]
fn nothing_opened_fails_every_scrape() {
    let refuse_all = |_: u32, _: u64, _: u32| Err(io::Error::from_raw_os_error(libc::EACCES));
    let request = Request {
        family: "node_perf_page_faults_total".into(),
        help: "h".into(),
        group: "software",
        kind: TYPE_SOFTWARE,
        config: Ok(2),
    };
    let perf = Perf::open(vec![request], &[0, 1], &refuse_all);
    let mut out = Vec::new();
    let err = perf.update(&mut out).expect_err("nothing opened");
    assert!(err.to_string().contains("software: 2 refused"), "{err}");
    assert!(out.is_empty());

    // Nothing asked for (every group disabled): upstream's empty success.
    let perf = Perf::open(Vec::new(), &[0, 1], &refuse_all);
    assert!(perf.update(&mut out).is_ok());
}

#[test]
fn default_flags_build_on_this_machine() {
    // This VM has no PMU: hardware and cache events are refused; the software ones remain.
    let collector = build(declare, &Paths::default(), &[]).expect("perf builds");
    let out = scrape(collector.as_ref());
    assert!(
        out.iter()
            .any(|f| f.name == "node_perf_context_switches_total")
    );
    assert!(
        out.iter()
            .all(|f| f.name.starts_with("node_perf_") && f.name.ends_with("_total"))
    );
}

#[test]
fn missing_tracepoint_is_refused_and_bad_one_stops_the_build() {
    let sys = tempfile::tempdir().expect("tempdir");
    let paths = Paths {
        sysfs: sys.path().to_owned(),
        ..Paths::default()
    };
    let id = sys
        .path()
        .join("kernel/tracing/events/sched/sched_switch/id");
    crate::collectors::testing::write(&id, "318\n");
    let tracepoint = Tracepoint {
        subsystem: "sched".into(),
        event: "sched_switch".into(),
    };
    assert_eq!(tracepoint_id(sys.path(), &tracepoint), Ok(318));
    let missing = Tracepoint {
        subsystem: "x".into(),
        event: "y".into(),
    };
    assert!(tracepoint_id(sys.path(), &missing).is_err());

    let args = [
        "--collector.perf.tracepoint=x:y",
        "--collector.perf.disable-hardware-profilers",
        "--collector.perf.disable-cache-profilers",
    ];
    let collector = build(declare, &paths, &args).expect("a missing tracepoint is only refused");
    assert!(
        scrape(collector.as_ref())
            .iter()
            .all(|f| f.name != "node_perf_x_y")
    );
    let bad = build(declare, &paths, &["--collector.perf.tracepoint=sched"]);
    assert!(matches!(bad, Err(BuildError::Invalid(_))));
}

#[test]
fn cpu_lists() {
    assert_eq!(parse_cpus("0-3"), Ok(vec![0, 1, 2, 3]));
    assert_eq!(parse_cpus("1,3"), Ok(vec![1, 3]));
    assert_eq!(parse_cpus("0-10:5,12"), Ok(vec![0, 5, 10, 12]));
    assert_eq!(parse_cpus("3-1"), Ok(vec![]));
    for bad in [
        "", "1,", "a", "-1", "1-", "1-2-3", "0-4:0", "0-4:x", "1:2", "70000",
    ] {
        assert!(parse_cpus(bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        build(declare, &Paths::default(), &["--collector.perf.cpus=0-x"]),
        Err(BuildError::Invalid(_))
    ));
}

#[test]
fn profiler_names_select_events() {
    let names: Vec<&str> = selected(Group::Cache, &["LLReadMiss", "Nope"])
        .iter()
        .map(|e| e.family)
        .collect();
    assert_eq!(names, ["cache_ll_read_misses_total"]);
    assert_eq!(selected(Group::Hardware, &[]).len(), 9);
    assert_eq!(selected(Group::Software, &[]).len(), 5);
    assert_eq!(selected(Group::Cache, &[]).len(), 16);
}

proptest! {
    #[test]
    fn cpu_list_garbage_never_panics(text in "[0-9,:+ a-]{0,24}") {
        if let Ok(cpus) = parse_cpus(&text) {
            prop_assert!(cpus.iter().all(|c| *c <= MAX_CPU));
        }
    }

    #[test]
    fn cpu_lists_round_trip(cpus in proptest::collection::vec(0u32..4096, 1..16)) {
        let text = cpus.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        prop_assert_eq!(parse_cpus(&text), Ok(cpus));
    }

    #[test]
    fn cpu_ranges(start in 0u32..512, len in 0u32..64, stride in 1u32..8) {
        let text = format!("{start}-{}:{stride}", start + len);
        let expected: Vec<u32> = (start..=start + len).step_by(stride as usize).collect();
        prop_assert_eq!(parse_cpus(&text), Ok(expected));
    }

    #[test]
    fn tracepoint_garbage_never_panics(text in "\\PC{0,16}") {
        let _ = parse_tracepoint(&text);
    }
}
