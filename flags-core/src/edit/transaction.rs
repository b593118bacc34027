//! One edit of a flag file on disk, from the lock to the audit record: the
//! one implementation behind the `flags` edit commands, the C ABI's
//! `flags_file_edit` and so PHP, Dart and the Laravel artisan commands.

use std::fs::{self, Permissions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::audit::{self, AuditRecord};
use super::error::EditError;
use super::journal::{self, Pending};
use super::lock;
use super::notice::{Notice, Notify};
use super::{Document, ReplaceError, StageChange, diff, replace_atomically};
use crate::error::Error;
use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file};
use crate::load::content_version;
use crate::model::Snapshot;

/// One change to make to a flag file: the `flags` edit commands, one
/// variant each, and `Replace`. Values are as [`Document`]'s methods take
/// them (a percentage in basis points: `1250` is 12.5%, see
/// [`parse_percentage`](super::parse_percentage)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `flags set FILE FLAG --percentage N`: [`Document::set_percentage`].
    SetPercentage {
        /// The flag's key.
        flag: String,
        /// The percentage in basis points, 0 to 10000.
        basis_points: u32,
    },
    /// `flags set FILE FLAG --ramp POINTS`: [`Document::set_ramp`].
    SetRamp {
        /// The flag's key.
        flag: String,
        /// `(RFC 3339 time, basis points)`, times strictly increasing.
        points: Vec<(String, u32)>,
    },
    /// `flags pilots FILE (FLAG | --global) --add ID...`.
    AddPilots {
        /// The flag's key; `None` for the top-level pilots (every flag's).
        flag: Option<String>,
        /// The context attribute the ids are values of (`user_id`).
        attribute: String,
        /// The ids to add.
        ids: Vec<String>,
    },
    /// `flags pilots FILE (FLAG | --global) --remove ID...`.
    RemovePilots {
        /// The flag's key; `None` for the top-level pilots.
        flag: Option<String>,
        /// The context attribute the ids are values of.
        attribute: String,
        /// The ids to remove.
        ids: Vec<String>,
    },
    /// `flags kill FILE FLAG`.
    Kill {
        /// The flag's key.
        flag: String,
    },
    /// `flags unkill FILE FLAG`.
    Unkill {
        /// The flag's key.
        flag: String,
    },
    /// `flags pause FILE FLAG`: [`Document::pause`] at `at`.
    Pause {
        /// The flag's key.
        flag: String,
        /// When the ramp stops (RFC 3339 with an offset), usually now.
        at: String,
    },
    /// `flags resume FILE FLAG`: [`Document::resume`].
    Resume {
        /// The flag's key.
        flag: String,
    },
    /// `flags stage FILE FLAG [--stage S] [--next N] [--pilot-stage P]
    /// [--safe S]`: [`Document::set_stage`].
    Stage {
        /// The migration flag's key.
        flag: String,
        /// The stages to write.
        change: StageChange,
    },
    /// `flags stage FILE FLAG --rollback`, and a guard whose action is
    /// `rollback`: [`Document::rollback`].
    Rollback {
        /// The migration flag's key.
        flag: String,
    },
    /// `flags kill-all FILE`.
    KillAll,
    /// `flags unkill-all FILE`.
    UnkillAll,
    /// `flags create FILE FLAG [--description TEXT] [--owner TEXT]`.
    Create {
        /// The new flag's key.
        flag: String,
        /// What the flag does.
        description: Option<String>,
        /// The team that owns it.
        owner: Option<String>,
    },
    /// `flags delete FILE FLAG`.
    Delete {
        /// The flag's key.
        flag: String,
    },
    /// Replaces the whole text with `text`, which must be a valid flag
    /// file ([`Document::replace`]). The one operation that may start an
    /// edit of a file that does not exist yet: it creates it.
    Replace {
        /// The new text of the file.
        text: String,
    },
}

impl Op {
    /// Makes the change on `document`.
    fn apply_to(&self, document: &mut Document) -> Result<(), Error> {
        match self {
            Op::SetPercentage { flag, basis_points } => {
                document.set_percentage(flag, *basis_points)
            }
            Op::SetRamp { flag, points } => document.set_ramp(flag, points),
            Op::AddPilots {
                flag: Some(flag),
                attribute,
                ids,
            } => document.add_pilots(flag, attribute, ids),
            Op::AddPilots {
                flag: None,
                attribute,
                ids,
            } => document.add_global_pilots(attribute, ids),
            Op::RemovePilots {
                flag: Some(flag),
                attribute,
                ids,
            } => document.remove_pilots(flag, attribute, ids),
            Op::RemovePilots {
                flag: None,
                attribute,
                ids,
            } => document.remove_global_pilots(attribute, ids),
            Op::Kill { flag } => document.set_killed(flag, true),
            Op::Unkill { flag } => document.set_killed(flag, false),
            Op::Pause { flag, at } => document.pause(flag, at),
            Op::Resume { flag } => document.resume(flag),
            Op::Stage { flag, change } => document.set_stage(flag, change),
            Op::Rollback { flag } => document.rollback(flag),
            Op::KillAll => document.set_kill_all(true),
            Op::UnkillAll => document.set_kill_all(false),
            Op::Create {
                flag,
                description,
                owner,
            } => document.create_flag(flag, description.as_deref(), owner.as_deref()),
            Op::Delete { flag } => document.delete_flag(flag),
            Op::Replace { text } => document.replace(text),
        }
    }
}

/// How long an edit waits by default for another edit of the same
/// directory to finish before it gives up ([`EditErrorKind::Conflict`](super::EditErrorKind::Conflict)).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Most operations one edit applies: each one validates the whole file
/// again, so a caller (C, PHP, Dart) cannot hold the directory's lock for
/// minutes with one request.
pub const MAX_OPS: usize = 100;

/// How [`apply`] runs: write or only compute, where the audit record goes
/// and what it says, how long to wait for another edit, and who hears the
/// [`Notice`]s.
#[non_exhaustive]
pub struct Options<'a> {
    /// Compute the change and write nothing: no lock, no audit record.
    pub dry_run: bool,
    /// The audit log to append to; `None`: `FILE.audit.jsonl` beside the
    /// file ([`default_audit_log`](super::default_audit_log)).
    pub audit_log: Option<PathBuf>,
    /// Who makes the change (must not be blank); `None`: the rule of
    /// [`default_actor`](super::default_actor).
    pub actor: Option<String>,
    /// The audit record's `command`: how the edit was asked for, e.g.
    /// `flags kill flags.json checkout` or `php artisan flags:kill
    /// checkout` ([`shell_command`](super::shell_command) quotes words).
    pub command: String,
    /// Why the edit is made, for the audit record's `reason` (left out
    /// when `None`): `flags guard` says which query crossed which threshold
    /// for how long.
    pub reason: Option<String>,
    /// How long to wait for the directory lock held by another edit:
    /// [`DEFAULT_LOCK_WAIT`] unless set.
    pub lock_wait: Duration,
    /// Called with each [`Notice`], on the calling thread, as it happens
    /// (the wait for the lock before waiting). `None`: notices are
    /// dropped.
    pub notify: Option<&'a dyn Fn(&Notice)>,
}

impl<'a> Options<'a> {
    /// Options that write, with `command` for the audit record and every
    /// other option at its default.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            dry_run: false,
            audit_log: None,
            actor: None,
            command: command.into(),
            reason: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            notify: None,
        }
    }
}

/// What [`apply`] did: what `flags` prints after an edit, and the audit
/// record's content hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The file was replaced (and its audit record appended). False on a
    /// dry run and when there was nothing to change.
    pub written: bool,
    /// It was a dry run.
    pub dry_run: bool,
    /// The text would change or changed (false: the edit changed nothing,
    /// byte for byte, and nothing was written).
    pub changed: bool,
    /// The one line `flags` prints after an edit, without the file name:
    /// the audit record's summary (the [`changes`](Outcome::changes) joined
    /// with `"; "`, `no changes` for a change of layout only), or `no
    /// changes; nothing was written`.
    pub summary: String,
    /// What changed, one line each, in the words of `flags diff`: what
    /// `flags ... --dry-run` prints. Empty when nothing changes in meaning.
    pub changes: Vec<String>,
    /// The content hash of the file before (32 hex digits,
    /// [`Snapshot::version`]); for a file that did not exist, the hash of
    /// no bytes (`Op::Replace` creating it).
    pub before: String,
    /// The content hash of the file after (the same as `before` when
    /// nothing changed).
    pub after: String,
    /// The audit log appended, as an absolute path; `None` when nothing
    /// was written.
    pub audit_log: Option<PathBuf>,
}

/// Edits the flag file at `path`: `ops` applied in order to one read of
/// the file, validated, written once, with one audit record. The same
/// steps as every `flags` edit command (`docs/operations.md`):
///
/// 1. Unless a dry run: takes the directory lock (waiting up to
///    [`Options::lock_wait`] for another edit), removes the temporary
///    files of interrupted edits and settles an interrupted edit's
///    journal.
/// 2. Reads the file, which must be a regular file (not a symbolic link)
///    and valid. When it does not exist, the first operation must be
///    [`Op::Replace`], which creates it.
/// 3. Applies every operation to its text, keeping its layout; each
///    result is validated (an invalid one is an error and nothing is
///    written).
/// 4. Stops there when the text is unchanged, or on a dry run.
/// 5. Writes the file atomically, keeping its permissions (a new file
///    gets those of the umask), refusing when the file changed since step
///    2, with the audit record in a journal beside it first; then appends
///    the record to the audit log and removes the journal.
///
/// ```
/// use flags_core::edit::{Op, Options, apply};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("flags.json");
/// std::fs::write(&path, "{\"version\": 1, \"flags\": {\"checkout\": {\"percentage\": 12.5}}}\n")?;
///
/// let mut options = Options::new("deploy-script kill checkout");
/// options.actor = Some("deploy".into());
/// let ops = [Op::Kill { flag: "checkout".into() }, Op::SetPercentage { flag: "checkout".into(), basis_points: 5000 }];
/// let outcome = apply(&path, &ops, &options)?;
/// assert!(outcome.written);
/// assert_eq!(outcome.summary, "checkout: killed; percentage 12.5% -> 50%");
/// assert_eq!(
///     std::fs::read_to_string(&path)?,
///     "{\"version\": 1, \"flags\": {\"checkout\": {\"killed\": true, \"percentage\": 50}}}\n"
/// );
/// let log = std::fs::read_to_string(dir.path().join("flags.json.audit.jsonl"))?;
/// assert_eq!(log.lines().count(), 1);
/// assert!(log.contains(r#""actor":"deploy","command":"deploy-script kill checkout""#));
///
/// // An unknown flag is refused, and nothing is written.
/// let err = apply(&path, &[Op::Kill { flag: "chekout".into() }], &options).unwrap_err();
/// assert_eq!(err.to_string(), format!("{}: no flag named \"chekout\"; did you mean \"checkout\"?", path.display()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply(path: &Path, ops: &[Op], options: &Options<'_>) -> Result<Outcome, EditError> {
    let name = path.display().to_string();
    let ignore = |_: &Notice| {};
    let notify: Notify<'_> = options.notify.unwrap_or(&ignore);
    if ops.len() > MAX_OPS {
        return Err(EditError::rejected(format!(
            "{name}: {} operations in one edit; at most {MAX_OPS}: split them into several \
             edits; nothing was written",
            ops.len()
        )));
    }
    if options
        .actor
        .as_deref()
        .is_some_and(|a| a.trim().is_empty())
    {
        return Err(EditError::rejected(format!(
            "{name}: the actor must not be empty: give a name, or leave it out to record the \
             login name"
        )));
    }
    // Held until the audit record is written: concurrent edits of this
    // directory take turns instead of refusing each other.
    let lock = if options.dry_run {
        None
    } else {
        Some(lock::lock_dir(path, options.lock_wait, notify)?)
    };
    if let Some(lock) = &lock {
        if lock.held() {
            lock::remove_stale_temps(path, notify);
        }
        journal::reconcile(path, notify)?;
    }
    let creates = matches!(ops.first(), Some(Op::Replace { .. }));
    let original = read_for_edit(path, creates)?;
    let (before, mut document) = match &original {
        Some(original) => {
            let before = Snapshot::from_slice_named(&original.bytes, &name)
                .map_err(|e| invalid_file(&name, &e))?;
            // Valid files are UTF-8.
            let text = std::str::from_utf8(&original.bytes)
                .map_err(|e| EditError::rejected(format!("{name}: {e}")))?;
            let document =
                Document::parse_named(text, &name).map_err(|e| invalid_file(&name, &e))?;
            (before, Some(document))
        }
        None => (nothing(), None),
    };
    for op in ops {
        let result = match (&mut document, op) {
            (Some(document), op) => op.apply_to(document),
            (None, Op::Replace { text }) => Document::parse_named(text, &name).map(|created| {
                document = Some(created);
            }),
            // `read_for_edit` refused a missing file unless the first
            // operation creates it, and that one sets the document.
            (None, _) => return Err(missing(&name)),
        };
        result.map_err(|e| {
            EditError::from_core(
                &e,
                format!("{name}: the edit would make the file invalid; nothing was written"),
                format!("{name}: {e}"),
            )
        })?;
    }
    let new_text = document.as_ref().map_or("", |d| d.text());
    let unchanged = original
        .as_ref()
        .is_some_and(|o| o.bytes == new_text.as_bytes());
    if unchanged {
        return Ok(Outcome {
            written: false,
            dry_run: options.dry_run,
            changed: false,
            summary: "no changes; nothing was written".to_owned(),
            changes: Vec::new(),
            before: before.version().to_owned(),
            after: before.version().to_owned(),
            audit_log: None,
        });
    }
    let Some(document) = document else {
        // No file and no operation: refused by `read_for_edit` already.
        return Err(missing(&name));
    };
    // Servers, `flags check` and the C ABI refuse a file over this size:
    // writing one would only make every reader keep its old flags.
    let size = document.text().len();
    if size as u64 > DEFAULT_MAX_FILE_BYTES {
        return Err(EditError::rejected(format!(
            "{name}: the edit would make the file {} bytes, over the {} bytes a flag file may \
             have; nothing was written",
            size, DEFAULT_MAX_FILE_BYTES
        )));
    }
    let after = document.snapshot();
    let changes = diff::changes(&before, after);
    let summary = diff::summary(&changes);
    let mut outcome = Outcome {
        written: false,
        dry_run: options.dry_run,
        changed: true,
        summary,
        changes,
        before: before.version().to_owned(),
        after: after.version().to_owned(),
        audit_log: None,
    };
    if options.dry_run {
        return Ok(outcome);
    }
    test_pause();
    let log = options
        .audit_log
        .clone()
        .unwrap_or_else(|| audit::default_audit_log(path));
    let pending = Pending {
        audit_log: std::path::absolute(&log).unwrap_or(log),
        record: AuditRecord {
            time: crate::now().to_string(),
            actor: options.actor.clone().unwrap_or_else(audit::default_actor),
            command: options.command.clone(),
            file: std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            before: outcome.before.clone(),
            after: outcome.after.clone(),
            summary: outcome.summary.clone(),
            reason: options.reason.clone(),
            recovery: None,
            recovered_at: None,
        },
    };
    replace(
        path,
        original.as_ref(),
        document.text().as_bytes(),
        &pending,
        notify,
    )?;
    // Audited before the caller says anything: whatever happens to its
    // output, the edit has its record.
    let audited = audit::append(&pending.audit_log, &pending.record);
    test_stop("audited");
    if let Err(e) = audited {
        return Err(EditError::io_after_writing(format!(
            "{name}: written, but the audit log {} could not be appended: {e}; the record \
             stays in {} and the next edit of the file appends it",
            pending.audit_log.display(),
            journal::journal_path(path).display()
        )));
    }
    journal::remove(path, notify);
    drop(lock);
    outcome.written = true;
    outcome.audit_log = Some(pending.audit_log);
    Ok(outcome)
}

/// What a file that does not exist yet means: no flags, and the content
/// hash of no bytes.
fn nothing() -> Snapshot {
    let mut snapshot = Snapshot::empty();
    snapshot.version = content_version(b"");
    snapshot
}

/// A file that does not exist, edited by something else than a `replace`.
fn missing(name: &str) -> EditError {
    let e = io::Error::from(io::ErrorKind::NotFound);
    EditError::io(format!("{name}: cannot read: {e}"))
}

fn invalid_file(name: &str, error: &Error) -> EditError {
    EditError::from_core(
        error,
        format!("{name}: the file is invalid, fix it first; nothing was written"),
        error.to_string(),
    )
}

/// The bytes of a flag file, read for editing, and its permissions.
struct Original {
    bytes: Vec<u8>,
    permissions: Permissions,
}

/// Reads `path` for editing. Only a regular file is edited: a symbolic
/// link (a Kubernetes ConfigMap mount is one) is refused, because replacing
/// the link would detach it from its source and writing through it would
/// edit a file that something else owns. A file that does not exist is
/// `None` when the edit `creates` it, an error otherwise.
fn read_for_edit(path: &Path, creates: bool) -> Result<Option<Original>, EditError> {
    let name = path.display();
    let cannot_read = |e: io::Error| EditError::io(format!("{name}: cannot read: {e}"));
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if creates && e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot_read(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(EditError::io(format!(
            "{name} is a symbolic link; flags edits only regular files (for a ConfigMap, \
             edit its source and apply it); nothing was written"
        )));
    }
    if !meta.is_file() {
        return Err(EditError::io(format!(
            "{name} is not a regular file; nothing was written"
        )));
    }
    let bytes = read_flag_file(path, DEFAULT_MAX_FILE_BYTES).map_err(cannot_read)?;
    Ok(Some(Original {
        bytes,
        permissions: meta.permissions(),
    }))
}

/// Why the check just before the rename refused.
enum Refusal {
    Conflict,
    Io(&'static str, io::Error),
}

/// Replaces `path` with `new`, atomically ([`replace_atomically`]): a
/// temporary file in the same directory, written and synced, with the
/// original's permissions, is renamed over `path`, and the directory is
/// synced. Just before the rename the file is read again: when it no
/// longer holds the `original` bytes (or, for a new file, exists now),
/// nothing is written. Between that check and the rename, `pending` (the
/// edit's audit record) is written and synced as the journal beside the
/// file, so that an edit killed after the rename is still audited (see
/// `journal::reconcile`); the caller appends the record and then removes
/// the journal.
///
/// Another edit cannot write in between (see `lock`); a write by another
/// program that lands between that last read and the rename (a window of
/// microseconds) is still lost, everything before it is caught.
fn replace(
    path: &Path,
    original: Option<&Original>,
    new: &[u8],
    pending: &Pending,
    notify: Notify<'_>,
) -> Result<(), EditError> {
    let name = path.display();
    let io = |what: &str, e: io::Error| {
        EditError::io(format!("{name}: cannot {what}: {e}; nothing was written"))
    };
    let mut journaled = false;
    let permissions = original.map(|o| &o.permissions);
    let replaced = replace_atomically(path, new, permissions, || {
        test_stop("temp-written");
        let current = match (fs::symlink_metadata(path), original) {
            (Ok(meta), Some(original)) if meta.is_file() => {
                let bytes = read_flag_file(path, DEFAULT_MAX_FILE_BYTES)
                    .map_err(|e| Refusal::Io("read it again", e))?;
                bytes == original.bytes
            }
            (Err(e), None) if e.kind() == io::ErrorKind::NotFound => true,
            // Replaced by a link or a directory, deleted, or created
            // meanwhile: changed all the same.
            _ => false,
        };
        if !current {
            return Err(Refusal::Conflict);
        }
        journal::write(path, pending).map_err(|e| Refusal::Io("write the edit's journal", e))?;
        journaled = true;
        test_stop("journal-written");
        Ok(())
    });
    match replaced {
        Ok(replaced) => {
            // The new content is in place even when this failed: a notice.
            if let Some(e) = replaced.dir_sync_error() {
                notify(&Notice::DirectoryNotSynced {
                    file: path.to_path_buf(),
                    error: io::Error::new(e.kind(), e.to_string()),
                });
            }
            test_stop("renamed");
            Ok(())
        }
        Err(ReplaceError::Refused(Refusal::Conflict)) => Err(EditError::conflict(format!(
            "{name} changed since it was read (another edit?); nothing was written, run the command again"
        ))),
        Err(ReplaceError::Refused(Refusal::Io(what, e))) => Err(io(what, e)),
        Err(ReplaceError::Io { step, source }) => {
            // Only the rename comes after the journal.
            if journaled {
                let _ = fs::remove_file(journal::journal_path(path));
            }
            Err(io(step, source))
        }
    }
}

/// Test hook, debug builds only, not for operators: with
/// `FLAGS_TEST_STOP_AT=POINT` an edit that gets to `POINT` says
/// `FLAGS_TEST_STOP_AT: stopped at POINT` on stderr and waits (up to a
/// minute) for the test to kill it there. The points, in order:
/// `temp-written`, `journal-written`, `renamed`, `audited`.
#[cfg(debug_assertions)]
fn test_stop(point: &str) {
    const STOP_ENV: &str = "FLAGS_TEST_STOP_AT";
    if std::env::var_os(STOP_ENV).is_some_and(|v| v == point) {
        eprintln!("{STOP_ENV}: stopped at {point}");
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[cfg(not(debug_assertions))]
fn test_stop(_point: &str) {}

/// Test hook, debug builds only, not for operators: with
/// `FLAGS_TEST_PAUSE_BEFORE_WRITE_MS=N` an edit says
/// `FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing N ms before writing` on stderr
/// and sleeps N ms after it is computed and before the file is written, so
/// that a test can change the file in between and see the conflict
/// refusal. (The only output of this module: it exists in debug builds
/// only.)
#[cfg(debug_assertions)]
fn test_pause() {
    const PAUSE_ENV: &str = "FLAGS_TEST_PAUSE_BEFORE_WRITE_MS";
    if let Some(ms) = std::env::var(PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // Said on stderr so that the test knows the file has been read.
        eprintln!("{PAUSE_ENV}: pausing {ms} ms before writing");
        std::thread::sleep(Duration::from_millis(ms));
    }
}

#[cfg(not(debug_assertions))]
fn test_pause() {}
