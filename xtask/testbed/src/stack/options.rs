//! How to run the stack, and on which ports.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::TestbedError;
use crate::host::try_free_port;

/// The ports the stack listens on (all on 127.0.0.1).
#[derive(Debug, Clone)]
pub struct StackPorts {
    pub nginx: u16,
    pub nginx_status: u16,
    pub apps: [u16; 2],
    pub mariadb: u16,
    pub node_exporter: u16,
    pub mysqld_exporter: u16,
    pub nginx_exporter: u16,
    pub container_exporter: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub alert_log: u16,
    /// The dashboard viewer (nginx serving `viewer/`, the dashboards and Prometheus's read API).
    pub viewer: u16,
}

impl StackPorts {
    /// The documented ports of `cargo xtask up`: nginx 8080 and Prometheus 9090 as announced,
    /// the exporters on their upstream defaults (the container exporter moves from cAdvisor's
    /// 8080, which nginx has, to 8088), MariaDB on 3307 to stay clear of a system MariaDB.
    pub fn native() -> Self {
        StackPorts {
            nginx: 8080,
            nginx_status: 8081,
            apps: [5000, 5001],
            mariadb: 3307,
            node_exporter: 9100,
            mysqld_exporter: 9104,
            nginx_exporter: 9113,
            container_exporter: 8088,
            prometheus: 9090,
            alertmanager: 9093,
            alert_log: 9095,
            // Where Compose publishes Grafana: the same dashboards at the same port.
            viewer: 3000,
        }
    }

    /// Free ports everywhere, for tests.
    pub fn ephemeral() -> Result<Self, TestbedError> {
        Ok(StackPorts {
            nginx: try_free_port()?,
            nginx_status: try_free_port()?,
            apps: [try_free_port()?, try_free_port()?],
            mariadb: try_free_port()?,
            node_exporter: try_free_port()?,
            mysqld_exporter: try_free_port()?,
            nginx_exporter: try_free_port()?,
            container_exporter: try_free_port()?,
            prometheus: try_free_port()?,
            alertmanager: try_free_port()?,
            alert_log: try_free_port()?,
            viewer: try_free_port()?,
        })
    }

    fn all(&self) -> [(&'static str, u16); 13] {
        [
            ("nginx", self.nginx),
            ("nginx stub_status", self.nginx_status),
            ("app1", self.apps[0]),
            ("app2", self.apps[1]),
            ("MariaDB", self.mariadb),
            ("node exporter", self.node_exporter),
            ("mysqld exporter", self.mysqld_exporter),
            ("nginx exporter", self.nginx_exporter),
            ("container exporter", self.container_exporter),
            ("Prometheus", self.prometheus),
            ("Alertmanager", self.alertmanager),
            ("alert log", self.alert_log),
            ("dashboard viewer", self.viewer),
        ]
    }

    /// Fails naming the first port something else already holds.
    pub(super) fn check_free(&self) -> Result<(), TestbedError> {
        for (what, port) in self.all() {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(TestbedError::Start {
                    service: what.into(),
                    detail: format!(
                        "port {port} on 127.0.0.1 is already in use; stop whatever holds it"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The repository root (configuration files).
    pub repo: PathBuf,
    /// Where the octo-* binaries are (target/release or target/debug).
    pub bin_dir: PathBuf,
    pub ports: StackPorts,
    pub scrape_interval: Duration,
    /// Replaces every rule's `for:` (tests make alerts fire in seconds).
    pub rule_for: Option<String>,
    /// Keep MariaDB's data here across runs (`cargo xtask up`); a temporary directory otherwise.
    pub mariadb_data: Option<PathBuf>,
    /// Print a line per service as it starts.
    pub progress: bool,
    /// Run each service in `/<cgroup_root>/<service>` when possible (root, writable cgroupfs),
    /// so the container exporter reports the services as containers.
    pub cgroup_root: String,
    /// The Grafana dashboard files the viewer lists, in order: JSON files, or directories whose
    /// `*.json` files are taken. Read in place, never copied.
    pub dashboards: Vec<PathBuf>,
}

impl StackOptions {
    /// The built binary `name` in [`bin_dir`](Self::bin_dir).
    pub(super) fn binary(&self, name: &str) -> Result<PathBuf, TestbedError> {
        let path = self.bin_dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(TestbedError::Start {
                service: name.into(),
                detail: format!(
                    "{} is not built (cargo build --workspace builds it)",
                    path.display()
                ),
            })
        }
    }
}
