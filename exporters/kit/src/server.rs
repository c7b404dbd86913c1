//! The HTTP server every exporter runs: listeners, TLS, the web configuration, the landing page,
//! the telemetry path with its concurrency limit, gzip, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::connection::{AfterWrite, Answer, PeerWatch, WriteDeadline};
use crate::exposition::{MetricFamily, TEXT_CONTENT_TYPE, encode_text, encode_text_chunked};
use crate::info::ExporterInfo;
use crate::selfmetrics::{HandlerCounters, ProcessFacts, build_info};
use crate::web_options::WebOptions;
use crate::webconfig::{Admission, WebConfigError, WebConfigSource, client_sans_allowed};

/// How long in-flight scrapes may take to finish after SIGTERM or SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take to send its request headers or finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an answer may take to be written once the client stops taking it (from the first
/// write that has to wait until everything is out). A scrape keeps its `--web.max-requests`
/// slot until its answer is written, so a client that never reads holds a slot this long at
/// most; Prometheus gives up on a scrape well before (its timeouts are seconds). The toolkit
/// has no such flag, hence a constant.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One request to the telemetry path or to an exporter's own endpoint.
#[derive(Debug, Clone, Default)]
pub struct ScrapeRequest {
    /// The request path.
    pub path: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// From Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` header.
    pub scrape_timeout: Option<Duration>,
}

impl ScrapeRequest {
    /// Every value of a query parameter, in order (`collect[]` may repeat).
    pub fn query_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An error answered to the client as plain text with this status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// The HTTP status code.
    pub status: u16,
    /// The plain-text body.
    pub message: String,
}

impl HttpError {
    /// 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        HttpError {
            status: 400,
            message: message.into(),
        }
    }

    /// 500 with this message.
    pub fn internal(message: impl Into<String>) -> Self {
        HttpError {
            status: 500,
            message: message.into(),
        }
    }
}

/// What an exporter's own endpoint answers.
#[derive(Debug)]
pub enum Reply {
    /// Metrics, encoded like the telemetry path but without the exporter's self metrics.
    Metrics(Vec<MetricFamily>),
    /// A plain-text answer.
    Text {
        /// The HTTP status code.
        status: u16,
        /// The body.
        body: String,
    },
}

/// An exporter: what the telemetry path collects, and optionally more endpoints.
pub trait Exporter: Send + Sync + 'static {
    /// Collects the families of one scrape. The kit adds build info and self metrics.
    fn collect(
        &self,
        request: &ScrapeRequest,
    ) -> impl Future<Output = Result<Vec<MetricFamily>, HttpError>> + Send;

    /// Answers a path other than `/` and the telemetry path, or `None` for 404.
    fn handle_other(&self, request: &ScrapeRequest) -> impl Future<Output = Option<Reply>> + Send {
        let _ = request;
        async { None }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The web configuration file was refused.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// A listen address could not be bound.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address as given.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// A listen address that is not `[host]:port`.
    #[error("invalid listen address {0:?}: expected [host]:port")]
    Address(String),
    /// `--web.systemd-socket` was given, but systemd passed no usable listening socket.
    #[error("--web.systemd-socket: {0}")]
    SystemdSocket(String),
    /// SIGTERM, SIGINT or SIGHUP could not be handled.
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

struct Shared<E> {
    info: &'static ExporterInfo,
    options: WebOptions,
    exporter: Arc<E>,
    web: WebConfigSource,
    tls: bool,
    counters: HandlerCounters,
    process: ProcessFacts,
    scrape_slots: Option<Arc<Semaphore>>,
}

/// A running server's bound addresses, and the handle that stops it.
#[derive(Debug)]
pub struct Server {
    /// The addresses bound, in the order of `--web.listen-address`.
    pub local_addresses: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    finished: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, lets in-flight requests finish (bounded) and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.finished.await;
    }

    /// Waits until SIGTERM or SIGINT, then shuts down gracefully. SIGHUP is logged and ignored:
    /// the web configuration is re-read on change anyway, and Debian's units send HUP to reload.
    pub async fn run_until_signalled(self) -> Result<(), ServeError> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
        let mut hup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("received SIGTERM, shutting down"); break }
                _ = int.recv() => { tracing::info!("received SIGINT, shutting down"); break }
                _ = hup.recv() => tracing::info!("received SIGHUP; configuration files are re-read when they change"),
            }
        }
        self.shutdown().await;
        Ok(())
    }
}

/// Binds every listen address and starts serving; returns once listening.
pub async fn start<E: Exporter>(
    info: &'static ExporterInfo,
    options: WebOptions,
    exporter: Arc<E>,
) -> Result<Server, ServeError> {
    let web = WebConfigSource::open(options.config_file.clone())?;
    let tls = web.current().tls.is_some();
    let listeners = if options.systemd_socket {
        systemd_listeners()?
    } else {
        let mut listeners = Vec::new();
        for address in &options.listen_addresses {
            listeners.push(bind(address).await?);
        }
        listeners
    };
    let local_addresses: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for address in &local_addresses {
        tracing::info!(address = %address, tls, "Listening on");
    }
    let shared = Arc::new(Shared {
        info,
        scrape_slots: (options.max_requests > 0)
            .then(|| Arc::new(Semaphore::new(options.max_requests))),
        options,
        exporter,
        web,
        tls,
        counters: HandlerCounters::default(),
        process: ProcessFacts::read(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let finished = tokio::spawn(accept_all(listeners, shared, stop_rx));
    Ok(Server {
        local_addresses,
        stop: stop_tx,
        finished,
    })
}

/// Starts the server and runs it until SIGTERM or SIGINT.
pub async fn serve<E: Exporter>(
    info: &'static ExporterInfo,
    options: WebOptions,
    exporter: Arc<E>,
) -> Result<(), ServeError> {
    start(info, options, exporter)
        .await?
        .run_until_signalled()
        .await
}

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const SD_LISTEN_FDS_START: usize = 3;

/// The listening sockets systemd passed to this process (socket activation), as
/// exporter-toolkit takes them: every one of them is served, `--web.listen-address` is ignored.
/// `LISTEN_PID` must name this process (a child that inherited the variables must not take its
/// parent's sockets); the variables are then removed so our own children do not see them.
fn systemd_listeners() -> Result<Vec<TcpListener>, ServeError> {
    let refuse = |reason: String| ServeError::SystemdSocket(reason);
    let count = std::env::var("LISTEN_FDS").map_err(|_| {
        refuse(
            "no socket activation listeners: LISTEN_FDS is not set (start through a .socket unit)"
                .into(),
        )
    })?;
    let count: usize = count
        .parse()
        .map_err(|_| refuse(format!("LISTEN_FDS={count:?} is not a number")))?;
    let pid = std::env::var("LISTEN_PID").unwrap_or_default();
    if pid != std::process::id().to_string() {
        return Err(refuse(format!(
            "LISTEN_PID={pid:?} does not name this process ({}): the sockets are not ours",
            std::process::id()
        )));
    }
    if count == 0 {
        return Err(refuse("systemd passed no sockets (LISTEN_FDS=0)".into()));
    }
    // listenfd owns the descriptors it hands out, checks each is a listening stream socket, and
    // marks it close-on-exec: what would otherwise take `unsafe` here.
    let mut passed = listenfd::ListenFd::from_env();
    let mut listeners = Vec::with_capacity(count);
    for index in 0..count {
        let fd = SD_LISTEN_FDS_START + index;
        let listener = passed
            .take_tcp_listener(index)
            .map_err(|err| refuse(format!("descriptor {fd}: {err}")))?
            .ok_or_else(|| refuse(format!("descriptor {fd} was not passed")))?;
        let listener = listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|err| refuse(format!("descriptor {fd}: {err}")))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Resolves a Go-style listen address: `:9100` is every interface, `host:port`, `[v6]:port`.
async fn bind(address: &str) -> Result<TcpListener, ServeError> {
    let listen_error = |source| ServeError::Listen {
        address: address.to_owned(),
        source,
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| ServeError::Address(address.to_owned()))?;
    let port: u16 = port
        .parse()
        .map_err(|_| ServeError::Address(address.to_owned()))?;
    if host.is_empty() {
        // Dual-stack where IPv6 exists, like Go's ":port"; IPv4 only otherwise.
        return match TcpListener::bind(("::", port)).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(("0.0.0.0", port))
                .await
                .map_err(listen_error),
        };
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    TcpListener::bind((host, port)).await.map_err(listen_error)
}

async fn accept_all<E: Exporter>(
    listeners: Vec<TcpListener>,
    shared: Arc<Shared<E>>,
    mut stop: watch::Receiver<bool>,
) {
    let (accepted_tx, mut accepted) = mpsc::channel::<TcpStream>(64);
    let mut loops = Vec::new();
    for listener in listeners {
        let tx = accepted_tx.clone();
        let mut stop = stop.clone();
        loops.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    result = listener.accept() => match result {
                        Ok((stream, _)) => {
                            if tx.send(stream).await.is_err() {
                                break;
                            }
                        }
                        Err(err) => {
                            // Out of file descriptors and the like: wait, do not exit.
                            tracing::warn!(error = %err, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    drop(accepted_tx);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            stream = accepted.recv() => match stream {
                Some(stream) => {
                    let watcher = graceful.watcher();
                    tokio::spawn(serve_connection(stream, shared.clone(), watcher));
                }
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    for accept_loop in loops {
        accept_loop.abort();
    }
    drop(accepted);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "in-flight requests did not finish within {SHUTDOWN_GRACE:?}; exiting anyway"
        );
    }
}

async fn serve_connection<E: Exporter>(
    stream: TcpStream,
    shared: Arc<Shared<E>>,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    let peer = PeerWatch::new(&stream);
    let after_write = AfterWrite::default();
    let stream = WriteDeadline::new(stream, WRITE_TIMEOUT, after_write.clone());
    let connection = Connection {
        watcher,
        peer,
        after_write,
    };
    if !shared.tls {
        serve_http(TokioIo::new(stream), shared, connection).await;
        return;
    }
    let config = shared.web.current();
    let Some(server_config) = config.tls.clone() else {
        tracing::warn!("TLS was removed from the web config; restart to serve plain HTTP");
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    let tls_stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => tls_stream,
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    if !client_sans_allowed(
        &config.client_allowed_sans,
        tls_stream.get_ref().1.peer_certificates(),
    ) {
        tracing::warn!("client certificate carries none of client_allowed_sans; closing");
        return;
    }
    serve_http(TokioIo::new(tls_stream), shared, connection).await;
}

/// What a connection's requests share besides the server.
struct Connection {
    /// Graceful shutdown's view of the connection.
    watcher: Watcher,
    /// Notices the client leaving.
    peer: PeerWatch,
    /// Slots of answers not yet written.
    after_write: AfterWrite,
}

async fn serve_http<I, E>(io: TokioIo<I>, shared: Arc<Shared<E>>, connection: Connection)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    E: Exporter,
{
    let Connection {
        watcher,
        peer,
        after_write,
    } = connection;
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = shared.clone();
        let after_write = after_write.clone();
        async move { Ok::<_, Infallible>(handle(&shared, request, &after_write).await) }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(io, service);
    // When the client leaves, the connection is dropped with the request it was serving: the
    // exporter's collection is cancelled at its next await, its slot given back.
    tokio::select! {
        result = watcher.watch(http) => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        () = peer.gone() => tracing::debug!("the client closed the connection; request dropped"),
    }
}

fn text_response(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn handle<E: Exporter>(
    shared: &Shared<E>,
    request: Request<Incoming>,
    after_write: &AfterWrite,
) -> Response<Answer> {
    // One look at the configuration files per request, for admission and headers alike.
    let config = shared.web.current();
    let admission = shared
        .web
        .admit_under(&config, request.headers().get(header::AUTHORIZATION))
        .await;
    let mut slot = None;
    let mut response = match admission {
        Admission::Allowed => route(shared, &request, &mut slot).await,
        Admission::RateLimited => text_response(429, "Too Many Requests\n"),
        Admission::Unauthorized => {
            let mut response = text_response(401, "Unauthorized\n");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            response
        }
    };
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response.map(|body| Answer::holding(body, slot, after_write))
}

/// The longest scrape timeout a client may announce. Prometheus's timeouts are seconds, at most
/// minutes; a larger header is a mistake or an attack on the exporters' deadline arithmetic
/// (`1e20` seconds overflows a `Duration`), so it is capped here, once, for every exporter.
pub const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(600);

fn scrape_request(request: &Request<Incoming>) -> ScrapeRequest {
    let query = request
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let scrape_timeout = request
        .headers()
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|seconds| Duration::from_secs_f64(seconds.min(MAX_SCRAPE_TIMEOUT.as_secs_f64())));
    ScrapeRequest {
        path: request.uri().path().to_owned(),
        query,
        scrape_timeout,
    }
}

/// Answers an admitted request. A scrape's slot goes to `slot`, for its body to hold until the
/// answer is written.
async fn route<E: Exporter>(
    shared: &Shared<E>,
    request: &Request<Incoming>,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> Response<Full<Bytes>> {
    let scrape = scrape_request(request);
    let telemetry = shared.options.telemetry_path.as_str();
    if scrape.path == "/" && telemetry != "/" {
        return landing_page(shared.info, telemetry);
    }
    *slot = match &shared.scrape_slots {
        None => None,
        Some(slots) => match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                shared.counters.count(503);
                return text_response(
                    503,
                    format!(
                        "Limit of concurrent requests reached ({}), try again later.\n",
                        shared.options.max_requests
                    ),
                );
            }
        },
    };
    let gzip = accepts_gzip(request.headers().get(header::ACCEPT_ENCODING));
    if scrape.path == telemetry {
        let _in_flight = shared.counters.enter();
        return match shared.exporter.collect(&scrape).await {
            Ok(mut families) => {
                families.push(build_info(shared.info));
                if !shared.options.disable_exporter_metrics {
                    families.extend(shared.process.families());
                    families.extend(shared.counters.families(shared.info.handler_metrics));
                }
                shared.counters.count(200);
                metrics_response(families, gzip)
            }
            Err(err) => {
                shared.counters.count(err.status);
                tracing::debug!(status = err.status, error = %err.message, "scrape refused");
                text_response(err.status, format!("{}\n", err.message))
            }
        };
    }
    match shared.exporter.handle_other(&scrape).await {
        Some(Reply::Metrics(families)) => metrics_response(families, gzip),
        Some(Reply::Text { status, body }) => text_response(status, body),
        None => text_response(404, "404 page not found\n"),
    }
}

fn metrics_response(families: Vec<MetricFamily>, gzip: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_CONTENT_TYPE),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let size_hint = families.iter().map(|f| f.samples.len() * 64 + 128).sum();
    let body = if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        // Compressed as it is encoded: a large exposition never exists whole in memory.
        crate::gzip::compress_stream(size_hint, |write| {
            encode_text_chunked(families, 32 * 1024, |chunk| write(chunk));
        })
    } else {
        let mut body = Vec::with_capacity(size_hint);
        encode_text(families, &mut body);
        body
    };
    *response.body_mut() = Full::new(Bytes::from(body));
    response
}

/// Whether `Accept-Encoding` accepts gzip with a non-zero quality.
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    text.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        if !coding.eq_ignore_ascii_case("gzip") && coding != "*" {
            return false;
        }
        !parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        })
    })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn landing_page(info: &ExporterInfo, telemetry: &str) -> Response<Full<Bytes>> {
    let path = html_escape(telemetry);
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n<p>{binary} {version}: a drop-in replacement for {upstream}.</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li></ul>\n</body>\n</html>\n",
        title = html_escape(info.title),
        binary = html_escape(info.binary),
        version = html_escape(info.version),
        upstream = html_escape(info.upstream),
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(accepts_gzip(Some(&h("gzip"))));
        assert!(accepts_gzip(Some(&h("deflate, gzip;q=0.5"))));
        assert!(accepts_gzip(Some(&h("*"))));
        assert!(!accepts_gzip(Some(&h("gzip;q=0"))));
        assert!(!accepts_gzip(Some(&h("identity"))));
        assert!(!accepts_gzip(None));
    }
}
