//! What changed between two flag files, in words: `flags diff`, the lines
//! of a dry run ([`Outcome::changes`](super::Outcome::changes)) and the
//! one-line summaries of edits and of the audit log.
//!
//! Compares meaning, not text: reformatting, reordering keys or writing
//! `12.50` for `12.5` is no change.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::format_percentage;
use crate::model::{Flag, Migration, Snapshot};

/// Ids shown in a pilots or deny change before "... N more".
const MAX_IDS_SHOWN: usize = 10;

/// One line per thing that changed: the global switches first, then each
/// flag in key order (`enrollment_service: percentage 12.5% -> 25%`).
/// Empty when the two files mean the same.
///
/// ```
/// use flags_core::Snapshot;
/// use flags_core::edit::{changes, summary};
///
/// let old = Snapshot::from_slice(br#"{"version": 1, "flags": {"a": {"percentage": 12.5}}}"#)?;
/// let new = Snapshot::from_slice(br#"{"version": 1, "kill_all": true, "flags": {"a": {"percentage": 25}}}"#)?;
/// let lines = changes(&old, &new);
/// assert_eq!(lines, ["kill_all: off -> ON", "a: percentage 12.5% -> 25%"]);
/// assert_eq!(summary(&lines), "kill_all: off -> ON; a: percentage 12.5% -> 25%");
/// # Ok::<(), flags_core::Error>(())
/// ```
pub fn changes(old: &Snapshot, new: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    if old.kill_all() != new.kill_all() {
        lines.push(format!(
            "kill_all: {} -> {}",
            on_off(old.kill_all()),
            on_off(new.kill_all())
        ));
    }
    let global = targets_changes(
        "global pilots",
        &old.pilots().collect::<Vec<_>>(),
        &new.pilots().collect::<Vec<_>>(),
        |a| old.pilot_ids(a).collect(),
        |a| new.pilot_ids(a).collect(),
    );
    lines.extend(global);
    let mut keys: Vec<&str> = old.keys().chain(new.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        match (old.flag(key), new.flag(key)) {
            (None, Some(flag)) => lines.push(format!("new flag {key}: {}", describe_new(flag))),
            (Some(_), None) => lines.push(format!("flag {key} removed")),
            (Some(a), Some(b)) => {
                let words = flag_changes(a, b);
                if !words.is_empty() {
                    lines.push(format!("{key}: {}", words.join("; ")));
                }
            }
            (None, None) => {}
        }
    }
    lines
}

/// The changes on one line, for the audit log and the edit commands.
pub fn summary(lines: &[String]) -> String {
    if lines.is_empty() {
        "no changes".to_owned()
    } else {
        lines.join("; ")
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "ON" } else { "off" }
}

/// `12.5%`.
pub(super) fn percent(bp: u32) -> String {
    format!("{}%", format_percentage(bp))
}

/// A flag's rollout: a fixed percentage (none set means 0) or a ramp.
#[derive(PartialEq)]
enum Rollout {
    Fixed(u32),
    /// (time in Unix ms, basis points); the time as written is kept apart.
    Ramp(Vec<(i64, u32)>),
}

fn rollout(flag: &Flag) -> Rollout {
    if flag.is_ramp() {
        Rollout::Ramp(
            flag.ramp()
                .map(|(_, at, bp)| (at.unix_millis(), bp))
                .collect(),
        )
    } else {
        Rollout::Fixed(flag.percentage().unwrap_or(0))
    }
}

/// `percentage 25%` or `ramp [10% at 2026-11-21T00:00:00Z, 100% at ...]`.
fn describe_rollout(flag: &Flag) -> String {
    if flag.is_ramp() {
        format!("ramp {}", ramp_points(flag))
    } else {
        format!("percentage {}", percent(flag.percentage().unwrap_or(0)))
    }
}

fn ramp_points(flag: &Flag) -> String {
    let points: Vec<String> = flag
        .ramp()
        .map(|(at, _, bp)| format!("{} at {at}", percent(bp)))
        .collect();
    format!("[{}]", points.join(", "))
}

fn describe_new(flag: &Flag) -> String {
    let mut words = vec![describe_rollout(flag)];
    if let Some(m) = flag.migration() {
        words.push(format!("migration {}", describe_migration(m)));
    }
    if flag.killed() {
        words.push("killed".to_owned());
    }
    if let Some((at, _)) = flag.paused_at() {
        words.push(format!("paused at {at}"));
    }
    if let Some(guard) = flag.guard() {
        words.push(format!("guard {}", describe_guard(guard)));
    }
    let pilots: usize = flag.pilots().map(|(_, n)| n).sum();
    if pilots > 0 {
        words.push(format!(
            "{pilots} pilot{}",
            if pilots == 1 { "" } else { "s" }
        ));
    }
    if let Some(owner) = flag.owner() {
        words.push(format!("owner {owner}"));
    }
    words.join(", ")
}

fn flag_changes(a: &Flag, b: &Flag) -> Vec<String> {
    let mut words = Vec::new();
    if a.killed() != b.killed() {
        words.push(if b.killed() { "killed" } else { "unkilled" }.to_owned());
    }
    match (rollout(a), rollout(b)) {
        (x, y) if x == y => {}
        (Rollout::Fixed(x), Rollout::Fixed(y)) => {
            words.push(format!("percentage {} -> {}", percent(x), percent(y)));
        }
        (Rollout::Ramp(_), Rollout::Ramp(_)) => {
            words.push(format!("ramp {} -> {}", ramp_points(a), ramp_points(b)));
        }
        _ => words.push(format!(
            "{} -> {}",
            describe_rollout(a),
            describe_rollout(b)
        )),
    }
    match (a.migration(), b.migration()) {
        (None, None) => {}
        (None, Some(m)) => words.push(format!("migration {}", describe_migration(m))),
        (Some(_), None) => words.push("migration removed".to_owned()),
        (Some(x), Some(y)) => {
            let moves = migration_moves(x, y);
            if !moves.is_empty() {
                words.push(format!("migration {}", moves.join(", ")));
            }
        }
    }
    match (a.paused_at(), b.paused_at()) {
        (x, y) if x.map(|p| p.1) == y.map(|p| p.1) => {}
        (_, Some((text, at))) => words.push(format!(
            "ramp paused at {text} ({})",
            percent(b.basis_points_at(at))
        )),
        (Some(_), None) => words.push("ramp resumed".to_owned()),
        (None, None) => {}
    }
    match (a.guard(), b.guard()) {
        (x, y) if x == y => {}
        (_, Some(guard)) => words.push(format!("guard {}", describe_guard(guard))),
        (Some(_), None) => words.push("guard removed".to_owned()),
        (None, None) => {}
    }
    words.extend(targets_changes(
        "pilots",
        &a.pilots().collect::<Vec<_>>(),
        &b.pilots().collect::<Vec<_>>(),
        |attr| a.pilot_ids(attr).collect(),
        |attr| b.pilot_ids(attr).collect(),
    ));
    words.extend(targets_changes(
        "deny",
        &a.deny().collect::<Vec<_>>(),
        &b.deny().collect::<Vec<_>>(),
        |attr| a.deny_ids(attr).collect(),
        |attr| b.deny_ids(attr).collect(),
    ));
    let (ra, rb) = (requirements(a), requirements(b));
    if ra != rb {
        words.push(format!("requires {} -> {}", or_none(&ra), or_none(&rb)));
    }
    let (va, vb) = (variants(a), variants(b));
    if va != vb {
        words.push(format!("variants {} -> {}", or_none(&va), or_none(&vb)));
    }
    if a.bucket_by() != b.bucket_by() {
        words.push(format!("bucket_by {} -> {}", a.bucket_by(), b.bucket_by()));
    }
    if a.salt() != b.salt() {
        words.push(format!("salt {} -> {}", a.salt(), b.salt()));
    }
    if a.owner() != b.owner() {
        words.push(format!(
            "owner {} -> {}",
            a.owner().unwrap_or("(none)"),
            b.owner().unwrap_or("(none)")
        ));
    }
    if a.description() != b.description() {
        words.push("description changed".to_owned());
    }
    words
}

/// `6 stages: stage dualwrite, next shadow, pilot_stage live, safe off`.
pub(super) fn describe_migration(m: &Migration) -> String {
    format!(
        "{} stages: stage {}, next {}, pilot_stage {}, safe {}",
        m.stages().len(),
        m.stage(),
        m.next(),
        m.pilot_stage(),
        m.safe()
    )
}

/// `next shadow -> dualwrite` for each stage whose meaning changed (a
/// default written out is no change).
fn migration_moves(a: &Migration, b: &Migration) -> Vec<String> {
    let mut moves = Vec::new();
    if a.stages().len() != b.stages().len() {
        moves.push(format!(
            "stages {} -> {}",
            a.stages().len(),
            b.stages().len()
        ));
    }
    for (name, x, y) in [
        ("stage", a.stage(), b.stage()),
        ("next", a.next(), b.next()),
        ("pilot_stage", a.pilot_stage(), b.pilot_stage()),
        ("safe", a.safe(), b.safe()),
    ] {
        if x != y {
            moves.push(format!("{name} {x} -> {y}"));
        }
    }
    moves
}

/// `kill when <query> above 0.05 for 2m`.
pub(super) fn describe_guard(guard: &crate::Guard) -> String {
    format!(
        "{} when {} {} {} for {}",
        guard.action().as_str(),
        guard.query(),
        guard.comparison(),
        guard.threshold_text(),
        guard.for_text()
    )
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

/// `pilots user_id: +2 (7, 8) -1 (3)` for each attribute whose ids changed.
fn targets_changes<'a>(
    what: &str,
    old: &[(&'a str, usize)],
    new: &[(&'a str, usize)],
    old_ids: impl Fn(&str) -> Vec<&'a str>,
    new_ids: impl Fn(&str) -> Vec<&'a str>,
) -> Vec<String> {
    let mut attributes: Vec<&str> = old.iter().map(|(a, _)| *a).collect();
    for (a, _) in new {
        if !attributes.contains(a) {
            attributes.push(a);
        }
    }
    let mut out = Vec::new();
    for attribute in attributes {
        let before: HashSet<&str> = old_ids(attribute).into_iter().collect();
        let after: HashSet<&str> = new_ids(attribute).into_iter().collect();
        let mut added: Vec<&str> = after.difference(&before).copied().collect();
        let mut removed: Vec<&str> = before.difference(&after).copied().collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        added.sort_by(|x, y| natural(x, y));
        removed.sort_by(|x, y| natural(x, y));
        let mut line = format!("{what} {attribute}:");
        if !added.is_empty() {
            line.push_str(&format!(" +{} ({})", added.len(), id_list(&added)));
        }
        if !removed.is_empty() {
            line.push_str(&format!(" -{} ({})", removed.len(), id_list(&removed)));
        }
        out.push(line);
    }
    out
}

/// Numeric ids in numeric order, then the rest in byte order.
fn natural(a: &str, b: &str) -> Ordering {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

fn id_list(ids: &[&str]) -> String {
    let shown: Vec<&str> = ids.iter().take(MAX_IDS_SHOWN).copied().collect();
    let mut text = shown.join(", ");
    if ids.len() > MAX_IDS_SHOWN {
        text.push_str(&format!(", ... {} more", ids.len() - MAX_IDS_SHOWN));
    }
    text
}

/// `app_version >= 3.2.0; tenant_id not in [legacy-tenant]`; empty when
/// the flag has no requirements.
pub(super) fn requirements(flag: &Flag) -> String {
    let parts: Vec<String> = flag
        .requirements()
        .map(|(attribute, op, operands)| match op {
            "semver_gte" => format!("{attribute} >= {}", operands.join("")),
            "semver_lt" => format!("{attribute} < {}", operands.join("")),
            "not_in" => format!("{attribute} not in [{}]", operands.join(", ")),
            _ => format!("{attribute} in [{}]", operands.join(", ")),
        })
        .collect();
    parts.join("; ")
}

/// `control 50 / treatment 50`; empty when the flag has no variants.
pub(super) fn variants(flag: &Flag) -> String {
    let parts: Vec<String> = flag
        .variants()
        .map(|(name, weight)| format!("{name} {}", format_percentage(weight)))
        .collect();
    parts.join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(text: &str) -> Snapshot {
        Snapshot::from_slice(text.as_bytes()).expect("valid")
    }

    #[test]
    fn words_for_every_kind_of_change() {
        let old = snapshot(
            r#"{"version": 1, "pilots": {"user_id": ["1"]}, "flags": {
                "a": {"percentage": 12.5, "pilots": {"user_id": ["3", "10"]}},
                "b": {"ramp": [{"at": "2026-11-21T00:00:00Z", "percentage": 10}]},
                "gone": {},
                "same": {"percentage": 5, "owner": "x"}
            }}"#,
        );
        let new = snapshot(
            r#"{"version": 1, "kill_all": true, "pilots": {"user_id": ["1", "2"]}, "flags": {
                "same": {"owner": "x", "percentage": 5.00},
                "a": {"percentage": 25, "killed": true, "pilots": {"user_id": ["7", "8", "10"]},
                      "requires": [{"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"}]},
                "b": {"percentage": 50, "variants": [{"name": "on", "weight": 100}]},
                "new": {"percentage": 0, "owner": "team"}
            }}"#,
        );
        assert_eq!(
            changes(&old, &new),
            [
                "kill_all: off -> ON",
                "global pilots user_id: +1 (2)",
                "a: killed; percentage 12.5% -> 25%; pilots user_id: +2 (7, 8) -1 (3); requires (none) -> app_version >= 3.2.0",
                "b: ramp [10% at 2026-11-21T00:00:00Z] -> percentage 50%; variants (none) -> on 100",
                "flag gone removed",
                "new flag new: percentage 0%, owner team",
            ]
        );
        assert!(changes(&old, &old).is_empty());
        assert_eq!(summary(&[]), "no changes");
    }

    #[test]
    fn words_for_migration_moves() {
        let old = snapshot(
            r#"{"version": 1, "flags": {
                "m": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}},
                "held": {"migration": {"stages": 4, "stage": "shadow"}},
                "plain": {}
            }}"#,
        );
        let new = snapshot(
            r#"{"version": 1, "flags": {
                "m": {"migration": {"stages": 6, "stage": "dualwrite", "next": "dualwrite", "pilot_stage": "dualwrite", "safe": "off"}},
                "held": {"migration": {"stages": 4, "stage": "shadow", "next": "shadow", "pilot_stage": "shadow"}},
                "plain": {"migration": {"stages": 2, "stage": "off"}},
                "new": {"migration": {"stages": 2, "stage": "off", "next": "complete"}, "percentage": 5}
            }}"#,
        );
        assert_eq!(
            changes(&old, &new),
            [
                "m: migration next shadow -> dualwrite, pilot_stage live -> dualwrite",
                "new flag new: percentage 5%, migration 2 stages: stage off, next complete, pilot_stage complete, safe off",
                "plain: migration 2 stages: stage off, next off, pilot_stage off, safe off",
            ]
        );
        assert_eq!(
            changes(&new, &old)[0],
            "m: migration next dualwrite -> shadow, pilot_stage dualwrite -> live"
        );
    }

    #[test]
    fn long_id_lists_are_cut() {
        let ids: Vec<String> = (1..=25).map(|i| format!("\"{i}\"")).collect();
        let old = snapshot(r#"{"version": 1, "flags": {"a": {}}}"#);
        let new = snapshot(&format!(
            r#"{{"version": 1, "flags": {{"a": {{"pilots": {{"user_id": [{}]}}}}}}}}"#,
            ids.join(",")
        ));
        assert_eq!(
            changes(&old, &new),
            ["a: pilots user_id: +25 (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 15 more)"]
        );
    }
}
