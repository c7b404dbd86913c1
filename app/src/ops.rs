//! What operators and Prometheus call: `/healthz`, `/readyz`, `/metrics`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use crate::metrics;
use crate::state::AppState;

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /healthz`: the process is alive and serving (the database is not consulted).
pub async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

/// `GET /readyz`: 200 when the database answers and the schema is in place; 503 while starting,
/// while the database is unreachable, and from SIGTERM on.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.draining.load(Ordering::Acquire) {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    if !state.is_ready() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n");
    }
    match state.db.ping().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        Err(err) => {
            state.log_db_error("readiness check", &err);
            plain(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => {
            let mut response = (StatusCode::OK, text).into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        Err(_) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed\n",
        ),
    }
}
