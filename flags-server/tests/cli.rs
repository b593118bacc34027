//! The `flags` binary as operators run it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn flags(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flags runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("flags exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn example() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/flags.json").to_owned()
}

/// The answer for `enrollment_service` and user 42 in `examples/flags.json`:
/// bucket 374, inside the 12.5% rollout (the golden vector
/// "enrollment_service: user 42" of tests/vectors/rollout.json;
/// flags_ref.bucket_of("enrollment_service", "42") == 374).
const ENROLLMENT_42: &str = r#"{"flag":"enrollment_service","enabled":true,"variant":null,"reason":"ROLLOUT_IN","bucket":374}"#;

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write temp file");
    path
}

#[test]
fn check_summarizes_a_valid_file() {
    let out = flags(&["check", &example()], "");
    assert!(out.status.success());
    assert!(
        text(&out.stdout).ends_with("flags.json: ok, version 1, 3 flags\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn check_lists_every_problem_with_location() {
    let bad = temp_file(
        "bad.json",
        "{\n  \"version\": 1,\n  \"flags\": {\n    \"a\": {\"percentge\": 5},\n    \"b\": {\"percentage\": 12.345, \"killed\": \"yes\"}\n  }\n}\n",
    );
    let bad = bad.to_str().expect("utf-8 path");
    let out = flags(&["check", &example(), bad], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("flags.json: ok"),
        "valid files still summarized"
    );
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(lines[0].starts_with(&format!("{bad}:4:11: flags.a.percentge: unknown field \"percentge\"; did you mean \"percentage\"?")), "{stderr}");
    assert_eq!(
        lines[1],
        format!(
            "{bad}:5:25: flags.b.percentage: expected a number from 0 to 100 with at most two decimals, found 12.345 (too many decimals)"
        )
    );
    assert_eq!(
        lines[2],
        format!("{bad}:5:43: flags.b.killed: expected a boolean (true or false), found a string")
    );
    assert_eq!(lines[3], format!("{bad}: 3 problems"));
}

#[test]
fn check_reports_an_unreadable_file() {
    let out = flags(&["check", "/nonexistent/flags.json"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("/nonexistent/flags.json: cannot read:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn eval_one_flag() {
    let out = flags(
        &[
            "eval",
            "--file",
            &example(),
            "--now",
            "2026-11-21T12:00:00Z",
            "--flag",
            "community_dual_write",
            "--context",
            r#"{"user_id": 7, "app_version": "3.2.0", "tenant_id": "t"}"#,
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    // A pilot gets the variant of its variant bucket: 8860 of 10,000, past
    // control's 50% (flags_ref.variant_bucket_of("community_dual_write", "7") == 8860;
    // the golden vector "PILOT by user 7 before the ramp starts" agrees).
    assert_eq!(
        line,
        "{\"flag\":\"community_dual_write\",\"enabled\":true,\"variant\":\"treatment\",\"reason\":\"PILOT\",\"bucket\":null}\n"
    );
}

#[test]
fn eval_streams_requests_and_flags_bad_lines() {
    let input = "{\"flag\": \"enrollment_service\", \"context\": {\"user_id\": \"42\"}}\n{\"flag\": 5}\n{\"flag\": \"tenant_billing_v2\", \"context\": {\"tenant_id\": \"acme\"}}\n";
    let out = flags(
        &[
            "eval",
            "--file",
            &example(),
            "--now",
            "2026-11-21T12:00:00Z",
        ],
        input,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit status 1"
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], ENROLLMENT_42);
    assert!(
        lines[1].starts_with("{\"line\":2,\"error\":\"invalid request:"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("\"reason\":\"PILOT\""), "{}", lines[2]);
    assert!(text(&out.stderr).contains("1 request line(s) had errors"));
}

#[test]
fn eval_rejects_a_bad_time_and_a_bad_file() {
    let out = flags(
        &[
            "eval",
            "--file",
            &example(),
            "--now",
            "tomorrow",
            "--flag",
            "x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid time `tomorrow`"),
        "{}",
        text(&out.stderr)
    );
    let bad = temp_file("empty.json", "");
    let out = flags(
        &[
            "eval",
            "--file",
            bad.to_str().expect("utf-8"),
            "--flag",
            "x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(":1:1: (root): empty input"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_answers_then_drains_on_sigterm() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(["serve", &example(), "--listen", "127.0.0.1:0"])
        .env("FLAGS_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("flags serve starts");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    log.read_line(&mut line).expect("start-up line");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .unwrap_or_else(|| panic!("no listen address in {line:?}"))
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("exits");
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let mut rest = String::new();
    log.read_to_string(&mut rest).expect("log");
    assert!(rest.contains("shutting down"), "{rest}");
}

/// A running `flags eval` whose stdin stays open until dropped, with its
/// answers read line by line on a thread.
struct EvalSession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    answers: std::sync::mpsc::Receiver<String>,
}

impl EvalSession {
    fn start() -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
            .args([
                "eval",
                "--file",
                &example(),
                "--now",
                "2026-11-21T12:00:00Z",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("flags eval starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            answers,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write a request");
        stdin.flush().expect("flush");
    }

    /// The next answer line, waiting for it up to 30 s.
    #[track_caller]
    fn answer(&self) -> String {
        self.answers
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("an answer within 30 s while stdin stays open")
    }

    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let status = self.child.wait().expect("exits");
        assert!(
            self.answers.recv().is_err(),
            "no answer after the last request"
        );
        status
    }
}

impl Drop for EvalSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn regression_eval_answers_each_request_while_stdin_stays_open() {
    let mut session = EvalSession::start();
    session.send(b"{\"flag\": \"enrollment_service\", \"context\": {\"user_id\": \"42\"}}\n");
    assert_eq!(session.answer(), ENROLLMENT_42);
    // The caller reads each answer before it sends the next request.
    session.send(b"{\"flag\": \"tenant_billing_v2\", \"context\": {\"tenant_id\": \"acme\"}}\r\n");
    let second = session.answer();
    assert!(second.contains("\"reason\":\"PILOT\""), "{second}");
    session.send(b"not json\n");
    let third = session.answer();
    assert!(
        third.starts_with("{\"line\":3,\"error\":\"invalid request: "),
        "{third}"
    );
    assert_eq!(session.finish().code(), Some(1), "one line had an error");
}

#[test]
fn eval_help_states_the_line_cap() {
    let out = flags(&["eval", "--help"], "");
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("A line over 1 MiB is answered with an error and skipped"),
        "{}",
        text(&out.stdout)
    );
}

/// The peak resident set size of a running process, in KiB (Linux).
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[cfg(target_os = "linux")]
#[test]
fn regression_eval_skips_a_line_over_one_mib_in_bounded_memory() {
    let mut session = EvalSession::start();
    // 64 MiB on one line: twice the bound below. `flags eval` keeps one
    // 64 KiB block and at most one 1 MiB line (about 10 MiB in all, in a
    // debug build).
    let mut huge = b"{\"flag\": \"enrollment_service\", \"context\": {\"user_id\": \"".to_vec();
    huge.resize(64 << 20, b'7');
    huge.extend_from_slice(b"\"}}\n");
    session.send(&huge);
    drop(huge);
    session.send(b"{\"flag\": \"enrollment_service\", \"context\": {\"user_id\": \"42\"}}\n");
    assert_eq!(
        session.answer(),
        "{\"line\":1,\"error\":\"request line longer than 1 MiB (1048576 bytes); skipped\"}"
    );
    assert_eq!(session.answer(), ENROLLMENT_42);
    let peak = peak_rss_kib(session.child.id());
    assert!(
        peak < 32 * 1024,
        "peak RSS {peak} KiB: the long line was kept in memory"
    );
    assert_eq!(session.finish().code(), Some(1), "one line had an error");
}

/// The content hash and the number of flags `flags status --json` reports
/// for `path`.
fn content_hash(path: &str) -> (String, usize) {
    let out = flags(&["status", "--json", path], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hash = status["content_hash"].as_str().expect("content_hash");
    let flags = status["flags"].as_array().expect("flags").len();
    (hash.to_owned(), flags)
}

/// The sample versions in the README and `docs/server.md` are those of
/// `examples/flags.json`, and of it with `enrollment_service` raised to 50%
/// (the hot-reload example): every 32-hex-digit hash, and every one cut
/// short as `14c0...`, is one of the two; a sample that gives the number of
/// flags beside the version gives the example's.
#[test]
fn the_docs_quote_the_versions_of_the_example_file() {
    let example_text = std::fs::read_to_string(example()).expect("examples/flags.json");
    let edited_text = example_text.replacen(r#""percentage": 12.5"#, r#""percentage": 50"#, 1);
    assert_ne!(
        edited_text, example_text,
        "the example's 12.5% rollout moved"
    );
    let edited = temp_file("edited-example.json", &edited_text);
    let (example_version, example_flags) = content_hash(&example());
    let (edited_version, _) = content_hash(edited.to_str().expect("UTF-8 path"));
    let versions = [example_version.clone(), edited_version];
    for doc in ["README.md", "docs/server.md"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../").to_owned() + doc;
        let text = std::fs::read_to_string(&path).expect("the doc");
        let mut quoted = 0;
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let run = bytes[at..]
                .iter()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                .count();
            if run == 0 {
                at += 1;
                continue;
            }
            let hex = &text[at..at + run];
            let line = text[..at].lines().count();
            if run == 32 {
                assert!(
                    versions.iter().any(|v| v == hex),
                    "{doc}:{line}: {hex} is not a version of the example file {versions:?}"
                );
                quoted += 1;
            } else if run >= 4
                && text[at + run..].starts_with("...")
                && hex.bytes().any(|b| b.is_ascii_digit())
            {
                assert!(
                    versions.iter().any(|v| v.starts_with(hex)),
                    "{doc}:{line}: {hex}... is not a version of the example file {versions:?}"
                );
                quoted += 1;
            }
            at += run;
        }
        assert!(quoted > 0, "{doc} quotes no version");
        let with_count = format!(r#""version":"{example_version}","flags":"#);
        for (at, _) in text.match_indices(&with_count) {
            let count: String = text[at + with_count.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert_eq!(
                count,
                example_flags.to_string(),
                "{doc}: {with_count}{count}"
            );
        }
    }
}
