//! Every family the exporter serves, held to cAdvisor's own golden exposition
//! (`../shared/reference/cadvisor`, read in place): same TYPE, same HELP, same label names.
//! Each scrape checked here prints its coverage (golden families served / families in the
//! golden files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use octo_testbed::metrics::{Exposition, parse};

/// Families we serve that the golden files do not show, and why (checked, so the list stays
/// honest: a name here that the golden file gains is an error).
const NOT_IN_GOLDEN: &[(&str, &str)] = &[
    (
        "container_spec_memory_limit_bytes",
        "cAdvisor writes the spec_memory families only when the spec has memory; its test container has none",
    ),
    (
        "container_spec_memory_swap_limit_bytes",
        "as container_spec_memory_limit_bytes",
    ),
    (
        "container_spec_memory_reservation_limit_bytes",
        "as container_spec_memory_limit_bytes",
    ),
];

/// The exporter's own families (the kit's), outside cAdvisor's contract.
fn is_self_metric(name: &str) -> bool {
    ["process_", "promhttp_", "octo_container_exporter_"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Labels every container series carries besides the family's own: cAdvisor's `id`, `image`,
/// `name`, and ours `container`, `pod`, `namespace` (what the kubelet adds; see the docs), and
/// the per-container dynamic ones.
fn is_base_label(label: &str) -> bool {
    matches!(
        label,
        "id" | "image" | "name" | "container" | "pod" | "namespace"
    ) || label.starts_with("container_label_")
        || label.starts_with("container_env_")
}

pub struct GoldenFamily {
    pub kind: String,
    pub help: String,
    /// The family's own labels (base labels and the test's `zone_name` removed).
    pub labels: BTreeSet<String>,
    /// Whether its series carry the per-container base labels.
    pub per_container: bool,
}

pub struct Golden {
    pub families: BTreeMap<String, GoldenFamily>,
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/cadvisor")
}

/// cAdvisor's golden files, or `None` (with a message) when absent and
/// `OCTO_SKIP_SHARED_FIXTURES=1` says the caller knows; absent otherwise fails the test.
pub fn golden() -> Option<Golden> {
    let dir = reference_dir();
    if !dir.join("prometheus_metrics").is_file() {
        if std::env::var("OCTO_SKIP_SHARED_FIXTURES").as_deref() == Ok("1") {
            eprintln!(
                "skipping the golden comparison: {} is absent and OCTO_SKIP_SHARED_FIXTURES=1",
                dir.display()
            );
            return None;
        }
        panic!(
            "cAdvisor's golden files are expected in {} (the shared reference folder beside the \
             repository); set OCTO_SKIP_SHARED_FIXTURES=1 to skip deliberately",
            dir.display()
        );
    }
    let mut families = BTreeMap::new();
    for file in ["prometheus_metrics", "prometheus_machine_metrics"] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let parsed = parse(&text).unwrap_or_else(|err| panic!("parsing {}: {err}", path.display()));
        for (name, family) in parsed.families {
            let all = family.label_names();
            let per_container = all.contains("id");
            let labels = all
                .into_iter()
                .filter(|l| l != "zone_name" && !is_base_label(l))
                .collect();
            families.insert(
                name,
                GoldenFamily {
                    kind: family.kind,
                    help: family.help,
                    labels,
                    per_container,
                },
            );
        }
    }
    Some(Golden { families })
}

/// Checks every family of `scrape` against the golden files; panics listing every mismatch.
/// Returns the golden families served, and prints the coverage under `context`.
pub fn check(scrape: &Exposition, context: &str) -> BTreeSet<String> {
    let Some(golden) = golden() else {
        return BTreeSet::new();
    };
    for (name, why) in NOT_IN_GOLDEN {
        assert!(
            !golden.families.contains_key(*name),
            "{name} is listed as absent from the golden files ({why}) but is there"
        );
    }
    let mut problems = Vec::new();
    let mut served = BTreeSet::new();
    for (name, ours) in &scrape.families {
        if is_self_metric(name) || NOT_IN_GOLDEN.iter().any(|(n, _)| n == name) {
            continue;
        }
        let Some(theirs) = golden.families.get(name) else {
            problems.push(format!("{name}: not a family of cAdvisor's golden files"));
            continue;
        };
        served.insert(name.clone());
        if ours.kind != theirs.kind {
            problems.push(format!(
                "{name}: TYPE {} (cAdvisor: {})",
                ours.kind, theirs.kind
            ));
        }
        if ours.help != theirs.help {
            problems.push(format!(
                "{name}: HELP {:?} (cAdvisor: {:?})",
                ours.help, theirs.help
            ));
        }
        let all = ours.label_names();
        let own: BTreeSet<String> = all.iter().filter(|l| !is_base_label(l)).cloned().collect();
        // A family without series says nothing about its labels.
        if ours.series.is_empty() {
            continue;
        }
        if own != theirs.labels {
            problems.push(format!(
                "{name}: labels {own:?} (cAdvisor: {:?})",
                theirs.labels
            ));
        }
        // `name` and `image` join the union only when some container has them, as with
        // cAdvisor; `id` is always there.
        if theirs.per_container != all.contains("id") {
            problems.push(format!(
                "{name}: per-container {} (cAdvisor: {})",
                all.contains("id"),
                theirs.per_container
            ));
        }
    }
    eprintln!(
        "cAdvisor golden coverage ({context}): {} of {} families served",
        served.len(),
        golden.families.len()
    );
    let missing: Vec<&String> = golden
        .families
        .keys()
        .filter(|name| !served.contains(*name))
        .collect();
    eprintln!("  not served ({context}): {missing:?}");
    assert!(
        problems.is_empty(),
        "{context}: families differ from cAdvisor's golden files:\n  {}",
        problems.join("\n  ")
    );
    served
}

#[test]
fn the_golden_files_are_read_whole() {
    let Some(golden) = golden() else { return };
    // The README says 107 container families and the machine file adds 17 (one shared).
    assert!(golden.families.len() >= 120, "{}", golden.families.len());
    let cpu = &golden.families["container_cpu_usage_seconds_total"];
    assert_eq!(cpu.kind, "counter");
    assert_eq!(cpu.labels, BTreeSet::from(["cpu".to_owned()]));
    assert!(cpu.per_container);
    assert!(!golden.families["machine_memory_bytes"].per_container);
}

#[test]
fn the_cpu_load_families_are_in_the_golden_files() {
    let Some(golden) = golden() else { return };
    // cAdvisor's cpuLoad kind (served with -enable_load_reader): two per-container gauges
    // without labels of their own, and the task counts by `state`.
    for (name, labels) in [
        ("container_cpu_load_average_10s", vec![]),
        ("container_cpu_load_d_average_10s", vec![]),
        ("container_tasks_state", vec!["state".to_owned()]),
    ] {
        let family = &golden.families[name];
        assert_eq!(family.kind, "gauge", "{name}");
        assert!(family.per_container, "{name}");
        assert_eq!(family.labels, labels.into_iter().collect(), "{name}");
    }
}
