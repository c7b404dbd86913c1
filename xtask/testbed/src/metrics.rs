//! Reading Prometheus text exposition back, for comparisons between exporters and against
//! golden files, and `promtool check metrics`.
//!
//! Hand-written rather than prometheus-parse: that crate folds histogram series into one value
//! and loses the `# TYPE` of families, while the comparisons here are series by series with
//! each family's declared type.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::command::combined_output;
use crate::error::TestbedError;
use crate::host::require_program;

/// One series: its full name (with `_bucket`/`_sum`/`_count` for histograms), labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Series {
    /// `name{a="b",c="d"}` with labels sorted, for diffs and set comparisons.
    pub fn key(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// A family as written: name, help, type, series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: String,
    pub series: Vec<Series>,
}

impl Family {
    /// The union of label names over the family's series (`le` and `quantile` excluded).
    pub fn label_names(&self) -> BTreeSet<String> {
        self.series
            .iter()
            .flat_map(|s| s.labels.keys())
            .filter(|k| *k != "le" && *k != "quantile")
            .cloned()
            .collect()
    }
}

/// Parsed exposition, families by name.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    /// The value of the one series of `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    pub fn series(&self) -> impl Iterator<Item = &Series> {
        self.families.values().flat_map(|f| f.series.iter())
    }

    /// Family names starting with `prefix`.
    pub fn names_with_prefix(&self, prefix: &str) -> BTreeSet<String> {
        self.families
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// Why exposition text did not parse.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
    pub text: String,
}

fn family_of(name: &str, families: &BTreeMap<String, Family>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families
                .get(base)
                .is_some_and(|f| f.kind == "histogram" || f.kind == "summary")
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

/// Parses text format 0.0.4.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let error = |reason: &str| ParseError {
            line: index + 1,
            reason: reason.into(),
            text: line.chars().take(200).collect(),
        };
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let family = families.entry(name.to_owned()).or_default();
            family.name = name.to_owned();
            family.help = help.replace("\\n", "\n").replace("\\\\", "\\");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| error("TYPE without a type"))?;
            let family = families.entry(name.to_owned()).or_default();
            family.name = name.to_owned();
            family.kind = kind.to_owned();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find(['{', ' ']) {
            Some(pos) if line.as_bytes()[pos] == b'{' => {
                let (labels, after) = parse_labels(&line[pos + 1..]).map_err(|r| error(&r))?;
                (&line[..pos], labels, after)
            }
            Some(pos) => (&line[..pos], BTreeMap::new(), &line[pos..]),
            None => return Err(error("sample without a value")),
        };
        let value_text = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| error("sample without a value"))?;
        let value = match value_text {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            other => other.parse().map_err(|_| error("value is not a number"))?,
        };
        let family_name = family_of(name, &families);
        let family = families.entry(family_name.clone()).or_default();
        if family.name.is_empty() {
            family.name = family_name;
        }
        if family.kind.is_empty() {
            family.kind = "untyped".into();
        }
        family.series.push(Series {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    Ok(Exposition { families })
}

fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = rest[..eq].trim().to_owned();
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("dangling escape".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.insert(name, value);
        rest = &rest[end + 1..];
    }
}

/// Runs `promtool check metrics` on exposition text. Parse errors fail; lint findings (exit
/// status 3, such as a counter without `_total`, which some upstream exporters name that way on
/// purpose) are returned, one per line, for the caller to compare with upstream's own findings.
pub fn promtool_check(text: &str) -> Result<Vec<String>, TestbedError> {
    use std::io::Write as _;
    let program = require_program("promtool", "prometheus")?;
    let mut child = std::process::Command::new(program)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|source| TestbedError::Io {
            context: "running promtool".into(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|source| TestbedError::Io {
            context: "running promtool".into(),
            source,
        })?;
    let report = combined_output(&output);
    match output.status.code() {
        Some(0) => Ok(Vec::new()),
        Some(3) => Ok(report
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        _ => Err(TestbedError::Command {
            service: "promtool check metrics".into(),
            detail: report,
        }),
    }
}

/// Runs a promtool subcommand (`check config`, `check rules`, `test rules`) on files.
pub fn promtool(args: &[&str], files: &[&Path]) -> Result<String, TestbedError> {
    let program = require_program("promtool", "prometheus")?;
    let output = std::process::Command::new(program)
        .args(args)
        .args(files)
        .output()
        .map_err(|source| TestbedError::Io {
            context: "running promtool".into(),
            source,
        })?;
    let text = combined_output(&output);
    if output.status.success() {
        Ok(text)
    } else {
        Err(TestbedError::Command {
            service: format!("promtool {}", args.join(" ")),
            detail: text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_labels_and_histograms() {
        let text = "# HELP a_total A \\\\ b\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\n\"} 1.5e+06\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\nloose 7\n";
        let exp = parse(text).unwrap();
        let a = exp.family("a_total").unwrap();
        assert_eq!(a.kind, "counter");
        assert_eq!(a.help, "A \\ b");
        assert_eq!(a.series[0].labels["y"], "q\"\n");
        assert_eq!(a.series[0].value, 1_500_000.0);
        assert_eq!(exp.family("h").unwrap().series.len(), 4);
        assert_eq!(exp.family("loose").unwrap().kind, "untyped");
        assert_eq!(exp.value("h_bucket", &[("le", "+Inf")]), Some(3.0));
        assert!(parse("x{a=\"1} 2\n").is_err());
        assert!(parse("x notanumber\n").is_err());
    }
}
