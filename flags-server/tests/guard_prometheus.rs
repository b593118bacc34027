//! The proof with a real Prometheus (Debian's `prometheus`, started here on
//! loopback, scraping an exporter this test serves every second): a low
//! error rate changes nothing; a high one pauses a live ramp at the
//! percentage the reference implementation computes, and kills a flag on
//! every server within interval + `for` + one scrape (the time is printed:
//! docs/benchmarks.md quotes it); with Prometheus stopped nothing happens,
//! and the guard says why. Without `prometheus` installed this test fails.

mod guard_support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flags_core::Timestamp;
use guard_support::prometheus::{Prometheus, SCRAPE_S};
use guard_support::*;
use serde_json::Value;

/// Interval and `for` of the guards under test (Prometheus scrapes every
/// `SCRAPE_S`).
const INTERVAL_S: u64 = 1;
const FOR_S: u64 = 2;

fn query(flag: &str) -> String {
    format!("max(app_error_ratio{{flag=\"{flag}\"}})")
}

fn at(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).to_string()
}

fn now_ms() -> i64 {
    flags_core::now().unix_millis()
}

/// Asks the Python reference (tests/reference/flags_ref.py) for the
/// effective percentage of `flag` in `file` at `when`, and for two ids: one
/// whose bucket is just under it and one whose bucket is at or a little
/// over it.
fn reference(file: &Path, flag: &str, when: &str) -> (i64, String, String) {
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
import flags_ref as r
ff = r.load_file(open(sys.argv[2], encoding="utf-8").read())
flag = ff.flags[sys.argv[3]]
bp = r.effective_bp(flag, r.parse_rfc3339_ms(sys.argv[4]))
under = next(f"u{i}" for i in range(100000) if bp - 40 <= r.bucket_of(flag.salt, f"u{i}") < bp)
over = next(f"u{i}" for i in range(100000) if bp <= r.bucket_of(flag.salt, f"u{i}") < bp + 20)
print(bp, under, over)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root().join("tests/reference"))
        .arg(file)
        .arg(flag)
        .arg(when)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    let bp = words.next().and_then(|w| w.parse().ok()).expect("bp");
    (
        bp,
        words.next().expect("id").to_owned(),
        words.next().expect("id").to_owned(),
    )
}

/// Whether `flag` is on for `user` on the server at `addr`.
fn enabled(addr: &str, flag: &str, user: &str) -> Option<bool> {
    let body = format!(r#"{{"context": {{"user_id": "{user}"}}, "flags": ["{flag}"]}}"#);
    let (status, reply) = http(addr, "POST", "/v1/evaluate", &body)?;
    if status != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&reply).ok()?;
    json["results"][0]["enabled"].as_bool()
}

fn guard_metrics(guard: &Flags) -> String {
    http(&guard.address(), "GET", "/metrics", "")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[test]
fn guards_act_on_what_a_real_prometheus_scrapes() {
    let dir = temp_dir("guard-prometheus");
    // The exporter: one error-ratio gauge per guarded flag.
    let ratios = Arc::new(Mutex::new([0.01_f64; 3]));
    let served = ratios.clone();
    let exporter = TinyHttp::start(move |_, _| {
        let [dual, ramp, checkout] = *served.lock().expect("ratios");
        (
            200,
            format!(
                "# TYPE app_error_ratio gauge\n\
                 app_error_ratio{{flag=\"dual_write\"}} {dual}\n\
                 app_error_ratio{{flag=\"live_ramp\"}} {ramp}\n\
                 app_error_ratio{{flag=\"checkout\"}} {checkout}\n"
            ),
        )
    });
    let set = |i: usize, v: f64| ratios.lock().expect("ratios")[i] = v;
    let mut prometheus = Prometheus::start(&dir, &exporter.addr);
    for flag in ["dual_write", "live_ramp", "checkout"] {
        wait_until(&format!("Prometheus has {flag}'s ratio"), PATIENCE, || {
            prometheus.value(&query(flag)).as_deref() == Some("0.01")
        });
    }

    // A ramp from 0% a minute ago to 100% in nine minutes: 16.7 basis
    // points a second, so that a pause shows within a second or two.
    let start = now_ms();
    let guard_of = |flag: &str, action: &str| {
        format!(
            r#"{{"query": "{}", "above": 0.05, "for": "{FOR_S}s", "action": "{action}"}}"#,
            query(flag).replace('"', "\\\"")
        )
    };
    let text = format!(
        "{{\n  \"version\": 1,\n  \"flags\": {{\n\
         \"dual_write\": {{\"percentage\": 100, \"guard\": {}}},\n\
         \"live_ramp\": {{\"ramp\": [{{\"at\": \"{}\", \"percentage\": 0}}, {{\"at\": \"{}\", \"percentage\": 100}}], \"guard\": {}}},\n\
         \"checkout\": {{\"percentage\": 100, \"guard\": {}}}\n  }}\n}}\n",
        guard_of("dual_write", "kill"),
        at(start - 60_000),
        at(start + 540_000),
        guard_of("live_ramp", "pause"),
        guard_of("checkout", "kill"),
    );
    let file = dir.join("flags.json");
    std::fs::write(&file, &text).expect("write");
    let file_arg = file.to_str().expect("utf-8 path");

    let servers: Vec<Flags> = (0..2)
        .map(|_| Flags::spawn(&dir, &["serve", file_arg, "--listen", "127.0.0.1:0"]))
        .collect();
    let addrs: Vec<String> = servers.iter().map(Flags::address).collect();
    let url = format!("http://{}", prometheus.addr);
    let interval = format!("{INTERVAL_S}s");
    let mut guard = Flags::guard(&dir, file_arg, &url, &interval);

    // Low: nothing happens over several rounds.
    wait_until("five rounds with every value read", PATIENCE, || {
        let m = guard_metrics(&guard);
        sample(&m, "flags_guard_checks_total") >= 5.0
            && ["dual_write", "live_ramp", "checkout"]
                .iter()
                .all(|f| sample(&m, &format!("flags_guard_value{{flag=\"{f}\"}}")) == 0.01)
    });
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        text,
        "{}",
        guard.log()
    );
    assert!(audit(&file).is_empty());

    // High on the ramp: paused where it is.
    set(1, 0.5);
    wait_until("live_ramp paused", PATIENCE, || {
        std::fs::read_to_string(&file)
            .expect("read")
            .contains("paused_at")
    });
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    let paused_at = written["flags"]["live_ramp"]["paused_at"]
        .as_str()
        .expect("paused_at")
        .to_owned();
    let paused_ms = Timestamp::parse_rfc3339(&paused_at)
        .expect("a time")
        .unix_millis();
    // Computed here by hand, and by the reference, an hour later: frozen.
    let by_hand = (10_000 * (paused_ms - (start - 60_000))).div_euclid(600_000);
    let later = at(paused_ms + 3_600_000);
    let (frozen, under, over) = reference(&file, "live_ramp", &later);
    assert_eq!(frozen, by_hand, "paused at {paused_at}");
    assert!(frozen > 0 && frozen < 10_000, "{frozen}");
    // Three seconds on, an unpaused ramp would have grown past `over`'s
    // bucket (at most 20 basis points, 1.2 s); the servers keep it off.
    while now_ms() < paused_ms + 3_000 {
        std::thread::sleep(Duration::from_millis(50));
    }
    for addr in &addrs {
        wait_until("the servers serve the paused ramp", PATIENCE, || {
            enabled(addr, "live_ramp", &under) == Some(true)
                && enabled(addr, "live_ramp", &over) == Some(false)
        });
    }
    let records = audit(&file);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["actor"], "guard");
    assert!(
        records[0]["summary"]
            .as_str()
            .expect("summary")
            .starts_with("live_ramp: ramp paused at")
    );

    // High on dual_write: off on every server within interval + for + one
    // scrape (and some slack for busy machines).
    for addr in &addrs {
        assert_eq!(enabled(addr, "dual_write", "7"), Some(true));
    }
    let crossed = Instant::now();
    set(0, 0.5);
    let mut off = vec![false; addrs.len()];
    while !off.iter().all(|o| *o) {
        for (i, addr) in addrs.iter().enumerate() {
            off[i] = off[i] || enabled(addr, "dual_write", "7") == Some(false);
        }
        assert!(
            crossed.elapsed() < PATIENCE,
            "dual_write still on:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = crossed.elapsed();
    eprintln!(
        "threshold crossing to every server answering off: {} ms (interval {INTERVAL_S}s, for {FOR_S}s, scrape {SCRAPE_S}s)",
        took.as_millis()
    );
    let target = Duration::from_secs(INTERVAL_S + FOR_S + SCRAPE_S);
    assert!(took <= target + Duration::from_secs(10), "{took:?}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    assert_eq!(written["flags"]["dual_write"]["killed"], true);
    let records = audit(&file);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1]["actor"], "guard");
    assert_eq!(records[1]["summary"], "dual_write: killed");
    let reason = records[1]["reason"].as_str().expect("reason");
    assert!(reason.contains("value 0.5 above 0.05 for 2s"), "{reason}");
    assert!(reason.contains(&query("dual_write")), "{reason}");

    // Prometheus stopped: nothing happens, and the guard says why.
    prometheus.stop();
    set(2, 0.5);
    guard.wait_for_log(
        "the unreachable Prometheus",
        "no data for the guard of checkout: Prometheus at",
    );
    wait_until("five rounds without data", PATIENCE, || {
        sample(
            &guard_metrics(&guard),
            "flags_guard_no_data_total{flag=\"checkout\",reason=\"unreachable\"}",
        ) >= 5.0
    });
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    assert!(
        written["flags"]["checkout"].get("killed").is_none(),
        "{written}"
    );
    assert_eq!(audit(&file).len(), 2);
    for addr in &addrs {
        assert_eq!(enabled(addr, "checkout", "7"), Some(true));
    }
    assert!(guard.terminate().success());
}
