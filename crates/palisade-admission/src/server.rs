//! The HTTPS server: axum on a multi-threaded tokio runtime, rustls (ring), HTTP/1.1 and
//! HTTP/2.
//!
//! * `POST /validate`, `POST /mutate`: AdmissionReview in, AdmissionReview out (HTTP 200).
//!   A body that is not an AdmissionReview gets HTTP 400 with the reason as text, a body over
//!   the limit HTTP 413, a review not decided within the timeout HTTP 503.
//! * `GET /healthz` (the process serves), `GET /readyz` (policies and namespaces are loaded;
//!   with live cluster state, 503 until the first lists from the API server are in),
//!   `GET /metrics` (Prometheus text).
//! * The certificate and key files are checked every few seconds and reloaded when their
//!   modification time or size changes; a broken new pair is reported and the old one kept.
//! * Shutdown (SIGTERM, SIGINT, or [`Running::shutdown`]) stops accepting connections and
//!   lets in-flight requests finish within the grace period.

use crate::engine::{Admission, Endpoint};
use crate::tls::{self, PemPair, TlsError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Where the serving certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files, polled for changes every `reload_every`.
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
        /// Poll interval.
        reload_every: Duration,
    },
    /// A certificate held in memory (self-signed).
    Pem(PemPair),
}

/// Server options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Per-request deadline.
    pub timeout: Duration,
    /// Grace period for in-flight requests on shutdown.
    pub shutdown_grace: Duration,
    /// With live cluster state: `/readyz` answers 503 until the first lists are in, and
    /// `/metrics` adds the watch counters.
    pub cluster: Option<Arc<crate::live::LiveStatus>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: crate::config::DEFAULT_MAX_BODY,
            timeout: Duration::from_millis(crate::config::DEFAULT_TIMEOUT_MS),
            shutdown_grace: Duration::from_secs(10),
            cluster: None,
        }
    }
}

/// Server errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Certificate problems.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Socket or runtime problems.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
struct AppState {
    admission: Arc<Admission>,
    opts: Arc<ServeOptions>,
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    reload: Option<tokio::task::JoinHandle<()>>,
    grace: Duration,
}

impl Running {
    /// Starts a graceful shutdown and waits for the server to stop.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.handle.graceful_shutdown(Some(self.grace));
        if let Some(r) = &self.reload {
            r.abort();
        }
        match self.task.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServeError::Io(std::io::Error::other(e.to_string()))),
        }
    }

    /// Waits until the server stops (after a shutdown started elsewhere).
    pub async fn wait(self) -> Result<(), ServeError> {
        let r = self.task.await;
        if let Some(t) = &self.reload {
            t.abort();
        }
        match r {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServeError::Io(std::io::Error::other(e.to_string()))),
        }
    }

    /// A handle that can start the graceful shutdown from elsewhere.
    pub fn shutdown_handle(&self) -> (axum_server::Handle, Duration) {
        (self.handle.clone(), self.grace)
    }
}

fn text(code: StatusCode, body: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Decides a review on the runtime's worker thread, as Gatekeeper decides in its handler:
/// a hand-off to a blocking pool costs two thread switches per review (about a tenth of the
/// CPU of a Pod review with the Gatekeeper library loaded, measured). Rego evaluation stops at
/// the request's deadline (each template's time limit is what is left of it), so a worker is
/// never held past the deadline by more than one check interval; a review decided after it is
/// answered as a missed deadline. `None` is a missed deadline.
fn decide(
    state: &AppState,
    endpoint: Endpoint,
    body: &[u8],
    start: Instant,
) -> Option<Result<Vec<u8>, crate::review::ReviewError>> {
    let deadline = start + state.opts.timeout;
    let r = state.admission.handle_until(endpoint, body, Some(deadline));
    (Instant::now() <= deadline).then_some(r)
}

async fn review(state: AppState, endpoint: Endpoint, body: Bytes) -> Response {
    let start = Instant::now();
    let mut result = decide(&state, endpoint, &body, start);
    // Live cluster state: a namespace the watch has not delivered yet (PodSecurity's failed
    // lookup in the answer) is fetched with a GET, as PodSecurity's namespace getter does,
    // within half the deadline, and the review decided again. Nothing is parsed twice unless
    // the answer is that failure.
    if let Some(live) = &state.opts.cluster
        && let Some(Ok(json)) = &result
        && crate::live::is_namespace_lookup_failure(json)
        && let Some(ns) = crate::live::namespace_to_look_up(&state.admission, &body)
    {
        let wait = state.opts.timeout / 2;
        match tokio::time::timeout(wait, live.lookup_namespace(&ns)).await {
            Ok(Ok(true)) => {
                result = decide(&state, endpoint, &body, start);
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => log(format_args!("cannot get namespace {ns:?}: {e}")),
            Err(_) => log(format_args!("getting namespace {ns:?} timed out")),
        }
    }
    let (code, resp) = match result {
        None => (
            503,
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "review not decided within {} ms\n",
                    state.opts.timeout.as_millis()
                ),
            ),
        ),
        Some(Err(e)) => (400, text(StatusCode::BAD_REQUEST, format!("{e}\n"))),
        Some(Ok(json)) => (
            200,
            ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        ),
    };
    state
        .admission
        .metrics
        .request(endpoint.path(), code, start.elapsed());
    resp
}

async fn validate(State(s): State<AppState>, body: Bytes) -> Response {
    review(s, Endpoint::Validate, body).await
}

async fn mutate(State(s): State<AppState>, body: Bytes) -> Response {
    review(s, Endpoint::Mutate, body).await
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

async fn readyz(State(s): State<AppState>) -> Response {
    if let Some(live) = &s.opts.cluster
        && !live.synced()
    {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: cluster state not synced from the API server ({})\n",
                live.describe()
            ),
        );
    }
    let st = s.admission.state();
    text(
        StatusCode::OK,
        format!(
            "ok: {} namespaces, {} constraints\n",
            st.namespace_count(),
            s.admission.constraint_count()
        ),
    )
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        match &s.opts.cluster {
            Some(live) => {
                s.admission.metrics.render()
                    + &s.admission.render_memo_metrics()
                    + &live.render_metrics()
            }
            None => s.admission.metrics.render() + &s.admission.render_memo_metrics(),
        },
    )
        .into_response()
}

/// The HTTP routes (without TLS), for embedding and tests.
pub fn router(admission: Arc<Admission>, opts: ServeOptions) -> Router {
    let limit = opts.max_body_bytes;
    let state = AppState {
        admission,
        opts: Arc::new(opts),
    };
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Logs a line on standard error, ignoring failures: a closed stderr (the parent went away)
/// must not stop the server, nor its shutdown.
fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "palisade admission: {line}");
}

fn stamp(p: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Starts the server on `listener` (must be called inside a multi-threaded tokio runtime).
pub fn spawn(
    admission: Arc<Admission>,
    listener: std::net::TcpListener,
    source: TlsSource,
    opts: ServeOptions,
) -> Result<Running, ServeError> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let (pair, name) = match &source {
        TlsSource::Files { cert, key, .. } => {
            (tls::read_pair(cert, key)?, cert.display().to_string())
        }
        TlsSource::Pem(p) => (p.clone(), "<self-signed>".to_owned()),
    };
    let config = RustlsConfig::from_config(tls::server_config(&pair, &name)?);
    let reload = match source {
        TlsSource::Files {
            cert,
            key,
            reload_every,
        } => {
            let config = config.clone();
            Some(tokio::spawn(async move {
                let mut last = (stamp(&cert), stamp(&key));
                loop {
                    tokio::time::sleep(reload_every).await;
                    let now = (stamp(&cert), stamp(&key));
                    if now == last {
                        continue;
                    }
                    last = now;
                    let loaded = tls::read_pair(&cert, &key)
                        .and_then(|p| tls::server_config(&p, &cert.display().to_string()));
                    match loaded {
                        Ok(c) => {
                            config.reload_from_config(c);
                            log(format_args!("reloaded {}", cert.display()));
                        }
                        Err(e) => log(format_args!("keeping the previous certificate: {e}")),
                    }
                }
            }))
        }
        TlsSource::Pem(_) => None,
    };
    let handle = axum_server::Handle::new();
    let grace = opts.shutdown_grace;
    let app = router(admission, opts);
    // TCP_NODELAY: a response written in more than one segment (TLS records) must not wait
    // for the client's delayed ACK (Nagle), which adds up to 40 ms to a request.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let server = axum_server::from_tcp(listener)
        .acceptor(acceptor)
        .handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
    Ok(Running {
        addr,
        handle,
        task,
        reload,
        grace,
    })
}

/// Runs the server until SIGTERM or SIGINT, on a multi-threaded runtime with one worker per
/// core. `ready` is called with the bound address once the server accepts connections.
pub fn serve_blocking(
    admission: Arc<Admission>,
    addr: SocketAddr,
    source: TlsSource,
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    // Reviews are decided on the workers (one per core); the blocking pool only serves
    // file reads (certificate reloads): bound it so nothing starts hundreds of threads.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores.max(2))
        .build()?;
    rt.block_on(async move {
        let listener = std::net::TcpListener::bind(addr)?;
        let running = spawn(admission, listener, source, opts)?;
        // Handlers are in place before readiness is announced, so a SIGTERM sent right after
        // it shuts down gracefully instead of killing the process.
        let signals = Signals::register();
        ready(running.addr);
        let (handle, grace) = running.shutdown_handle();
        tokio::spawn(async move {
            signals.wait().await;
            log(format_args!("shutting down"));
            handle.graceful_shutdown(Some(grace));
        });
        running.wait().await
    })
}

/// SIGTERM and SIGINT handlers, registered up front.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(t), Ok(i)) => Some((t, i)),
                _ => None,
            };
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut t, mut i)) = self.unix {
            tokio::select! {
                _ = t.recv() => {},
                _ = i.recv() => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
