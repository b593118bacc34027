//! The `flags` command run as operators run it, on temporary copies of
//! `examples/flags.json`: shared by the operator command tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flags_core::{Snapshot, Timestamp};
use serde_json::Value;

pub const EXAMPLE: &str = include_str!("../../../examples/flags.json");
pub const NOW: &str = "2026-11-21T12:00:00Z";

/// A fresh directory holding a copy of the example as `flags.json`.
pub fn workspace(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("flags.json"), EXAMPLE).expect("write example");
    dir
}

/// Runs `flags` in `dir` with no sudo user and no test hook.
pub fn flags_in(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("flags runs")
}

pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flags"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SUDO_USER")
        .env_remove("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS")
        .env_remove("FLAGS_TEST_STOP_AT")
        .stdin(Stdio::null());
    cmd
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8")
}

pub fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flags.json")).expect("read flags.json")
}

pub fn snapshot(dir: &Path) -> Snapshot {
    Snapshot::from_path(dir.join("flags.json")).expect("the file stays valid")
}

pub fn audit(dir: &Path) -> Vec<Value> {
    match std::fs::read_to_string(dir.join("flags.json.audit.jsonl")) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

pub fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("valid")
        .version()
        .to_owned()
}

/// Files in `dir` other than the flag file and its audit log (temporary
/// files must not be left behind).
pub fn strays(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "flags.json" && n != "flags.json.audit.jsonl")
        .collect()
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
pub fn assert_fails(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(out), stderr(out));
    assert_eq!(stderr(out), format!("{message}\n"));
    assert_eq!(stdout(out), "");
}
