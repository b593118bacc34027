//! The dual-write cutover, end to end (docs/migrations.md, "The dual-write
//! cutover, end to end"): a PHP application (tests/migration/app.php) reads
//! and writes two SQLite stores through the PHP package's Migrator under a
//! six-stage migration flag, and sends its records to `flags serve` with a
//! `client` token; a real Prometheus (Debian's `prometheus`) scrapes the
//! server's /metrics every second; `flags guard` watches the consistency
//! rate (the query of the design, `above 0.01`, action `rollback`).
//!
//! Phase 1: the stores agree while the ramp moves users from dualwrite to
//! shadow (10% -> 100%): Prometheus sees a consistency of 1, the guard reads
//! its query round after round, and nothing is written. Phase 2: the new
//! store drifts (every email upper-cased in new.sqlite): the consistency
//! drops in Prometheus, the guard rolls the flag back (`next` and
//! `pilot_stage` set to `stage`), and the file, the audit log, both servers
//! (/v1/evaluate and OFREP), the PHP package (FFI), C
//! (tests/migration/stages.c on the C ABI), the Python reference and the
//! running application itself put every user back at dualwrite.
//! The times from the injection to the rollback and to "every server
//! answers dualwrite" are printed (docs/benchmarks.md quotes them).
//!
//! Needs php (with FFI and pdo_sqlite), the built libflags_ffi
//! (FLAGS_FFI_LIB, else beside the `flags` binary: `cargo build -p
//! flags-ffi`), gcc, python3 and prometheus: without one of them this test
//! fails, saying which.

mod guard_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flags_core::Timestamp;
use guard_support::prometheus::{Prometheus, SCRAPE_S};
use guard_support::*;
use serde_json::{Value, json};

const FLAG: &str = "orders";
/// Users 1..=USERS make requests in turn; user 7 is a pilot.
const USERS: u32 = 200;
const PILOT: &str = "7";
/// Requests a second of the application (each one a write and a read).
const RATE: u32 = 150;
/// The ramp from 10% to 100% in shadow.
const RAMP_S: i64 = 30;
/// The guard's interval and `for`.
const INTERVAL_S: u64 = 1;
const FOR_S: u64 = 2;
const TOKEN: &str = "app-client-token";

/// The guard's query: the share of compared reads that disagreed over the
/// last minute (design section 4).
fn inconsistency_query() -> String {
    format!(
        "sum(rate(flags_migration_consistency_total{{flag=\"{FLAG}\",consistent=\"false\"}}[1m])) \
         / sum(rate(flags_migration_consistency_total{{flag=\"{FLAG}\"}}[1m]))"
    )
}

/// The share of compared reads that agreed over the last minute.
fn consistency_query() -> String {
    format!(
        "sum(rate(flags_migration_consistency_total{{flag=\"{FLAG}\",consistent=\"true\"}}[1m])) \
         / sum(rate(flags_migration_consistency_total{{flag=\"{FLAG}\"}}[1m]))"
    )
}

fn users() -> Vec<String> {
    (1..=USERS).map(|u| u.to_string()).collect()
}

fn app_script() -> PathBuf {
    root().join("tests/migration/app.php")
}

/// The native library the PHP package loads: FLAGS_FFI_LIB, else the one
/// cargo built beside the `flags` binary.
fn ffi_library() -> PathBuf {
    let lib = match std::env::var_os("FLAGS_FFI_LIB") {
        Some(lib) if !lib.is_empty() => PathBuf::from(lib),
        _ => Path::new(env!("CARGO_BIN_EXE_flags")).with_file_name("libflags_ffi.so"),
    };
    assert!(
        lib.is_file(),
        "no flags native library at {}: build it (cargo build -p flags-ffi; scripts/test's PHP \
         step does) or set FLAGS_FFI_LIB",
        lib.display()
    );
    lib
}

/// `php` with FFI and pdo_sqlite, or a failure that says what to install.
fn check_php() {
    let ok = |code: &str| {
        Command::new("php")
            .args(["-r", code])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        ok("exit(0);"),
        "php is not installed: this test needs it (apt-get install php8.2-cli; scripts/test \
         installs it)"
    );
    assert!(
        ok(r#"exit(extension_loaded("ffi") ? 0 : 1);"#),
        "php has no FFI extension: this test needs it"
    );
    assert!(
        ok(r#"exit(extension_loaded("pdo_sqlite") ? 0 : 1);"#),
        "php has no pdo_sqlite extension: this test needs it (apt-get install php8.2-sqlite3; \
         scripts/test installs it)"
    );
}

/// tests/migration/stages.c compiled against the committed header and the
/// native library, in `dir`: the C answer of the proof.
fn c_stages(dir: &Path) -> PathBuf {
    let lib = ffi_library();
    let out = dir.join("stages");
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root().join("flags-ffi/include"))
        .arg(root().join("tests/migration/stages.c"))
        .arg(&lib)
        .arg(format!(
            "-Wl,-rpath,{}",
            lib.parent().expect("the library's directory").display()
        ))
        .arg("-o")
        .arg(&out)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "could not compile tests/migration/stages.c with gcc (apt-get install gcc; \
         scripts/test installs it)"
    );
    out
}

/// The stage of each of `users` as the C ABI answers on `file`.
fn stages_in_c(program: &Path, file: &Path, users: &[String]) -> Value {
    let out = Command::new(program)
        .arg(file)
        .arg(FLAG)
        .args(users)
        .output()
        .expect("the C program runs");
    assert!(
        out.status.success(),
        "stages (C): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// One run of app.php to its end: its standard output.
fn php(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("php")
        .arg(app_script())
        .args(args)
        .current_dir(dir)
        .env("FLAGS_FFI_LIB", ffi_library())
        .output()
        .expect("php runs");
    assert!(
        out.status.success(),
        "php app.php {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The running application (`app.php run`): its status lines are kept;
/// killed when dropped.
struct App {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl App {
    fn start(dir: &Path, file: &Path, url: &str) -> App {
        let mut child = Command::new("php")
            .arg(app_script())
            .arg("run")
            .arg(file)
            .args([FLAG])
            .arg(dir)
            .args([url, TOKEN, &USERS.to_string(), "600", &RATE.to_string()])
            .current_dir(dir)
            .env("FLAGS_FFI_LIB", ffi_library())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("php starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).is_ok_and(|n| n > 0) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"unexpected": line.trim_end()}));
                sink.lock().expect("lines").push(value);
                line.clear();
            }
        });
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().expect("stderr").push_str(&line);
                line.clear();
            }
        });
        App {
            child,
            lines,
            stderr,
        }
    }

    /// The last status line, once there is one; fails if the application
    /// stopped.
    fn last(&mut self) -> Value {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("app.php stopped ({status}):\n{}", self.log());
        }
        self.lines
            .lock()
            .expect("lines")
            .last()
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn log(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Operations the application recorded at `stage` (`op` "read" or
/// "write"), from one of its status lines.
fn ops(line: &Value, stage: &str, op: &str) -> u64 {
    line["recorded"]["by"][format!("{FLAG} {stage} {op}")]["ops"]
        .as_u64()
        .unwrap_or(0)
}

/// The stage `addr` answers for `user` through /v1/evaluate.
fn stage_at(addr: &str, user: &str) -> Option<String> {
    let body = format!(r#"{{"context": {{"user_id": "{user}"}}, "flags": ["{FLAG}"]}}"#);
    let (status, reply) = http_as(addr, Some(TOKEN), "POST", "/v1/evaluate", &body)?;
    if status != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&reply).ok()?;
    json["results"][0]["variant"].as_str().map(str::to_owned)
}

/// The stage `addr` answers for `user` through OFREP: value and variant.
fn ofrep_at(addr: &str, user: &str) -> Option<(String, String)> {
    let body = format!(r#"{{"context": {{"targetingKey": "{user}"}}}}"#);
    let path = format!("/ofrep/v1/evaluate/flags/{FLAG}");
    let (status, reply) = http_as(addr, Some(TOKEN), "POST", &path, &body)?;
    if status != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&reply).ok()?;
    Some((
        json["value"].as_str()?.to_owned(),
        json["variant"].as_str()?.to_owned(),
    ))
}

/// The stage of each user as the Python reference
/// (tests/reference/flags_ref.py) evaluates the flag file `text` at `now`.
fn reference_stages(dir: &Path, text: &str, now: &str) -> Value {
    let file = dir.join("reference-input.json");
    std::fs::write(&file, text).expect("write");
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import flags_ref as r
ff = r.load_file(open(sys.argv[2], encoding="utf-8").read())
print(json.dumps({u: r.evaluate_json(ff, sys.argv[3], {"user_id": u}, sys.argv[4])["variant"]
                  for u in sys.argv[5:]}))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root().join("tests/reference"))
        .arg(&file)
        .arg(FLAG)
        .arg(now)
        .args(users())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// What every user should answer: `pilot` for the pilot, `others` else.
fn everyone(pilot: &str, others: &str) -> Value {
    Value::Object(
        users()
            .into_iter()
            .map(|u| {
                let stage = if u == PILOT { pilot } else { others };
                (u, json!(stage))
            })
            .collect(),
    )
}

fn guard_metrics(guard: &Flags) -> String {
    http(&guard.address(), "GET", "/metrics", "")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[test]
fn a_drifting_new_store_rolls_the_migration_back_everywhere() {
    check_php();
    ffi_library();
    let dir = temp_dir("migration-prometheus");
    let c_program = c_stages(&dir);
    let setup = php(
        &dir,
        &["setup", dir.to_str().expect("utf-8"), &USERS.to_string()],
    );
    assert_eq!(setup.trim(), format!(r#"{{"users":{USERS}}}"#));
    std::fs::write(dir.join("tokens"), format!("{TOKEN} client\n")).expect("tokens");

    // The migration flag: baseline dualwrite, the ramp moves users to
    // shadow (10% now, 100% in RAMP_S), the pilot is in live.
    let start = flags_core::now().unix_millis();
    let at = |ms: i64| Timestamp::from_unix_millis(ms).to_string();
    let ramp_end = start + RAMP_S * 1000;
    let guard = json!({
        "query": inconsistency_query(),
        "above": 0.01,
        "for": format!("{FOR_S}s"),
        "action": "rollback",
    });
    let text = format!(
        "{{\n  \"version\": 1,\n  \"flags\": {{\n    \"{FLAG}\": {{\n      \
         \"migration\": {{\"stages\": 6, \"stage\": \"dualwrite\", \"next\": \"shadow\", \"pilot_stage\": \"live\"}},\n      \
         \"ramp\": [{{\"at\": \"{}\", \"percentage\": 10}}, {{\"at\": \"{}\", \"percentage\": 100}}],\n      \
         \"pilots\": {{\"user_id\": [\"{PILOT}\"]}},\n      \
         \"guard\": {guard}\n    }}\n  }}\n}}\n",
        at(start),
        at(ramp_end),
    );
    let file = dir.join("flags.json");
    std::fs::write(&file, &text).expect("write");
    let file_arg = file.to_str().expect("utf-8 path");
    let tokens = dir.join("tokens");
    let tokens_arg = tokens.to_str().expect("utf-8 path");

    // Two servers; the application reports to the first, which Prometheus
    // scrapes.
    let servers: Vec<Flags> = (0..2)
        .map(|_| {
            Flags::spawn(
                &dir,
                &[
                    "serve",
                    file_arg,
                    "--listen",
                    "127.0.0.1:0",
                    "--tokens-file",
                    tokens_arg,
                ],
            )
        })
        .collect();
    let addrs: Vec<String> = servers.iter().map(Flags::address).collect();
    for addr in &addrs {
        wait_until("the server ready", PATIENCE, || {
            http(addr, "GET", "/readyz", "").is_some_and(|(s, _)| s == 200)
        });
    }
    // The share in shadow at the start of the ramp (it rises below).
    let in_shadow = |addr: &str| {
        users()
            .iter()
            .filter(|u| stage_at(addr, u).expect("an answer") == "shadow")
            .count()
    };
    let early = in_shadow(&addrs[0]);
    let prometheus = Prometheus::start(&dir, &addrs[0]);
    let url = format!("http://{}", prometheus.addr);
    let interval = format!("{INTERVAL_S}s");
    let mut guard = Flags::guard(&dir, file_arg, &url, &interval);
    let mut app = App::start(&dir, &file, &format!("http://{}", addrs[0]));

    // Phase 1: consistent stores, the shadow share rising.
    wait_until("the application's first records", PATIENCE, || {
        ops(&app.last(), "shadow", "read") > 0
    });
    let ramp_bound = Duration::from_secs(RAMP_S as u64) + PATIENCE;
    wait_until("everyone but the pilot in shadow", ramp_bound, || {
        in_shadow(&addrs[0]) == USERS as usize - 1
    });
    assert!(
        early < USERS as usize - 1,
        "the shadow share did not rise: {early} users in shadow at first"
    );
    eprintln!(
        "users in shadow: {early} of {} at the ramp's start, then all of them",
        USERS - 1
    );
    wait_until(
        "Prometheus sees every compared read agree",
        PATIENCE,
        || prometheus.number(&consistency_query()) == Some(1.0),
    );
    let checks = sample(&guard_metrics(&guard), "flags_guard_checks_total");
    let guard_value = format!("flags_guard_value{{flag=\"{FLAG}\"}}");
    wait_until("five more rounds of the guard, reading 0", PATIENCE, || {
        let m = guard_metrics(&guard);
        sample(&m, "flags_guard_checks_total") >= checks + 5.0
            && m.contains(&format!("\n{guard_value} 0\n"))
    });
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        text,
        "{}",
        guard.log()
    );
    assert!(audit(&file).is_empty(), "{:?}", audit(&file));
    let before = app.last();
    assert_eq!(before["errors"], 0, "{}", app.log());
    assert_eq!(before["reporter"]["failures"], 0, "{before}");
    for stage in ["shadow", "live"] {
        assert_eq!(
            before["recorded"]["by"][format!("{FLAG} {stage} read")]["inconsistent"],
            0,
            "{before}"
        );
    }
    // Who was where, by the reference, on the file as it was.
    let now = at(flags_core::now().unix_millis());
    assert_eq!(
        reference_stages(&dir, &text, &now),
        everyone("live", "shadow")
    );

    // Phase 2: the new store drifts.
    let injected = Instant::now();
    let changed = php(&dir, &["inject", dir.to_str().expect("utf-8")]);
    assert_eq!(changed.trim(), format!(r#"{{"changed":{USERS}}}"#));
    let mut dropped: Option<(Duration, f64)> = None;
    let mut rolled_back: Option<Duration> = None;
    let mut everywhere: Option<Duration> = None;
    let sample_users = ["1", "2", PILOT, "100", "199", "200"];
    while dropped.is_none() || rolled_back.is_none() || everywhere.is_none() {
        assert!(
            injected.elapsed() < PATIENCE * 2,
            "after {:?}: consistency drop {dropped:?}, rollback {rolled_back:?}, every server \
             {everywhere:?}\nguard:\n{}\napp:\n{}",
            injected.elapsed(),
            guard.log(),
            app.log()
        );
        if dropped.is_none() {
            if let Some(v) = prometheus
                .number(&consistency_query())
                .filter(|v| *v < 0.99)
            {
                dropped = Some((injected.elapsed(), v));
            }
        }
        if rolled_back.is_none() && std::fs::read_to_string(&file).expect("read") != text {
            rolled_back = Some(injected.elapsed());
        }
        if everywhere.is_none()
            && addrs.iter().all(|addr| {
                sample_users
                    .iter()
                    .all(|u| stage_at(addr, u).as_deref() == Some("dualwrite"))
            })
        {
            everywhere = Some(injected.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (dropped_after, consistency) = dropped.expect("dropped");
    let rolled_back = rolled_back.expect("rolled back");
    let everywhere = everywhere.expect("every server");
    eprintln!(
        "injection to the consistency drop in Prometheus ({consistency:.3}): {} ms; to the \
         rollback in the file: {} ms; to every server answering dualwrite: {} ms (guard \
         interval {INTERVAL_S}s, for {FOR_S}s, scrape {SCRAPE_S}s)",
        dropped_after.as_millis(),
        rolled_back.as_millis(),
        everywhere.as_millis()
    );
    assert!(rolled_back <= everywhere, "{rolled_back:?} {everywhere:?}");

    // The file: next and pilot_stage back at the stage; nothing else moved.
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    let mut expected: Value = serde_json::from_str(&text).expect("json");
    expected["flags"][FLAG]["migration"] = json!({
        "stages": 6, "stage": "dualwrite", "next": "dualwrite", "pilot_stage": "dualwrite"
    });
    assert_eq!(written, expected);

    // The audit log: the guard's one record, with its query, value,
    // threshold and the stages before and after.
    let records = audit(&file);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["actor"], "guard");
    assert_eq!(
        records[0]["summary"],
        format!("{FLAG}: migration next shadow -> dualwrite, pilot_stage live -> dualwrite")
    );
    let reason = records[0]["reason"].as_str().expect("a reason");
    let value: f64 = reason
        .strip_prefix(&format!("guard of {FLAG}: value "))
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {reason}"));
    assert!(value > 0.01 && value <= 1.0, "{reason}");
    assert!(
        reason.contains(&format!(
            "above 0.01 for {FOR_S}s (query {}",
            inconsistency_query()
        )),
        "{reason}"
    );
    assert!(
        reason.ends_with(
            "; stages before: stage dualwrite, next shadow, pilot_stage live; \
             after: stage dualwrite, next dualwrite, pilot_stage dualwrite"
        ),
        "{reason}"
    );

    // Prometheus still shows the drop the guard acted on (a 1m window).
    let inconsistency = prometheus
        .number(&inconsistency_query())
        .expect("the guard's query has a value");
    assert!(inconsistency > 0.01, "{inconsistency}");

    // Every language's answer, for every user (all were in shadow, the
    // pilot in live): dualwrite.
    let all_dualwrite = everyone("dualwrite", "dualwrite");
    for addr in &addrs {
        for user in users() {
            assert_eq!(
                stage_at(addr, &user).as_deref(),
                Some("dualwrite"),
                "{addr} /v1/evaluate, user {user}"
            );
            assert_eq!(
                ofrep_at(addr, &user),
                Some(("dualwrite".to_owned(), "dualwrite".to_owned())),
                "{addr} OFREP, user {user}"
            );
        }
    }
    let mut args = vec!["stages", file_arg, FLAG];
    let ids = users();
    args.extend(ids.iter().map(String::as_str));
    let by_php: Value = serde_json::from_str(&php(&dir, &args)).expect("JSON");
    assert_eq!(by_php, all_dualwrite, "PHP (FFI)");
    assert_eq!(
        stages_in_c(&c_program, &file, &ids),
        all_dualwrite,
        "C (the C ABI)"
    );
    let now = at(flags_core::now().unix_millis());
    let rolled_text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        reference_stages(&dir, &rolled_text, &now),
        all_dualwrite,
        "the Python reference"
    );

    // The running application took the rollback too (its Flags reloads the
    // file): it stops comparing, and goes on at dualwrite.
    let compared = |line: &Value| ops(line, "shadow", "read") + ops(line, "live", "read");
    let deadline = Instant::now() + PATIENCE;
    let mut from = app.last();
    loop {
        // A second of requests later, no read was compared.
        let reads = |line: &Value| {
            ["dualwrite", "shadow", "live"]
                .iter()
                .map(|stage| ops(line, stage, "read"))
                .sum::<u64>()
        };
        let done = reads(&from);
        wait_until("a second of requests", PATIENCE, || {
            reads(&app.last()) >= done + u64::from(RATE)
        });
        let to = app.last();
        if compared(&to) == compared(&from) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the application still compares reads: {to}"
        );
        from = to;
    }
    let last = app.last();
    assert_eq!(last["errors"], 0, "{}", app.log());
    assert_eq!(last["reporter"]["failures"], 0, "{last}");
    assert_eq!(last["reporter"]["dropped"], 0, "{last}");

    // Held at its stage: the guard does not act again.
    let checks = sample(&guard_metrics(&guard), "flags_guard_checks_total");
    wait_until("three more rounds of the guard", PATIENCE, || {
        sample(&guard_metrics(&guard), "flags_guard_checks_total") >= checks + 3.0
    });
    assert_eq!(audit(&file).len(), 1, "{}", guard.log());
    assert!(guard.terminate().success(), "{}", guard.log());
}
