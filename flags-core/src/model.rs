//! The validated, immutable flag set ([`Snapshot`]) and its parts: plain
//! data with the accessors callers read and the small rules evaluation asks
//! of it (a condition holds, a ramp's percentage at a time). Making one
//! from bytes or a file is `load`'s job, checking it `validate`'s.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::bucket::Prefix;
use crate::context::Context;
use crate::eval::Reason;
use crate::semver::{Bound, Version};
use crate::stage::Stage;
use crate::timestamp::Timestamp;

pub(crate) use crate::ids::IdSet;

/// A parsed and completely validated flag file. Immutable: a reload builds a
/// new snapshot and swaps it in whole.
///
/// ```
/// use flags_core::Snapshot;
/// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"a": {}, "b": {}}}"#)?;
/// assert_eq!(snapshot.len(), 2);
/// assert_eq!(snapshot.keys().collect::<Vec<_>>(), ["a", "b"]);
/// # Ok::<(), flags_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Snapshot {
    /// Content hash of the file's bytes (32 hex digits).
    pub(crate) version: Box<str>,
    pub(crate) kill_all: bool,
    pub(crate) pilots: Targets,
    /// Sorted by key.
    pub(crate) flags: Vec<Flag>,
    pub(crate) index: HashMap<Box<str>, usize, RandomState>,
}

impl Snapshot {
    /// No flags and no version: what a source serves before it has a good
    /// file (every flag is off, `FLAG_NOT_FOUND`), and what a file that
    /// does not exist yet means to an edit that creates it.
    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    pub(crate) fn empty() -> Self {
        Snapshot {
            version: "".into(),
            kill_all: false,
            pilots: Targets::default(),
            flags: Vec::new(),
            index: HashMap::default(),
        }
    }

    /// A content hash of the exact bytes this snapshot was parsed from: 32
    /// lowercase hex digits (SipHash-2-4, 128-bit). Two loads of the same
    /// bytes have the same version; any edit changes it. Usable as an ETag.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The global kill switch: when set, every flag is off.
    pub fn kill_all(&self) -> bool {
        self.kill_all
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// True when the file defines no flags.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Flag keys in sorted order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.flags.iter().map(|f| &*f.key)
    }

    /// The flag named `key`.
    pub fn flag(&self, key: &str) -> Option<&Flag> {
        self.index.get(key).map(|&i| &self.flags[i])
    }

    /// Every flag, in key order.
    pub fn flags(&self) -> impl ExactSizeIterator<Item = &Flag> {
        self.flags.iter()
    }

    /// The top-level `pilots` (they apply to every flag): each attribute
    /// with its number of distinct ids, in file order.
    pub fn pilots(&self) -> impl ExactSizeIterator<Item = (&str, usize)> {
        self.pilots.counts()
    }

    /// The distinct top-level pilot ids of `attribute`, in no particular
    /// order; none when the attribute has no list.
    pub fn pilot_ids<'s>(&'s self, attribute: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.pilots.ids(attribute)
    }
}

/// One flag of a [`Snapshot`].
#[derive(Debug)]
pub struct Flag {
    pub(crate) key: Box<str>,
    pub(crate) description: Option<Box<str>>,
    pub(crate) owner: Option<Box<str>>,
    pub(crate) killed: bool,
    pub(crate) requires: Vec<Condition>,
    pub(crate) deny: Targets,
    pub(crate) pilots: Targets,
    pub(crate) rollout: Rollout,
    /// `paused_at` (only with a ramp): the ramp is evaluated at
    /// `min(now, paused_at)`, in Unix milliseconds, with the time as written.
    pub(crate) paused_at: Option<(i64, Box<str>)>,
    /// As written; `None` means `user_id`.
    pub(crate) bucket_by: Option<Box<str>>,
    /// As written; `None` means the flag key.
    pub(crate) salt: Option<Box<str>>,
    pub(crate) variants: Vec<Variant>,
    pub(crate) guard: Option<Guard>,
    /// `migration`: the flag's answer is a stage.
    pub(crate) migration: Option<Migration>,
    pub(crate) bucket_prefix: Prefix,
    pub(crate) variant_prefix: Prefix,
}

/// The attribute flags bucket by unless they say otherwise.
pub const DEFAULT_BUCKET_BY: &str = "user_id";

impl Flag {
    /// The flag's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Free-text description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Owning team, if any.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The flag's own kill switch.
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// The attribute whose value is hashed for the rollout.
    pub fn bucket_by(&self) -> &str {
        self.bucket_by.as_deref().unwrap_or(DEFAULT_BUCKET_BY)
    }

    /// The hash salt (the flag key unless set).
    pub fn salt(&self) -> &str {
        self.salt.as_deref().unwrap_or(&self.key)
    }

    /// The rollout percentage in effect at `now`, in basis points
    /// (0..=10000; 1250 is 12.5%). A paused ramp stays at its percentage
    /// at `paused_at`.
    pub fn basis_points_at(&self, now: Timestamp) -> u32 {
        self.rollout
            .basis_points_at(self.ramp_time(now.unix_millis()))
    }

    /// The time a ramp is evaluated at: `now`, or `paused_at` when that is
    /// earlier.
    #[inline]
    pub(crate) fn ramp_time(&self, now: i64) -> i64 {
        match &self.paused_at {
            Some((at, _)) => now.min(*at),
            None => now,
        }
    }

    /// When the flag's ramp was paused (`paused_at`: it stays at its
    /// percentage at that time), as written and as a time; `None` unless
    /// paused.
    pub fn paused_at(&self) -> Option<(&str, Timestamp)> {
        self.paused_at
            .as_ref()
            .map(|(at, text)| (&**text, Timestamp::from_unix_millis(*at)))
    }

    /// The flag's `guard`, if any: what `flags guard` watches for it.
    pub fn guard(&self) -> Option<&Guard> {
        self.guard.as_ref()
    }

    /// The flag's `migration`, when it is a migration flag: its answer is
    /// a [`Stage`], carried in [`crate::Evaluation::variant`].
    pub fn migration(&self) -> Option<&Migration> {
        self.migration.as_ref()
    }

    /// A migration flag's stage mix at `now`, pilots, requirements and
    /// deny lists aside: `(stage, basis points)` in stage order, `next`
    /// with the rollout's percentage in effect and `stage` with the rest
    /// (one share when they are the same stage; no share of 0); everyone
    /// at `safe` when the flag is killed. Empty for a flag that is not a
    /// migration flag. What `flags status` and the dashboard show.
    ///
    /// ```
    /// use flags_core::{Snapshot, Stage, Timestamp};
    /// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"orders": {
    ///     "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"}, "percentage": 10}}}"#)?;
    /// let flag = snapshot.flag("orders").expect("there");
    /// let now = Timestamp::from_unix_millis(0);
    /// assert_eq!(flag.stage_mix(now), [(Stage::DualWrite, 9000), (Stage::Shadow, 1000)]);
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    pub fn stage_mix(&self, now: Timestamp) -> Vec<(Stage, u32)> {
        let Some(m) = &self.migration else {
            return Vec::new();
        };
        if self.killed {
            return vec![(m.safe(), crate::decimal::FULL)];
        }
        let moved = self.basis_points_at(now);
        if m.next() == m.stage {
            return vec![(m.stage, crate::decimal::FULL)];
        }
        [(m.stage, crate::decimal::FULL - moved), (m.next(), moved)]
            .into_iter()
            .filter(|(_, bp)| *bp > 0)
            .collect()
    }

    /// True when the flag's rollout is a ramp.
    pub fn is_ramp(&self) -> bool {
        matches!(self.rollout, Rollout::Ramp(_))
    }

    /// Variant names and weights in basis points, in file order.
    pub fn variants(&self) -> impl ExactSizeIterator<Item = (&str, u32)> {
        self.variants.iter().map(|v| (&*v.name, v.weight))
    }

    /// The fixed rollout percentage in basis points when the flag sets
    /// `percentage`; `None` for a ramp or when neither is set (which means 0).
    pub fn percentage(&self) -> Option<u32> {
        match self.rollout {
            Rollout::Percentage(bp) => Some(bp),
            _ => None,
        }
    }

    /// The ramp points as `(time as written, time, basis points)`, in file
    /// order; empty unless the flag sets `ramp`.
    pub fn ramp(&self) -> impl ExactSizeIterator<Item = (&str, Timestamp, u32)> {
        let points: &[RampPoint] = match &self.rollout {
            Rollout::Ramp(points) => points,
            _ => &[],
        };
        points
            .iter()
            .map(|p| (&*p.at_text, Timestamp::from_unix_millis(p.at), p.bp))
    }

    /// The flag's own `pilots`: each attribute with its number of distinct
    /// ids, in file order.
    pub fn pilots(&self) -> impl ExactSizeIterator<Item = (&str, usize)> {
        self.pilots.counts()
    }

    /// The distinct pilot ids of `attribute`, in no particular order; none
    /// when the attribute has no list.
    pub fn pilot_ids<'s>(&'s self, attribute: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.pilots.ids(attribute)
    }

    /// The flag's `deny` lists: each attribute with its number of distinct
    /// ids, in file order.
    pub fn deny(&self) -> impl ExactSizeIterator<Item = (&str, usize)> {
        self.deny.counts()
    }

    /// The distinct denied ids of `attribute`, in no particular order; none
    /// when the attribute has no list.
    pub fn deny_ids<'s>(&'s self, attribute: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.deny.ids(attribute)
    }

    /// The `requires` conditions in file order, each as `(attribute, op,
    /// operands)`: `op` as written in the file (`in`, `not_in`, `semver_gte`,
    /// `semver_lt`); `operands` the sorted, distinct `values` of a list op,
    /// or the one `value` of a version op.
    pub fn requirements(&self) -> impl ExactSizeIterator<Item = (&str, &'static str, Vec<&str>)> {
        self.requires.iter().map(|c| {
            let (op, operands) = match &c.test {
                Test::In(ids) => ("in", sorted(ids)),
                Test::NotIn(ids) => ("not_in", sorted(ids)),
                Test::SemverGte(v) => ("semver_gte", vec![v.as_str()]),
                Test::SemverLt(v) => ("semver_lt", vec![v.as_str()]),
            };
            (&*c.attribute, op, operands)
        })
    }
}

fn sorted(ids: &IdSet) -> Vec<&str> {
    ids.iter().collect()
}

/// Lists of ids per attribute (`pilots`, `deny`).
#[derive(Debug, Default)]
pub(crate) struct Targets(pub(crate) Vec<(Box<str>, IdSet)>);

impl Targets {
    /// True when, for some attribute, the context's value is in its list.
    #[inline]
    pub fn matches(&self, ctx: &Context<'_>) -> bool {
        self.0
            .iter()
            .any(|(attribute, ids)| ctx.get(attribute).is_some_and(|value| ids.contains(value)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each attribute with its number of distinct ids.
    pub fn counts(&self) -> impl ExactSizeIterator<Item = (&str, usize)> {
        self.0
            .iter()
            .map(|(attribute, ids)| (&**attribute, ids.len()))
    }

    /// The ids of `attribute` (none when it has no list).
    pub fn ids<'s>(&'s self, attribute: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.0
            .iter()
            .find(|(a, _)| **a == *attribute)
            .into_iter()
            .flat_map(|(_, ids)| ids.iter())
    }
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub attribute: Box<str>,
    pub test: Test,
}

#[derive(Debug)]
pub(crate) enum Test {
    In(IdSet),
    NotIn(IdSet),
    /// The version, validated and split at load.
    SemverGte(Bound),
    SemverLt(Bound),
}

impl Condition {
    /// Fails closed: an absent attribute fails every op, and a value that is
    /// not a valid version fails a version comparison.
    #[inline]
    pub fn holds(&self, ctx: &Context<'_>) -> bool {
        let Some(value) = ctx.get(&self.attribute) else {
            return false;
        };
        match &self.test {
            Test::In(ids) => ids.contains(value),
            Test::NotIn(ids) => !ids.contains(value),
            Test::SemverGte(min) => compare(value, min).is_some_and(|o| o.is_ge()),
            Test::SemverLt(max) => compare(value, max).is_some_and(|o| o.is_lt()),
        }
    }
}

fn compare(value: &str, bound: &Bound) -> Option<std::cmp::Ordering> {
    let value = Version::parse(value)?;
    Some(value.precedence(&bound.version()))
}

#[derive(Debug)]
pub(crate) enum Rollout {
    /// Neither `percentage` nor `ramp`: 0%.
    Unset,
    Percentage(u32),
    /// At least one point, times strictly increasing.
    Ramp(Vec<RampPoint>),
}

#[derive(Debug)]
pub(crate) struct RampPoint {
    pub at: i64,
    /// The time as written, kept for normalized output.
    pub at_text: Box<str>,
    pub bp: u32,
}

impl Rollout {
    /// Effective basis points at `now` (Unix milliseconds).
    pub fn basis_points_at(&self, now: i64) -> u32 {
        match self {
            Rollout::Unset => 0,
            Rollout::Percentage(bp) => *bp,
            Rollout::Ramp(points) => ramp_at(points, now),
        }
    }
}

/// Before the first point: 0. At or after the last: its percentage. Between
/// `(t0, p0)` and `(t1, p1)`: `p0 + floor((p1 - p0) * (now - t0) / (t1 - t0))`.
fn ramp_at(points: &[RampPoint], now: i64) -> u32 {
    let next = points.partition_point(|p| p.at <= now);
    if next == 0 {
        return 0;
    }
    let prev = &points[next - 1];
    let Some(end) = points.get(next) else {
        return prev.bp;
    };
    let dp = i128::from(end.bp) - i128::from(prev.bp);
    let elapsed = i128::from(now) - i128::from(prev.at);
    let span = i128::from(end.at) - i128::from(prev.at);
    let bp = i128::from(prev.bp) + (dp * elapsed).div_euclid(span);
    // Between two values in 0..=10000, so the conversion cannot fail.
    u32::try_from(bp).unwrap_or(0)
}

/// A flag's `guard`: a Prometheus query that returns one number, a
/// threshold it must not cross, for how long, and what `flags guard` does
/// when it has crossed it that long. Evaluation ignores it.
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    pub(crate) query: Box<str>,
    pub(crate) threshold: Threshold,
    /// The threshold as written in the file (`0.05`).
    pub(crate) threshold_text: Box<str>,
    pub(crate) for_ms: u64,
    /// The duration as written (`2m`).
    pub(crate) for_text: Box<str>,
    pub(crate) action: GuardAction,
}

/// Which side of a guard's threshold is bad.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// `above`: the value is bad when greater than this.
    Above(f64),
    /// `below`: the value is bad when less than this.
    Below(f64),
}

/// What a guard does once its condition has held for its duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardAction {
    /// `kill`: sets the flag's `killed`.
    Kill,
    /// `pause`: sets the flag's `paused_at`, freezing its ramp.
    Pause,
    /// `rollback` (migration flags only): sets the flag's `next` and
    /// `pilot_stage` to its `stage`, so nobody is past the baseline.
    Rollback,
}

impl GuardAction {
    /// As written in the file: `kill`, `pause`, `rollback`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GuardAction::Kill => "kill",
            GuardAction::Pause => "pause",
            GuardAction::Rollback => "rollback",
        }
    }
}

impl Guard {
    /// The PromQL query, as written.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The threshold and its side.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// `above` or `below`, as the file names the side.
    pub fn comparison(&self) -> &'static str {
        match self.threshold {
            Threshold::Above(_) => "above",
            Threshold::Below(_) => "below",
        }
    }

    /// The threshold as written in the file (`0.05`).
    pub fn threshold_text(&self) -> &str {
        &self.threshold_text
    }

    /// How long the condition must hold before the guard acts.
    pub fn hold_for(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.for_ms)
    }

    /// `for` as written (`2m`).
    pub fn for_text(&self) -> &str {
        &self.for_text
    }

    /// What the guard does.
    pub fn action(&self) -> GuardAction {
        self.action
    }

    /// Whether `value` is on the bad side of the threshold. NaN never is
    /// (a guard does not act on it: it is no data).
    pub fn crossed(&self, value: f64) -> bool {
        match self.threshold {
            Threshold::Above(t) => value > t,
            Threshold::Below(t) => value < t,
        }
    }
}

/// A flag's `migration` object: which stages the migration has, where
/// everyone is (`stage`), where the rollout moves users (`next`), where
/// pilots are (`pilot_stage`) and where the kill switches send everyone
/// (`safe`). Validated: every stage belongs to the set, `next` and
/// `pilot_stage` do not come before `stage`, and `safe` is a stage where
/// the old system is authoritative.
///
/// ```
/// use flags_core::{Reason, Snapshot, Stage};
/// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"orders_reads": {
///     "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}}}}"#)?;
/// let migration = snapshot.flag("orders_reads").and_then(|f| f.migration()).expect("a migration flag");
/// assert_eq!(migration.stages().len(), 6);
/// assert_eq!((migration.stage(), migration.next()), (Stage::DualWrite, Stage::Shadow));
/// assert_eq!(migration.safe(), Stage::Off);
/// assert_eq!(migration.stage_for(Reason::Pilot), Some(Stage::Live));
/// # Ok::<(), flags_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub(crate) stages: &'static [Stage],
    pub(crate) stage: Stage,
    /// As written; `None` means `stage`.
    pub(crate) next: Option<Stage>,
    /// As written; `None` means `next`.
    pub(crate) pilot_stage: Option<Stage>,
    /// As written; `None` means `off`.
    pub(crate) safe: Option<Stage>,
}

impl Migration {
    /// The migration's stages (`stages`: 2, 4 or 6 of them), in order: one
    /// of [`Stage::TWO`], [`Stage::FOUR`], [`Stage::ALL`].
    pub fn stages(&self) -> &'static [Stage] {
        self.stages
    }

    /// The baseline: where everyone is unless the rollout or a pilot list
    /// moves them.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The stage the flag's rollout moves users to (`stage` unless set).
    pub fn next(&self) -> Stage {
        self.next.unwrap_or(self.stage)
    }

    /// The stage pilots get (`next` unless set).
    pub fn pilot_stage(&self) -> Stage {
        self.pilot_stage.unwrap_or_else(|| self.next())
    }

    /// The stage the kill switches (`killed`, `kill_all`) send everyone to
    /// (`off` unless set).
    pub fn safe(&self) -> Stage {
        self.safe.unwrap_or(Stage::Off)
    }

    /// True when nobody is moved past the baseline: `next` and
    /// `pilot_stage` are both `stage` (held, or rolled back).
    pub fn is_held(&self) -> bool {
        self.next() == self.stage && self.pilot_stage() == self.stage
    }

    /// The stage an evaluation that ended with `reason` answers
    /// (`docs/flag-file.md`, "Migration"): `safe` for `KILL_ALL` and
    /// `KILLED`, `pilot_stage` for `PILOT`, `next` for `ROLLOUT_IN`, and
    /// `stage` for every other reason; `None` for `FLAG_NOT_FOUND`.
    #[inline]
    pub fn stage_for(&self, reason: Reason) -> Option<Stage> {
        Some(match reason {
            Reason::FlagNotFound => return None,
            Reason::KillAll | Reason::Killed => self.safe(),
            Reason::Pilot => self.pilot_stage(),
            Reason::RolloutIn => self.next(),
            Reason::RequirementUnmet
            | Reason::Denied
            | Reason::RolloutOut
            | Reason::MissingBucketKey => self.stage,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Variant {
    pub name: Box<str>,
    /// Basis points.
    pub weight: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: i64, bp: u32) -> RampPoint {
        RampPoint {
            at,
            at_text: "".into(),
            bp,
        }
    }

    #[test]
    fn ramps_interpolate_with_floor() {
        let up = [point(0, 1000), point(1000, 10_000)];
        assert_eq!(ramp_at(&up, -1), 0);
        assert_eq!(ramp_at(&up, 0), 1000);
        assert_eq!(ramp_at(&up, 1), 1009); // 1000 + floor(9000 * 1 / 1000)
        assert_eq!(ramp_at(&up, 500), 5500);
        assert_eq!(ramp_at(&up, 999), 9991);
        assert_eq!(ramp_at(&up, 1000), 10_000);
        assert_eq!(ramp_at(&up, i64::MAX), 10_000);
        let down = [point(0, 5000), point(3, 0)];
        assert_eq!(ramp_at(&down, 1), 3333); // 5000 + floor(-5000 / 3) = 5000 - 1667
        assert_eq!(ramp_at(&down, 2), 1666);
        let single = [point(10, 2500)];
        assert_eq!(ramp_at(&single, 9), 0);
        assert_eq!(ramp_at(&single, 10), 2500);
    }

    #[test]
    fn a_stage_mix_follows_the_ramp_and_the_kill_switch() {
        let snapshot = Snapshot::from_slice(
            br#"{"version": 1, "flags": {
              "ramped": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"},
                "ramp": [{"at": "1970-01-01T00:00:01Z", "percentage": 10},
                         {"at": "1970-01-01T00:00:05Z", "percentage": 50}]},
              "paused": {"migration": {"stages": 4, "stage": "shadow", "next": "live"},
                "ramp": [{"at": "1970-01-01T00:00:01Z", "percentage": 10},
                         {"at": "1970-01-01T00:00:05Z", "percentage": 50}],
                "paused_at": "1970-01-01T00:00:02Z"},
              "held": {"migration": {"stages": 2, "stage": "off"}, "percentage": 30},
              "killed": {"migration": {"stages": 6, "stage": "live", "next": "complete", "safe": "shadow"},
                "killed": true, "percentage": 100},
              "plain": {"percentage": 30}}}"#,
        )
        .expect("a good file");
        let mix = |key: &str, ms: i64| {
            snapshot
                .flag(key)
                .expect("there")
                .stage_mix(Timestamp::from_unix_millis(ms))
        };
        // Before the ramp nobody is moved; no share of 0.
        assert_eq!(mix("ramped", 0), [(Stage::DualWrite, 10_000)]);
        // 10 % + 40 % * 1 s / 4 s = 20 %.
        assert_eq!(
            mix("ramped", 2000),
            [(Stage::DualWrite, 8000), (Stage::Shadow, 2000)]
        );
        // Paused at 2 s: 20 % at the pause, and later.
        assert_eq!(
            mix("paused", 2500),
            [(Stage::Shadow, 8000), (Stage::Live, 2000)]
        );
        assert_eq!(
            mix("paused", 60_000),
            [(Stage::Shadow, 8000), (Stage::Live, 2000)]
        );
        assert_eq!(mix("held", 0), [(Stage::Off, 10_000)]);
        assert_eq!(mix("killed", 0), [(Stage::Shadow, 10_000)]);
        assert_eq!(mix("plain", 0), []);
    }
}
