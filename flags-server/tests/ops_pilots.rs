//! `flags pilots`, of a flag and of every flag (`--global`).

mod common;

use std::path::Path;

use common::cli::*;
use flags_core::{Context, Reason};
use serde_json::Value;

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
