//! The router, and the flags API: `/v1/*`, health and metrics (the
//! dashboard's page and `/v1/dashboard` are in `dashboard`), and the
//! migration records of `POST /v1/migrations`.

use std::borrow::Cow;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{Semaphore, watch};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use tower_http::timeout::TimeoutLayer;
use tracing::error;

use super::errors::{self, Api, Error};
use super::http::{self, cache_headers, expect_object, json_bytes, not_modified};
use super::limits::{BODY_LIMIT, MIGRATIONS_BODY_LIMIT};
use super::metrics::Upstream;
use super::state::{AppState, Relay, Source};
use super::{auth, dashboard, metrics, ofrep};
use crate::wire::{self, Answer};
use flags_core::Snapshot;
use flags_core::migrate::DropReason;
use flags_core::remote::RemoteSource;
use flags_core::watch::SourceStatus;

/// Interval of SSE keep-alive comments.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most flags one `/v1/evaluate` request may name.
const MAX_NAMED_FLAGS: usize = 1000;

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let timeout = state.shared().request_timeout;
    // The flags handlers answer only once good flags are loaded (see
    // `AppState::ready`): never an empty flag set that relays and SDKs
    // would take for the real one.
    let protected = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/dashboard", get(dashboard::dashboard))
        .route("/v1/flags", get(get_flags))
        .route("/v1/stream", get(stream))
        .route("/v1/evaluate", post(evaluate))
        .route(
            "/v1/migrations",
            post(migrations).layer(DefaultBodyLimit::max(MIGRATIONS_BODY_LIMIT)),
        )
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep::single))
        .route("/ofrep/v1/evaluate/flags", post(ofrep::bulk))
        .route_layer(middleware::from_fn_with_state(
            state.shared().auth.clone(),
            auth::require,
        ));
    Router::new()
        .route("/", get(dashboard::index))
        .route("/dashboard/app.js", get(dashboard::script))
        .route("/dashboard/app.css", get(dashboard::style))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(protected)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .fallback(errors::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the timeout, so that a 408 is counted too.
        .layer(middleware::from_fn_with_state(
            state.shared().metrics.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(errors::json_errors))
        .with_state(state)
}

/// A relay's staleness.
fn staleness<'a>(relay: &'a Relay, status: &SourceStatus) -> Upstream<'a> {
    Upstream::new(
        relay.url(),
        relay.remote().and_then(RemoteSource::last_success_at),
        relay.remote().and_then(RemoteSource::cache_path),
        status,
    )
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
    let snapshot = source.snapshot();
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
async fn status(State(state): State<AppState>) -> Result<Response, Error> {
    #[derive(Serialize)]
    struct Status<'a> {
        ready: bool,
        stale: bool,
        failing: bool,
        version: Option<&'a str>,
        flags: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        upstream: Option<UpstreamStatus<'a>>,
        cache: Option<String>,
        loaded_at: Option<String>,
        last_attempt_at: Option<String>,
        last_failure_at: Option<String>,
        last_error: Option<&'a str>,
        cache_error: Option<&'a str>,
        reloads: u64,
        failures: u64,
    }
    /// A relay's upstream: whether it answers, and how stale the flags
    /// served are.
    #[derive(Serialize)]
    struct UpstreamStatus<'a> {
        url: &'a str,
        connected: bool,
        last_success_at: Option<String>,
        current_until: Option<String>,
        age_seconds: f64,
    }
    let source = &state.shared().source;
    let status = source.status();
    let snapshot = source.snapshot();
    let upstream = source.upstream().map(|relay| staleness(relay, &status));
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
        file: match source {
            Source::File(file) => Some(absolute(file.path())),
            Source::Upstream(_) => None,
        },
        upstream: upstream.as_ref().map(|u| UpstreamStatus {
            url: u.url,
            connected: u.connected,
            last_success_at: u.last_success_at.map(rfc3339),
            current_until: u.current_until.map(rfc3339),
            age_seconds: u.age_seconds(std::time::SystemTime::now()),
        }),
        cache: source.cache_path().map(absolute),
        loaded_at: status.loaded_at.map(rfc3339),
        last_attempt_at: status.last_attempt_at.map(rfc3339),
        last_failure_at: status.last_failure_at.map(rfc3339),
        last_error: status.last_error.as_deref(),
        cache_error: status.cache_error.as_deref(),
        reloads: status.reloads,
        failures: status.failures,
    };
    let bytes =
        serde_json::to_vec(&body).map_err(|e| Error::internal(Api::Flags, e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, bytes))
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
    let status = shared.source.status();
    let upstream = shared
        .source
        .upstream()
        .map(|relay| staleness(relay, &status));
    let max = shared.max_streams.min(Semaphore::MAX_PERMITS);
    let streams = metrics::Streams {
        open: max.saturating_sub(shared.streams.available_permits()),
        max: shared.max_streams,
    };
    let snapshot = shared.source.snapshot();
    let mut body = shared
        .metrics
        .render(&snapshot, &status, upstream.as_ref(), streams);
    // Flags that left the file (or stopped being migration flags) take
    // their migration metrics with them, as their evaluation counters.
    if status.ready {
        shared
            .migrations
            .retain(|flag| is_migration_flag(&snapshot, flag));
    }
    shared.migrations.render_into(&mut body);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn get_flags(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    state.ready(Api::Flags)?;
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let etag = format!("\"{}\"", snapshot.version());
    let vary = state.auth_enabled();
    if not_modified(&headers, &etag) {
        return Ok(cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
            state.shared().cache_max_age,
            vary,
        ));
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
        Some(body) => Ok(cache_headers(
            json_bytes(StatusCode::OK, body),
            &etag,
            shared.cache_max_age,
            vary,
        )),
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
            Err(Error::internal(
                Api::Flags,
                "the flag file could not be rendered",
            ))
        }
    }
}

async fn stream(State(state): State<AppState>) -> Result<Response, Error> {
    state.ready(Api::Flags)?;
    let shared = state.shared();
    // The permit lives as long as the stream: a client that goes away
    // frees its place.
    let Ok(permit) = shared.streams.clone().try_acquire_owned() else {
        return Err(Error::busy(
            Api::Flags,
            format!(
                "the server holds its limit of {} event streams; retry later",
                shared.max_streams
            ),
        ));
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
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest<'a> {
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    flags: Option<Vec<Cow<'a, str>>>,
}

/// 400 for a `/v1/evaluate` request that cannot be answered.
fn invalid_request(problem: impl std::fmt::Display) -> Error {
    Error::new(
        Api::Flags,
        StatusCode::BAD_REQUEST,
        format!("invalid request: {problem}"),
    )
}

async fn evaluate(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    state.ready(Api::Flags)?;
    let body = http::body(Api::Flags, body)?;
    expect_object(&body).map_err(invalid_request)?;
    let request: EvaluateRequest<'_> = serde_json::from_slice(&body).map_err(invalid_request)?;
    // Bounds the answer: one result per named flag, repeats included (the
    // results follow the order of `flags`).
    if let Some(named) = request.flags.as_ref().filter(|f| f.len() > MAX_NAMED_FLAGS) {
        return Err(invalid_request(format!(
            "`flags` names {} flags, more than the {MAX_NAMED_FLAGS} one request may name; \
             omit `flags` to evaluate every flag",
            named.len()
        )));
    }
    let ctx = wire::context(request.context).map_err(invalid_request)?;
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
        .map(|(key, result)| Answer::new(key, result))
        .collect();
    #[derive(Serialize)]
    struct Body<'a> {
        version: &'a str,
        results: Vec<Answer<'a>>,
    }
    let bytes = serde_json::to_vec(&Body {
        version: snapshot.version(),
        results,
    })
    .map_err(|e| Error::internal(Api::Flags, e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, bytes))
}

/// Whether `key` is a migration flag of `snapshot`: the one place that
/// decides which records `POST /v1/migrations` keeps, and so the bound on
/// the labels of the `flags_migration_*` metrics.
fn is_migration_flag(snapshot: &Snapshot, key: &str) -> bool {
    snapshot
        .flag(key)
        .is_some_and(|flag| flag.migration().is_some())
}

/// 400 for a `/v1/migrations` body that is not a batch.
fn invalid_batch(problem: impl std::fmt::Display) -> Error {
    Error::new(
        Api::Flags,
        StatusCode::BAD_REQUEST,
        format!(
            "invalid batch: {problem}; expected {{\"records\": [{{\"flag\": ..., \"stage\": ..., \"op\": ...}}, ...]}}"
        ),
    )
}

/// 413 for a batch over the body limit or the record limit.
fn batch_too_large(what: &str) -> Error {
    Error::new(
        Api::Flags,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the batch {what}: send at most {} records and {MIGRATIONS_BODY_LIMIT} bytes per request",
            wire::MAX_MIGRATION_RECORDS
        ),
    )
}

/// `POST /v1/migrations`: a batch of migration records (`{"records":
/// [...]}`) aggregated into the `flags_migration_*` metrics of `/metrics`.
/// Records for flags that are not migration flags of the served file, and
/// records that are not valid, are dropped and counted, never stored.
/// Answers `202 {"accepted": n, "dropped": m}`.
async fn migrations(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    state.ready(Api::Flags)?;
    let body = match body {
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(batch_too_large(&format!(
                "is larger than the limit of {MIGRATIONS_BODY_LIMIT} bytes"
            )));
        }
        body => http::body(Api::Flags, body)?,
    };
    // One pass over the body: the records stay raw until each is read.
    let batch: wire::MigrationBatch<'_> = serde_json::from_slice(&body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            invalid_batch(format!("the body is not JSON: {e}"))
        } else if body.trim_ascii_start().first() != Some(&b'{') {
            invalid_batch("the body is not a JSON object")
        } else {
            invalid_batch(e)
        }
    })?;
    if batch.records.len() > wire::MAX_MIGRATION_RECORDS {
        return Err(batch_too_large(&format!(
            "holds {} records, more than {}",
            batch.records.len(),
            wire::MAX_MIGRATION_RECORDS
        )));
    }
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let recorder = &shared.migrations;
    let mut accepted = 0usize;
    for raw in &batch.records {
        let dropped = match wire::migration_record(raw) {
            None => Some(DropReason::BadRecord),
            Some(record) if !is_migration_flag(&snapshot, record.flag()) => {
                Some(DropReason::UnknownFlag)
            }
            Some(record) => match record.record() {
                None => Some(DropReason::BadRecord),
                Some(record) => {
                    // The recorder counts its own drops (too many flags).
                    if recorder.record(&record).is_ok() {
                        accepted += 1;
                    }
                    None
                }
            },
        };
        if let Some(reason) = dropped {
            recorder.count_drop(reason);
        }
    }
    #[derive(Serialize)]
    struct Body {
        accepted: usize,
        dropped: usize,
    }
    let bytes = serde_json::to_vec(&Body {
        accepted,
        dropped: batch.records.len() - accepted,
    })
    .map_err(|e| Error::internal(Api::Flags, e.to_string()))?;
    Ok(json_bytes(StatusCode::ACCEPTED, bytes))
}
