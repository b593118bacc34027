//! `flags status --prometheus URL [--watch]`: the status table plus, for
//! each guarded flag, what its query answers now against its threshold,
//! and one recommendation line: what the runbooks' `rollout:monitor` said
//! ("HIGH ERROR RATE DETECTED - consider rolling back"), with the command
//! to type.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use flags_core::edit;
use flags_core::{GuardAction, Snapshot, Timestamp};
use serde_json::{Value, json};

use crate::cli::prometheus::Prometheus;

/// What one guard's query answers now.
pub(super) struct Reading {
    flag: String,
    query: String,
    comparison: &'static str,
    threshold: String,
    hold_for: Duration,
    for_text: String,
    action: GuardAction,
    /// Killed (or kill_all), or for `pause` paused: the guard stands by.
    done: bool,
    value: Result<f64, String>,
    crossed: bool,
    /// How long this process has seen it crossed (`--watch` only).
    seen_for: Option<Duration>,
}

/// Since when `--watch` has seen each flag's value across its threshold.
pub(super) type Memory = HashMap<String, Instant>;

/// Reads every guard of `snapshot` from Prometheus.
pub(super) fn read(
    snapshot: &Snapshot,
    prometheus: &Prometheus,
    memory: Option<&mut Memory>,
) -> Result<Vec<Reading>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let mut readings = Vec::new();
    for flag in snapshot.flags() {
        let Some(guard) = flag.guard() else { continue };
        let done = snapshot.kill_all()
            || flag.killed()
            || (guard.action() == GuardAction::Pause && flag.paused_at().is_some());
        let value = runtime
            .block_on(prometheus.value(guard.query()))
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
pub(super) fn recommendation(file: &Path, readings: &[Reading]) -> String {
    let name = file.display();
    let verb = |a: GuardAction| match a {
        GuardAction::Kill => "kill",
        GuardAction::Pause => "pause",
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
            "GUARD CROSSED on {}: {value} {} {}{held} -- a running `flags guard` {}s it {when}; \
             or run `flags {} {name} {}` now",
            r.flag,
            r.comparison,
            r.threshold,
            verb(r.action),
            verb(r.action),
            r.flag
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
            GuardAction::Kill => "unkill",
            GuardAction::Pause => "resume",
        };
        return format!(
            "{} was stopped by its guard (see the audit log): once fixed, `flags {lift} {name} {}`",
            r.flag, r.flag
        );
    }
    if readings.is_empty() {
        return "no flag has a guard".to_owned();
    }
    "every guard is ok".to_owned()
}

/// The status table, then the guards and the recommendation.
pub(super) fn table(file: &Path, now: Timestamp, readings: &[Reading]) -> Result<String, String> {
    let mut out = edit::status_table(file, now).map_err(|e| e.to_string())?;
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

/// The status document with `guard.now` in each guarded flag and a
/// top-level `recommendation`.
pub(super) fn json(file: &Path, now: Timestamp, readings: &[Reading]) -> Result<String, String> {
    let text = edit::status_json(file, now).map_err(|e| e.to_string())?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(flags) = doc["flags"].as_array_mut() {
        for flag in flags {
            let Some(r) = readings.iter().find(|r| flag["key"] == r.flag.as_str()) else {
                continue;
            };
            let (value, no_data) = match &r.value {
                Ok(v) => (json!(v), Value::Null),
                Err(why) => (Value::Null, json!(why)),
            };
            flag["guard"]["now"] = json!({
                "value": value,
                "crossed": r.crossed,
                "no_data": no_data,
                "done": r.done,
                "seen_crossed_for_seconds": r.seen_for.map(|d| d.as_secs_f64()),
                "query": r.query,
            });
        }
    }
    doc["recommendation"] = json!(recommendation(file, readings));
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}
