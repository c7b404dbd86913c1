//! Prometheus from Debian's package, with its own configuration and storage, and its HTTP API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::error::TestbedError;
use crate::files::{temp_dir, write_file};
use crate::host::{require_program, try_free_port};
use crate::http::http_get;
use crate::process::{Service, wait_http_ok};

/// A running Prometheus.
#[derive(Debug)]
pub struct Prometheus {
    service: Service,
    pub port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `config` (prometheus.yml) and extra files written beside it (rule
    /// files, referenced relatively from the configuration).
    pub async fn start(config: &str, files: &[(&str, &str)]) -> Result<Prometheus, TestbedError> {
        Self::start_on(try_free_port()?, config, files).await
    }

    pub async fn start_on(
        port: u16,
        config: &str,
        files: &[(&str, &str)],
    ) -> Result<Prometheus, TestbedError> {
        let program = require_program("prometheus", "prometheus")?;
        let dir = temp_dir("octo-prometheus-")?;
        for (name, contents) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| TestbedError::Io {
                    context: format!("creating {}", parent.display()),
                    source,
                })?;
            }
            write_file(&path, contents)?;
        }
        write_file(&dir.path().join("prometheus.yml"), config)?;
        let service = launch(program, dir.path(), port).await?;
        Ok(Prometheus { service, port, dir })
    }

    /// Stops Prometheus (SIGTERM, as an operator would), keeping its port, files and data.
    pub fn stop(&mut self) {
        self.service.stop();
    }

    /// Starts Prometheus again on the same port, configuration and data after [`Self::stop`]
    /// (or a crash), and waits until it is ready.
    pub async fn restart(&mut self) -> Result<(), TestbedError> {
        self.service.stop();
        let program = require_program("prometheus", "prometheus")?;
        self.service = launch(program, self.dir.path(), self.port).await?;
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.yml")
    }

    /// GET on the API, returning the `data` member of a successful answer.
    pub async fn api(&self, path_and_query: &str) -> Result<serde_json::Value, TestbedError> {
        let url = self.url(path_and_query);
        let (status, body) = http_get(&url).await?;
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|err| TestbedError::Http {
                url: url.clone(),
                detail: format!("status {status}, not JSON ({err}): {body}"),
            })?;
        if value["status"] != "success" {
            return Err(TestbedError::Http {
                url,
                detail: format!("status {status}: {body}"),
            });
        }
        Ok(value["data"].clone())
    }

    /// An instant query; returns the result vector.
    pub async fn query(&self, expr: &str) -> Result<Vec<serde_json::Value>, TestbedError> {
        let query: String = url_encode(expr);
        let data = self.api(&format!("/api/v1/query?query={query}")).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Active targets as `(job, instance, health)`.
    pub async fn targets(&self) -> Result<Vec<(String, String, String)>, TestbedError> {
        let data = self.api("/api/v1/targets?state=active").await?;
        Ok(data["activeTargets"]
            .as_array()
            .map(|targets| {
                targets
                    .iter()
                    .map(|t| {
                        (
                            t["labels"]["job"].as_str().unwrap_or_default().to_owned(),
                            t["labels"]["instance"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            t["health"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Alerts as `(alertname, state)`.
    pub async fn alerts(&self) -> Result<Vec<(String, String, serde_json::Value)>, TestbedError> {
        let data = self.api("/api/v1/alerts").await?;
        Ok(data["alerts"]
            .as_array()
            .map(|alerts| {
                alerts
                    .iter()
                    .map(|a| {
                        (
                            a["labels"]["alertname"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            a["state"].as_str().unwrap_or_default().to_owned(),
                            a["labels"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn pid(&self) -> Option<u32> {
        self.service.pid()
    }

    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }
}

/// Runs Prometheus on the configuration and storage in `dir`, listening on `port`, until ready.
async fn launch(program: PathBuf, dir: &Path, port: u16) -> Result<Service, TestbedError> {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn");
    let mut service = Service::spawn("prometheus", command, &dir.join("prometheus.log"))?;
    let ready = format!("http://127.0.0.1:{port}/-/ready");
    wait_http_ok(&mut service, Duration::from_secs(60), &ready).await?;
    Ok(service)
}

/// Percent-encodes a query parameter value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
