//! octo-alert-log: the stack's default Alertmanager webhook receiver. Every alert Alertmanager
//! delivers becomes one structured log line on standard error (`docker compose logs alert-log`,
//! `kubectl logs deploy/alert-log`); point `alertmanager.yml` at a real pager when there is one.
//!
//! `POST /alerts` takes Alertmanager's webhook JSON (version 4); `GET /healthz` answers `ok`.
//! With `--token-file`, requests must carry `Authorization: Bearer <token>` (Alertmanager's
//! `credentials_file`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use clap::Parser;
use serde::Deserialize;

#[derive(Debug, Parser)]
#[command(
    name = "octo-alert-log",
    version,
    about = "Logs the alerts Alertmanager sends to its webhook"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ALERT_LOG_LISTEN", default_value = "0.0.0.0:9095")]
    listen: SocketAddr,
    /// File holding the bearer token Alertmanager must present (optional).
    #[arg(long, env = "ALERT_LOG_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

/// The parts of Alertmanager's webhook payload that are logged.
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(default)]
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
struct Alert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: String,
}

struct Receiver {
    token: Option<String>,
}

fn authorized(receiver: &Receiver, headers: &HeaderMap) -> bool {
    let Some(expected) = &receiver.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if !authorized(&receiver, &headers) {
        tracing::warn!("refused a notification without the right bearer token");
        return StatusCode::UNAUTHORIZED;
    }
    let notification: Notification = match serde_json::from_slice(&body) {
        Ok(notification) => notification,
        Err(err) => {
            tracing::warn!(error = %err, "refused a notification that is not Alertmanager's webhook JSON");
            return StatusCode::BAD_REQUEST;
        }
    };
    for alert in &notification.alerts {
        let label = |name: &str| alert.labels.get(name).map(String::as_str).unwrap_or("");
        let others: Vec<String> = alert
            .labels
            .iter()
            .filter(|(k, _)| !["alertname", "severity", "job", "instance"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        tracing::warn!(
            status = %alert.status,
            alertname = label("alertname"),
            severity = label("severity"),
            job = label("job"),
            instance = label("instance"),
            labels = %others.join(","),
            summary = alert.annotations.get("summary").map(String::as_str).unwrap_or(""),
            starts_at = %alert.starts_at,
            "alert"
        );
    }
    StatusCode::OK
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    let token = match &args.token_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            Some(text.trim().to_owned()).filter(|t| !t.is_empty())
        }
    };
    let receiver = Arc::new(Receiver { token });
    let app = Router::new()
        .route("/alerts", post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(1 << 20))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, "octo-alert-log listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_compared_exactly() {
        let receiver = Receiver {
            token: Some("s3cret".into()),
        };
        let mut headers = HeaderMap::new();
        assert!(!authorized(&receiver, &headers));
        headers.insert("authorization", "Bearer s3cre".parse().unwrap());
        assert!(!authorized(&receiver, &headers));
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(authorized(&receiver, &headers));
        assert!(authorized(&Receiver { token: None }, &HeaderMap::new()));
    }

    #[test]
    fn alertmanager_payload_parses() {
        let payload = r#"{"version":"4","status":"firing","receiver":"webhook","groupLabels":{},
            "alerts":[{"status":"firing","labels":{"alertname":"TargetDown","instance":"app2:5000","job":"app","severity":"critical"},
            "annotations":{"summary":"app target app2:5000 is down"},"startsAt":"2026-11-28T01:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
        let notification: Notification = serde_json::from_str(payload).unwrap();
        assert_eq!(notification.alerts[0].labels["alertname"], "TargetDown");
    }
}
