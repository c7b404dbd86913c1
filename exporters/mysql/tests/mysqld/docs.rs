//! The scraper table of docs/mysqld-exporter.md against the registry, as `--help` of the built
//! binary shows it: every scraper, its default and whether it is implemented.

use std::path::Path;
use std::process::Command;

use super::common::OURS;

/// (name, on by default, implemented), in the order listed.
type Row = (String, bool, bool);

const NOT_IMPLEMENTED: &str = "(not implemented by octo-mysqld-exporter)";

/// The `--collect.<name>` flags under the "Scrapers" heading of `--help`.
fn scrapers_in_help() -> Vec<Row> {
    let output = Command::new(OURS).arg("--help").output().unwrap();
    assert!(output.status.success(), "--help fails: {output:?}");
    let help = String::from_utf8(output.stdout).unwrap();
    let (_, section) = help
        .split_once("\nScrapers:\n")
        .unwrap_or_else(|| panic!("no Scrapers heading in --help:\n{help}"));
    let section = section.split("\n\n").next().unwrap_or_default();
    // A flag's entry starts at its `--` line; its help may wrap onto the following lines.
    let mut entries: Vec<String> = Vec::new();
    for line in section.lines() {
        if line.trim_start().starts_with("--") {
            entries.push(line.trim().to_owned());
        } else if let Some(entry) = entries.last_mut() {
            entry.push(' ');
            entry.push_str(line.trim());
        }
    }
    entries
        .iter()
        .map(|entry| {
            let name = entry
                .strip_prefix("--collect.")
                .and_then(|rest| rest.split_once("[=<BOOL>]"))
                .map(|(name, _)| name.to_owned())
                .unwrap_or_else(|| panic!("not a scraper flag: {entry}"));
            let on = if entry.contains("[default: enabled") {
                true
            } else if entry.contains("[default: disabled") {
                false
            } else {
                panic!("no default in: {entry}")
            };
            (name, on, !entry.contains(NOT_IMPLEMENTED))
        })
        .collect()
}

/// The rows of the table under "## Scrapers".
fn scrapers_in_docs() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/mysqld-exporter.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    let (_, section) = docs.split_once("\n## Scrapers\n").unwrap();
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[0].trim_end_matches('`').to_owned();
            let on = match cells[1] {
                "on" => true,
                "off" => false,
                other => panic!("default of {name} is {other:?}, not on or off"),
            };
            let implemented = match cells[2] {
                "yes" => true,
                "no" => false,
                other => panic!("implemented of {name} is {other:?}, not yes or no"),
            };
            (name, on, implemented)
        })
        .collect()
}

#[test]
fn docs_scraper_table_matches_the_registry() {
    let help = scrapers_in_help();
    assert!(help.len() > 30, "too few scrapers in --help: {help:?}");
    let docs = scrapers_in_docs();
    assert_eq!(
        docs, help,
        "docs/mysqld-exporter.md's scraper table (left) differs from --help (right)"
    );
}
