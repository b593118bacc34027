//! One evaluation allocates nothing: counted with a global allocator.
//!
//! This file holds a single test so no other thread allocates while it
//! counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use flags_core::{Context, OwnedContext, Snapshot, Stage, Timestamp};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
#[allow(unsafe_code)] // a counting allocator needs `unsafe impl GlobalAlloc`
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn evaluation_allocates_nothing() {
    let snapshot = Snapshot::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/flags.json"
    ))
    .expect("example is valid");
    let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").expect("valid time");
    let pairs = [
        ("user_id", "user-1234567"),
        ("tenant_id", "acme-corp"),
        ("app_version", "3.4.1-beta.2+build.7"),
    ];
    let owned: OwnedContext = pairs.into_iter().collect();
    // Migration flags answer a stage, under `kill_all` too.
    let migration = |kill_all: bool| {
        Snapshot::from_slice(
            format!(
                r#"{{"version": 1, "kill_all": {kill_all}, "flags": {{
                    "orders_reads": {{"migration": {{"stages": 6, "stage": "dualwrite", "next": "shadow",
                        "pilot_stage": "live"}}, "pilots": {{"user_id": ["7"]}},
                        "ramp": [{{"at": "2026-11-21T00:00:00Z", "percentage": 10}},
                                 {{"at": "2026-11-22T00:00:00Z", "percentage": 100}}]}}}}}}"#
            )
            .as_bytes(),
        )
        .expect("valid migration file")
    };
    let (migration, killed) = (migration(false), migration(true));
    let mut stages = Vec::with_capacity(8);
    let mut results = 0;
    let n = allocations_during(|| {
        let ctx = Context::new(&pairs);
        for key in [
            "enrollment_service",
            "community_dual_write",
            "tenant_billing_v2",
            "missing",
        ] {
            let r = std::hint::black_box(snapshot.evaluate(key, &ctx, now));
            results += usize::from(r.enabled);
            let r = std::hint::black_box(snapshot.evaluate(key, &owned.as_context(), now));
            results += usize::from(r.enabled);
        }
        for (_, r) in snapshot.evaluate_all(&ctx, now) {
            results += usize::from(std::hint::black_box(r).enabled);
        }
        for s in [&migration, &killed] {
            let r = std::hint::black_box(s.evaluate("orders_reads", &ctx, now));
            results += usize::from(r.variant.is_some());
            stages.push(std::hint::black_box(s.stage("orders_reads", &ctx, now)));
            for (_, r) in s.evaluate_all(&ctx, now) {
                results += usize::from(std::hint::black_box(r).variant.is_some());
            }
        }
    });
    // user-1234567 is not a pilot: at 55% it is in `shadow` or `dualwrite`;
    // `kill_all` sends it to `off`.
    assert!(
        matches!(stages[0], Some(Stage::Shadow | Stage::DualWrite)),
        "{stages:?}"
    );
    assert_eq!(stages[1], Some(Stage::Off));
    assert_eq!(n, 0, "evaluation allocated {n} times");
    // The counter works: building a snapshot allocates.
    assert!(
        allocations_during(|| drop(Snapshot::from_slice(br#"{"version":1,"flags":{"a":{}}}"#))) > 0
    );
    assert!(results > 0);
}
