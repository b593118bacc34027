//! Evaluation: the first step that applies decides (see `docs/bucketing.md`).

use std::fmt;

use crate::context::Context;
use crate::decimal::FULL;
use crate::model::{Flag, Rollout, Snapshot};
use crate::stage::Stage;
use crate::timestamp::Timestamp;

/// Why a flag evaluated the way it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The global kill switch (`kill_all`) is on.
    KillAll,
    /// The file has no flag with that key.
    FlagNotFound,
    /// The flag's own kill switch (`killed`) is on.
    Killed,
    /// A `requires` condition failed (absent attributes fail).
    RequirementUnmet,
    /// The context matched the flag's `deny` lists.
    Denied,
    /// The context matched the flag's or the file's `pilots`.
    Pilot,
    /// The unit's bucket is inside the rollout percentage.
    RolloutIn,
    /// The unit's bucket is outside the rollout percentage (or it is 0%).
    RolloutOut,
    /// The rollout is partial and the context lacks the `bucket_by` attribute.
    MissingBucketKey,
}

impl Reason {
    /// Every reason, in evaluation order.
    pub const ALL: [Reason; 9] = [
        Reason::KillAll,
        Reason::FlagNotFound,
        Reason::Killed,
        Reason::RequirementUnmet,
        Reason::Denied,
        Reason::Pilot,
        Reason::RolloutIn,
        Reason::RolloutOut,
        Reason::MissingBucketKey,
    ];

    /// The stable name used in JSON and in every binding: `ROLLOUT_IN`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::KillAll => "KILL_ALL",
            Reason::FlagNotFound => "FLAG_NOT_FOUND",
            Reason::Killed => "KILLED",
            Reason::RequirementUnmet => "REQUIREMENT_UNMET",
            Reason::Denied => "DENIED",
            Reason::Pilot => "PILOT",
            Reason::RolloutIn => "ROLLOUT_IN",
            Reason::RolloutOut => "ROLLOUT_OUT",
            Reason::MissingBucketKey => "MISSING_BUCKET_KEY",
        }
    }

    /// The reason named `name` (as written by [`Reason::as_str`]).
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of evaluating one flag for one context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evaluation<'s> {
    /// Whether the feature is on.
    pub enabled: bool,
    /// The variant, when the flag is on and has variants. For a migration
    /// flag, always its stage (`off`, `dualwrite`, ..., also when `enabled`
    /// is false): see [`Snapshot::stage`].
    pub variant: Option<&'s str>,
    /// Why.
    pub reason: Reason,
    /// The rollout bucket (0..10000), reported only when the rollout step
    /// decided and the `bucket_by` attribute was present.
    pub bucket: Option<u16>,
}

impl Evaluation<'_> {
    const fn off(reason: Reason) -> Self {
        Self {
            enabled: false,
            variant: None,
            reason,
            bucket: None,
        }
    }

    /// `kill_all`'s answer for `flag`: off, and a migration flag's `safe`
    /// stage.
    #[inline]
    fn kill_all(flag: Option<&Flag>) -> Self {
        Self {
            variant: flag.and_then(Flag::migration).map(|m| m.safe().as_str()),
            ..Self::off(Reason::KillAll)
        }
    }
}

impl Snapshot {
    /// Evaluates flag `key` for `ctx` at time `now`. Never fails: an unknown
    /// flag is off with [`Reason::FlagNotFound`]. Allocates nothing.
    ///
    /// ```
    /// use flags_core::{Context, Reason, Snapshot, Timestamp};
    /// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"f": {"percentage": 100}}}"#)?;
    /// let now = Timestamp::from_unix_millis(0);
    /// let result = snapshot.evaluate("f", &Context::new(&[("user_id", "7")]), now);
    /// assert!(result.enabled);
    /// assert_eq!(result.reason, Reason::RolloutIn);
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    #[inline]
    pub fn evaluate(&self, key: &str, ctx: &Context<'_>, now: Timestamp) -> Evaluation<'_> {
        self.evaluate_with_clock(key, ctx, || now)
    }

    /// [`Snapshot::evaluate`] at the time `clock` gives, asking for it only
    /// when the answer depends on it (a ramp that reached the rollout step).
    /// Reading the system clock costs about as much as the rest of an
    /// evaluation, so hot paths pass [`crate::now`] here instead of calling
    /// it up front.
    ///
    /// ```
    /// use flags_core::{Context, Snapshot};
    /// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"f": {"percentage": 100}}}"#)?;
    /// let ctx = Context::new(&[("user_id", "7")]);
    /// assert!(snapshot.evaluate_with_clock("f", &ctx, || unreachable!("not a ramp")).enabled);
    /// assert!(snapshot.evaluate_with_clock("f", &ctx, flags_core::now).enabled);
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    #[inline]
    pub fn evaluate_with_clock(
        &self,
        key: &str,
        ctx: &Context<'_>,
        clock: impl FnOnce() -> Timestamp,
    ) -> Evaluation<'_> {
        if self.kill_all {
            // A migration flag's answer names its safe stage.
            return Evaluation::kill_all(self.flag(key));
        }
        match self.flag(key) {
            Some(flag) => self.evaluate_flag(flag, ctx, clock),
            None => Evaluation::off(Reason::FlagNotFound),
        }
    }

    /// Whether flag `key` is on for `ctx` at `now`: the short form of
    /// [`Snapshot::evaluate`].
    #[inline]
    pub fn is_enabled(&self, key: &str, ctx: &Context<'_>, now: Timestamp) -> bool {
        self.evaluate(key, ctx, now).enabled
    }

    /// Evaluates every flag, in key order: what a page render or an app
    /// start needs.
    pub fn evaluate_all<'s>(
        &'s self,
        ctx: &'s Context<'_>,
        now: Timestamp,
    ) -> impl ExactSizeIterator<Item = (&'s str, Evaluation<'s>)> + 's {
        self.flags.iter().map(move |flag| {
            let result = if self.kill_all {
                Evaluation::kill_all(Some(flag))
            } else {
                self.evaluate_flag(flag, ctx, || now)
            };
            (&*flag.key, result)
        })
    }

    /// The stage of migration flag `key` for `ctx` at `now`: the
    /// evaluation's variant as a [`Stage`]. `None` when the file has no
    /// such flag or it is not a migration flag (callers treat that as
    /// [`Stage::Off`]). Costs one evaluation; allocates nothing.
    ///
    /// ```
    /// use flags_core::{Context, Snapshot, Stage, Timestamp};
    /// let snapshot = Snapshot::from_slice(br#"{"version": 1, "flags": {"orders_reads": {
    ///     "migration": {"stages": 4, "stage": "off", "next": "shadow"}, "percentage": 100,
    ///     "pilots": {"user_id": ["7"]}}}}"#)?;
    /// let now = Timestamp::from_unix_millis(0);
    /// let stage = snapshot.stage("orders_reads", &Context::new(&[("user_id", "42")]), now);
    /// assert_eq!(stage, Some(Stage::Shadow));
    /// assert_eq!(snapshot.stage("no_such_flag", &Context::new(&[]), now), None);
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    #[inline]
    pub fn stage(&self, key: &str, ctx: &Context<'_>, now: Timestamp) -> Option<Stage> {
        let flag = self.flag(key)?;
        let migration = flag.migration.as_ref()?;
        let reason = if self.kill_all {
            Reason::KillAll
        } else {
            self.decide(flag, ctx, || now).reason
        };
        migration.stage_for(reason)
    }

    #[inline]
    fn evaluate_flag<'s>(
        &'s self,
        flag: &'s Flag,
        ctx: &Context<'_>,
        clock: impl FnOnce() -> Timestamp,
    ) -> Evaluation<'s> {
        let result = self.decide(flag, ctx, clock);
        match &flag.migration {
            None => result,
            // A migration flag has no variants: its variant is its stage.
            Some(m) => Evaluation {
                variant: m.stage_for(result.reason).map(Stage::as_str),
                ..result
            },
        }
    }

    /// Steps 3 to 7 of the evaluation order, for a flag that exists.
    fn decide<'s>(
        &'s self,
        flag: &'s Flag,
        ctx: &Context<'_>,
        clock: impl FnOnce() -> Timestamp,
    ) -> Evaluation<'s> {
        if flag.killed {
            return Evaluation::off(Reason::Killed);
        }
        if !flag.requires.iter().all(|c| c.holds(ctx)) {
            return Evaluation::off(Reason::RequirementUnmet);
        }
        if flag.deny.matches(ctx) {
            return Evaluation::off(Reason::Denied);
        }
        let unit = ctx.get(flag.bucket_by());
        if flag.pilots.matches(ctx) || self.pilots.matches(ctx) {
            return on(flag, unit, Reason::Pilot, None);
        }
        let bp = match &flag.rollout {
            // Only a ramp's percentage depends on the time.
            Rollout::Ramp(_) => flag
                .rollout
                .basis_points_at(flag.ramp_time(clock().unix_millis())),
            fixed => fixed.basis_points_at(0),
        };
        let bucket = unit.map(|v| flag.bucket_prefix.bucket(v));
        let enabled = if bp >= FULL {
            true
        } else if bp == 0 {
            false
        } else {
            match bucket {
                Some(b) => u32::from(b) < bp,
                None => {
                    return Evaluation::off(Reason::MissingBucketKey);
                }
            }
        };
        if enabled {
            on(flag, unit, Reason::RolloutIn, bucket)
        } else {
            Evaluation {
                bucket,
                ..Evaluation::off(Reason::RolloutOut)
            }
        }
    }
}

/// An "on" result, with the variant picked for `unit`.
#[inline]
fn on<'s>(
    flag: &'s Flag,
    unit: Option<&str>,
    reason: Reason,
    bucket: Option<u16>,
) -> Evaluation<'s> {
    let variant = match (flag.variants.first(), unit) {
        (None, _) => None,
        (Some(first), None) => Some(&*first.name),
        (Some(_), Some(v)) => {
            let vb = u32::from(flag.variant_prefix.bucket(v));
            let mut sum = 0;
            flag.variants
                .iter()
                .find(|variant| {
                    sum += variant.weight;
                    sum > vb
                })
                .map(|variant| &*variant.name)
        }
    };
    Evaluation {
        enabled: true,
        variant,
        reason,
        bucket,
    }
}
