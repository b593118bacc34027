//! The crate's one public error type.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in this crate: an unreadable file, a flag
/// file or context that fails validation, a malformed time, or an edit
/// that cannot be made (`edit`, cargo feature `edit`).
///
/// Validation errors carry every problem found as [`Diagnostic`]s; the
/// `Display` form prints one per line as `SOURCE:LINE:COL: PATH: message`.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
enum ErrorKind {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "watch")]
    #[error("{}: cannot watch for changes: {message}", path.display())]
    Watch { path: PathBuf, message: String },
    /// The flag server could not be used (`remote`): unreachable, an
    /// unusable answer and no cache to start from, or unusable options.
    #[cfg(feature = "remote")]
    #[error("{url}: {message}")]
    Remote {
        url: String,
        message: String,
        /// The options themselves are wrong (a bad URL), not the server.
        invalid_option: bool,
    },
    #[error("{}", DiagnosticList(.0))]
    Invalid(Vec<Diagnostic>),
    #[error(
        "invalid time `{text}`: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z"
    )]
    Time { text: String },
    /// An edit that cannot be made (see `edit`): an unknown flag, a key
    /// that already exists, a value out of range.
    #[cfg(feature = "edit")]
    #[error("{message}")]
    Edit { message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            kind: ErrorKind::Io {
                path: path.into(),
                source,
            },
        }
    }

    #[cfg(feature = "watch")]
    pub(crate) fn watch(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self {
            kind: ErrorKind::Watch {
                path: path.into(),
                message: message.to_string(),
            },
        }
    }

    #[cfg(feature = "remote")]
    pub(crate) fn remote(url: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Remote {
                url: url.into(),
                message: message.into(),
                invalid_option: false,
            },
        }
    }

    #[cfg(feature = "remote")]
    pub(crate) fn remote_option(url: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Remote {
                url: url.into(),
                message: message.into(),
                invalid_option: true,
            },
        }
    }

    pub(crate) fn invalid(diagnostics: Vec<Diagnostic>) -> Self {
        debug_assert!(!diagnostics.is_empty());
        Self {
            kind: ErrorKind::Invalid(diagnostics),
        }
    }

    pub(crate) fn time(text: &str) -> Self {
        Self {
            kind: ErrorKind::Time {
                text: text.to_owned(),
            },
        }
    }

    #[cfg(feature = "edit")]
    pub(crate) fn edit(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Edit {
                message: message.into(),
            },
        }
    }

    /// Every validation problem found, in document order. Empty for errors
    /// that are not about the content of a file or context (I/O, time).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match &self.kind {
            ErrorKind::Invalid(list) => list,
            _ => &[],
        }
    }

    /// True when the error is about reading a file rather than its content.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ErrorKind::Io { .. })
    }

    /// True when a flag server could not be used (cargo feature `remote`):
    /// it was unreachable or gave an unusable answer (not a flag file that
    /// failed validation: that error carries [`diagnostics`](Self::diagnostics)),
    /// and no cache file could stand in.
    #[cfg(feature = "remote")]
    pub fn is_remote(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Remote {
                invalid_option: false,
                ..
            }
        )
    }

    /// True when the options given to open a flag server source are wrong,
    /// such as a URL that does not parse or is not `http`/`https` (cargo
    /// feature `remote`).
    #[cfg(feature = "remote")]
    pub fn is_invalid_option(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Remote {
                invalid_option: true,
                ..
            }
        )
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// One problem in a flag file or context: where it is and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub(crate) source: Arc<str>,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) path: String,
    pub(crate) message: String,
}

impl Diagnostic {
    /// The file name (or `<input>`, `<context>` for in-memory text).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, counted in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// JSON path of the offending value, e.g. `flags.checkout.percentage`;
    /// `(root)` for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong and what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.source, self.line, self.column, self.path, self.message
        )
    }
}
