//! One description of the collectors: the registry (read from `--help`, which lists every
//! `--collector.<name>` with its default and says which are not implemented), the collector table
//! of docs/node-exporter.md, and the golden test's in-scope list must agree.

use std::collections::{BTreeMap, BTreeSet};

use super::golden::{ENABLED, IN_SCOPE};
use super::support::OURS;

/// What the command line or the docs say of one collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Described {
    enabled_by_default: bool,
    implemented: bool,
}

/// `--help`'s collector switches: "Enable the <name> collector[ (accepted; not implemented ...)].
/// [default: enabled|disabled; ...]", however the help is wrapped.
fn from_help() -> BTreeMap<String, Described> {
    let (code, text) = octo_testbed::run_to_exit(OURS, &["--help"]);
    assert_eq!(code, 0, "{text}");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let switch = regex::Regex::new(
        r"Enable the (\w+) collector( \(accepted; not implemented by octo-node-exporter yet\))?\. \[default: (enabled|disabled);",
    )
    .unwrap();
    switch
        .captures_iter(&text)
        .map(|c| {
            let described = Described {
                enabled_by_default: &c[3] == "enabled",
                implemented: c.get(2).is_none(),
            };
            (c[1].to_owned(), described)
        })
        .collect()
}

/// The table under "### Collectors" in docs/node-exporter.md: rows of
/// `| names | on/off | yes/no |` pairs, names separated by commas, "(deprecated)" allowed.
fn from_docs() -> BTreeMap<String, Described> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/node-exporter.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let section = docs
        .split("\n### Collectors\n")
        .nth(1)
        .expect("docs/node-exporter.md has a Collectors section");
    let mut collectors = BTreeMap::new();
    let rows = section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2);
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        for triple in cells.chunks(3) {
            let [names, default, implemented] = triple else {
                panic!("a row of three-cell groups: {row}");
            };
            if names.is_empty() {
                continue;
            }
            let described = Described {
                enabled_by_default: match *default {
                    "on" => true,
                    "off" => false,
                    other => panic!("default {other:?} in {row}"),
                },
                implemented: match *implemented {
                    "yes" => true,
                    "no" => false,
                    other => panic!("implemented {other:?} in {row}"),
                },
            };
            for name in names.trim_end_matches("(deprecated)").split(',') {
                let previous = collectors.insert(name.trim().to_owned(), described);
                assert!(previous.is_none(), "{name} is listed twice in the docs");
            }
        }
    }
    collectors
}

#[test]
fn registry_docs_and_golden_scope_agree() {
    let registry = from_help();
    assert!(
        registry.len() > 70,
        "--help lists {} collectors",
        registry.len()
    );
    let docs = from_docs();
    for (name, described) in &registry {
        assert_eq!(
            docs.get(name),
            Some(described),
            "docs/node-exporter.md's collector table on {name}"
        );
    }
    let extra: Vec<&String> = docs.keys().filter(|n| !registry.contains_key(*n)).collect();
    assert!(
        extra.is_empty(),
        "in the docs, not in the registry: {extra:?}"
    );

    // The golden test checks every implemented collector upstream's run enables, and only those.
    let enabled: BTreeSet<&str> = ENABLED.iter().copied().collect();
    let unknown: Vec<&&str> = ENABLED
        .iter()
        .filter(|n| !registry.contains_key(**n))
        .collect();
    assert!(
        unknown.is_empty(),
        "golden ENABLED names unknown collectors: {unknown:?}"
    );
    let expected: BTreeSet<&str> = registry
        .iter()
        .filter(|(name, d)| d.implemented && enabled.contains(name.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    let in_scope: BTreeSet<&str> = IN_SCOPE.iter().copied().collect();
    assert_eq!(in_scope, expected, "golden IN_SCOPE");
}
