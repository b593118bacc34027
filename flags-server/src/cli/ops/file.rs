//! Reading a flag file to edit it, replacing it atomically, the audit log,
//! and settling what an interrupted edit left behind (its journal and its
//! temporary files).

use std::ffi::OsString;
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flags_core::Snapshot;
use flags_core::edit::{ReplaceError, is_temporary_file_of, replace_atomically};
use serde::{Deserialize, Serialize};

/// The bytes of a flag file, read for editing, and its permissions.
pub(crate) struct Original {
    pub bytes: Vec<u8>,
    pub permissions: Permissions,
}

/// Reads `path` for editing. Only a regular file is edited: a symbolic
/// link (a Kubernetes ConfigMap mount is one) is refused, because replacing
/// the link would detach it from its source and writing through it would
/// edit a file that something else owns.
pub(crate) fn read_for_edit(path: &Path) -> Result<Original, String> {
    let name = path.display();
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{name} is a symbolic link; flags edits only regular files (for a ConfigMap, \
             edit its source and apply it); nothing was written"
        ));
    }
    if !meta.is_file() {
        return Err(format!("{name} is not a regular file; nothing was written"));
    }
    let bytes = fs::read(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    Ok(Original {
        bytes,
        permissions: meta.permissions(),
    })
}

/// How long an edit waits for another `flags` edit of the same directory
/// to finish before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// An exclusive lock on the directory of a flag file, held from the read of
/// an edit to its audit record, so that `flags` commands editing files in
/// the same directory at the same time run one after the other: each reads
/// what the previous one wrote and both edits land. Writers that do not
/// take it (editors, deploy tools) are still caught by the check in
/// [`replace`]. Released on drop.
pub(crate) struct DirLock {
    handle: Option<fs::File>,
}

impl DirLock {
    /// Whether the lock is really held (not on a file system without locks).
    pub(crate) fn held(&self) -> bool {
        self.handle.is_some()
    }
}

/// Takes the lock on `path`'s directory, waiting up to [`LOCK_WAIT`] for
/// another edit. A directory that cannot be locked (a file system without
/// locks) gives no lock: the conflict check still protects the file.
pub(crate) fn lock_dir(path: &Path) -> Result<DirLock, String> {
    let dir = parent(path);
    let Ok(handle) = fs::File::open(&dir) else {
        return Ok(DirLock { handle: None });
    };
    let start = Instant::now();
    let mut said = false;
    loop {
        match handle.try_lock() {
            Ok(()) => {
                return Ok(DirLock {
                    handle: Some(handle),
                });
            }
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(_)) => return Ok(DirLock { handle: None }),
        }
        if start.elapsed() >= LOCK_WAIT {
            return Err(format!(
                "{}: another flags command has been editing files in {} for {} s; \
                 nothing was written",
                path.display(),
                dir.display(),
                LOCK_WAIT.as_secs()
            ));
        }
        if !said {
            eprintln!(
                "{}: waiting for another flags command editing files in {}",
                path.display(),
                dir.display()
            );
            said = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Test hook, debug builds only, not for operators: with
/// `FLAGS_TEST_STOP_AT=POINT` an edit that gets to `POINT` says
/// `FLAGS_TEST_STOP_AT: stopped at POINT` on stderr and waits (up to a
/// minute) for the test to kill it there. The points, in order:
/// `temp-written`, `journal-written`, `renamed`, `audited`.
#[cfg(debug_assertions)]
pub(crate) fn test_stop(point: &str) {
    const STOP_ENV: &str = "FLAGS_TEST_STOP_AT";
    if std::env::var_os(STOP_ENV).is_some_and(|v| v == point) {
        eprintln!("{STOP_ENV}: stopped at {point}");
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[cfg(not(debug_assertions))]
pub(crate) fn test_stop(_point: &str) {}

/// Test hook, debug builds only, not for operators: with
/// `FLAGS_TEST_PAUSE_BEFORE_WRITE_MS=N` an edit says
/// `FLAGS_TEST_PAUSE_BEFORE_WRITE_MS: pausing N ms before writing` on stderr
/// and sleeps N ms after it is computed and before the file is written, so
/// that a test can change the file in between and see the conflict
/// refusal.
#[cfg(debug_assertions)]
pub(crate) fn test_pause() {
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
pub(crate) fn test_pause() {}

/// Why [`replace`] wrote nothing.
pub(crate) enum WriteError {
    /// The file no longer holds the bytes the edit was made on.
    Conflict,
    Io(String),
}

/// Removes the temporary files of `path` that edits killed while writing
/// them left behind (they can be megabytes each). Call it only while
/// holding the [`DirLock`]: then no other `flags` command is writing one.
/// Only regular files named exactly as [`replace_atomically`] names them
/// for this flag file ([`is_temporary_file_of`]) are removed; a note on
/// stderr says which.
pub(crate) fn remove_stale_temps(path: &Path) {
    let Some(file_name) = path.file_name() else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_temporary_file_of(&name, file_name) || !entry.file_type().is_ok_and(|t| t.is_file())
        {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => eprintln!(
                "note: {}: removed {}, the temporary file of an interrupted edit",
                path.display(),
                name.to_string_lossy()
            ),
            Err(e) => eprintln!(
                "warning: {}: cannot remove {}, the temporary file of an interrupted edit: {e}",
                path.display(),
                name.to_string_lossy()
            ),
        }
    }
}

/// Replaces `path` with `new`, atomically ([`replace_atomically`]): a
/// temporary file in the same directory, written and synced, with the
/// original's permissions, is renamed over `path`, and the directory is
/// synced. Just before the rename the file is read again: when it no
/// longer holds `expected`, nothing is written. Between that check and the
/// rename, `pending` (the edit's audit record) is written and synced as
/// the journal beside the file, so that an edit killed after the rename is
/// still audited (see [`reconcile`]); the caller appends the record and
/// then removes the journal with [`remove_journal`].
///
/// Another `flags` command cannot write in between (see [`DirLock`]); a
/// write by another program that lands between that last read and the
/// rename (a window of microseconds) is still lost, everything before it
/// is caught.
pub(crate) fn replace(
    path: &Path,
    expected: &[u8],
    new: &[u8],
    permissions: &Permissions,
    pending: &Pending,
) -> Result<(), WriteError> {
    let name = path.display();
    let io = |what: &str, e: io::Error| {
        WriteError::Io(format!("{name}: cannot {what}: {e}; nothing was written"))
    };
    let mut journaled = false;
    let replaced = replace_atomically(path, new, Some(permissions), || {
        test_stop("temp-written");
        let current = match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_file() => {
                fs::read(path).map_err(|e| Refusal::Io("read it again", e))?
            }
            // Replaced by a link or a directory, or deleted: changed all the same.
            _ => return Err(Refusal::Conflict),
        };
        if current != expected {
            return Err(Refusal::Conflict);
        }
        write_journal(path, pending).map_err(|e| Refusal::Io("write the edit's journal", e))?;
        journaled = true;
        test_stop("journal-written");
        Ok(())
    });
    match replaced {
        Ok(replaced) => {
            // The new content is in place even when this failed: a warning.
            if let Some(e) = replaced.dir_sync_error() {
                eprintln!("warning: {name}: written, but syncing its directory failed: {e}");
            }
            test_stop("renamed");
            Ok(())
        }
        Err(ReplaceError::Refused(Refusal::Conflict)) => Err(WriteError::Conflict),
        Err(ReplaceError::Refused(Refusal::Io(what, e))) => Err(io(what, e)),
        Err(ReplaceError::Io { step, source }) => {
            // Only the rename comes after the journal.
            if journaled {
                let _ = fs::remove_file(journal_path(path));
            }
            Err(io(step, source))
        }
    }
}

/// Why the check just before the rename refused.
enum Refusal {
    Conflict,
    Io(&'static str, io::Error),
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// One line of the audit log.
#[derive(Serialize, Deserialize)]
pub(crate) struct AuditRecord {
    /// RFC 3339, UTC: when the file was replaced (taken just before).
    pub time: String,
    pub actor: String,
    pub command: String,
    /// The edited file, as an absolute path.
    pub file: String,
    /// Content hash before the edit ([`flags_core::Snapshot::version`]).
    pub before: String,
    /// Content hash after the edit.
    pub after: String,
    pub summary: String,
    /// Only in a record appended by [`reconcile`] for an interrupted edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// When [`reconcile`] appended it (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<String>,
}

/// What the command that found an interrupted edit's journal knew of it.
#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Recovery {
    /// The file held the edit's result: the edit was written.
    Applied,
    /// The file held neither the content the edit was made on nor its
    /// result: it was changed since by other means, and whether the edit
    /// was written cannot be told.
    Unconfirmed,
}

/// `FILE.audit.jsonl` beside the file.
pub(crate) fn default_audit_log(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".audit.jsonl");
    path.with_file_name(name)
}

fn record_line(record: &AuditRecord) -> io::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(io::Error::other)
}

/// Appends one JSON line (one `write` call, opened in append mode, synced).
pub(crate) fn append_audit(log: &Path, record: &AuditRecord) -> io::Result<()> {
    let mut line = record_line(record)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    file.write_all(&line)?;
    file.sync_data()
}

/// Whether `log` holds the line of `record`, as appended by the edit or by
/// [`reconcile`] (which adds its fields at the end).
fn log_holds(log: &Path, record: &AuditRecord) -> io::Result<bool> {
    let line = record_line(record)?;
    // `{...,"summary":"..."}`: the same up to the closing brace.
    let stem = &line[..line.len() - 1];
    let file = match fs::File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for logged in io::BufReader::new(file).split(b'\n') {
        let logged = logged?;
        if let Some(rest) = logged.strip_prefix(stem)
            && matches!(rest.first(), Some(b'}' | b','))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The journal of an edit in progress: its complete audit record and where
/// it goes, written before the file is replaced (see [`replace`]).
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The audit log the record goes to, as an absolute path.
    pub audit_log: PathBuf,
    pub record: AuditRecord,
}

/// `.NAME.edit-pending` beside the flag file.
pub(crate) fn journal_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".edit-pending");
    parent(path).join(name)
}

/// Writes the journal and syncs it and its directory, so that it is on
/// disk before the rename it announces.
fn write_journal(path: &Path, pending: &Pending) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(pending).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(journal_path(path))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    sync_dir(&parent(path))
}

/// Removes the journal once its record is in the audit log. Failing to is
/// harmless (the next command finds the record logged), so it only warns.
pub(crate) fn remove_journal(path: &Path) {
    let journal = journal_path(path);
    match fs::remove_file(&journal) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => eprintln!(
            "warning: {}: cannot remove {}: {e}",
            path.display(),
            journal.display()
        ),
    }
}

/// The journal of `path`'s last edit, when it was left behind by an edit
/// that was interrupted (none when an edit of the directory is running:
/// its journal is not left over).
pub(crate) fn interrupted_edit(path: &Path) -> Option<AuditRecord> {
    let text = fs::read(journal_path(path)).ok()?;
    if let Ok(dir) = fs::File::open(parent(path))
        && let Err(fs::TryLockError::WouldBlock) = dir.try_lock()
    {
        return None;
    }
    serde_json::from_slice::<Pending>(&text)
        .ok()
        .map(|pending| pending.record)
}

/// Settles the journal an interrupted edit of `path` left, if any: call it
/// holding the [`DirLock`], before the next edit. The journal's record is
///
/// - dropped when it is already in its audit log (the edit was killed
///   after appending it);
/// - dropped when the file still holds the content the edit was made on
///   (killed before the rename: nothing happened);
/// - appended with `"recovery": "applied"` when the file holds the edit's
///   result (killed after the rename, before the audit record);
/// - appended with `"recovery": "unconfirmed"` otherwise (the file changed
///   since by other means, so whether the edit was written is unknown).
///
/// A journal cut short (killed while writing it, before the rename) is
/// dropped. Each case is said on stderr except the first. Fails only when
/// the journal cannot be read or its record cannot be appended: then the
/// next edit waits, as the record must not be lost.
pub(crate) fn reconcile(path: &Path) -> Result<(), String> {
    let name = path.display();
    let journal = journal_path(path);
    let text = match fs::read(&journal) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "{name}: cannot read {}, the journal of an interrupted edit: {e}; nothing was written",
                journal.display()
            ));
        }
    };
    let Ok(pending) = serde_json::from_slice::<Pending>(&text) else {
        // The journal is complete and synced before the rename: one cut
        // short means the edit stopped before it wrote the file.
        remove_journal(path);
        eprintln!(
            "note: {name}: removed the incomplete journal of an edit interrupted before it wrote the file"
        );
        return Ok(());
    };
    let log = &pending.audit_log;
    let unreadable = |e: io::Error| {
        format!(
            "{name}: an interrupted edit ({}) left its record; cannot read the audit log {} to see whether it is there: {e}; nothing was written",
            pending.record.summary,
            log.display()
        )
    };
    if log_holds(log, &pending.record).map_err(unreadable)? {
        remove_journal(path);
        return Ok(());
    }
    let current = fs::read(path)
        .ok()
        .and_then(|bytes| Snapshot::from_slice(&bytes).ok())
        .map(|snapshot| snapshot.version().to_owned());
    let mut record = pending.record;
    let recovery = match current {
        Some(v) if v == record.before => {
            remove_journal(path);
            eprintln!(
                "note: {name}: an edit was interrupted before it wrote the file, which is unchanged; \
                 nothing to audit ({}: {})",
                record.command, record.summary
            );
            return Ok(());
        }
        Some(v) if v == record.after => Recovery::Applied,
        _ => Recovery::Unconfirmed,
    };
    record.recovery = Some(recovery);
    record.recovered_at = Some(flags_core::now().to_string());
    append_audit(log, &record).map_err(|e| {
        format!(
            "{name}: an interrupted edit ({}) could not be recorded in the audit log {}: {e}; nothing was written",
            record.summary,
            log.display()
        )
    })?;
    remove_journal(path);
    let what = match recovery {
        Recovery::Applied => {
            "had written the file but not its audit record; recorded it now as \"applied\""
        }
        Recovery::Unconfirmed => {
            "may or may not have written the file, which has changed since; recorded it now as \"unconfirmed\""
        }
    };
    eprintln!(
        "note: {name}: an interrupted edit {what} in {} ({}: {})",
        log.display(),
        record.command,
        record.summary
    );
    Ok(())
}
