//! The exporter's own metrics: build information, `process_*` as client_golang's process
//! collector names them, and promhttp's scrape counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::exposition::MetricFamily;
use crate::info::{ExporterInfo, HandlerMetrics};

/// The `goarch` value Go would report for this build.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `<exporter>_build_info{branch,goarch,goos,goversion,revision,tags,version} 1`, with the
/// labels upstream uses; `goversion` names the Rust compiler that built us.
pub fn build_info(info: &ExporterInfo) -> MetricFamily {
    let help = format!(
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which {} was built, and the goos and goarch for the build.",
        info.upstream
    );
    MetricFamily::gauge(info.build_info_metric, help).with(
        &[
            ("branch", option_env!("OCTO_BUILD_BRANCH").unwrap_or("")),
            ("goarch", go_arch()),
            ("goos", std::env::consts::OS),
            ("goversion", env!("OCTO_RUSTC_VERSION")),
            ("revision", option_env!("OCTO_BUILD_REVISION").unwrap_or("")),
            ("tags", "unknown"),
            ("version", info.version),
        ],
        1.0,
    )
}

/// Scrape counters kept across requests.
#[derive(Debug, Default)]
pub struct HandlerCounters {
    ok: AtomicU64,
    error: AtomicU64,
    overloaded: AtomicU64,
    in_flight: AtomicU64,
}

impl HandlerCounters {
    /// Counts one answered scrape by its status.
    pub fn count(&self, status: u16) {
        let counter = match status {
            200 => &self.ok,
            503 => &self.overloaded,
            _ => &self.error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a scrape as in flight until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// The `promhttp_metric_handler_*` families this exporter's upstream has.
    pub fn families(&self, which: HandlerMetrics) -> Vec<MetricFamily> {
        if which == HandlerMetrics::None {
            return Vec::new();
        }
        let mut total = MetricFamily::counter(
            "promhttp_metric_handler_requests_total",
            "Total number of scrapes by HTTP status code.",
        );
        for (code, counter) in [
            ("200", &self.ok),
            ("500", &self.error),
            ("503", &self.overloaded),
        ] {
            total.push(&[("code", code)], counter.load(Ordering::Relaxed) as f64);
        }
        let in_flight = MetricFamily::gauge(
            "promhttp_metric_handler_requests_in_flight",
            "Current number of scrapes being served.",
        )
        .with(&[], self.in_flight.load(Ordering::Relaxed) as f64);
        let mut families = vec![total, in_flight];
        if which == HandlerMetrics::RequestsAndErrors {
            // Encoding cannot fail and collectors report their own failures, so these stay 0;
            // they exist because node_exporter's dashboards and alerts may select them.
            let mut errors = MetricFamily::counter(
                "promhttp_metric_handler_errors_total",
                "Total number of internal errors encountered by the promhttp metric handler.",
            );
            errors.push(&[("cause", "encoding")], 0.0);
            errors.push(&[("cause", "gathering")], 0.0);
            families.push(errors);
        }
        families
    }
}

/// See [`HandlerCounters::enter`].
pub struct InFlight<'a>(&'a HandlerCounters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The number of open descriptors. Since Linux 6.2 the size of `/proc/self/fd` is that
/// number (procfs' `FileDescriptorsLen`, which client_golang uses, takes it so too): one
/// `statx` instead of listing the directory, which builds a dentry per descriptor. Older
/// kernels report 0 there; then the directory is listed (its own descriptor counted, as Go's).
fn open_fds() -> Option<usize> {
    match std::fs::metadata("/proc/self/fd") {
        Ok(metadata) if metadata.len() > 0 => usize::try_from(metadata.len()).ok(),
        _ => std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count),
    }
}

/// Facts about this process that do not change while it runs.
#[derive(Debug, Clone)]
pub struct ProcessFacts {
    page_size: u64,
    start_time_seconds: Option<f64>,
}

impl ProcessFacts {
    /// Reads the page size and the process start time (from `/proc/self/stat` and the boot time
    /// in `/proc/stat`: the exporter's own process, not the monitored host's).
    pub fn read() -> Self {
        let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as u64;
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            stat.lines()
                .find_map(|line| line.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        let start_ticks = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                // Fields after the command name, which is in parentheses and may contain spaces.
                let after = &stat[stat.rfind(')')? + 2..];
                after.split(' ').nth(19)?.parse::<f64>().ok()
            });
        let start_time_seconds = match (boot_time, start_ticks) {
            (Some(boot), Some(start)) => Some(boot + start / ticks),
            _ => None,
        };
        ProcessFacts {
            page_size,
            start_time_seconds,
        }
    }

    /// `process_*` families as client_golang's process collector writes them.
    /// The duration and success families.
    pub fn families(&self) -> Vec<MetricFamily> {
        use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage};
        let mut families = Vec::with_capacity(7);
        if let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) {
            let seconds =
                |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            families.push(
                MetricFamily::counter(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                )
                .with(
                    &[],
                    seconds(usage.user_time()) + seconds(usage.system_time()),
                ),
            );
        }
        if let Some(open) = open_fds() {
            families.push(
                MetricFamily::gauge("process_open_fds", "Number of open file descriptors.")
                    .with(&[], open as f64),
            );
        }
        let limit_value = |limit: u64| {
            if limit == nix::sys::resource::RLIM_INFINITY {
                u64::MAX as f64
            } else {
                limit as f64
            }
        };
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
            families.push(
                MetricFamily::gauge(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                )
                .with(&[], limit_value(soft)),
            );
        }
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let mut fields = statm
                .split_ascii_whitespace()
                .map(|f| f.parse::<u64>().ok());
            if let (Some(Some(size)), Some(Some(resident))) = (fields.next(), fields.next()) {
                families.push(
                    MetricFamily::gauge(
                        "process_virtual_memory_bytes",
                        "Virtual memory size in bytes.",
                    )
                    .with(&[], (size * self.page_size) as f64),
                );
                families.push(
                    MetricFamily::gauge(
                        "process_resident_memory_bytes",
                        "Resident memory size in bytes.",
                    )
                    .with(&[], (resident * self.page_size) as f64),
                );
            }
        }
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_AS) {
            families.push(
                MetricFamily::gauge(
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes.",
                )
                .with(&[], limit_value(soft)),
            );
        }
        if let Some(start) = self.start_time_seconds {
            families.push(
                MetricFamily::gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                )
                .with(&[], start),
            );
        }
        families
    }
}

/// Per-collector scrape outcome, exported as `<prefix>_duration_seconds{collector}` and
/// `<prefix>_success{collector}` (node: `node_scrape_collector`, mysqld:
/// `mysql_exporter_collector`).
#[derive(Debug)]
pub struct CollectorOutcomes {
    prefix: &'static str,
    duration_help: &'static str,
    success_help: &'static str,
    outcomes: Vec<(String, f64, bool)>,
}

impl CollectorOutcomes {
    /// Outcomes named `<prefix>_duration_seconds` and `<prefix>_success`.
    pub fn new(
        prefix: &'static str,
        duration_help: &'static str,
        success_help: &'static str,
    ) -> Self {
        CollectorOutcomes {
            prefix,
            duration_help,
            success_help,
            outcomes: Vec::new(),
        }
    }

    /// Records how one collector did.
    pub fn record(&mut self, collector: impl Into<String>, seconds: f64, success: bool) {
        self.outcomes.push((collector.into(), seconds, success));
    }

    /// The duration and success families.
    pub fn families(&self) -> Vec<MetricFamily> {
        let mut duration = MetricFamily::gauge(
            format!("{}_duration_seconds", self.prefix),
            self.duration_help,
        );
        let mut success =
            MetricFamily::gauge(format!("{}_success", self.prefix), self.success_help);
        for (collector, seconds, ok) in &self.outcomes {
            duration.push(&[("collector", collector)], *seconds);
            success.push(&[("collector", collector)], if *ok { 1.0 } else { 0.0 });
        }
        vec![duration, success]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_families_describe_this_process() {
        let facts = ProcessFacts::read();
        let families = facts.families();
        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(value("process_resident_memory_bytes") > 100_000.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
    }
}
