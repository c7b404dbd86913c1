//! The running stack: started service by service, stopped in reverse order when dropped.

use std::path::Path;

use tempfile::TempDir;

use super::accounts::{self, ADMIN_USER, APP_DATABASE, AppSecrets};
use super::config;
use super::exporters::{self, Exporters};
use super::limits;
use super::options::StackOptions;
use super::progress::timed;
use super::services::{
    start_alert_log, start_alertmanager, start_app, start_mariadb, start_nginx, start_prometheus,
};
use crate::cgroups::ServiceCgroups;
use crate::error::TestbedError;
use crate::exporter::ExporterProcess;
use crate::files::temp_dir;
use crate::mariadb::MariaDb;
use crate::nginx::Nginx;
use crate::process::Service;
use crate::prometheus::Prometheus;

/// The running stack. Dropping it stops everything, in reverse order of start.
pub struct Stack {
    // Field order is drop order: the front first, the database last.
    pub prometheus: Prometheus,
    pub alertmanager: Option<Service>,
    pub alert_log: Option<ExporterProcess>,
    pub nginx_exporter: ExporterProcess,
    pub node_exporter: ExporterProcess,
    pub mysqld_exporter: ExporterProcess,
    pub container_exporter: ExporterProcess,
    pub nginx: Nginx,
    pub apps: Vec<Option<ExporterProcess>>,
    pub mariadb: MariaDb,
    pub options: StackOptions,
    app_password: String,
    app_secrets: AppSecrets,
    dir: TempDir,
    /// Last: the cgroups are removed once every service has stopped.
    cgroups: Option<ServiceCgroups>,
}

impl Stack {
    /// Starts every service in dependency order: the database, the apps, nginx, the exporters,
    /// the alert path, Prometheus.
    pub async fn start(options: StackOptions) -> Result<Stack, TestbedError> {
        options.ports.check_free()?;
        let dir = temp_dir("octo-stack-")?;
        let cgroups = limits::create(&options);
        let adopt = |service: &str, pid| limits::adopt(cgroups.as_ref(), service, pid);

        let mariadb = timed(&options, "MariaDB", start_mariadb(&options)).await?;
        adopt("mariadb", mariadb.pid());
        let passwords = accounts::create(&mariadb).await?;
        let app_secrets = accounts::write_app_secrets(dir.path())?;

        let mut apps = Vec::new();
        for (index, port) in options.ports.apps.iter().enumerate() {
            let name = format!("app{}", index + 1);
            let app = start_app(&options, &name, *port, &passwords.app, &app_secrets);
            let app = timed(&options, &name, app).await?;
            adopt(&name, app.pid());
            apps.push(Some(app));
        }

        let nginx = timed(&options, "nginx", start_nginx(&options)).await?;
        adopt("nginx", nginx.pid());

        let nginx_log_socket = nginx.prefix().join(config::NGINX_LOG_SOCKET);
        let exporters = exporters::start_all(
            &options,
            &passwords.exporter,
            cgroups.as_ref(),
            &nginx_log_socket,
        )
        .await?;
        for (service, exporter) in exporters.by_service() {
            adopt(service, exporter.pid());
        }

        let alert_log = start_alert_log(&options).await?;
        let alertmanager = start_alertmanager(&options, dir.path()).await?;
        let prometheus = timed(&options, "Prometheus", start_prometheus(&options)).await?;
        adopt("prometheus", prometheus.pid());
        if let Some(alertmanager) = &alertmanager {
            adopt("alertmanager", alertmanager.pid());
        }
        if let Some(alert_log) = &alert_log {
            adopt("alert-log", alert_log.pid());
        }

        let Exporters {
            nginx: nginx_exporter,
            node: node_exporter,
            mysqld: mysqld_exporter,
            container: container_exporter,
        } = exporters;
        Ok(Stack {
            prometheus,
            alertmanager,
            alert_log,
            nginx_exporter,
            node_exporter,
            mysqld_exporter,
            container_exporter,
            nginx,
            apps,
            mariadb,
            options,
            app_password: passwords.app,
            app_secrets,
            dir,
            cgroups,
        })
    }

    /// Stops app instance `index` (0 or 1) as SIGTERM would, leaving the rest running.
    pub fn stop_app(&mut self, index: usize) {
        if let Some(mut app) = self.apps.get_mut(index).and_then(Option::take) {
            app.service().stop();
        }
    }

    /// Starts app instance `index` again.
    pub async fn start_app(&mut self, index: usize) -> Result<(), TestbedError> {
        let name = format!("app{}", index + 1);
        let port = self.options.ports.apps[index];
        let app = start_app(
            &self.options,
            &name,
            port,
            &self.app_password,
            &self.app_secrets,
        )
        .await?;
        self.adopt(&name, app.pid());
        self.apps[index] = Some(app);
        Ok(())
    }

    /// Starts MariaDB again after [`MariaDb::stop`] or [`MariaDb::kill`], in its cgroup.
    pub async fn restart_mariadb(&mut self) -> Result<(), TestbedError> {
        self.mariadb.restart().await?;
        self.adopt("mariadb", self.mariadb.pid());
        Ok(())
    }

    /// Starts Prometheus again on its port and data after [`Prometheus::stop`], in its cgroup.
    pub async fn restart_prometheus(&mut self) -> Result<(), TestbedError> {
        self.prometheus.restart().await?;
        self.adopt("prometheus", self.prometheus.pid());
        Ok(())
    }

    /// The dashboard viewer: `http://127.0.0.1:<viewer port><path>`.
    pub fn viewer_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.options.ports.viewer)
    }

    fn adopt(&self, service: &str, pid: Option<u32>) {
        limits::adopt(self.cgroups.as_ref(), service, pid);
    }

    /// The user and password adding and deleting users needs (HTTP Basic), new at every start.
    pub fn admin(&self) -> (&'static str, &str) {
        (ADMIN_USER, &self.app_secrets.admin_password)
    }

    /// The file holding the admin password, for people (it lives as long as the stack).
    pub fn admin_password_file(&self) -> &Path {
        &self.app_secrets.admin_password_file
    }

    /// `http://127.0.0.1:<nginx port><path>`.
    pub fn url(&self, path: &str) -> String {
        self.nginx.url(path)
    }

    /// What a newcomer opens, as (what, URL).
    pub fn urls(&self) -> Vec<(&'static str, String)> {
        let p = &self.options.ports;
        let mut urls = vec![
            ("app (through nginx)", self.url("/")),
            ("users", self.url("/usuarios")),
            ("dashboards (viewer)", self.viewer_url("/")),
            ("Prometheus", self.prometheus.url("/")),
            // Debian's Prometheus ships the classic UI only.
            (
                "Prometheus targets",
                self.prometheus.url("/classic/targets"),
            ),
            ("Prometheus alerts", self.prometheus.url("/classic/alerts")),
            ("app1 directly", format!("http://127.0.0.1:{}/", p.apps[0])),
            ("app2 directly", format!("http://127.0.0.1:{}/", p.apps[1])),
            ("node exporter", self.node_exporter.url("/metrics")),
            ("mysqld exporter", self.mysqld_exporter.url("/metrics")),
            ("nginx exporter", self.nginx_exporter.url("/metrics")),
            (
                "container exporter",
                self.container_exporter.url("/metrics"),
            ),
        ];
        if self.alertmanager.is_some() {
            urls.push((
                "Alertmanager",
                format!("http://127.0.0.1:{}/", p.alertmanager),
            ));
        }
        urls.push((
            "MariaDB",
            format!("127.0.0.1:{} (database {APP_DATABASE})", p.mariadb),
        ));
        urls
    }

    /// The working directory of this run (logs of the services that write there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
