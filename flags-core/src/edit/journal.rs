//! The journal of an edit in progress (`.NAME.edit-pending` beside the
//! flag file): its complete audit record and where it goes, written and
//! synced just before the file is replaced and removed once the record is
//! in the audit log. An edit killed in between leaves it, and the next
//! edit settles it ([`reconcile`]).

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::audit::{self, AuditRecord, Recovery};
use super::error::EditError;
use super::lock;
use super::notice::{Notice, Notify};
use crate::file::{DEFAULT_MAX_FILE_BYTES, directory_of, read_flag_file};
use crate::model::Snapshot;

/// The journal of an edit in progress.
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
    directory_of(path).join(name)
}

/// Writes the journal and syncs it and its directory, so that it is on
/// disk before the rename it announces.
pub(crate) fn write(path: &Path, pending: &Pending) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(pending).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(journal_path(path))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    sync_dir(&directory_of(path))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes the journal once its record is in the audit log. Failing to is
/// harmless (the next edit finds the record logged), so it is only a
/// notice.
pub(crate) fn remove(path: &Path, notify: Notify<'_>) {
    let journal = journal_path(path);
    if let Err(error) = audit::remove_if_present(&journal) {
        notify(&Notice::JournalNotRemoved {
            file: path.to_path_buf(),
            journal,
            error,
        });
    }
}

/// Reads the journal, if there is one: never more than the size limit of a
/// flag file, and without blocking on something that is not a file.
fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match read_flag_file(&journal_path(path), DEFAULT_MAX_FILE_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The record of `path`'s last edit, when that edit was interrupted and
/// left its journal (none while an edit of the directory is running: its
/// journal is not left over).
pub(crate) fn interrupted_edit(path: &Path) -> Option<AuditRecord> {
    let text = read(path).ok()??;
    if lock::is_locked(&directory_of(path)) {
        return None;
    }
    serde_json::from_slice::<Pending>(&text)
        .ok()
        .map(|pending| pending.record)
}

/// Settles the journal an interrupted edit of `path` left, if any: call it
/// holding the directory lock, before the next edit. The journal's record
/// is
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
/// dropped. Each case but the first is a [`Notice`]. Fails only when the
/// journal cannot be read or its record cannot be appended: then the next
/// edit waits, as the record must not be lost.
pub(crate) fn reconcile(path: &Path, notify: Notify<'_>) -> Result<(), EditError> {
    let name = path.display();
    let journal = journal_path(path);
    let text = match read(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(()),
        Err(e) => {
            return Err(EditError::io(format!(
                "{name}: cannot read {}, the journal of an interrupted edit: {e}; nothing was written",
                journal.display()
            )));
        }
    };
    let Ok(pending) = serde_json::from_slice::<Pending>(&text) else {
        // The journal is complete and synced before the rename: one cut
        // short means the edit stopped before it wrote the file.
        remove(path, notify);
        notify(&Notice::IncompleteJournalRemoved {
            file: path.to_path_buf(),
        });
        return Ok(());
    };
    let log = &pending.audit_log;
    let unreadable = |e: io::Error| {
        EditError::io(format!(
            "{name}: an interrupted edit ({}) left its record; cannot read the audit log {} to see whether it is there: {e}; nothing was written",
            pending.record.summary,
            log.display()
        ))
    };
    if audit::holds(log, &pending.record).map_err(unreadable)? {
        remove(path, notify);
        return Ok(());
    }
    let current = read_flag_file(path, DEFAULT_MAX_FILE_BYTES)
        .ok()
        .and_then(|bytes| Snapshot::from_slice(&bytes).ok())
        .map(|snapshot| snapshot.version().to_owned());
    let mut record = pending.record;
    let recovery = match current {
        Some(v) if v == record.before => {
            remove(path, notify);
            notify(&Notice::InterruptedEditNotWritten {
                file: path.to_path_buf(),
                command: record.command,
                summary: record.summary,
            });
            return Ok(());
        }
        Some(v) if v == record.after => Recovery::Applied,
        _ => Recovery::Unconfirmed,
    };
    record.recovery = Some(recovery);
    record.recovered_at = Some(crate::now().to_string());
    audit::append(log, &record).map_err(|e| {
        EditError::io(format!(
            "{name}: an interrupted edit ({}) could not be recorded in the audit log {}: {e}; nothing was written",
            record.summary,
            log.display()
        ))
    })?;
    remove(path, notify);
    notify(&Notice::InterruptedEditRecorded {
        file: path.to_path_buf(),
        recovery,
        audit_log: log.clone(),
        command: record.command,
        summary: record.summary,
    });
    Ok(())
}
