//! MariaDB from Debian's package: its own datadir, socket and port, `mariadb-install-db` then
//! `mariadbd`, driven with the `mariadb` command-line client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::command::combined_output;
use crate::error::TestbedError;
use crate::files::temp_dir;
use crate::host::{require_program, running_as_root, try_free_port};
use crate::process::{Service, log_tail, wait_ready};

/// How to start a MariaDB server.
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// `--server-id` and a binary log, for replication sources and replicas.
    pub server_id: Option<u32>,
    /// Extra `mariadbd` arguments.
    pub extra_args: Vec<String>,
    /// Keep the data in this directory instead of a temporary one (`cargo xtask up`).
    pub data_dir: Option<PathBuf>,
    /// Listen on this port instead of a free one.
    pub port: Option<u16>,
}

/// A running MariaDB server. `root` connects without a password over the socket and over TCP
/// from 127.0.0.1.
#[derive(Debug)]
pub struct MariaDb {
    service: Option<Service>,
    pub port: u16,
    pub socket: PathBuf,
    data_dir: PathBuf,
    dir: TempDir,
    options: MariaDbOptions,
}

impl MariaDb {
    /// A fresh server with default options.
    pub async fn start() -> Result<MariaDb, TestbedError> {
        Self::start_with(MariaDbOptions::default()).await
    }

    pub async fn start_with(options: MariaDbOptions) -> Result<MariaDb, TestbedError> {
        let dir = temp_dir("octo-mariadb-")?;
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let port = match options.port {
            Some(port) => port,
            None => try_free_port()?,
        };
        let socket = dir.path().join("mysqld.sock");
        if !data_dir.join("mysql").is_dir() {
            install(&data_dir, dir.path()).await?;
        }
        let mut db = MariaDb {
            service: None,
            port,
            socket,
            data_dir,
            dir,
            options,
        };
        db.launch().await?;
        Ok(db)
    }

    async fn launch(&mut self) -> Result<(), TestbedError> {
        let program = require_program("mariadbd", "mariadb-server")?;
        let dir = self.dir.path();
        let mut command = Command::new(program);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir.display()))
            .arg(format!("--socket={}", self.socket.display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--tmpdir={}", dir.display()))
            .arg("--innodb-buffer-pool-size=64M")
            .arg("--innodb-log-file-size=16M")
            .arg("--max-connections=400")
            .arg("--skip-name-resolve")
            .arg("--character-set-server=utf8mb4")
            .arg("--collation-server=utf8mb4_unicode_ci");
        if running_as_root() {
            command.arg("--user=root");
        }
        if let Some(id) = self.options.server_id {
            command
                .arg(format!("--server-id={id}"))
                .arg("--log-bin=mariadb-bin")
                .arg("--binlog-format=ROW");
        }
        command.args(&self.options.extra_args);
        let mut service = Service::spawn("mariadbd", command, &dir.join("stdout.log"))?
            .with_stop_signal(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(60));
        let socket = self.socket.clone();
        let error_log = dir.join("error.log");
        let ready = wait_ready(&mut service, Duration::from_secs(60), || {
            let socket = socket.clone();
            async move { run_client(&socket, "SELECT 1").await.is_ok() }
        })
        .await;
        if let Err(TestbedError::Start { service, detail }) = ready {
            return Err(TestbedError::Start {
                service,
                detail: format!("{detail}\nerror.log:\n{}", log_tail(&error_log, 20)),
            });
        }
        ready?;
        self.service = Some(service);
        Ok(())
    }

    /// Runs SQL as root over the socket and returns the output (tab-separated, no headers).
    pub async fn sql(&self, statements: &str) -> Result<String, TestbedError> {
        run_client(&self.socket, statements).await
    }

    /// Creates a user that may connect from anywhere with a password, with `grants` on `*.*`
    /// (for example `ALL` or `PROCESS, REPLICATION CLIENT, SELECT`).
    pub async fn create_user(
        &self,
        user: &str,
        password: &str,
        grants: &str,
    ) -> Result<(), TestbedError> {
        self.sql(&format!(
            "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}';\n\
             GRANT {grants} ON *.* TO '{user}'@'%';\nFLUSH PRIVILEGES;"
        ))
        .await
        .map(|_| ())
    }

    /// `mysql://user:password@127.0.0.1:port/database`.
    pub fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "mysql://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Shuts the server down cleanly and waits.
    pub fn stop(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.stop();
        }
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.kill();
        }
    }

    /// Starts the server again on the same data, port and socket.
    pub async fn restart(&mut self) -> Result<(), TestbedError> {
        self.stop();
        self.launch().await
    }

    pub fn is_running(&mut self) -> bool {
        self.service.as_mut().is_some_and(Service::is_running)
    }

    pub fn pid(&self) -> Option<u32> {
        self.service.as_ref().and_then(Service::pid)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn install(data_dir: &Path, work: &Path) -> Result<(), TestbedError> {
    let program = require_program("mariadb-install-db", "mariadb-server")?;
    let mut command = tokio::process::Command::new(program);
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data_dir.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--tmpdir={}", work.display()))
        .kill_on_drop(true);
    if running_as_root() {
        command.arg("--user=root");
    }
    let output = command.output().await.map_err(|source| TestbedError::Io {
        context: "running mariadb-install-db".into(),
        source,
    })?;
    if !output.status.success() {
        return Err(TestbedError::Start {
            service: "mariadb-install-db".into(),
            detail: combined_output(&output),
        });
    }
    Ok(())
}

async fn run_client(socket: &Path, statements: &str) -> Result<String, TestbedError> {
    let program = require_program("mariadb", "mariadb-client")?;
    let output = tokio::process::Command::new(program)
        .arg("--no-defaults")
        .arg(format!("--socket={}", socket.display()))
        .arg("--user=root")
        .arg("--batch")
        .arg("--skip-column-names")
        .arg("--connect-timeout=5")
        .arg("-e")
        .arg(statements)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| TestbedError::Io {
            context: "running the mariadb client".into(),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(TestbedError::Command {
            service: "mariadb".into(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
