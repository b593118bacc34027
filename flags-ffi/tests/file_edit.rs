//! `flags_file_edit` and `flags_file_status_json` called as C calls them:
//! an edit writes the file and one audit record, and every refusal
//! (invalid file, invalid result, unknown flag, another edit holding the
//! lock) leaves the file as it was.

// Calling the C functions takes unsafe blocks, each with its SAFETY note.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr;

use flags_core::Snapshot;
use flags_ffi::{flags_file_edit, flags_file_status_json, flags_result, flags_string_free};
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../../examples/flags.json");

/// A fresh directory holding a copy of the example as `flags.json`.
fn workspace(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-ffi-edit-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::write(dir.join("flags.json"), EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
        .version()
        .to_owned()
}

/// Takes an owned string from the library.
fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: an owned, NUL-terminated string of the library, freed once.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    // SAFETY: as above.
    unsafe { flags_string_free(s) };
    Some(text)
}

/// `flags_file_edit` with `request`: the code, `*out` and `*error_out`.
fn edit(request: &Value) -> (i32, Option<String>, Option<String>) {
    edit_bytes(request.to_string().as_bytes())
}

fn edit_bytes(request: &[u8]) -> (i32, Option<String>, Option<String>) {
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `request` is valid for its length; valid out-pointers.
    let code =
        unsafe { flags_file_edit(request.as_ptr().cast(), request.len(), &mut out, &mut error) };
    (code, take(out), take(error))
}

/// An edit that must succeed: its result, decoded.
fn edited(request: &Value) -> Value {
    let (code, out, error) = edit(request);
    assert_eq!(code, 0, "{error:?}");
    assert_eq!(error, None);
    serde_json::from_str(&out.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

/// An edit that must fail with `code`: its message.
fn refused(request: &Value, code: flags_result) -> String {
    let (got, out, error) = edit(request);
    assert_eq!(got, code.code(), "{error:?}");
    assert_eq!(out, None, "no result on error");
    error.unwrap_or_else(|| panic!("an error message"))
}

fn path_of(dir: &Path) -> String {
    dir.join("flags.json").display().to_string()
}

#[test]
fn several_operations_are_one_write_and_one_audit_record() {
    let dir = workspace("several");
    let path = path_of(&dir);
    let result = edited(&json!({
        "path": path,
        "ops": [
            {"op": "kill", "flag": "tenant_billing_v2"},
            {"op": "set_percentage", "flag": "enrollment_service", "percentage": "25"}
        ],
        "actor": "release-manager",
        "command": "php artisan flags:kill tenant_billing_v2",
    }));
    let expected = EXAMPLE
        .replace("\"percentage\": 12.5", "\"percentage\": 25")
        .replace(
            "\"owner\": \"billing\",",
            "\"owner\": \"billing\",\n      \"killed\": true,",
        );
    assert_eq!(read(Path::new(&path)), expected);
    let log = dir.join("flags.json.audit.jsonl");
    assert_eq!(
        result,
        json!({
            "written": true,
            "dry_run": false,
            "summary": "enrollment_service: percentage 12.5% -> 25%; tenant_billing_v2: killed",
            "changes": ["enrollment_service: percentage 12.5% -> 25%", "tenant_billing_v2: killed"],
            "before": version(EXAMPLE),
            "after": version(&expected),
            "audit_log": log.display().to_string(),
            "notes": [],
        })
    );
    let text = read(&log);
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    let record = &records[0];
    assert_eq!(record["actor"], "release-manager");
    assert_eq!(
        record["command"],
        "php artisan flags:kill tenant_billing_v2"
    );
    assert_eq!(record["file"], path);
    assert_eq!(record["before"], version(EXAMPLE));
    assert_eq!(record["after"], version(&expected));
    assert_eq!(record["summary"], result["summary"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dry_run_or_an_edit_that_changes_nothing_writes_nothing() {
    let dir = workspace("dry-run");
    let path = path_of(&dir);
    let result = edited(&json!({
        "path": path, "dry_run": true,
        "ops": [{"op": "set_ramp", "flag": "enrollment_service",
                 "points": [[10, "2026-11-21T00:00:00Z"], ["100", "2026-11-22T00:00:00Z"]]}],
    }));
    assert_eq!(result["written"], false);
    assert_eq!(result["dry_run"], true);
    assert_eq!(
        result["changes"],
        json!([
            "enrollment_service: percentage 12.5% -> ramp [10% at 2026-11-21T00:00:00Z, 100% at 2026-11-22T00:00:00Z]"
        ])
    );
    assert_eq!(result["audit_log"], Value::Null);
    assert_ne!(result["before"], result["after"]);
    assert_eq!(read(Path::new(&path)), EXAMPLE);

    let result =
        edited(&json!({"path": path, "ops": [{"op": "unkill", "flag": "enrollment_service"}]}));
    assert_eq!(result["written"], false);
    assert_eq!(result["summary"], "no changes; nothing was written");
    assert_eq!(result["before"], result["after"]);
    assert_eq!(read(Path::new(&path)), EXAMPLE);
    assert!(!dir.join("flags.json.audit.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refusals_leave_the_file_as_it_was() {
    let dir = workspace("refusals");
    let path = path_of(&dir);
    let message = refused(
        &json!({"path": path, "ops": [{"op": "kill", "flag": "enrolment_service"}]}),
        flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
    );
    assert_eq!(
        message,
        format!(
            "{path}: no flag named \"enrolment_service\"; did you mean \"enrollment_service\"?"
        )
    );
    let message = refused(
        &json!({"path": path, "ops": [{"op": "kill_all"}, {"op": "replace", "text": "{\"version\": 1, \"flags\": {\"a\": {\"percentage\": 101}}}"}]}),
        flags_result::FLAGS_ERROR_INVALID_FLAGS,
    );
    assert!(
        message.starts_with(&format!(
            "{path}: the edit would make the file invalid; nothing was written\n{path}:1:46: flags.a.percentage: "
        )),
        "{message}"
    );
    assert_eq!(read(Path::new(&path)), EXAMPLE);

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"version": 1, "flags": {"a": {"percentge": 5}}}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let bad_path = bad.display().to_string();
    let message = refused(
        &json!({"path": bad_path, "ops": [{"op": "kill", "flag": "a"}]}),
        flags_result::FLAGS_ERROR_INVALID_FLAGS,
    );
    assert!(
        message.starts_with(&format!(
            "{bad_path}: the file is invalid, fix it first; nothing was written\n{bad_path}:1:32: flags.a.percentge: unknown field"
        )),
        "{message}"
    );
    let message = refused(
        &json!({"path": dir.join("missing.json"), "ops": [{"op": "kill_all"}]}),
        flags_result::FLAGS_ERROR_IO,
    );
    assert!(
        message.ends_with("missing.json: cannot read: No such file or directory (os error 2)"),
        "{message}"
    );
    assert!(!dir.join("flags.json.audit.jsonl").exists());
    assert!(!dir.join("bad.json.audit.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replace_creates_a_file_that_does_not_exist() {
    let dir = workspace("create");
    let path = dir.join("new.json").display().to_string();
    let text = "{\"version\": 1, \"flags\": {\"a\": {\"percentage\": 5}}}\n";
    let result = edited(&json!({
        "path": path, "actor": "ci", "command": "seed",
        "ops": [{"op": "replace", "text": text}, {"op": "kill", "flag": "a"}],
    }));
    let written = "{\"version\": 1, \"flags\": {\"a\": {\"killed\": true, \"percentage\": 5}}}\n";
    assert_eq!(read(Path::new(&path)), written);
    assert_eq!(
        result["changes"],
        json!(["new flag a: percentage 5%, killed"])
    );
    assert_eq!(result["after"], version(written));
    let log = read(&dir.join("new.json.audit.jsonl"));
    let record: Value = serde_json::from_str(log.trim_end()).unwrap_or_else(|e| panic!("{e}"));
    // The content hash of no bytes: SipHash-2-4-128, keys 0, of "".
    assert_eq!(result["before"], "f4f2ced447ab02427de0a38047d74950");
    assert_eq!(record["before"], result["before"]);
    assert_eq!(record["summary"], "new flag a: percentage 5%, killed");
    // Anything but a replace needs the file.
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let message = refused(
        &json!({"path": path, "ops": [{"op": "kill", "flag": "a"}, {"op": "replace", "text": text}]}),
        flags_result::FLAGS_ERROR_IO,
    );
    assert!(
        message.ends_with("cannot read: No such file or directory (os error 2)"),
        "{message}"
    );
    assert!(!Path::new(&path).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[test]
fn another_edit_holding_the_lock_is_a_conflict_once_the_wait_is_over() {
    use std::io::{BufRead as _, BufReader};
    let dir = workspace("lock");
    let path = path_of(&dir);
    // flock(1) holds the directory's lock, as an edit in progress does,
    // says so once it has it, and lets go when its stdin closes.
    let mut holder = Command::new("flock")
        .arg("--close")
        .arg(&dir)
        .args(["-c", "echo locked; read -r _ || true"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("flock(1) from util-linux: {e}"));
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap_or_else(|| panic!("stdout")))
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line, "locked\n");
    let message = refused(
        &json!({"path": path, "lock_wait_ms": 200, "ops": [{"op": "kill_all"}]}),
        flags_result::FLAGS_ERROR_CONFLICT,
    );
    assert_eq!(
        message,
        format!(
            "{path}: another flags command has been editing files in {} for 200 ms; nothing was written",
            dir.display()
        )
    );
    // A dry run takes no lock.
    let result = edited(&json!({"path": path, "dry_run": true, "ops": [{"op": "kill_all"}]}));
    assert_eq!(result["changes"], json!(["kill_all: off -> ON"]));
    drop(holder.stdin.take());
    let status = holder.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "flock(1): {status}");
    assert_eq!(read(Path::new(&path)), EXAMPLE);
    assert!(!dir.join("flags.json.audit.jsonl").exists());
    // Once it is released the edit goes through.
    let result = edited(&json!({"path": path, "lock_wait_ms": 10000, "ops": [{"op": "kill_all"}]}));
    assert_eq!(result["summary"], "kill_all: off -> ON");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_codes_not_crashes() {
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: NULL request with valid out-pointers.
    let code = unsafe { flags_file_edit(ptr::null(), 0, &mut out, &mut error) };
    assert_eq!(code, flags_result::FLAGS_ERROR_NULL_ARGUMENT.code());
    assert!(out.is_null());
    assert_eq!(take(error).as_deref(), Some("`request_json` is NULL"));
    let request = br#"{"path": "x", "ops": [{"op": "kill_all"}]}"#;
    // SAFETY: a valid request and a NULL `out`, which is refused.
    let code = unsafe {
        flags_file_edit(
            request.as_ptr().cast(),
            request.len(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(code, flags_result::FLAGS_ERROR_NULL_ARGUMENT.code());
    let (code, out, error) = edit_bytes(b"{\"path\": \"\xff\"}");
    assert_eq!(code, flags_result::FLAGS_ERROR_INVALID_UTF8.code());
    assert_eq!(out, None);
    assert_eq!(
        error.as_deref(),
        Some("`request_json` is not valid UTF-8 (at byte 10)")
    );
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a NULL path with valid out-pointers.
    let code = unsafe { flags_file_status_json(ptr::null(), 0, 0, &mut out, &mut error) };
    assert_eq!(code, flags_result::FLAGS_ERROR_NULL_ARGUMENT.code());
    assert!(out.is_null());
    assert_eq!(take(error).as_deref(), Some("`path` is NULL"));
    let (code, out, error) = status_of("", 0);
    assert_eq!(code, flags_result::FLAGS_ERROR_INVALID_ARGUMENT.code());
    assert_eq!((out, error.as_deref()), (None, Some("`path` is empty")));
}

fn status_of(path: &str, now_ms: i64) -> (i32, Option<String>, Option<String>) {
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `path` is valid for its length; valid out-pointers.
    let code = unsafe {
        flags_file_status_json(
            path.as_ptr().cast(),
            path.len(),
            now_ms,
            &mut out,
            &mut error,
        )
    };
    (code, take(out), take(error))
}

#[test]
fn the_status_document_is_the_one_flags_status_prints() {
    let dir = workspace("status");
    let path = path_of(&dir);
    // 2026-11-21T12:00:00Z
    let (code, out, error) = status_of(&path, 1_795_262_400_000);
    assert_eq!((code, &error), (0, &None));
    let document = out.unwrap_or_default();
    let now = flags_core::Timestamp::parse_rfc3339("2026-11-21T12:00:00Z")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        document,
        flags_core::edit::status_json(Path::new(&path), now).unwrap_or_else(|e| panic!("{e}"))
    );
    let status: Value = serde_json::from_str(&document).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status["file"], path);
    assert_eq!(status["now"], "2026-11-21T12:00:00.000Z");
    assert_eq!(status["content_hash"], version(EXAMPLE));
    assert_eq!(status["flags"][0]["key"], "community_dual_write");
    assert_eq!(status["flags"][0]["state"], "ramping");
    assert_eq!(status["flags"][0]["percentage_now"], 55);
    // INT64_MIN: the system clock, which is past 2020.
    let (code, out, _) = status_of(&path, i64::MIN);
    assert_eq!(code, 0);
    let status: Value =
        serde_json::from_str(&out.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status["now"].as_str().is_some_and(|now| now > "2020"),
        "{status}"
    );
    let (code, out, error) = status_of(&dir.join("missing.json").display().to_string(), 0);
    assert_eq!((code, out), (flags_result::FLAGS_ERROR_IO.code(), None));
    assert!(error.is_some_and(|e| e.contains("missing.json: cannot read: ")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pause_freezes_a_ramp_and_resume_lifts_it() {
    let dir = workspace("pause");
    let path = path_of(&dir);
    let at = "2026-11-21T12:00:00Z";
    let result = edited(&json!({"path": path, "actor": "oncall",
        "ops": [{"op": "pause", "flag": "community_dual_write", "at": at}]}));
    assert_eq!(result["written"], true, "{result}");
    assert_eq!(
        result["summary"],
        format!("community_dual_write: ramp paused at {at} (55%)")
    );
    let paused = Snapshot::from_slice(read(Path::new(&path)).as_bytes()).expect("valid");
    let flag = paused.flag("community_dual_write").expect("flag");
    assert_eq!(flag.paused_at().map(|(text, _)| text), Some(at));
    // Without `at`: now, as `flags pause` does.
    let result = edited(&json!({"path": path,
        "ops": [{"op": "resume", "flag": "community_dual_write"}, {"op": "pause", "flag": "community_dual_write"}]}));
    assert_eq!(result["written"], true, "{result}");
    let text = read(Path::new(&path));
    assert!(!text.contains(at), "{text}");
    let result = edited(&json!({"path": path,
        "ops": [{"op": "resume", "flag": "community_dual_write"}]}));
    assert_eq!(result["summary"], "community_dual_write: ramp resumed");
    assert!(!read(Path::new(&path)).contains("paused_at"));
    let message = refused(
        &json!({"path": path, "ops": [{"op": "pause", "flag": "enrollment_service"}]}),
        flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
    );
    assert!(message.contains("has no ramp to pause"), "{message}");
    let message = refused(
        &json!({"path": path, "ops": [{"op": "pause", "flag": "community_dual_write", "at": "noon"}]}),
        flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
    );
    assert!(message.contains("invalid pause time \"noon\""), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stage_moves_a_migration_flag_and_rollback_brings_it_back() {
    let dir = workspace("stage");
    let text = r#"{"version": 1, "flags": {"orders": {"migration": {"stages": 6, "stage": "dualwrite"}, "percentage": 10}, "plain": {}}}"#;
    std::fs::write(dir.join("flags.json"), text).unwrap_or_else(|e| panic!("{e}"));
    let path = path_of(&dir);
    let result = edited(
        &json!({"path": path, "actor": "oncall", "reason": "shadow reads",
        "ops": [{"op": "stage", "flag": "orders", "next": "shadow", "pilot_stage": "Live"}]}),
    );
    assert_eq!(result["written"], true, "{result}");
    assert_eq!(
        result["summary"],
        "orders: migration next dualwrite -> shadow, pilot_stage dualwrite -> live"
    );
    assert_eq!(
        read(Path::new(&path)),
        text.replace(
            r#""stage": "dualwrite"}"#,
            r#""stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}"#
        )
    );
    let log = read(&dir.join("flags.json.audit.jsonl"));
    let record: Value = serde_json::from_str(log.trim()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (&record["actor"], &record["reason"]),
        (&json!("oncall"), &json!("shadow reads"))
    );
    let result = edited(&json!({"path": path, "ops": [{"op": "rollback", "flag": "orders"}]}));
    assert_eq!(
        result["summary"],
        "orders: migration next shadow -> dualwrite, pilot_stage live -> dualwrite"
    );
    for (request, code, message) in [
        (
            json!({"path": path, "ops": [{"op": "stage", "flag": "orders", "next": "shdow"}]}),
            flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
            "ops[0].next: unknown stage \"shdow\"; did you mean \"shadow\"?",
        ),
        (
            json!({"path": path, "ops": [{"op": "stage", "flag": "plain", "next": "live"}]}),
            flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
            "flag \"plain\" is not a migration flag",
        ),
        (
            json!({"path": path, "ops": [{"op": "stage", "flag": "orders", "stage": "live"}]}),
            flags_result::FLAGS_ERROR_INVALID_FLAGS,
            "next \"dualwrite\" comes before stage \"live\"",
        ),
        (
            json!({"path": path, "ops": [{"op": "stage", "flag": "orders", "nxt": "live"}]}),
            flags_result::FLAGS_ERROR_INVALID_ARGUMENT,
            "ops[0]: unknown field \"nxt\"; expected one of: op, flag, stage, next, pilot_stage, safe",
        ),
    ] {
        let before = read(Path::new(&path));
        let got = refused(&request, code);
        assert!(got.contains(message), "{got}");
        assert_eq!(read(Path::new(&path)), before);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
