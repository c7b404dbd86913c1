//! An exporter binary (ours or the upstream one from Debian) running on a free port.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::error::TestbedError;
use crate::files::temp_dir;
use crate::host::try_free_port;
use crate::process::{Service, wait_http_ok};

/// A running exporter, answering on `http://127.0.0.1:<port>`.
#[derive(Debug)]
pub struct ExporterProcess {
    service: Service,
    pub port: u16,
    _dir: TempDir,
}

/// How to start an exporter on a port the caller chose.
#[derive(Debug, Clone)]
pub struct ExporterOptions<'a> {
    /// Names the process in logs and errors.
    pub name: &'a str,
    pub program: &'a Path,
    /// The port it answers on: the program learns it from `args` (its listen flag, see
    /// [`ExporterProcess::web_listen`]) or from `envs` (the app's `LISTEN_ADDR`).
    pub port: u16,
    pub args: Vec<OsString>,
    pub envs: &'a [(&'a str, &'a str)],
    /// Ready when this path answers 200.
    pub ready_path: &'a str,
}

impl ExporterProcess {
    /// Starts `program` with `args` on a free port; `listen_arg` turns the port into the
    /// program's listen flag (`--web.listen-address=127.0.0.1:PORT`, cAdvisor's `-port=PORT`,
    /// ...). Ready when `ready_path` answers 200.
    pub async fn start<I, S>(
        name: &str,
        program: &Path,
        args: I,
        envs: &[(&str, &str)],
        listen_arg: impl FnOnce(u16) -> Vec<String>,
        ready_path: &str,
    ) -> Result<ExporterProcess, TestbedError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let port = try_free_port()?;
        let mut args: Vec<OsString> = args
            .into_iter()
            .map(|arg| arg.as_ref().to_owned())
            .collect();
        args.extend(listen_arg(port).into_iter().map(OsString::from));
        Self::start_with(ExporterOptions {
            name,
            program,
            port,
            args,
            envs,
            ready_path,
        })
        .await
    }

    /// Starts an exporter as `options` say.
    pub async fn start_with(options: ExporterOptions<'_>) -> Result<ExporterProcess, TestbedError> {
        let ExporterOptions {
            name,
            program,
            port,
            args,
            envs,
            ready_path,
        } = options;
        let dir = temp_dir("octo-exporter-")?;
        let mut command = Command::new(program);
        command.current_dir(dir.path()).args(args);
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut service = Service::spawn(name, command, &dir.path().join("exporter.log"))?
            .with_stop_signal(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(15));
        let url = format!("http://127.0.0.1:{port}{ready_path}");
        wait_http_ok(&mut service, Duration::from_secs(30), &url).await?;
        Ok(ExporterProcess {
            service,
            port,
            _dir: dir,
        })
    }

    /// The kingpin listen flag on loopback.
    pub fn web_listen(port: u16) -> Vec<String> {
        vec![format!("--web.listen-address=127.0.0.1:{port}")]
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.service.pid()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.service.log_path()).unwrap_or_default()
    }
}
