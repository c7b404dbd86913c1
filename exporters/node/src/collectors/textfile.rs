//! `textfile`: metrics from `*.prom` files in the directories of `--collector.textfile.directory`
//! (repeatable, Go globs allowed), plus `node_textfile_mtime_seconds{file}` for every file read
//! and `node_textfile_scrape_error` (1 when any directory or file could not be read or parsed).
//!
//! Semantics are node_exporter 1.12's:
//! - a file is parsed whole by the text-format rules of prometheus/common's `expfmt` parser (a
//!   missing final newline, a trailing blank after a value or an unknown escape is an error); a
//!   file with any client-side timestamp is skipped entirely and counts as an error;
//! - families with the same name in several files are merged; a later file whose HELP differs
//!   from the first is dropped (an error), and so is every later file of that family;
//! - families without HELP get `Metric read from <files>`;
//! - within a family, series missing a label another series has get it with an empty value;
//! - histograms and summaries are re-exposed with sorted buckets and quantiles, `+Inf` added
//!   from the count when absent;
//! - series the Prometheus registry would refuse (a second series with the same labels, a
//!   family whose help or type differs from the first one seen) are dropped, first one wins.
//!
//! Why a hand-written parser: the expfmt parser's exact acceptance rules are part of the
//! contract (a file upstream rejects must be rejected here, or `node_textfile_scrape_error`
//! and the alerts on it differ), and no Rust crate reproduces them: `prometheus-parse` folds
//! histograms and accepts what expfmt refuses, `openmetrics-parser` implements a different
//! grammar. The parser is line-oriented and never panics (property-tested below).
//!
//! Deliberate difference: a `gaugehistogram` family (which expfmt parses but node_exporter's
//! converter panics on, taking the exporter down) makes that file an error instead.
//! And only regular files (symlinks followed, as upstream) of at most
//! `--collector.textfile.max-file-size` bytes are read: a FIFO, device, socket or bigger file is
//! an error for that file, never a blocked or endless read (see `regular_file`).

mod parser;
mod regular_file;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use octo_exporter_kit::exposition::write_go_float;
use octo_exporter_kit::{FlagSet, MetricFamily, MetricType};

use crate::collector::{Builder, Collector, CollectorError};
use crate::gopath::{BadPattern, go_glob, go_join, go_match};

use parser::{Count, MetricValue, ParsedFamily, TextError, TextKind, parse_text};
use regular_file::{Unreadable, read_regular_file};

/// The size cap's flag, named again in the messages of the files it skips.
const MAX_FILE_SIZE_FLAG: &str = "collector.textfile.max-file-size";

/// Generous: the largest textfiles seen in practice are a few MiB.
const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

pub fn declare(set: &mut FlagSet) -> Builder {
    let directory = set.repeatable(
        "collector.textfile.directory",
        &[],
        "Directory to read text files with metrics from, supports glob matching. (repeatable)",
    );
    let max_file_size = set.number(
        MAX_FILE_SIZE_FLAG,
        DEFAULT_MAX_FILE_SIZE,
        "Largest textfile read, in bytes; a bigger file is skipped and sets node_textfile_scrape_error.",
    );
    Box::new(move |context| {
        let max_file_size = context.flags.get(max_file_size);
        let patterns: Vec<String> = context
            .flags
            .get(directory)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for pattern in &patterns {
            if let Err(BadPattern) = go_match(pattern, "") {
                tracing::warn!(
                    pattern,
                    "textfile directory is not a valid glob pattern; read as a plain directory"
                );
            }
        }
        Ok(Box::new(Textfile {
            patterns,
            max_file_size,
        }))
    })
}

struct Textfile {
    patterns: Vec<String>,
    /// Files bigger than this many bytes are skipped (an error), and never read past it.
    max_file_size: u64,
}

/// Why a file was not taken.
enum FileError {
    Unreadable(Unreadable),
    Stat(std::io::Error),
    Parse(TextError),
    Timestamps,
    Unsupported(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Unreadable(
                err @ (Unreadable::TooBig { .. } | Unreadable::GrewTooBig { .. }),
            ) => write!(f, "{err} (--{MAX_FILE_SIZE_FLAG})"),
            FileError::Unreadable(err) => err.fmt(f),
            FileError::Stat(err) => write!(f, "failed to stat: {err}"),
            FileError::Parse(err) => write!(f, "failed to parse textfile data: {err}"),
            FileError::Timestamps => {
                f.write_str("contains unsupported client-side timestamps, skipping entire file")
            }
            FileError::Unsupported(family) => write!(
                f,
                "family {family:?} is a gaugehistogram, which the textfile collector does not support"
            ),
        }
    }
}

/// Reads and parses one file: its families and mtime (seconds, truncated as upstream).
fn process_file(path: &str, max_size: u64) -> Result<(Vec<ParsedFamily>, f64), FileError> {
    let (file, bytes) =
        read_regular_file(Path::new(path), max_size).map_err(FileError::Unreadable)?;
    let families = parse_text(&bytes).map_err(FileError::Parse)?;
    if families
        .iter()
        .any(|f| f.metrics.iter().any(|m| m.timestamped))
    {
        return Err(FileError::Timestamps);
    }
    if let Some(family) = families.iter().find(|f| f.kind == TextKind::GaugeHistogram) {
        return Err(FileError::Unsupported(family.name.clone()));
    }
    // Stat only once parsed and validated, so a broken file does not look fresh.
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(FileError::Stat)?;
    let seconds = match modified.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as f64,
        Err(before) => -(before.duration().as_secs() as f64),
    };
    Ok((families, seconds))
}

fn convert_kind(kind: TextKind) -> MetricType {
    match kind {
        TextKind::Counter => MetricType::Counter,
        TextKind::Gauge => MetricType::Gauge,
        TextKind::Untyped => MetricType::Untyped,
        TextKind::Summary => MetricType::Summary,
        TextKind::Histogram | TextKind::GaugeHistogram => MetricType::Histogram,
    }
}

fn go_label(value: f64) -> String {
    let mut text = String::new();
    write_go_float(&mut text, value);
    text
}

/// Series already gathered, by family name and sorted labels (without `le`/`quantile`).
type SeenSeries = HashSet<(String, Vec<(String, String)>)>;

/// A parsed family as an exposition family: missing labels filled with `""`, histogram and
/// summary parts written out, series already in `seen` left out (the registry refuses them).
fn convert(family: &ParsedFamily, help: &str, seen: &mut SeenSeries) -> MetricFamily {
    let kind = convert_kind(family.kind);
    let all_names: BTreeSet<&str> = family
        .metrics
        .iter()
        .flat_map(|m| m.labels.iter().map(|(n, _)| n.as_str()))
        .collect();
    let mut out = MetricFamily::new(family.name.clone(), help.to_owned(), kind);
    for metric in &family.metrics {
        let mut labels = metric.labels.clone();
        for name in &all_names {
            if !labels.iter().any(|(n, _)| n == name) {
                labels.push(((*name).to_owned(), String::new()));
            }
        }
        let mut key = labels.clone();
        key.sort();
        if !seen.insert((family.name.clone(), key)) {
            tracing::error!(metric = %family.name, ?labels, "series collected before with the same name and label values; dropped");
            continue;
        }
        let with = |extra: &str, value: f64| {
            let mut l = labels.clone();
            l.push((extra.to_owned(), go_label(value)));
            l
        };
        match &metric.value {
            MetricValue::Simple(value) => out.push_owned(labels, *value),
            MetricValue::Summary {
                count,
                sum,
                quantiles,
            } => {
                // A repeated quantile keeps its last value; quantiles are written sorted.
                let mut sorted: Vec<(f64, f64)> = Vec::with_capacity(quantiles.len());
                for &(q, v) in quantiles {
                    match sorted.iter_mut().find(|(existing, _)| *existing == q) {
                        Some(slot) => slot.1 = v,
                        None => sorted.push((q, v)),
                    }
                }
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (q, v) in sorted {
                    out.push_part("", with("quantile", q), v);
                }
                out.push_part("_sum", labels.clone(), *sum);
                out.push_part("_count", labels.clone(), *count as f64);
            }
            MetricValue::Histogram {
                count,
                sum,
                buckets,
            } => {
                // node_exporter re-creates histograms from their integer counts only: a
                // histogram with any non-integer count comes out with all counts 0 there.
                let floats = matches!(count, Count::Float(_))
                    || buckets.iter().any(|(_, c)| matches!(c, Count::Float(_)));
                let value = |c: &Count| match (floats, c) {
                    (true, _) | (false, Count::Float(_)) => 0.0,
                    (false, Count::Int(n)) => *n as f64,
                };
                let mut sorted: Vec<(f64, f64)> = Vec::with_capacity(buckets.len() + 1);
                for (bound, c) in buckets {
                    match sorted.iter_mut().find(|(existing, _)| existing == bound) {
                        Some(slot) => slot.1 = value(c),
                        None => sorted.push((*bound, value(c))),
                    }
                }
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
                let total = value(count);
                let has_inf = sorted.last().is_some_and(|(b, _)| *b == f64::INFINITY);
                for (bound, v) in sorted {
                    out.push_part("_bucket", with("le", bound), v);
                }
                if !has_inf {
                    out.push_part("_bucket", with("le", f64::INFINITY), total);
                }
                out.push_part("_sum", labels.clone(), *sum);
                out.push_part("_count", labels.clone(), total);
            }
        }
    }
    out
}

/// What the Prometheus registry remembers of a family while gathering.
struct Registered {
    help: String,
    kind: MetricType,
}

impl Textfile {
    /// The directories to read: each pattern's glob matches, or the pattern itself.
    fn directories(&self) -> Vec<String> {
        let mut out = Vec::new();
        for pattern in &self.patterns {
            match go_glob(pattern) {
                Ok(matches) if !matches.is_empty() => out.extend(matches),
                _ => out.push(pattern.clone()),
            }
        }
        out
    }
}

impl Collector for Textfile {
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let reading = self.read();
        export_families(&reading, out);
        export_status(reading, out);
        Ok(())
    }
}

/// What the directories held.
#[derive(Default)]
struct Reading {
    /// A directory or file could not be read or parsed, or a family's help was inconsistent.
    errored: bool,
    /// The families kept, in file order.
    parsed: Vec<ParsedFamily>,
    /// The files each family was read from.
    files_of: HashMap<String, Vec<String>>,
    /// Per family: the first help seen, and whether an inconsistent one was seen since.
    helps: HashMap<String, (String, bool)>,
    /// The files read, with their modification times.
    mtimes: Vec<(String, f64)>,
}

impl Reading {
    /// Keeps a file's families, unless one's help differs from the first file's (that family is
    /// then dropped from this and every later file).
    fn add_file(&mut self, path: String, families: Vec<ParsedFamily>, mtime: f64) {
        for family in families {
            if let Some((first, poisoned)) = self.helps.get_mut(&family.name) {
                let differs = family.help.as_ref().is_some_and(|h| h != first);
                if differs || *poisoned {
                    *poisoned = true;
                    self.errored = true;
                    tracing::error!(
                        metric = %family.name,
                        original_help_text = %first,
                        new_help_text = %family.help.as_deref().unwrap_or(""),
                        file = %self.files_of.get(&family.name).and_then(|f| f.first()).map_or("", String::as_str),
                        "inconsistent metric help text"
                    );
                    continue;
                }
            }
            if let Some(help) = &family.help {
                self.helps
                    .insert(family.name.clone(), (help.clone(), false));
            }
            self.files_of
                .entry(family.name.clone())
                .or_default()
                .push(path.clone());
            self.parsed.push(family);
        }
        self.mtimes.push((path, mtime));
    }
}

impl Textfile {
    /// Reads every `*.prom` file of every directory, in name order.
    fn read(&self) -> Reading {
        let mut reading = Reading::default();
        for dir in self.directories() {
            let mut names: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect(),
                Err(err) => {
                    if !dir.is_empty() {
                        reading.errored = true;
                        tracing::error!(path = %dir, %err, "failed to read textfile collector directory");
                    }
                    continue;
                }
            };
            names.sort();
            for name in names.iter().filter(|n| n.ends_with(".prom")) {
                let path = go_join(&dir, name);
                let (families, mtime) = match process_file(&path, self.max_file_size) {
                    Ok(read) => read,
                    Err(err) => {
                        reading.errored = true;
                        tracing::error!(file = %name, err = %err, "failed to collect textfile data");
                        continue;
                    }
                };
                reading.add_file(path, families, mtime);
            }
        }
        reading
    }
}

/// The families read, each registered once with its help and type, as the Prometheus registry
/// would accept them.
fn export_families(reading: &Reading, out: &mut Vec<MetricFamily>) {
    let mut registered: HashMap<String, Registered> = HashMap::new();
    let mut seen_series = SeenSeries::new();
    for family in &reading.parsed {
        let help = match &family.help {
            Some(help) => help.clone(),
            None => format!(
                "Metric read from {}",
                reading
                    .files_of
                    .get(&family.name)
                    .map_or(String::new(), |f| f.join(", "))
            ),
        };
        let kind = convert_kind(family.kind);
        match registered.get(&family.name) {
            Some(first) if first.help != help || first.kind != kind => {
                tracing::error!(
                    metric = %family.name,
                    "textfile family has a different help or type than the same family read before; dropped"
                );
                continue;
            }
            Some(_) => {}
            None => {
                registered.insert(
                    family.name.clone(),
                    Registered {
                        help: help.clone(),
                        kind,
                    },
                );
            }
        }
        let converted = convert(family, &help, &mut seen_series);
        out.push(converted);
    }
}

/// `node_textfile_mtime_seconds` and `node_textfile_scrape_error`.
fn export_status(mut reading: Reading, out: &mut Vec<MetricFamily>) {
    if !reading.mtimes.is_empty() {
        reading.mtimes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut family = MetricFamily::gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
        );
        for (path, mtime) in reading.mtimes {
            family.push(&[("file", &path)], mtime);
        }
        out.push(family);
    }
    out.push(
        MetricFamily::gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
        )
        .with(&[], if reading.errored { 1.0 } else { 0.0 }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gopath::go_clean_path;
    use octo_exporter_kit::exposition::encode_text;
    use std::path::{Path, PathBuf};

    fn fixtures() -> Option<PathBuf> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/node_exporter/fixtures/textfile");
        if path.is_dir() {
            return Some(path);
        }
        if std::env::var("OCTO_SKIP_SHARED_FIXTURES").as_deref() == Ok("1") {
            eprintln!("skipping: {} is absent", path.display());
            return None;
        }
        panic!(
            "node_exporter's textfile fixtures are expected at {} (set OCTO_SKIP_SHARED_FIXTURES=1 to skip deliberately)",
            path.display()
        );
    }

    fn collect(patterns: Vec<String>) -> Vec<MetricFamily> {
        let collector = Textfile {
            patterns,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        };
        let mut out = Vec::new();
        collector.update(&mut out).expect("textfile never fails");
        out
    }

    fn exposition(families: Vec<MetricFamily>) -> String {
        let mut bytes = Vec::new();
        encode_text(families, &mut bytes);
        String::from_utf8(bytes).expect("UTF-8 exposition")
    }

    /// Upstream's own test cases: the directories given and the expected output.
    const CASES: &[(&[&str], &str)] = &[
        (&["no_metric_files"], "no_metric_files.out"),
        (&["two_metric_files"], "two_metric_files.out"),
        (&["nonexistent_path"], "nonexistent_path.out"),
        (&["client_side_timestamp"], "client_side_timestamp.out"),
        (&["different_metric_types"], "different_metric_types.out"),
        (&["inconsistent_metrics"], "inconsistent_metrics.out"),
        (&["histogram"], "histogram.out"),
        (
            &["histogram_extra_dimension"],
            "histogram_extra_dimension.out",
        ),
        (&["summary"], "summary.out"),
        (&["summary_extra_dimension"], "summary_extra_dimension.out"),
        (
            &["histogram_extra_dimension", "summary_extra_dimension"],
            "glob_extra_dimension.out",
        ),
        (&["*_extra_dimension"], "glob_extra_dimension.out"),
        (
            &["metrics_merge_empty_help"],
            "metrics_merge_empty_help.out",
        ),
        (&["metrics_merge_no_help"], "metrics_merge_no_help.out"),
        (&["metrics_merge_same_help"], "metrics_merge_same_help.out"),
        (
            &["metrics_merge_different_help"],
            "metrics_merge_different_help.out",
        ),
    ];

    #[test]
    fn reproduces_upstream_fixture_cases() {
        let Some(dir) = fixtures() else { return };
        let base = go_clean_path(&dir.to_string_lossy());
        // Upstream's test runs from the collector directory; its labels and helps say
        // `fixtures/textfile/...` where ours carry the absolute path.
        let relative = |text: &str| text.replace(&base, "fixtures/textfile");
        let mut failures = Vec::new();
        for (dirs, out_file) in CASES {
            let patterns = dirs
                .iter()
                .map(|d| dir.join(d).to_string_lossy().into_owned())
                .collect();
            let ours_text = exposition(collect(patterns));
            let ours = octo_testbed::metrics::parse(&ours_text)
                .unwrap_or_else(|e| panic!("{out_file}: our output does not parse: {e}"));
            let golden_text = std::fs::read_to_string(dir.join(out_file)).unwrap();
            let golden = octo_testbed::metrics::parse(&golden_text).unwrap();
            let names: BTreeSet<&String> =
                ours.families.keys().chain(golden.families.keys()).collect();
            for name in names {
                let (Some(mine), Some(theirs)) = (ours.family(name), golden.family(name)) else {
                    failures.push(format!("{out_file}: family {name} only on one side"));
                    continue;
                };
                if relative(&mine.help) != theirs.help || mine.kind != theirs.kind {
                    failures.push(format!(
                        "{out_file}: {name}: help/type {:?}/{} vs {:?}/{}",
                        relative(&mine.help),
                        mine.kind,
                        theirs.help,
                        theirs.kind
                    ));
                }
                let key = |s: &octo_testbed::metrics::Series| {
                    let mut s = s.clone();
                    for value in s.labels.values_mut() {
                        *value = relative(value);
                    }
                    s.key()
                };
                let mut mine_series: Vec<(String, f64)> =
                    mine.series.iter().map(|s| (key(s), s.value)).collect();
                let mut their_series: Vec<(String, f64)> =
                    theirs.series.iter().map(|s| (key(s), s.value)).collect();
                if name == "node_textfile_mtime_seconds" {
                    // Upstream's test pins mtimes to 1; ours are the files' real mtimes.
                    assert!(mine_series.iter().all(|(_, v)| *v > 1.0e9));
                    mine_series.iter_mut().for_each(|(_, v)| *v = 1.0);
                    their_series.iter_mut().for_each(|(_, v)| *v = 1.0);
                }
                mine_series.sort_by(|a, b| a.0.cmp(&b.0));
                their_series.sort_by(|a, b| a.0.cmp(&b.0));
                if mine_series != their_series {
                    failures.push(format!(
                        "{out_file}: {name}:\n  ours   {mine_series:?}\n  golden {their_series:?}"
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn default_empty_directory_reports_no_error() {
        let out = exposition(collect(Vec::new()));
        assert_eq!(
            out,
            "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n\
             # TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n"
        );
    }

    #[test]
    fn later_files_with_other_help_are_dropped_and_types_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "a.prom",
            "# HELP x First.\n# TYPE x gauge\nx{f=\"a\"} 1\ny 1\n",
        );
        write("b.prom", "# HELP x Second.\n# TYPE x gauge\nx{f=\"b\"} 2\n");
        write("c.prom", "# HELP x First.\n# TYPE x gauge\nx{f=\"c\"} 3\n");
        write("d.prom", "# TYPE y counter\ny{f=\"d\"} 4\n");
        write("e.prom", "z 1\nz 2\n");
        write("ignored.txt", "garbage");
        let text = exposition(collect(vec![dir.path().to_string_lossy().into_owned()]));
        let exp = octo_testbed::metrics::parse(&text).unwrap();
        let x: Vec<f64> = exp
            .family("x")
            .unwrap()
            .series
            .iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(x, vec![1.0], "b and every later file of x are dropped");
        // y: untyped from a.prom first; d.prom's counter y conflicts and is dropped.
        let y = exp.family("y").unwrap();
        assert_eq!((y.kind.as_str(), y.series.len()), ("untyped", 1));
        assert_eq!(exp.family("z").unwrap().series.len(), 1);
        assert_eq!(exp.value("node_textfile_scrape_error", &[]), Some(1.0));
        assert_eq!(
            exp.family("node_textfile_mtime_seconds")
                .unwrap()
                .series
                .len(),
            5
        );
    }

    #[test]
    fn parser_follows_expfmt() {
        let ok =
            |text: &str| parse_text(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let err = |text: &str| {
            assert!(
                parse_text(text.as_bytes()).is_err(),
                "{text:?} should be refused"
            );
        };
        let f = ok(
            "# HELP a  Some \\\\ help\\n.\n# TYPE a counter\na{x=\"1\",y=\"q\\\"\\n\"} 1.5e+06\n",
        );
        assert_eq!(f[0].help.as_deref(), Some("Some \\ help\n."));
        assert_eq!(f[0].kind, TextKind::Counter);
        assert_eq!(
            f[0].metrics[0].labels,
            vec![("x".into(), "1".into()), ("y".into(), "q\"\n".into())]
        );
        assert_eq!(f[0].metrics[0].value, MetricValue::Simple(1_500_000.0));
        // Whitespace inside braces, trailing comma, comments, blank lines, tabs.
        let f = ok("  # a comment\n\n\tb { a = \"1\" , } \t 2\n#TYPE\n# HELP c\nc +Inf\nd NaN\n");
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].metrics[0].value, MetricValue::Simple(f64::INFINITY));
        // An empty HELP is no HELP.
        assert_eq!(ok("# HELP e \ne 1\n")[0].help, None);
        // Quoted names, braces first.
        let f = ok("{\"f\", a=\"b\"} 1\n\"g\" 2\n");
        assert_eq!((f[0].name.as_str(), f[1].name.as_str()), ("f", "g"));
        // Timestamps are parsed (and make the collector skip the file).
        assert!(ok("h 1 1441205977284\n")[0].metrics[0].timestamped);
        // Summaries group by labels without quantile; _sum/_count join them.
        let f = ok(
            "# TYPE s summary\ns{q=\"1\",quantile=\"0.5\"} 3\ns_sum{q=\"1\"} 4\ns_count{q=\"1\"} 5\n",
        );
        assert_eq!(
            f[0].metrics[0].value,
            MetricValue::Summary {
                count: 5,
                sum: 4.0,
                quantiles: vec![(0.5, 3.0)]
            }
        );
        let f =
            ok("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2.5\nh_count 2\n");
        assert_eq!(
            f[0].metrics[0].value,
            MetricValue::Histogram {
                count: Count::Int(2),
                sum: 0.0,
                buckets: vec![(1.0, Count::Int(1)), (f64::INFINITY, Count::Float(2.5))]
            }
        );
        // Only HELP/TYPE, no samples: no family.
        assert!(ok("# HELP only Nothing here.\n# TYPE only gauge\n").is_empty());

        for bad in [
            "a 1",                    // no final newline
            "a 1 \n",                 // trailing blank after the value
            "a 1 2 3\n",              // spurious text after the timestamp
            "a 1 x\n",                // timestamp not an integer
            "a one\n",                // value not a number
            "a 1_000\n",              // underscores
            "a 0x1p3\n",              // hex floats
            "a\n",                    // no value
            "a{b=\"1\"\n",            // unterminated label set
            "a{b=1} 1\n",             // unquoted label value
            "a{b=\"1\",b=\"2\"} 1\n", // duplicate label
            "a{__name__=\"x\"} 1\n",  // reserved label
            "a{b=\"\\x\"} 1\n",       // bad escape
            "a{1b=\"1\"} 1\n",        // bad label name
            "{b=\"1\"} 1\n",          // no metric name
            "9a 1\n",                 // bad metric name
            "a-b 1\n",                // bad metric name
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",
            "# HELP a x\n# HELP a y\na 1\n",
            "a 1\n# TYPE a gauge\n",  // TYPE after samples
            "# TYPE a gauge \na 1\n", // type with a trailing blank
            "# TYPE a nonsense\na 1\n",
            "# HELP a ends with \\\na 1\n",
            "# HELP a{ x\n", // invalid name in comment
            "a 1e400\n",     // out of range
            "# TYPE h histogram\nh_bucket{le=\"1\"} -1\n",
            "# TYPE s summary\ns{quantile=\"x\"} 1\n",
            "a 1\r\n", // CRLF
        ] {
            err(bad);
        }
    }

    fn label_value() -> impl proptest::strategy::Strategy<Value = String> {
        "[a-zA-Z0-9 \"\\\\\n{}=,#]{0,12}"
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(text in "(?s).{0,300}") {
            let _ = parse_text(text.as_bytes());
        }

        #[test]
        fn garbage_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_text(&bytes);
        }

        #[test]
        fn truncated_files_never_panic(cut in 0usize..400) {
            let text = "# HELP a x\\\\y\n# TYPE a summary\na{b=\"1\",quantile=\"0.5\"} 1\na_sum{b=\"1\"} 2\n\
                        a_count{b=\"1\"} 3\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
                        h_sum 3\nh_count 2\n{\"q\",c=\"d\"} 4 5\n";
            let cut = cut.min(text.len());
            let _ = parse_text(&text.as_bytes()[..cut]);
        }

        #[test]
        fn our_own_exposition_parses_back(
            values in proptest::collection::vec((label_value(), proptest::num::f64::ANY), 1..6)
        ) {
            let mut family = MetricFamily::gauge("m", "Help \\ with\nnewline");
            for (i, (value, v)) in values.iter().enumerate() {
                family.push(&[("l", value), ("i", &i.to_string())], *v);
            }
            let text = exposition(vec![family]);
            let parsed = parse_text(text.as_bytes()).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(parsed.len(), 1);
            proptest::prop_assert_eq!(parsed[0].help.as_deref(), Some("Help \\ with\nnewline"));
            proptest::prop_assert_eq!(parsed[0].metrics.len(), values.len());
            for metric in &parsed[0].metrics {
                let i: usize = metric.labels.iter().find(|(n, _)| n == "i").unwrap().1.parse().unwrap();
                let l = &metric.labels.iter().find(|(n, _)| n == "l").unwrap().1;
                proptest::prop_assert_eq!(l, &values[i].0);
                let MetricValue::Simple(v) = metric.value else { unreachable!() };
                proptest::prop_assert!(v == values[i].1 || (v.is_nan() && values[i].1.is_nan()));
            }
        }
    }

    // Hostile files in a textfile directory (issue 13, item 6): only regular files are read,
    // never more than the cap, and nothing blocks. Scrapes run on a thread of their own, so a
    // regression that blocks fails the test instead of hanging it.

    use super::regular_file::{open_checked, read_at_most};
    use octo_testbed::metrics::Exposition;
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    /// Far more than reading a few small files takes, even on a loaded machine.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Runs `work` on a thread of its own; `None` when it is still running after `patience`.
    fn within<T: Send + 'static>(
        patience: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(work());
        });
        match finished.recv_timeout(patience) {
            Ok(value) => Some(value),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("the scraping thread panicked"),
        }
    }

    /// One scrape of `dir` by the collector built from its flags as the exporter builds it.
    fn scrape(dir: &Path, extra: &[&str]) -> Exposition {
        let directory = format!("--collector.textfile.directory={}", dir.display());
        let mut args = vec![directory.as_str()];
        args.extend_from_slice(extra);
        let paths = crate::paths::Paths::default();
        let collector = crate::collectors::testing::build(declare, &paths, &args).unwrap();
        let mut out = Vec::new();
        collector.update(&mut out).unwrap();
        octo_testbed::metrics::parse(&exposition(out)).unwrap()
    }

    /// A directory holding one good file, `good.prom`, next to the hostile ones.
    fn directory_with_a_good_file() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.prom"), "good 1\n").unwrap();
        dir
    }

    /// The good file was read and exported, and nothing else was; the scrape reports the error.
    fn assert_only_the_good_file_was_read(exp: &Exposition, dir: &Path) {
        assert_eq!(exp.value("good", &[]), Some(1.0));
        assert_eq!(exp.value("node_textfile_scrape_error", &[]), Some(1.0));
        let read: Vec<&str> = exp
            .family("node_textfile_mtime_seconds")
            .unwrap()
            .series
            .iter()
            .map(|s| s.labels["file"].as_str())
            .collect();
        let good = dir.join("good.prom");
        assert_eq!(read, vec![good.to_str().unwrap()]);
        let families: Vec<&String> = exp
            .families
            .keys()
            .filter(|name| !name.starts_with("node_textfile_"))
            .collect();
        assert_eq!(families, vec!["good"]);
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
    }

    /// Lets a reader stuck opening `fifo` go: a writer that comes and leaves at once.
    fn release_fifo_reader(fifo: &Path) {
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
    }

    #[test]
    fn fifo_in_textfile_directory_does_not_block_a_scrape() {
        let dir = directory_with_a_good_file();
        let fifo = dir.path().join("pipe.prom");
        mkfifo(&fifo);
        // And a symlink to it, which must not block either.
        std::os::unix::fs::symlink(&fifo, dir.path().join("to_pipe.prom")).unwrap();
        let root = dir.path().to_owned();
        let Some(exp) = within(PATIENCE, move || scrape(&root, &[])) else {
            release_fifo_reader(&fifo);
            release_fifo_reader(&fifo);
            panic!("a scrape with a FIFO in the directory was still blocked after {PATIENCE:?}");
        };
        assert_only_the_good_file_was_read(&exp, dir.path());
    }

    #[test]
    fn fifo_swapped_in_after_the_type_check_does_not_block_either() {
        // What the open itself does when a FIFO replaced the regular file after its type was
        // checked: it returns at once and the descriptor's own type refuses it.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("swapped.prom");
        mkfifo(&fifo);
        let opening = fifo.clone();
        let Some(opened) = within(PATIENCE, move || open_checked(&opening, 1 << 20).err()) else {
            release_fifo_reader(&fifo);
            panic!("opening a FIFO was still blocked after {PATIENCE:?}");
        };
        assert!(
            matches!(opened, Some(Unreadable::NotRegular(kind)) if kind.contains("FIFO")),
            "{opened:?}"
        );
    }

    #[test]
    fn dev_zero_symlink_is_skipped() {
        let dir = directory_with_a_good_file();
        let zero = dir.path().join("zero.prom");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let root = dir.path().to_owned();
        // Short: a regression reads /dev/zero into memory as fast as it can.
        let scraped = within(Duration::from_secs(3), move || {
            let read =
                read_regular_file(&zero, DEFAULT_MAX_FILE_SIZE).map(|(_, bytes)| bytes.len());
            (scrape(&root, &[]), read)
        });
        let Some((exp, read)) = scraped else {
            // The thread cannot be stopped and would take all the memory it can get. Written
            // to stderr directly: the harness's capture of `eprintln!` is lost on exit.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "dev_zero_symlink_is_skipped: /dev/zero was still being read after 3s; exiting"
            );
            std::process::exit(101);
        };
        assert!(
            matches!(read, Err(Unreadable::NotRegular("character device"))),
            "{read:?}"
        );
        assert_only_the_good_file_was_read(&exp, dir.path());
    }

    #[test]
    fn device_nodes_and_sockets_are_skipped() {
        let dir = directory_with_a_good_file();
        let mut hostile = vec![(dir.path().join("null.prom"), "character device")];
        std::os::unix::fs::symlink("/dev/null", &hostile[0].0).unwrap();
        // A device node of the directory's own, where the test may create one (as root).
        let node = dir.path().join("node.prom");
        let created = std::process::Command::new("mknod")
            .arg(&node)
            .args(["c", "1", "3"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if created {
            hostile.push((node, "character device"));
        } else {
            eprintln!("mknod not permitted here: only /dev/null's symlink stands for devices");
        }
        let socket = dir.path().join("socket.prom");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        hostile.push((socket, "socket"));
        std::fs::create_dir(dir.path().join("directory.prom")).unwrap();
        hostile.push((dir.path().join("directory.prom"), "directory"));

        let root = dir.path().to_owned();
        let Some(exp) = within(PATIENCE, move || scrape(&root, &[])) else {
            panic!("a scrape with devices in the directory was still running after {PATIENCE:?}");
        };
        assert_only_the_good_file_was_read(&exp, dir.path());
        for (path, kind) in hostile {
            let read = read_regular_file(&path, DEFAULT_MAX_FILE_SIZE).map(|(_, b)| b.len());
            assert!(
                matches!(read, Err(Unreadable::NotRegular(k)) if k == kind),
                "{}: {read:?}",
                path.display()
            );
        }
    }

    #[test]
    fn huge_textfile_is_skipped_at_the_cap() {
        let dir = directory_with_a_good_file();
        let lines = |count: usize| -> String {
            (0..count)
                .map(|i| format!("huge{{i=\"{i:05}\"}} 1\n"))
                .collect()
        };
        // 18 bytes a line: 228 lines are 4104 bytes, over a cap of 4096.
        let huge = dir.path().join("huge.prom");
        let text = lines(228);
        assert_eq!(text.len(), 4104);
        std::fs::write(&huge, text).unwrap();
        // Exactly at the cap is still read.
        let at_cap = "# HELP at_cap x\n".to_owned();
        let filler = 4096 - at_cap.len() - "at_cap 1\n".len();
        let text = format!("{at_cap}#{}\nat_cap 1\n", " ".repeat(filler - 2));
        assert_eq!(text.len(), 4096);
        std::fs::write(dir.path().join("at_cap.prom"), text).unwrap();

        let root = dir.path().to_owned();
        let Some(exp) = within(PATIENCE, move || {
            scrape(&root, &["--collector.textfile.max-file-size=4096"])
        }) else {
            panic!("the scrape was still running after {PATIENCE:?}");
        };
        assert_eq!(exp.value("at_cap", &[]), Some(1.0));
        assert!(
            exp.family("huge").is_none(),
            "the file over the cap was read"
        );
        assert_eq!(exp.value("node_textfile_scrape_error", &[]), Some(1.0));
        assert_eq!(
            exp.family("node_textfile_mtime_seconds")
                .unwrap()
                .series
                .len(),
            2
        );
        let read = read_regular_file(&huge, 4096).map(|(_, b)| b.len());
        assert!(
            matches!(
                read,
                Err(Unreadable::TooBig {
                    size: 4104,
                    max_size: 4096
                })
            ),
            "{read:?}"
        );

        // The default cap, 64 MiB, with a sparse file one byte over it: refused on its size.
        std::fs::remove_file(&huge).unwrap();
        let sparse = dir.path().join("sparse.prom");
        let file = std::fs::File::create(&sparse).unwrap();
        file.set_len(DEFAULT_MAX_FILE_SIZE + 1).unwrap();
        let root = dir.path().to_owned();
        let Some((exp, read)) = within(PATIENCE, move || {
            let read = read_regular_file(&sparse, DEFAULT_MAX_FILE_SIZE).map(|(_, b)| b.len());
            (scrape(&root, &[]), read)
        }) else {
            panic!("the scrape was still running after {PATIENCE:?}");
        };
        assert!(
            matches!(
                read,
                Err(Unreadable::TooBig {
                    max_size: DEFAULT_MAX_FILE_SIZE,
                    ..
                })
            ),
            "{read:?}"
        );
        let read: Vec<&str> = exp
            .family("node_textfile_mtime_seconds")
            .unwrap()
            .series
            .iter()
            .map(|s| s.labels["file"].as_str())
            .collect();
        assert!(
            read.len() == 2 && !read.iter().any(|f| f.ends_with("sparse.prom")),
            "{read:?}"
        );
        assert_eq!(exp.value("node_textfile_scrape_error", &[]), Some(1.0));
    }

    /// A file that a writer appends to on every read: it is always longer than what was read.
    struct GrowsWhileRead {
        reader: std::fs::File,
        writer: std::fs::File,
        served: u64,
        limit: u64,
    }

    impl std::io::Read for GrowsWhileRead {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            use std::io::Write as _;
            self.writer.write_all(&b"grows 1\n".repeat(128))?;
            let read = self.reader.read(buf)?;
            self.served += read as u64;
            assert!(
                self.served <= self.limit,
                "read {} bytes of a file capped at a tenth of that",
                self.served
            );
            Ok(read)
        }
    }

    #[test]
    fn growing_file_is_read_no_further_than_the_cap() {
        const CAP: u64 = 4096;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grows.prom");
        // Under the cap when its size is checked.
        std::fs::write(&path, "grows 1\n".repeat(100)).unwrap();
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut grows = GrowsWhileRead {
            reader: std::fs::File::open(&path).unwrap(),
            writer,
            served: 0,
            limit: 10 * CAP,
        };
        let read = read_at_most(&mut grows, CAP, 800).map(|b| b.len());
        assert!(
            matches!(read, Err(Unreadable::GrewTooBig { max_size: CAP })),
            "{read:?}"
        );
        assert!(grows.served <= CAP + 1, "read {} bytes", grows.served);

        // A file whose size says 0 and that holds more (a /proc file, through a symlink) is
        // read no further than the cap either.
        let link = dir.path().join("proc.prom");
        std::os::unix::fs::symlink("/proc/self/status", &link).unwrap();
        let read = read_regular_file(&link, 64).map(|(_, b)| b.len());
        assert!(
            matches!(read, Err(Unreadable::GrewTooBig { max_size: 64 })),
            "{read:?}"
        );
    }

    #[test]
    fn symlinks_to_regular_files_are_followed_as_upstream() {
        let dir = directory_with_a_good_file();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("target.txt");
        std::fs::write(&target, "linked 2\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("linked.prom")).unwrap();
        let exp = scrape(dir.path(), &[]);
        assert_eq!(exp.value("good", &[]), Some(1.0));
        assert_eq!(exp.value("linked", &[]), Some(2.0));
        assert_eq!(exp.value("node_textfile_scrape_error", &[]), Some(0.0));
    }
}
