//! Runs the shared golden vectors in `tests/vectors/` (the same files the C,
//! PHP and Dart tests run) against this crate.
//!
//! Each vector's flag file is parsed from its own text in the vector file
//! (as `tests/c/vectors.py` hands it to the C test), not re-serialized
//! through `serde_json`, which would sort its keys, drop a duplicate key
//! and re-print its numbers through `f64` before the parser saw them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use flags_core::{OwnedContext, Reason, Snapshot, Timestamp};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of the member `key` of the top-level object in `json`, exactly
/// as written. `json` is well-formed (it was parsed before).
fn raw_member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let mut at = skip_space(bytes, 0);
    assert_eq!(bytes.get(at), Some(&b'{'), "not an object");
    at += 1;
    loop {
        at = skip_space(bytes, at);
        if bytes.get(at) != Some(&b'"') {
            return None; // `}`: no such member
        }
        let name_end = value_end(bytes, at);
        let name: String = serde_json::from_str(&json[at..name_end]).expect("a member name");
        at = skip_space(bytes, name_end);
        assert_eq!(bytes.get(at), Some(&b':'), "a colon after {name:?}");
        let start = skip_space(bytes, at + 1);
        let end = value_end(bytes, start);
        if name == key {
            return Some(&json[start..end]);
        }
        at = skip_space(bytes, end);
        if bytes.get(at) == Some(&b',') {
            at += 1;
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// Where the well-formed JSON value starting at `start` ends.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut at = start;
    while let Some(&b) = bytes.get(at) {
        if in_string {
            match b {
                b'\\' => at += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return at + 1;
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return at,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return at + 1;
                    }
                }
                b',' if depth == 0 => return at,
                b if depth == 0 && b.is_ascii_whitespace() => return at,
                _ => {}
            }
        }
        at += 1;
    }
    at
}

#[test]
fn raw_member_is_the_text_as_written() {
    let json = r#"{ "description": "a \"file\": {}", "n": -1.50e1 ,"file" :{"b": [1, {"c": "]"}], "a": 2.50, "a": 1},
        "cases": []}"#;
    assert_eq!(
        raw_member(json, "file"),
        Some(r#"{"b": [1, {"c": "]"}], "a": 2.50, "a": 1}"#)
    );
    assert_eq!(raw_member(json, "n"), Some("-1.50e1"));
    assert_eq!(raw_member(json, "cases"), Some("[]"));
    assert_eq!(raw_member(json, "none"), None);
}

fn evaluation_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("invalid-"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no evaluation vectors found");
    files
}

#[test]
fn evaluation_vectors_match() {
    let mut total = 0;
    let mut failures = Vec::new();
    let mut reasons = BTreeSet::new();
    let mut clock_reads = 0;
    let mut migration_cases = 0;
    for path in evaluation_files() {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let text = read(&path);
        let vector: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = raw_member(&text, "file").unwrap_or_else(|| panic!("{name}: no \"file\""));
        assert_eq!(
            serde_json::from_str::<Value>(file).ok().as_ref(),
            Some(&vector["file"]),
            "{name}: the raw text of \"file\" was cut wrong"
        );
        let snapshot = Snapshot::from_slice(file.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: the vector's flag file is invalid:\n{e}"));
        let cases = vector["cases"].as_array().expect("cases is a list");
        for case in cases {
            total += 1;
            let case_name = case["name"].as_str().expect("name");
            let flag = case["flag"].as_str().expect("flag");
            let ctx = OwnedContext::from_json(&case["context"].to_string())
                .unwrap_or_else(|e| panic!("{name}/{case_name}: bad context: {e}"));
            let now =
                Timestamp::parse_rfc3339(case["now"].as_str().expect("now")).expect("valid now");
            let got = snapshot.evaluate(flag, &ctx.as_context(), now);
            // The lazy-clock form gives the same answer and reads the clock
            // only for ramps, whose answer depends on it.
            let calls = std::cell::Cell::new(0);
            let lazy = snapshot.evaluate_with_clock(flag, &ctx.as_context(), || {
                calls.set(calls.get() + 1);
                now
            });
            let ramp = snapshot.flag(flag).is_some_and(|f| f.is_ramp());
            assert_eq!(lazy, got, "{name}/{case_name}: evaluate_with_clock differs");
            assert!(
                calls.get() <= usize::from(ramp),
                "{name}/{case_name}: clock read for a non-ramp"
            );
            clock_reads += calls.get();
            // A migration flag's stage is its variant, read as a stage.
            let stage = snapshot.stage(flag, &ctx.as_context(), now);
            match snapshot.flag(flag).and_then(|f| f.migration()) {
                Some(_) => {
                    migration_cases += 1;
                    assert_eq!(
                        stage.map(|s| s.as_str()),
                        got.variant,
                        "{name}/{case_name}: Snapshot::stage differs from the variant"
                    );
                }
                None => assert_eq!(stage, None, "{name}/{case_name}: a stage for a plain flag"),
            }
            let got = serde_json::json!({
                "enabled": got.enabled,
                "variant": got.variant,
                "reason": got.reason.as_str(),
                "bucket": got.bucket,
            });
            let expected = &case["expected"];
            reasons.insert(expected["reason"].as_str().expect("reason").to_owned());
            if &got != expected {
                failures.push(format!(
                    "{name}/{case_name}: expected {expected}, got {got}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300, "only {total} evaluation cases");
    assert!(
        clock_reads > 50,
        "ramps must read the clock ({clock_reads} reads)"
    );
    assert!(
        migration_cases >= 60,
        "only {migration_cases} cases of migration flags"
    );
    let all: BTreeSet<String> = Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    assert_eq!(reasons, all, "every reason must be covered");
}

#[test]
fn invalid_file_vectors_report_every_error() {
    let vector = load(&vectors_dir().join("invalid-files.json"));
    let cases = vector["cases"].as_array().expect("cases is a list");
    assert!(cases.len() >= 40, "only {} invalid files", cases.len());
    let mut failures = Vec::new();
    let mut messages = String::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let bytes = match (case.get("text"), case.get("hex")) {
            (Some(text), None) => text.as_str().expect("text").as_bytes().to_vec(),
            (None, Some(hex)) => decode_hex(hex.as_str().expect("hex")),
            _ => panic!("{name}: needs exactly one of text and hex"),
        };
        let expected: Vec<(String, u64, u64)> = case["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().expect("path").to_owned(),
                    e["line"].as_u64().expect("line"),
                    e["column"].as_u64().expect("column"),
                )
            })
            .collect();
        match Snapshot::from_slice_named(&bytes, "flags.json") {
            Ok(_) => failures.push(format!("{name}: accepted, expected {expected:?}")),
            Err(err) => {
                let got: Vec<(String, u64, u64)> = err
                    .diagnostics()
                    .iter()
                    .map(|d| (d.path().to_owned(), d.line() as u64, d.column() as u64))
                    .collect();
                if got != expected {
                    failures.push(format!(
                        "{name}:\n  expected {expected:?}\n  got      {got:?}\n  {}",
                        err.to_string().replace('\n', "\n  ")
                    ));
                }
                for d in err.diagnostics() {
                    assert_eq!(d.source(), "flags.json");
                    assert!(!d.message().is_empty());
                }
                messages.push_str(&format!("# {name}\n{err}\n\n"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid files differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_snapshot("invalid-files.txt", &messages);
}

/// Error text is part of the interface: every message of every invalid file
/// is pinned in `tests/snapshots/`. To accept a deliberate change, run with
/// `UPDATE_SNAPSHOTS=1`: the snapshot is rewritten and the test still fails,
/// so review the diff and run again without it. Under CI (`CI` set) the
/// variable is refused: a run there never rewrites what it checks.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if let Err(message) = check_snapshot(&path, actual, Update::from_env()) {
        panic!("{message}");
    }
}

/// What `UPDATE_SNAPSHOTS` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Update {
    /// Compare only.
    No,
    /// Rewrite a snapshot that differs (and fail all the same).
    Rewrite,
    /// Asked for under CI: refused.
    RefusedInCi,
}

impl Update {
    fn from_env() -> Self {
        let set = |name: &str| {
            std::env::var(name).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
        };
        match (std::env::var_os("UPDATE_SNAPSHOTS").is_some(), set("CI")) {
            (false, _) => Update::No,
            (true, false) => Update::Rewrite,
            (true, true) => Update::RefusedInCi,
        }
    }
}

/// Compares `actual` with the snapshot at `path`; `Ok` only when they are
/// equal, whatever `update` says.
fn check_snapshot(path: &Path, actual: &str, update: Update) -> Result<(), String> {
    if update == Update::RefusedInCi {
        return Err(format!(
            "UPDATE_SNAPSHOTS is set under CI: refusing to rewrite {}; update snapshots \
             locally and commit them",
            path.display()
        ));
    }
    let expected = fs::read_to_string(path);
    if expected.as_deref().is_ok_and(|e| e == actual) {
        return Ok(());
    }
    if update == Update::Rewrite {
        fs::create_dir_all(path.parent().expect("parent")).expect("create snapshots dir");
        fs::write(path, actual).expect("write snapshot");
        return Err(format!(
            "{} rewritten with the messages produced now: review the diff, then run again \
             without UPDATE_SNAPSHOTS",
            path.display()
        ));
    }
    let expected =
        expected.map_err(|e| format!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", path.display()))?;
    let diff: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(a, b)| a != b)
        .take(10)
        .map(|(a, b)| format!("- {a}\n+ {b}"))
        .collect();
    Err(format!(
        "{} differs from the messages produced now (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        path.display(),
        diff.join("\n")
    ))
}

/// `UPDATE_SNAPSHOTS` used to rewrite the snapshot and pass, so a run with
/// it set (in CI too) passed whatever the messages said.
#[test]
fn regression_update_snapshots_never_passes_a_changed_snapshot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("messages.txt");
    fs::write(&path, "old\n").expect("write");

    assert!(check_snapshot(&path, "new\n", Update::No).is_err());
    let refused = check_snapshot(&path, "new\n", Update::RefusedInCi).expect_err("refused");
    assert!(refused.contains("under CI"), "{refused}");
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        "old\n",
        "untouched in CI"
    );

    let rewritten = check_snapshot(&path, "new\n", Update::Rewrite).expect_err("still fails");
    assert!(rewritten.contains("rewritten"), "{rewritten}");
    assert_eq!(fs::read_to_string(&path).expect("read"), "new\n");
    // Once rewritten, the next run (without the variable, or with it) passes.
    assert_eq!(check_snapshot(&path, "new\n", Update::No), Ok(()));
    assert_eq!(check_snapshot(&path, "new\n", Update::Rewrite), Ok(()));
    assert!(check_snapshot(&path, "new\n", Update::RefusedInCi).is_err());
}

fn decode_hex(hex: &str) -> Vec<u8> {
    let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    hex.chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex digit")
        })
        .collect()
}
