//! The stack's services other than the exporters, one function each.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::accounts::{ADMIN_USER, APP_DATABASE, APP_USER, AppSecrets, random_secret};
use super::config;
use super::options::StackOptions;
use super::progress::{say, timed};
use super::viewer;
use crate::error::TestbedError;
use crate::exporter::{ExporterOptions, ExporterProcess};
use crate::files::write_file;
use crate::host::require_program;
use crate::mariadb::{MariaDb, MariaDbOptions};
use crate::nginx::Nginx;
use crate::process::{Service, wait_http_ok};
use crate::prometheus::Prometheus;

/// MariaDB on the stack's port, its data kept where the options say.
pub(super) async fn start_mariadb(options: &StackOptions) -> Result<MariaDb, TestbedError> {
    MariaDb::start_with(MariaDbOptions {
        data_dir: options.mariadb_data.clone(),
        port: Some(options.ports.mariadb),
        ..MariaDbOptions::default()
    })
    .await
}

/// App instance `name` on `port`, configured through the environment as Compose does (the
/// shared CSRF key and the admin password in files); ready when its database is.
pub(super) async fn start_app(
    options: &StackOptions,
    name: &str,
    port: u16,
    password: &str,
    secrets: &AppSecrets,
) -> Result<ExporterProcess, TestbedError> {
    let program = options.binary("octo-app")?;
    let listen = format!("127.0.0.1:{port}");
    let mariadb_port = options.ports.mariadb.to_string();
    let csrf_key_file = secrets.csrf_key_file.display().to_string();
    let admin_password_file = secrets.admin_password_file.display().to_string();
    ExporterProcess::start_with(ExporterOptions {
        name,
        program: &program,
        port,
        args: Vec::new(),
        envs: &[
            ("APP_NAME", name),
            ("LISTEN_ADDR", &listen),
            ("MYSQL_HOST", "127.0.0.1"),
            ("MYSQL_PORT", &mariadb_port),
            ("MYSQL_USER", APP_USER),
            ("MYSQL_PASSWORD", password),
            ("MYSQL_DATABASE", APP_DATABASE),
            ("CSRF_KEY_FILE", &csrf_key_file),
            ("ADMIN_USER", ADMIN_USER),
            ("ADMIN_PASSWORD_FILE", &admin_password_file),
        ],
        ready_path: "/readyz",
    })
    .await
}

/// nginx with the repository's server configuration, balancing over the app instances.
pub(super) async fn start_nginx(options: &StackOptions) -> Result<Nginx, TestbedError> {
    let ports = &options.ports;
    let upstreams = config::nginx_app_upstreams(ports);
    let mut failed = None;
    // A file that cannot be written makes nginx fail to start, which reports it with its log.
    let started = Nginx::start_with(ports.nginx, |prefix| {
        let socket = prefix.join(config::NGINX_LOG_SOCKET);
        let octo = match config::nginx_server(&options.repo, ports, &socket) {
            Ok(octo) => octo,
            Err(err) => {
                failed = Some(err);
                String::new()
            }
        };
        let upstreams_dir = prefix.join("upstreams");
        let _ = std::fs::create_dir_all(&upstreams_dir);
        let _ = std::fs::write(upstreams_dir.join("app.conf"), upstreams);
        let _ = std::fs::write(prefix.join("octo.conf"), &octo);
        let dashboards = prefix.join(viewer::DASHBOARDS_DIR);
        let viewer_server = viewer::publish_dashboards(&dashboards, options)
            .and_then(|()| viewer::nginx_server(&options.repo, ports, &dashboards));
        match viewer_server {
            Ok(server) => {
                let _ = std::fs::write(prefix.join("viewer.conf"), server);
            }
            Err(err) => failed = failed.take().or(Some(err)),
        }
        "include octo.conf;\ninclude viewer.conf;\n".to_owned()
    })
    .await;
    match failed {
        Some(err) => Err(err),
        None => started,
    }
}

/// The alert log, Alertmanager's webhook receiver, when it was built.
pub(super) async fn start_alert_log(
    options: &StackOptions,
) -> Result<Option<ExporterProcess>, TestbedError> {
    let Ok(program) = options.binary("octo-alert-log") else {
        return Ok(None);
    };
    let port = options.ports.alert_log;
    let started = ExporterProcess::start_with(ExporterOptions {
        name: "octo-alert-log",
        program: &program,
        port,
        args: vec![
            OsString::from("--listen"),
            OsString::from(format!("127.0.0.1:{port}")),
        ],
        envs: &[],
        ready_path: "/healthz",
    });
    Ok(Some(timed(options, "alert log", started).await?))
}

/// Alertmanager with the repository's configuration, when Debian's package is installed;
/// its files go under `work`.
pub(super) async fn start_alertmanager(
    options: &StackOptions,
    work: &Path,
) -> Result<Option<Service>, TestbedError> {
    match require_program("prometheus-alertmanager", "prometheus-alertmanager") {
        Ok(program) => Ok(Some(
            timed(
                options,
                "Alertmanager",
                run_alertmanager(options, &program, work),
            )
            .await?,
        )),
        Err(err) => {
            say(options, &format!("  skipping Alertmanager: {err}"));
            Ok(None)
        }
    }
}

async fn run_alertmanager(
    options: &StackOptions,
    program: &Path,
    work: &Path,
) -> Result<Service, TestbedError> {
    let ports = &options.ports;
    let dir = work.join("alertmanager");
    std::fs::create_dir_all(dir.join("data")).map_err(|source| TestbedError::Io {
        context: "creating Alertmanager's directory".into(),
        source,
    })?;
    let token = dir.join("webhook-token");
    write_file(&token, &random_secret())?;
    let config_path = dir.join("alertmanager.yml");
    write_file(
        &config_path,
        &config::alertmanager(&options.repo, ports, &token)?,
    )?;
    let mut command = Command::new(program);
    command
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!(
            "--web.listen-address=127.0.0.1:{}",
            ports.alertmanager
        ))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    let mut service = Service::spawn("alertmanager", command, &dir.join("alertmanager.log"))?;
    let ready = format!("http://127.0.0.1:{}/-/ready", ports.alertmanager);
    wait_http_ok(&mut service, Duration::from_secs(30), &ready).await?;
    Ok(service)
}

/// Prometheus with the repository's configuration and alert rules.
pub(super) async fn start_prometheus(options: &StackOptions) -> Result<Prometheus, TestbedError> {
    let config =
        config::native_prometheus_config(&options.repo, &options.ports, options.scrape_interval)?;
    let rules = config::rules(&options.repo, options.rule_for.as_deref())?;
    Prometheus::start_on(
        options.ports.prometheus,
        &config,
        &[("rules/alerts.yml", &rules)],
    )
    .await
}
