//! The edit commands (`set`, `kill`, `create`, ...), run as operators run
//! them: on temporary copies of `examples/flags.json`. Pilots, bad input and
//! status, and interrupted edits have files of their own (`ops_*.rs`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::cli::*;
use flags_core::{Context, Reason};
use serde_json::Value;

// ------------------------------------------------------------------ edits

#[test]
fn set_percentage_writes_the_number_and_an_audit_record() {
    let dir = workspace("set-percentage");
    let out = flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "25",
            "--actor",
            "release-bot",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: enrollment_service: percentage 12.5% -> 25%\n"
    );
    let after = read(&dir);
    assert_eq!(
        after,
        EXAMPLE.replace("\"percentage\": 12.5", "\"percentage\": 25")
    );
    let flag = snapshot(&dir);
    let flag = flag.flag("enrollment_service").expect("flag");
    assert_eq!(flag.basis_points_at(at(NOW)), 2500);

    let records = audit(&dir);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    let keys: Vec<&str> = r
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort_unstable();
    assert_eq!(
        sorted_keys,
        [
            "actor", "after", "before", "command", "file", "summary", "time"
        ]
    );
    assert_eq!(r["actor"], "release-bot");
    assert_eq!(
        r["command"],
        "flags set flags.json enrollment_service --percentage 25 --actor release-bot"
    );
    let file = r["file"].as_str().expect("file");
    assert!(
        Path::new(file).is_absolute() && file.ends_with("/flags.json"),
        "{file}"
    );
    assert_eq!(r["before"], version(EXAMPLE));
    assert_eq!(r["after"], version(&after));
    assert_eq!(r["summary"], "enrollment_service: percentage 12.5% -> 25%");
    let time = r["time"].as_str().expect("time");
    assert!(time.ends_with('Z'), "{time}");
    let written = at(time).unix_millis();
    let now = flags_core::now().unix_millis();
    assert!((now - 60_000..=now).contains(&written), "{time}");
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

/// The login name of this process's user, as `id -un` says it.
fn login_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    assert!(out.status.success());
    stdout(&out).trim_end().to_owned()
}

#[test]
fn regression_the_actor_is_the_sudo_user_or_the_login_name() {
    let dir = workspace("actor");
    let me = login_name();
    assert!(!me.is_empty());
    // `env -i`: no USER, no LOGNAME (root in a container, cron).
    let out = command(&dir, &["kill", "flags.json", "enrollment_service"])
        .env_clear()
        .output()
        .expect("runs");
    assert_ok(&out);
    // `sudo flags ...` by the on-call operator: USER and LOGNAME say root.
    let out = command(&dir, &["unkill", "flags.json", "enrollment_service"])
        .env("SUDO_USER", "oncall")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .output()
        .expect("runs");
    assert_ok(&out);
    // USER is not who runs the command (it is not even always set).
    let out = command(&dir, &["kill", "flags.json", "enrollment_service"])
        .env("USER", "someone-else")
        .env("SUDO_USER", "")
        .output()
        .expect("runs");
    assert_ok(&out);
    // --actor wins.
    let out = command(
        &dir,
        &[
            "unkill",
            "flags.json",
            "enrollment_service",
            "--actor",
            "bot",
        ],
    )
    .env("SUDO_USER", "oncall")
    .output()
    .expect("runs");
    assert_ok(&out);
    let actors: Vec<Value> = audit(&dir).iter().map(|r| r["actor"].clone()).collect();
    assert_eq!(actors, [me.as_str(), "oncall", me.as_str(), "bot"]);
}

#[test]
fn regression_an_empty_actor_is_refused() {
    let dir = workspace("empty-actor");
    for actor in ["", "  "] {
        let out = flags_in(
            &dir,
            &["kill", "flags.json", "enrollment_service", "--actor", actor],
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!(
                "error: invalid value '{actor}' for '--actor <NAME>': the actor must not be \
                 empty: give a name, or leave --actor out to record the login name\n"
            )),
            "{}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "");
    }
    assert_eq!(read(&dir), EXAMPLE);
    assert!(audit(&dir).is_empty());
}

#[test]
fn audit_log_can_be_moved() {
    let dir = workspace("audit-log");
    let out = flags_in(
        &dir,
        &["kill-all", "flags.json", "--audit-log", "elsewhere.jsonl"],
    );
    assert_ok(&out);
    assert!(audit(&dir).is_empty());
    let text = std::fs::read_to_string(dir.join("elsewhere.jsonl")).expect("moved log");
    let record: Value = serde_json::from_str(text.trim_end()).expect("json");
    assert_eq!(record["summary"], "kill_all: off -> ON");
}

#[test]
fn set_ramp_replaces_the_percentage() {
    let dir = workspace("set-ramp");
    let out = flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "tenant_billing_v2",
            "--ramp",
            "10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: tenant_billing_v2: percentage 25% -> ramp [10% at 2026-11-21T00:00:00Z, 100% at 2026-11-22T00:00:00Z]\n"
    );
    assert_eq!(
        read(&dir),
        EXAMPLE.replace(
            "      \"percentage\": 25\n",
            "      \"ramp\": [\n        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n        { \"at\": \"2026-11-22T00:00:00Z\", \"percentage\": 100 }\n      ]\n"
        )
    );
    let s = snapshot(&dir);
    let flag = s.flag("tenant_billing_v2").expect("flag");
    assert_eq!(flag.basis_points_at(at(NOW)), 5500);
    // And back to a percentage.
    let out = flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "tenant_billing_v2",
            "--percentage",
            "25",
        ],
    );
    assert_ok(&out);
    assert_eq!(read(&dir), EXAMPLE);
}

#[test]
fn kill_unkill_kill_all_unkill_all() {
    let dir = workspace("kill");
    let pilot = Context::new(&[
        ("user_id", "7"),
        ("app_version", "3.2.0"),
        ("tenant_id", "t"),
    ]);
    let reason = |dir: &Path| {
        snapshot(dir)
            .evaluate("community_dual_write", &pilot, at(NOW))
            .reason
    };
    assert_eq!(reason(&dir), Reason::Pilot);

    assert_ok(&flags_in(
        &dir,
        &["kill", "flags.json", "community_dual_write"],
    ));
    assert_eq!(
        read(&dir),
        EXAMPLE.replace("\"killed\": false", "\"killed\": true")
    );
    assert_eq!(reason(&dir), Reason::Killed);
    assert_ok(&flags_in(
        &dir,
        &["unkill", "flags.json", "community_dual_write"],
    ));
    assert_eq!(read(&dir), EXAMPLE);

    let out = flags_in(&dir, &["kill-all", "flags.json"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "flags.json: kill_all: off -> ON\n");
    assert_eq!(
        read(&dir),
        EXAMPLE.replace("\"kill_all\": false", "\"kill_all\": true")
    );
    assert_eq!(reason(&dir), Reason::KillAll);
    let out = flags_in(&dir, &["unkill-all", "flags.json"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "flags.json: kill_all: ON -> off\n");
    assert_eq!(read(&dir), EXAMPLE);

    let summaries: Vec<Value> = audit(&dir).iter().map(|r| r["summary"].clone()).collect();
    assert_eq!(
        summaries,
        [
            "community_dual_write: killed",
            "community_dual_write: unkilled",
            "kill_all: off -> ON",
            "kill_all: ON -> off"
        ]
    );
    // The hashes chain: each record's before is the previous one's after.
    let records = audit(&dir);
    for pair in records.windows(2) {
        assert_eq!(pair[0]["after"], pair[1]["before"]);
    }
    assert_eq!(records[3]["after"], version(EXAMPLE));
}

#[test]
fn create_and_delete() {
    let dir = workspace("create");
    let out = flags_in(
        &dir,
        &[
            "create",
            "flags.json",
            "search_v2",
            "--description",
            "New search backend",
            "--owner",
            "search",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: new flag search_v2: percentage 0%, owner search\n"
    );
    assert_eq!(
        read(&dir),
        EXAMPLE.replace(
            "    \"tenant_billing_v2\": {",
            "    \"search_v2\": {\n      \"description\": \"New search backend\",\n      \"owner\": \"search\",\n      \"percentage\": 0\n    },\n    \"tenant_billing_v2\": {"
        )
    );
    let s = snapshot(&dir);
    let flag = s.flag("search_v2").expect("created");
    assert_eq!(flag.description(), Some("New search backend"));
    assert!(!s.is_enabled("search_v2", &Context::new(&[("user_id", "42")]), at(NOW)));

    let out = flags_in(&dir, &["delete", "flags.json", "search_v2"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "flags.json: flag search_v2 removed\n");
    assert_eq!(read(&dir), EXAMPLE);
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let dir = workspace("dry-run");
    let out = flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "community_dual_write",
            "--percentage",
            "50",
            "--dry-run",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "community_dual_write: ramp [10% at 2026-11-21T00:00:00Z, 100% at 2026-11-22T00:00:00Z] -> percentage 50%\n\
         dry run: nothing was written to flags.json\n"
    );
    assert_eq!(read(&dir), EXAMPLE);
    assert!(audit(&dir).is_empty());
    assert!(strays(&dir).is_empty());
    let out = flags_in(&dir, &["kill-all", "flags.json", "--dry-run"]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "kill_all: off -> ON\ndry run: nothing was written to flags.json\n"
    );
    assert_eq!(read(&dir), EXAMPLE);
}

#[cfg(unix)]
#[test]
fn permissions_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = workspace("permissions");
    let path = dir.join("flags.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_ok(&flags_in(&dir, &["kill-all", "flags.json"]));
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn a_file_changed_meanwhile_is_not_overwritten() {
    let dir = workspace("conflict");
    let mut child = command(
        &dir,
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "50",
        ],
    )
    .env("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS", "1000")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    // Wait until the command has read the file and paused.
    let mut stderr_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = stderr_lines.next().expect("a line").expect("utf-8");
    assert_eq!(
        first,
        "FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing 1000 ms before writing"
    );
    // Another operator edits the file meanwhile.
    let theirs = EXAMPLE.replace("\"percentage\": 25", "\"percentage\": 30");
    std::fs::write(dir.join("flags.json"), &theirs).expect("concurrent write");
    let rest: Vec<String> = stderr_lines.map(|l| l.expect("utf-8")).collect();
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        rest,
        [
            "flags.json changed since it was read (another edit?); nothing was written, run the command again"
        ]
    );
    assert_eq!(read(&dir), theirs, "their edit survives");
    assert!(audit(&dir).is_empty());
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
    // Run again: it applies on top of their edit.
    assert_ok(&flags_in(
        &dir,
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "50",
        ],
    ));
    assert_eq!(
        read(&dir),
        theirs.replace("\"percentage\": 12.5", "\"percentage\": 50")
    );
}

#[test]
fn two_flags_commands_at_once_take_turns_and_both_land() {
    let dir = workspace("take-turns");
    let spawn = |args: &[&str], pause_ms: &str| {
        command(&dir, args)
            .env("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS", pause_ms)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut first = spawn(
        &[
            "set",
            "flags.json",
            "enrollment_service",
            "--percentage",
            "50",
        ],
        "1000",
    );
    // The first has read the file and holds the directory while it pauses.
    let mut first_err = BufReader::new(first.stderr.take().expect("stderr"));
    let mut line = String::new();
    first_err.read_line(&mut line).expect("a line");
    assert_eq!(
        line.trim_end(),
        "FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing 1000 ms before writing"
    );
    // Without the lock the second would read the same original and write
    // at once, and the first would then refuse to overwrite that.
    let second = spawn(&["kill", "flags.json", "tenant_billing_v2"], "0");
    let first = first.wait_with_output().expect("exits");
    let second = second.wait_with_output().expect("exits");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut first_err, &mut rest).expect("utf-8");
    assert_eq!(rest, "", "the first command's stderr after its pause");
    assert_ok(&first);
    assert_ok(&second);
    assert_eq!(
        stderr(&second).lines().next(),
        Some("flags.json: waiting for another flags command editing files in .")
    );
    let both = EXAMPLE
        .replace("\"percentage\": 12.5", "\"percentage\": 50")
        .replace(
            "\"owner\": \"billing\",",
            "\"owner\": \"billing\",\n      \"killed\": true,",
        );
    assert_eq!(read(&dir), both, "both edits are in the file");
    let records = audit(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0]["after"], records[1]["before"],
        "one after the other"
    );
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

// ------------------------------------------------------------------ migrations

const MIGRATION: &str = r#"{
  "version": 1,
  "flags": {
    "orders_reads": {
      "migration": {"stages": 6, "stage": "dualwrite"},
      "pilots": {"user_id": ["7"]},
      "percentage": 10
    },
    "plain": {"percentage": 5}
  }
}
"#;

/// `flags stage`: writes the stages given into `migration`, keeping the
/// layout, with the habits of every edit command (dry run, actor, reason,
/// audit record, exit codes); `--rollback` brings next and pilot stage back
/// to the stage; `flags status` shows the stage mix.
#[test]
fn stage_moves_a_migration_flag_and_rolls_it_back() {
    let dir = workspace("stage");
    std::fs::write(dir.join("flags.json"), MIGRATION).expect("write");
    let forward = [
        "stage",
        "flags.json",
        "orders_reads",
        "--next",
        "shadow",
        "--pilot-stage",
        "Live",
    ];
    let out = flags_in(&dir, &[&forward[..], &["--dry-run"]].concat());
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "orders_reads: migration next dualwrite -> shadow, pilot_stage dualwrite -> live\n\
         dry run: nothing was written to flags.json\n"
    );
    assert_eq!(read(&dir), MIGRATION);
    assert!(audit(&dir).is_empty());

    let out = flags_in(
        &dir,
        &[
            &forward[..],
            &["--actor", "oncall", "--reason", "shadow reads"],
        ]
        .concat(),
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: orders_reads: migration next dualwrite -> shadow, pilot_stage dualwrite -> live\n"
    );
    let moved = MIGRATION.replace(
        r#""stage": "dualwrite"}"#,
        r#""stage": "dualwrite", "next": "shadow", "pilot_stage": "live"}"#,
    );
    assert_eq!(read(&dir), moved);
    let records = audit(&dir);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (&records[0]["actor"], &records[0]["reason"]),
        (&Value::from("oncall"), &Value::from("shadow reads"))
    );
    // 10% in shadow, the rest dual-writing, the pilot in live.
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("dualwrite 90% / shadow 10% / live: pilots"),
        "{}",
        stdout(&out)
    );
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW, "--json"]);
    let status: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        status["flags"][0]["migration"],
        serde_json::json!({"stages": 6, "stage": "dualwrite", "next": "shadow",
            "pilot_stage": "live", "safe": "off",
            "mix": [{"stage": "dualwrite", "percentage": 90}, {"stage": "shadow", "percentage": 10}]})
    );

    // Refusals: exit 1, one line, nothing written.
    let out = flags_in(
        &dir,
        &[
            "stage",
            "flags.json",
            "orders_reads",
            "--next",
            "dual-write",
        ],
    );
    assert_fails(
        &out,
        "flags.json: --next: unknown stage \"dual-write\"; did you mean \"dualwrite\"? \
         (expected one of: off, dualwrite, shadow, live, rampdown, complete)",
    );
    let out = flags_in(&dir, &["stage", "flags.json", "plain", "--next", "live"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("flag \"plain\" is not a migration flag"),
        "{}",
        stderr(&out)
    );
    // The stage past its next: the file would be invalid.
    let out = flags_in(
        &dir,
        &["stage", "flags.json", "orders_reads", "--stage", "live"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "flags.orders_reads.migration.next: next \"shadow\" comes before stage \"live\""
        ),
        "{}",
        stderr(&out)
    );
    let out = flags_in(&dir, &["stage", "flags.json", "orders_reads"]);
    assert_eq!(out.status.code(), Some(2), "clap: nothing to change");
    assert_eq!(read(&dir), moved);
    assert_eq!(audit(&dir).len(), 1);

    // Roll back: everyone at the stage, the stage itself unmoved.
    let out = flags_in(&dir, &["stage", "flags.json", "orders_reads", "--rollback"]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: orders_reads: migration next shadow -> dualwrite, pilot_stage live -> dualwrite\n"
    );
    assert_eq!(
        read(&dir),
        MIGRATION.replace(
            r#""stage": "dualwrite"}"#,
            r#""stage": "dualwrite", "next": "dualwrite", "pilot_stage": "dualwrite"}"#,
        )
    );
    let snapshot = snapshot(&dir);
    for user in ["7", "1", "42"] {
        let pairs = [("user_id", user)];
        let ctx = Context::new(&pairs);
        assert_eq!(
            snapshot.stage("orders_reads", &ctx, at(NOW)),
            Some(flags_core::Stage::DualWrite)
        );
    }
    // Again: nothing to change.
    let out = flags_in(&dir, &["stage", "flags.json", "orders_reads", "--rollback"]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: no changes; nothing was written\n"
    );
    assert_eq!(audit(&dir).len(), 2);
}
