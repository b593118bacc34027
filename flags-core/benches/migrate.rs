//! Migration benchmarks (issue 12, section 4: overhead targets).
//!
//! - `recorder/record/*`: one record into a [`Recorder`] that holds 50
//!   flags: a compared read (both sides, consistent) and a one-sided
//!   write. Target: at most 200 ns.
//! - `stage/evaluate` against `stage/stage_of`: the stage decision of a
//!   50% migration flag against its evaluation. Target: no more than one
//!   evaluation.
//! - `migrator/read/off`: a whole read at a one-sided stage (the closure,
//!   two clock reads, the record), and `migrator/read/shadow`: a compared
//!   read as the caller sees it (the closure, a clone and a queue push;
//!   the other side runs on the pool, and when the pool falls behind it is
//!   skipped and counted, as in production).
//! - `migrator/write/dualwrite`: a write to both sides, the caller waiting
//!   for the other one (handed to the pool and back).
//!
//! Run with `cargo bench -p flags-core --features migrate --bench migrate`;
//! figures are recorded in `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flags_core::migrate::{Migrator, MigratorOptions, Op, Record, Recorder, SideRecord, stage_of};
use flags_core::{Context, Snapshot, Stage, Timestamp};

fn recorder(c: &mut Criterion) {
    let recorder = Recorder::default();
    let names: Vec<String> = (0..50).map(|i| format!("migration_{i:02}")).collect();
    for name in &names {
        recorder
            .record(&Record::new(name, Stage::Off, Op::Read))
            .expect("room for 50 flags");
    }
    let read = Record {
        flag: "migration_17",
        stage: Stage::Shadow,
        op: Op::Read,
        old: Some(SideRecord::new(Duration::from_micros(1200), false)),
        new: Some(SideRecord::new(Duration::from_micros(3400), false)),
        consistent: Some(true),
    };
    c.bench_function("recorder/record/compared_read", |b| {
        b.iter(|| recorder.record(black_box(&read)));
    });
    let mut write = Record::new("migration_42", Stage::Off, Op::Write);
    write.old = Some(SideRecord::new(Duration::from_micros(800), false));
    c.bench_function("recorder/record/one_sided_write", |b| {
        b.iter(|| recorder.record(black_box(&write)));
    });
}

const FILE: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": { "percentage": 50 },
    "orders_reads": { "migration": { "stages": 6, "stage": "dualwrite", "next": "shadow" }, "percentage": 50 },
    "search_v2": { "percentage": 25, "salt": "search" }
  }
}"#;

fn stage(c: &mut Criterion) {
    let snapshot = Snapshot::from_slice(FILE.as_bytes()).expect("valid file");
    let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").expect("time");
    let pairs = [("user_id", "user-1234567")];
    let ctx = Context::new(&pairs);
    c.bench_function("stage/evaluate", |b| {
        b.iter(|| snapshot.evaluate(black_box("orders_reads"), black_box(&ctx), black_box(now)));
    });
    c.bench_function("stage/stage_of", |b| {
        b.iter(|| {
            stage_of(
                &snapshot,
                black_box("orders_reads"),
                black_box(&ctx),
                black_box(now),
            )
        });
    });
}

fn migrator(c: &mut Criterion) {
    let recorder = Arc::new(Recorder::default());
    let migrator =
        Migrator::new(Arc::clone(&recorder), MigratorOptions::default()).expect("pool threads");
    c.bench_function("migrator/read/off", |b| {
        b.iter(|| {
            migrator.read(
                "orders_reads",
                black_box(Stage::Off),
                || Ok::<u64, ()>(7),
                || Ok(7),
                |a, b| a == b,
            )
        });
    });
    c.bench_function("migrator/read/shadow", |b| {
        b.iter(|| {
            migrator.read(
                "orders_reads",
                black_box(Stage::Shadow),
                || Ok::<u64, ()>(7),
                || Ok(7),
                |a, b| a == b,
            )
        });
    });
    c.bench_function("migrator/write/dualwrite", |b| {
        b.iter(|| {
            migrator.write(
                "orders_writes",
                black_box(Stage::DualWrite),
                || Ok::<u64, ()>(7),
                || Ok(7),
            )
        });
    });
    migrator.wait_idle(Duration::from_secs(30));
}

criterion_group!(benches, recorder, stage, migrator);
criterion_main!(benches);
