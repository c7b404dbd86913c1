//! A small Docker Engine API double on a unix socket: `GET /version`,
//! `GET /containers/{id}/json` and `GET /containers/json?filters=...` with the JSON shapes of
//! the Engine API reference. No Docker engine runs on the test machine; the exporter talks to
//! this exactly as it talks to dockerd.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tempfile::TempDir;

/// One container as the double describes it.
#[derive(Debug, Clone)]
pub struct FakeContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: Vec<(String, String)>,
    pub env: Vec<String>,
    pub pid: u32,
    pub started_at: String,
    /// `None`: no health check; `Some("healthy" | "unhealthy" | "starting")`.
    pub health: Option<String>,
    pub network_mode: String,
}

impl FakeContainer {
    pub fn new(id: &str, name: &str, image: &str) -> FakeContainer {
        FakeContainer {
            id: id.to_owned(),
            name: name.to_owned(),
            image: image.to_owned(),
            labels: Vec::new(),
            env: Vec::new(),
            pid: 0,
            started_at: "2024-05-01T10:00:00.123456789Z".to_owned(),
            health: None,
            network_mode: "bridge".to_owned(),
        }
    }

    fn inspect_json(&self) -> serde_json::Value {
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut state = serde_json::json!({
            "Status": "running",
            "Running": true,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": self.pid,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": self.started_at,
            "FinishedAt": "0001-01-01T00:00:00Z"
        });
        let mut config = serde_json::json!({
            "Hostname": &self.id[..12],
            "Image": self.image,
            "Labels": labels,
            "Env": self.env,
            "Cmd": ["/bin/sh"],
        });
        if let Some(health) = &self.health {
            state["Health"] = serde_json::json!({"Status": health, "FailingStreak": 0, "Log": []});
            config["Healthcheck"] =
                serde_json::json!({"Test": ["CMD", "true"], "Interval": 1_000_000_000u64});
        }
        serde_json::json!({
            "Id": self.id,
            "Created": "2024-05-01T09:59:59.5Z",
            "Path": "/bin/sh",
            "Args": [],
            "State": state,
            "Image": "sha256:0123456789abcdef",
            "Name": format!("/{}", self.name),
            "RestartCount": 0,
            "Driver": "overlay2",
            "Config": config,
            "HostConfig": {"NetworkMode": self.network_mode, "CpuShares": 0, "Memory": 0},
            "NetworkSettings": {"Networks": {}}
        })
    }
}

#[derive(Debug, Default)]
struct State {
    containers: HashMap<String, FakeContainer>,
    requests: Vec<String>,
}

/// The running double; stops when dropped.
pub struct EngineDouble {
    dir: TempDir,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EngineDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EngineDouble {
    pub async fn start(containers: Vec<FakeContainer>) -> EngineDouble {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("docker.sock");
        let listener =
            tokio::net::UnixListener::bind(&socket).expect("binding the double's socket");
        let state = Arc::new(Mutex::new(State {
            containers: containers.into_iter().map(|c| (c.id.clone(), c)).collect(),
            requests: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        EngineDouble { dir, state, task }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The request paths served so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn set_health(&self, id: &str, health: &str) {
        if let Some(c) = self.state.lock().unwrap().containers.get_mut(id) {
            c.health = Some(health.to_owned());
        }
    }
}

fn json(status: u16, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let mut state = state.lock().unwrap();
    state.requests.push(if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    });
    // Versioned paths (`/v1.43/...`) are answered like unversioned ones, as dockerd does.
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest
            .find('/')
            .map(|i| rest[i..].to_owned())
            .unwrap_or_default(),
        None => path,
    };
    if path == "/version" {
        return json(
            200,
            &serde_json::json!({
                "Platform": {"Name": "Docker Engine - Community"},
                "Version": "27.3.1",
                "ApiVersion": "1.47",
                "MinAPIVersion": "1.24",
                "Os": "linux",
                "Arch": "amd64",
                "KernelVersion": "6.1.0"
            }),
        );
    }
    if path == "/containers/json" {
        let filters = form_value(&query, "filters");
        let wanted: Option<Vec<String>> = filters
            .as_deref()
            .and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok())
            .and_then(|f| f.get("health").cloned())
            .and_then(|h| serde_json::from_value(h).ok());
        let list: Vec<serde_json::Value> = state
            .containers
            .values()
            .filter(|c| match &wanted {
                Some(states) => c.health.as_ref().is_some_and(|h| states.contains(h)),
                None => true,
            })
            .map(|c| {
                serde_json::json!({
                    "Id": c.id,
                    "Names": [format!("/{}", c.name)],
                    "Image": c.image,
                    "State": "running",
                    "Status": "Up 5 minutes",
                    "Labels": c.labels.iter().cloned().collect::<HashMap<_, _>>()
                })
            })
            .collect();
        return json(200, &serde_json::Value::Array(list));
    }
    if let Some(id) = path
        .strip_prefix("/containers/")
        .and_then(|rest| rest.strip_suffix("/json"))
    {
        return match state.containers.get(id) {
            Some(container) => json(200, &container.inspect_json()),
            None => json(
                404,
                &serde_json::json!({"message": format!("No such container: {id}")}),
            ),
        };
    }
    json(404, &serde_json::json!({"message": "page not found"}))
}

fn form_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(value) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
