//! The router, the accept loop and the shutdown sequence.
//!
//! Start-up listens at once and prepares the database in the background (connect with retry and
//! backoff, then migrate), so start order does not matter: until the database is ready, pages
//! and the API answer 503 and `/readyz` says "starting". Shutdown: `/readyz` turns 503, requests
//! keep being served for the drain delay, the listener closes, in-flight requests finish (up to
//! the shutdown timeout), then the pool closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::csrf::CsrfKey;
use crate::db::Db;
use crate::metrics::{Metrics, PoolCollector};
use crate::state::{AppState, WriteSecurity};
use crate::{api, assets, metrics, ops, pages, security, writes};

/// Largest request body accepted (a form or a JSON user is well under 1 KiB).
pub const BODY_LIMIT: usize = 16 * 1024;
/// A client must send its request headers within this time (slow-loris protection).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// Time for reading a request body, on top of the database calls a request makes.
const BODY_READ_TIME: Duration = Duration::from_secs(10);

pub fn router(state: AppState) -> Router {
    // A handler makes at most two database calls, each bounded by the database timeout; what
    // takes longer is a client trickling its body, and gets 408.
    let request_timeout = state.db.timeout() * 2 + BODY_READ_TIME;
    Router::new()
        .route("/", get(pages::home))
        .route("/usuarios", get(pages::list).post(pages::create))
        .route(
            "/usuarios/{id}/eliminar",
            get(pages::confirm_delete).post(pages::delete),
        )
        .route("/api/usuarios", get(api::list).post(api::create))
        .route("/api/usuarios/{id}", get(api::get).delete(api::delete))
        .route("/api/openapi.json", get(api::openapi))
        .route("/static/{file}", get(assets::serve))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), writes::guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(CatchPanicLayer::custom(security::panic_response))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// A running app.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Begins the shutdown sequence (what SIGTERM does).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the shutdown sequence has finished.
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// `shutdown` then `wait`.
    pub async fn stop(self) {
        self.shutdown();
        self.wait().await;
    }
}

/// Binds the listener and starts serving; the database is prepared in the background.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    assets::preload();
    let db = Db::new(&config).map_err(anyhow::Error::msg)?;
    let pool = PoolCollector {
        pool: db.pool_metrics(),
        max_connections: db.max_connections(),
    };
    let metrics = Arc::new(Metrics::new(&config.app_name, Some(pool)));
    let state = AppState::new(
        db,
        metrics,
        config.app_name.clone(),
        write_security(&config)?,
    );
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("listening on {}", config.listen_addr))?;
    let local_addr = listener
        .local_addr()
        .context("reading the listen address")?;
    tracing::info!(
        address = %local_addr,
        app = %config.app_name,
        database = %config.db.describe(),
        "octo-app listening"
    );
    let preparing = tokio::spawn(prepare_database(state.clone(), config.db.describe()));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(
        listener,
        router(state.clone()),
        state.clone(),
        config,
        stopped,
        preparing,
    ));
    Ok(Running {
        local_addr,
        state,
        stop,
        task,
    })
}

/// The CSRF key (the configured one, or one of this process) and the admin credential, each
/// announced in the log so an operator sees what protects the writes.
fn write_security(config: &Config) -> anyhow::Result<WriteSecurity> {
    let csrf = match &config.csrf_key {
        Some(key) => key.clone(),
        None => {
            tracing::info!(
                "no --csrf-key-file: this process signs CSRF tokens with a key of its own; \
                 instances behind one load balancer need a shared key file"
            );
            CsrfKey::generate()?
        }
    };
    match &config.admin {
        Some(admin) => tracing::info!(
            user = admin.user(),
            "adding and deleting users needs the admin credential"
        ),
        None => tracing::warn!(
            "no --admin-password-file: anyone who reaches this app can add and delete users"
        ),
    }
    Ok(WriteSecurity {
        csrf,
        admin: config.admin.clone(),
    })
}

/// Connects and migrates, retrying with exponential backoff (200 ms doubling to 10 s) until it
/// works: a database that starts later, is restarted, or is fixed by an operator is picked up
/// without restarting the app.
async fn prepare_database(state: AppState, target: String) {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1u32;
    loop {
        match state.db.migrate().await {
            Ok(()) => {
                state.ready.store(true, Ordering::Release);
                tracing::info!(database = %target, attempt, "database ready");
                return;
            }
            Err(err) => {
                tracing::warn!(
                    database = %target,
                    attempt,
                    retry_in = ?delay,
                    error = %err,
                    "database not ready"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    config: Config,
    mut stopped: watch::Receiver<bool>,
    preparing: JoinHandle<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let drain = async {
        // A dropped `Running` counts as a request to stop.
        let _ = stopped.wait_for(|stop| *stop).await;
        state.draining.store(true, Ordering::Release);
        tracing::info!(drain_delay = ?config.drain_delay, "shutting down: /readyz now answers 503");
        tokio::time::sleep(config.drain_delay).await;
    };
    tokio::pin!(drain);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // EMFILE and friends: wait a little rather than spin or exit.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut drain => break,
        }
    }
    drop(listener);
    preparing.abort();
    tracing::info!("listener closed; waiting for in-flight requests");
    match tokio::time::timeout(config.shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!("in-flight requests finished"),
        Err(_) => tracing::warn!(
            timeout = ?config.shutdown_timeout,
            "requests still running after the shutdown timeout; closing them"
        ),
    }
    state.db.clone().close().await;
    tracing::info!("database pool closed; stopped");
}
