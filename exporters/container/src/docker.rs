//! The Docker Engine API over its unix socket (also Podman's Docker-compatible API): container
//! inspection (name, image, labels, environment, start time, pid, network mode, health), the
//! engine version, and the ids of healthy containers.
//!
//! HTTP/1.1 with hyper's connection API, one short connection per request: requests happen only
//! when unknown container ids appear (plus one health query per scrape while containers with a
//! health check run), so a pool would buy nothing.

use std::collections::HashSet;
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

/// Responses larger than this are refused (an inspect answer is a few kilobytes).
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("connecting to {socket}: {source}")]
    Connect {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("GET {path} on {socket}: {detail}")]
    Http {
        socket: PathBuf,
        path: String,
        detail: String,
    },
    #[error("GET {path} on {socket}: timed out after {timeout:?}")]
    Timeout {
        socket: PathBuf,
        path: String,
        timeout: Duration,
    },
    #[error("GET {path} on {socket}: status {status}")]
    Status {
        socket: PathBuf,
        path: String,
        status: u16,
    },
    #[error("GET {path} on {socket}: malformed JSON: {source}")]
    Json {
        socket: PathBuf,
        path: String,
        source: serde_json::Error,
    },
    #[error("unsupported endpoint {0:?}: only unix:///path/to/socket endpoints are supported")]
    Endpoint(String),
}

impl EngineError {
    /// Whether the engine could not be reached at all (as opposed to answering badly).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            EngineError::Connect { .. } | EngineError::Timeout { .. }
        )
    }
}

/// What the exporter keeps about one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// The name without Docker's leading `/`.
    pub name: String,
    pub image: String,
    /// Labels sorted by key; `restartcount` added as cAdvisor does.
    pub labels: Vec<(String, String)>,
    /// Environment variables whose names start with a whitelisted prefix (names lower-cased).
    pub envs: Vec<(String, String)>,
    pub created: Option<f64>,
    pub started: Option<f64>,
    pub pid: Option<u32>,
    pub network_mode: String,
    pub has_healthcheck: bool,
    pub healthy_at_inspect: Option<bool>,
}

impl Metadata {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    #[serde(default)]
    name: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    restart_count: u64,
    #[serde(default)]
    state: Option<InspectState>,
    #[serde(default)]
    config: Option<InspectConfig>,
    #[serde(default)]
    host_config: Option<InspectHostConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    #[serde(default)]
    running: bool,
    #[serde(default)]
    pid: i64,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    health: Option<InspectHealth>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHealth {
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    healthcheck: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHostConfig {
    #[serde(default)]
    network_mode: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Version {
    #[serde(default)]
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedContainer {
    #[serde(default)]
    id: String,
}

/// A client for one engine socket.
#[derive(Debug, Clone)]
pub struct EngineClient {
    socket: PathBuf,
    timeout: Duration,
}

impl EngineClient {
    /// From cAdvisor's `-docker`/`-podman` value: `unix:///var/run/docker.sock` (or a bare
    /// path). TCP endpoints are refused with a clear error.
    pub fn from_endpoint(endpoint: &str, timeout: Duration) -> Result<EngineClient, EngineError> {
        let path = if let Some(rest) = endpoint.strip_prefix("unix://") {
            rest
        } else if endpoint.starts_with('/') {
            endpoint
        } else {
            return Err(EngineError::Endpoint(endpoint.to_owned()));
        };
        if path.is_empty() {
            return Err(EngineError::Endpoint(endpoint.to_owned()));
        }
        Ok(EngineClient {
            socket: PathBuf::from(path),
            timeout,
        })
    }

    #[cfg(test)]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn get(&self, path: &str) -> Result<Option<Bytes>, EngineError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.get_inner(path)).await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Timeout {
                socket: self.socket.clone(),
                path: path.to_owned(),
                timeout,
            }),
        }
    }

    /// GET `path`; `None` for 404.
    async fn get_inner(&self, path: &str) -> Result<Option<Bytes>, EngineError> {
        let http_error = |detail: String| EngineError::Http {
            socket: self.socket.clone(),
            path: path.to_owned(),
            detail,
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| EngineError::Connect {
                socket: self.socket.clone(),
                source,
            })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|err| http_error(err.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = http::Request::get(path)
            .header(http::header::HOST, "docker")
            .header(http::header::USER_AGENT, "octo-container-exporter")
            .body(Empty::<Bytes>::new())
            .map_err(|err| http_error(err.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| http_error(err.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|err| http_error(err.to_string()))?
            .to_bytes();
        driver.abort();
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            status => Err(EngineError::Status {
                socket: self.socket.clone(),
                path: path.to_owned(),
                status,
            }),
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<T, EngineError> {
        serde_json::from_slice(body).map_err(|source| EngineError::Json {
            socket: self.socket.clone(),
            path: path.to_owned(),
            source,
        })
    }

    /// The engine's version string (`GET /version`).
    pub async fn version(&self) -> Result<String, EngineError> {
        let path = "/version";
        match self.get(path).await? {
            Some(body) => Ok(self.json::<Version>(path, &body)?.version),
            None => Ok(String::new()),
        }
    }

    /// `GET /containers/{id}/json`: `None` when the engine does not know the id or the
    /// container is not running (cAdvisor then treats the cgroup as a raw one).
    pub async fn inspect(
        &self,
        id: &str,
        env_prefixes: &[String],
    ) -> Result<Option<Metadata>, EngineError> {
        if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let path = format!("/containers/{id}/json");
        let Some(body) = self.get(&path).await? else {
            return Ok(None);
        };
        let inspect: Inspect = self.json(&path, &body)?;
        Ok(metadata_from(inspect, env_prefixes))
    }

    /// The ids of running containers whose health check passes
    /// (`GET /containers/json?filters={"health":["healthy"]}`).
    pub async fn healthy_ids(&self) -> Result<HashSet<String>, EngineError> {
        let path = "/containers/json?filters=%7B%22health%22%3A%5B%22healthy%22%5D%7D";
        let Some(body) = self.get(path).await? else {
            return Ok(HashSet::new());
        };
        let listed: Vec<ListedContainer> = self.json(path, &body)?;
        Ok(listed.into_iter().map(|c| c.id).collect())
    }
}

/// The `NAME=value` variables whose names start with one of `prefixes` (cAdvisor's
/// `-env_metadata_whitelist`), names lower-cased, sorted, first of a name kept.
pub fn whitelisted_envs<'a>(
    variables: impl Iterator<Item = &'a str>,
    prefixes: &[String],
) -> Vec<(String, String)> {
    let mut envs: Vec<(String, String)> = variables
        .filter_map(|variable| variable.split_once('='))
        .filter(|(key, _)| {
            prefixes
                .iter()
                .any(|prefix| !prefix.is_empty() && key.starts_with(prefix.as_str()))
        })
        .map(|(key, value)| (key.to_ascii_lowercase(), value.to_owned()))
        .collect();
    envs.sort();
    envs.dedup_by(|a, b| a.0 == b.0);
    envs
}

fn metadata_from(inspect: Inspect, env_prefixes: &[String]) -> Option<Metadata> {
    let state = inspect.state?;
    if !state.running {
        return None;
    }
    let config = inspect.config;
    let mut labels: Vec<(String, String)> = config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    if inspect.restart_count > 0 {
        labels.push(("restartcount".to_owned(), inspect.restart_count.to_string()));
        labels.sort();
    }
    let envs = whitelisted_envs(
        config
            .as_ref()
            .and_then(|c| c.env.as_ref())
            .into_iter()
            .flatten()
            .map(String::as_str),
        env_prefixes,
    );
    let has_healthcheck = state.health.is_some()
        || config
            .as_ref()
            .and_then(|c| c.healthcheck.as_ref())
            .is_some_and(|h| !h.is_null());
    Some(Metadata {
        name: inspect.name.trim_start_matches('/').to_owned(),
        image: config.map(|c| c.image).unwrap_or_default(),
        labels,
        envs,
        created: parse_rfc3339(&inspect.created),
        started: parse_rfc3339(&state.started_at),
        pid: u32::try_from(state.pid).ok().filter(|pid| *pid > 0),
        network_mode: inspect
            .host_config
            .map(|h| h.network_mode)
            .unwrap_or_default(),
        has_healthcheck,
        healthy_at_inspect: state.health.map(|h| h.status == "healthy"),
    })
}

/// Unix seconds of an RFC 3339 time as Docker writes it (`2015-01-06T15:47:32.072697474Z`,
/// or with a `+01:00` offset). Times before 1970 (Docker's zero time) are `None`.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || (bytes[10] != b'T' && bytes[10] != b't')
    {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!("0.{}", &after_dot[..digits]).parse().ok()?;
        rest = &after_dot[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    (seconds >= 0).then_some(seconds as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2015-01-06T15:47:32Z"), Some(1_420_559_252.0));
        let t = parse_rfc3339("2015-01-06T15:47:32.072697474Z").unwrap();
        assert!((t - 1_420_559_252.072_697_5).abs() < 1e-6);
        assert_eq!(
            parse_rfc3339("2015-01-06T16:47:32+01:00"),
            Some(1_420_559_252.0)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339(""), None);
        assert_eq!(parse_rfc3339("2015-13-06T15:47:32Z"), None);
        assert_eq!(parse_rfc3339("2015-01-06T15:47:32.Z"), None);
        assert_eq!(parse_rfc3339("2015-01-06T15:47:32"), None);
        assert_eq!(parse_rfc3339("ééééééééééééééééééééé"), None);
    }

    #[test]
    fn endpoints() {
        let t = Duration::from_secs(1);
        assert_eq!(
            EngineClient::from_endpoint("unix:///var/run/docker.sock", t)
                .unwrap()
                .socket(),
            Path::new("/var/run/docker.sock")
        );
        assert!(EngineClient::from_endpoint("tcp://1.2.3.4:2375", t).is_err());
        assert!(EngineClient::from_endpoint("unix://", t).is_err());
    }

    #[test]
    fn inspect_json_to_metadata() {
        let json = r#"{"Id":"abc","Created":"2015-01-06T15:47:31.485331387Z","Name":"/boring_feynman","RestartCount":2,
            "State":{"Status":"running","Running":true,"Pid":4242,"StartedAt":"2015-01-06T15:47:32.072697474Z","Health":{"Status":"healthy"}},
            "Config":{"Image":"ubuntu:22.04","Labels":{"com.example.vendor":"Acme","a":"b"},"Env":["APP_MODE=prod","PATH=/bin","APP_X"]},
            "HostConfig":{"NetworkMode":"bridge"}}"#;
        let inspect: Inspect = serde_json::from_str(json).unwrap();
        let meta = metadata_from(inspect, &["APP_".to_owned()]).unwrap();
        assert_eq!(meta.name, "boring_feynman");
        assert_eq!(meta.image, "ubuntu:22.04");
        assert_eq!(
            meta.labels,
            vec![
                ("a".into(), "b".into()),
                ("com.example.vendor".into(), "Acme".into()),
                ("restartcount".into(), "2".into())
            ]
        );
        assert_eq!(meta.envs, vec![("app_mode".into(), "prod".into())]);
        assert_eq!(meta.pid, Some(4242));
        assert!(meta.has_healthcheck);
        assert_eq!(meta.healthy_at_inspect, Some(true));
        let stopped: Inspect =
            serde_json::from_str(r#"{"Name":"/x","State":{"Running":false}}"#).unwrap();
        assert!(metadata_from(stopped, &[]).is_none());
    }
}
