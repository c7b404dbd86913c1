//! What the access log adds up to, under prometheus-nginxlog-exporter's metric names.
//!
//! Every label value comes from a bounded set, so hostile traffic (random URIs, Host headers,
//! methods) cannot grow the number of series: `method` is one of the nine HTTP methods or
//! `other` (as upstream's whitelist), `status` is a number from 100 to 599, `host` one of
//! `--nginxlog.host` or `other`, `upstream_addr` one of `--nginxlog.upstream`, one of the first
//! `--nginxlog.upstream-auto` addresses seen, or `other`, and `route` the name of the longest
//! `--nginxlog.route` prefix or `other`. A series is keyed by
//! small indices, so counting a line allocates nothing once its series exists.

use rustc_hash::FxHashMap;

use octo_exporter_kit::MetricFamily;

use crate::logline::LogRecord;

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];
const OTHER: &str = "other";

/// The optional labels and what they may hold; an empty list leaves the label out.
#[derive(Debug, Clone, Default)]
pub struct LabelSets {
    pub hosts: Vec<String>,
    pub upstreams: Vec<String>,
    /// How many addresses not in `upstreams` get a label of their own, first seen first served:
    /// where backends' addresses change (containers, pods), they cannot be listed in advance.
    pub upstream_auto: usize,
    /// `(path prefix, route name)`.
    pub routes: Vec<(String, String)>,
}

/// The most `--nginxlog.upstream-auto` may ask for: far more backends than one nginx balances,
/// and far fewer series than hurt Prometheus.
pub const MAX_UPSTREAM_AUTO: usize = 1000;

/// Why a configured label value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {reason}")]
pub struct LabelSetError {
    pub what: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl LabelSets {
    /// Checks that no configured value holds what escape=json would escape: such a value could
    /// never match a line, which compares escaped text.
    pub fn validate(&self) -> Result<(), LabelSetError> {
        let plain = |what: &'static str, value: &str| {
            if value.is_empty() || value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                Err(LabelSetError {
                    what,
                    value: value.to_owned(),
                    reason: "must be non-empty, without quotes, backslashes or control characters",
                })
            } else {
                Ok(())
            }
        };
        for host in &self.hosts {
            plain("--nginxlog.host", host)?;
        }
        for upstream in &self.upstreams {
            plain("--nginxlog.upstream", upstream)?;
        }
        if self.upstream_auto > MAX_UPSTREAM_AUTO {
            return Err(LabelSetError {
                what: "--nginxlog.upstream-auto",
                value: self.upstream_auto.to_string(),
                reason: "must be at most 1000",
            });
        }
        for (prefix, name) in &self.routes {
            plain("--nginxlog.route prefix", prefix)?;
            plain("--nginxlog.route name", name)?;
            if !prefix.starts_with('/') {
                return Err(LabelSetError {
                    what: "--nginxlog.route prefix",
                    value: prefix.clone(),
                    reason: "must start with /",
                });
            }
        }
        Ok(())
    }

    /// Whether series carry an `upstream_addr` label.
    fn has_upstream_label(&self) -> bool {
        !self.upstreams.is_empty() || self.upstream_auto > 0
    }

    /// The index of `value` in `list`, or `list.len()` for `other`.
    fn index(list: &[String], value: &str) -> u16 {
        let found = list.iter().position(|v| v.eq_ignore_ascii_case(value));
        found.unwrap_or(list.len()) as u16
    }

    fn route(&self, uri: &str) -> u16 {
        let mut best: Option<(usize, usize)> = None;
        for (i, (prefix, _)) in self.routes.iter().enumerate() {
            if uri.starts_with(prefix.as_str()) && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((i, prefix.len()));
            }
        }
        best.map_or(self.routes.len(), |(i, _)| i) as u16
    }
}

/// A series: indices into the label sets (the list's length meaning `other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    method: u8,
    status: u16,
    host: u16,
    upstream: u16,
    route: u16,
}

#[derive(Debug, Clone)]
struct Histogram {
    /// Per-bucket (not cumulative) counts; one more than the bounds, for +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: usize) -> Self {
        Histogram {
            counts: vec![0; bounds + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, bounds: &[f64], value: f64) {
        let slot = bounds.partition_point(|b| *b < value);
        if let Some(c) = self.counts.get_mut(slot) {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Debug, Clone)]
struct Series {
    responses: u64,
    response_bytes: u64,
    request_bytes: u64,
    response_time: Histogram,
    upstream_time: Histogram,
    upstream_connect_time: Histogram,
}

/// The counts of every line seen so far.
#[derive(Debug)]
pub struct LogStats {
    labels: LabelSets,
    bounds: Vec<f64>,
    /// Keys are small indices into bounded label sets, so a fast unkeyed hash cannot be flooded.
    series: FxHashMap<Key, Series>,
    /// Addresses learned under `upstream_auto` (appended to `labels.upstreams`).
    learned: usize,
    /// Attempts nginx gave up on and passed to the next server, by the server given up on
    /// (parallel to `labels.upstreams`); `other_retries` for the rest, or all without the label.
    retries: Vec<u64>,
    other_retries: u64,
    parse_errors: u64,
    lines: u64,
}

impl LogStats {
    /// `bounds` are the histogram buckets' upper bounds, sorted (+Inf implied).
    pub fn new(labels: LabelSets, mut bounds: Vec<f64>) -> Self {
        bounds.retain(|b| b.is_finite());
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let retries = vec![0; labels.upstreams.len()];
        LogStats {
            labels,
            bounds,
            series: FxHashMap::default(),
            learned: 0,
            retries,
            other_retries: 0,
            parse_errors: 0,
            lines: 0,
        }
    }

    /// Counts a line that could not be read.
    pub fn parse_error(&mut self) {
        self.parse_errors += 1;
    }

    /// Counts one request. A status outside 100-599 is a parse error: nginx never writes one.
    pub fn record(&mut self, record: &LogRecord<'_>) -> bool {
        let Some(status) = record
            .status
            .parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
        else {
            self.parse_errors += 1;
            return false;
        };
        self.lines += 1;
        let method = METHODS
            .iter()
            .position(|m| *m == record.method)
            .unwrap_or(METHODS.len()) as u8;
        // With retries nginx writes every server tried, "a, b"; the last one answered.
        let mut answered = None;
        for server in servers(record.upstream_addr) {
            if let Some(failed) = answered.replace(server) {
                match self.upstream_index(failed) {
                    UPSTREAM_OTHER => self.other_retries += 1,
                    i => {
                        if let Some(r) = self.retries.get_mut(i as usize) {
                            *r += 1;
                        }
                    }
                }
            }
        }
        let upstream = match answered {
            _ if !self.labels.has_upstream_label() => 0,
            Some(addr) => self.upstream_index(addr),
            None => NO_UPSTREAM,
        };
        let key = Key {
            method,
            status,
            host: optional_index(&self.labels.hosts, record.host),
            upstream,
            route: if self.labels.routes.is_empty() {
                0
            } else {
                self.labels.route(record.uri)
            },
        };
        let bounds = &self.bounds;
        let series = self.series.entry(key).or_insert_with(|| Series {
            responses: 0,
            response_bytes: 0,
            request_bytes: 0,
            response_time: Histogram::new(bounds.len()),
            upstream_time: Histogram::new(bounds.len()),
            upstream_connect_time: Histogram::new(bounds.len()),
        });
        series.responses += 1;
        series.response_bytes += record.body_bytes_sent.parse::<u64>().unwrap_or(0);
        series.request_bytes += record.request_length.parse::<u64>().unwrap_or(0);
        if let Some(seconds) = parse_seconds(record.request_time) {
            series.response_time.observe(bounds, seconds);
        }
        if let Some(seconds) = total_seconds(record.upstream_response_time) {
            series.upstream_time.observe(bounds, seconds);
        }
        if let Some(seconds) = total_seconds(record.upstream_connect_time) {
            series.upstream_connect_time.observe(bounds, seconds);
        }
        true
    }

    /// The label index of an upstream server: a configured or learned address, a newly seen one
    /// while fewer than `upstream_auto` have been learned, else [`UPSTREAM_OTHER`].
    fn upstream_index(&mut self, addr: &str) -> u16 {
        if !self.labels.has_upstream_label() {
            return UPSTREAM_OTHER;
        }
        let upstreams = &mut self.labels.upstreams;
        if let Some(i) = upstreams.iter().position(|v| v.eq_ignore_ascii_case(addr)) {
            return i as u16;
        }
        if self.learned < self.labels.upstream_auto && plausible_address(addr) {
            upstreams.push(addr.to_owned());
            self.retries.push(0);
            self.learned += 1;
            tracing::info!(
                upstream_addr = addr,
                learned = self.learned,
                "upstream server gets a label of its own (--nginxlog.upstream-auto)"
            );
            return (upstreams.len() - 1) as u16;
        }
        UPSTREAM_OTHER
    }

    /// Requests counted so far (parse errors excluded).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The families, named `<namespace>_...` as prometheus-nginxlog-exporter names them, each
    /// series carrying `const_labels` too.
    pub fn families(
        &self,
        namespace: &str,
        const_labels: &[(String, String)],
    ) -> Vec<MetricFamily> {
        let name = |suffix: &str| {
            if namespace.is_empty() {
                suffix.to_owned()
            } else {
                format!("{namespace}_{suffix}")
            }
        };
        let mut count = MetricFamily::counter(
            name("http_response_count_total"),
            "Amount of processed HTTP requests",
        );
        let mut response_bytes = MetricFamily::counter(
            name("http_response_size_bytes"),
            "Total amount of transferred bytes",
        );
        let mut request_bytes = MetricFamily::counter(
            name("http_request_size_bytes"),
            "Total amount of received bytes",
        );
        let timings = [
            (
                "http_response_time_seconds",
                "Time needed by NGINX to handle requests",
            ),
            (
                "http_upstream_time_seconds",
                "Time needed by upstream servers to handle requests",
            ),
            (
                "http_upstream_connect_time_seconds",
                "Time needed to connect to upstream servers",
            ),
        ];
        let mut histograms =
            timings.map(|(n, help)| MetricFamily::histogram(name(&format!("{n}_hist")), help));
        let mut summaries = timings.map(|(n, help)| MetricFamily::summary(name(n), help));
        let mut keys: Vec<&Key> = self.series.keys().collect();
        keys.sort_by_key(|k| (k.method, k.status, k.host, k.upstream, k.route));
        for key in keys {
            let Some(series) = self.series.get(key) else {
                continue;
            };
            let labels = self.label_pairs(key, const_labels);
            count.push_owned(labels.clone(), series.responses as f64);
            response_bytes.push_owned(labels.clone(), series.response_bytes as f64);
            request_bytes.push_owned(labels.clone(), series.request_bytes as f64);
            let model_labels = octo_exporter_kit::owned_labels(labels.clone());
            let parts = [
                &series.response_time,
                &series.upstream_time,
                &series.upstream_connect_time,
            ];
            for ((histogram, summary), part) in
                histograms.iter_mut().zip(summaries.iter_mut()).zip(parts)
            {
                if part.count == 0 {
                    continue;
                }
                let mut cumulative = 0;
                let buckets: Vec<(f64, f64)> = self
                    .bounds
                    .iter()
                    .zip(&part.counts)
                    .map(|(bound, c)| {
                        cumulative += c;
                        (*bound, cumulative as f64)
                    })
                    .collect();
                histogram.push_histogram_labels(
                    model_labels.clone(),
                    &buckets,
                    part.sum,
                    part.count as f64,
                );
                // Upstream's summaries also carry quantiles; these have only sum and count
                // (see docs/nginx-exporter.md), enough for averages.
                summary.push_part("_sum", labels.clone(), part.sum);
                summary.push_part("_count", labels.clone(), part.count as f64);
            }
        }
        let mut retries = MetricFamily::counter(
            name("http_upstream_retries_total"),
            "Upstream attempts nginx passed to the next server (proxy_next_upstream)",
        );
        if self.labels.has_upstream_label() {
            let named = self.labels.upstreams.iter().map(String::as_str);
            let values = self.retries.iter().chain([&self.other_retries]);
            for (addr, value) in named.chain([OTHER]).zip(values) {
                let mut labels = const_labels.to_vec();
                labels.push(("upstream_addr".into(), addr.into()));
                retries.push_owned(labels, *value as f64);
            }
        } else {
            retries.push_owned(const_labels.to_vec(), self.other_retries as f64);
        }
        let mut errors = MetricFamily::counter(
            name("parse_errors_total"),
            "Total number of log file lines that could not be parsed",
        );
        errors.push_owned(const_labels.to_vec(), self.parse_errors as f64);
        let mut out = vec![count, response_bytes, request_bytes, retries, errors];
        out.extend(histograms);
        out.extend(summaries);
        out
    }

    fn label_pairs(&self, key: &Key, const_labels: &[(String, String)]) -> Vec<(String, String)> {
        let mut labels = const_labels.to_vec();
        let method = METHODS.get(key.method as usize).copied().unwrap_or(OTHER);
        labels.push(("method".into(), method.into()));
        labels.push(("status".into(), key.status.to_string()));
        let named = |list: &[String], i: u16| {
            list.get(i as usize)
                .map_or(OTHER, String::as_str)
                .to_owned()
        };
        if !self.labels.hosts.is_empty() {
            labels.push(("host".into(), named(&self.labels.hosts, key.host)));
        }
        if self.labels.has_upstream_label() {
            let value = match key.upstream {
                NO_UPSTREAM => String::new(),
                UPSTREAM_OTHER => OTHER.to_owned(),
                i => named(&self.labels.upstreams, i),
            };
            labels.push(("upstream_addr".into(), value));
        }
        if !self.labels.routes.is_empty() {
            let route = self
                .labels
                .routes
                .get(key.route as usize)
                .map_or(OTHER, |(_, name)| name.as_str());
            labels.push(("route".into(), route.into()));
        }
        labels
    }
}

/// The key's upstream when nginx passed the request to none (it answered itself).
const NO_UPSTREAM: u16 = u16::MAX;
/// The key's upstream when the server has no label of its own. A value of its own (not the
/// list's length, as for hosts and routes) because learned addresses lengthen the list.
const UPSTREAM_OTHER: u16 = u16::MAX - 1;

/// Whether a learned `$upstream_addr` looks like what nginx writes (`10.0.0.1:80`,
/// `[::1]:80`, `unix:/path`): anything else is `other`, so a forged or odd line cannot use up a
/// learned slot with text no backend has.
fn plausible_address(addr: &str) -> bool {
    (1..=255).contains(&addr.len())
        && addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:[]_-/".contains(&b))
}

fn optional_index(list: &[String], value: &str) -> u16 {
    if list.is_empty() {
        0
    } else {
        LabelSets::index(list, value)
    }
}

/// The servers nginx tried, in order: `$upstream_addr` separates attempts with ", " and
/// internal redirects with " : ". `-` or empty: none.
fn servers(upstream_addr: &str) -> impl Iterator<Item = &str> {
    // Both separators hold a space, which an address never does: most lines name one server.
    let several = memchr::memchr(b' ', upstream_addr.as_bytes()).is_some();
    let (single, list) = if several {
        (
            None,
            Some(upstream_addr.split(", ").flat_map(|part| part.split(" : "))),
        )
    } else {
        (Some(upstream_addr), None)
    };
    single
        .into_iter()
        .chain(list.into_iter().flatten())
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-")
}

/// The sum over every attempt of a `$upstream_*_time`; `None` when nginx wrote no number.
fn total_seconds(value: &str) -> Option<f64> {
    if !value.bytes().any(|b| b == b',' || b == b':') {
        return parse_seconds(value.trim());
    }
    let mut total = None;
    for part in value.split([',', ':']) {
        if let Some(seconds) = parse_seconds(part.trim()) {
            total = Some(total.unwrap_or(0.0) + seconds);
        }
    }
    total
}

/// A time as nginx writes it, seconds with three decimals (`0.004`), read as whole
/// milliseconds: the same `f64` the general parser gives (both are the nearest to n/1000),
/// in a fraction of its time. Anything else goes to the general parser.
fn parse_seconds(text: &str) -> Option<f64> {
    if let Some((whole, millis)) = text.split_once('.')
        && millis.len() == 3
        && (1..=9).contains(&whole.len())
        && whole
            .bytes()
            .chain(millis.bytes())
            .all(|b| b.is_ascii_digit())
    {
        let digits = |s: &str| s.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        return Some((digits(whole) * 1000 + digits(millis)) as f64 / 1000.0);
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logline::parse;

    fn stats(labels: LabelSets) -> LogStats {
        LogStats::new(labels, vec![0.1, 1.0])
    }

    fn line(status: &str, host: &str, uri: &str, upstream: &str) -> String {
        format!(
            r#"{{"host":"{host}","method":"GET","uri":"{uri}","status":"{status}","request_length":"10","body_bytes_sent":"5","request_time":"0.5","upstream_addr":"{upstream}","upstream_connect_time":"0.001","upstream_response_time":"0.2, 0.3"}}"#
        )
    }

    #[test]
    fn counts_under_upstream_names_with_bounded_labels() {
        let mut s = stats(LabelSets {
            hosts: vec!["shop.example".into()],
            upstreams: vec!["10.0.0.1:80".into(), "10.0.0.2:80".into()],
            upstream_auto: 0,
            routes: vec![
                ("/api/".into(), "api".into()),
                ("/api/admin".into(), "admin".into()),
            ],
        });
        for l in [
            line(
                "200",
                "shop.example",
                "/api/admin/x",
                "10.0.0.1:80, 10.0.0.2:80",
            ),
            line("200", "evil.example", "/random/1", "10.0.0.9:80"),
            line("404", "SHOP.example", "/api/v", "-"),
        ] {
            assert!(s.record(&parse(l.as_bytes()).unwrap()));
        }
        assert!(!s.record(&parse(line("999", "a", "/", "-").as_bytes()).unwrap()));
        let families = s.families("nginx", &[]);
        let count = families
            .iter()
            .find(|f| f.name == "nginx_http_response_count_total")
            .unwrap();
        let rendered: Vec<Vec<(String, String)>> =
            count.samples.iter().map(|s| s.label_strings()).collect();
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(rendered.contains(&pairs(&[
            ("method", "GET"),
            ("status", "200"),
            ("host", "shop.example"),
            ("upstream_addr", "10.0.0.2:80"),
            ("route", "admin"),
        ])));
        assert!(rendered.contains(&pairs(&[
            ("method", "GET"),
            ("status", "200"),
            ("host", "other"),
            ("upstream_addr", "other"),
            ("route", "other"),
        ])));
        assert!(rendered.contains(&pairs(&[
            ("method", "GET"),
            ("status", "404"),
            ("host", "shop.example"),
            ("upstream_addr", ""),
            ("route", "api"),
        ])));
        let errors = families
            .iter()
            .find(|f| f.name == "nginx_parse_errors_total")
            .unwrap();
        assert_eq!(errors.samples[0].value, 1.0);
        let retries = families
            .iter()
            .find(|f| f.name == "nginx_http_upstream_retries_total")
            .unwrap();
        assert_eq!(retries.samples[0].value, 1.0, "10.0.0.1:80 was given up on");
        let upstream = families
            .iter()
            .find(|f| f.name == "nginx_http_upstream_time_seconds_hist")
            .unwrap();
        let sum = upstream
            .samples
            .iter()
            .find(|s| s.suffix == "_sum")
            .unwrap();
        assert!((sum.value - 0.5).abs() < 1e-9, "both attempts add up");
    }

    #[test]
    fn hostile_values_never_add_series() {
        let mut s = stats(LabelSets::default());
        for i in 0..2000 {
            let l = format!(
                r#"{{"host":"h{i}","method":"M{i}","uri":"/{i}","status":"{}","request_time":"0.1"}}"#,
                200 + i % 3
            );
            s.record(&parse(l.as_bytes()).unwrap());
        }
        assert_eq!(s.series.len(), 3);
    }

    fn upstream_values(s: &LogStats, family: &str) -> std::collections::BTreeSet<String> {
        s.families("nginx", &[])
            .iter()
            .filter(|f| f.name == family)
            .flat_map(|f| &f.samples)
            .filter_map(|sample| {
                let (_, v) = sample.labels.iter().find(|(k, _)| k == "upstream_addr")?;
                Some(v.clone())
            })
            .collect()
    }

    #[test]
    fn learned_upstreams_stay_bounded() {
        const N: usize = 3;
        let mut s = stats(LabelSets {
            upstreams: vec!["10.0.0.1:80".into()],
            upstream_auto: N,
            ..Default::default()
        });
        // The configured address, then 500 distinct ones (some after a retry), then odd text.
        let mut lines = vec![line("200", "h", "/", "10.0.0.1:80")];
        for i in 0..500 {
            lines.push(line(
                "200",
                "h",
                "/",
                &format!("10.1.{}.{}:80", i / 250, i % 250),
            ));
            lines.push(line(
                "502",
                "h",
                "/",
                &format!("10.2.0.{}:80, 10.0.0.1:80", i % 250),
            ));
        }
        for odd in ["a b", "x\\u0022y", "-"] {
            lines.push(line("200", "h", "/", odd));
        }
        for l in &lines {
            assert!(s.record(&parse(l.as_bytes()).unwrap()));
        }
        // 10.2.0.0:80 was learned when nginx gave up on it (a retry), before 10.1.0.1:80.
        let learned = ["10.1.0.0:80", "10.2.0.0:80", "10.1.0.1:80"];
        let mut all = upstream_values(&s, "nginx_http_response_count_total");
        all.extend(upstream_values(&s, "nginx_http_upstream_retries_total"));
        let mut expected: std::collections::BTreeSet<String> =
            ["10.0.0.1:80", "other", ""].map(String::from).into();
        expected.extend(learned.map(String::from));
        // The configured address, "" (nginx answered itself), and N + 1 more: at most N learned.
        assert_eq!(all, expected);
        assert_eq!(all.len(), 2 + N + 1);
        let total: u64 = s.series.values().map(|x| x.responses).sum();
        assert_eq!(total, lines.len() as u64, "nothing lost to other");
    }

    #[test]
    fn only_address_text_is_learned() {
        for good in [
            "10.0.0.1:80",
            "[::1]:8080",
            "unix:/run/app.sock",
            "app_1.local:5000",
        ] {
            assert!(plausible_address(good), "{good}");
        }
        for bad in ["", "a b", "x\\u0022y", "<script>", &"1".repeat(256)] {
            assert!(!plausible_address(bad), "{bad}");
        }
    }

    #[test]
    fn configured_values_that_cannot_match_are_refused() {
        for bad in [
            LabelSets {
                hosts: vec!["a\"b".into()],
                ..Default::default()
            },
            LabelSets {
                routes: vec![("api".into(), "api".into())],
                ..Default::default()
            },
            LabelSets {
                upstream_auto: MAX_UPSTREAM_AUTO + 1,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }

    #[test]
    fn reads_the_servers_nginx_tried() {
        let all = |addr| servers(addr).collect::<Vec<_>>();
        assert_eq!(all("10.0.0.1:80"), ["10.0.0.1:80"]);
        assert_eq!(
            all("10.0.0.1:80, 10.0.0.2:80"),
            ["10.0.0.1:80", "10.0.0.2:80"]
        );
        assert_eq!(
            all("unix:/run/a.sock, 10.0.0.2:80 : 10.0.0.3:80"),
            ["unix:/run/a.sock", "10.0.0.2:80", "10.0.0.3:80"]
        );
        assert!(all("-").is_empty());
        assert!(all("").is_empty());
        assert_eq!(total_seconds("0.002, 0.003 : 0.010"), Some(0.015));
        assert_eq!(total_seconds("-"), None);
        assert_eq!(parse_seconds("12.5"), Some(12.5));
        assert_eq!(parse_seconds("1e3"), Some(1000.0));
        assert_eq!(parse_seconds(".123"), Some(0.123));
        assert_eq!(parse_seconds("x.123"), None);
    }

    proptest::proptest! {
        /// The millisecond fast path gives exactly what the general parser gives.
        #[test]
        fn nginx_times_read_as_the_general_parser_reads_them(whole in 0u64..1_000_000_000, millis in 0u64..1000) {
            let text = format!("{whole}.{millis:03}");
            proptest::prop_assert_eq!(parse_seconds(&text), text.parse::<f64>().ok());
        }
    }
}
