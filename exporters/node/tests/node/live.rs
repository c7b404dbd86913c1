//! Live side by side with Debian's prometheus-node-exporter (1.5.0) on this machine: both run
//! with the same explicit collector list and flags, and must export the same family names,
//! types and label names, and equal values for series that do not move while the test runs.
//!
//! Debian's build changes some defaults (../shared/reference/upstream-exporters.md §2.1); every
//! one of them is given explicitly to both binaries, so both read the same things:
//! `--collector.textfile.directory` (a temporary directory with known files),
//! `--collector.netdev.device-exclude` (Debian: `^lo$`), `--collector.filesystem.mount-points-exclude`
//! (Debian also hides /run, /mnt, /media) and `--no-collector.systemd` (Debian enables it).
//!
//! What octo-node-exporter does differently on purpose is what node_exporter changed between
//! 1.5.0 and 1.12: those differences are listed below, each with the release that made it, and
//! nothing else may differ.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use octo_testbed::metrics::{Exposition, Family, Series, parse};
use octo_testbed::{ExporterProcess, http_get, require_program};

use super::golden::collector_of;
use super::support::start;

use octo_testbed::upstream::node::{COLLECTORS_SHARED_WITH_1_5 as COLLECTORS, comparable_flags};

/// Collectors of the issue that 1.5.0 does not have (its flag parser refuses their flags):
/// enabled on our side only, their families are additions.
const NOT_IN_1_5: &[(&str, &str)] = &[("watchdog", "1.8.0, #2880")];

/// Families 1.12 exports that 1.5.0 does not (on a host that has what they describe).
const FAMILIES_ADDED_SINCE_1_5: &[(&str, &str)] = &[
    ("node_cpu_online", "1.9.0, #3032"),
    ("node_softnet_backlog_len", "1.6.0, #2592"),
    ("node_softnet_cpu_collision_total", "1.6.0, #2592"),
    ("node_softnet_flow_limit_count_total", "1.6.0, #2592"),
    ("node_softnet_received_rps_total", "1.6.0, #2592"),
    ("node_cpu_frequency_avg_hertz", "1.12.0, #3712"),
    ("node_filesystem_mount_info", "1.9.0, #2970"),
    ("node_pressure_irq_stalled_seconds_total", "1.9.0, #3048"),
    (
        "node_netstat_TcpExt_TCPOFOQueue",
        "1.8.0, #2867 (default --collector.netstat.fields)",
    ),
    (
        "node_netstat_TcpExt_TCPRcvQDrop",
        "1.9.0, #3021 (default --collector.netstat.fields)",
    ),
    ("node_os_support_end_timestamp_seconds", "1.8.0, #2982"),
    ("node_network_altnames_info", "1.11.0, #3541"),
    ("node_hwmon_freq_freq_mhz", "1.9.0, #3093"),
    (
        "node_edac_channel_correctable_errors_total",
        "1.12.0, #3720",
    ),
    (
        "node_edac_channel_uncorrectable_errors_total",
        "1.12.0, #3720",
    ),
    ("node_watchdog_access_cs0", "1.8.0, #2880"),
    ("node_watchdog_bootstatus", "1.8.0, #2880"),
    ("node_watchdog_fw_version", "1.8.0, #2880"),
    ("node_watchdog_info", "1.8.0, #2880"),
    ("node_watchdog_nowayout", "1.8.0, #2880"),
    ("node_watchdog_pretimeout_seconds", "1.8.0, #2880"),
    ("node_watchdog_timeleft_seconds", "1.8.0, #2880"),
    ("node_watchdog_timeout_seconds", "1.8.0, #2880"),
];

/// Families 1.5.0 exports that 1.12 does not, besides meminfo's (below).
const FAMILIES_REMOVED_SINCE_1_5: &[(&str, &str)] = &[(
    "promhttp_metric_handler_errors_total",
    "1.7.0, #2808: only with the exporter metrics, which both sides disable here",
)];

/// Label names 1.12 has that 1.5.0 does not: family (or family prefix ending in `_`), label.
const LABELS_ADDED_SINCE_1_5: &[(&str, &str, &str)] = &[
    ("node_filesystem_", "device_error", "1.8.0, #2923"),
    ("node_disk_info", "rotational", "1.9.0, #3022"),
    ("node_network_info", "adminstate", "1.6.0, #2515"),
    (
        "node_exporter_build_info",
        "tags",
        "prometheus/common version collector, client_golang 1.20",
    ),
];

/// meminfo: 1.5.0 exported every line of /proc/meminfo; 1.9.0 (#3049, procfs) exports this
/// fixed list (plus Zswap/Zswapped from 1.10.1, #3453). Other 1.5.0 `node_memory_*` families
/// are removals.
const MEMINFO_FIXED: &[&str] = &[
    "Active",
    "Active_anon",
    "Active_file",
    "AnonHugePages",
    "AnonPages",
    "Bounce",
    "Buffers",
    "Cached",
    "CmaFree",
    "CmaTotal",
    "CommitLimit",
    "Committed_AS",
    "DirectMap1G",
    "DirectMap2M",
    "DirectMap4k",
    "Dirty",
    "HardwareCorrupted",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
    "HugePages_Total",
    "Hugepagesize",
    "Inactive",
    "Inactive_anon",
    "Inactive_file",
    "KernelStack",
    "Mapped",
    "MemAvailable",
    "MemFree",
    "MemTotal",
    "Mlocked",
    "NFS_Unstable",
    "PageTables",
    "Percpu",
    "SReclaimable",
    "SUnreclaim",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "Shmem",
    "Slab",
    "SwapCached",
    "SwapFree",
    "SwapTotal",
    "Unevictable",
    "VmallocChunk",
    "VmallocTotal",
    "VmallocUsed",
    "WritebackTmp",
    "Writeback",
    "Zswap",
    "Zswapped",
];

/// Collector outcomes that differ between the releases on purpose.
const SUCCESS_DIFFERENCES: &[(&str, &str)] = &[];

/// Families whose series must be equal, values included: they cannot move during the test.
const STABLE: &[&str] = &[
    "node_boot_time_seconds",
    "node_entropy_pool_size_bits",
    "node_filefd_maximum",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_filesystem_size_bytes",
    "node_memory_HugePages_Total",
    "node_memory_Hugepagesize_bytes",
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_network_info",
    "node_network_mtu_bytes",
    "node_os_info",
    "node_os_version",
    "node_selinux_enabled",
    "node_textfile_mtime_seconds",
    "node_textfile_scrape_error",
    "node_time_zone_offset_seconds",
    "node_uname_info",
];

fn added_family(name: &str) -> Option<&'static str> {
    FAMILIES_ADDED_SINCE_1_5
        .iter()
        .find(|(family, _)| *family == name)
        .map(|(_, why)| *why)
}

fn added_label(family: &str, label: &str) -> bool {
    LABELS_ADDED_SINCE_1_5.iter().any(|(prefix, l, _)| {
        *l == label && (*prefix == family || (prefix.ends_with('_') && family.starts_with(prefix)))
    })
}

/// A 1.5.0 meminfo family that 1.9.0's fixed list no longer exports.
fn removed_meminfo(name: &str) -> bool {
    let Some(field) = name.strip_prefix("node_memory_") else {
        return false;
    };
    let field = field.strip_suffix("_bytes").unwrap_or(field);
    !MEMINFO_FIXED.contains(&field)
}

fn flags(textfiles: &Path) -> Vec<String> {
    let mut args = comparable_flags(textfiles, COLLECTORS);
    args.push("--web.disable-exporter-metrics".to_owned());
    args
}

async fn scrape(exporter: &ExporterProcess, who: &str) -> Exposition {
    let (status, body) = http_get(&exporter.url("/metrics"))
        .await
        .unwrap_or_else(|e| panic!("scraping {who}: {e}"));
    assert_eq!(status, 200, "{who}: {body}");
    parse(&body).unwrap_or_else(|e| panic!("{who}'s output does not parse: {e}"))
}

/// Series of a family with the labels 1.5.0 does not have removed, as comparable strings.
fn comparable(family: &Family) -> BTreeSet<String> {
    family
        .series
        .iter()
        .map(|series| {
            let mut series: Series = series.clone();
            series
                .labels
                .retain(|label, _| !added_label(&family.name, label));
            format!("{} {}", series.key(), series.value)
        })
        .collect()
}

/// Text files both parsers must accept or refuse alike (the accepted ones are listed in
/// `node_textfile_mtime_seconds`, their series compared with values): prometheus/common's parser
/// in 1.5.0 and ours, which follows 1.12's. Left out because 1.12's parser differs from 1.5.0's:
/// `\"` in HELP (accepted since prometheus/common 0.5x) and histograms with a non-integer count
/// (1.12 re-exports them with counts 0, 1.5.0 truncated them).
const EDGE_CASES: &[(&str, &[u8])] = &[
    ("plain", b"edge_plain 1\n"),
    ("no_final_newline", b"edge_no_final_newline 1"),
    ("trailing_blank", b"edge_trailing_blank 1 \n"),
    ("crlf", b"edge_crlf 1\r\n"),
    ("tab", b"edge_tab\t1\n"),
    ("leading_blanks", b"   edge_leading_blanks 1\n"),
    ("timestamp", b"edge_timestamp 1 123\n"),
    ("timestamp_float", b"edge_timestamp_float 1 1.5\n"),
    ("bad_escape", b"edge_bad_escape{a=\"\\x\"} 1\n"),
    ("type_trailing_blank", b"# TYPE edge_type_trailing_blank gauge \nedge_type_trailing_blank 1\n"),
    ("type_upper", b"# TYPE edge_type_upper GAUGE\nedge_type_upper 1\n"),
    ("unknown_type", b"# TYPE edge_unknown_type foo\nedge_unknown_type 1\n"),
    ("empty_labels", b"edge_empty_labels{} 1\n"),
    ("trailing_comma", b"edge_trailing_comma{a=\"1\",} 1\n"),
    ("blanks_in_labels", b"edge_blanks_in_labels { a = \"1\" , b=\"2\" } 1\n"),
    ("duplicate_label", b"edge_duplicate_label{a=\"1\",a=\"2\"} 1\n"),
    ("reserved_label", b"edge_reserved_label{__name__=\"x\"} 1\n"),
    (
        "specials",
        b"edge_specials{a=\"1\"} +Inf\nedge_specials{a=\"2\"} -Inf\nedge_specials{a=\"3\"} NaN\n",
    ),
    ("hex", b"edge_hex 0x10\n"),
    ("underscore", b"edge_underscore 1_0\n"),
    ("exponents", b"edge_exponents 1e3\nedge_exponents_b .5\nedge_exponents_c 5.\n"),
    ("out_of_range", b"edge_out_of_range 1e400\n"),
    ("summary_without_quantile", b"# TYPE edge_summary summary\nedge_summary{a=\"1\"} 5\n"),
    (
        "histogram_without_inf",
        b"# TYPE edge_histogram histogram\nedge_histogram_bucket{le=\"1\"} 1\nedge_histogram_count 4\nedge_histogram_sum 3\n",
    ),
    ("duplicate_series", b"edge_duplicate_series{a=\"1\"} 1\nedge_duplicate_series{a=\"1\"} 2\n"),
    ("comment_only", b"# just a comment\n"),
    ("help_only", b"# HELP edge_help_only nothing\n"),
    ("help_after_sample", b"edge_help_after_sample 1\n# HELP edge_help_after_sample late\n"),
    ("type_after_sample", b"edge_type_after_sample 1\n# TYPE edge_type_after_sample gauge\n"),
    ("invalid_name", b"9edge 1\n"),
    ("colon_name", b"edge:colon 1\n"),
    ("escaped_newline", b"edge_escaped_newline{a=\"x\\ny\"} 1\n"),
    ("plus_value", b"edge_plus_value +1\n"),
    ("utf8_label", "edge_utf8_label{a=\"h\u{e9}llo\"} 1\n".as_bytes()),
    ("latin1_comment", b"# caf\xe9\nedge_latin1_comment 1\n"),
    ("latin1_label", b"edge_latin1_label{a=\"caf\xe9\"} 1\n"),
    (
        "summary_float_count",
        b"# TYPE edge_summary_float summary\nedge_summary_float_count 2.7\nedge_summary_float_sum 1\nedge_summary_float{quantile=\"0.5\"} 1\n",
    ),
    ("blank_tail", b"edge_blank_tail 1\n   "),
    ("missing_value", b"edge_missing_value\n"),
    ("second_help", b"# HELP edge_second_help a\n# HELP edge_second_help b\nedge_second_help 1\n"),
];

fn write_textfiles(dir: &Path) {
    let mut files: Vec<(String, &[u8])> = vec![
        (
            "documented.prom".into(),
            b"# HELP octo_live_documented A metric with help.\n# TYPE octo_live_documented gauge\n\
              octo_live_documented{kind=\"a\"} 1.5\nocto_live_documented{kind=\"b\"} -2\n",
        ),
        ("undocumented.prom".into(), b"octo_live_undocumented 42\n"),
        ("ignored.txt".into(), b"not read\n"),
    ];
    files.extend(
        EDGE_CASES
            .iter()
            .map(|(name, text)| (format!("edge_{name}.prom"), *text)),
    );
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("writing a textfile");
    }
}

#[tokio::test]
async fn matches_debian_node_exporter_on_this_machine() {
    let debian = require_program("prometheus-node-exporter", "prometheus-node-exporter")
        .unwrap_or_else(|e| panic!("{e}"));
    let textfiles = tempfile::tempdir().expect("temporary directory");
    write_textfiles(textfiles.path());

    let theirs = ExporterProcess::start(
        "prometheus-node-exporter",
        &debian,
        flags(textfiles.path()),
        &[],
        ExporterProcess::web_listen,
        "/",
    )
    .await
    .expect("Debian's prometheus-node-exporter starts");
    let mut our_flags = flags(textfiles.path());
    our_flags.extend(NOT_IN_1_5.iter().map(|(c, _)| format!("--collector.{c}")));
    let ours = start(our_flags).await;

    let theirs = scrape(&theirs, "prometheus-node-exporter").await;
    let ours = scrape(&ours, "octo-node-exporter").await;

    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut report = |family: &Family, problem: String| {
        let collector = family
            .series
            .first()
            .map(collector_of)
            .unwrap_or_else(|| "(no series)".into());
        problems.entry(collector).or_default().push(problem);
    };

    let names: BTreeSet<&String> = ours.families.keys().chain(theirs.families.keys()).collect();
    for name in names {
        match (ours.family(name), theirs.family(name)) {
            (Some(mine), None) => {
                if added_family(name).is_none() {
                    report(mine, format!("{name}: only in ours"));
                }
            }
            (None, Some(upstream)) => {
                if !removed_meminfo(name)
                    && !FAMILIES_REMOVED_SINCE_1_5.iter().any(|(f, _)| f == name)
                {
                    report(upstream, format!("{name}: missing (1.5.0 has it)"));
                }
            }
            (Some(mine), Some(upstream)) => {
                if mine.kind != upstream.kind {
                    report(
                        mine,
                        format!("{name}: type {} vs {}", mine.kind, upstream.kind),
                    );
                }
                let our_labels: BTreeSet<String> = mine
                    .label_names()
                    .into_iter()
                    .filter(|l| !added_label(name, l))
                    .collect();
                if our_labels != upstream.label_names() {
                    report(
                        mine,
                        format!(
                            "{name}: labels {our_labels:?} vs {:?}",
                            upstream.label_names()
                        ),
                    );
                }
                // Families read from the text files are compared whole, values and help too.
                let from_textfile = !name.starts_with("node_") && !name.starts_with("promhttp_");
                if from_textfile && mine.help != upstream.help {
                    report(
                        mine,
                        format!("{name}: help {:?} vs {:?}", mine.help, upstream.help),
                    );
                }
                if STABLE.contains(&name.as_str()) || from_textfile {
                    let (a, b) = (comparable(mine), comparable(upstream));
                    if a != b {
                        let only_ours: Vec<&String> = a.difference(&b).collect();
                        let only_theirs: Vec<&String> = b.difference(&a).collect();
                        report(
                            mine,
                            format!(
                                "{name}: values differ: ours {only_ours:?}, 1.5.0 {only_theirs:?}"
                            ),
                        );
                    }
                }
            }
            (None, None) => {}
        }
    }

    // Which collectors succeed must agree too (no data vs data is visible to alerts).
    let outcomes = |exp: &Exposition| -> BTreeMap<String, f64> {
        exp.family("node_scrape_collector_success")
            .map(|f| {
                f.series
                    .iter()
                    .map(|s| {
                        (
                            s.labels.get("collector").cloned().unwrap_or_default(),
                            s.value,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (our_outcomes, their_outcomes) = (outcomes(&ours), outcomes(&theirs));
    for collector in COLLECTORS {
        let (a, b) = (
            our_outcomes.get(*collector).copied(),
            their_outcomes.get(*collector).copied(),
        );
        if a != b && !SUCCESS_DIFFERENCES.iter().any(|(c, _)| c == collector) {
            problems
                .entry((*collector).to_owned())
                .or_default()
                .push(format!(
                    "node_scrape_collector_success: ours {a:?}, 1.5.0 {b:?}"
                ));
        }
    }
    for (collector, _) in NOT_IN_1_5 {
        assert!(
            our_outcomes.contains_key(*collector),
            "{collector} should run on our side"
        );
    }

    // The stable comparisons must not pass vacuously: these exist on every Linux host.
    for name in [
        "node_boot_time_seconds",
        "node_filesystem_size_bytes",
        "node_memory_MemTotal_bytes",
        "node_os_info",
        "node_uname_info",
        "node_textfile_mtime_seconds",
    ] {
        assert!(
            ours.family(name).is_some() && theirs.family(name).is_some(),
            "{name} should be exported by both sides"
        );
    }

    // The text files were read: both sides agree on which (node_textfile_mtime_seconds).
    let accepted = ours
        .family("node_textfile_mtime_seconds")
        .map_or(0, |f| f.series.len());
    assert!(
        accepted > 10,
        "only {accepted} text files were read; the edge cases did not run"
    );

    let text: Vec<String> = problems
        .iter()
        .map(|(collector, list)| format!("{collector}:\n    {}", list.join("\n    ")))
        .collect();
    assert!(
        problems.is_empty(),
        "octo-node-exporter differs from prometheus-node-exporter 1.5.0 beyond the documented 1.5.0→1.12 changes:\n{}",
        text.join("\n")
    );
}
