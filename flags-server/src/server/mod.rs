//! The HTTP server that `flags serve` runs: the API over a hot-reloading
//! flag source ([`app`]), a file or, for a relay, another flags server
//! ([`Source`]), served with caps on connections and streams ([`serve`]).
//!
//! Many stateless servers can read the same file behind a load balancer:
//! nothing here assumes it is the only one. Every request loads the current
//! snapshot once and answers from it alone, so a response never mixes two
//! versions of the file.
//!
//! The modules, each importing only modules listed after it:
//!
//! - `app`: the router and the `/v1`, health and metrics handlers;
//! - `dashboard`: the operators' page at `/` and `/v1/dashboard`;
//! - `ofrep`: the OpenFeature (OFREP) handlers;
//! - `state`: [`AppState`] and [`Config`], what every handler shares;
//! - `http`: reading bodies, writing JSON, ETags;
//! - `auth`: bearer tokens; `metrics`: the Prometheus counters;
//! - `errors`: `Error`, the one error type, and its JSON answers;
//! - `limits`: the caps (body, connections, streams); `memory`: the
//!   allocator's trimming after a reload.

mod app;
mod auth;
mod dashboard;
mod errors;
mod http;
pub(crate) mod limits;
pub(crate) mod memory;
mod metrics;
mod ofrep;
mod state;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::response::IntoResponse as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use errors::{Api, Error};
use tracing::{debug, info, warn};

pub use app::app;
pub use state::{AppState, Config, GuardMonitor, Relay, Source};

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest pause after a failed accept (out of descriptors).
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// Serves `state` on `listener` until `shutdown` completes, then stops
/// accepting, ends event streams and waits (bounded) for in-flight requests.
///
/// At most [`Config::max_connections`] connections are served at once. A
/// connection beyond that cap gets one answer and is closed: `/healthz` and
/// `/readyz` as usual (probes keep working at the cap), 503 with
/// `Retry-After` for everything else. Up to a fixed number of such
/// connections are answered at once; past that they are closed unanswered.
/// When accepting fails (out of file descriptors), accepting pauses, longer
/// after each failure in a row (10 ms doubling up to 1 s).
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    // With --prometheus, the guards are read from the start: their first
    // reading is ready when the dashboard opens.
    dashboard::start_guard_readings(&state);
    let router = app(state.clone());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut one_answer = http.clone();
    one_answer.keep_alive(false);
    let connections = Arc::new(Semaphore::new(
        state.shared().max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let overflow = Arc::new(Semaphore::new(limits::OVERFLOW_CONNECTIONS));
    let mut backoff = ACCEPT_BACKOFF.0;
    tokio::pin!(shutdown);
    'accept: loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => {
                        backoff = ACCEPT_BACKOFF.0;
                        stream
                    }
                    // The client gave up before we took the connection.
                    Err(e) if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) => continue,
                    Err(e) => {
                        // Out of file descriptors and the like: the pending
                        // connection stays queued, so retrying at once would
                        // spin. Pause, longer after each failure in a row.
                        warn!(error = %e, retry_in = ?backoff, "accept failed");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = &mut shutdown => break 'accept,
                        }
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let io = TokioIo::new(stream);
                if let Ok(permit) = connections.clone().try_acquire_owned() {
                    let service = TowerToHyperService::new(router.clone());
                    let connection = graceful.watch(http.serve_connection(io, service));
                    tokio::spawn(async move {
                        let _ = connection.await;
                        drop(permit);
                    });
                } else if let Ok(permit) = overflow.clone().try_acquire_owned() {
                    let router = router.clone();
                    let service = TowerToHyperService::new(tower::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let router = router.clone();
                            async move {
                                if matches!(request.uri().path(), "/healthz" | "/readyz") {
                                    router.oneshot(request).await
                                } else {
                                    Ok::<_, Infallible>(
                                        Error::busy(
                                            Api::of(request.uri().path()),
                                            "the server is at its connection limit; retry later",
                                        )
                                        .into_response(),
                                    )
                                }
                            }
                        },
                    ));
                    let connection = graceful.watch(one_answer.serve_connection(io, service));
                    tokio::spawn(async move {
                        let _ = connection.await;
                        drop(permit);
                    });
                } else {
                    debug!("connection closed unanswered: at the connection limit");
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    info!("shutting down: draining in-flight requests");
    state.close_streams();
    tokio::select! {
        () = graceful.shutdown() => info!("all connections closed"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => warn!("gave up waiting for connections after {DRAIN_TIMEOUT:?}"),
    }
}
