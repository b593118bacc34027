//! Edits killed (SIGKILL) at each step, then the next command: no edit
//! without its audit record, no temporary file left behind.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::cli::*;
use serde_json::Value;

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
