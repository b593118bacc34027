//! Evaluation benchmarks (issue "flags-core", section 7).
//!
//! - `evaluate/percentage_flag` against `siphash/bare` over the very bytes the
//!   evaluation hashes: the ratio shows what evaluation adds to the hash.
//! - `pilots/N` and `pilots_hit/N`: a pilot check with 10 and 100,000 ids.
//! - `evaluate_all/100`: every flag of a 100-flag file.
//! - `is_enabled/owned_context`: the call the C ABI makes, with an
//!   [`OwnedContext`] built once and reused.
//! - `evaluate/semver`, `evaluate/variants`, `evaluate/ramp`: what a semver
//!   requirement, a variant pick and a ramp add to a rollout.
//! - `migration/*`: a migration flag's stage (`evaluate`, `stage`) against
//!   the same flag without `migration`: the stage decision costs one
//!   evaluation.
//!
//! Run with `cargo bench -p flags-core --bench evaluate`; figures are
//! recorded in `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flags_core::{Context, OwnedContext, Snapshot, Timestamp};

const USER: &str = "user-1234567";

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").expect("valid time")
}

/// A 50% flag among a few others, no global pilots.
const PERCENTAGE_FILE: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": { "description": "New checkout", "owner": "payments", "percentage": 50 },
    "enrollment_service": { "percentage": 12.5 },
    "search_v2": { "percentage": 25, "salt": "search" },
    "tenant_billing_v2": { "bucket_by": "tenant_id", "percentage": 25 },
    "dark_mode": { "percentage": 100 },
    "legacy_export": { "killed": true, "percentage": 100 }
  }
}"#;

fn percentage_flag(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(PERCENTAGE_FILE.as_bytes()).expect("valid file");
    let now = now();
    let pairs = [("user_id", USER)];
    let ctx = Context::new(&pairs);
    // The evaluation hashes exactly salt + ":" + value.
    let bytes = format!("checkout:{USER}").into_bytes();
    let expected = snapshot.evaluate("checkout", &ctx, now);
    assert_eq!(
        expected.bucket,
        Some((flags_core::siphash24(&bytes) % 10_000) as u16),
        "the bare hash must cover the bytes the evaluation hashes"
    );

    c.bench_function("evaluate/percentage_flag", |b| {
        b.iter(|| snapshot.evaluate(black_box("checkout"), black_box(&ctx), black_box(now)));
    });
    c.bench_function("siphash/bare", |b| {
        b.iter(|| flags_core::siphash24(black_box(&bytes)));
    });
    // The same evaluation through the short form, for comparison.
    c.bench_function("is_enabled/borrowed_context", |b| {
        b.iter(|| snapshot.is_enabled(black_box("checkout"), black_box(&ctx), black_box(now)));
    });
}

/// A 50% flag whose `pilots.user_id` list has `n` ids (`pilot-0` ...).
fn pilot_file(n: usize) -> String {
    let mut out = String::with_capacity(32 + n * 16);
    out.push_str(r#"{"version": 1, "flags": {"beta": {"percentage": 50, "pilots": {"user_id": ["#);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        write!(out, "\"pilot-{i}\"").expect("write to a String");
    }
    out.push_str("]}}, \"other\": {\"percentage\": 10}}}");
    out
}

fn pilots(c: &mut Criterion) {
    let now = now();
    let miss_pairs = [("user_id", USER)];
    let miss = Context::new(&miss_pairs);
    let mut group = c.benchmark_group("pilots");
    let snapshots: Vec<(usize, Snapshot)> = [10, 100_000]
        .into_iter()
        .map(|n| {
            (
                n,
                Snapshot::from_slice(pilot_file(n).as_bytes()).expect("valid file"),
            )
        })
        .collect();
    // Not a pilot: the common case (pilot lookup, then the rollout hash).
    for (n, snapshot) in &snapshots {
        assert_ne!(
            snapshot.evaluate("beta", &miss, now).reason,
            flags_core::Reason::Pilot
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), snapshot, |b, s| {
            b.iter(|| s.evaluate(black_box("beta"), black_box(&miss), black_box(now)));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("pilots_hit");
    for (n, snapshot) in &snapshots {
        // A pilot from the middle of the list.
        let id = format!("pilot-{}", n / 2);
        let hit_pairs = [("user_id", id.as_str())];
        let hit = Context::new(&hit_pairs);
        assert_eq!(
            snapshot.evaluate("beta", &hit, now).reason,
            flags_core::Reason::Pilot
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), snapshot, |b, s| {
            b.iter(|| s.evaluate(black_box("beta"), black_box(&hit), black_box(now)));
        });
    }
    group.finish();
}

/// 100 varied flags: plain percentages, ramps, requires (in, not_in,
/// semver), deny and pilot lists, variants, tenant bucketing, kills, shared
/// salts, plus a small global pilot list.
fn hundred_flags() -> String {
    let mut out =
        String::from(r#"{"version": 1, "pilots": {"user_id": ["1", "2", "3"]}, "flags": {"#);
    for i in 0..100 {
        if i > 0 {
            out.push(',');
        }
        write!(
            out,
            "\"flag_{i:03}\": {{\"description\": \"Flag number {i}\", \"owner\": \"team-{}\"",
            i % 7
        )
        .expect("write to a String");
        match i % 10 {
            0 => out.push_str(r#", "percentage": 50"#),
            1 => out.push_str(
                r#", "ramp": [{"at": "2026-11-21T00:00:00Z", "percentage": 10}, {"at": "2026-11-22T00:00:00Z", "percentage": 100}]"#,
            ),
            2 => out.push_str(
                r#", "requires": [{"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"}], "percentage": 30"#,
            ),
            3 => out.push_str(
                r#", "requires": [{"attribute": "tenant_id", "op": "not_in", "values": ["legacy-tenant", "old-co"]}], "percentage": 75"#,
            ),
            4 => out.push_str(
                r#", "pilots": {"user_id": ["7", "8", "9", "10"], "tenant_id": ["acme"]}, "percentage": 5"#,
            ),
            5 => out.push_str(
                r#", "variants": [{"name": "control", "weight": 50}, {"name": "treatment", "weight": 50}], "percentage": 100"#,
            ),
            6 => out.push_str(r#", "bucket_by": "tenant_id", "percentage": 25"#),
            7 => out.push_str(r#", "deny": {"user_id": ["666"]}, "salt": "shared", "percentage": 12.5"#),
            8 => out.push_str(
                r#", "requires": [{"attribute": "country", "op": "in", "values": ["FR", "DE", "ES"]}], "variants": [{"name": "a", "weight": 33.34}, {"name": "b", "weight": 33.33}, {"name": "c", "weight": 33.33}], "percentage": 60"#,
            ),
            _ => out.push_str(if i % 20 == 9 { r#", "killed": true, "percentage": 100"# } else { "" }),
        }
        out.push('}');
    }
    out.push_str("}}");
    out
}

fn evaluate_all(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(hundred_flags().as_bytes()).expect("valid file");
    assert_eq!(snapshot.len(), 100);
    let now = now();
    let pairs = [
        ("user_id", USER),
        ("tenant_id", "globex"),
        ("app_version", "3.4.1"),
        ("country", "FR"),
    ];
    let ctx = Context::new(&pairs);
    c.bench_function("evaluate_all/100", |b| {
        b.iter(|| {
            let mut on = 0u32;
            for (key, result) in snapshot.evaluate_all(black_box(&ctx), black_box(now)) {
                black_box((key, result));
                on += u32::from(result.enabled);
            }
            on
        });
    });
}

/// The other steps, one at a time, for context: a semver requirement, a
/// variant pick and a ramp interpolation, each on top of the rollout hash.
const RULES_FILE: &str = r#"{
  "version": 1,
  "flags": {
    "semver": {
      "requires": [{ "attribute": "app_version", "op": "semver_gte", "value": "3.2.0" }],
      "percentage": 50
    },
    "variants": {
      "percentage": 100,
      "variants": [{ "name": "control", "weight": 50 }, { "name": "treatment", "weight": 50 }]
    },
    "ramp": {
      "ramp": [
        { "at": "2026-11-21T00:00:00Z", "percentage": 10 },
        { "at": "2026-11-22T00:00:00Z", "percentage": 100 }
      ]
    }
  }
}"#;

fn other_rules(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(RULES_FILE.as_bytes()).expect("valid file");
    let now = now();
    let pairs = [("user_id", USER), ("app_version", "3.4.1")];
    let ctx = Context::new(&pairs);
    for key in ["semver", "variants", "ramp"] {
        c.bench_function(&format!("evaluate/{key}"), |b| {
            b.iter(|| snapshot.evaluate(black_box(key), black_box(&ctx), black_box(now)));
        });
    }
}

fn owned_context(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(PERCENTAGE_FILE.as_bytes()).expect("valid file");
    let now = now();
    let owned = OwnedContext::from_json(
        r#"{"user_id": "user-1234567", "tenant_id": "acme", "app_version": "3.4.1"}"#,
    )
    .expect("valid context");
    c.bench_function("is_enabled/owned_context", |b| {
        b.iter(|| {
            let ctx = black_box(&owned).as_context();
            snapshot.is_enabled(black_box("checkout"), &ctx, black_box(now))
        });
    });
}

/// The same 10% rollout with and without `migration`, for one user.
const MIGRATION_FILE: &str = r#"{
  "version": 1,
  "flags": {
    "orders_reads": {
      "migration": { "stages": 6, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live" },
      "pilots": { "user_id": ["7"] },
      "percentage": 10
    },
    "plain": { "pilots": { "user_id": ["7"] }, "percentage": 10, "salt": "orders_reads" }
  }
}"#;

fn migration(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(MIGRATION_FILE.as_bytes()).expect("valid file");
    let now = now();
    let pairs = [("user_id", USER)];
    let ctx = Context::new(&pairs);
    // Same salt, same bucket: the two flags decide alike.
    let (m, p) = (
        snapshot.evaluate("orders_reads", &ctx, now),
        snapshot.evaluate("plain", &ctx, now),
    );
    assert_eq!((m.reason, m.bucket), (p.reason, p.bucket));
    assert!(snapshot.stage("orders_reads", &ctx, now).is_some());
    c.bench_function("migration/evaluate_plain_flag", |b| {
        b.iter(|| snapshot.evaluate(black_box("plain"), black_box(&ctx), black_box(now)));
    });
    c.bench_function("migration/evaluate_migration_flag", |b| {
        b.iter(|| snapshot.evaluate(black_box("orders_reads"), black_box(&ctx), black_box(now)));
    });
    c.bench_function("migration/stage", |b| {
        b.iter(|| snapshot.stage(black_box("orders_reads"), black_box(&ctx), black_box(now)));
    });
}

criterion_group!(
    benches,
    percentage_flag,
    pilots,
    evaluate_all,
    owned_context,
    other_rules,
    migration
);
criterion_main!(benches);
