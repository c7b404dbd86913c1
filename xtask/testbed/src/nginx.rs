//! nginx from Debian's package, with `stub_status`, in a temporary prefix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::error::TestbedError;
use crate::files::{temp_dir, write_file};
use crate::host::{require_program, running_as_root, try_free_port};
use crate::process::{Service, log_tail, wait_ready};

/// A running nginx.
#[derive(Debug)]
pub struct Nginx {
    service: Service,
    /// The loopback port of the main server.
    pub port: u16,
    dir: TempDir,
}

impl Nginx {
    /// nginx with `GET /stub_status` (also on the unix socket [`Nginx::unix_socket`]) and a
    /// plain `200 ok` for every other path.
    pub async fn start() -> Result<Nginx, TestbedError> {
        let port = try_free_port()?;
        Self::start_with(port, |dir| {
            let socket = dir.join("status.sock");
            format!(
                "access_log off;\nserver {{\n  listen 127.0.0.1:{port};\n  location = /stub_status {{ stub_status; }}\n  \
                 location / {{ return 200 \"ok\\n\"; }}\n}}\n\
                 server {{\n  listen unix:{socket};\n  location = /stub_status {{ stub_status; }}\n}}\n",
                socket = socket.display()
            )
        })
        .await
    }

    /// nginx with the given `http {}` block contents (servers, upstreams), listening on `port`.
    /// The closure gets nginx's prefix directory (where relative `include`s are resolved and
    /// where it may write files). Temporary files, the pid file and logs go to that prefix.
    pub async fn start_with(
        port: u16,
        http_block: impl FnOnce(&Path) -> String,
    ) -> Result<Nginx, TestbedError> {
        let program = require_program("nginx", "nginx")?;
        let dir = temp_dir("octo-nginx-")?;
        let prefix = dir.path();
        let user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        };
        let config = format!(
            "{user}daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  client_body_temp_path {p}/client_body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n{body}}}\n",
            p = prefix.display(),
            body = http_block(prefix),
        );
        // nginx's default access log is logs/access.log under the prefix.
        std::fs::create_dir_all(prefix.join("logs")).map_err(|source| TestbedError::Io {
            context: "creating nginx's log directory".into(),
            source,
        })?;
        let config_path = prefix.join("nginx.conf");
        write_file(&config_path, &config)?;
        let mut command = Command::new(program);
        command
            .arg("-p")
            .arg(prefix)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .arg("-c")
            .arg(&config_path);
        let mut service = Service::spawn("nginx", command, &prefix.join("stdout.log"))?
            .with_stop_signal(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(10));
        let error_log = prefix.join("error.log");
        wait_ready(&mut service, Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await
        .map_err(|err| match err {
            TestbedError::Start { service, detail } => TestbedError::Start {
                service,
                detail: format!("{detail}\nerror.log:\n{}", log_tail(&error_log, 20)),
            },
            other => other,
        })?;
        Ok(Nginx { service, port, dir })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stub_status_url(&self) -> String {
        self.url("/stub_status")
    }

    /// The unix socket of the default configuration's second server.
    pub fn unix_socket(&self) -> PathBuf {
        self.dir.path().join("status.sock")
    }

    pub fn prefix(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.service.pid()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    pub fn stop(&mut self) {
        self.service.stop();
    }
}
