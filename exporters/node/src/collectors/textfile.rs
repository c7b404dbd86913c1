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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Read as _;
use std::time::SystemTime;

use octo_exporter_kit::exposition::write_go_float;
use octo_exporter_kit::{FlagSet, Flags, MetricFamily, MetricType};

use super::{BuildError, Collector, CollectorError};
use crate::paths::Paths;

const DIRECTORY_FLAG: &str = "collector.textfile.directory";

pub fn flags(set: FlagSet) -> FlagSet {
    set.repeatable(
        DIRECTORY_FLAG,
        &[],
        "Directory to read text files with metrics from, supports glob matching. (repeatable)",
        |arg| arg,
    )
}

pub fn build(flags: &Flags, _paths: &Paths) -> Result<Box<dyn Collector>, BuildError> {
    let patterns: Vec<String> = flags
        .values(DIRECTORY_FLAG)
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
    Ok(Box::new(Textfile { patterns }))
}

// ---------------------------------------------------------------------------------------------
// Go path semantics: `filepath.Clean`, `filepath.Match`, `filepath.Glob`.
// ---------------------------------------------------------------------------------------------

/// Go's `filepath.Clean` (Unix): the shortest equivalent path, lexically.
pub(crate) fn go_clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join(dir, name)`.
fn go_join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean_path(name),
        (false, true) => go_clean_path(dir),
        (false, false) => go_clean_path(&format!("{dir}/{name}")),
    }
}

/// `filepath.ErrBadPattern`.
#[derive(Debug, PartialEq)]
pub(crate) struct BadPattern;

/// Go's `scanChunk`: leading stars, then everything up to the next star outside `[...]`.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut rest = pattern;
    let mut star = false;
    while let [b'*', tail @ ..] = rest {
        rest = tail;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' if i + 1 < rest.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &rest[..i], &rest[i..])
}

fn decode_char(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes.first()? {
        b if *b < 0x80 => 1,
        b if *b >= 0xf0 => 4,
        b if *b >= 0xe0 => 3,
        _ => 2,
    };
    let text = std::str::from_utf8(bytes.get(..len)?).ok()?;
    text.chars().next().map(|c| (c, len))
}

/// Go's `getEsc`: one (possibly escaped) character of a character class.
fn get_escaped(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        _ => {}
    }
    let (c, len) = decode_char(chunk).ok_or(BadPattern)?;
    let rest = &chunk[len..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

/// Go's `matchChunk`: matches `chunk` against a prefix of `name`, returning the rest.
fn match_chunk<'a>(chunk: &[u8], name: &'a [u8]) -> Result<Option<&'a [u8]>, BadPattern> {
    let mut chunk = chunk;
    let mut s = name;
    let mut failed = false;
    while let Some(&first) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let mut current = None;
                if !failed {
                    match decode_char(s) {
                        Some((c, len)) => {
                            current = Some(c);
                            s = &s[len..];
                        }
                        None => {
                            current = Some('\u{FFFD}');
                            s = &s[1..];
                        }
                    }
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_escaped(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (high, rest) = get_escaped(&chunk[1..])?;
                        hi = high;
                        chunk = rest;
                    }
                    if current.is_some_and(|c| lo <= c && c <= hi) {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let len = decode_char(s).map_or(1, |(_, len)| len);
                    s = &s[len..];
                }
                chunk = &chunk[1..];
            }
            other => {
                let literal = if other == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    other
                };
                if !failed {
                    if literal != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// Go's `filepath.Match`.
pub(crate) fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let attempt = match_chunk(chunk, name);
        if let Ok(Some(t)) = attempt
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        attempt?;
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                match match_chunk(chunk, &name[i + 1..])? {
                    Some(t) if pattern.is_empty() && !t.is_empty() => {}
                    Some(t) => {
                        name = t;
                        continue 'pattern;
                    }
                    None => {}
                }
                i += 1;
            }
        }
        // Report a malformed remainder even though this name does not match.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Go's `filepath.Glob`: matches sorted per directory, I/O errors ignored.
pub(crate) fn go_glob(pattern: &str) -> Result<Vec<String>, BadPattern> {
    go_match(pattern, "")?;
    if !has_meta(pattern) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    let split = pattern.rfind('/').map_or(0, |i| i + 1);
    let (dir, file) = pattern.split_at(split);
    let dir = match dir {
        "" => ".",
        "/" => "/",
        other => &other[..other.len() - 1],
    };
    if !has_meta(dir) {
        return glob_in(dir, file);
    }
    if dir == pattern {
        return Err(BadPattern);
    }
    let mut out = Vec::new();
    for parent in go_glob(dir)? {
        out.extend(glob_in(&parent, file)?);
    }
    Ok(out)
}

fn glob_in(dir: &str, pattern: &str) -> Result<Vec<String>, BadPattern> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(Vec::new());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if go_match(pattern, &name)? {
            out.push(go_join(dir, &name));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The text format, as prometheus/common's expfmt parser reads it.
// ---------------------------------------------------------------------------------------------

/// A parse error, worded as expfmt words it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "text format parsing error in line {}: {}",
            self.line, self.message
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    Counter,
    Gauge,
    Untyped,
    Summary,
    Histogram,
    GaugeHistogram,
}

impl TextKind {
    fn is_histogram(self) -> bool {
        matches!(self, TextKind::Histogram | TextKind::GaugeHistogram)
    }
}

/// A histogram count as expfmt keeps it: an integer, or a float when it is not one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Count {
    Int(u64),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetricValue {
    Simple(f64),
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
    Histogram {
        count: Count,
        sum: f64,
        buckets: Vec<(f64, Count)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedMetric {
    /// Labels in the order written (without `quantile`/`le` for summaries/histograms).
    pub labels: Vec<(String, String)>,
    pub value: MetricValue,
    pub timestamped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedFamily {
    pub name: String,
    pub help: Option<String>,
    pub kind: TextKind,
    pub metrics: Vec<ParsedMetric>,
}

/// Which part of a summary or histogram a sample line is.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Plain,
    Count,
    Sum,
}

struct Building {
    name: String,
    help: Option<String>,
    kind: Option<TextKind>,
    metrics: Vec<ParsedMetric>,
    /// Summary/histogram metrics by their labels (sorted), for `_sum`/`_count`/bucket lines.
    by_signature: HashMap<Vec<(String, String)>, usize>,
}

#[derive(Default)]
struct TextParser {
    families: Vec<Building>,
    by_name: HashMap<String, usize>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_label_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'"'
}

fn is_valid_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_valid_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// expfmt's `parseFloat`: Go's `ParseFloat`, minus hex floats and underscores.
fn parse_text_float(text: &str) -> Option<f64> {
    if text.contains(['p', 'P', '_']) {
        return None;
    }
    super::hwmon::parse_go_float(text)
}

/// A cursor over one line (without its newline); `None` from `peek` is the end of the line.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &str {
        std::str::from_utf8(&self.bytes[self.pos..]).unwrap_or_default()
    }

    /// expfmt's `readTokenUntilWhitespace`.
    fn token_until_blank(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_blank(b)) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    /// expfmt's `readTokenAsMetricName`/`readTokenAsLabelName`: a legacy name, or a quoted one
    /// with `\\`, `\n` and `\"` escapes.
    fn name_token(&mut self, metric: bool) -> Result<String, String> {
        let continues = |b: u8, quoted: bool| {
            quoted || is_label_name_start(b) || b.is_ascii_digit() || (metric && b == b':')
        };
        let starts = |b: u8| is_label_name_start(b) || (metric && b == b':');
        let mut token = Vec::new();
        if !self.peek().is_some_and(starts) {
            return Ok(String::new());
        }
        let mut quoted = false;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if escaped {
                match b {
                    b'\\' | b'"' => token.push(b),
                    b'n' => token.push(b'\n'),
                    other => {
                        return Err(format!("invalid escape sequence '\\{}'", other as char));
                    }
                }
                escaped = false;
            } else {
                match b {
                    b'"' => {
                        quoted = !quoted;
                        if !quoted {
                            self.pos += 1;
                            break;
                        }
                    }
                    b'\\' => escaped = true,
                    other => token.push(other),
                }
            }
            self.pos += 1;
            match self.peek() {
                None if quoted => {
                    let what = if metric { "metric" } else { "label" };
                    return Err(format!(
                        "{what} name {:?} contains unescaped new-line",
                        String::from_utf8_lossy(&token)
                    ));
                }
                None => break,
                Some(next) if !continues(next, quoted) || (!quoted && next == b' ') => break,
                Some(_) => {}
            }
        }
        Ok(String::from_utf8_lossy(&token).into_owned())
    }

    /// A quoted label value after its opening quote, through the closing quote.
    fn label_value(&mut self) -> Result<String, String> {
        let mut value = Vec::new();
        let mut escaped = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(format!(
                    "label value {:?} contains unescaped new-line",
                    String::from_utf8_lossy(&value)
                ));
            };
            self.pos += 1;
            if escaped {
                match b {
                    b'"' | b'\\' => value.push(b),
                    b'n' => value.push(b'\n'),
                    other => {
                        return Err(format!("invalid escape sequence '\\{}'", other as char));
                    }
                }
                escaped = false;
                continue;
            }
            match b {
                b'"' => return Ok(String::from_utf8_lossy(&value).into_owned()),
                b'\\' => escaped = true,
                other => value.push(other),
            }
        }
    }
}

/// A sample line's parts before its family is known.
struct SampleLine {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamped: bool,
}

impl TextParser {
    /// expfmt's `setOrCreateCurrentMF`: the family a name belongs to (a summary's `_sum` and
    /// `_count`, a histogram's `_bucket`, `_sum` and `_count` go to their base family).
    fn family_for(&mut self, name: &str) -> Result<(usize, Part), String> {
        if !is_valid_legacy_metric_name(name) {
            return Err(format!("invalid metric name {name:?}"));
        }
        if let Some(&index) = self.by_name.get(name) {
            return Ok((index, Part::Plain));
        }
        let part_of = |suffix: &str| name.len() > suffix.len() && name.ends_with(suffix);
        let part = if part_of("_count") {
            Part::Count
        } else if part_of("_sum") {
            Part::Sum
        } else {
            Part::Plain
        };
        let base = |suffix: &str| &name[..name.len() - suffix.len()];
        let summary_name = match part {
            Part::Count => base("_count"),
            Part::Sum => base("_sum"),
            Part::Plain => name,
        };
        if let Some(&index) = self.by_name.get(summary_name)
            && self.families[index].kind == Some(TextKind::Summary)
        {
            return Ok((index, part));
        }
        let histogram_name = if part == Part::Plain && part_of("_bucket") {
            base("_bucket")
        } else {
            summary_name
        };
        if let Some(&index) = self.by_name.get(histogram_name)
            && self.families[index]
                .kind
                .is_some_and(TextKind::is_histogram)
        {
            return Ok((index, part));
        }
        self.families.push(Building {
            name: name.to_owned(),
            help: None,
            kind: None,
            metrics: Vec::new(),
            by_signature: HashMap::new(),
        });
        let index = self.families.len() - 1;
        self.by_name.insert(name.to_owned(), index);
        Ok((index, Part::Plain))
    }

    fn comment(&mut self, line: &mut Cursor<'_>) -> Result<(), String> {
        line.pos += 1; // '#'
        line.skip_blanks();
        if line.peek().is_none() {
            return Ok(());
        }
        let keyword = line.token_until_blank();
        if line.peek().is_none() || (keyword != "HELP" && keyword != "TYPE") {
            return Ok(()); // a plain comment
        }
        line.skip_blanks();
        let name = line.name_token(true)?;
        match line.peek() {
            None => return Ok(()),
            Some(b) if !is_blank(b) => return Err("invalid metric name in comment".into()),
            Some(_) => {}
        }
        let (index, _) = self.family_for(&name)?;
        line.skip_blanks();
        if line.peek().is_none() {
            return Ok(());
        }
        let family = &mut self.families[index];
        if keyword == "HELP" {
            if family.help.is_some() {
                return Err(format!(
                    "second HELP line for metric name {:?}",
                    family.name
                ));
            }
            let mut help = String::new();
            let mut escaped = false;
            for c in line.rest().chars() {
                if escaped {
                    match c {
                        '\\' | '"' => help.push(c),
                        'n' => help.push('\n'),
                        other => return Err(format!("invalid escape sequence '\\{other}'")),
                    }
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else {
                    help.push(c);
                }
            }
            if escaped {
                return Err("invalid escape sequence '\\\n'".into());
            }
            family.help = Some(help);
        } else {
            if family.kind.is_some() {
                return Err(format!(
                    "second TYPE line for metric name {:?}, or TYPE reported after samples",
                    family.name
                ));
            }
            let text = line.rest();
            family.kind = Some(match text.to_ascii_uppercase().as_str() {
                "COUNTER" => TextKind::Counter,
                "GAUGE" => TextKind::Gauge,
                "UNTYPED" => TextKind::Untyped,
                "SUMMARY" => TextKind::Summary,
                "HISTOGRAM" => TextKind::Histogram,
                "GAUGE_HISTOGRAM" | "GAUGEHISTOGRAM" => TextKind::GaugeHistogram,
                _ => return Err(format!("unknown metric type {text:?}")),
            });
        }
        Ok(())
    }

    fn sample_line(line: &mut Cursor<'_>) -> Result<SampleLine, String> {
        let braces_first = line.peek() == Some(b'{');
        let mut name = None;
        if !braces_first {
            let token = line.name_token(true)?;
            if token.is_empty() {
                return Err("invalid metric name".into());
            }
            if !is_valid_legacy_metric_name(&token) {
                return Err(format!("invalid metric name {token:?}"));
            }
            name = Some(token);
            line.skip_blanks();
        }
        let mut labels: Vec<(String, String)> = Vec::new();
        if line.peek() == Some(b'{') {
            line.pos += 1;
            loop {
                line.skip_blanks();
                if line.peek() == Some(b'}') {
                    if name.is_none() {
                        return Err("invalid metric name".into());
                    }
                    line.pos += 1;
                    break;
                }
                let token = line.name_token(false)?;
                if token.is_empty() {
                    return Err("invalid label name for metric".into());
                }
                line.skip_blanks();
                if line.peek() != Some(b'=') {
                    if !braces_first {
                        return Err(format!(
                            "expected '=' after label name, found {:?}",
                            line.peek().map(char::from)
                        ));
                    }
                    if name.is_some() {
                        return Err("multiple metric names for metric".into());
                    }
                    if !is_valid_legacy_metric_name(&token) {
                        return Err(format!("invalid metric name {token:?}"));
                    }
                    name = Some(token);
                    match line.peek() {
                        Some(b',') => {
                            line.pos += 1;
                            continue;
                        }
                        Some(b'}') => {
                            line.pos += 1;
                            break;
                        }
                        other => {
                            return Err(format!(
                                "unexpected end of metric name {:?}",
                                other.map(char::from)
                            ));
                        }
                    }
                }
                line.pos += 1; // '='
                if token == "__name__" {
                    return Err("label name \"__name__\" is reserved".into());
                }
                if !is_valid_legacy_label_name(&token) {
                    return Err(format!("invalid label name {token:?}"));
                }
                line.skip_blanks();
                if line.peek() != Some(b'"') {
                    return Err(format!(
                        "expected '\"' at start of label value, found {:?}",
                        line.peek().map(char::from)
                    ));
                }
                line.pos += 1;
                let value = line.label_value()?;
                labels.push((token, value));
                line.skip_blanks();
                match line.peek() {
                    Some(b',') => line.pos += 1,
                    Some(b'}') => {
                        line.pos += 1;
                        break;
                    }
                    _ => return Err("unexpected end of label value".into()),
                }
            }
            line.skip_blanks();
        }
        let name = name.ok_or("invalid metric name")?;
        let value_text = line.token_until_blank();
        let value = parse_text_float(&value_text)
            .ok_or_else(|| format!("expected float as value, got {value_text:?}"))?;
        let mut timestamped = false;
        if line.peek().is_some() {
            line.skip_blanks();
            let stamp = line.token_until_blank();
            if stamp.parse::<i64>().is_err() {
                return Err(format!("expected integer as timestamp, got {stamp:?}"));
            }
            if line.peek().is_some() {
                return Err(format!(
                    "spurious string after timestamp: {:?}",
                    line.rest()
                ));
            }
            timestamped = true;
        }
        Ok(SampleLine {
            name,
            labels,
            value,
            timestamped,
        })
    }

    fn sample(&mut self, line: &mut Cursor<'_>) -> Result<(), String> {
        let sample = Self::sample_line(line)?;
        let (index, part) = self.family_for(&sample.name)?;
        let family = &mut self.families[index];
        let kind = *family.kind.get_or_insert(TextKind::Untyped);
        let special = match kind {
            TextKind::Summary => Some("quantile"),
            k if k.is_histogram() => Some("le"),
            _ => None,
        };
        let mut labels = Vec::with_capacity(sample.labels.len());
        let mut position = f64::NAN;
        for (label, value) in sample.labels {
            if Some(label.as_str()) == special {
                position = parse_text_float(&value).ok_or_else(|| {
                    format!("expected float as value for '{label}' label, got {value:?}")
                })?;
                continue;
            }
            if labels.iter().any(|(l, _)| *l == label) {
                return Err(format!(
                    "duplicate label names for metric {:?}",
                    family.name
                ));
            }
            labels.push((label, value));
        }
        if special.is_none() {
            family.metrics.push(ParsedMetric {
                labels,
                value: MetricValue::Simple(sample.value),
                timestamped: sample.timestamped,
            });
            return Ok(());
        }
        let mut signature = labels.clone();
        signature.sort();
        let metric_index = match family.by_signature.get(&signature) {
            Some(&i) => i,
            None => {
                let value = if kind == TextKind::Summary {
                    MetricValue::Summary {
                        count: 0,
                        sum: 0.0,
                        quantiles: Vec::new(),
                    }
                } else {
                    MetricValue::Histogram {
                        count: Count::Int(0),
                        sum: 0.0,
                        buckets: Vec::new(),
                    }
                };
                family.metrics.push(ParsedMetric {
                    labels,
                    value,
                    timestamped: false,
                });
                family
                    .by_signature
                    .insert(signature, family.metrics.len() - 1);
                family.metrics.len() - 1
            }
        };
        let name = family.name.clone();
        let metric = &mut family.metrics[metric_index];
        metric.timestamped |= sample.timestamped;
        let v = sample.value;
        match &mut metric.value {
            MetricValue::Summary {
                count,
                sum,
                quantiles,
            } => match part {
                // Go converts with uint64(v); negative and NaN counts become 0 here.
                Part::Count => *count = v as u64,
                Part::Sum => *sum = v,
                Part::Plain if !position.is_nan() => quantiles.push((position, v)),
                Part::Plain => {}
            },
            MetricValue::Histogram {
                count,
                sum,
                buckets,
            } => {
                let as_count = |what: &str| -> Result<Count, String> {
                    if v >= 0.0 && v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0 {
                        Ok(Count::Int(v as u64))
                    } else if v < 0.0 {
                        Err(format!("negative {what} for histogram {name:?}"))
                    } else {
                        Ok(Count::Float(v))
                    }
                };
                match part {
                    Part::Count => *count = as_count("count")?,
                    Part::Sum => *sum = v,
                    Part::Plain if !position.is_nan() => {
                        buckets.push((position, as_count("bucket population")?));
                    }
                    Part::Plain => {}
                }
            }
            MetricValue::Simple(_) => {}
        }
        Ok(())
    }

    fn line(&mut self, text: &str) -> Result<(), String> {
        let mut line = Cursor {
            bytes: text.as_bytes(),
            pos: 0,
        };
        line.skip_blanks();
        match line.peek() {
            None => Ok(()),
            Some(b'#') => self.comment(&mut line),
            Some(_) => self.sample(&mut line),
        }
    }
}

/// Parses a whole file in the text format; families with no samples are left out.
///
/// Invalid UTF-8 is accepted in comments (expfmt reads bytes) and refused elsewhere (expfmt
/// refuses it in label values, names and numbers alike).
pub(crate) fn parse_text(bytes: &[u8]) -> Result<Vec<ParsedFamily>, TextError> {
    let mut parser = TextParser::default();
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let error = |message: String| TextError {
            line: index + 1,
            message,
        };
        if lines.peek().is_none() {
            // Text after the final newline: only blanks may end a file.
            if line.iter().copied().all(is_blank) {
                break;
            }
            return Err(error("unexpected end of input stream".into()));
        }
        match std::str::from_utf8(line) {
            Ok(text) => parser.line(text),
            Err(_) if line.iter().find(|b| !is_blank(**b)) == Some(&b'#') => {
                parser.line(&String::from_utf8_lossy(line))
            }
            Err(_) => Err("invalid UTF-8".into()),
        }
        .map_err(error)?;
    }
    Ok(parser
        .families
        .into_iter()
        .filter(|f| !f.metrics.is_empty())
        .map(|f| ParsedFamily {
            name: f.name,
            help: f.help,
            kind: f.kind.unwrap_or(TextKind::Untyped),
            metrics: f.metrics,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The collector.
// ---------------------------------------------------------------------------------------------

struct Textfile {
    patterns: Vec<String>,
}

/// Why a file was not taken.
enum FileError {
    Read(String),
    Parse(TextError),
    Timestamps,
    Unsupported(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read(reason) => f.write_str(reason),
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
fn process_file(path: &str) -> Result<(Vec<ParsedFamily>, f64), FileError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| FileError::Read(format!("failed to open: {e}")))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| FileError::Read(format!("failed to read: {e}")))?;
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
        .map_err(|e| FileError::Read(format!("failed to stat: {e}")))?;
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
    let mut out = MetricFamily::new(family.name.clone(), help, kind);
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
        let mut errored = false;
        let mut parsed: Vec<ParsedFamily> = Vec::new();
        let mut files_of: HashMap<String, Vec<String>> = HashMap::new();
        // Per family: the first help seen, and whether an inconsistent one was seen since.
        let mut helps: HashMap<String, (String, bool)> = HashMap::new();
        let mut mtimes: Vec<(String, f64)> = Vec::new();

        for dir in self.directories() {
            let mut names: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect(),
                Err(err) => {
                    if !dir.is_empty() {
                        errored = true;
                        tracing::error!(path = %dir, %err, "failed to read textfile collector directory");
                    }
                    continue;
                }
            };
            names.sort();
            for name in names.iter().filter(|n| n.ends_with(".prom")) {
                let path = go_join(&dir, name);
                let (families, mtime) = match process_file(&path) {
                    Ok(read) => read,
                    Err(err) => {
                        errored = true;
                        tracing::error!(file = %name, err = %err, "failed to collect textfile data");
                        continue;
                    }
                };
                for family in families {
                    if let Some((first, poisoned)) = helps.get_mut(&family.name) {
                        let differs = family.help.as_ref().is_some_and(|h| h != first);
                        if differs || *poisoned {
                            *poisoned = true;
                            errored = true;
                            tracing::error!(
                                metric = %family.name,
                                original_help_text = %first,
                                new_help_text = %family.help.as_deref().unwrap_or(""),
                                file = %files_of.get(&family.name).and_then(|f| f.first()).map_or("", String::as_str),
                                "inconsistent metric help text"
                            );
                            continue;
                        }
                    }
                    if let Some(help) = &family.help {
                        helps.insert(family.name.clone(), (help.clone(), false));
                    }
                    files_of
                        .entry(family.name.clone())
                        .or_default()
                        .push(path.clone());
                    parsed.push(family);
                }
                mtimes.push((path, mtime));
            }
        }

        let mut registered: HashMap<String, Registered> = HashMap::new();
        let mut seen_series = SeenSeries::new();
        for family in &parsed {
            let help = match &family.help {
                Some(help) => help.clone(),
                None => format!(
                    "Metric read from {}",
                    files_of
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

        if !mtimes.is_empty() {
            mtimes.sort_by(|a, b| a.0.cmp(&b.0));
            let mut family = MetricFamily::gauge(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
            );
            for (path, mtime) in mtimes {
                family.push(&[("file", &path)], mtime);
            }
            out.push(family);
        }
        out.push(
            MetricFamily::gauge(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
            )
            .with(&[], if errored { 1.0 } else { 0.0 }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let collector = Textfile { patterns };
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

    #[test]
    fn go_paths_and_globs() {
        assert_eq!(go_clean_path("a//b/./c/.."), "a/b");
        assert_eq!(go_clean_path("/../x/"), "/x");
        assert_eq!(go_clean_path("../../x"), "../../x");
        assert_eq!(go_clean_path(""), ".");
        assert_eq!(go_clean_path("a/.."), ".");
        assert_eq!(go_join("dir/", "f.prom"), "dir/f.prom");
        assert_eq!(go_match("*.prom", "a.prom"), Ok(true));
        assert_eq!(go_match("*.prom", "a.prom.tmp"), Ok(false));
        assert_eq!(go_match("a?c", "abc"), Ok(true));
        assert_eq!(go_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(go_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(go_match("\\*", "*"), Ok(true));
        assert_eq!(
            go_match("*_extra_dimension", "histogram_extra_dimension"),
            Ok(true)
        );
        assert_eq!(go_match("*", "a/b"), Ok(false));
        assert_eq!(go_match("[", "a"), Err(BadPattern));
        assert_eq!(go_match("a[", "x"), Err(BadPattern));
        assert_eq!(go_match("[]a]", "a"), Err(BadPattern));
        let dir = tempfile::tempdir().unwrap();
        for sub in ["one", "two", "other"] {
            std::fs::create_dir_all(dir.path().join("t").join(sub)).unwrap();
        }
        let root = dir.path().to_string_lossy().into_owned();
        let found = go_glob(&format!("{root}/t/*o")).unwrap();
        assert_eq!(found, vec![format!("{root}/t/two")]);
        let found = go_glob(&format!("{root}/*/o*")).unwrap();
        assert_eq!(
            found,
            vec![format!("{root}/t/one"), format!("{root}/t/other")]
        );
        assert!(go_glob(&format!("{root}/missing/*")).unwrap().is_empty());
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

        #[test]
        fn glob_match_never_panics(pattern in "[a-z*?\\[\\]^\\\\-]{0,12}", name in "[a-z/]{0,12}") {
            let _ = go_match(&pattern, &name);
        }
    }
}
