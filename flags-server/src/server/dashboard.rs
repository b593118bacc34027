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
//! guard and the percentage a paused ramp is frozen at, and a migration
//! flag's stages and stage mix now ([`Flag::stage_mix`], what `flags
//! status` shows). It adds the
//! server's own evaluation counters, the tail of the audit log the edit
//! commands append beside the file, and whether a guard (the audit actor
//! `guard`) made the newest edit of a killed or paused flag.
//!
//! With `--prometheus`, it adds each guard's live reading: what `flags
//! status --prometheus` prints, from the same code (`flags_core::monitor`).
//! A background task reads every guard every few seconds (and at once
//! after a reload), off the runtime and bounded in time, and the endpoint
//! answers the last reading: a slow or unreachable Prometheus never slows
//! the endpoint, the number of open pages never multiplies the queries,
//! and the task's memory says how long a value has been seen crossed.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flags_core::monitor::{self, Memory};
use flags_core::{Flag, GuardAction, Snapshot, Threshold, Timestamp};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use super::errors::{Api, Error};
use super::http::json_bytes;
use super::state::{AppState, GuardReading, GuardReadings, Shared, Source};

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
    /// The guards' live readings (`--prometheus`), or why there are none.
    monitor: MonitorView,
}

/// Where the guards' live values come from, and the monitor's line.
#[derive(Serialize)]
struct MonitorView {
    /// The `--prometheus` URL; null without it.
    prometheus: Option<String>,
    /// Seconds between two readings.
    every_seconds: Option<f64>,
    /// When the reading shown was made (RFC 3339, UTC).
    read_at: Option<String>,
    /// The version of the flags the reading is of.
    version: Option<String>,
    /// What `flags status --prometheus` says to do.
    recommendation: Option<String>,
    /// Why there is no reading (no `--prometheus`, not read yet, or the
    /// monitor could not run).
    note: Option<String>,
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
    /// A migration flag's stages and its stage mix now; null for an
    /// on/off flag.
    migration: Option<MigrationView>,
    /// Set when the flag is killed, paused or held at its migration stage
    /// and the newest audit record of an edit of it is a guard's.
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
    /// `kill`, `pause` or `rollback`.
    action: &'static str,
    /// The live reading (`--prometheus`): `flags status --json`'s
    /// `guard.now` plus `status`, its STATUS column; null without one.
    now: Option<Value>,
}

/// A migration flag (`migration` in the file): its stages, the roles the
/// file gives them, and who is at which stage now.
#[derive(Serialize)]
struct MigrationView {
    /// The migration's stages (2, 4 or 6), in order.
    stages: Vec<&'static str>,
    /// The baseline: where everyone is unless the rollout or a pilot list
    /// moves them.
    stage: &'static str,
    /// Where the rollout (`percentage` or `ramp`) moves users to.
    next: &'static str,
    /// Where the pilots are.
    pilot_stage: &'static str,
    /// Where the kill switches (`killed`, `kill_all`) send everyone.
    safe: &'static str,
    /// Each stage's share now, in stage order, no share of 0: `next` the
    /// rollout's percentage now (a paused ramp's frozen one), `stage` the
    /// rest; everyone at `safe` under a kill switch. Pilots, requirements
    /// and deny lists aside.
    mix: Vec<Share>,
    /// The pilot ids (the flag's and the file's top-level ones) at
    /// `pilot_stage` now: 0 under a kill switch, which sends them to
    /// `safe` too.
    pilots: usize,
}

/// One stage's share of a migration flag's units.
#[derive(Serialize)]
struct Share {
    stage: &'static str,
    basis_points: u32,
    percentage: f64,
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

/// A migration flag's stages and its mix at `now` ([`Flag::stage_mix`];
/// `kill_all` is the file's, so it is applied here, as `flags status`
/// does).
fn migration_view(snapshot: &Snapshot, flag: &Flag, now: Timestamp) -> Option<MigrationView> {
    let m = flag.migration()?;
    let killed = snapshot.kill_all() || flag.killed();
    let mix = if snapshot.kill_all() {
        vec![(m.safe(), 10_000)]
    } else {
        flag.stage_mix(now)
    };
    let pilots = if killed {
        0
    } else {
        flag.pilots()
            .chain(snapshot.pilots())
            .map(|(_, ids)| ids)
            .sum()
    };
    Some(MigrationView {
        stages: m.stages().iter().map(|s| s.as_str()).collect(),
        stage: m.stage().as_str(),
        next: m.next().as_str(),
        pilot_stage: m.pilot_stage().as_str(),
        safe: m.safe().as_str(),
        mix: mix
            .into_iter()
            .map(|(stage, bp)| Share {
                stage: stage.as_str(),
                basis_points: bp,
                percentage: percentage(bp),
            })
            .collect(),
        pilots,
    })
}

fn guard_view(flag: &Flag, now: Option<Value>) -> Option<GuardView> {
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
        now,
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

/// The guard behind a killed, paused or rolled back flag: set when the
/// newest audit record of an edit of it has the actor `guard`.
fn by_guard(flag: &Flag, records: &[Value]) -> Option<ByGuard> {
    let action = if flag.killed() {
        GuardAction::Kill
    } else if flag.paused_at().is_some() {
        GuardAction::Pause
    } else if flag.migration().is_some_and(|m| m.is_held()) {
        // A rollback guard leaves a migration flag held at its stage.
        GuardAction::Rollback
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
    live: Option<Value>,
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
        guard: guard_view(flag, live),
        migration: migration_view(snapshot, flag, now),
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
    let (monitor, mut live) = monitor_view(&state, &snapshot);
    for flag in snapshot.flags() {
        let counts = by_key.remove(flag.key()).unwrap_or_default();
        let reading = live.remove(flag.key());
        flags.push(flag_view(
            &snapshot,
            flag,
            now,
            counts,
            &audit.records,
            reading,
        ));
    }
    let body = Dashboard {
        version: snapshot.version().to_owned(),
        now: now.to_string(),
        kill_all: snapshot.kill_all(),
        flags,
        unknown_evaluations: unknown,
        audit,
        monitor,
    };
    let bytes =
        serde_json::to_vec(&body).map_err(|e| Error::internal(Api::Flags, e.to_string()))?;
    Ok(json_bytes(StatusCode::OK, bytes))
}

/// The monitor's part of `/v1/dashboard`, and each guarded flag's live
/// reading by key: only a reading of the version being answered (a
/// reload wakes the task, so the next one is on its way).
fn monitor_view(state: &AppState, snapshot: &Snapshot) -> (MonitorView, HashMap<String, Value>) {
    let mut by_flag = HashMap::new();
    let Some(guards) = &state.shared().guards else {
        let view = MonitorView {
            prometheus: None,
            every_seconds: None,
            read_at: None,
            version: None,
            recommendation: None,
            note: Some(
                "start flags serve with --prometheus URL to see each guard's live value".into(),
            ),
        };
        return (view, by_flag);
    };
    start_guard_readings(state);
    let last = guards
        .last
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut view = MonitorView {
        prometheus: Some(guards.monitor.url.clone()),
        every_seconds: Some(guards.monitor.every.as_secs_f64()),
        read_at: None,
        version: None,
        recommendation: None,
        note: None,
    };
    match last.as_deref() {
        None => view.note = Some("asking Prometheus: the first reading is on its way".into()),
        Some(reading) => {
            view.read_at = Some(reading.read_at.to_string());
            view.version = Some(reading.version.clone());
            match &reading.readings {
                Err(why) => view.note = Some(format!("the monitor could not run: {why}")),
                // Of other guards, maybe: neither its values nor its line.
                Ok(_) if reading.version != snapshot.version() => {
                    view.note = Some(
                        "asking Prometheus: the flags were reloaded since the last reading".into(),
                    );
                }
                Ok(readings) => {
                    view.recommendation.clone_from(&reading.recommendation);
                    for r in readings {
                        let mut now = r.to_json();
                        now["status"] = Value::String(r.status());
                        by_flag.insert(r.flag().to_owned(), now);
                    }
                }
            }
        }
    }
    (view, by_flag)
}

/// Starts, once, the task that reads every guard from Prometheus every
/// [`GuardMonitor::every`](super::state::GuardMonitor::every) and at once
/// after each reload, for as long as the state lives. A no-op without
/// `--prometheus` or outside a runtime.
pub(crate) fn start_guard_readings(state: &AppState) {
    let Some(guards) = &state.shared().guards else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if guards.started.swap(true, Ordering::SeqCst) {
        return;
    }
    info!(
        prometheus = %guards.monitor.url,
        every = ?guards.monitor.every,
        "the dashboard reads every guard's query from Prometheus"
    );
    let reloads = state.shared().reloads.subscribe();
    runtime.spawn(refresh_guard_readings(state.downgrade(), reloads));
}

async fn refresh_guard_readings(
    state: Weak<Shared>,
    mut reloads: tokio::sync::broadcast::Receiver<Option<String>>,
) {
    let mut memory = Some(Memory::new());
    loop {
        // Only what this reading needs: the state may end meanwhile.
        let (snapshot, file, guards, ready) = {
            let Some(shared) = state.upgrade() else {
                return;
            };
            let Some(guards) = shared.guards.clone() else {
                return;
            };
            let file = match &shared.source {
                Source::File(file) => file.path().to_path_buf(),
                // The recommendation names the file to edit; a relay has
                // none (`flags serve` refuses --prometheus with --upstream).
                Source::Upstream(_) => PathBuf::from("FILE"),
            };
            let ready = shared.source.is_ready();
            (shared.source.snapshot(), file, guards, ready)
        };
        let every = guards.monitor.every;
        // Before good flags are loaded there is nothing to read (and the
        // endpoint answers 503).
        if ready {
            let reading_guards = Arc::clone(&guards);
            let mut kept = memory.take().unwrap_or_default();
            let task = tokio::task::spawn_blocking(move || {
                let reading = read_guards(&reading_guards, &snapshot, &file, &mut kept);
                (reading, kept)
            });
            match task.await {
                Ok((reading, kept)) => {
                    memory = Some(kept);
                    *guards.last.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Arc::new(reading));
                }
                Err(e) => warn!(error = %e, "reading the guards failed"),
            }
        }
        drop(guards);
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            reload = reloads.recv() => match reload {
                Ok(Some(_)) | Err(RecvError::Lagged(_)) => {}
                // Shutting down, or the state is gone.
                Ok(None) | Err(RecvError::Closed) => return,
            },
        }
    }
}

/// One reading of every guard of `snapshot`, within the monitor's bound.
fn read_guards(
    guards: &GuardReadings,
    snapshot: &Snapshot,
    file: &Path,
    memory: &mut Memory,
) -> GuardReading {
    let monitor_config = &guards.monitor;
    let readings = monitor::read(
        snapshot,
        &monitor_config.prometheus,
        Some(memory),
        Some(monitor_config.within),
    )
    .map_err(|e| e.to_string());
    GuardReading {
        version: snapshot.version().to_owned(),
        read_at: flags_core::now(),
        recommendation: readings
            .as_ref()
            .ok()
            .map(|r| monitor::recommendation(file, r)),
        readings,
    }
}
