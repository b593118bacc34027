//! The dashboard: a read-only page for operators at `/`, and
//! `GET /v1/dashboard`, what the page needs beyond `/v1/flags` and
//! `/v1/status`.
//!
//! The page (`dashboard/index.html`, `app.js`, `app.css`) is embedded in
//! the binary and holds no data: it is open to anyone, served with a
//! strict Content-Security-Policy (no inline script or style, nothing from
//! another origin), and reads the same token-protected JSON endpoints as
//! any client, sending the token the operator types in.
//!
//! `/v1/dashboard` computes what must match the core exactly: each flag's
//! state and effective percentage now, its ramp points and next step, its
//! guard and the percentage a paused ramp is frozen at. It adds the
//! server's own evaluation counters, the tail of the audit log the edit
//! commands append beside the file, and whether a guard (the audit actor
//! `guard`) made the newest edit of a killed or paused flag.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flags_core::{Flag, GuardAction, Snapshot, Threshold, Timestamp};
use serde::Serialize;
use serde_json::Value;

use super::errors::{Api, Error};
use super::http::json_bytes;
use super::state::{AppState, Source};

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// The page's policy: its own script and style only, requests to its own
/// origin only, no forms posted anywhere, never framed.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Most bytes read from the end of the audit log.
const AUDIT_TAIL_BYTES: u64 = 256 * 1024;
/// Most audit records answered (the newest).
const AUDIT_RECORDS: usize = 100;

/// A page or asset with its content type and the security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            // The assets change with the binary: always revalidate.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[derive(Serialize)]
struct Dashboard {
    version: String,
    /// The time the percentages were computed for (RFC 3339, UTC).
    now: String,
    kill_all: bool,
    flags: Vec<FlagView>,
    /// Counters of flag keys not in the file.
    unknown_evaluations: Vec<Count>,
    audit: Audit,
}

#[derive(Serialize)]
struct FlagView {
    key: String,
    state: &'static str,
    /// The effective percentage now, in basis points (1250 is 12.5 %).
    basis_points: u32,
    /// The same as a percentage.
    percentage: f64,
    ramp: Vec<Point>,
    /// The first ramp point after now, if any; none while paused.
    next: Option<Point>,
    /// When the ramp was paused and the percentage it stays at.
    paused: Option<Point>,
    guard: Option<GuardView>,
    /// Set when the flag is killed or paused and the newest audit record
    /// of an edit of it is a guard's.
    by_guard: Option<ByGuard>,
    evaluations: Vec<Count>,
}

/// A flag's `guard`, as the file says it.
#[derive(Serialize)]
struct GuardView {
    query: String,
    /// `above` or `below`.
    comparison: &'static str,
    threshold: f64,
    /// As written in the file (`0.05`).
    threshold_text: String,
    /// As written in the file (`2m`).
    #[serde(rename = "for")]
    hold_for: String,
    for_seconds: u64,
    /// `kill` or `pause`.
    action: &'static str,
}

/// The guard's audit record behind a killed or paused flag.
#[derive(Serialize)]
struct ByGuard {
    /// `kill` or `pause`: what the flag is now.
    action: &'static str,
    time: Option<String>,
    summary: Option<String>,
    /// Why the guard acted (its query, value, threshold and duration).
    reason: Option<String>,
}

#[derive(Serialize, Clone)]
struct Point {
    /// As written in the file.
    at: String,
    at_ms: i64,
    basis_points: u32,
    percentage: f64,
}

#[derive(Serialize)]
struct Count {
    reason: &'static str,
    enabled: bool,
    count: u64,
}

/// The audit log's tail, or why there is none.
#[derive(Serialize, Default)]
struct Audit {
    /// False for a relay (no file, so no log beside it).
    available: bool,
    path: Option<String>,
    /// Newest first.
    records: Vec<Value>,
    /// Lines that are not JSON objects (skipped).
    unreadable: usize,
    /// True when older records were left out.
    truncated: bool,
    /// Why the log could not be read, or why there is none.
    note: Option<String>,
}

fn percentage(bp: u32) -> f64 {
    f64::from(bp) / 100.0
}

/// What an operator calls the flag's state now: `kill_all`, `killed`,
/// `paused` (a ramp with `paused_at`, as `flags status` says),
/// `scheduled` (a ramp that has not started), `ramping` (a ramp with a
/// point still ahead), `on` (100 %), `pilots_only` (0 %) or `partial`.
fn state_of(
    snapshot: &Snapshot,
    flag: &Flag,
    bp: u32,
    ramp: &[Point],
    now: Timestamp,
) -> &'static str {
    let now = now.unix_millis();
    if snapshot.kill_all() {
        "kill_all"
    } else if flag.killed() {
        "killed"
    } else if flag.paused_at().is_some() {
        "paused"
    } else if ramp.first().is_some_and(|p| p.at_ms > now) {
        "scheduled"
    } else if ramp.last().is_some_and(|p| p.at_ms > now) {
        "ramping"
    } else if bp >= 10_000 {
        "on"
    } else if bp == 0 {
        "pilots_only"
    } else {
        "partial"
    }
}

fn point(at: &str, at_ms: i64, bp: u32) -> Point {
    Point {
        at: at.to_owned(),
        at_ms,
        basis_points: bp,
        percentage: percentage(bp),
    }
}

fn guard_view(flag: &Flag) -> Option<GuardView> {
    let guard = flag.guard()?;
    Some(GuardView {
        query: guard.query().to_owned(),
        comparison: guard.comparison(),
        threshold: match guard.threshold() {
            Threshold::Above(t) | Threshold::Below(t) => t,
        },
        threshold_text: guard.threshold_text().to_owned(),
        hold_for: guard.for_text().to_owned(),
        for_seconds: guard.hold_for().as_secs(),
        action: guard.action().as_str(),
    })
}

/// Whether the audit `summary` (one `KEY: change` part per edited flag,
/// joined by `; `) tells of an edit of the flag `key`.
fn edits_flag(summary: &str, key: &str) -> bool {
    summary.split("; ").any(|part| {
        part.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(": "))
            || part
                .strip_prefix("new flag ")
                .and_then(|p| p.strip_prefix(key))
                .is_some_and(|rest| rest.starts_with(": "))
    })
}

/// The guard behind a killed or paused flag: set when the newest audit
/// record of an edit of it has the actor `guard`.
fn by_guard(flag: &Flag, records: &[Value]) -> Option<ByGuard> {
    let action = if flag.killed() {
        GuardAction::Kill
    } else if flag.paused_at().is_some() {
        GuardAction::Pause
    } else {
        return None;
    };
    let text = |record: &Value, field: &str| record[field].as_str().map(str::to_owned);
    // Newest first.
    let newest = records.iter().find(|record| {
        record["summary"]
            .as_str()
            .is_some_and(|s| edits_flag(s, flag.key()))
    })?;
    (newest["actor"] == "guard").then(|| ByGuard {
        action: action.as_str(),
        time: text(newest, "time"),
        summary: text(newest, "summary"),
        reason: text(newest, "reason"),
    })
}

fn flag_view(
    snapshot: &Snapshot,
    flag: &Flag,
    now: Timestamp,
    counts: Vec<Count>,
    audit: &[Value],
) -> FlagView {
    let bp = flag.basis_points_at(now);
    let ramp: Vec<Point> = flag
        .ramp()
        .map(|(text, at, bp)| point(text, at.unix_millis(), bp))
        .collect();
    let paused = flag
        .paused_at()
        .map(|(text, at)| point(text, at.unix_millis(), flag.basis_points_at(at)));
    // A paused ramp goes nowhere until a person resumes it.
    let next = match paused {
        Some(_) => None,
        None => ramp.iter().find(|p| p.at_ms > now.unix_millis()).cloned(),
    };
    FlagView {
        key: flag.key().to_owned(),
        state: state_of(snapshot, flag, bp, &ramp, now),
        basis_points: bp,
        percentage: percentage(bp),
        ramp,
        next,
        paused,
        guard: guard_view(flag),
        by_guard: by_guard(flag, audit),
        evaluations: counts,
    }
}

/// The last records of the audit log at `path`: at most
/// [`AUDIT_RECORDS`], from at most its last [`AUDIT_TAIL_BYTES`].
fn read_audit(path: &Path) -> Audit {
    let mut audit = Audit {
        available: true,
        path: Some(path.display().to_string()),
        ..Audit::default()
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            audit.note = Some("no edit has been recorded yet: the log does not exist".into());
            return audit;
        }
        Err(e) => {
            audit.note = Some(format!("the audit log cannot be read: {e}"));
            return audit;
        }
    };
    // Never open a pipe or a device: opening a pipe would wait for a writer.
    if !metadata.is_file() {
        audit.note = Some("the audit log is not a regular file".into());
        return audit;
    }
    let read = || -> std::io::Result<(Vec<u8>, bool)> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(AUDIT_TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(AUDIT_TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok((bytes, start > 0))
    };
    let (bytes, cut) = match read() {
        Ok(read) => read,
        Err(e) => {
            audit.note = Some(format!("the audit log cannot be read: {e}"));
            return audit;
        }
    };
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if cut && !lines.is_empty() {
        // The first line was cut in the middle.
        lines.remove(0);
        audit.truncated = true;
    }
    for line in lines.iter().rev().filter(|l| !l.trim_ascii().is_empty()) {
        match serde_json::from_slice::<Value>(line) {
            Ok(record @ Value::Object(_)) => {
                if audit.records.len() == AUDIT_RECORDS {
                    audit.truncated = true;
                    break;
                }
                audit.records.push(record);
            }
            _ => audit.unreadable += 1,
        }
    }
    audit
}

/// `GET /v1/dashboard`: per flag, its state, effective percentage now,
/// ramp points, next step, pause, guard and evaluation counters; the
/// audit log's tail.
pub(crate) async fn dashboard(State(state): State<AppState>) -> Result<Response, Error> {
    state.ready(Api::Flags)?;
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let now = flags_core::now();
    let mut flags = Vec::with_capacity(snapshot.len());
    let mut unknown = Vec::new();
    let mut by_key: HashMap<String, Vec<Count>> = HashMap::new();
    for (key, reason, enabled, count) in shared.metrics.evaluation_counts(&snapshot) {
        let count = Count {
            reason: reason.as_str(),
            enabled,
            count,
        };
        if snapshot.flag(&key).is_some() {
            by_key.entry(key).or_default().push(count);
        } else {
            unknown.push(count);
        }
    }
    let audit = match &shared.source {
        Source::File(file) => {
            let log = flags_core::edit::default_audit_log(
                &std::path::absolute(file.path()).unwrap_or_else(|_| file.path().to_path_buf()),
            );
            tokio::task::spawn_blocking(move || read_audit(&log))
                .await
                .map_err(|e| Error::internal(Api::Flags, e.to_string()))?
        }
        Source::Upstream(_) => Audit {
            note: Some(
                "this server is a relay: it has no flag file, so no audit log; \
                 the origin server's dashboard shows it"
                    .into(),
            ),
            ..Audit::default()
        },
    };
    for flag in snapshot.flags() {
        let counts = by_key.remove(flag.key()).unwrap_or_default();
        flags.push(flag_view(&snapshot, flag, now, counts, &audit.records));
    }
    let body = Dashboard {
        version: snapshot.version().to_owned(),
        now: now.to_string(),
        kill_all: snapshot.kill_all(),
        flags,
        unknown_evaluations: unknown,
        audit,
    };
    let bytes =
        serde_json::to_vec(&body).map_err(|e| Error::internal(Api::Flags, e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, bytes))
}
