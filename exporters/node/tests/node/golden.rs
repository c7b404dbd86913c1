//! node_exporter's own end-to-end test, against our binary: the same fixture tree and flags, and
//! a semantic comparison with `e2e-output.txt` (numbers as numbers, label order irrelevant) after
//! upstream's skip list. Prints coverage per collector; every golden series of the collectors in
//! `IN_SCOPE` must be reproduced exactly (name, labels, value, type), with nothing extra.

use std::collections::{BTreeMap, BTreeSet};

use octo_testbed::http_get;
use octo_testbed::metrics::{Exposition, Series, parse};

use super::support::{fixtures, start};
use super::ttar;

/// Series upstream's script ignores (they depend on the machine running the test).
const SKIP: &str = r"^(go_|node_exporter_build_info|node_scrape_collector_duration_seconds|process_|node_textfile_mtime_seconds|node_time_(zone|seconds)|node_network_(receive|transmit)_(bytes|packets)_total)";

/// The collectors upstream enables for the run (its `node_scrape_collector_success` list).
pub const ENABLED: &[&str] = &[
    "arp",
    "bcache",
    "bcachefs",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "conntrack",
    "cpu",
    "cpu_vulnerabilities",
    "cpufreq",
    "diskstats",
    "dmi",
    "dmmultipath",
    "drbd",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "loadavg",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "pcidevice",
    "powersupplyclass",
    "pressure",
    "processes",
    "qdisc",
    "rapl",
    "schedstat",
    "slabinfo",
    "sockstat",
    "softirqs",
    "softnet",
    "stat",
    "sysctl",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "udp_queues",
    "vmstat",
    "watchdog",
    "wifi",
    "xfrm",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// The collectors octo-node-exporter implements that the golden run covers: reproduced exactly.
pub const IN_SCOPE: &[&str] = &[
    "arp",
    "bcache",
    "bcachefs",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "conntrack",
    "cpu",
    "cpu_vulnerabilities",
    "cpufreq",
    "diskstats",
    "dmi",
    "dmmultipath",
    "drbd",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "loadavg",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "pcidevice",
    "powersupplyclass",
    "pressure",
    "processes",
    "qdisc",
    "rapl",
    "schedstat",
    "slabinfo",
    "sockstat",
    "softirqs",
    "softnet",
    "stat",
    "sysctl",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "udp_queues",
    "vmstat",
    "watchdog",
    "wifi",
    "xfrm",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// Upstream's extra flags for the run (paths adapted to where the fixtures are).
fn upstream_flags(fixtures: &std::path::Path, unpacked: &std::path::Path) -> Vec<String> {
    let mut args = vec![
        format!("--path.procfs={}", fixtures.join("proc").display()),
        format!("--path.sysfs={}", unpacked.join("sys").display()),
        format!("--path.rootfs={}", fixtures.display()),
        format!("--path.udev.data={}", unpacked.join("udev/data").display()),
        "--collector.disable-defaults".into(),
        "--collector.cpu.info".into(),
        "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$".into(),
        "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$".into(),
        "--collector.arp.device-exclude=nope".into(),
        "--no-collector.arp.netlink".into(),
        "--collector.bcache.priorityStats".into(),
        "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)"
            .into(),
        "--collector.netclass.ignore-invalid-speed".into(),
        "--collector.netclass.ignored-devices=(dmz|int)".into(),
        "--collector.netdev.device-include=lo".into(),
        "--collector.qdisc.device-include=(wlan0|eth0)".into(),
        format!(
            "--collector.qdisc.fixtures={}",
            fixtures.join("qdisc").display()
        ),
        "--collector.stat.softirq".into(),
        "--collector.sysctl.include-info=kernel.seccomp.actions_avail".into(),
        "--collector.sysctl.include=fs.file-nr".into(),
        "--collector.sysctl.include=fs.file-nr:total,current,max".into(),
        "--collector.sysctl.include=kernel.threads-max".into(),
        format!(
            "--collector.textfile.directory={}",
            fixtures.join("textfile/two_metric_files").display()
        ),
        format!(
            "--collector.wifi.fixtures={}",
            fixtures.join("wifi").display()
        ),
    ];
    args.extend(ENABLED.iter().map(|name| format!("--collector.{name}")));
    args
}

/// Which collector produces a series, by upstream's family names.
pub fn collector_of(series: &Series) -> String {
    let name = series.name.as_str();
    if name == "node_scrape_collector_success" {
        return series.labels.get("collector").cloned().unwrap_or_default();
    }
    if name.starts_with("promhttp_") {
        return "(exporter self metrics)".into();
    }
    if !name.starts_with("node_") {
        return "textfile".into(); // families read from the textfile directory
    }
    let netdev = regex::Regex::new(
        r"^node_network_(receive|transmit)_(bytes|packets|errs|drop|fifo|frame|compressed|multicast|nohandler|colls|carrier)_total$",
    )
    .expect("valid regex");
    if netdev.is_match(name) {
        return "netdev".into();
    }
    const TABLE: &[(&str, &str)] = &[
        ("node_arp_", "arp"),
        ("node_bcachefs_", "bcachefs"),
        ("node_bcache_", "bcache"),
        ("node_bonding_", "bonding"),
        ("node_btrfs_", "btrfs"),
        ("node_buddyinfo_", "buddyinfo"),
        ("node_cgroups_", "cgroups"),
        ("node_nf_conntrack_", "conntrack"),
        ("node_cpu_vulnerabilities_", "cpu_vulnerabilities"),
        ("node_cpu_scaling_", "cpufreq"),
        ("node_cpu_frequency_max_hertz", "cpufreq"),
        ("node_cpu_frequency_min_hertz", "cpufreq"),
        ("node_cpu_", "cpu"),
        ("node_disk_", "diskstats"),
        ("node_dmi_", "dmi"),
        ("node_dmmultipath_", "dmmultipath"),
        ("node_drbd_", "drbd"),
        ("node_edac_", "edac"),
        ("node_entropy_", "entropy"),
        ("node_fibrechannel_", "fibrechannel"),
        ("node_filefd_", "filefd"),
        ("node_filesystem_", "filesystem"),
        ("node_hwmon_", "hwmon"),
        ("node_infiniband_", "infiniband"),
        ("node_interrupts_", "interrupts"),
        ("node_ipvs_", "ipvs"),
        ("node_kernel_hung_", "kernel_hung"),
        ("node_ksmd_", "ksmd"),
        ("node_lnstat_", "lnstat"),
        ("node_load", "loadavg"),
        ("node_md_", "mdadm"),
        ("node_memory_numa_", "meminfo_numa"),
        ("node_memory_", "meminfo"),
        ("node_mountstats_", "mountstats"),
        ("node_network_", "netclass"),
        ("node_netstat_", "netstat"),
        ("node_nfsd_", "nfsd"),
        ("node_nfs_", "nfs"),
        ("node_nvme_", "nvme"),
        ("node_os_", "os"),
        ("node_pcidevice_", "pcidevice"),
        ("node_power_supply_", "powersupplyclass"),
        ("node_pressure_", "pressure"),
        ("node_processes_", "processes"),
        ("node_qdisc_", "qdisc"),
        ("node_rapl_", "rapl"),
        ("node_schedstat_", "schedstat"),
        ("node_selinux_", "selinux"),
        ("node_slabinfo_", "slabinfo"),
        ("node_sockstat_", "sockstat"),
        ("node_softirqs_functions_total", "softirqs"),
        ("node_softnet_", "softnet"),
        ("node_boot_time_seconds", "stat"),
        ("node_context_switches_total", "stat"),
        ("node_forks_total", "stat"),
        ("node_intr_total", "stat"),
        ("node_procs_", "stat"),
        ("node_softirqs_total", "stat"),
        ("node_sysctl_", "sysctl"),
        ("node_tape_", "tapestats"),
        ("node_textfile_", "textfile"),
        ("node_thermal_zone_", "thermal_zone"),
        ("node_cooling_device_", "thermal_zone"),
        ("node_timex_", "timex"),
        ("node_time_", "time"),
        ("node_tcp_", "tcpstat"),
        ("node_udp_queues", "udp_queues"),
        ("node_uname_", "uname"),
        ("node_vmstat_", "vmstat"),
        ("node_watchdog_", "watchdog"),
        ("node_wifi_", "wifi"),
        ("node_xfrm_", "xfrm"),
        ("node_xfs_", "xfs"),
        ("node_zfs_", "zfs"),
        ("node_zoneinfo_", "zoneinfo"),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, collector)| (*collector).to_owned())
        .unwrap_or_else(|| format!("(unknown: {name})"))
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[derive(Default)]
struct Tally {
    golden: usize,
    reproduced: usize,
    problems: Vec<String>,
}

fn kinds(exposition: &Exposition) -> BTreeMap<String, String> {
    let mut kinds = BTreeMap::new();
    for family in exposition.families.values() {
        for series in &family.series {
            kinds.insert(series.name.clone(), family.kind.clone());
        }
    }
    kinds
}

#[tokio::test]
async fn reproduces_upstream_golden_output() {
    let Some(fixtures) = fixtures() else { return };
    let unpacked = tempfile::tempdir().expect("temporary directory");
    ttar::unpack(&fixtures.join("sys.ttar"), unpacked.path()).expect("unpacking sys.ttar");
    ttar::unpack(&fixtures.join("udev.ttar"), unpacked.path()).expect("unpacking udev.ttar");

    let exporter = start(upstream_flags(&fixtures, unpacked.path())).await;
    let (status, body) = http_get(&exporter.url("/metrics")).await.expect("scrape");
    assert_eq!(status, 200, "{body}");
    // Upstream ran with the relative `--path.sysfs=collector/fixtures/sys`, and rapl puts that
    // path into its `path` label; ours is an absolute temporary directory.
    let body = body.replace(
        &unpacked.path().join("sys").display().to_string(),
        "collector/fixtures/sys",
    );
    let ours = parse(&body).unwrap_or_else(|e| panic!("our output does not parse: {e}"));
    let golden_text =
        std::fs::read_to_string(fixtures.join("e2e-output.txt")).expect("golden file");
    let golden = parse(&golden_text).expect("golden file parses");

    let skip = regex::Regex::new(SKIP).expect("valid regex");
    let wanted = |s: &&Series| !skip.is_match(&s.name);
    let our_kinds = kinds(&ours);
    let golden_kinds = kinds(&golden);
    let ours_by_key: BTreeMap<String, &Series> =
        ours.series().filter(wanted).map(|s| (s.key(), s)).collect();
    let golden_keys: BTreeSet<String> = golden.series().filter(wanted).map(Series::key).collect();

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for series in golden.series().filter(wanted) {
        let tally = tallies.entry(collector_of(series)).or_default();
        tally.golden += 1;
        match ours_by_key.get(&series.key()) {
            None => tally
                .problems
                .push(format!("missing {} {}", series.key(), series.value)),
            Some(mine) if !same_value(mine.value, series.value) => tally.problems.push(format!(
                "value {}: ours {} golden {}",
                series.key(),
                mine.value,
                series.value
            )),
            Some(mine) if our_kinds.get(&mine.name) != golden_kinds.get(&series.name) => {
                tally.problems.push(format!(
                    "type {}: ours {:?} golden {:?}",
                    series.name,
                    our_kinds.get(&mine.name),
                    golden_kinds.get(&series.name)
                ))
            }
            Some(_) => tally.reproduced += 1,
        }
    }
    for (key, series) in &ours_by_key {
        if !golden_keys.contains(key) {
            let collector = collector_of(series);
            tallies
                .entry(collector)
                .or_default()
                .problems
                .push(format!("extra {key} {}", series.value));
        }
    }

    let (mut total_golden, mut total_reproduced) = (0, 0);
    println!(
        "\n{:<26} {:>7} {:>11} {:>9}  status",
        "collector", "golden", "reproduced", "coverage"
    );
    for (collector, tally) in &tallies {
        total_golden += tally.golden;
        total_reproduced += tally.reproduced;
        let coverage = if tally.golden == 0 {
            100.0
        } else {
            100.0 * tally.reproduced as f64 / tally.golden as f64
        };
        let status = if IN_SCOPE.contains(&collector.as_str()) {
            if tally.problems.is_empty() {
                "ok"
            } else {
                "MISMATCH"
            }
        } else if tally.reproduced == 0 {
            "not implemented"
        } else {
            "partial (not in scope)"
        };
        println!(
            "{collector:<26} {:>7} {:>11} {coverage:>8.1}%  {status}",
            tally.golden, tally.reproduced
        );
    }
    println!(
        "{:<26} {total_golden:>7} {total_reproduced:>11} {:>8.1}%",
        "TOTAL",
        100.0 * total_reproduced as f64 / total_golden.max(1) as f64
    );

    let failures: Vec<String> = IN_SCOPE
        .iter()
        .filter_map(|collector| {
            let tally = tallies.get(*collector)?;
            (!tally.problems.is_empty()).then(|| {
                let shown: Vec<&String> = tally.problems.iter().take(15).collect();
                format!(
                    "{collector} ({} problems):\n    {}",
                    tally.problems.len(),
                    shown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n    ")
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "golden series not reproduced:\n{}",
        failures.join("\n")
    );
}
