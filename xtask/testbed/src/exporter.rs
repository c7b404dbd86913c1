//! An exporter binary (ours or the upstream one from Debian) running on a free port.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{Service, wait_http_ok};
use crate::{TestbedError, free_port, temp_dir};

/// A running exporter, answering on `http://127.0.0.1:<port>`.
#[derive(Debug)]
pub struct ExporterProcess {
    service: Service,
    pub port: u16,
    _dir: TempDir,
}

impl ExporterProcess {
    /// Starts `program` with `args`; `listen_arg` turns the chosen port into the program's
    /// listen flag (`--web.listen-address=127.0.0.1:PORT`, cAdvisor's `-port=PORT`, ...). Ready
    /// when `ready_path` answers 200.
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
        Self::start_on(
            free_port(),
            name,
            program,
            args,
            envs,
            listen_arg,
            ready_path,
        )
        .await
    }

    /// [`start`](Self::start) on a port chosen by the caller (the program may learn it from
    /// `envs` instead of a flag, as the app does with `LISTEN_ADDR`).
    pub async fn start_on<I, S>(
        port: u16,
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
        let dir = temp_dir("octo-exporter-")?;
        let mut command = Command::new(program);
        command
            .current_dir(dir.path())
            .args(args)
            .args(listen_arg(port));
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
