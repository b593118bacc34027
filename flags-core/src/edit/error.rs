//! Why an edit transaction ([`apply`](super::apply)) wrote nothing.

use crate::error::{Diagnostic, Error};

/// Why [`apply`](super::apply) failed: a [`kind`](EditError::kind) to act
/// on, and the message `flags` prints, which names the file and says that
/// nothing was written (or, in the one case it was, says so: see
/// [`written`](EditError::written)). For an invalid file, the message's
/// first line is followed by every diagnostic, one per line, as
/// `FILE:LINE:COL: PATH: message`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EditError {
    kind: EditErrorKind,
    message: String,
    diagnostics: Vec<Diagnostic>,
    written: bool,
}

/// What kind of failure an [`EditError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditErrorKind {
    /// Someone else got there first: the file changed since it was read
    /// (another program wrote it), or another edit held the directory lock
    /// for longer than the wait. Nothing was written; running the edit
    /// again applies it to what is there now.
    Conflict,
    /// The file is not a valid flag file, or the edit would make it one
    /// that is not (a `replace` with invalid text):
    /// [`diagnostics`](EditError::diagnostics) says where.
    Invalid,
    /// The edit cannot be made as asked: an unknown flag, a key that
    /// already exists, a value out of range, an empty actor.
    Rejected,
    /// Reading or writing failed, or the path is not a regular file (a
    /// symbolic link, a directory, a missing file for anything but
    /// `replace`).
    Io,
}

impl EditError {
    fn new(kind: EditErrorKind, message: String) -> Self {
        Self {
            kind,
            message,
            diagnostics: Vec::new(),
            written: false,
        }
    }

    pub(crate) fn conflict(message: String) -> Self {
        Self::new(EditErrorKind::Conflict, message)
    }

    pub(crate) fn rejected(message: String) -> Self {
        Self::new(EditErrorKind::Rejected, message)
    }

    pub(crate) fn io(message: String) -> Self {
        Self::new(EditErrorKind::Io, message)
    }

    /// The file was written, but something after it failed (its audit
    /// record could not be appended).
    pub(crate) fn io_after_writing(message: String) -> Self {
        Self {
            written: true,
            ..Self::new(EditErrorKind::Io, message)
        }
    }

    /// `error` of a file that is invalid (or would be), with `first_line`
    /// before its diagnostics; without diagnostics, `otherwise`.
    pub(crate) fn from_core(error: &Error, first_line: String, otherwise: String) -> Self {
        if error.diagnostics().is_empty() {
            return Self::rejected(otherwise);
        }
        Self {
            diagnostics: error.diagnostics().to_vec(),
            ..Self::new(EditErrorKind::Invalid, format!("{first_line}\n{error}"))
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> EditErrorKind {
        self.kind
    }

    /// True for [`EditErrorKind::Conflict`]: run the edit again.
    pub fn is_conflict(&self) -> bool {
        self.kind == EditErrorKind::Conflict
    }

    /// Every problem of an invalid file (or of the text an edit would have
    /// written), in document order; empty for other failures.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// True in the one failure that comes after the file was replaced: its
    /// audit record could not be appended. The record then stays in the
    /// journal beside the file, and the next edit appends it.
    pub fn written(&self) -> bool {
        self.written
    }
}
