//! Evaluation: the first step that applies decides (see `docs/bucketing.md`).

use std::fmt;

use crate::context::Context;
use crate::decimal::FULL;
use crate::model::{Flag, Rollout, Snapshot};
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
    /// The variant, when the flag is on and has variants.
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
            return Evaluation::off(Reason::KillAll);
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
                Evaluation::off(Reason::KillAll)
            } else {
                self.evaluate_flag(flag, ctx, || now)
            };
            (&*flag.key, result)
        })
    }

    fn evaluate_flag<'s>(
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
