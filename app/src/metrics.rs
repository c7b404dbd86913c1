//! The app's Prometheus metrics, with the names the seed's dashboard and alert rules query:
//! `http_requests_total{method,endpoint,status}`, `http_request_duration_seconds{method,endpoint}`,
//! plus `http_requests_in_flight`, `app_info`, the seed's `app_requests_total{app,status}`, the
//! database pool and `process_*`. Served as Prometheus text 0.0.4.
//!
//! `endpoint` is the route template (`/api/usuarios/{id}`), never the raw path, and unknown
//! methods are folded into `OTHER`, so the number of series stays bounded whatever clients send.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Fine below a second (the app answers in milliseconds), and exactly 1 and 2 so the
/// dashboard's and the alert's thresholds on the p95 fall on bucket boundaries.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// The `endpoint` of requests that matched no route.
pub const UNMATCHED_ENDPOINT: &str = "other";

/// The route template a request matched (shared with the router, no copy), or `other`.
#[derive(Debug, Clone)]
pub struct Endpoint(Option<MatchedPath>);

impl Endpoint {
    fn as_str(&self) -> &str {
        self.0
            .as_ref()
            .map_or(UNMATCHED_ENDPOINT, MatchedPath::as_str)
    }
}

impl PartialEq for Endpoint {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Endpoint {}

impl std::hash::Hash for Endpoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Endpoint {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    endpoint: Endpoint,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    endpoint: Endpoint,
}

/// `app` comes from the registry's constant label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

fn new_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The registry and the request instruments.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    app_requests: Family<StatusLabels, Counter>,
}

impl Metrics {
    /// `pool` is read at every scrape for the pool gauges.
    pub fn new(app_name: &str, pool: Option<PoolCollector>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            new_histogram,
        );
        let in_flight = Gauge::default();
        let app_requests = Family::<StatusLabels, Counter>::default();
        // `register` appends "." to help texts and `_total` to counters: base names, no dots.
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status code",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            durations.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered now",
            in_flight.clone(),
        );
        registry.register(
            "app",
            "Instance name and version of the app",
            Info::new(vec![
                ("app".to_owned(), app_name.to_owned()),
                ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
            ]),
        );
        if let Some(pool) = pool {
            registry.register_collector(Box::new(pool));
        }
        registry.register_collector(Box::new(ProcessCollector::new()));
        registry
            .sub_registry_with_label((Cow::Borrowed("app"), Cow::Owned(app_name.to_owned())))
            .register(
                "app_requests",
                "HTTP requests answered, by instance name and status code (the seed's alert rules)",
                app_requests.clone(),
            );
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
            app_requests,
        }
    }

    /// The exposition, Prometheus text format 0.0.4.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    fn record(&self, method: &'static str, endpoint: Endpoint, status: u16, seconds: f64) {
        self.durations
            .get_or_create(&RouteLabels {
                method,
                endpoint: endpoint.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                endpoint,
                status,
            })
            .inc();
        self.app_requests
            .get_or_create(&StatusLabels { status })
            .inc();
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Decrements the in-flight gauge even if the request future is dropped (client gone).
struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts and times every request under its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    metrics.in_flight.inc();
    let _in_flight = InFlight(&metrics.in_flight);
    let method = method_label(request.method());
    let endpoint = Endpoint(request.extensions().get::<MatchedPath>().cloned());
    let response = next.run(request).await;
    metrics.record(
        method,
        endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The mysql_async pool's own gauges and counters, read at scrape time.
#[derive(Debug)]
pub struct PoolCollector {
    pub pool: Arc<mysql_async::Metrics>,
    pub max_connections: usize,
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let pool = &self.pool;
        let gauge = |encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64| {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
        };
        let as_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let mut connections = encoder.encode_descriptor(
            "app_db_pool_connections",
            "Open database connections of this instance, by state (idle in the pool or in use).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(as_i64(pool.connections_in_pool.load(Relaxed)))
            .encode(connections.encode_family(&[("state", "idle")])?)?;
        ConstGauge::new(as_i64(pool.connections_in_use.load(Relaxed)))
            .encode(connections.encode_family(&[("state", "in_use")])?)?;
        gauge(
            &mut encoder,
            "app_db_pool_max_connections",
            "Most database connections this instance may open (DB_POOL_SIZE).",
            as_i64(self.max_connections),
        )?;
        gauge(
            &mut encoder,
            "app_db_pool_wait_requests",
            "Requests waiting for a database connection.",
            as_i64(pool.active_wait_requests.load(Relaxed)),
        )?;
        let failures = ConstCounter::new(pool.create_failed.load(Relaxed) as u64);
        failures.encode(encoder.encode_descriptor(
            "app_db_pool_connect_failures",
            "Database connections that could not be opened.",
            None,
            MetricType::Counter,
        )?)?;
        Ok(())
    }
}

/// `process_*` as client_golang's process collector writes them, from `/proc/self`.
///
/// Written here rather than taken from `octo-exporter-kit`: the kit's `ProcessFacts` produces the
/// kit's own families (a different exposition model) and depending on the kit would compile its
/// TLS, bcrypt and web-config code into the app for seven numbers.
#[derive(Debug)]
pub struct ProcessCollector {
    page_size: u64,
    ticks_per_second: f64,
    boot_time: Option<f64>,
}

impl ProcessCollector {
    fn new() -> ProcessCollector {
        use nix::unistd::{SysconfVar, sysconf};
        let page_size = sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(4096);
        let ticks_per_second = sysconf(SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .map_or(100.0, |v| v as f64);
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            stat.lines()
                .find_map(|line| line.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        ProcessCollector {
            page_size,
            ticks_per_second,
            boot_time,
        }
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
        use procfs_core::FromRead as _;
        let mut gauge = |name: &str, help: &str, value: f64| {
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)
        };
        let limit = |value: u64| {
            if value == RLIM_INFINITY {
                u64::MAX as f64
            } else {
                value as f64
            }
        };
        // A family that cannot be read is left out; the rest of the scrape goes on.
        let stat = std::fs::File::open("/proc/self/stat")
            .ok()
            .and_then(|file| procfs_core::process::Stat::from_read(file).ok());
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            gauge(
                "process_open_fds",
                "Number of open file descriptors.",
                entries.count() as f64,
            )?;
        }
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
            gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                limit(soft),
            )?;
        }
        if let Some(stat) = &stat {
            gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stat.vsize as f64,
            )?;
            gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                stat.rss as f64 * self.page_size as f64,
            )?;
            if let Some(boot) = self.boot_time {
                gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    boot + stat.starttime as f64 / self.ticks_per_second,
                )?;
            }
        }
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_AS) {
            gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                limit(soft),
            )?;
        }
        if let Some(stat) = &stat {
            let seconds = (stat.utime + stat.stime) as f64 / self.ticks_per_second;
            ConstCounter::new(seconds).encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_and_buckets() {
        let metrics = Metrics::new("app1", None);
        metrics.record("GET", Endpoint(None), 200, 0.003);
        metrics.record("POST", Endpoint(None), 503, 1.5);
        let text = metrics.encode().unwrap();
        for needle in [
            "# TYPE http_requests_total counter",
            "http_requests_total{method=\"GET\",endpoint=\"other\",status=\"200\"} 1",
            "# TYPE http_request_duration_seconds histogram",
            "http_request_duration_seconds_bucket{method=\"POST\",endpoint=\"other\",le=\"1\"} 0",
            "http_request_duration_seconds_bucket{method=\"POST\",endpoint=\"other\",le=\"2\"} 1",
            "http_requests_in_flight 0",
            "app_info{app=\"app1\",version=",
            "app_requests_total{app=\"app1\",status=\"503\"} 1",
            "# TYPE process_cpu_seconds_total counter",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains(".."), "doubled dots in help:\n{text}");
        assert!(!text.contains("_total_total"));
    }

    #[test]
    fn unknown_methods_are_folded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "OTHER"
        );
    }
}
