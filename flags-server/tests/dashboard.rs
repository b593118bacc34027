//! The dashboard, in-process: the page and its assets (content types, the
//! Content-Security-Policy, open without a token), and `GET /v1/dashboard`
//! (tokens and scopes, percentages now and ramps, evaluation counts, the
//! audit log's tail, each guard's live reading from a fake Prometheus). The page itself is driven in a real browser by
//! `tests/dashboard/`.

mod common;
mod guard_support;

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use common::app::*;
use flags_core::Timestamp;
use flags_server::server::{AppState, Config, GuardMonitor};
use guard_support::TinyHttp;
use serde_json::{Value, json};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// Ramps whose points lie far in the past and the future, so that "now"
/// falls between two points of `ramping` whatever the clock says.
const RAMPS: &str = r#"{
  "version": 1,
  "flags": {
    "ramping": {"ramp": [
      {"at": "2020-01-01T00:00:00Z", "percentage": 10},
      {"at": "2021-01-01T00:00:00+01:00", "percentage": 50},
      {"at": "2999-01-01T00:00:00Z", "percentage": 100}
    ]},
    "scheduled": {"ramp": [{"at": "2999-06-01T00:00:00Z", "percentage": 5}]},
    "done": {"ramp": [{"at": "2020-01-01T00:00:00Z", "percentage": 1}, {"at": "2020-01-02T00:00:00Z", "percentage": 33.33}]},
    "killed": {"killed": true, "percentage": 100},
    "on": {"percentage": 100},
    "off": {"pilots": {"user_id": ["7"]}}
  }
}"#;

fn millis(text: &str) -> i64 {
    Timestamp::parse_rfc3339(text).expect("time").unix_millis()
}

/// `p0 + floor((p1 - p0) * (now - t0) / (t1 - t0))`, by hand: the ramp
/// formula of docs/bucketing.md.
fn between(now: i64, (t0, p0): (i64, i64), (t1, p1): (i64, i64)) -> i64 {
    p0 + ((p1 - p0) * (now - t0)).div_euclid(t1 - t0)
}

fn flag<'a>(dashboard: &'a Value, key: &str) -> &'a Value {
    dashboard["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {dashboard}"))
}

#[tokio::test]
async fn the_page_and_its_assets_carry_a_strict_policy_and_need_no_token() {
    let (state, _, _) = state_with(FILE, &["srv-token"]);
    for (uri, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
    ] {
        let reply = call(&state, get(uri)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.header(header::CONTENT_TYPE), Some(kind), "{uri}");
        assert_eq!(
            reply.header(header::CONTENT_SECURITY_POLICY),
            Some(CSP),
            "{uri}"
        );
        assert_eq!(
            reply.header(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff")
        );
        assert!(!reply.body.is_empty());
    }
    // Unknown assets are the API's JSON 404, not the page.
    let reply = call(&state, get("/dashboard/nope.js")).await;
    assert_eq!(
        json_error(&reply, StatusCode::NOT_FOUND),
        "no such endpoint"
    );
}

#[tokio::test]
async fn the_page_has_no_inline_script_or_style_and_never_writes_html() {
    let (state, _, _) = state_with(FILE, &[]);
    let html = call(&state, get("/")).await.text();
    // The policy would block them: the page must not need them.
    assert!(!html.contains("<style"), "inline style element");
    assert!(!html.contains(" style="), "style attribute");
    let handler = html.match_indices(" on").find(|(at, _)| {
        let name = &html[at + 1..];
        let end = name
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(name.len());
        name[end..].starts_with('=')
    });
    assert_eq!(handler, None, "event handler attribute");
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').expect("tag end")];
        assert!(
            tag.contains("src=\"/dashboard/app.js\""),
            "inline script: {tag}"
        );
        assert!(script[script.find('>').expect("tag end") + 1..].starts_with("</script>"));
    }
    let js = call(&state, get("/dashboard/app.js")).await.text();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    assert!(js.contains("\"/v1/stream\"") || js.contains("'/v1/stream'"));
}

#[tokio::test]
async fn the_data_needs_a_server_token() {
    let (state, _, _) = state_with(FILE, &["srv-token", "app-token client"]);
    let reply = call(&state, get("/v1/dashboard")).await;
    assert_eq!(
        json_error(&reply, StatusCode::UNAUTHORIZED),
        "a valid bearer token is required: Authorization: Bearer <token>"
    );
    let mut request = get("/v1/dashboard");
    request.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer app-token".parse().expect("header"),
    );
    let reply = call(&state, request).await;
    assert_eq!(
        json_error(&reply, StatusCode::FORBIDDEN),
        "this token has the `client` scope, which allows only evaluation \
         (POST /v1/evaluate, POST /ofrep/v1/evaluate/flags[/KEY], GET /v1/stream) \
         and POST /v1/migrations; GET /v1/dashboard needs a `server` token"
    );
    let mut request = get("/v1/dashboard");
    request.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer srv-token".parse().expect("header"),
    );
    let reply = call(&state, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
}

#[tokio::test]
async fn ramps_and_percentages_now_match_the_ramp_formula() {
    let (state, _, _) = state_with(RAMPS, &[]);
    let before = flags_core::now().unix_millis();
    let reply = call(&state, get("/v1/dashboard")).await;
    let after = flags_core::now().unix_millis();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let now = millis(body["now"].as_str().expect("now"));
    assert!(
        (before..=after).contains(&now),
        "{now} not in {before}..={after}"
    );

    let ramping = flag(&body, "ramping");
    let from = (millis("2021-01-01T00:00:00+01:00"), 5000);
    let to = (millis("2999-01-01T00:00:00Z"), 10_000);
    assert_eq!(ramping["basis_points"], between(now, from, to));
    assert_eq!(ramping["state"], "ramping");
    assert_eq!(
        ramping["ramp"],
        json!([
            {"at": "2020-01-01T00:00:00Z", "at_ms": 1_577_836_800_000_i64, "basis_points": 1000, "percentage": 10.0},
            {"at": "2021-01-01T00:00:00+01:00", "at_ms": 1_609_455_600_000_i64, "basis_points": 5000, "percentage": 50.0},
            {"at": "2999-01-01T00:00:00Z", "at_ms": to.0, "basis_points": 10_000, "percentage": 100.0}
        ])
    );
    assert_eq!(ramping["next"]["at"], "2999-01-01T00:00:00Z");

    let scheduled = flag(&body, "scheduled");
    assert_eq!(
        (
            &scheduled["state"],
            &scheduled["basis_points"],
            &scheduled["next"]["basis_points"]
        ),
        (&json!("scheduled"), &json!(0), &json!(500))
    );
    let done = flag(&body, "done");
    assert_eq!(
        (
            &done["state"],
            &done["basis_points"],
            &done["percentage"],
            &done["next"]
        ),
        (&json!("partial"), &json!(3333), &json!(33.33), &Value::Null)
    );
    for (key, state, bp) in [
        ("killed", "killed", 10_000),
        ("on", "on", 10_000),
        ("off", "pilots_only", 0),
    ] {
        let view = flag(&body, key);
        assert_eq!(
            (&view["state"], &view["basis_points"]),
            (&json!(state), &json!(bp)),
            "{key}"
        );
        assert_eq!(view["ramp"], json!([]), "{key}");
    }
    // Sorted by key, as /v1/flags lists them.
    let keys: Vec<&str> = body["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn kill_all_is_the_state_of_every_flag() {
    let file = r#"{"version": 1, "kill_all": true, "flags": {"on": {"percentage": 100}}}"#;
    let (state, _, _) = state_with(file, &[]);
    let body = call(&state, get("/v1/dashboard")).await.json();
    assert_eq!(body["kill_all"], true);
    assert_eq!(flag(&body, "on")["state"], "kill_all");
}

/// Migration flags: one ramping to `shadow` with pilots at `live` (and
/// the file's own pilot), one with a paused ramp, one killed, one held at
/// its stage; and an on/off flag.
const MIGRATIONS: &str = r#"{
  "version": 1,
  "pilots": {"user_id": ["1"]},
  "flags": {
    "orders_reads": {
      "migration": {"stages": 6, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live"},
      "pilots": {"user_id": ["7", "8"]},
      "ramp": [{"at": "2020-01-01T00:00:00Z", "percentage": 10},
               {"at": "2999-01-01T00:00:00Z", "percentage": 100}]},
    "paused_reads": {
      "migration": {"stages": 4, "stage": "shadow", "next": "live", "safe": "shadow"},
      "ramp": [{"at": "2020-01-01T00:00:00Z", "percentage": 10},
               {"at": "2020-01-05T00:00:00Z", "percentage": 50}],
      "paused_at": "2020-01-02T00:00:00Z"},
    "killed_reads": {
      "migration": {"stages": 6, "stage": "live", "next": "complete", "safe": "dualwrite"},
      "killed": true, "percentage": 100, "pilots": {"user_id": ["7"]}},
    "held_reads": {"migration": {"stages": 2, "stage": "off"}, "percentage": 40},
    "plain": {"percentage": 5}
  }
}"#;

const SIX: [&str; 6] = ["off", "dualwrite", "shadow", "live", "rampdown", "complete"];

#[tokio::test]
async fn a_migration_flag_shows_its_stages_and_its_stage_mix_now() {
    let (state, _, _) = state_with(MIGRATIONS, &[]);
    let body = call(&state, get("/v1/dashboard")).await.json();
    let now = millis(body["now"].as_str().expect("now"));

    // `next` gets the ramp's percentage now, `stage` the rest, the
    // pilots (two of the flag's, one of the file's) are at `live`.
    let orders = flag(&body, "orders_reads");
    let moved = between(
        now,
        (millis("2020-01-01T00:00:00Z"), 1000),
        (millis("2999-01-01T00:00:00Z"), 10_000),
    );
    assert!((1000..10_000).contains(&moved), "{moved}");
    assert_eq!(orders["basis_points"], moved, "the chart's share is next's");
    let pct = |bp: i64| bp as f64 / 100.0;
    assert_eq!(
        orders["migration"],
        json!({"stages": SIX, "stage": "dualwrite", "next": "shadow", "pilot_stage": "live",
               "safe": "off", "pilots": 3,
               "mix": [{"stage": "dualwrite", "basis_points": 10_000 - moved, "percentage": pct(10_000 - moved)},
                       {"stage": "shadow", "basis_points": moved, "percentage": pct(moved)}]})
    );

    // A paused ramp: by hand, 10 % + 40 % * 1 day / 4 days = 20 %, now
    // and for as long as it stays paused.
    assert_eq!(
        flag(&body, "paused_reads")["migration"],
        json!({"stages": ["off", "shadow", "live", "complete"], "stage": "shadow", "next": "live",
               "pilot_stage": "live", "safe": "shadow", "pilots": 1,
               "mix": [{"stage": "shadow", "basis_points": 8000, "percentage": 80.0},
                       {"stage": "live", "basis_points": 2000, "percentage": 20.0}]})
    );
    // Killed: everyone, pilots too, at `safe`.
    assert_eq!(
        flag(&body, "killed_reads")["migration"],
        json!({"stages": SIX, "stage": "live", "next": "complete", "pilot_stage": "complete",
               "safe": "dualwrite", "pilots": 0,
               "mix": [{"stage": "dualwrite", "basis_points": 10_000, "percentage": 100.0}]})
    );
    // `next` unset is `stage`: the percentage moves nobody.
    assert_eq!(
        flag(&body, "held_reads")["migration"],
        json!({"stages": ["off", "complete"], "stage": "off", "next": "off", "pilot_stage": "off",
               "safe": "off", "pilots": 1,
               "mix": [{"stage": "off", "basis_points": 10_000, "percentage": 100.0}]})
    );
    assert_eq!(flag(&body, "plain")["migration"], Value::Null);
}

#[tokio::test]
async fn kill_all_sends_every_migration_flag_to_its_safe_stage() {
    let file = MIGRATIONS.replacen(r#""version": 1,"#, r#""version": 1, "kill_all": true,"#, 1);
    let (state, _, _) = state_with(&file, &[]);
    let body = call(&state, get("/v1/dashboard")).await.json();
    for (key, safe) in [
        ("orders_reads", "off"),
        ("paused_reads", "shadow"),
        ("killed_reads", "dualwrite"),
        ("held_reads", "off"),
    ] {
        let m = &flag(&body, key)["migration"];
        assert_eq!(
            (&m["mix"], &m["pilots"]),
            (
                &json!([{"stage": safe, "basis_points": 10_000, "percentage": 100.0}]),
                &json!(0)
            ),
            "{key}"
        );
    }
}

#[tokio::test]
async fn evaluation_counts_are_the_servers_own_counters() {
    let (state, _, _) = state_with(FILE, &[]);
    let body = call(&state, get("/v1/dashboard")).await.json();
    assert_eq!(flag(&body, "half")["evaluations"], json!([]));
    for context in [r#"{"user_id": "1"}"#, r#"{"user_id": "1"}"#, r#"{}"#] {
        let reply = call(
            &state,
            post("/v1/evaluate", format!(r#"{{"context": {context}}}"#)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let reply = call(
        &state,
        post(
            "/v1/evaluate",
            r#"{"context": {}, "flags": ["nope", "killed"]}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = call(&state, get("/v1/dashboard")).await.json();
    // user 1 is a global pilot; the empty context has no user_id.
    assert_eq!(
        flag(&body, "half")["evaluations"],
        json!([
            {"reason": "PILOT", "enabled": true, "count": 2},
            {"reason": "MISSING_BUCKET_KEY", "enabled": false, "count": 1}
        ])
    );
    assert_eq!(
        flag(&body, "killed")["evaluations"],
        json!([{"reason": "KILLED", "enabled": false, "count": 4}])
    );
    assert_eq!(
        body["unknown_evaluations"],
        json!([{"reason": "FLAG_NOT_FOUND", "enabled": false, "count": 1}])
    );
}

#[tokio::test]
async fn the_audit_log_is_read_from_its_end_newest_first() {
    let (state, _, path) = state_with(FILE, &[]);
    let body = call(&state, get("/v1/dashboard")).await.json();
    let log = flags_core::edit::default_audit_log(&path);
    assert_eq!(body["audit"]["available"], true);
    assert_eq!(body["audit"]["path"], log.display().to_string());
    assert_eq!(body["audit"]["records"], json!([]));
    assert_eq!(
        body["audit"]["note"],
        "no edit has been recorded yet: the log does not exist"
    );

    let record = |n: usize| {
        json!({"time": format!("2026-12-03T10:{:02}:{:02}Z", n / 60, n % 60), "actor": "ops",
               "command": "flags set flags.json half 60", "file": path.display().to_string(),
               "before": "a", "after": "b", "summary": format!("edit {n}"),
               "query": "rate(errors[5m])"})
    };
    let mut text = String::new();
    for n in 0..3 {
        text.push_str(&record(n).to_string());
        text.push('\n');
    }
    text.push_str("not json\n");
    std::fs::write(&log, &text).expect("write the log");
    let body = call(&state, get("/v1/dashboard")).await.json();
    let audit = &body["audit"];
    assert_eq!(audit["records"], json!([record(2), record(1), record(0)]));
    assert_eq!(
        (&audit["unreadable"], &audit["truncated"], &audit["note"]),
        (&json!(1), &json!(false), &Value::Null)
    );

    // A long log: only its end is read, and only the newest 100 records.
    let mut text = String::new();
    let mut n = 0;
    while text.len() < 400 * 1024 {
        text.push_str(&record(n).to_string());
        text.push('\n');
        n += 1;
    }
    std::fs::write(&log, &text).expect("write the log");
    let body = call(&state, get("/v1/dashboard")).await.json();
    let records = body["audit"]["records"].as_array().expect("records");
    assert_eq!(records.len(), 100);
    assert_eq!(records[0], record(n - 1));
    assert_eq!(records[99], record(n - 100));
    assert_eq!(
        (&body["audit"]["truncated"], &body["audit"]["unreadable"]),
        (&json!(true), &json!(0))
    );

    // A directory where the log should be: said, not an error answer.
    std::fs::remove_file(&log).expect("remove");
    std::fs::create_dir(&log).expect("dir");
    let reply = call(&state, get("/v1/dashboard")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["audit"]["note"],
        "the audit log is not a regular file"
    );
}

#[test]
fn a_relay_says_it_has_no_audit_log_and_serves_the_origins_flags() {
    let dir = common::temp_dir("dashboard-relay");
    let file = dir.join("flags.json");
    common::write_atomic(&file, RAMPS);
    std::fs::write(
        flags_core::edit::default_audit_log(&file),
        "{\"time\":\"2026-12-03T10:00:00Z\",\"actor\":\"ops\",\"summary\":\"x\"}\n",
    )
    .expect("audit log");
    let origin = common::Server::start(&file, &[], None);
    let url = format!("http://{}", origin.addr);
    let relay = common::Server::spawn(&["--upstream", &url, "--listen", "127.0.0.1:0"], None);
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let body = loop {
        let reply = relay.request("GET", "/v1/dashboard", "");
        if reply.status == 200 {
            break reply.json();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay is not ready: {}",
            relay.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        body["audit"],
        json!({"available": false, "path": null, "records": [], "unreadable": 0, "truncated": false,
               "note": "this server is a relay: it has no flag file, so no audit log; \
                        the origin server's dashboard shows it"})
    );
    assert_eq!(flag(&body, "ramping")["state"], "ramping");
    // The origin reads the log beside its file.
    let origin_body = origin.json("/v1/dashboard");
    assert_eq!(origin_body["audit"]["records"][0]["actor"], "ops");
    // (The relay's version names the JSON it received, not the file.)
    assert_eq!(
        origin_body["flags"].as_array().map(Vec::len),
        body["flags"].as_array().map(Vec::len)
    );
}

/// A guarded ramp paused at a fixed time, a guarded flag killed, and a
/// guarded flag a person edited after its guard.
const GUARDED: &str = r#"{
  "version": 1,
  "flags": {
    "paused": {
      "ramp": [
        {"at": "2020-01-01T00:00:00Z", "percentage": 10},
        {"at": "2020-01-05T00:00:00Z", "percentage": 50},
        {"at": "2999-01-01T00:00:00Z", "percentage": 100}
      ],
      "paused_at": "2020-01-02T00:00:00Z",
      "guard": {"query": "sum(rate(errors_total[5m])) <b>", "above": 0.05, "for": "2m", "action": "pause"}
    },
    "killed": {"killed": true, "percentage": 100,
               "guard": {"query": "up", "below": 1, "for": "30s", "action": "kill"}},
    "lifted": {"killed": true, "percentage": 50,
               "guard": {"query": "up", "below": 1, "for": "1h", "action": "kill"}},
    "plain": {"percentage": 5},
    "rolled": {"migration": {"stages": 6, "stage": "dualwrite", "next": "dualwrite", "pilot_stage": "dualwrite"},
               "percentage": 10,
               "guard": {"query": "ratio", "above": 0.01, "for": "1m", "action": "rollback"}},
    "held": {"migration": {"stages": 4, "stage": "shadow"}, "percentage": 10,
             "guard": {"query": "ratio", "above": 0.01, "for": "1m", "action": "rollback"}}
  }
}"#;

#[tokio::test]
async fn guards_and_paused_ramps_are_structured_data() {
    let (state, _, path) = state_with(GUARDED, &[]);
    let log = flags_core::edit::default_audit_log(&path);
    let records = [
        json!({"time": "2026-12-03T10:00:00Z", "actor": "guard", "summary": "lifted: killed",
               "reason": "guard of lifted: value 0 below 1 for 1h"}),
        json!({"time": "2026-12-03T10:01:00Z", "actor": "ops", "summary": "lifted: unkilled; killed"}),
        json!({"time": "2026-12-03T10:02:00Z", "actor": "guard", "summary": "killed: killed",
               "reason": "guard of killed: value 0 below 1 for 30s (query up, held 31.0s)"}),
        json!({"time": "2026-12-03T10:03:00Z", "actor": "guard",
               "summary": "paused: ramp paused at 2020-01-02T00:00:00Z (20%)",
               "reason": "guard of paused: value 0.09 above 0.05 for 2m"}),
        json!({"time": "2026-12-03T10:04:00Z", "actor": "ops", "summary": "plain: percentage 1% -> 5%"}),
        json!({"time": "2026-12-03T10:05:00Z", "actor": "guard",
               "summary": "rolled: migration next shadow -> dualwrite, pilot_stage live -> dualwrite",
               "reason": "guard of rolled: value 0.2 above 0.01 for 1m"}),
        json!({"time": "2026-12-03T10:06:00Z", "actor": "ops", "summary": "held: migration stage off -> shadow"}),
    ];
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&log, text).expect("write the log");
    let body = call(&state, get("/v1/dashboard")).await.json();

    let paused = flag(&body, "paused");
    // By hand: 10 % + 40 % * 1 day / 4 days.
    let at = millis("2020-01-02T00:00:00Z");
    let frozen = between(
        at,
        (millis("2020-01-01T00:00:00Z"), 1000),
        (millis("2020-01-05T00:00:00Z"), 5000),
    );
    assert_eq!(frozen, 2000);
    assert_eq!(
        (&paused["state"], &paused["basis_points"], &paused["next"]),
        (&json!("paused"), &json!(frozen), &Value::Null)
    );
    assert_eq!(
        paused["paused"],
        json!({"at": "2020-01-02T00:00:00Z", "at_ms": at, "basis_points": 2000, "percentage": 20.0})
    );
    assert_eq!(
        paused["guard"],
        json!({"query": "sum(rate(errors_total[5m])) <b>", "comparison": "above", "threshold": 0.05,
               "threshold_text": "0.05", "for": "2m", "for_seconds": 120, "action": "pause",
               "now": null})
    );
    assert_eq!(
        paused["by_guard"],
        json!({"action": "pause", "time": "2026-12-03T10:03:00Z",
               "summary": "paused: ramp paused at 2020-01-02T00:00:00Z (20%)",
               "reason": "guard of paused: value 0.09 above 0.05 for 2m"})
    );

    let killed = flag(&body, "killed");
    assert_eq!(killed["state"], "killed");
    assert_eq!(
        (
            &killed["guard"]["comparison"],
            &killed["guard"]["threshold"],
            &killed["guard"]["for_seconds"]
        ),
        (&json!("below"), &json!(1.0), &json!(30))
    );
    assert_eq!(killed["by_guard"]["action"], "kill");
    assert_eq!(
        killed["by_guard"]["reason"],
        "guard of killed: value 0 below 1 for 30s (query up, held 31.0s)"
    );
    // A person edited it after the guard: the guard is not the one to ask.
    assert_eq!(flag(&body, "lifted")["by_guard"], Value::Null);
    // A rollback guard leaves its migration flag held at its stage.
    assert_eq!(
        flag(&body, "rolled")["by_guard"],
        json!({"action": "rollback", "time": "2026-12-03T10:05:00Z",
               "summary": "rolled: migration next shadow -> dualwrite, pilot_stage live -> dualwrite",
               "reason": "guard of rolled: value 0.2 above 0.01 for 1m"})
    );
    assert_eq!(flag(&body, "rolled")["guard"]["action"], "rollback");
    // Held by a person: not a guard's doing.
    assert_eq!(flag(&body, "held")["by_guard"], Value::Null);
    let plain = flag(&body, "plain");
    assert_eq!(
        (&plain["guard"], &plain["paused"], &plain["by_guard"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
}

/// Guards against a fake Prometheus: one crossed, one fine, one whose
/// query answers no series, one on a flag killed already.
const LIVE: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": {"percentage": 100,
      "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2m", "action": "kill"}},
    "search": {"percentage": 50,
      "guard": {"query": "search_success_ratio", "below": 0.99, "for": "1m", "action": "pause"}},
    "fresh": {"percentage": 10,
      "guard": {"query": "not_scraped_yet", "above": 1, "for": "30s", "action": "kill"}},
    "stopped": {"killed": true, "percentage": 100,
      "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2m", "action": "kill"}},
    "plain": {"percentage": 5}
  }
}"#;

/// A Prometheus instant-query answer: one sample of `value`, or none.
fn vector(value: Option<&str>) -> String {
    let result = value.map_or(String::new(), |v| {
        format!(r#"{{"metric":{{}},"value":[1700000000,"{v}"]}}"#)
    });
    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}"#)
}

/// A fake Prometheus answering the queries of [`LIVE`].
fn fake_prometheus() -> TinyHttp {
    TinyHttp::start(|_, target| {
        let query = target.split_once("query=").map_or("", |(_, q)| q);
        let body = match query {
            "checkout_error_ratio" => vector(Some("0.09")),
            "search_success_ratio" => vector(Some("0.995")),
            _ => vector(None),
        };
        (200, body)
    })
}

fn live_state(url: &str) -> AppState {
    let monitor = GuardMonitor::new(url)
        .expect("a Prometheus URL")
        .every(Duration::from_millis(200));
    state_with_config(
        LIVE,
        Config {
            guard_monitor: Some(monitor),
            ..Config::default()
        },
    )
}

/// `/v1/dashboard` once `done` holds of it, polled within the tests'
/// patience; every answer is a 200, reading or not.
async fn dashboard_when(state: &AppState, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let reply = call(state, get("/v1/dashboard")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {:?}: {body}",
            common::PATIENCE
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn without_prometheus_the_dashboard_says_how_to_see_live_values() {
    let body = call(
        &state_with_config(LIVE, Config::default()),
        get("/v1/dashboard"),
    )
    .await
    .json();
    assert_eq!(
        body["monitor"],
        json!({"prometheus": null, "every_seconds": null, "read_at": null, "version": null,
               "recommendation": null,
               "note": "start flags serve with --prometheus URL to see each guard's live value"})
    );
    assert_eq!(flag(&body, "checkout")["guard"]["now"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_guard_shows_its_live_value_against_its_threshold() {
    let prometheus = fake_prometheus();
    let url = format!("http://{}", prometheus.addr);
    let state = live_state(&url);
    let body = dashboard_when(&state, "a first reading", |b| {
        !b["monitor"]["read_at"].is_null()
    })
    .await;
    assert_eq!(body["monitor"]["prometheus"], url.as_str());
    assert_eq!(body["monitor"]["version"], body["version"]);
    assert_eq!(body["monitor"]["note"], Value::Null);

    // 0.09 is above 0.05: crossed.
    let checkout = &flag(&body, "checkout")["guard"]["now"];
    assert_eq!(
        (
            &checkout["value"],
            &checkout["crossed"],
            &checkout["no_data"],
            &checkout["done"]
        ),
        (&json!(0.09), &json!(true), &Value::Null, &json!(false)),
        "{checkout}"
    );
    assert_eq!(checkout["query"], "checkout_error_ratio");
    assert!(
        checkout["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("CROSSED")),
        "{checkout}"
    );
    // 0.995 is not below 0.99: fine.
    let search = &flag(&body, "search")["guard"]["now"];
    assert_eq!(
        (&search["value"], &search["crossed"], &search["status"]),
        (&json!(0.995), &json!(false), &json!("ok"))
    );
    // No series: no data, and why.
    let fresh = &flag(&body, "fresh")["guard"]["now"];
    assert_eq!(
        (&fresh["value"], &fresh["crossed"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(
        fresh["no_data"],
        "the query answered no series (is the metric scraped yet?) (empty)"
    );
    assert_eq!(
        fresh["status"],
        "NO DATA: the query answered no series (is the metric scraped yet?) (empty)"
    );
    // Killed already: the guard stands by.
    let stopped = &flag(&body, "stopped")["guard"]["now"];
    assert_eq!(
        (&stopped["done"], &stopped["status"]),
        (&json!(true), &json!("done: the flag is off"))
    );
    assert_eq!(flag(&body, "plain")["guard"], Value::Null);
    let line = body["monitor"]["recommendation"]
        .as_str()
        .expect("a recommendation");
    assert!(
        line.starts_with("GUARD CROSSED on checkout: 0.09 above 0.05"),
        "{line}"
    );
    assert!(line.contains("kill"), "{line}");

    // The background reading keeps going and remembers since when the
    // value has been crossed.
    let body = dashboard_when(&state, "checkout seen crossed for a while", |b| {
        flag(b, "checkout")["guard"]["now"]["seen_crossed_for_seconds"]
            .as_f64()
            .is_some_and(|s| s >= 0.3)
    })
    .await;
    let status = flag(&body, "checkout")["guard"]["now"]["status"].clone();
    assert!(
        status
            .as_str()
            .is_some_and(|s| s.starts_with("CROSSED, seen for ")),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_is_read_at_once_and_an_older_reading_is_never_shown_for_it() {
    let prometheus = fake_prometheus();
    let path = temp_file(LIVE);
    let source = flags_core::watch::FileSource::open(
        &path,
        flags_core::watch::WatchOptions {
            watch_events: false,
            poll_interval: Duration::ZERO,
            ..flags_core::watch::WatchOptions::default()
        },
    )
    .expect("valid file");
    // A minute between readings: only the reload can bring the next one
    // within the tests' patience.
    let monitor = GuardMonitor::new(&format!("http://{}", prometheus.addr))
        .expect("a Prometheus URL")
        .every(Duration::from_secs(60));
    let state = AppState::new(
        source.clone(),
        Config {
            guard_monitor: Some(monitor),
            ..Config::default()
        },
    );
    let first = dashboard_when(&state, "a first reading", |b| {
        !b["monitor"]["read_at"].is_null()
    })
    .await;
    assert_eq!(flag(&first, "plain")["guard"], Value::Null);

    // plain gets a guard that 0.995 crosses.
    let edited = LIVE.replace(
        r#""plain": {"percentage": 5}"#,
        r#""plain": {"percentage": 5, "guard": {"query": "search_success_ratio", "above": 0.9, "for": "1m", "action": "kill"}}"#,
    );
    std::fs::write(&path, edited).expect("edit");
    assert!(source.reload_now().expect("a good file"));
    let body = dashboard_when(&state, "a reading of the new version", |b| {
        if b["monitor"]["version"] == b["version"] {
            return true;
        }
        // Until then, the older reading is not passed off as this one's.
        let plain = &flag(b, "plain")["guard"];
        assert_eq!(plain["now"], Value::Null, "{b}");
        assert_eq!(b["monitor"]["recommendation"], Value::Null, "{b}");
        false
    })
    .await;
    assert_ne!(body["version"], first["version"]);
    let plain = &flag(&body, "plain")["guard"]["now"];
    assert_eq!(
        (&plain["value"], &plain["crossed"]),
        (&json!(0.995), &json!(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_prometheus_is_no_data_never_an_error() {
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let state = live_state(&url);
    let body = dashboard_when(&state, "a first reading", |b| {
        !b["monitor"]["read_at"].is_null()
    })
    .await;
    for key in ["checkout", "search", "fresh"] {
        let now = &flag(&body, key)["guard"]["now"];
        assert_eq!(
            (&now["value"], &now["crossed"]),
            (&Value::Null, &json!(false)),
            "{key}"
        );
        let why = now["no_data"].as_str().expect("a reason");
        assert!(
            why.starts_with(&format!("Prometheus at {url}/api/v1/query is unreachable"))
                && why.ends_with("(unreachable)"),
            "{key}: {why}"
        );
    }
    assert_eq!(
        body["monitor"]["recommendation"],
        "NO DATA for the guard of checkout, fresh, search: it cannot act; check the query and Prometheus"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_that_never_answers_never_holds_the_dashboard() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let state = live_state(&url);
    // While the first reading waits for Prometheus (up to 2 s), the
    // dashboard answers at once, saying so.
    let started = Instant::now();
    let reply = call(&state, get("/v1/dashboard")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    if started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            body["monitor"]["note"],
            "asking Prometheus: the first reading is on its way"
        );
        assert_eq!(flag(&body, "checkout")["guard"]["now"], Value::Null);
    }
    let body = dashboard_when(&state, "a reading given up on", |b| {
        !b["monitor"]["read_at"].is_null()
    })
    .await;
    let why = flag(&body, "checkout")["guard"]["now"]["no_data"]
        .as_str()
        .expect("a reason")
        .to_owned();
    assert!(why.ends_with("(unreachable)"), "{why}");
    drop(silent);
}

#[test]
fn flags_serve_checks_the_prometheus_url_and_refuses_it_for_a_relay() {
    let dir = common::temp_dir("dashboard-prometheus-options");
    let file = dir.join("flags.json");
    common::write_atomic(&file, LIVE);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flags"))
            .arg("serve")
            .args(args)
            .output()
            .expect("flags runs")
    };
    let file_arg = file.to_str().expect("a UTF-8 path");
    let out = run(&[
        file_arg,
        "--listen",
        "127.0.0.1:0",
        "--prometheus",
        "ftp://x",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "flags serve: --prometheus ftp://x/: expected an http:// or https:// URL"
    );
    let out = run(&[
        "--upstream",
        "http://127.0.0.1:1",
        "--prometheus",
        "http://127.0.0.1:9090",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--prometheus") && stderr.contains("--upstream"),
        "{stderr}"
    );
}

#[test]
fn flags_serve_reads_the_guards_from_the_start() {
    let prometheus = fake_prometheus();
    let dir = common::temp_dir("dashboard-prometheus-serve");
    let file = dir.join("flags.json");
    common::write_atomic(&file, LIVE);
    let url = format!("http://{}", prometheus.addr);
    let server = common::Server::start(&file, &["--prometheus", &url], None);
    server.wait_for_log("the guard reader starting", |log| {
        log.contains("the dashboard reads every guard's query from Prometheus")
    });
    let deadline = Instant::now() + common::PATIENCE;
    let body = loop {
        let body = server.json("/v1/dashboard");
        if !body["monitor"]["read_at"].is_null() {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no reading: {body}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(flag(&body, "checkout")["guard"]["now"]["crossed"], true);
    assert_eq!(body["monitor"]["every_seconds"], 5.0);
    let line = body["monitor"]["recommendation"].as_str().expect("a line");
    // The file as the server was given it.
    assert!(
        line.ends_with(&format!(
            "or run `flags kill {} checkout` now",
            file.display()
        )),
        "{line}"
    );
}
