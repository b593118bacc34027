//! Routes, shared state and the flags API (`/v1/*`, health, metrics).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flags_core::OwnedContext;
use flags_core::watch::{FileSource, ReloadEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use tower_http::timeout::TimeoutLayer;
use tracing::{error, info, warn};

use super::auth::Auth;
use super::errors::{self, Api};
use super::limits;
use super::metrics::Metrics;
use super::ofrep;
use crate::cli::eval::response;

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
/// Longest time a request may take by default (reading its body included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a client is asked to wait while no good flags are loaded.
const NOT_READY_RETRY_AFTER: &str = "1";
/// Interval of SSE keep-alive comments.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most flags one `/v1/evaluate` request may name.
const MAX_NAMED_FLAGS: usize = 1000;
/// Most context problems listed in one error.
const MAX_PROBLEMS: usize = 10;
/// Longest single context problem in an error, in bytes.
const MAX_PROBLEM: usize = 160;

/// Server settings beyond the flag source.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bearer tokens accepted on `/v1/*` and `/ofrep/*`; empty: no auth.
    pub tokens: Vec<String>,
    /// The context attribute OFREP's `targetingKey` fills.
    pub targeting_key: String,
    /// Most connections served at once; a connection beyond gets one
    /// answer and is closed (`/healthz` and `/readyz` as usual, 503 for
    /// everything else).
    pub max_connections: usize,
    /// Most `/v1/stream` responses open at once; more get 503.
    pub max_streams: usize,
    /// Longest time a request may take, reading its body included (408).
    pub request_timeout: Duration,
}

impl Default for Config {
    /// No tokens, `user_id` as the targeting attribute, the caps that the
    /// process's open-file limit allows, and a 10 s request timeout.
    fn default() -> Self {
        let (max_connections, max_streams) = limits::defaults(limits::open_files());
        Self {
            tokens: Vec::new(),
            targeting_key: flags_core::DEFAULT_BUCKET_BY.to_owned(),
            max_connections,
            max_streams,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub source: FileSource,
    pub auth: Auth,
    pub metrics: Metrics,
    /// New versions for `/v1/stream`; `None` closes the streams (shutdown).
    pub reloads: broadcast::Sender<Option<String>>,
    pub targeting_key: String,
    /// Most connections served at once (see [`Config::max_connections`]).
    pub max_connections: usize,
    /// Open `/v1/stream` responses, one permit each.
    streams: Arc<Semaphore>,
    max_streams: usize,
    request_timeout: Duration,
    /// Normalized JSON of the current snapshot, rendered once per version:
    /// the lock is held only to fetch the receiver, never while rendering.
    /// Emptied by every reload, so that an old file's rendering is not kept.
    flags_json: Arc<RenderCache>,
}

/// The version last rendered for `/v1/flags`, and its rendering.
type RenderCache = Mutex<Option<(Box<str>, Rendered)>>;

/// A snapshot's normalized JSON: `None` until the blocking pool has
/// rendered it.
type Rendered = watch::Receiver<Option<Bytes>>;

impl AppState {
    /// Builds the state over `source` and subscribes to its reloads (for
    /// logs and `/v1/stream`).
    pub fn new(source: FileSource, config: Config) -> Self {
        let (reloads, _) = broadcast::channel(64);
        let sender = reloads.clone();
        let flags_json: Arc<RenderCache> = Arc::default();
        let rendered = Arc::clone(&flags_json);
        // Callbacks run on the watch thread: work for the runtime is handed
        // over through its handle (none in tests built without a runtime).
        let runtime = tokio::runtime::Handle::try_current().ok();
        source.on_event(move |event| match event {
            ReloadEvent::Reloaded {
                version,
                previous,
                changes,
            } => {
                if previous.is_empty() {
                    info!(version = %version, flags = changes.added.len(), "flag file loaded: ready");
                } else if version == previous {
                    info!(version = %version, "flag file good again: it holds the flags being served");
                } else {
                    info!(
                        version = %version,
                        previous = %previous,
                        added = ?changes.added,
                        removed = ?changes.removed,
                        changed = ?changes.changed,
                        "flag file reloaded"
                    );
                }
                if version != previous {
                    let _ = sender.send(Some(version.clone()));
                    *rendered.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    if let Some(runtime) = &runtime {
                        super::memory::trim_later(runtime);
                    }
                }
            }
            ReloadEvent::Failed { error } => {
                error!("flag file rejected, still serving the last good version:\n{error}");
            }
            ReloadEvent::CacheFailed { error } => warn!("{error}"),
            _ => {}
        });
        let targeting_key = if config.targeting_key.is_empty() {
            flags_core::DEFAULT_BUCKET_BY.to_owned()
        } else {
            config.targeting_key
        };
        Self(Arc::new(Shared {
            source,
            auth: Auth::new(&config.tokens),
            metrics: Metrics::default(),
            reloads,
            targeting_key,
            max_connections: config.max_connections.max(1),
            streams: Arc::new(Semaphore::new(
                config.max_streams.min(Semaphore::MAX_PERMITS),
            )),
            max_streams: config.max_streams,
            request_timeout: config.request_timeout,
            flags_json,
        }))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }

    /// True when bearer tokens are required.
    pub fn auth_enabled(&self) -> bool {
        self.0.auth.enabled()
    }

    /// The answer of every flags endpoint until good flags are loaded: 503
    /// in the shape of `api`, with `Retry-After`. `None` once ready (one
    /// atomic load; a check in each handler costs less than a layer).
    pub(crate) fn not_ready(&self, api: Api) -> Option<Response> {
        if self.0.source.is_ready() {
            return None;
        }
        let mut response = errors::error(
            api,
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid flag file has been loaded yet: the server's log and GET /v1/status say why",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(NOT_READY_RETRY_AFTER),
        );
        Some(response)
    }

    /// Ends every `/v1/stream` response (used on shutdown).
    pub fn close_streams(&self) {
        let _ = self.0.reloads.send(None);
    }
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let timeout = state.shared().request_timeout;
    // The flags handlers answer only once good flags are loaded (see
    // `AppState::not_ready`): never an empty flag set that relays and SDKs
    // would take for the real one.
    let protected = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/flags", get(get_flags))
        .route("/v1/stream", get(stream))
        .route("/v1/evaluate", post(evaluate))
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep::single))
        .route("/ofrep/v1/evaluate/flags", post(ofrep::bulk))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::auth::require,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(protected)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

/// A JSON error body `{"error": "..."}` with `status`.
pub(crate) fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    errors::json_error(status, &message.into())
}

/// The request body, or the error to answer: 413 over [`BODY_LIMIT`], 400
/// when it cannot be read.
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, (StatusCode, String)> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, errors::body_too_large()),
        status => (status, "the request body could not be read".to_owned()),
    })
}

/// Refuses a body that is not one JSON object (serde's derived
/// `Deserialize` would read a struct from a list too).
pub(crate) fn expect_object(body: &[u8]) -> Result<(), String> {
    let raw: &RawValue =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let found = match raw.get().as_bytes().first() {
        Some(b'{') => return Ok(()),
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(format!(
        "the body must be a JSON object like {{\"context\": {{...}}}}, found {found}"
    ))
}

/// A JSON response from already-serialized bytes.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (or `*`); weak validators match too.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

pub(crate) fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Parses a context given as raw JSON text; the error names the attribute.
pub(crate) fn parse_context(raw: Option<&RawValue>) -> Result<OwnedContext, String> {
    let Some(raw) = raw else {
        return Ok(OwnedContext::new());
    };
    OwnedContext::from_json(raw.get()).map_err(|e| {
        let problems = e.diagnostics();
        let mut details: Vec<String> = problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(|d| {
                let message = errors::shorten(d.message(), MAX_PROBLEM);
                match d.path() {
                    "(root)" => format!("context: {message}"),
                    // A quoted name (`["a.b"]`, `[""]`) follows without a dot.
                    path if path.starts_with('[') => {
                        format!("context{}: {message}", errors::echo(path))
                    }
                    path => format!("context.{}: {message}", errors::echo(path)),
                }
            })
            .collect();
        if problems.len() > MAX_PROBLEMS {
            details.push(format!("and {} more", problems.len() - MAX_PROBLEMS));
        }
        details.join("; ")
    })
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready means one thing: good flags are being served (the file's, or the
/// cached copy's while the file has been bad since start). A rejected
/// reload is news for the log, the metrics and `/v1/status`, never a
/// reason to leave a load balancer: every replica reads the same file and
/// would leave together.
async fn readyz(State(state): State<AppState>) -> Response {
    // Open to anyone: the content hash, never the file's path, flags or
    // errors (those are for logs and the token-protected API).
    #[derive(Serialize)]
    struct Ready<'a> {
        ready: bool,
        version: Option<&'a str>,
    }
    let source = &state.shared().source;
    let ready = source.is_ready();
    let snapshot = source.load();
    let body = Ready {
        ready,
        version: ready.then(|| snapshot.version()),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// `GET /v1/status`: everything about the source, for operators (behind the
/// tokens): readiness, the version served, whether it is a stale cached
/// copy, and why the file is being kept out.
async fn status(State(state): State<AppState>) -> Response {
    #[derive(Serialize)]
    struct Status<'a> {
        ready: bool,
        stale: bool,
        failing: bool,
        version: Option<&'a str>,
        flags: usize,
        file: String,
        cache: Option<String>,
        loaded_at: Option<String>,
        last_attempt_at: Option<String>,
        last_failure_at: Option<String>,
        last_error: Option<&'a str>,
        cache_error: Option<&'a str>,
        reloads: u64,
        failures: u64,
    }
    let source = &state.shared().source;
    let status = source.status();
    let snapshot = source.snapshot();
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let body = Status {
        ready: status.ready,
        stale: status.stale,
        failing: !status.healthy,
        version: status.ready.then_some(snapshot.version()),
        flags: snapshot.len(),
        file: absolute(source.path()),
        cache: source.cache_path().map(absolute),
        loaded_at: status.loaded_at.map(rfc3339),
        last_attempt_at: status.last_attempt_at.map(rfc3339),
        last_failure_at: status.last_failure_at.map(rfc3339),
        last_error: status.last_error.as_deref(),
        cache_error: status.cache_error.as_deref(),
        reloads: status.reloads,
        failures: status.failures,
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => json_bytes(StatusCode::OK, bytes),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A time as RFC 3339 UTC with milliseconds.
fn rfc3339(at: std::time::SystemTime) -> String {
    let millis = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    flags_core::Timestamp::from_unix_millis(millis).to_string()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let shared = state.shared();
    let body = shared
        .metrics
        .render(&shared.source.snapshot(), &shared.source.status());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    errors::error(
        Api::of(uri.path()),
        StatusCode::NOT_FOUND,
        "no such endpoint",
    )
}

async fn get_flags(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(response) = state.not_ready(Api::Flags) {
        return response;
    }
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let etag = format!("\"{}\"", snapshot.version());
    if not_modified(&headers, &etag) {
        return with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag);
    }
    let mut rendered = {
        let mut cache = shared.flags_json.lock().unwrap_or_else(|e| e.into_inner());
        match &*cache {
            Some((cached, rendered)) if **cached == *snapshot.version() => rendered.clone(),
            _ => {
                // A big file takes a while to render: on the blocking pool,
                // never on a worker, and to the end even when the requests
                // waiting for it go away (a later one then finds it done).
                let (sender, receiver) = watch::channel(None);
                let to_render = snapshot.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = sender.send(Some(Bytes::from(to_render.to_json())));
                });
                *cache = Some((snapshot.version().into(), receiver.clone()));
                receiver
            }
        }
    };
    let body = rendered
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|body| body.clone());
    match body {
        Some(body) => with_etag(json_bytes(StatusCode::OK, body), &etag),
        None => {
            // Rendering panicked: forget it, so that the next request retries.
            error!("rendering the flag file failed");
            let mut cache = shared.flags_json.lock().unwrap_or_else(|e| e.into_inner());
            if cache
                .as_ref()
                .is_some_and(|(cached, _)| **cached == *snapshot.version())
            {
                *cache = None;
            }
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the flag file could not be rendered",
            )
        }
    }
}

async fn stream(State(state): State<AppState>) -> Response {
    if let Some(response) = state.not_ready(Api::Flags) {
        return response;
    }
    let shared = state.shared();
    // The permit lives as long as the stream: a client that goes away
    // frees its place.
    let Ok(permit) = shared.streams.clone().try_acquire_owned() else {
        return errors::busy(
            Api::Flags,
            &format!(
                "the server holds its limit of {} event streams; retry later",
                shared.max_streams
            ),
        );
    };
    let receiver = shared.reloads.subscribe();
    let current = shared.source.snapshot().version().to_owned();
    let first = tokio_stream::once(Some(current));
    let updates = BroadcastStream::new(receiver).filter_map(Result::ok);
    let events = first
        .chain(updates)
        .take_while(Option::is_some)
        .map(move |version| {
            let _held = &permit;
            let version = version.unwrap_or_default();
            Ok::<_, std::convert::Infallible>(
                Event::default()
                    .event("version")
                    .data(format!("{{\"version\":\"{version}\"}}")),
            )
        });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest<'a> {
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    flags: Option<Vec<Cow<'a, str>>>,
}

async fn evaluate(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    if let Some(response) = state.not_ready(Api::Flags) {
        return response;
    }
    let body = match self::body(body) {
        Ok(body) => body,
        Err((status, message)) => return json_error(status, message),
    };
    if let Err(e) = expect_object(&body) {
        return json_error(StatusCode::BAD_REQUEST, format!("invalid request: {e}"));
    }
    let request: EvaluateRequest<'_> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
    };
    // Bounds the answer: one result per named flag, repeats included (the
    // results follow the order of `flags`).
    if let Some(named) = request.flags.as_ref().filter(|f| f.len() > MAX_NAMED_FLAGS) {
        return json_error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid request: `flags` names {} flags, more than the {MAX_NAMED_FLAGS} \
                 one request may name; omit `flags` to evaluate every flag",
                named.len()
            ),
        );
    }
    let ctx = match parse_context(request.context) {
        Ok(ctx) => ctx,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
    };
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let ctx = ctx.as_context();
    let now = flags_core::now();
    let evaluated: Vec<(&str, flags_core::Evaluation<'_>)> = match &request.flags {
        Some(keys) => keys
            .iter()
            .map(|key| (&**key, snapshot.evaluate(key, &ctx, now)))
            .collect(),
        None => snapshot.evaluate_all(&ctx, now).collect(),
    };
    shared.metrics.evaluations(
        &snapshot,
        evaluated.iter().map(|(key, result)| (*key, result)),
    );
    let results: Vec<_> = evaluated
        .iter()
        .map(|(key, result)| response(key, result))
        .collect();
    #[derive(Serialize)]
    struct Body<'a> {
        version: &'a str,
        results: Vec<crate::cli::eval::Response<'a>>,
    }
    match serde_json::to_vec(&Body {
        version: snapshot.version(),
        results,
    }) {
        Ok(bytes) => json_bytes(StatusCode::OK, bytes),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
