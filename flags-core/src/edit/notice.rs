//! What an edit has to say on the way that is not its result: waiting for
//! another edit, the leftovers of an interrupted edit it cleaned up, a
//! harmless failure after the file was written. The library prints
//! nothing; the caller decides ([`Options::notify`](super::Options::notify)):
//! `flags` prints each on stderr.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;

use super::audit::Recovery;

/// The callback an edit reports its notices to.
pub(crate) type Notify<'a> = &'a dyn Fn(&Notice);

/// One thing an edit says on the way. `Display` gives the line `flags`
/// prints on stderr (`note: ...`, `warning: ...` or, for the wait, the bare
/// line), each naming the flag file as it was given.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notice {
    /// Another edit of a file in the same directory holds the lock: this
    /// one waits for it (said once per edit).
    WaitingForLock {
        /// The flag file being edited.
        file: PathBuf,
        /// The directory whose lock it waits for.
        dir: PathBuf,
    },
    /// A temporary file an interrupted edit left behind was removed.
    TemporaryFileRemoved {
        /// The flag file being edited.
        file: PathBuf,
        /// The temporary file's name, in the same directory.
        name: OsString,
    },
    /// A temporary file an interrupted edit left behind could not be
    /// removed.
    TemporaryFileNotRemoved {
        /// The flag file being edited.
        file: PathBuf,
        /// The temporary file's name, in the same directory.
        name: OsString,
        /// Why.
        error: io::Error,
    },
    /// The journal of an edit interrupted while writing it (before it
    /// wrote the file) was removed.
    IncompleteJournalRemoved {
        /// The flag file being edited.
        file: PathBuf,
    },
    /// An interrupted edit had not written the file: its journal was
    /// removed, nothing to audit.
    InterruptedEditNotWritten {
        /// The flag file being edited.
        file: PathBuf,
        /// The interrupted edit's `command`.
        command: String,
        /// The interrupted edit's `summary`.
        summary: String,
    },
    /// An interrupted edit's record was appended to its audit log now,
    /// with its `recovery`.
    InterruptedEditRecorded {
        /// The flag file being edited.
        file: PathBuf,
        /// `applied` or `unconfirmed`.
        recovery: Recovery,
        /// Where the record went.
        audit_log: PathBuf,
        /// The interrupted edit's `command`.
        command: String,
        /// The interrupted edit's `summary`.
        summary: String,
    },
    /// The file was written, but syncing its directory failed: a crash
    /// soon after might bring the old file back.
    DirectoryNotSynced {
        /// The flag file edited.
        file: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The journal could not be removed after its record was appended
    /// (harmless: the next edit finds the record in the log).
    JournalNotRemoved {
        /// The flag file edited.
        file: PathBuf,
        /// The journal.
        journal: PathBuf,
        /// Why.
        error: io::Error,
    },
}

impl Notice {
    /// Whether it is a warning (something failed) rather than a note.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Notice::TemporaryFileNotRemoved { .. }
                | Notice::DirectoryNotSynced { .. }
                | Notice::JournalNotRemoved { .. }
        )
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::WaitingForLock { file, dir } => write!(
                f,
                "{}: waiting for another flags command editing files in {}",
                file.display(),
                dir.display()
            ),
            Notice::TemporaryFileRemoved { file, name } => write!(
                f,
                "note: {}: removed {}, the temporary file of an interrupted edit",
                file.display(),
                name.to_string_lossy()
            ),
            Notice::TemporaryFileNotRemoved { file, name, error } => write!(
                f,
                "warning: {}: cannot remove {}, the temporary file of an interrupted edit: {error}",
                file.display(),
                name.to_string_lossy()
            ),
            Notice::IncompleteJournalRemoved { file } => write!(
                f,
                "note: {}: removed the incomplete journal of an edit interrupted before it wrote the file",
                file.display()
            ),
            Notice::InterruptedEditNotWritten {
                file,
                command,
                summary,
            } => write!(
                f,
                "note: {}: an edit was interrupted before it wrote the file, which is unchanged; \
                 nothing to audit ({command}: {summary})",
                file.display()
            ),
            Notice::InterruptedEditRecorded {
                file,
                recovery,
                audit_log,
                command,
                summary,
            } => {
                let what = match recovery {
                    Recovery::Applied => {
                        "had written the file but not its audit record; recorded it now as \"applied\""
                    }
                    Recovery::Unconfirmed => {
                        "may or may not have written the file, which has changed since; recorded it now as \"unconfirmed\""
                    }
                };
                write!(
                    f,
                    "note: {}: an interrupted edit {what} in {} ({command}: {summary})",
                    file.display(),
                    audit_log.display()
                )
            }
            Notice::DirectoryNotSynced { file, error } => write!(
                f,
                "warning: {}: written, but syncing its directory failed: {error}",
                file.display()
            ),
            Notice::JournalNotRemoved {
                file,
                journal,
                error,
            } => write!(
                f,
                "warning: {}: cannot remove {}: {error}",
                file.display(),
                journal.display()
            ),
        }
    }
}
