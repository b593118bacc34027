//! Every command run with a stdout whose reader has gone away
//! (`flags status --json | head -5`) stops printing and exits quietly; an
//! edit is still written and audited.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::cli::{EXAMPLE, NOW, stderr, workspace};

/// Runs `flags` in `dir` with stdout a pipe whose read end is already
/// closed, so that the first write fails with "broken pipe".
fn closed_stdout(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLAGS_TEST_STOP_AT")
        .env_remove("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("flags runs");
    let mut input = child.stdin.take().expect("stdin");
    // `flags eval` may stop reading once it cannot answer.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("flags exits")
}

#[track_caller]
fn assert_quiet(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: exit status; stderr: {}",
        stderr(out)
    );
    assert_eq!(stderr(out), "", "{what}: stderr");
}

#[test]
fn regression_read_only_commands_exit_quietly_on_a_closed_stdout() {
    let dir = workspace("read-only");
    std::fs::write(
        dir.join("new.json"),
        EXAMPLE.replace("\"kill_all\": false", "\"kill_all\": true"),
    )
    .expect("write");
    let request = "{\"flag\": \"enrollment_service\", \"context\": {\"user_id\": \"42\"}}\n";
    let many = request.repeat(10_000);
    let cases: [(&[&str], &str); 10] = [
        (&["status", "flags.json", "--json", "--now", NOW], ""),
        (&["status", "flags.json", "--now", NOW], ""),
        (&["diff", "flags.json", "new.json"], ""),
        (&["check", "flags.json", "new.json"], ""),
        (&["eval", "--file", "flags.json", "--now", NOW], request),
        (&["eval", "--file", "flags.json", "--now", NOW], &many),
        (
            &[
                "eval",
                "--file",
                "flags.json",
                "--flag",
                "enrollment_service",
            ],
            "",
        ),
        (&["--help"], ""),
        (&["status", "--help"], ""),
        (&["--version"], ""),
    ];
    for (args, stdin) in cases {
        let out = closed_stdout(&dir, args, stdin);
        assert_quiet(&out, &args.join(" "));
    }
}

#[test]
fn regression_an_edit_with_a_closed_stdout_is_written_and_audited() {
    let dir = workspace("edit");
    let out = closed_stdout(
        &dir,
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "25",
            "--actor",
            "pipeline",
        ],
        "",
    );
    assert_quiet(&out, "set");
    let text = std::fs::read_to_string(dir.join("flags.json")).expect("read");
    assert_eq!(
        text,
        EXAMPLE.replace("\"percentage\": 12.5", "\"percentage\": 25")
    );
    let log = std::fs::read_to_string(dir.join("flags.json.audit.jsonl")).expect("audit log");
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(records.len(), 1, "{log}");
    assert_eq!(
        records[0]["summary"],
        "enrollment_service: percentage 12.5% -> 25%"
    );
    assert_eq!(records[0]["actor"], "pipeline");
    assert!(
        !dir.join(".flags.json.edit-pending").exists(),
        "the journal is removed"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_to_stdout_is_an_error() {
    let dir = workspace("full");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(["status", "flags.json", "--now", NOW])
        .current_dir(&dir)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("flags runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "flags: cannot write to standard output: No space left on device (os error 28)\n"
    );
}
