//! Arbitrary text into `OwnedContext::from_json`.
//!
//! Oracles: it never panics; on success every attribute is unique and
//! readable back through `as_context()`, and evaluating every flag of a
//! file that uses every op (semver comparisons parse the context's values
//! at evaluation time) does not panic either; on failure, every diagnostic
//! has a 1-based line and column, a non-empty path and a non-empty message,
//! and prints as one line free of control characters.
#![no_main]

use std::sync::LazyLock;

use flags_core::{OwnedContext, Snapshot, Timestamp};
use libfuzzer_sys::fuzz_target;

static SNAPSHOT: LazyLock<Snapshot> = LazyLock::new(|| {
    Snapshot::from_slice(
        br#"{
  "version": 1,
  "pilots": { "user_id": ["1", "2", "3"] },
  "flags": {
    "semver": {
      "requires": [
        { "attribute": "app_version", "op": "semver_gte", "value": "3.2.0-alpha.1" },
        { "attribute": "app_version", "op": "semver_lt", "value": "10.0.0+build.5" }
      ],
      "percentage": 50
    },
    "lists": {
      "requires": [
        { "attribute": "country", "op": "in", "values": ["FR", "DE", ""] },
        { "attribute": "tenant_id", "op": "not_in", "values": ["legacy-tenant"] }
      ],
      "deny": { "user_id": ["666"] },
      "pilots": { "tenant_id": ["acme"] },
      "percentage": 12.5
    },
    "ramp": {
      "ramp": [
        { "at": "2026-11-21T00:00:00Z", "percentage": 10 },
        { "at": "2026-11-22T00:00:00Z", "percentage": 100 }
      ],
      "variants": [ { "name": "control", "weight": 50 }, { "name": "treatment", "weight": 50 } ]
    },
    "tenant": { "bucket_by": "tenant_id", "salt": "shared", "percentage": 99.99 }
  }
}"#,
    )
    .expect("the fuzz target's own file is valid")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match OwnedContext::from_json(text) {
        Ok(owned) => {
            let ctx = owned.as_context();
            let pairs: Vec<(&str, &str)> = owned.iter().collect();
            for (i, (name, value)) in pairs.iter().enumerate() {
                assert!(
                    pairs[..i].iter().all(|(earlier, _)| earlier != name),
                    "attribute {name:?} kept twice"
                );
                assert_eq!(ctx.get(name), Some(*value));
            }
            let now = Timestamp::from_unix_millis(1_795_262_400_000);
            for (_, result) in SNAPSHOT.evaluate_all(&ctx, now) {
                assert!(result.bucket.is_none_or(|b| b < 10_000));
                assert!(result.enabled || result.variant.is_none());
            }
        }
        Err(err) => {
            let diagnostics = err.diagnostics();
            assert!(
                !diagnostics.is_empty(),
                "an error without diagnostics: {err}"
            );
            for d in diagnostics {
                assert!(d.line() >= 1 && d.column() >= 1, "bad position: {d}");
                assert!(!d.path().is_empty(), "empty path: {d}");
                assert!(!d.message().is_empty(), "empty message: {d}");
                assert!(
                    !d.to_string().contains(char::is_control),
                    "a diagnostic that is not one printable line: {d:?}"
                );
            }
            assert_eq!(err.to_string().lines().count(), diagnostics.len());
        }
    }
});
