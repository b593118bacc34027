//! Parse-and-validate benchmarks (issue "flags-core", section 7).
//!
//! - `parse/10000_flags`: a 10,000-flag file using every field.
//! - `parse/1000000_pilot_ids`: one flag with 1,000,000 pilot ids.
//!
//! Each file is built in memory once; an iteration is one
//! [`Snapshot::from_slice`]: UTF-8 check, JSON parse, full validation and
//! construction of the snapshot (id sets, index, hash prefixes). Dropping
//! the snapshot is left out of the timing. Run with
//! `cargo bench -p flags-core --bench parse`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use flags_core::Snapshot;

/// A realistic file: most flags are a description, an owner and a
/// percentage; some have ramps, requires, deny and pilot lists, variants,
/// tenant bucketing, salts or a kill switch. Pretty-printed, like a file
/// kept in a repository.
fn ten_thousand_flags() -> String {
    let mut out = String::with_capacity(4 << 20);
    out.push_str(
        "{\n  \"$schema\": \"./schema/flags.schema.json\",\n  \"version\": 1,\n  \"kill_all\": false,\n  \"pilots\": { \"user_id\": [\"1\", \"2\", \"3\"] },\n  \"flags\": {\n",
    );
    for i in 0..10_000u32 {
        if i > 0 {
            out.push_str(",\n");
        }
        write!(
            out,
            "    \"team{}.feature_{i:05}\": {{\n      \"description\": \"Feature {i}: move the {} path to the new service\",\n      \"owner\": \"team-{}\"",
            i % 40,
            ["checkout", "search", "profile", "billing", "feed"][(i % 5) as usize],
            i % 40
        )
        .expect("write to a String");
        match i % 8 {
            0..=2 => {
                // Percentages with up to two decimals.
                let bp = i * 37 % 10_000;
                write!(out, ",\n      \"percentage\": {}.{:02}", bp / 100, bp % 100).expect("write to a String");
            }
            3 => out.push_str(
                ",\n      \"ramp\": [\n        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n        { \"at\": \"2026-11-22T00:00:00+01:00\", \"percentage\": 50 },\n        { \"at\": \"2026-11-23T00:00:00Z\", \"percentage\": 100 }\n      ]",
            ),
            4 => out.push_str(
                ",\n      \"requires\": [\n        { \"attribute\": \"app_version\", \"op\": \"semver_gte\", \"value\": \"3.2.0\" },\n        { \"attribute\": \"tenant_id\", \"op\": \"not_in\", \"values\": [\"legacy-tenant\", \"old-co\"] }\n      ],\n      \"deny\": { \"user_id\": [\"666\"] },\n      \"percentage\": 25",
            ),
            5 => {
                out.push_str(",\n      \"pilots\": { \"user_id\": [");
                for p in 0..20 {
                    if p > 0 {
                        out.push_str(", ");
                    }
                    write!(out, "\"{}\"", i * 20 + p).expect("write to a String");
                }
                out.push_str("], \"tenant_id\": [\"acme\"] },\n      \"percentage\": 5");
            }
            6 => out.push_str(
                ",\n      \"bucket_by\": \"tenant_id\",\n      \"salt\": \"shared-salt\",\n      \"percentage\": 100,\n      \"variants\": [ { \"name\": \"control\", \"weight\": 33.34 }, { \"name\": \"treatment\", \"weight\": 33.33 }, { \"name\": \"holdout\", \"weight\": 33.33 } ]",
            ),
            _ => out.push_str(",\n      \"killed\": true,\n      \"percentage\": 100"),
        }
        out.push_str("\n    }");
    }
    out.push_str("\n  }\n}\n");
    out
}

/// One flag with a million pilot ids (numeric-looking user ids).
fn million_pilot_ids() -> String {
    let mut out = String::with_capacity(16 << 20);
    out.push_str(
        "{\"version\": 1, \"flags\": {\"beta\": {\"percentage\": 10, \"pilots\": {\"user_id\": [",
    );
    for i in 0..1_000_000u32 {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "\"{}\"", 10_000_000 + i * 7).expect("write to a String");
    }
    out.push_str("]}}}}\n");
    out
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    // Each iteration takes milliseconds to a second: ten samples of one
    // iteration each (flat sampling) keep the run short.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));

    let file = ten_thousand_flags();
    assert_eq!(
        Snapshot::from_slice(file.as_bytes())
            .expect("valid file")
            .len(),
        10_000
    );
    group.throughput(Throughput::Bytes(file.len() as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("10000_flags", |b| {
        b.iter_with_large_drop(|| {
            Snapshot::from_slice(black_box(file.as_bytes())).expect("valid file")
        });
    });
    drop(file);

    let file = million_pilot_ids();
    assert_eq!(
        Snapshot::from_slice(file.as_bytes())
            .expect("valid file")
            .len(),
        1
    );
    group.throughput(Throughput::Bytes(file.len() as u64));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("1000000_pilot_ids", |b| {
        b.iter_with_large_drop(|| {
            Snapshot::from_slice(black_box(file.as_bytes())).expect("valid file")
        });
    });

    // Rejecting a file with many errors must stay linear: locating every
    // error once rescanned the text from the start (3 s for 10,000 errors).
    let bad = twenty_thousand_errors();
    group.throughput(Throughput::Bytes(bad.len() as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("20000_errors", |b| {
        b.iter(|| {
            let err = Snapshot::from_slice(black_box(bad.as_bytes())).expect_err("invalid");
            assert_eq!(err.diagnostics().len(), 20_000);
        });
    });
    group.finish();
}

/// 20,000 flags, each with a misspelled field, pretty-printed.
fn twenty_thousand_errors() -> String {
    let mut out = String::from("{\n  \"version\": 1,\n  \"flags\": {\n");
    for i in 0..20_000 {
        let comma = if i + 1 < 20_000 { "," } else { "" };
        out.push_str(&format!("    \"f{i}\": {{ \"percentge\": 5 }}{comma}\n"));
    }
    out.push_str("  }\n}\n");
    out
}

criterion_group!(benches, parse);
criterion_main!(benches);
