//! The `--nginxlog.*` flags: the opt-in access-log source and the bounded label sets.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use octo_exporter_kit::{Flag, FlagSet, Flags};

use crate::logstats::LabelSets;

/// Prometheus client_golang's default buckets, which prometheus-nginxlog-exporter's users
/// usually configure.
const DEFAULT_BUCKETS: &str = ".005,.01,.025,.05,.1,.25,.5,1,2.5,5,10";

/// A longer wait lets more lines queue in nginx's socket buffers than they hold at the rates
/// one nginx worker reaches.
const MAX_BATCH_WAIT: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy)]
pub struct LogFlags {
    socket: Flag<Option<String>>,
    socket_mode: Flag<String>,
    batch_wait: Flag<Duration>,
    file: Flag<Option<String>>,
    namespace: Flag<String>,
    buckets: Flag<String>,
    hosts: Flag<Vec<String>>,
    upstreams: Flag<Vec<String>>,
    upstream_auto: Flag<u32>,
    routes: Flag<Vec<String>>,
}

/// What the flags configure; `None` from [`LogOptions::read`] when no source is given.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub socket: Option<PathBuf>,
    pub socket_mode: u32,
    /// The longest the socket reader lets lines gather before it reads them.
    pub batch_wait: Duration,
    pub file: Option<PathBuf>,
    pub namespace: String,
    pub buckets: Vec<f64>,
    pub labels: LabelSets,
}

pub fn declare(set: &mut FlagSet) -> LogFlags {
    set.heading("Access log (opt-in)");
    LogFlags {
        socket: set.optional(
            "nginxlog.socket",
            "Unix datagram socket to receive nginx's access log on (access_log \
             syslog:server=unix:<path>,nohostname octo_metrics;).",
        ),
        socket_mode: set.string(
            "nginxlog.socket-mode",
            "0660",
            "File mode of the log socket (octal): who may send log lines.",
        ),
        batch_wait: set.duration(
            "nginxlog.batch-wait",
            "2ms",
            "The longest the socket reader lets lines gather before it reads them (fewer \
             wake-ups, less CPU). Each nginx worker's socket holds about 150 lines: keep it \
             well below the time one worker takes to send that many. At most 20ms; 0: read \
             each line as it arrives.",
        ),
        file: set.optional(
            "nginxlog.file",
            "Access log file (octo_metrics format) to follow, across rotation and truncation.",
        ),
        namespace: set.string(
            "nginxlog.namespace",
            "nginx",
            "Metric name prefix, as prometheus-nginxlog-exporter's namespace.",
        ),
        buckets: set.string(
            "nginxlog.buckets",
            DEFAULT_BUCKETS,
            "Histogram buckets in seconds for response, upstream and connect times, comma-separated.",
        ),
        hosts: set.repeatable(
            "nginxlog.host",
            &[],
            "A host name to count under its own host label (others: \"other\"). Repeatable; \
             without it there is no host label.",
        ),
        upstreams: set.repeatable(
            "nginxlog.upstream",
            &[],
            "An upstream server address (as $upstream_addr writes it) to count under its own \
             upstream_addr label (others: \"other\"). Repeatable; without it there is no such label.",
        ),
        upstream_auto: set.number(
            "nginxlog.upstream-auto",
            0u32,
            "The first N upstream addresses seen that --nginxlog.upstream does not list get an \
             upstream_addr label of their own (others: \"other\"), for backends whose addresses \
             change (containers, pods). At most 1000; 0: none.",
        ),
        routes: set.repeatable(
            "nginxlog.route",
            &[],
            "prefix=name: requests whose path starts with prefix get route=\"name\" (longest \
             prefix wins; others: \"other\"). Repeatable; without it there is no route label.",
        ),
    }
}

impl LogOptions {
    pub fn read(flags: &Flags, handles: &LogFlags) -> anyhow::Result<Option<LogOptions>> {
        let path = |flag: Flag<Option<String>>| {
            flags.get(flag).filter(|v| !v.is_empty()).map(PathBuf::from)
        };
        let (socket, file) = (path(handles.socket), path(handles.file));
        if socket.is_none() && file.is_none() {
            return Ok(None);
        }
        let mode_text = flags.get(handles.socket_mode);
        let socket_mode = u32::from_str_radix(mode_text.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .with_context(|| {
                format!("--nginxlog.socket-mode {mode_text:?} is not an octal mode")
            })?;
        let batch_wait = flags.get(handles.batch_wait);
        if batch_wait > MAX_BATCH_WAIT {
            bail!(
                "--nginxlog.batch-wait {batch_wait:?} is longer than {MAX_BATCH_WAIT:?}: nginx \
                 would drop lines while they wait"
            );
        }
        let namespace = flags.get(handles.namespace).to_owned();
        if !namespace
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
        {
            bail!("--nginxlog.namespace {namespace:?} is not a metric name prefix");
        }
        let mut buckets = Vec::new();
        for part in flags.get(handles.buckets).split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let bound: f64 = part
                .parse()
                .ok()
                .filter(|b: &f64| b.is_finite())
                .with_context(|| format!("--nginxlog.buckets: {part:?} is not a number"))?;
            buckets.push(bound);
        }
        let owned = |flag: Flag<Vec<String>>| -> Vec<String> {
            flags.get(flag).into_iter().map(str::to_owned).collect()
        };
        let mut routes = Vec::new();
        for route in flags.get(handles.routes) {
            let (prefix, name) = route
                .split_once('=')
                .with_context(|| format!("--nginxlog.route {route:?} is not prefix=name"))?;
            routes.push((prefix.to_owned(), name.to_owned()));
        }
        let labels = LabelSets {
            hosts: owned(handles.hosts),
            upstreams: owned(handles.upstreams),
            upstream_auto: flags.get(handles.upstream_auto) as usize,
            routes,
        };
        labels.validate()?;
        Ok(Some(LogOptions {
            socket,
            socket_mode,
            batch_wait,
            file,
            namespace,
            buckets,
            labels,
        }))
    }
}

#[cfg(test)]
mod tests {
    use octo_exporter_kit::FlagSet;

    use super::*;

    fn read(args: &[&str]) -> anyhow::Result<Option<LogOptions>> {
        let mut set = FlagSet::new("t", "t", "0".into());
        let handles = declare(&mut set);
        let flags = set.parse_args(args).unwrap();
        LogOptions::read(&flags, &handles)
    }

    #[test]
    fn off_unless_a_source_is_given() {
        assert!(read(&[]).unwrap().is_none());
        let options = read(&[
            "--nginxlog.socket=/run/octo/nginx-log.sock",
            "--nginxlog.route=/api/=api",
            "--nginxlog.buckets=0.1,1",
            "--nginxlog.upstream-auto=8",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(options.socket_mode, 0o660);
        assert_eq!(options.batch_wait, Duration::from_millis(2));
        assert_eq!(options.buckets, vec![0.1, 1.0]);
        assert_eq!(options.labels.upstream_auto, 8);
        assert_eq!(options.labels.routes, vec![("/api/".into(), "api".into())]);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            ["--nginxlog.file=/x", "--nginxlog.socket-mode=999"],
            ["--nginxlog.file=/x", "--nginxlog.buckets=1,x"],
            ["--nginxlog.file=/x", "--nginxlog.namespace=a-b"],
            ["--nginxlog.file=/x", "--nginxlog.route=/api"],
            ["--nginxlog.file=/x", "--nginxlog.host=a\"b"],
            ["--nginxlog.file=/x", "--nginxlog.upstream-auto=1001"],
            ["--nginxlog.file=/x", "--nginxlog.batch-wait=21ms"],
        ] {
            assert!(read(&bad).is_err(), "{bad:?}");
        }
    }
}
