//! The exposition model (what one scrape produces) and its Prometheus text format 0.0.4 encoding.
//!
//! Hand-written rather than prometheus-client's encoder: drop-in output (counters without
//! `_total`, Go's float format, Go's family order) is what that crate cannot give; the details are
//! in docs/exporter-kit.md, "Why the kit encodes the exposition itself".

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

/// The `Content-Type` of the text format, as every upstream exporter sends it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric type written on the `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A value that only goes up (reset on restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// No type (what upstream exporters use for values of unknown meaning).
    Untyped,
    /// Buckets, sum and count.
    Histogram,
    /// Quantiles, sum and count.
    Summary,
}

impl MetricType {
    /// The word on the `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

/// A family name, help text or label name: almost always a literal in the collector's code, so
/// held borrowed instead of copied into a fresh allocation for every scrape (the allocator was a
/// tenth of the node exporter's CPU per scrape); names built at run time are owned.
pub type Text = Cow<'static, str>;

/// One label: its name (usually a literal) and its value.
pub type Label = (Text, String);

/// Labels that many samples carry (a container's `id`, `name`, `image`, ...), sorted by name
/// and stored once: a scrape of a thousand containers would otherwise hold tens of thousands of
/// copies of the same strings.
pub type SharedLabels = Arc<[Label]>;

/// Sorts labels by name into a [`SharedLabels`].
pub fn shared_labels(labels: Vec<(String, String)>) -> SharedLabels {
    let mut labels = owned_labels(labels);
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels.into()
}

/// Labels whose names were built at run time.
pub fn owned_labels(labels: Vec<(String, String)>) -> Vec<Label> {
    labels
        .into_iter()
        .map(|(name, value)| (Cow::Owned(name), value))
        .collect()
}

fn borrowed_labels(labels: &[(&'static str, &str)]) -> Vec<Label> {
    labels
        .iter()
        .map(|&(name, value)| (Cow::Borrowed(name), value.to_owned()))
        .collect()
}

/// One series value: an optional name suffix (`_bucket`, `_sum`, `_count` for histograms),
/// its labels (shared ones, if any, and its own) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name (`_bucket`, `_sum`, `_count`), or empty.
    pub suffix: &'static str,
    /// Labels shared with other samples, sorted by name.
    pub shared: Option<SharedLabels>,
    /// The sample's own labels.
    pub labels: Vec<Label>,
    /// The value, written as Go's `strconv.FormatFloat(v, 'g', -1, 64)` would.
    pub value: f64,
}

impl Sample {
    /// The sample's own labels as owned strings, for comparisons in tests and tools.
    pub fn label_strings(&self) -> Vec<(String, String)> {
        self.labels
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }

    /// All labels, shared and own, in name order (both lists are sorted once normalized).
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let shared: &[Label] = self.shared.as_deref().unwrap_or(&[]);
        MergeByName {
            a: shared,
            b: &self.labels,
        }
    }
}

/// Merges two label lists sorted by name.
struct MergeByName<'a> {
    a: &'a [Label],
    b: &'a [Label],
}

impl<'a> Iterator for MergeByName<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(a), Some(b)) => a.0 <= b.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let (name, value) = if take_a {
            let item = &self.a[0];
            self.a = &self.a[1..];
            item
        } else {
            let item = &self.b[0];
            self.b = &self.b[1..];
            item
        };
        Some((name, value.as_str()))
    }
}

/// A metric family: name, help, type and samples. Names are written exactly as given.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name, such as `node_cpu_seconds_total`.
    pub name: Text,
    /// The `# HELP` text.
    pub help: Text,
    /// The `# TYPE`.
    pub kind: MetricType,
    /// The series, in the order they are written.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// An empty family.
    pub fn new(name: impl Into<Text>, help: impl Into<Text>, kind: MetricType) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// An empty counter family.
    pub fn counter(name: impl Into<Text>, help: impl Into<Text>) -> Self {
        Self::new(name, help, MetricType::Counter)
    }

    /// An empty gauge family.
    pub fn gauge(name: impl Into<Text>, help: impl Into<Text>) -> Self {
        Self::new(name, help, MetricType::Gauge)
    }

    /// An empty untyped family.
    pub fn untyped(name: impl Into<Text>, help: impl Into<Text>) -> Self {
        Self::new(name, help, MetricType::Untyped)
    }

    /// An empty histogram family.
    pub fn histogram(name: impl Into<Text>, help: impl Into<Text>) -> Self {
        Self::new(name, help, MetricType::Histogram)
    }

    /// An empty summary family.
    pub fn summary(name: impl Into<Text>, help: impl Into<Text>) -> Self {
        Self::new(name, help, MetricType::Summary)
    }

    /// Adds a sample with a name suffix (`_bucket`, `_sum`, `_count`), for histograms and
    /// summaries whose parts arrive already split (the textfile collector re-exposing them).
    pub fn push_part(&mut self, suffix: &'static str, labels: Vec<(String, String)>, value: f64) {
        self.samples.push(Sample {
            suffix,
            shared: None,
            labels: owned_labels(labels),
            value,
        });
    }

    /// Adds a sample with the given labels (names as literals; see [`push_owned`](Self::push_owned)
    /// for names built at run time).
    pub fn push(&mut self, labels: &[(&'static str, &str)], value: f64) {
        self.push_labels(borrowed_labels(labels), value);
    }

    /// Adds a sample whose labels, names included, are owned strings built at run time.
    pub fn push_owned(&mut self, labels: Vec<(String, String)>, value: f64) {
        self.push_labels(owned_labels(labels), value);
    }

    /// Adds a sample with labels already in the model's form.
    pub fn push_labels(&mut self, labels: Vec<Label>, value: f64) {
        self.samples.push(Sample {
            suffix: "",
            shared: None,
            labels,
            value,
        });
    }

    /// Adds a sample carrying `shared` labels plus a few of its own.
    pub fn push_shared(
        &mut self,
        shared: &SharedLabels,
        extra: &[(&'static str, &str)],
        value: f64,
    ) {
        self.samples.push(Sample {
            suffix: "",
            shared: Some(shared.clone()),
            labels: borrowed_labels(extra),
            value,
        });
    }

    /// Builder form of [`push`](Self::push) for single-sample families.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: f64) -> Self {
        self.push(labels, value);
        self
    }

    /// Adds one histogram: cumulative `(upper_bound, count)` buckets (the `+Inf` bucket is added
    /// from `count` when missing), the sum and the count.
    pub fn push_histogram(
        &mut self,
        labels: &[(&'static str, &str)],
        buckets: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        self.push_histogram_labels(borrowed_labels(labels), buckets, sum, count);
    }

    /// [`push_histogram`](Self::push_histogram) with labels already in the model's form.
    pub fn push_histogram_labels(
        &mut self,
        base: Vec<Label>,
        buckets: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        let mut with_le = |le: f64, value: f64| {
            let mut labels = base.clone();
            let mut text = String::new();
            write_go_float(&mut text, le);
            labels.push((Cow::Borrowed("le"), text));
            self.samples.push(Sample {
                suffix: "_bucket",
                shared: None,
                labels,
                value,
            });
        };
        for &(le, cumulative) in buckets {
            with_le(le, cumulative);
        }
        if buckets.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
            with_le(f64::INFINITY, count);
        }
        self.samples.push(Sample {
            suffix: "_sum",
            shared: None,
            labels: base.clone(),
            value: sum,
        });
        self.samples.push(Sample {
            suffix: "_count",
            shared: None,
            labels: base,
            value: count,
        });
    }
}

/// Encodes families in text format 0.0.4 the way client_golang's gatherer does: families sorted
/// by name (same-named families from different collectors merged), labels sorted by name,
/// samples sorted by label values, duplicate series dropped, empty families skipped.
pub fn encode_text(families: Vec<MetricFamily>, out: &mut Vec<u8>) {
    encode_text_chunked(families, usize::MAX, |chunk| out.extend_from_slice(chunk));
}

/// [`encode_text`] handed out in chunks of about `chunk_size` bytes, so a large exposition can
/// be compressed as it is written instead of being held whole.
pub fn encode_text_chunked(
    mut families: Vec<MetricFamily>,
    chunk_size: usize,
    mut sink: impl FnMut(&[u8]),
) {
    normalize(&mut families);
    let mut scratch = String::with_capacity(64);
    let mut out: Vec<u8> = Vec::with_capacity(chunk_size.min(64 * 1024));
    for family in &families {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(family.name.as_bytes());
        out.push(b' ');
        escape_help(&family.help, &mut out);
        out.extend_from_slice(b"\n# TYPE ");
        out.extend_from_slice(family.name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(family.kind.as_str().as_bytes());
        out.push(b'\n');
        for sample in &family.samples {
            out.extend_from_slice(family.name.as_bytes());
            out.extend_from_slice(sample.suffix.as_bytes());
            let mut first = true;
            for (name, value) in sample.label_pairs() {
                out.push(if first { b'{' } else { b',' });
                first = false;
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"=\"");
                escape_label_value(value, &mut out);
                out.push(b'"');
            }
            if !first {
                out.push(b'}');
            }
            out.push(b' ');
            scratch.clear();
            write_go_float(&mut scratch, sample.value);
            out.extend_from_slice(scratch.as_bytes());
            out.push(b'\n');
            if out.len() >= chunk_size {
                sink(&out);
                out.clear();
            }
        }
    }
    if !out.is_empty() {
        sink(&out);
    }
}

/// Sorts and merges families and their samples into the order [`encode_text`] writes them.
pub fn normalize(families: &mut Vec<MetricFamily>) {
    // Collectors mostly produce their samples, and labels, already in order: checking is one
    // pass, sorting (string comparisons) several.
    if !families.is_sorted_by(|a, b| a.name <= b.name) {
        families.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    for family in families.drain(..) {
        match merged.last_mut() {
            Some(last) if last.name == family.name => {
                if last.kind == family.kind {
                    last.samples.extend(family.samples);
                } else {
                    tracing::warn!(
                        family = %family.name,
                        "dropping samples collected with type {} after type {}",
                        family.kind.as_str(),
                        last.kind.as_str()
                    );
                }
            }
            _ => merged.push(family),
        }
    }
    merged.retain(|f| !f.samples.is_empty());
    for family in &mut merged {
        for sample in &mut family.samples {
            if !sample.labels.is_sorted_by(|a, b| a.0 <= b.0) {
                sample.labels.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
        if matches!(family.kind, MetricType::Histogram | MetricType::Summary) {
            // Buckets and quantiles keep the producer's order within one series; series are
            // ordered by their labels other than `le` and `quantile`.
            family
                .samples
                .sort_by(|a, b| labels_without_le(a).cmp(labels_without_le(b)));
        } else {
            let by_values = |a: &Sample, b: &Sample| {
                let values_a = a.label_pairs().map(|(_, v)| v);
                let values_b = b.label_pairs().map(|(_, v)| v);
                values_a.cmp(values_b)
            };
            if !family
                .samples
                .is_sorted_by(|a, b| by_values(a, b) != std::cmp::Ordering::Greater)
            {
                family.samples.sort_by(by_values);
            }
            let before = family.samples.len();
            family
                .samples
                .dedup_by(|b, a| a.label_pairs().eq(b.label_pairs()));
            if family.samples.len() != before {
                tracing::debug!(family = %family.name, "dropped duplicate series");
            }
        }
    }
    *families = merged;
}

fn labels_without_le(sample: &Sample) -> impl Iterator<Item = (&str, &str)> + '_ {
    sample
        .label_pairs()
        .filter(|(name, _)| *name != "le" && *name != "quantile")
}

fn escape_label_value(value: &str, out: &mut Vec<u8>) {
    for byte in value.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            other => out.push(other),
        }
    }
}

fn escape_help(help: &str, out: &mut Vec<u8>) {
    for byte in help.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            other => out.push(other),
        }
    }
}

/// Appends `value` formatted as Go's `strconv.FormatFloat(value, 'g', -1, 64)` with the
/// special cases of prometheus/common's text writer (`+Inf`, `-Inf`, `NaN`, `0` for ±0).
pub fn write_go_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if value == 0.0 {
        out.push('0');
        return;
    }
    if value.fract() == 0.0 && value.abs() < 1e6 {
        // Exact small integers: the common case, and plain in Go's format too.
        let _ = write!(out, "{}", value as i64);
        return;
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as Go's shortest mode does. Written
    // on the stack: this runs for most samples of every scrape.
    let mut sci = StackText::default();
    let _ = write!(sci, "{value:e}");
    let sci = sci.as_str();
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let mut digits = StackText::default();
    for c in mantissa.chars().filter(char::is_ascii_digit) {
        let _ = digits.write_char(c);
    }
    let digits = digits.as_str();
    if negative {
        out.push('-');
    }
    // Go's shortest 'g' switches to exponent form below 1e-4 and from 1e6 (precision 6 rule).
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.unsigned_abs());
    } else if exponent >= 0 {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(digits);
    }
}

/// A short text written on the stack: an `f64` in `{:e}` form is at most 24 bytes
/// (`-1.7976931348623157e308`).
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Turns an arbitrary string into a valid metric or label name component the way the upstream
/// exporters do: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_name(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(value: f64) -> String {
        let mut s = String::new();
        write_go_float(&mut s, value);
        s
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go(0.0), "0");
        assert_eq!(go(-0.0), "0");
        assert_eq!(go(1.0), "1");
        assert_eq!(go(-1.0), "-1");
        assert_eq!(go(21740.0), "21740");
        assert_eq!(go(999_999.0), "999999");
        assert_eq!(go(1e6), "1e+06");
        assert_eq!(go(2_088_844.0), "2.088844e+06");
        assert_eq!(go(146_208_985.0), "1.46208985e+08");
        assert_eq!(go(0.5), "0.5");
        assert_eq!(go(0.0001), "0.0001");
        assert_eq!(go(0.00001), "1e-05");
        assert_eq!(go(1.5e-7), "1.5e-07");
        assert_eq!(go(123.456), "123.456");
        assert_eq!(go(-0.25), "-0.25");
        assert_eq!(go(1.7e9), "1.7e+09");
        assert_eq!(go(1e100), "1e+100");
        assert_eq!(go(f64::NAN), "NaN");
        assert_eq!(go(f64::INFINITY), "+Inf");
        assert_eq!(go(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go(18446744073709551615.0), "1.8446744073709552e+19");
    }

    #[test]
    fn families_sorted_merged_escaped() {
        let mut b = MetricFamily::gauge("b_metric", "Help with \\ and\nnewline");
        b.push(&[("z", "1"), ("a", "x\"y\\z\nw")], 2.0);
        b.push(&[("z", "0"), ("a", "x\"y\\z\nw")], 1.0);
        let a1 = MetricFamily::counter("a_total", "A.").with(&[("k", "2")], 5.0);
        let a2 = MetricFamily::counter("a_total", "A.").with(&[("k", "1")], 4.0);
        let empty = MetricFamily::gauge("c_empty", "never shown");
        let mut out = Vec::new();
        encode_text(vec![b, a1, empty, a2], &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"1\"} 4\na_total{k=\"2\"} 5\n\
             # HELP b_metric Help with \\\\ and\\nnewline\n# TYPE b_metric gauge\n\
             b_metric{a=\"x\\\"y\\\\z\\nw\",z=\"0\"} 1\nb_metric{a=\"x\\\"y\\\\z\\nw\",z=\"1\"} 2\n"
        );
    }

    #[test]
    fn shared_labels_merge_with_own_labels_in_name_order() {
        let container = shared_labels(vec![
            ("name".to_owned(), "web".to_owned()),
            ("id".to_owned(), "/docker/abc".to_owned()),
        ]);
        let mut f = MetricFamily::counter("cpu_total", "c");
        f.push_shared(&container, &[("cpu", "cpu01")], 2.0);
        f.push_shared(&container, &[("cpu", "cpu00")], 1.0);
        f.push_shared(&container, &[("zone", "z")], 3.0);
        f.push_shared(&container, &[("cpu", "cpu00")], 9.0);
        let mut out = Vec::new();
        encode_text(vec![f], &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            lines,
            // Ordered by label values in label-name order, as client_golang orders them.
            vec![
                "cpu_total{id=\"/docker/abc\",name=\"web\",zone=\"z\"} 3",
                "cpu_total{cpu=\"cpu00\",id=\"/docker/abc\",name=\"web\"} 1",
                "cpu_total{cpu=\"cpu01\",id=\"/docker/abc\",name=\"web\"} 2",
            ]
        );
    }

    #[test]
    fn chunked_output_is_the_same_text() {
        let mut a = MetricFamily::gauge("a", "a");
        for i in 0..100 {
            a.push(&[("i", &i.to_string())], f64::from(i));
        }
        let mut whole = Vec::new();
        encode_text(vec![a.clone()], &mut whole);
        let mut pieces = Vec::new();
        let mut chunks = 0;
        encode_text_chunked(vec![a], 64, |chunk| {
            chunks += 1;
            pieces.extend_from_slice(chunk);
        });
        assert_eq!(whole, pieces);
        assert!(chunks > 10);
    }

    #[test]
    fn duplicate_series_are_written_once() {
        let mut f = MetricFamily::gauge("dup", "d");
        f.push(&[("a", "1")], 1.0);
        f.push(&[("a", "1")], 2.0);
        let mut out = Vec::new();
        encode_text(vec![f], &mut out);
        assert_eq!(
            String::from_utf8(out)
                .unwrap()
                .matches("dup{a=\"1\"}")
                .count(),
            1
        );
    }

    #[test]
    fn histogram_buckets_keep_order_and_get_inf() {
        let mut h = MetricFamily::histogram("rt_seconds", "rt");
        h.push_histogram(&[("x", "b")], &[(0.1, 1.0), (1.0, 3.0)], 2.5, 4.0);
        h.push_histogram(&[("x", "a")], &[(0.1, 0.0)], 0.0, 0.0);
        let mut out = Vec::new();
        encode_text(vec![h], &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            lines,
            vec![
                "rt_seconds_bucket{le=\"0.1\",x=\"a\"} 0",
                "rt_seconds_bucket{le=\"+Inf\",x=\"a\"} 0",
                "rt_seconds_sum{x=\"a\"} 0",
                "rt_seconds_count{x=\"a\"} 0",
                "rt_seconds_bucket{le=\"0.1\",x=\"b\"} 1",
                "rt_seconds_bucket{le=\"1\",x=\"b\"} 3",
                "rt_seconds_bucket{le=\"+Inf\",x=\"b\"} 4",
                "rt_seconds_sum{x=\"b\"} 2.5",
                "rt_seconds_count{x=\"b\"} 4",
            ]
        );
    }

    #[test]
    fn sanitize_replaces_everything_but_word_chars() {
        assert_eq!(sanitize_name("Active(anon)"), "Active_anon_");
        assert_eq!(sanitize_name("io.kubernetes.pod"), "io_kubernetes_pod");
    }

    proptest::proptest! {
        #[test]
        fn go_float_round_trips(value in proptest::num::f64::ANY) {
            let text = go(value);
            let parsed: f64 = match text.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse().unwrap(),
            };
            if value.is_nan() {
                proptest::prop_assert!(parsed.is_nan());
            } else {
                proptest::prop_assert_eq!(parsed, value);
            }
        }
    }
}
