//! The operator commands, run as operators run them: on temporary copies of
//! `examples/flags.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flags_core::{Context, Reason, Snapshot, Timestamp};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../examples/flags.json");
const NOW: &str = "2026-11-21T12:00:00Z";

/// A fresh directory holding a copy of the example as `flags.json`.
fn workspace(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-ops-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("flags.json"), EXAMPLE).expect("write example");
    dir
}

/// Runs `flags` in `dir` with no sudo user and no test hook.
fn flags_in(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("flags runs")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flags"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SUDO_USER")
        .env_remove("FLAGS_TEST_PAUSE_BEFORE_WRITE_MS")
        .env_remove("FLAGS_TEST_STOP_AT")
        .stdin(Stdio::null());
    cmd
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8")
}

fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flags.json")).expect("read flags.json")
}

fn snapshot(dir: &Path) -> Snapshot {
    Snapshot::from_path(dir.join("flags.json")).expect("the file stays valid")
}

fn audit(dir: &Path) -> Vec<Value> {
    match std::fs::read_to_string(dir.join("flags.json.audit.jsonl")) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("valid")
        .version()
        .to_owned()
}

/// Files in `dir` other than the flag file and its audit log (temporary
/// files must not be left behind).
fn strays(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "flags.json" && n != "flags.json.audit.jsonl")
        .collect()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
fn assert_fails(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(out), stderr(out));
    assert_eq!(stderr(out), format!("{message}\n"));
    assert_eq!(stdout(out), "");
}

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
fn pilots_add_and_remove() {
    let dir = workspace("pilots");
    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "enrollment_service",
            "--add",
            "7",
            "8",
            "7",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: enrollment_service: pilots user_id: +2 (7, 8)\n"
    );
    assert_eq!(
        read(&dir),
        EXAMPLE.replace(
            "      \"owner\": \"enrollment\",\n",
            "      \"owner\": \"enrollment\",\n      \"pilots\": { \"user_id\": [\"7\", \"8\"] },\n"
        )
    );
    let s = snapshot(&dir);
    let ctx = Context::new(&[("user_id", "8")]);
    assert_eq!(
        s.evaluate("enrollment_service", &ctx, at(NOW)).reason,
        Reason::Pilot
    );

    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "tenant_billing_v2",
            "--attribute",
            "tenant_id",
            "--add",
            "globex",
        ],
    );
    assert_ok(&out);
    assert!(read(&dir).contains("\"pilots\": { \"tenant_id\": [\"acme\", \"globex\"] },"));

    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "enrollment_service",
            "--remove",
            "7",
            "8",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: enrollment_service: pilots user_id: -2 (7, 8)\n"
    );
    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "tenant_billing_v2",
            "--attribute",
            "tenant_id",
            "--remove",
            "globex",
        ],
    );
    assert_ok(&out);
    assert_eq!(read(&dir), EXAMPLE);
    // Already there: nothing to write, nothing audited.
    let out = flags_in(
        &dir,
        &["pilots", "flags.json", "community_dual_write", "--add", "7"],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: no changes; nothing was written\n"
    );
    assert_eq!(audit(&dir).len(), 4);
}

/// The top-level `pilots` line of the example.
const GLOBAL_PILOTS_LINE: &str = "  \"pilots\": { \"user_id\": [\"1\", \"2\", \"3\"] },\n";

#[test]
fn global_pilots_add_and_remove() {
    let dir = workspace("global-pilots");
    // Meets every flag's requirements, so PILOT is down to the pilots list.
    let user = |id| {
        [
            ("user_id", id),
            ("app_version", "3.2.0"),
            ("tenant_id", "t"),
        ]
    };
    let attributes = user("4");
    let ctx = Context::new(&attributes);
    let reasons = |dir: &Path| -> Vec<(String, Reason)> {
        let s = snapshot(dir);
        s.evaluate_all(&ctx, at(NOW))
            .map(|(key, result)| (key.to_owned(), result.reason))
            .collect()
    };
    assert!(reasons(&dir).iter().any(|(_, r)| *r != Reason::Pilot));

    let out = flags_in(
        &dir,
        &["pilots", "flags.json", "--global", "--add", "4", "5", "4"],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: global pilots user_id: +2 (4, 5)\n"
    );
    assert_eq!(
        read(&dir),
        EXAMPLE.replace(
            "\"user_id\": [\"1\", \"2\", \"3\"] },\n  \"flags\"",
            "\"user_id\": [\"1\", \"2\", \"3\", \"4\", \"5\"] },\n  \"flags\""
        )
    );
    // A global pilot gets every flag.
    let after = reasons(&dir);
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|(_, r)| *r == Reason::Pilot), "{after:?}");

    // Already a pilot, or not one: nothing to write, nothing audited.
    for change in ["--add", "--remove"] {
        let id = if change == "--add" { "1" } else { "99" };
        let out = flags_in(&dir, &["pilots", "flags.json", "--global", change, id]);
        assert_ok(&out);
        assert_eq!(
            stdout(&out),
            "flags.json: no changes; nothing was written\n"
        );
    }

    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "--global",
            "--attribute",
            "tenant_id",
            "--add",
            "qa-tenant",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: global pilots tenant_id: +1 (qa-tenant)\n"
    );
    assert!(read(&dir).contains(
        "  \"pilots\": { \"user_id\": [\"1\", \"2\", \"3\", \"4\", \"5\"], \"tenant_id\": [\"qa-tenant\"] },\n"
    ));

    // The last id of an attribute takes its list with it, and the last
    // list the `pilots` object, as for a flag's pilots.
    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "--global",
            "--attribute",
            "tenant_id",
            "--remove",
            "qa-tenant",
        ],
    );
    assert_ok(&out);
    let out = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "--global",
            "--remove",
            "1",
            "2",
            "3",
            "4",
            "5",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "flags.json: global pilots user_id: -5 (1, 2, 3, 4, 5)\n"
    );
    assert_eq!(read(&dir), EXAMPLE.replace(GLOBAL_PILOTS_LINE, ""));
    assert_eq!(snapshot(&dir).pilots().count(), 0);

    // Created again where the flag file documentation puts it.
    let out = flags_in(
        &dir,
        &["pilots", "flags.json", "--global", "--add", "1", "2", "3"],
    );
    assert_ok(&out);
    assert_eq!(read(&dir), EXAMPLE);

    let records = audit(&dir);
    let summaries: Vec<&Value> = records.iter().map(|r| &r["summary"]).collect();
    assert_eq!(
        summaries,
        [
            "global pilots user_id: +2 (4, 5)",
            "global pilots tenant_id: +1 (qa-tenant)",
            "global pilots tenant_id: -1 (qa-tenant)",
            "global pilots user_id: -5 (1, 2, 3, 4, 5)",
            "global pilots user_id: +3 (1, 2, 3)",
        ]
    );
    assert_eq!(
        records[0]["command"],
        "flags pilots flags.json --global --add 4 5 4"
    );
    for pair in records.windows(2) {
        assert_eq!(pair[0]["after"], pair[1]["before"]);
    }
    assert_eq!(records[4]["after"], version(EXAMPLE));
}

#[test]
fn global_pilots_in_a_compact_file_without_them() {
    let dir = workspace("global-pilots-compact");
    let compact = r#"{"version":1,"kill_all":false,"flags":{"a":{"percentage":0}}}"#;
    std::fs::write(dir.join("flags.json"), compact).expect("write");
    let out = flags_in(
        &dir,
        &["pilots", "flags.json", "--global", "--add", "日本語"],
    );
    assert_ok(&out);
    assert_eq!(
        read(&dir),
        r#"{"version":1,"kill_all":false,"pilots":{"user_id":["日本語"]},"flags":{"a":{"percentage":0}}}"#
    );
    let ctx = Context::new(&[("user_id", "日本語")]);
    assert_eq!(
        snapshot(&dir).evaluate("a", &ctx, at(NOW)).reason,
        Reason::Pilot
    );
    let out = flags_in(
        &dir,
        &["pilots", "flags.json", "--global", "--remove", "日本語"],
    );
    assert_ok(&out);
    assert_eq!(read(&dir), compact);
}

#[test]
fn global_pilots_dry_run_writes_nothing() {
    let dir = workspace("global-pilots-dry-run");
    for (args, diff) in [
        (["--add", "4", "--dry-run"], "global pilots user_id: +1 (4)"),
        (
            ["--remove", "2", "--dry-run"],
            "global pilots user_id: -1 (2)",
        ),
    ] {
        let mut all = vec!["pilots", "flags.json", "--global"];
        all.extend(args);
        let out = flags_in(&dir, &all);
        assert_ok(&out);
        assert_eq!(
            stdout(&out),
            format!("{diff}\ndry run: nothing was written to flags.json\n")
        );
        assert_eq!(read(&dir), EXAMPLE);
        assert!(audit(&dir).is_empty());
        assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
    }
}

#[test]
fn pilots_takes_a_flag_or_global_not_both() {
    let dir = workspace("global-pilots-usage");
    let both = flags_in(
        &dir,
        &[
            "pilots",
            "flags.json",
            "enrollment_service",
            "--global",
            "--add",
            "4",
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).starts_with("error: the argument '[FLAG]' cannot be used with '--global'\n"),
        "{}",
        stderr(&both)
    );
    let neither = flags_in(&dir, &["pilots", "flags.json", "--add", "4"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        stderr(&neither).starts_with(
            "error: the following required arguments were not provided:\n  <FLAG|--global>\n"
        ),
        "{}",
        stderr(&neither)
    );
    for out in [&both, &neither] {
        assert!(
            stderr(out).contains(
                "Usage: flags pilots [OPTIONS] <FILE> <FLAG|--global> <--add <ID>...|--remove <ID>...>"
            ),
            "{}",
            stderr(out)
        );
        assert_eq!(stdout(out), "");
    }
    assert_eq!(read(&dir), EXAMPLE);
    assert!(audit(&dir).is_empty());
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

// ------------------------------------------------------ interrupted edits

/// Runs an edit that stops at `point` (a hook of debug builds), and kills
/// it there with SIGKILL once it says so.
#[cfg(unix)]
fn kill_at(dir: &Path, point: &str, args: &[&str]) {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = command(dir, args)
        .env("FLAGS_TEST_STOP_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let said = format!("FLAGS_TEST_STOP_AT: stopped at {point}");
    let mut lines = Vec::new();
    // The hook waits a minute at most; without it the command ends.
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).expect("utf-8") == 0 || line.trim_end() == said {
            lines.push(line);
            break;
        }
        lines.push(line);
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert_eq!(
        lines.last().map(|l| l.trim_end()),
        Some(said.as_str()),
        "{lines:?}"
    );
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
}

const JOURNAL: &str = ".flags.json.edit-pending";

fn set_25() -> [&'static str; 7] {
    [
        "set",
        "flags.json",
        "enrollment_service",
        "--percentage",
        "25",
        "--actor",
        "release-manager",
    ]
}

fn keys(record: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = record
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[cfg(unix)]
#[test]
fn regression_an_edit_killed_after_the_rename_is_audited_by_the_next_edit() {
    let dir = workspace("killed-after-rename");
    kill_at(&dir, "renamed", &set_25());
    let edited = EXAMPLE.replace("\"percentage\": 12.5", "\"percentage\": 25");
    assert_eq!(read(&dir), edited, "the edit was written");
    assert!(audit(&dir).is_empty(), "but not audited");
    assert_eq!(strays(&dir), [JOURNAL]);

    // `flags status` says so.
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW]);
    assert_ok(&out);
    let line = stdout(&out)
        .lines()
        .nth(1)
        .expect("a second line")
        .to_owned();
    assert!(
        line.starts_with(
            "interrupted edit, not yet in the audit log: flags set flags.json enrollment_service --percentage 25 --actor release-manager (by release-manager at "
        ) && line.ends_with(
            ": enrollment_service: percentage 12.5% -> 25%); the next edit of this file records it"
        ),
        "{line}"
    );
    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW, "--json"]);
    let status: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let pending = &status["interrupted_edit"];
    assert_eq!(
        pending["summary"],
        "enrollment_service: percentage 12.5% -> 25%"
    );
    assert_eq!(pending["before"], version(EXAMPLE));
    assert_eq!(pending["after"], version(&edited));

    // The next edit appends the record first, marked as recovered.
    let out = flags_in(&dir, &["kill", "flags.json", "tenant_billing_v2"]);
    assert_ok(&out);
    let log = dir.join("flags.json.audit.jsonl");
    assert_eq!(
        stderr(&out),
        format!(
            "note: flags.json: an interrupted edit had written the file but not its audit record; \
             recorded it now as \"applied\" in {} (flags set flags.json enrollment_service \
             --percentage 25 --actor release-manager: enrollment_service: percentage 12.5% -> 25%)\n",
            log.display()
        )
    );
    assert_eq!(stdout(&out), "flags.json: tenant_billing_v2: killed\n");
    let records = audit(&dir);
    assert_eq!(records.len(), 2);
    let recovered = &records[0];
    assert_eq!(
        keys(recovered),
        [
            "actor",
            "after",
            "before",
            "command",
            "file",
            "recovered_at",
            "recovery",
            "summary",
            "time"
        ]
    );
    assert_eq!(recovered["recovery"], "applied");
    assert_eq!(recovered["actor"], "release-manager");
    assert_eq!(
        recovered["command"],
        "flags set flags.json enrollment_service --percentage 25 --actor release-manager"
    );
    assert_eq!(
        recovered["summary"],
        "enrollment_service: percentage 12.5% -> 25%"
    );
    assert_eq!(recovered["before"], version(EXAMPLE));
    assert_eq!(recovered["after"], version(&edited));
    let time = at(recovered["time"].as_str().expect("time"));
    let recovered_at = at(recovered["recovered_at"].as_str().expect("recovered_at"));
    assert!(time <= recovered_at);
    assert_eq!(records[1]["before"], recovered["after"], "the chain holds");
    assert_eq!(records[1]["summary"], "tenant_billing_v2: killed");
    assert!(records[1].get("recovery").is_none());
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));

    let out = flags_in(&dir, &["status", "flags.json", "--now", NOW, "--json"]);
    let status: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(status["interrupted_edit"], Value::Null);
}

#[cfg(unix)]
#[test]
fn an_edit_killed_before_the_rename_leaves_nothing_to_audit() {
    let dir = workspace("killed-before-rename");
    kill_at(&dir, "journal-written", &set_25());
    assert_eq!(read(&dir), EXAMPLE);
    let mut left = strays(&dir);
    left.sort_unstable();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].starts_with(".flags.json.") && left[0].ends_with(".tmp"),
        "{left:?}"
    );
    assert_eq!(left[1], JOURNAL);

    let out = flags_in(&dir, &["kill", "flags.json", "tenant_billing_v2"]);
    assert_ok(&out);
    assert_eq!(
        stderr(&out),
        format!(
            "note: flags.json: removed {}, the temporary file of an interrupted edit\n\
             note: flags.json: an edit was interrupted before it wrote the file, which is \
             unchanged; nothing to audit (flags set flags.json enrollment_service --percentage 25 \
             --actor release-manager: enrollment_service: percentage 12.5% -> 25%)\n",
            left[0]
        )
    );
    let records = audit(&dir);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["summary"], "tenant_billing_v2: killed");
    assert_eq!(records[0]["before"], version(EXAMPLE));
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

#[cfg(unix)]
#[test]
fn an_edit_killed_after_its_record_is_not_audited_twice() {
    let dir = workspace("killed-after-audit");
    kill_at(&dir, "audited", &set_25());
    assert_eq!(audit(&dir).len(), 1);
    assert_eq!(strays(&dir), [JOURNAL]);
    // An edit that changes nothing settles the journal too.
    let out = flags_in(&dir, &["unkill", "flags.json", "enrollment_service"]);
    assert_ok(&out);
    assert_eq!(stderr(&out), "");
    assert_eq!(
        stdout(&out),
        "flags.json: no changes; nothing was written\n"
    );
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
    let out = flags_in(&dir, &["kill", "flags.json", "tenant_billing_v2"]);
    assert_ok(&out);
    assert_eq!(stderr(&out), "");
    let records = audit(&dir);
    let summaries: Vec<&Value> = records.iter().map(|r| &r["summary"]).collect();
    assert_eq!(
        summaries,
        [
            "enrollment_service: percentage 12.5% -> 25%",
            "tenant_billing_v2: killed"
        ]
    );
    assert_eq!(records[0]["after"], records[1]["before"]);
    assert!(records.iter().all(|r| r.get("recovery").is_none()));
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

#[cfg(unix)]
#[test]
fn an_interrupted_edit_of_a_file_changed_since_is_recorded_unconfirmed() {
    let dir = workspace("killed-then-changed");
    kill_at(&dir, "renamed", &set_25());
    // Someone edits the file by other means before the next command.
    let by_hand = EXAMPLE.replace("\"kill_all\": false", "\"kill_all\": true");
    std::fs::write(dir.join("flags.json"), &by_hand).expect("write");
    let out = flags_in(&dir, &["unkill-all", "flags.json"]);
    assert_ok(&out);
    assert!(
        stderr(&out).starts_with(
            "note: flags.json: an interrupted edit may or may not have written the file, which \
             has changed since; recorded it now as \"unconfirmed\" in "
        ),
        "{}",
        stderr(&out)
    );
    let records = audit(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["recovery"], "unconfirmed");
    assert_eq!(
        records[0]["summary"],
        "enrollment_service: percentage 12.5% -> 25%"
    );
    assert_eq!(records[1]["summary"], "kill_all: ON -> off");
    assert_eq!(records[1]["before"], version(&by_hand));
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

#[cfg(unix)]
#[test]
fn regression_temporary_files_of_killed_edits_are_removed() {
    let dir = workspace("killed-temp");
    kill_at(&dir, "temp-written", &set_25());
    let temp = strays(&dir);
    assert_eq!(temp.len(), 1, "{temp:?}");
    let temp = &temp[0];
    assert_eq!(
        std::fs::read_to_string(dir.join(temp)).expect("temp"),
        EXAMPLE.replace("\"percentage\": 12.5", "\"percentage\": 25")
    );
    // Another one, from an earlier crash, and files that only look alike.
    let others = [
        ".flags.json.4242.17.tmp",
        ".flags.json.4242.17.tmp.bak",
        ".flags.json.x.17.tmp",
        ".flags.json.4242.tmp",
        "flags.json.4242.17.tmp",
        ".other.json.4242.17.tmp",
        ".flags.json.old.4242.17.tmp",
        "notes.txt",
    ];
    for name in others {
        std::fs::write(dir.join(name), "keep").expect("write");
    }
    // A dry run takes no lock, so it leaves them.
    assert_ok(&flags_in(&dir, &["kill-all", "flags.json", "--dry-run"]));
    assert_eq!(strays(&dir).len(), 1 + others.len());

    let out = flags_in(&dir, &["kill-all", "flags.json"]);
    assert_ok(&out);
    let mut notes: Vec<String> = stderr(&out).lines().map(str::to_owned).collect();
    notes.sort_unstable();
    let mut expected = vec![
        format!("note: flags.json: removed {temp}, the temporary file of an interrupted edit"),
        "note: flags.json: removed .flags.json.4242.17.tmp, the temporary file of an interrupted edit".to_owned(),
    ];
    expected.sort_unstable();
    assert_eq!(notes, expected);
    let mut left = strays(&dir);
    left.sort_unstable();
    let mut kept: Vec<&str> = others[1..].to_vec();
    kept.sort_unstable();
    assert_eq!(left, kept, "only the temporary files of flags.json");
    for name in kept {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).expect("kept"),
            "keep"
        );
    }
    assert_eq!(audit(&dir).len(), 1, "the killed edit was never written");
}

#[test]
fn an_incomplete_journal_is_removed() {
    let dir = workspace("incomplete-journal");
    std::fs::write(dir.join(JOURNAL), "{\"audit_log\":\"/x\",\"rec").expect("write");
    let out = flags_in(&dir, &["kill-all", "flags.json"]);
    assert_ok(&out);
    assert_eq!(
        stderr(&out),
        "note: flags.json: removed the incomplete journal of an edit interrupted before it \
         wrote the file\n"
    );
    assert_eq!(audit(&dir).len(), 1);
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
}

#[test]
fn an_audit_record_that_cannot_be_appended_waits_for_the_next_edit() {
    let dir = workspace("audit-unwritable");
    // A directory cannot be appended to.
    std::fs::create_dir(dir.join("log")).expect("mkdir");
    let out = flags_in(&dir, &["kill-all", "flags.json", "--audit-log", "log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "flags.json: written, but the audit log {} could not be appended: ",
            dir.join("log").display()
        )) && err.ends_with(
            "; the record stays in ./.flags.json.edit-pending and the next edit of the file appends it\n"
        ),
        "{err}"
    );
    let killed = EXAMPLE.replace("\"kill_all\": false", "\"kill_all\": true");
    assert_eq!(read(&dir), killed);
    // While the record cannot be appended, no further edit is made.
    let out = flags_in(&dir, &["unkill-all", "flags.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "flags.json: an interrupted edit (kill_all: off -> ON) left its record; cannot read \
             the audit log {} to see whether it is there: ",
            dir.join("log").display()
        )) && err.ends_with("; nothing was written\n"),
        "{err}"
    );
    assert_eq!(read(&dir), killed);
    // Once it can, the next edit appends it first.
    std::fs::remove_dir(dir.join("log")).expect("rmdir");
    assert_ok(&flags_in(&dir, &["unkill-all", "flags.json"]));
    assert_eq!(read(&dir), EXAMPLE);
    let text = std::fs::read_to_string(dir.join("log")).expect("the moved log");
    let moved: Value = serde_json::from_str(text.trim_end()).expect("one record");
    assert_eq!(moved["summary"], "kill_all: off -> ON");
    assert_eq!(moved["recovery"], "applied");
    let records = audit(&dir);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["summary"], "kill_all: ON -> off");
    assert_eq!(records[0]["before"], moved["after"]);
    assert_eq!(strays(&dir), ["log"]);
}
