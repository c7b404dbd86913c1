//! The text exposition format, as prometheus/common's expfmt parser reads it: the textfile
//! collector's file parser.

use std::collections::HashMap;
use std::fmt;

use crate::sysfs::parse_go_float;

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
    parse_go_float(text)
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

/// After a label name in braces: `="<value>"`, and the value unescaped.
fn label_value_after(line: &mut Cursor<'_>, token: &str) -> Result<String, String> {
    line.pos += 1; // '='
    if token == "__name__" {
        return Err("label name \"__name__\" is reserved".into());
    }
    if !is_valid_legacy_label_name(token) {
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
    line.label_value()
}

/// The value after a sample's name and labels, and whether a timestamp follows it.
fn value_and_timestamp(line: &mut Cursor<'_>) -> Result<(f64, bool), String> {
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
    Ok((value, timestamped))
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
                let value = label_value_after(line, &token)?;
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
        let (value, timestamped) = value_and_timestamp(line)?;
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
