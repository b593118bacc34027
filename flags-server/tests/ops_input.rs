//! The operator commands refusing bad input, `flags status` and `flags diff`,
//! and a watching server picking an edit up.

mod common;

use common::cli::*;
use serde_json::Value;

// ------------------------------------------------------------- bad input

#[test]
fn bad_percentages_and_ramps_are_refused() {
    let dir = workspace("bad-values");
    let cases: [(&[&str], &str); 7] = [
        (
            &["--percentage", "12.345"],
            "flags.json: --percentage: invalid percentage \"12.345\": at most two decimals (0.01 is the smallest step)",
        ),
        (
            &["--percentage", "101"],
            "flags.json: --percentage: invalid percentage \"101\": expected a number from 0 to 100",
        ),
        (
            &["--percentage", "-5"],
            "flags.json: --percentage: invalid percentage \"-5\": expected a number from 0 to 100",
        ),
        (
            &["--percentage", "half"],
            "flags.json: --percentage: invalid percentage \"half\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
        (
            &["--ramp", "10@2026-11-21"],
            "flags.json: --ramp: invalid time `2026-11-21`: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
        ),
        (
            &["--ramp", "10"],
            "flags.json: --ramp: invalid point \"10\": expected PERCENT@TIME, such as 10@2026-11-21T00:00:00Z",
        ),
        (
            &["--ramp", "10@2026-11-22T00:00:00Z,100@2026-11-21T00:00:00Z"],
            "flags.json: ramp times must strictly increase: 2026-11-21T00:00:00Z is not after 2026-11-22T00:00:00Z",
        ),
    ];
    for (option, message) in cases {
        let mut args = vec!["set", "flags.json", "enrollment_service"];
        args.extend_from_slice(option);
        assert_fails(&flags_in(&dir, &args), message);
    }
    assert_eq!(read(&dir), EXAMPLE);
    assert!(audit(&dir).is_empty());
}

#[test]
fn unknown_and_existing_flags_are_refused() {
    let dir = workspace("bad-flags");
    assert_fails(
        &flags_in(&dir, &["kill", "flags.json", "enrolment_service"]),
        "flags.json: no flag named \"enrolment_service\"; did you mean \"enrollment_service\"?",
    );
    assert_fails(
        &flags_in(&dir, &["delete", "flags.json", "checkout"]),
        "flags.json: no flag named \"checkout\"",
    );
    assert_fails(
        &flags_in(&dir, &["create", "flags.json", "enrollment_service"]),
        "flags.json: flag \"enrollment_service\" already exists",
    );
    assert_fails(
        &flags_in(&dir, &["create", "flags.json", "new checkout"]),
        "flags.json: invalid flag key \"new checkout\": expected 1 to 128 characters of A-Z a-z 0-9 _ - .",
    );
    assert_fails(
        &flags_in(
            &dir,
            &[
                "pilots",
                "flags.json",
                "enrollment_service",
                "--attribute",
                "",
                "--add",
                "1",
            ],
        ),
        "flags.json: attribute names must not be empty",
    );
    assert_eq!(read(&dir), EXAMPLE);
}

#[test]
fn unreadable_invalid_and_linked_files_are_refused() {
    let dir = workspace("bad-files");
    let out = flags_in(&dir, &["kill-all", "missing.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("missing.json: cannot read: "),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        dir.join("bad.json"),
        "{\n  \"version\": 1,\n  \"flags\": {\"a\": {\"percentge\": 5}}\n}\n",
    )
    .expect("write");
    let out = flags_in(&dir, &["kill", "bad.json", "a"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "bad.json: the file is invalid, fix it first; nothing was written"
    );
    assert!(
        lines[1].starts_with("bad.json:3:19: flags.a.percentge: unknown field \"percentge\""),
        "{err}"
    );
    assert_eq!(lines.len(), 2);

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("flags.json", dir.join("link.json")).expect("symlink");
        assert_fails(
            &flags_in(&dir, &["kill-all", "link.json"]),
            "link.json is a symbolic link; flags edits only regular files (for a ConfigMap, edit its source and apply it); nothing was written",
        );
        assert_eq!(read(&dir), EXAMPLE);
        // Reading through a link is fine.
        assert_ok(&flags_in(&dir, &["status", "link.json", "--now", NOW]));
    }
}

#[test]
fn usage_errors_come_from_the_argument_parser() {
    let dir = workspace("usage");
    let both = flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "x",
            "--percentage",
            "5",
            "--ramp",
            "5@2026-11-21T00:00:00Z",
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    let neither = flags_in(&dir, &["pilots", "flags.json", "x"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        stderr(&neither).contains("--add <ID>..."),
        "{}",
        stderr(&neither)
    );
}

// --------------------------------------------------------- status & diff

#[test]
fn status_table() {
    let dir = workspace("status");
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW]);
    assert_ok(&out);
    let expected = format!(
        "flags.json: 3 flags, content hash {}, at 2026-11-21T12:00:00.000Z
global pilots (every flag): user_id 3
FLAG                  STATE    NOW                                  PILOTS                  DENY       REQUIRES                                                VARIANTS                   OWNER
community_dual_write  ramping  55% -> 100% at 2026-11-22T00:00:00Z  user_id 1, tenant_id 1  user_id 1  app_version >= 3.2.0; tenant_id not in [legacy-tenant]  control 50 / treatment 50  communities-platform
enrollment_service    partial  12.5%                                -                       -          -                                                       -                          enrollment
tenant_billing_v2     partial  25%                                  tenant_id 1             -          -                                                       -                          billing
",
        version(EXAMPLE)
    );
    assert_eq!(stdout(&out), expected);

    // Every state, and KILL_ALL said loudly.
    assert_ok(&flags_in(
        &dir,
        &["kill", "flags.json", "enrollment_service"],
    ));
    assert_ok(&flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "tenant_billing_v2",
            "--percentage",
            "100",
        ],
    ));
    assert_ok(&flags_in(&dir, &["create", "flags.json", "zz_new"]));
    let out = flags_in(
        &dir,
        &["status", "flags.json", "--now", "2026-11-23T00:00:00Z"],
    );
    let table = stdout(&out);
    let states: Vec<(&str, &str)> = table
        .lines()
        .skip(3)
        .map(|l| {
            let mut cols = l.split_whitespace();
            (cols.next().expect("key"), cols.next().expect("state"))
        })
        .collect();
    assert_eq!(
        states,
        [
            ("community_dual_write", "on"),
            ("enrollment_service", "killed"),
            ("tenant_billing_v2", "on"),
            ("zz_new", "off")
        ]
    );
    assert_ok(&flags_in(&dir, &["kill-all", "flags.json"]));
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW]);
    let table = stdout(&out);
    assert_eq!(
        table.lines().nth(1),
        Some("KILL_ALL is ON: every flag is off for everyone (`flags unkill-all` lifts it)")
    );
    assert!(
        table
            .lines()
            .skip(4)
            .all(|l| l.split_whitespace().nth(1) == Some("KILL_ALL")),
        "{table}"
    );
}

#[test]
fn status_json() {
    let dir = workspace("status-json");
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW, "--json"]);
    assert_ok(&out);
    let status: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(status["file"], "flags.json");
    assert_eq!(status["content_hash"], version(EXAMPLE));
    assert_eq!(status["now"], "2026-11-21T12:00:00.000Z");
    assert_eq!(status["kill_all"], false);
    assert_eq!(status["pilots"], serde_json::json!({"user_id": 3}));
    let flags = status["flags"].as_array().expect("list");
    assert_eq!(flags.len(), 3);
    assert_eq!(
        flags[0],
        serde_json::json!({
            "key": "community_dual_write",
            "state": "ramping",
            "percentage_now": 55,
            "basis_points_now": 5500,
            "next": {"at": "2026-11-22T00:00:00Z", "percentage": 100},
            "killed": false,
            "ramp": [
                {"at": "2026-11-21T00:00:00Z", "percentage": 10},
                {"at": "2026-11-22T00:00:00Z", "percentage": 100}
            ],
            "pilots": {"user_id": 1, "tenant_id": 1},
            "deny": {"user_id": 1},
            "requires": [
                {"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"},
                {"attribute": "tenant_id", "op": "not_in", "values": ["legacy-tenant"]}
            ],
            "variants": [{"name": "control", "weight": 50}, {"name": "treatment", "weight": 50}],
            "bucket_by": "user_id",
            "salt": "community_dual_write",
            "owner": "communities-platform",
            "description": "Dual-write community posts to the v2 store"
        })
    );
    assert_eq!(flags[1]["percentage"], 12.5);
    assert_eq!(flags[1]["percentage_now"], 12.5);
    assert_eq!(flags[1]["state"], "partial");
    assert_eq!(flags[2]["bucket_by"], "tenant_id");
}

#[test]
fn diff_in_words() {
    let dir = workspace("diff");
    let changed = EXAMPLE
        .replace("\"kill_all\": false", "\"kill_all\": true")
        .replace("\"percentage\": 12.5", "\"percentage\": 25")
        .replace("\"killed\": false", "\"killed\": true")
        .replace("\"user_id\": [\"7\"]", "\"user_id\": [\"8\", \"9\"]")
        .replace(
            "    \"tenant_billing_v2\": {\n      \"description\": \"New billing pipeline, rolled out tenant by tenant\",\n      \"owner\": \"billing\",\n      \"bucket_by\": \"tenant_id\",\n      \"pilots\": { \"tenant_id\": [\"acme\"] },\n      \"percentage\": 25\n    }",
            "    \"search_v2\": { \"percentage\": 0 }",
        );
    std::fs::write(dir.join("new.json"), &changed).expect("write");
    let out = flags_in(&dir, &["diff", "flags.json", "new.json"]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "kill_all: off -> ON\n\
         community_dual_write: killed; pilots user_id: +2 (8, 9) -1 (7)\n\
         enrollment_service: percentage 12.5% -> 25%\n\
         new flag search_v2: percentage 0%\n\
         flag tenant_billing_v2 removed\n"
    );
    // The same meaning in another layout: no changes.
    let compact: String =
        serde_json::to_string(&serde_json::from_str::<Value>(EXAMPLE).expect("json"))
            .expect("json");
    std::fs::write(dir.join("compact.json"), compact).expect("write");
    let out = flags_in(&dir, &["diff", "flags.json", "compact.json"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "no changes\n");
    // An invalid side is an error.
    std::fs::write(dir.join("empty.json"), "").expect("write");
    let out = flags_in(&dir, &["diff", "flags.json", "empty.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "empty.json:1:1: (root): empty input, expected a JSON object\n"
    );
}

// ------------------------------------------------------------ hot reload

#[test]
fn a_watching_server_picks_the_edit_up() {
    use flags_core::watch::{FileSource, WatchOptions};
    let dir = workspace("watch");
    let source = FileSource::open(dir.join("flags.json"), WatchOptions::default()).expect("watch");
    let before = source.status().reloads;
    assert_ok(&flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "75",
        ],
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let bp = source
            .snapshot()
            .flag("enrollment_service")
            .map(|f| f.basis_points_at(at(NOW)));
        if bp == Some(7500) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the edit was not picked up"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = source.status();
    assert!(status.healthy, "{:?}", status.last_error);
    assert_eq!(
        status.failures, 0,
        "the temporary file and audit log are not reloads"
    );
    assert!(status.reloads > before);
}
