//! The four Octo exporters, each pointed at the service it watches.

use std::ffi::OsString;
use std::path::Path;

use super::accounts::EXPORTER_USER;
use super::options::StackOptions;
use super::progress::timed;
use crate::cgroups::ServiceCgroups;
use crate::error::TestbedError;
use crate::exporter::{ExporterOptions, ExporterProcess};

/// The running exporters.
pub(super) struct Exporters {
    pub nginx: ExporterProcess,
    pub node: ExporterProcess,
    pub mysqld: ExporterProcess,
    pub container: ExporterProcess,
}

impl Exporters {
    /// Each exporter with the name of its service (its cgroup).
    pub fn by_service(&self) -> [(&'static str, &ExporterProcess); 4] {
        [
            ("nginx-exporter", &self.nginx),
            ("node-exporter", &self.node),
            ("mysqld-exporter", &self.mysqld),
            ("container-exporter", &self.container),
        ]
    }
}

/// Starts the exporters one after the other, each announced.
pub(super) async fn start_all(
    options: &StackOptions,
    exporter_password: &str,
    cgroups: Option<&ServiceCgroups>,
    nginx_log_socket: &Path,
) -> Result<Exporters, TestbedError> {
    Ok(Exporters {
        nginx: timed(
            options,
            "octo-nginx-exporter",
            start_nginx(options, nginx_log_socket),
        )
        .await?,
        node: timed(options, "octo-node-exporter", start_node(options)).await?,
        mysqld: timed(
            options,
            "octo-mysqld-exporter",
            start_mysqld(options, exporter_password),
        )
        .await?,
        container: timed(
            options,
            "octo-container-exporter",
            start_container(options, cgroups),
        )
        .await?,
    })
}

/// Starts the octo binary `name` on `port` with `args` and its kingpin listen flag.
async fn start(
    options: &StackOptions,
    name: &str,
    port: u16,
    args: Vec<String>,
    envs: &[(&str, &str)],
) -> Result<ExporterProcess, TestbedError> {
    let program = options.binary(name)?;
    ExporterProcess::start_with(ExporterOptions {
        name,
        program: &program,
        port,
        args: args
            .into_iter()
            .chain(ExporterProcess::web_listen(port))
            .map(OsString::from)
            .collect(),
        envs,
        ready_path: "/metrics",
    })
    .await
}

/// The nginx exporter reads stub_status and receives the load balancer's access log; the app
/// instances are its known upstreams (the `upstream_addr` label of the load-balancer row).
async fn start_nginx(
    options: &StackOptions,
    log_socket: &Path,
) -> Result<ExporterProcess, TestbedError> {
    let ports = &options.ports;
    let mut args = vec![
        format!(
            "--nginx.scrape-uri=http://127.0.0.1:{}/stub_status",
            ports.nginx_status
        ),
        format!("--nginxlog.socket={}", log_socket.display()),
    ];
    args.extend(
        ports
            .apps
            .iter()
            .map(|port| format!("--nginxlog.upstream=127.0.0.1:{port}")),
    );
    start(
        options,
        "octo-nginx-exporter",
        ports.nginx_exporter,
        args,
        &[],
    )
    .await
}

async fn start_node(options: &StackOptions) -> Result<ExporterProcess, TestbedError> {
    let port = options.ports.node_exporter;
    start(options, "octo-node-exporter", port, Vec::new(), &[]).await
}

async fn start_mysqld(
    options: &StackOptions,
    password: &str,
) -> Result<ExporterProcess, TestbedError> {
    let ports = &options.ports;
    start(
        options,
        "octo-mysqld-exporter",
        ports.mysqld_exporter,
        vec![
            format!("--mysqld.address=127.0.0.1:{}", ports.mariadb),
            format!("--mysqld.username={EXPORTER_USER}"),
        ],
        &[("MYSQLD_EXPORTER_PASSWORD", password)],
    )
    .await
}

async fn start_container(
    options: &StackOptions,
    cgroups: Option<&ServiceCgroups>,
) -> Result<ExporterProcess, TestbedError> {
    // With service cgroups: only those, named like containers (and the host's root).
    let args: Vec<String> = match cgroups {
        Some(cgroups) => vec![
            "-docker_only".into(),
            format!("-raw_cgroup_prefix_whitelist={}", cgroups.prefix),
            "-raw_cgroup_name_labels".into(),
        ],
        None => Vec::new(),
    };
    let port = options.ports.container_exporter;
    start(options, "octo-container-exporter", port, args, &[]).await
}
