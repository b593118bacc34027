//! `flags status`: every flag's state at a point in time, as a table for
//! people or one JSON document for machines (the C ABI's
//! `flags_file_status_json`, PHP's `FlagFile::status()`).

use std::path::Path;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::audit::AuditRecord;
use super::{diff, format_percentage, journal};
use crate::decimal;
use crate::error::Error;
use crate::model::{Flag, Snapshot};
use crate::stage::Stage;
use crate::timestamp::Timestamp;

/// The state of the flag file at `path` at `now`, as one JSON document
/// (pretty-printed): what `flags status FILE --json` prints. `file` in it
/// is `path` as given. Also says whether an interrupted edit left its
/// record behind (`interrupted_edit`). Errors are those of
/// [`Snapshot::from_path`].
///
/// ```
/// use flags_core::Timestamp;
/// use flags_core::edit::status_json;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("flags.json");
/// std::fs::write(&path, r#"{"version": 1, "flags": {"checkout": {"percentage": 12.5}}}"#)?;
/// let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z")?;
/// let status: serde_json::Value = serde_json::from_str(&status_json(&path, now)?)?;
/// assert_eq!(status["now"], "2026-11-21T12:00:00.000Z");
/// assert_eq!(status["flags"][0]["key"], "checkout");
/// assert_eq!(status["flags"][0]["state"], "partial");
/// assert_eq!(status["flags"][0]["percentage_now"], 12.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn status_json(path: &Path, now: Timestamp) -> Result<String, Error> {
    let snapshot = Snapshot::from_path(path)?;
    let interrupted = journal::interrupted_edit(path);
    Ok(json(
        &path.display().to_string(),
        &snapshot,
        now,
        interrupted.as_ref(),
    ))
}

/// The state of the flag file at `path` at `now`, as the table `flags
/// status FILE` prints: a heading, then one row per flag in key order.
/// Errors are those of [`Snapshot::from_path`].
pub fn status_table(path: &Path, now: Timestamp) -> Result<String, Error> {
    let snapshot = Snapshot::from_path(path)?;
    let interrupted = journal::interrupted_edit(path);
    Ok(table(
        &path.display().to_string(),
        &snapshot,
        now,
        interrupted.as_ref(),
    ))
}

/// A flag's state, first match wins: the global kill switch, its own kill
/// switch, a paused ramp, a ramp that has not reached its last point, then the rollout
/// percentage in effect (100% on, 0% off, anything else partial).
fn state(snapshot: &Snapshot, flag: &Flag, now: Timestamp) -> &'static str {
    if snapshot.kill_all() {
        return "KILL_ALL";
    }
    if flag.killed() {
        return "killed";
    }
    if flag.paused_at().is_some() {
        return "paused";
    }
    if flag.ramp().last().is_some_and(|(_, at, _)| now < at) {
        return "ramping";
    }
    match flag.basis_points_at(now) {
        10_000 => "on",
        0 => "off",
        _ => "partial",
    }
}

/// The ramp point after `now`, if any: `(time as written, basis points)`.
/// None for a paused ramp: it goes nowhere until a person resumes it.
fn next_point(flag: &Flag, now: Timestamp) -> Option<(&str, u32)> {
    if flag.paused_at().is_some() {
        return None;
    }
    flag.ramp()
        .find(|(_, at, _)| now < *at)
        .map(|(text, _, bp)| (text, bp))
}

fn counts(list: &[(&str, usize)]) -> String {
    if list.is_empty() {
        return "-".to_owned();
    }
    let parts: Vec<String> = list.iter().map(|(a, n)| format!("{a} {n}")).collect();
    parts.join(", ")
}

fn dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// The table: a heading, then one row per flag in key order.
fn table(
    file: &str,
    snapshot: &Snapshot,
    now: Timestamp,
    interrupted: Option<&AuditRecord>,
) -> String {
    let n = snapshot.len();
    let mut out = format!(
        "{file}: {n} flag{}, content hash {}, at {now}\n",
        if n == 1 { "" } else { "s" },
        snapshot.version()
    );
    if snapshot.kill_all() {
        out.push_str(
            "KILL_ALL is ON: every flag is off for everyone (`flags unkill-all` lifts it)\n",
        );
    }
    if let Some(edit) = interrupted {
        out.push_str(&format!(
            "interrupted edit, not yet in the audit log: {} (by {} at {}: {}); \
             the next edit of this file records it\n",
            edit.command, edit.actor, edit.time, edit.summary
        ));
    }
    let global: Vec<(&str, usize)> = snapshot.pilots().collect();
    if !global.is_empty() {
        out.push_str(&format!(
            "global pilots (every flag): {}\n",
            counts(&global)
        ));
    }
    let mut rows = vec![
        [
            "FLAG", "STATE", "NOW", "PILOTS", "DENY", "REQUIRES", "VARIANTS", "OWNER",
        ]
        .map(str::to_owned),
    ];
    for flag in snapshot.flags() {
        let bp = flag.basis_points_at(now);
        let state = state(snapshot, flag, now);
        let now_text = match next_point(flag, now) {
            Some((at, next)) => format!("{} -> {} at {at}", diff::percent(bp), diff::percent(next)),
            None => diff::percent(bp),
        };
        let variants = match flag.migration() {
            Some(_) => stage_mix_text(snapshot, flag, now),
            None => dash(diff::variants(flag)),
        };
        rows.push([
            flag.key().to_owned(),
            state.to_owned(),
            now_text,
            counts(&flag.pilots().collect::<Vec<_>>()),
            counts(&flag.deny().collect::<Vec<_>>()),
            dash(diff::requirements(flag)),
            variants,
            flag.owner().unwrap_or("-").to_owned(),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if snapshot.is_empty() {
        out.push_str("(no flags)\n");
    }
    for flag in snapshot.flags() {
        if let Some((at, _)) = flag.paused_at() {
            out.push_str(&format!(
                "{}: ramp paused at {at} (`flags resume` lifts it)\n",
                flag.key()
            ));
        }
    }
    for flag in snapshot.flags() {
        if let Some(guard) = flag.guard() {
            out.push_str(&format!(
                "guard {}: {}\n",
                flag.key(),
                diff::describe_guard(guard)
            ));
        }
    }
    out
}

/// A migration flag's stage mix: everyone at `safe` under a kill switch,
/// else each stage's share (pilots, requirements and deny aside).
fn stage_mix(snapshot: &Snapshot, flag: &Flag, now: Timestamp) -> Vec<(Stage, u32)> {
    match flag.migration() {
        Some(m) if snapshot.kill_all() => vec![(m.safe(), decimal::FULL)],
        _ => flag.stage_mix(now),
    }
}

/// `dualwrite 90% / shadow 10% / live: pilots`, for the table's
/// VARIANTS column (a migration flag has no variants).
fn stage_mix_text(snapshot: &Snapshot, flag: &Flag, now: Timestamp) -> String {
    let mut parts: Vec<String> = stage_mix(snapshot, flag, now)
        .into_iter()
        .map(|(stage, bp)| format!("{stage} {}", diff::percent(bp)))
        .collect();
    let has_pilots = flag.pilots().len() > 0 || snapshot.pilots().len() > 0;
    if let Some(m) = flag.migration() {
        if has_pilots && !snapshot.kill_all() && !flag.killed() {
            parts.push(format!("{}: pilots", m.pilot_stage()));
        }
    }
    parts.join(" / ")
}

/// A percentage as a JSON number in its shortest form (12.5, 100).
fn number(bp: u32) -> Value {
    serde_json::from_str(&format_percentage(bp)).unwrap_or(Value::Null)
}

/// `{attribute: count}` in file order.
struct Counts<'a>(Vec<(&'a str, usize)>);

impl Serialize for Counts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (attribute, count) in &self.0 {
            map.serialize_entry(attribute, count)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Status<'a> {
    file: &'a str,
    content_hash: &'a str,
    now: String,
    kill_all: bool,
    /// The record of an edit that was interrupted before its audit record
    /// was confirmed (the next edit appends it), else null.
    interrupted_edit: Option<&'a AuditRecord>,
    pilots: Counts<'a>,
    flags: Vec<FlagStatus<'a>>,
}

#[derive(Serialize)]
struct FlagStatus<'a> {
    key: &'a str,
    state: &'static str,
    /// The rollout percentage in effect at `now` (a killed flag is off
    /// whatever it says).
    percentage_now: Value,
    basis_points_now: u32,
    /// The next ramp point, while ramping.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Point<'a>>,
    killed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    percentage: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ramp: Option<Vec<Point<'a>>>,
    /// When a paused ramp stopped (it stays at `percentage_now`).
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_at: Option<&'a str>,
    pilots: Counts<'a>,
    deny: Counts<'a>,
    requires: Vec<Requirement<'a>>,
    variants: Vec<VariantStatus<'a>>,
    bucket_by: &'a str,
    salt: &'a str,
    owner: Option<&'a str>,
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard: Option<GuardStatus<'a>>,
    /// A migration flag's stages and its mix now.
    #[serde(skip_serializing_if = "Option::is_none")]
    migration: Option<MigrationStatus>,
}

#[derive(Serialize)]
struct MigrationStatus {
    stages: usize,
    stage: &'static str,
    next: &'static str,
    pilot_stage: &'static str,
    safe: &'static str,
    /// Each stage's share now, pilots, requirements and deny aside; all at
    /// `safe` under a kill switch.
    mix: Vec<Share>,
}

#[derive(Serialize)]
struct Share {
    stage: &'static str,
    percentage: Value,
}

/// A flag's `guard` as written (`flags status --prometheus` adds what the
/// query answers now).
#[derive(Serialize)]
struct GuardStatus<'a> {
    query: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    above: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    below: Option<f64>,
    #[serde(rename = "for")]
    hold_for: &'a str,
    action: &'static str,
}

impl<'a> GuardStatus<'a> {
    fn new(guard: &'a crate::Guard) -> Self {
        let (above, below) = match guard.threshold() {
            crate::Threshold::Above(t) => (Some(t), None),
            crate::Threshold::Below(t) => (None, Some(t)),
        };
        GuardStatus {
            query: guard.query(),
            above,
            below,
            hold_for: guard.for_text(),
            action: guard.action().as_str(),
        }
    }
}

#[derive(Serialize)]
struct Point<'a> {
    at: &'a str,
    percentage: Value,
}

#[derive(Serialize)]
struct Requirement<'a> {
    attribute: &'a str,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
struct VariantStatus<'a> {
    name: &'a str,
    weight: Value,
}

/// The status as one JSON document.
fn json(
    file: &str,
    snapshot: &Snapshot,
    now: Timestamp,
    interrupted: Option<&AuditRecord>,
) -> String {
    let flags = snapshot
        .flags()
        .map(|flag| {
            let bp = flag.basis_points_at(now);
            FlagStatus {
                key: flag.key(),
                state: state(snapshot, flag, now),
                percentage_now: number(bp),
                basis_points_now: bp,
                next: next_point(flag, now).map(|(at, bp)| Point {
                    at,
                    percentage: number(bp),
                }),
                killed: flag.killed(),
                percentage: (!flag.is_ramp()).then(|| number(flag.percentage().unwrap_or(0))),
                ramp: flag.is_ramp().then(|| {
                    flag.ramp()
                        .map(|(at, _, bp)| Point {
                            at,
                            percentage: number(bp),
                        })
                        .collect()
                }),
                paused_at: flag.paused_at().map(|(at, _)| at),
                pilots: Counts(flag.pilots().collect()),
                deny: Counts(flag.deny().collect()),
                requires: flag
                    .requirements()
                    .map(|(attribute, op, operands)| {
                        let list = matches!(op, "in" | "not_in");
                        Requirement {
                            attribute,
                            op,
                            value: (!list).then(|| operands.first().copied().unwrap_or("")),
                            values: list.then_some(operands),
                        }
                    })
                    .collect(),
                variants: flag
                    .variants()
                    .map(|(name, weight)| VariantStatus {
                        name,
                        weight: number(weight),
                    })
                    .collect(),
                bucket_by: flag.bucket_by(),
                salt: flag.salt(),
                owner: flag.owner(),
                description: flag.description(),
                guard: flag.guard().map(GuardStatus::new),
                migration: flag.migration().map(|m| MigrationStatus {
                    stages: m.stages().len(),
                    stage: m.stage().as_str(),
                    next: m.next().as_str(),
                    pilot_stage: m.pilot_stage().as_str(),
                    safe: m.safe().as_str(),
                    mix: stage_mix(snapshot, flag, now)
                        .into_iter()
                        .map(|(stage, bp)| Share {
                            stage: stage.as_str(),
                            percentage: number(bp),
                        })
                        .collect(),
                }),
            }
        })
        .collect();
    let status = Status {
        file,
        content_hash: snapshot.version(),
        now: now.to_string(),
        kill_all: snapshot.kill_all(),
        interrupted_edit: interrupted,
        pilots: Counts(snapshot.pilots().collect()),
        flags,
    };
    serde_json::to_string_pretty(&status).unwrap_or_default()
}
