//! `flags guard` against a fake Prometheus the test controls: it never
//! acts on missing data, acts once the value has crossed the threshold for
//! the guard's `for`, through the edit path (file, audit record with actor
//! `guard` and why), says what it would do in a dry run, and stops cleanly
//! on SIGTERM. `guard_prometheus.rs` does the same with a real Prometheus.

mod guard_support;

use std::sync::{Arc, Mutex};

use guard_support::*;

/// What the fake Prometheus answers to every query.
#[derive(Clone, Copy)]
enum Answer {
    Value(f64),
    NoSeries,
    Down,
}

const FILE: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": {
      "percentage": 100,
      "guard": {"query": "sum(rate(checkout_errors_total[1m]))", "above": 0.05, "for": "2s", "action": "kill"}
    }
  }
}
"#;

fn metrics(guard: &Flags) -> String {
    let addr = guard.address();
    let (status, body) = http(&addr, "GET", "/metrics", "").expect("/metrics answers");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_guard_kills_after_its_duration_and_never_on_missing_data() {
    let dir = temp_dir("guard-fake");
    let file = dir.join("flags.json");
    std::fs::write(&file, FILE).expect("write");
    let answer = Arc::new(Mutex::new(Answer::NoSeries));
    let asked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (a, q) = (answer.clone(), asked.clone());
    let prometheus = TinyHttp::start(move |_, target| {
        q.lock().expect("asked").push(target.to_owned());
        match *a.lock().expect("answer") {
            Answer::Value(v) => (
                200,
                format!(
                    r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{v}"]}}]}}}}"#
                ),
            ),
            Answer::NoSeries => (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_owned(),
            ),
            Answer::Down => (503, "down".to_owned()),
        }
    });
    let url = format!("http://{}", prometheus.addr);
    let file_arg = file.to_str().expect("utf-8 path");
    let common = ["guard", file_arg, "--prometheus", &url, "--interval", "1s"];
    let mut guard = Flags::spawn(&dir, &[&common[..], &["--listen", "127.0.0.1:0"]].concat());
    // The dry run watches a copy: on the same file it would see the real
    // guard's kill and, its own `for` not over yet, never say what it
    // would do.
    let dry_file = dir.join("dry-flags.json");
    std::fs::write(&dry_file, FILE).expect("write");
    let dry = Flags::spawn(
        &dir,
        &[
            "guard",
            dry_file.to_str().expect("utf-8 path"),
            "--prometheus",
            &url,
            "--interval",
            "1s",
            "--dry-run",
            "--audit-log",
            "dry.jsonl",
        ],
    );

    // No series, then HTTP errors: said once each, counted, never acted on.
    guard.wait_for_log(
        "no series",
        "no data for the guard of checkout: the query answered no series",
    );
    *answer.lock().expect("answer") = Answer::Down;
    guard.wait_for_log("HTTP error", "Prometheus answered HTTP 503");
    wait_until("five checks with HTTP errors", PATIENCE, || {
        sample(
            &metrics(&guard),
            "flags_guard_no_data_total{flag=\"checkout\",reason=\"http_status\"}",
        ) >= 5.0
    });
    assert_eq!(
        guard.log().matches("Prometheus answered HTTP 503").count(),
        1,
        "{}",
        guard.log()
    );
    assert!(
        sample(
            &metrics(&guard),
            "flags_guard_no_data_total{flag=\"checkout\",reason=\"empty\"}"
        ) >= 1.0
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        FILE,
        "no data is not failing"
    );
    // The query went out URL-encoded, as asked.
    assert!(
        asked.lock().expect("asked").iter().any(|t| t
            .starts_with("/api/v1/query?query=sum%28rate%28checkout_errors_total%5B1m%5D%29%29")),
        "{:?}",
        asked.lock().expect("asked")
    );

    // Low: nothing happens over several checks.
    *answer.lock().expect("answer") = Answer::Value(0.01);
    guard.wait_for_log("data again", "the guard of checkout has data again: 0.01");
    let checks = sample(&metrics(&guard), "flags_guard_checks_total");
    wait_until("four more checks", PATIENCE, || {
        sample(&metrics(&guard), "flags_guard_checks_total") >= checks + 4.0
    });
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        FILE,
        "a low value changes nothing"
    );
    assert_eq!(
        sample(&metrics(&guard), "flags_guard_value{flag=\"checkout\"}"),
        0.01
    );

    // High: the dry run says what it would do; the guard kills the flag.
    *answer.lock().expect("answer") = Answer::Value(0.09);
    guard.wait_for_log(
        "holding",
        "checkout: 0.09 above 0.05: holding; the guard will kill it after 2s",
    );
    wait_until("the flag killed", PATIENCE, || {
        std::fs::read_to_string(&file)
            .expect("read")
            .contains("\"killed\": true")
    });
    // How long it held depends on when the checks ran (on a busy machine a
    // check can be late): at least the `for`, whatever it is.
    dry.wait_for_log(
        "the dry run's line",
        "would kill checkout: value 0.09 above 0.05 for 2s (query sum(rate(checkout_errors_total[1m])), held ",
    );
    dry.wait_for_log("the dry run's promise", "s); dry run: nothing written");
    let line = dry.log();
    let held = held_seconds(
        line.lines()
            .find(|l| l.contains("would kill checkout"))
            .expect("the dry run's line"),
    );
    assert!(held >= 2.0, "{line}");
    assert!(
        !dir.join("dry.jsonl").exists(),
        "a dry run writes no audit record"
    );
    assert_eq!(
        std::fs::read_to_string(&dry_file).expect("read"),
        FILE,
        "a dry run writes nothing"
    );
    guard.wait_for_log("the kill", "killed checkout: value 0.09 above 0.05 for 2s");
    let records = audit(&file);
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record["actor"], "guard");
    assert_eq!(record["summary"], "checkout: killed");
    let reason = record["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("guard of checkout: value 0.09 above 0.05 for 2s (query sum(rate(checkout_errors_total[1m])), held "),
        "{reason}"
    );
    assert!(held_seconds(reason) >= 2.0, "{reason}");
    assert!(
        record["command"]
            .as_str()
            .expect("command")
            .starts_with("flags guard "),
        "{record}"
    );

    // Killed stays killed: no second edit while the value stays high.
    let checks = sample(&metrics(&guard), "flags_guard_checks_total");
    wait_until("three more checks", PATIENCE, || {
        sample(&metrics(&guard), "flags_guard_checks_total") >= checks + 3.0
    });
    assert_eq!(audit(&file).len(), 1);
    assert_eq!(
        sample(
            &metrics(&guard),
            "flags_guard_actions_total{flag=\"checkout\",action=\"kill\",dry_run=\"false\"}"
        ),
        1.0
    );
    let (status, health) = http(&guard.address(), "GET", "/healthz", "").expect("/healthz");
    assert_eq!(status, 200, "{health}");

    let status = guard.terminate();
    assert!(status.success(), "{status:?}\n{}", guard.log());
    assert!(guard.log().contains("guard stopped"), "{}", guard.log());
}

/// The seconds after "held " in a guard's line or audit reason.
fn held_seconds(text: &str) -> f64 {
    let (_, rest) = text.split_once("held ").expect("a held time");
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().expect("a held time in seconds")
}

#[test]
fn guard_options_are_checked() {
    let dir = temp_dir("guard-options");
    let file = dir.join("flags.json");
    std::fs::write(&file, FILE).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
        .args([
            "guard",
            "flags.json",
            "--prometheus",
            "http://127.0.0.1:9",
            "--interval",
            "500ms",
        ])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid duration \"500ms\""), "{stderr}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(["guard", "flags.json", "--prometheus", "localhost:9090"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected an http:// or https:// URL"),
        "{stderr}"
    );
}

const TWO_GUARDS: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": {
      "percentage": 100,
      "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2s", "action": "kill"}
    },
    "search": {
      "ramp": [{"at": "2026-11-21T00:00:00Z", "percentage": 10}, {"at": "2026-11-22T00:00:00Z", "percentage": 100}],
      "guard": {"query": "search_success_ratio", "below": 0.99, "for": "1m", "action": "pause"}
    }
  }
}
"#;

/// A fake Prometheus: checkout's ratio is 0.09, search's has no series.
fn two_guards_prometheus() -> TinyHttp {
    TinyHttp::start(|_, target| {
        if target.contains("checkout") {
            (
                200,
                r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.09"]}}"#
                    .to_owned(),
            )
        } else {
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_owned(),
            )
        }
    })
}

#[test]
fn status_shows_each_guard_against_its_threshold() {
    let dir = temp_dir("guard-status");
    std::fs::write(dir.join("flags.json"), TWO_GUARDS).expect("write");
    let prometheus = two_guards_prometheus();
    let url = format!("http://{}", prometheus.addr);
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
            .args(
                [
                    &[
                        "status",
                        "flags.json",
                        "--prometheus",
                        &url,
                        "--now",
                        "2026-11-21T12:00:00Z",
                    ][..],
                    extra,
                ]
                .concat(),
            )
            .current_dir(&dir)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let table = run(&[]);
    let guards: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("GUARD "))
        .collect();
    assert_eq!(
        guards,
        [
            "GUARD     VALUE  THRESHOLD   FOR  ACTION  STATUS",
            "checkout  0.09   above 0.05  2s   kill    CROSSED",
            "search    -      below 0.99  1m   pause   NO DATA: the query answered no series (is the metric scraped yet?) (empty)",
            "GUARD CROSSED on checkout: 0.09 above 0.05 -- a running `flags guard` kills it once it has \
             held for 2s; or run `flags kill flags.json checkout` now",
        ],
        "{table}"
    );
    let doc: serde_json::Value = serde_json::from_str(&run(&["--json"])).expect("json");
    let checkout = &doc["flags"][0];
    assert_eq!(checkout["key"], "checkout");
    assert_eq!(checkout["guard"]["above"], 0.05);
    assert_eq!(checkout["guard"]["now"]["value"], 0.09);
    assert_eq!(checkout["guard"]["now"]["crossed"], true);
    let search = &doc["flags"][1];
    assert_eq!(search["guard"]["below"], 0.99);
    assert_eq!(search["guard"]["now"]["value"], serde_json::Value::Null);
    assert!(
        search["guard"]["now"]["no_data"]
            .as_str()
            .expect("why")
            .contains("no series")
    );
    assert!(
        doc["recommendation"]
            .as_str()
            .expect("line")
            .starts_with("GUARD CROSSED on checkout")
    );
}

#[test]
fn status_watch_redraws_and_counts_how_long_a_guard_is_crossed() {
    use std::io::Read as _;
    let dir = temp_dir("guard-watch");
    std::fs::write(dir.join("flags.json"), TWO_GUARDS).expect("write");
    let prometheus = two_guards_prometheus();
    let url = format!("http://{}", prometheus.addr);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
        .args([
            "status",
            "flags.json",
            "--prometheus",
            &url,
            "--watch",
            "--interval",
            "1s",
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let screen = Arc::new(Mutex::new(String::new()));
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("screen")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    wait_until(
        "a redraw that has seen the guard crossed for a second",
        PATIENCE,
        || {
            let s = screen.lock().expect("screen");
            s.matches("\x1b[2J\x1b[H").count() >= 2 && s.contains("CROSSED, seen for 1s")
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    let s = screen.lock().expect("screen").clone();
    assert!(
        s.contains("a running `flags guard` kills it in about 1s"),
        "{s}"
    );
}

#[test]
fn no_data_between_crossed_readings_starts_the_hold_over() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = temp_dir("guard-gaps");
    let file = dir.join("flags.json");
    let text = FILE.replace("\"for\": \"2s\"", "\"for\": \"3s\"");
    std::fs::write(&file, &text).expect("write");
    // Every other answer is an error: high, none, high, none, ...
    let asked = Arc::new(AtomicUsize::new(0));
    let steady = Arc::new(AtomicBool::new(false));
    let (n, s) = (asked.clone(), steady.clone());
    let prometheus = TinyHttp::start(move |_, _| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        if i % 2 == 1 && !s.load(Ordering::SeqCst) {
            return (500, "error".to_owned());
        }
        (
            200,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}}"#.to_owned(),
        )
    });
    let url = format!("http://{}", prometheus.addr);
    let guard = Flags::guard(&dir, "flags.json", &url, "1s");
    wait_until("eight rounds", PATIENCE, || {
        sample(&metrics(&guard), "flags_guard_checks_total") >= 8.0
    });
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        text,
        "{}",
        guard.log()
    );
    assert!(
        guard.log().contains("not acting, the hold starts over"),
        "{}",
        guard.log()
    );
    // Steady readings: it acts.
    steady.store(true, Ordering::SeqCst);
    wait_until("the flag killed", PATIENCE, || {
        std::fs::read_to_string(&file)
            .expect("read")
            .contains("\"killed\": true")
    });
}

#[test]
fn pause_and_resume_from_the_command_line() {
    let dir = temp_dir("guard-pause");
    std::fs::write(dir.join("flags.json"), TWO_GUARDS).expect("write");
    let flags = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("runs")
    };
    let out = flags(&["pause", "flags.json", "search", "--actor", "oncall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.starts_with("flags.json: search: ramp paused at 20"),
        "{said}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("flags.json")).expect("read"))
            .expect("json");
    assert!(doc["flags"]["search"]["paused_at"].is_string(), "{doc}");
    let out = flags(&["status", "flags.json"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("search    paused"), "{table}");
    let out = flags(&["pause", "flags.json", "checkout"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no ramp to pause"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flags(&["resume", "flags.json", "search", "--actor", "oncall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "flags.json: search: ramp resumed\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("flags.json")).expect("read"),
        TWO_GUARDS
    );
    let records = audit(&dir.join("flags.json"));
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r["actor"] == "oncall"));
}

const MIGRATION: &str = r#"{
  "version": 1,
  "flags": {
    "orders_reads": {
      "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live"},
      "pilots": {"user_id": ["7"]},
      "percentage": 10,
      "guard": {"query": "inconsistent_reads_ratio", "above": 0.01, "for": "1s", "action": "rollback"}
    }
  }
}
"#;

/// A `rollback` guard on a migration flag sets `next` and `pilot_stage`
/// to the value of `stage` through the edit path (audit record with the
/// stages before and after), and does not act again until a person moves
/// the flag forward.
#[test]
fn a_rollback_guard_moves_a_migration_flag_back_to_its_stage_once() {
    let dir = temp_dir("guard-rollback");
    let file = dir.join("flags.json");
    std::fs::write(&file, MIGRATION).expect("write");
    let prometheus = TinyHttp::start(|_, _| {
        (
            200,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.2"]}}"#.to_owned(),
        )
    });
    let url = format!("http://{}", prometheus.addr);
    let mut guard = Flags::guard(&dir, "flags.json", &url, "1s");
    let rolled_back = MIGRATION.replace(
        r#""next": "shadow", "pilot_stage": "live""#,
        r#""next": "dualwrite", "pilot_stage": "dualwrite""#,
    );
    wait_until("the flag rolled back", PATIENCE, || {
        std::fs::read_to_string(&file).expect("read") == rolled_back
    });
    guard.wait_for_log(
        "the rollback",
        "rolled back orders_reads: value 0.2 above 0.01",
    );
    let records = audit(&file);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["actor"], "guard");
    assert_eq!(
        records[0]["summary"],
        "orders_reads: migration next shadow -> dualwrite, pilot_stage live -> dualwrite"
    );
    let reason = records[0]["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with(
            "guard of orders_reads: value 0.2 above 0.01 for 1s (query inconsistent_reads_ratio"
        ) && reason.ends_with(
            "; stages before: stage dualwrite, next shadow, pilot_stage live; \
             after: stage dualwrite, next dualwrite, pilot_stage dualwrite"
        ),
        "{reason}"
    );
    // Every answer is back at the baseline: pilot 7 too.
    let snapshot = flags_core::Snapshot::from_path(&file).expect("valid");
    let now = flags_core::now();
    for user in ["7", "1", "2", "3", "42"] {
        let pairs = [("user_id", user)];
        let ctx = flags_core::Context::new(&pairs);
        assert_eq!(
            snapshot.stage("orders_reads", &ctx, now),
            Some(flags_core::Stage::DualWrite),
            "user {user}"
        );
    }

    // Held at its stage: nothing to roll back while the value stays high.
    let checks = sample(&metrics(&guard), "flags_guard_checks_total");
    wait_until("three more checks", PATIENCE, || {
        sample(&metrics(&guard), "flags_guard_checks_total") >= checks + 3.0
    });
    assert_eq!(audit(&file).len(), 1, "{}", guard.log());

    // A person moves it forward again: the guard, still crossed, acts again.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(["stage", "flags.json", "orders_reads", "--next", "shadow"])
        .args(["--actor", "oncall", "--reason", "fixed the projection"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("a second rollback", PATIENCE, || audit(&file).len() == 3);
    let records = audit(&file);
    assert_eq!(
        (
            &records[1]["actor"],
            &records[1]["reason"],
            &records[2]["actor"]
        ),
        (
            &serde_json::json!("oncall"),
            &serde_json::json!("fixed the projection"),
            &serde_json::json!("guard")
        )
    );
    assert_eq!(
        records[2]["summary"],
        "orders_reads: migration next shadow -> dualwrite"
    );
    let status = guard.terminate();
    assert!(status.success(), "{status:?}\n{}", guard.log());
}
