//! Properties that must hold for every input, not just the golden vectors.
//!
//! Buckets are checked against the specification written out here
//! ([`spec_bucket`], `docs/bucketing.md` section 2), never against the
//! crate's own bucketing: a bucket shifted by one, another separator or
//! another modulus fails these tests.

use std::hash::Hasher as _;

use flags_core::{Context, Reason, Snapshot, Timestamp};
use proptest::prelude::*;
use siphasher::sip::SipHasher24;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_219_200_000);

fn snapshot(json: &str) -> Snapshot {
    Snapshot::from_slice(json.as_bytes()).expect("valid test file")
}

/// Two percentage flags with the given salts and basis points.
fn two_flags(salt_a: &str, bp_a: u32, salt_b: &str, bp_b: u32) -> Snapshot {
    let pct = |bp: u32| format!("{}.{:02}", bp / 100, bp % 100);
    snapshot(&format!(
        r#"{{"version": 1, "flags": {{
            "a": {{"salt": "{salt_a}", "percentage": {}}},
            "b": {{"salt": "{salt_b}", "percentage": {}}}
        }}}}"#,
        pct(bp_a),
        pct(bp_b)
    ))
}

/// `SipHash-2-4(key 0, UTF-8(salt + separator + value)) mod 10000`, as
/// `docs/bucketing.md` states it: the rollout bucket with the separator
/// `":"`, the variant bucket with `":variant:"`. SipHash itself is checked
/// against its reference vectors (in `src/bucket.rs` and, with OpenSSL, in
/// `tests/test_reference.py`).
fn spec_bucket(salt: &str, separator: &str, value: &str) -> u16 {
    let mut hasher = SipHasher24::new_with_keys(0, 0);
    hasher.write(format!("{salt}{separator}{value}").as_bytes());
    u16::try_from(hasher.finish() % 10_000).expect("below 10,000")
}

/// The worked examples of `docs/bucketing.md`, computed by the independent
/// reference `tests/reference/flags_ref.py`; they pin [`spec_bucket`] itself.
#[test]
fn the_spec_gives_the_documented_buckets() {
    // flags_ref.bucket_of("enrollment_service", "42") == 374
    assert_eq!(spec_bucket("enrollment_service", ":", "42"), 374);
    // flags_ref.bucket_of("enrollment_service", "José") == 3726
    assert_eq!(spec_bucket("enrollment_service", ":", "José"), 3726);
    // flags_ref.variant_bucket_of("community_dual_write", "alice") == 1508
    assert_eq!(
        spec_bucket("community_dual_write", ":variant:", "alice"),
        1508
    );
}

fn enabled(s: &Snapshot, flag: &str, id: &str) -> bool {
    s.is_enabled(flag, &Context::new(&[("user_id", id)]), NOW)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn buckets_are_deterministic_and_in_range(salt in "\\PC{1,20}", id in "\\PC{0,40}") {
        let b = flags_core::bucket(&salt, &id);
        prop_assert!(b < 10_000);
        prop_assert_eq!(b, spec_bucket(&salt, ":", &id));
        prop_assert_eq!(b, flags_core::bucket(&salt, &id));
        prop_assert_eq!(flags_core::variant_bucket(&salt, &id), spec_bucket(&salt, ":variant:", &id));
    }

    #[test]
    fn evaluation_is_deterministic(id in "\\PC{0,30}", bp in 0u32..=10_000) {
        let s = two_flags("x", bp, "y", bp);
        let ctx = [("user_id", id.as_str())];
        let first = s.evaluate("a", &Context::new(&ctx), NOW);
        let again = s.evaluate("a", &Context::new(&ctx), NOW);
        prop_assert_eq!(first, again);
        let bucket = spec_bucket("x", ":", &id);
        prop_assert_eq!(first.bucket, Some(bucket));
        prop_assert_eq!(first.enabled, u32::from(bucket) < bp, "bucket {} at {} bp", bucket, bp);
    }

    /// Raising a percentage never turns a unit off.
    #[test]
    fn raising_a_percentage_only_adds_units(id in "\\PC{0,30}", low in 0u32..=10_000, raise in 0u32..=10_000) {
        let high = (low + raise).min(10_000);
        // Same salt: flag `b` is flag `a` with the percentage raised.
        let s = two_flags("same", low, "same", high);
        if enabled(&s, "a", &id) {
            prop_assert!(enabled(&s, "b", &id), "on at {} bp, off at {} bp", low, high);
        }
    }

    /// A ramp that only goes up never turns a unit off as time passes.
    #[test]
    fn rising_ramps_only_add_units(id in "[a-z0-9]{1,12}", t1 in 0i64..86_400_000, dt in 0i64..86_400_000) {
        let s = snapshot(r#"{"version": 1, "flags": {"r": {"ramp": [
            {"at": "2026-11-21T00:00:00Z", "percentage": 10},
            {"at": "2026-11-22T00:00:00Z", "percentage": 100}]}}}"#);
        let ctx = [("user_id", id.as_str())];
        let at = |ms: i64| Timestamp::from_unix_millis(NOW.unix_millis() + ms);
        if s.is_enabled("r", &Context::new(&ctx), at(t1)) {
            prop_assert!(s.is_enabled("r", &Context::new(&ctx), at(t1 + dt)));
        }
    }
}

fn ids(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("user-{i}"))
}

/// Two 50% flags with different salts pick independent halves: about a
/// quarter of users get both (not half, as `user_id % 100` would give).
#[test]
fn different_salts_pick_independent_users() {
    let s = two_flags("checkout_v2", 5000, "search_v3", 5000);
    let n = 100_000;
    let both = ids(n)
        .filter(|id| enabled(&s, "a", id) && enabled(&s, "b", id))
        .count();
    let share = both as f64 / n as f64;
    assert!((0.24..=0.26).contains(&share), "overlap {share}");
}

/// Flags that share a salt pick the same users.
#[test]
fn shared_salts_pick_the_same_users() {
    let s = two_flags("wave_1", 3000, "wave_1", 3000);
    for id in ids(10_000) {
        assert_eq!(enabled(&s, "a", &id), enabled(&s, "b", &id), "{id}");
    }
}

/// Buckets are uniform: chi-square over 100 bins of 100,000 ids stays below
/// the 0.1% critical value for 99 degrees of freedom (148.23).
#[test]
fn buckets_are_uniform() {
    let n = 100_000;
    let mut bins = [0u32; 100];
    for id in ids(n) {
        bins[usize::from(flags_core::bucket("uniformity", &id) / 100)] += 1;
    }
    let expected = n as f64 / 100.0;
    let chi2: f64 = bins
        .iter()
        .map(|&o| (f64::from(o) - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 148.23, "chi-square {chi2}");
    // And the share inside a 12.5% rollout is close to 12.5%.
    let s = two_flags("uniformity", 1250, "other", 0);
    let on = ids(n).filter(|id| enabled(&s, "a", id)).count();
    assert!((0.12..=0.13).contains(&(on as f64 / n as f64)), "{on}");
}

/// Pilots and rollout: a pilot is on at 0%, a denied pilot is off.
#[test]
fn deny_beats_pilots_and_pilots_beat_rollout() {
    let s = snapshot(
        r#"{"version": 1, "pilots": {"user_id": ["g"]}, "flags": {"f": {
            "pilots": {"user_id": ["p", "d"]}, "deny": {"user_id": ["d"]}}}}"#,
    );
    let reason = |id: &str| {
        s.evaluate("f", &Context::new(&[("user_id", id)]), NOW)
            .reason
    };
    assert_eq!(reason("p"), Reason::Pilot);
    assert_eq!(reason("g"), Reason::Pilot);
    assert_eq!(reason("d"), Reason::Denied);
    assert_eq!(reason("x"), Reason::RolloutOut);
}

const STAGES: [&str; 6] = ["off", "dualwrite", "shadow", "live", "rampdown", "complete"];

/// A six-stage migration flag at `bp` basis points: stage, next (not
/// before it) and pilot stage (not before it) by index into [`STAGES`].
fn migration_flag(stage: usize, next: usize, pilot: usize, bp: u32) -> Snapshot {
    snapshot(&format!(
        r#"{{"version": 1, "flags": {{"m": {{
            "migration": {{"stages": 6, "stage": "{}", "next": "{}", "pilot_stage": "{}"}},
            "pilots": {{"user_id": ["pilot"]}},
            "percentage": {}.{:02}
        }}}}}}"#,
        STAGES[stage],
        STAGES[next],
        STAGES[pilot],
        bp / 100,
        bp % 100
    ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A migration flag decides as the same flag without `migration`, and
    /// its stage is `next` exactly when the unit is in the rollout:
    /// raising the percentage only moves units forward, and nobody but
    /// pilots goes past `next` or stays before `stage`.
    #[test]
    fn a_migration_flag_moves_units_forward_only(
        id in "[a-z0-9]{1,12}",
        stage in 0usize..6,
        ahead in 0usize..6,
        pilot_ahead in 0usize..6,
        low in 0u32..=10_000,
        raise in 0u32..=10_000,
    ) {
        let next = (stage + ahead).min(5);
        let pilot = (stage + pilot_ahead).min(5);
        let high = (low + raise).min(10_000);
        let (a, b) = (migration_flag(stage, next, pilot, low), migration_flag(stage, next, pilot, high));
        let ctx = [("user_id", id.as_str())];
        let at = |s: &Snapshot| s.stage("m", &Context::new(&ctx), NOW).expect("a migration flag");
        let index = |s: flags_core::Stage| STAGES.iter().position(|n| *n == s.as_str()).expect("a stage");
        let (sa, sb) = (index(at(&a)), index(at(&b)));
        prop_assert!(sa <= sb, "{} at {} bp, {} at {} bp", STAGES[sa], low, STAGES[sb], high);
        let bucket = u32::from(spec_bucket("m", ":", &id));
        prop_assert_eq!(sa, if bucket < low { next } else { stage });
        let plain = two_flags("m", low, "y", 0);
        let (m, p) = (a.evaluate("m", &Context::new(&ctx), NOW), plain.evaluate("a", &Context::new(&ctx), NOW));
        prop_assert_eq!((m.enabled, m.reason, m.bucket), (p.enabled, p.reason, p.bucket));
        let pilot_ctx = [("user_id", "pilot")];
        prop_assert_eq!(index(a.stage("m", &Context::new(&pilot_ctx), NOW).expect("pilot")), pilot);
    }
}
