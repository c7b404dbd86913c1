//! octo-container-exporter: a drop-in replacement for cAdvisor's Prometheus endpoint.
//!
//! Same flags (Go `flag` grammar: `-port=8080`, `--docker_only`, `-store_container_labels=false`),
//! same families, names, types and labels; but it reads the cgroup files when Prometheus scrapes,
//! with no per-container polling and no stored history; the disk kind's writable-layer walks
//! run in a background thread ([`disk_usage`]), never during a scrape. cgroup v1, v2 and
//! hybrid hosts; Docker (and Podman) metadata from the Engine API on its unix socket.
//!
//! - [`config`]: the command line and the configuration it makes;
//! - [`collector`]: one scrape, from the cgroup tree ([`discovery`], [`classify`]) and runtime
//!   metadata ([`metadata`], [`docker`], [`cri`]) to the readings ([`stats`]) and the families
//!   ([`series`], [`families`], [`labels`]).

mod advtcp;
mod background;
mod cgroup;
mod cgroup_files;
mod cgroup_kind;
mod classify;
mod collector;
mod config;
mod cpu_load;
mod cpuset;
mod cri;
mod devices;
mod dimm;
mod discovery;
mod disk;
mod disk_flags;
mod disk_usage;
mod diskstats;
mod docker;
mod du;
mod extras;
mod families;
mod fd_limit;
mod hugetlb;
mod labels;
mod lines;
mod load_sampler;
mod machine;
mod memory_numa;
mod metadata;
mod mounts;
mod net_sockets;
mod options;
mod parse;
mod process;
mod reader;
mod referenced;
mod sched;
mod series;
mod stats;
mod taskstats;
mod topology;

use std::sync::Arc;

use octo_exporter_kit::{
    Exporter, ExporterFlags, ExporterInfo, HandlerMetrics, HttpError, MetricFamily, Reply,
    ScrapeRequest,
};

use crate::collector::Collector;
use crate::config::{Config, ConfigFlags};

static INFO: ExporterInfo = ExporterInfo {
    binary: "octo-container-exporter",
    title: "Octo Container Exporter",
    upstream: "cAdvisor",
    build_info_metric: "octo_container_exporter_build_info",
    default_listen_address: ":8080",
    version: env!("CARGO_PKG_VERSION"),
    handler_metrics: HandlerMetrics::None,
};

struct ContainerExporter {
    collector: tokio::sync::Mutex<Collector>,
}

impl Exporter for ContainerExporter {
    async fn collect(&self, _request: &ScrapeRequest) -> Result<Vec<MetricFamily>, HttpError> {
        // One scrape at a time: they share the read buffers and caches, and a second
        // concurrent scrape would read the same files again for the same answer.
        let mut collector = self.collector.lock().await;
        Ok(collector.collect().await)
    }

    async fn handle_other(&self, request: &ScrapeRequest) -> Option<Reply> {
        (request.path == "/healthz").then(|| Reply::Text {
            status: 200,
            body: "ok".to_owned(),
        })
    }
}

async fn run(flags: ExporterFlags, handles: ConfigFlags) -> anyhow::Result<()> {
    let config = Config::read(&flags, &handles, INFO.version)?;
    let mut collector = Collector::new(config.layout, config.options, config.engines, config.cri);
    collector.probe_engines().await;
    tracing::info!(
        version = INFO.version,
        cgroup_mode = collector.mode().as_str(),
        cgroups = collector.cgroup_count(),
        inotify = collector.is_watching(),
        open_cgroup_dirs = collector.open_dirs(),
        "Starting octo-container-exporter"
    );
    let exporter = ContainerExporter {
        collector: tokio::sync::Mutex::new(collector),
    };
    octo_exporter_kit::serve(&INFO, config.web, Arc::new(exporter)).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let (flags, handles) =
        config::parse(&INFO, std::env::args_os().collect()).unwrap_or_else(|err| err.exit());
    octo_exporter_kit::run_exporter(flags, move |flags| run(flags, handles))
}
