//! The monitor of `flags status --prometheus`: for each guarded flag, what
//! its query answers now against its threshold, and one recommendation
//! line: what the runbooks' `rollout:monitor` said ("HIGH ERROR RATE
//! DETECTED - consider rolling back"), with the command to type. The
//! `flags` command line and the C ABI (`flags_file_monitor_json`, and so
//! PHP's `FlagFile::monitor` and Laravel's `flags:status --prometheus`)
//! both call it, so they print the same document.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//! use flags_core::monitor::{self, Prometheus};
//!
//! let prometheus = Prometheus::new("http://127.0.0.1:9090", Duration::from_secs(2))?;
//! let file = Path::new("flags.json");
//! let snapshot = flags_core::Snapshot::from_path(file)?;
//! // Every guard's query, all within two seconds.
//! let readings = monitor::read(&snapshot, &prometheus, None, Some(Duration::from_secs(2)))?;
//! println!("{}", monitor::recommendation(file, &readings));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! It reads; it never acts (that is `flags guard`'s job) and keeps no
//! state between calls but the [`Memory`] its caller passes.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::edit;
use crate::{GuardAction, Snapshot, Timestamp};

mod prometheus;

pub use prometheus::{NoData, Prometheus, one_number};

/// Why the monitor could not run: a Prometheus URL it cannot use, a flag
/// file it cannot read or that is invalid, no runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The Prometheus URL is not an http:// or https:// URL: the message
    /// names it and says what was expected.
    #[error("{0}")]
    Url(String),
    /// The flag file cannot be read or is not valid.
    #[error(transparent)]
    Flags(#[from] crate::Error),
    /// No HTTP client or runtime could be started.
    #[error("{0}")]
    Runtime(String),
}

/// What one guard's query answers now.
#[derive(Clone, Debug)]
pub struct Reading {
    flag: String,
    query: String,
    comparison: &'static str,
    threshold: String,
    hold_for: Duration,
    for_text: String,
    action: GuardAction,
    /// Killed (or kill_all), for `pause` paused, for `rollback` held at
    /// its stage: the guard stands by.
    done: bool,
    value: Result<f64, String>,
    crossed: bool,
    /// How long this process has seen it crossed (`--watch` only).
    seen_for: Option<Duration>,
}

impl Reading {
    /// The key of the flag whose guard this is.
    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// The `STATUS` column of `flags status`: `ok`, `CROSSED` (with
    /// `seen for` when a [`Memory`] was passed), `NO DATA: why`, or
    /// `done: ...` when the flag is killed or paused already.
    pub fn status(&self) -> String {
        state(self)
    }

    /// The `now` object the status document gives the flag's `guard`
    /// (docs/operations.md): `value`, `crossed`, `no_data`, `done`,
    /// `seen_crossed_for_seconds` and `query`.
    pub fn to_json(&self) -> Value {
        let (value, no_data) = match &self.value {
            Ok(v) => (json!(v), Value::Null),
            Err(why) => (Value::Null, json!(why)),
        };
        json!({
            "value": value,
            "crossed": self.crossed,
            "no_data": no_data,
            "done": self.done,
            "seen_crossed_for_seconds": self.seen_for.map(|d| d.as_secs_f64()),
            "query": self.query,
        })
    }
}

/// Since when a watching caller (`flags status --watch`) has seen each
/// flag's value across its threshold.
pub type Memory = HashMap<String, Instant>;

/// Reads every guard of `snapshot` from Prometheus, one query after the
/// other, each within the timeout of `prometheus`, and all of them within
/// `within` when given: a query that has not answered by then is no data
/// ("no answer within ..."), never a value. With `memory`, a reading
/// crossed now says how long it has been seen crossed.
pub fn read(
    snapshot: &Snapshot,
    prometheus: &Prometheus,
    memory: Option<&mut Memory>,
    within: Option<Duration>,
) -> Result<Vec<Reading>, MonitorError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MonitorError::Runtime(format!("cannot start the runtime: {e}")))?;
    let deadline = within.map(|d| tokio::time::Instant::now() + d);
    let mut readings = Vec::new();
    for flag in snapshot.flags() {
        let Some(guard) = flag.guard() else { continue };
        let done = snapshot.kill_all()
            || flag.killed()
            || (guard.action() == GuardAction::Pause && flag.paused_at().is_some())
            || (guard.action() == GuardAction::Rollback
                && flag.migration().is_some_and(|m| m.is_held()));
        let query = prometheus.value(guard.query());
        let value = match (deadline, within) {
            (Some(deadline), Some(within)) => runtime.block_on(async {
                tokio::time::timeout_at(deadline, query)
                    .await
                    .unwrap_or_else(|_| Err(prometheus.late(within)))
            }),
            _ => runtime.block_on(query),
        }
        .map_err(|e| e.to_string());
        let crossed = value.as_ref().is_ok_and(|v| guard.crossed(*v));
        readings.push(Reading {
            flag: flag.key().to_owned(),
            query: guard.query().to_owned(),
            comparison: guard.comparison(),
            threshold: guard.threshold_text().to_owned(),
            hold_for: guard.hold_for(),
            for_text: guard.for_text().to_owned(),
            action: guard.action(),
            done,
            value,
            crossed,
            seen_for: None,
        });
    }
    if let Some(memory) = memory {
        let now = Instant::now();
        memory.retain(|k, _| {
            readings
                .iter()
                .any(|r| r.crossed && !r.done && r.flag == *k)
        });
        for r in &mut readings {
            if r.crossed && !r.done {
                let since = *memory.entry(r.flag.clone()).or_insert(now);
                r.seen_for = Some(now.saturating_duration_since(since));
            }
        }
    }
    Ok(readings)
}

/// `1m20s`, `45s`, `2h`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn state(r: &Reading) -> String {
    if r.done {
        return match r.action {
            GuardAction::Kill => "done: the flag is off".to_owned(),
            GuardAction::Pause => "done: the ramp is paused".to_owned(),
            GuardAction::Rollback => "done: nobody is past the stage".to_owned(),
        };
    }
    match (&r.value, r.crossed, r.seen_for) {
        (Err(why), _, _) => format!("NO DATA: {why}"),
        (Ok(_), true, Some(seen)) => format!("CROSSED, seen for {}", duration(seen)),
        (Ok(_), true, None) => "CROSSED".to_owned(),
        (Ok(_), false, _) => "ok".to_owned(),
    }
}

/// The one line that says what to do, most urgent first.
pub fn recommendation(file: &Path, readings: &[Reading]) -> String {
    let name = file.display();
    let acts = |a: GuardAction| match a {
        GuardAction::Kill => "kills it",
        GuardAction::Pause => "pauses it",
        GuardAction::Rollback => "rolls it back",
    };
    let command = |a: GuardAction, flag: &str| match a {
        GuardAction::Kill => format!("flags kill {name} {flag}"),
        GuardAction::Pause => format!("flags pause {name} {flag}"),
        GuardAction::Rollback => format!("flags stage {name} {flag} --rollback"),
    };
    if let Some(r) = readings.iter().find(|r| r.crossed && !r.done) {
        let value = r.value.as_ref().map_or(0.0, |v| *v);
        let (held, when) = match r.seen_for {
            Some(seen) => {
                let left = r.hold_for.saturating_sub(seen);
                let when = if left.is_zero() {
                    "at its next check".to_owned()
                } else {
                    // Rounded up: "in about 0s" would be wrong.
                    let secs = Duration::from_secs(left.as_secs_f64().ceil() as u64);
                    format!("in about {}", duration(secs))
                };
                (format!(" for {}", duration(seen)), when)
            }
            None => (
                String::new(),
                format!("once it has held for {}", r.for_text),
            ),
        };
        return format!(
            "GUARD CROSSED on {}: {value} {} {}{held} -- a running `flags guard` {} {when}; \
             or run `{}` now",
            r.flag,
            r.comparison,
            r.threshold,
            acts(r.action),
            command(r.action, &r.flag)
        );
    }
    let no_data: Vec<&str> = readings
        .iter()
        .filter(|r| r.value.is_err() && !r.done)
        .map(|r| r.flag.as_str())
        .collect();
    if !no_data.is_empty() {
        return format!(
            "NO DATA for the guard of {}: it cannot act; check the query and Prometheus",
            no_data.join(", ")
        );
    }
    if let Some(r) = readings.iter().find(|r| r.done) {
        let lift = match r.action {
            GuardAction::Kill => format!("flags unkill {name} {}", r.flag),
            GuardAction::Pause => format!("flags resume {name} {}", r.flag),
            GuardAction::Rollback => format!("flags stage {name} {} --next STAGE", r.flag),
        };
        return format!(
            "{} was stopped by its guard (see the audit log): once fixed, `{lift}`",
            r.flag
        );
    }
    if readings.is_empty() {
        return "no flag has a guard".to_owned();
    }
    "every guard is ok".to_owned()
}

/// The status table of `flags status`, then the guards and the
/// recommendation.
pub fn table(file: &Path, now: Timestamp, readings: &[Reading]) -> Result<String, MonitorError> {
    let mut out = edit::status_table(file, now)?;
    out.push('\n');
    let mut rows =
        vec![["GUARD", "VALUE", "THRESHOLD", "FOR", "ACTION", "STATUS"].map(str::to_owned)];
    for r in readings {
        rows.push([
            r.flag.clone(),
            r.value.as_ref().map_or("-".to_owned(), ToString::to_string),
            format!("{} {}", r.comparison, r.threshold),
            r.for_text.clone(),
            verb(r.action).to_owned(),
            state(r),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if !readings.is_empty() {
        for row in &rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out.push_str(&recommendation(file, readings));
    out.push('\n');
    Ok(out)
}

fn verb(action: GuardAction) -> &'static str {
    action.as_str()
}

/// The status document of `flags status --json` with `guard.now` in each
/// guarded flag and a top-level `recommendation` (docs/operations.md).
pub fn json(file: &Path, now: Timestamp, readings: &[Reading]) -> Result<String, MonitorError> {
    let text = edit::status_json(file, now)?;
    let mut doc: Value = serde_json::from_str(&text)
        .map_err(|e| MonitorError::Runtime(format!("the status document: {e}")))?;
    if let Some(flags) = doc["flags"].as_array_mut() {
        for flag in flags {
            let Some(r) = readings.iter().find(|r| flag["key"] == r.flag.as_str()) else {
                continue;
            };
            flag["guard"]["now"] = r.to_json();
        }
    }
    doc["recommendation"] = json!(recommendation(file, readings));
    serde_json::to_string_pretty(&doc)
        .map_err(|e| MonitorError::Runtime(format!("the status document: {e}")))
}
