//! The edit transaction ([`flags_core::edit::apply`]) on files on disk:
//! several operations are one read, one write and one audit record; a file
//! is created only by `replace`; what is refused writes nothing; another
//! edit holding the directory lock is waited for, up to the wait, and then
//! a conflict. The `flags` commands built on it are tested end to end in
//! `flags-server/tests/ops*.rs`.

#[path = "support/edit.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use flags_core::Snapshot;
use flags_core::edit::{EditErrorKind, Notice, Op, Options, apply};
use serde_json::Value;
use support::EXAMPLE;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn example_in(dir: &Path) -> PathBuf {
    let path = dir.join("flags.json");
    fs::write(&path, EXAMPLE).expect("write");
    path
}

fn options(command: &str) -> Options<'static> {
    let mut options = Options::new(command);
    options.actor = Some("release-manager".to_owned());
    options
}

fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("valid")
        .version()
        .to_owned()
}

fn audit(dir: &Path, log: &str) -> Vec<Value> {
    match fs::read_to_string(dir.join(log)) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Files in `dir` besides those named.
fn others(dir: &Path, known: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

fn kill(flag: &str) -> Op {
    Op::Kill {
        flag: flag.to_owned(),
    }
}

#[test]
fn several_operations_are_one_write_and_one_audit_record() {
    let dir = dir();
    let path = example_in(dir.path());
    let ops = [
        kill("tenant_billing_v2"),
        Op::SetPercentage {
            flag: "enrollment_service".to_owned(),
            basis_points: 2500,
        },
        Op::AddPilots {
            flag: None,
            attribute: "user_id".to_owned(),
            ids: vec!["4".to_owned()],
        },
    ];
    let outcome = apply(&path, &ops, &options("deploy kill")).expect("written");
    let expected = EXAMPLE
        .replace("\"percentage\": 12.5", "\"percentage\": 25")
        .replace(
            "\"owner\": \"billing\",",
            "\"owner\": \"billing\",\n      \"killed\": true,",
        )
        .replace("[\"1\", \"2\", \"3\"]", "[\"1\", \"2\", \"3\", \"4\"]");
    assert_eq!(fs::read_to_string(&path).expect("read"), expected);
    assert!(outcome.written && outcome.changed && !outcome.dry_run);
    assert_eq!(
        outcome.changes,
        [
            "global pilots user_id: +1 (4)",
            "enrollment_service: percentage 12.5% -> 25%",
            "tenant_billing_v2: killed",
        ]
    );
    assert_eq!(
        outcome.summary,
        "global pilots user_id: +1 (4); enrollment_service: percentage 12.5% -> 25%; tenant_billing_v2: killed"
    );
    assert_eq!(outcome.before, version(EXAMPLE));
    assert_eq!(outcome.after, version(&expected));
    let log = dir.path().join("flags.json.audit.jsonl");
    assert_eq!(outcome.audit_log.as_deref(), Some(log.as_path()));
    let records = audit(dir.path(), "flags.json.audit.jsonl");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["actor"], "release-manager");
    assert_eq!(record["command"], "deploy kill");
    assert_eq!(record["file"], path.display().to_string());
    assert_eq!(record["before"], outcome.before);
    assert_eq!(record["after"], outcome.after);
    assert_eq!(record["summary"], outcome.summary);
    assert_eq!(
        others(dir.path(), &["flags.json", "flags.json.audit.jsonl"]),
        Vec::<String>::new(),
        "no temporary file or journal left"
    );
}

#[test]
fn a_dry_run_and_an_edit_that_changes_nothing_write_nothing() {
    let dir = dir();
    let path = example_in(dir.path());
    let mut dry = options("x");
    dry.dry_run = true;
    let outcome = apply(&path, &[Op::KillAll], &dry).expect("computed");
    assert!(!outcome.written && outcome.dry_run && outcome.changed);
    assert_eq!(outcome.changes, ["kill_all: off -> ON"]);
    assert_eq!(outcome.audit_log, None);
    let outcome = apply(&path, &[Op::UnkillAll, kill("x_unknown")], &options("x"))
        .expect_err("an unknown flag");
    assert_eq!(outcome.kind(), EditErrorKind::Rejected);
    let outcome = apply(&path, &[Op::UnkillAll], &options("x")).expect("nothing to do");
    assert!(!outcome.written && !outcome.changed);
    assert_eq!(outcome.summary, "no changes; nothing was written");
    assert_eq!(outcome.before, outcome.after);
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);
    assert_eq!(others(dir.path(), &["flags.json"]), Vec::<String>::new());
}

/// SipHash-2-4, 128 bits, keys 0, of no bytes: the content hash of a file
/// that does not exist yet, computed here with the hash crate itself.
fn hash_of_nothing() -> String {
    use siphasher::sip128::{Hasher128 as _, SipHasher24};
    format!(
        "{:032x}",
        SipHasher24::new_with_keys(0, 0).finish128().as_u128()
    )
}

#[test]
fn replace_creates_a_file_with_the_umask_s_permissions() {
    let dir = dir();
    let path = dir.path().join("new.json");
    let text = "{\"version\": 1, \"kill_all\": true, \"flags\": {\"a\": {\"owner\": \"team\"}}}\n";
    let outcome = apply(
        &path,
        &[Op::Replace {
            text: text.to_owned(),
        }],
        &options("seed"),
    )
    .expect("created");
    assert_eq!(fs::read_to_string(&path).expect("read"), text);
    assert_eq!(outcome.before, hash_of_nothing());
    assert_eq!(outcome.after, version(text));
    assert_eq!(
        outcome.changes,
        [
            "kill_all: off -> ON",
            "new flag a: percentage 0%, owner team"
        ]
    );
    let records = audit(dir.path(), "new.json.audit.jsonl");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["before"], hash_of_nothing());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // A file this process creates gets the same umask.
        let reference = dir.path().join("reference");
        fs::write(&reference, "").expect("write");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&reference));
    }
    // Replacing it again keeps what it holds as `before`.
    let again = apply(&path, &[Op::UnkillAll], &options("x")).expect("written");
    assert_eq!(again.before, version(text));
}

#[test]
fn only_replace_may_start_an_edit_of_a_missing_file() {
    let dir = dir();
    let path = dir.path().join("missing.json");
    for ops in [
        vec![Op::KillAll],
        vec![],
        vec![
            Op::KillAll,
            Op::Replace {
                text: EXAMPLE.to_owned(),
            },
        ],
    ] {
        let err = apply(&path, &ops, &options("x")).expect_err("no file");
        assert_eq!(err.kind(), EditErrorKind::Io);
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot read: No such file or directory (os error 2)",
                path.display()
            )
        );
    }
    let created = apply(
        &path,
        &[
            Op::Replace {
                text: EXAMPLE.to_owned(),
            },
            Op::KillAll,
        ],
        &options("x"),
    )
    .expect("created, then edited");
    assert_eq!(
        created.changes[0], "kill_all: off -> ON",
        "{:?}",
        created.changes
    );
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains("\"kill_all\": true"), "{text}");
}

#[test]
fn an_invalid_file_or_result_is_refused_with_its_diagnostics() {
    let dir = dir();
    let path = example_in(dir.path());
    let name = path.display().to_string();
    let err = apply(
        &path,
        &[
            Op::KillAll,
            Op::Replace {
                text: "{\"version\": 1,\n \"flags\": {\"a\": {\"percentage\": 101}}}".to_owned(),
            },
        ],
        &options("x"),
    )
    .expect_err("invalid");
    assert_eq!(err.kind(), EditErrorKind::Invalid);
    let first = format!("{name}: the edit would make the file invalid; nothing was written");
    let message = err.to_string();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], first);
    assert_eq!(err.diagnostics().len(), 1);
    let diagnostic = &err.diagnostics()[0];
    assert_eq!(
        (diagnostic.source(), diagnostic.line(), diagnostic.column()),
        (name.as_str(), 2, 32)
    );
    assert_eq!(lines[1], diagnostic.to_string());
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);

    fs::write(
        &path,
        "{\"version\": 1, \"flags\": {\"a\": {\"percentge\": 5}}}",
    )
    .expect("write");
    let err = apply(&path, &[kill("a")], &options("x")).expect_err("invalid file");
    assert_eq!(err.kind(), EditErrorKind::Invalid);
    assert!(
        err.to_string().starts_with(&format!(
            "{name}: the file is invalid, fix it first; nothing was written\n{name}:1:32: flags.a.percentge: "
        )),
        "{err}"
    );
    assert!(audit(dir.path(), "flags.json.audit.jsonl").is_empty());
}

#[test]
fn a_blank_actor_is_refused() {
    let dir = dir();
    let path = example_in(dir.path());
    let mut blank = options("x");
    blank.actor = Some(" ".to_owned());
    let err = apply(&path, &[Op::KillAll], &blank).expect_err("blank actor");
    assert_eq!(err.kind(), EditErrorKind::Rejected);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the actor must not be empty: give a name, or leave it out to record the login name",
            path.display()
        )
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);
}

/// An edit that holds the directory's lock until told to go on: it stops
/// inside its notice about the stale temporary file it removes, which it
/// sends while holding the lock.
fn edit_holding_the_lock(path: &Path) -> (std::thread::JoinHandle<()>, mpsc::Sender<()>) {
    let dir = path.parent().expect("a directory");
    fs::write(dir.join(".flags.json.1.2.tmp"), "stale").expect("write");
    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let path = path.to_path_buf();
    let holder = std::thread::spawn(move || {
        let wait = move |notice: &Notice| {
            if matches!(notice, Notice::TemporaryFileRemoved { .. }) {
                held_tx.send(()).expect("the test waits");
                let _ = go_rx.recv();
            }
        };
        let mut holding = options("holder");
        holding.notify = Some(&wait);
        apply(&path, &[kill("enrollment_service")], &holding).expect("the holder's edit");
    });
    held_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the holder takes the lock");
    (holder, go_tx)
}

#[test]
fn another_edit_holding_the_lock_is_waited_for_then_a_conflict() {
    let dir = dir();
    let path = example_in(dir.path());
    let (holder, go) = edit_holding_the_lock(&path);
    let notices = std::sync::Mutex::new(Vec::new());
    let collect = |n: &Notice| notices.lock().expect("lock").push(n.to_string());
    let mut short = options("waiter");
    short.lock_wait = Duration::from_millis(150);
    short.notify = Some(&collect);
    let err = apply(&path, &[Op::KillAll], &short).expect_err("the lock is held");
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: another flags command has been editing files in {} for 150 ms; nothing was written",
            path.display(),
            dir.path().display()
        )
    );
    assert_eq!(
        *notices.lock().expect("lock"),
        [format!(
            "{}: waiting for another flags command editing files in {}",
            path.display(),
            dir.path().display()
        )],
        "said once"
    );
    // A dry run takes no lock.
    let mut dry = options("dry");
    dry.dry_run = true;
    assert!(
        apply(&path, &[Op::KillAll], &dry)
            .expect("computed")
            .changed
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);

    // A long enough wait gets the lock once the holder is done, and edits
    // what the holder wrote.
    let waiter = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut patient = options("waiter");
            patient.lock_wait = Duration::from_secs(30);
            apply(&path, &[Op::KillAll], &patient)
        })
    };
    go.send(()).expect("the holder goes on");
    holder.join().expect("the holder's edit");
    let outcome = waiter.join().expect("no panic").expect("written");
    let records = audit(dir.path(), "flags.json.audit.jsonl");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["command"], "holder");
    assert_eq!(records[1]["command"], "waiter");
    assert_eq!(records[1]["before"], records[0]["after"]);
    assert_eq!(outcome.before, records[0]["after"]);
}

/// Every reader refuses a flag file over the size cap, so an edit never
/// writes one (padding makes it big without making it slow to check).
#[test]
fn an_edit_never_writes_a_file_over_the_size_cap() {
    let dir = dir();
    let path = example_in(dir.path());
    let cap = usize::try_from(flags_core::DEFAULT_MAX_FILE_BYTES).expect("fits");
    let mut text = String::from(r#"{"version": 1, "flags": {}}"#);
    text.push_str(&" ".repeat(cap));
    let err = apply(&path, &[Op::Replace { text }], &options("x")).expect_err("too big");
    assert_eq!(err.kind(), EditErrorKind::Rejected);
    assert!(
        err.to_string().contains(&format!(
            "over the {cap} bytes a flag file may have; nothing was written"
        )),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);
    assert!(audit(dir.path(), "flags.json.audit.jsonl").is_empty());
}

/// Each operation validates the whole file again: one edit takes a bounded
/// number of them, and more are refused before the lock is taken.
#[test]
fn one_edit_takes_at_most_max_ops_operations() {
    let dir = dir();
    let path = example_in(dir.path());
    let ops: Vec<Op> = (0..=flags_core::edit::MAX_OPS)
        .map(|_| Op::KillAll)
        .collect();
    let err = apply(&path, &ops, &options("x")).expect_err("too many");
    assert_eq!(err.kind(), EditErrorKind::Rejected);
    assert!(
        err.to_string().contains(&format!(
            "{} operations in one edit; at most {}",
            flags_core::edit::MAX_OPS + 1,
            flags_core::edit::MAX_OPS
        )),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), EXAMPLE);
    // At the cap, the edit goes through.
    let ops = &ops[..flags_core::edit::MAX_OPS];
    assert!(
        apply(&path, ops, &options("x"))
            .expect("at the cap")
            .written
    );
}
