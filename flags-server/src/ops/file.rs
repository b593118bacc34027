//! Reading a flag file to edit it, replacing it atomically, and the audit log.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

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
    _handle: Option<fs::File>,
}

/// Takes the lock on `path`'s directory, waiting up to [`LOCK_WAIT`] for
/// another edit. A directory that cannot be locked (a file system without
/// locks) gives no lock: the conflict check still protects the file.
pub(crate) fn lock_dir(path: &Path) -> Result<DirLock, String> {
    let dir = parent(path);
    let Ok(handle) = fs::File::open(&dir) else {
        return Ok(DirLock { _handle: None });
    };
    let start = Instant::now();
    let mut said = false;
    loop {
        match handle.try_lock() {
            Ok(()) => {
                return Ok(DirLock {
                    _handle: Some(handle),
                });
            }
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(_)) => return Ok(DirLock { _handle: None }),
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

/// Why [`replace`] wrote nothing.
pub(crate) enum WriteError {
    /// The file no longer holds the bytes the edit was made on.
    Conflict,
    Io(String),
}

/// Replaces `path` with `new`, atomically: a temporary file in the same
/// directory, written and synced, with the original's permissions, is
/// renamed over `path`, and the directory is synced. Just before the
/// rename the file is read again: when it no longer holds `expected`,
/// nothing is written.
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
) -> Result<(), WriteError> {
    let name = path.display();
    let io = |what: &str, e: io::Error| {
        WriteError::Io(format!("{name}: cannot {what}: {e}; nothing was written"))
    };
    let dir = parent(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = TempFile(dir.join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id())));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.0)
        .map_err(|e| io("create a temporary file beside it", e))?;
    file.write_all(new)
        .map_err(|e| io("write the temporary file", e))?;
    fs::set_permissions(&temp.0, permissions.clone())
        .map_err(|e| io("set the temporary file's permissions", e))?;
    file.sync_all()
        .map_err(|e| io("sync the temporary file", e))?;
    drop(file);

    let current = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => fs::read(path).map_err(|e| io("read it again", e))?,
        // Replaced by a link or a directory, or deleted: changed all the same.
        _ => return Err(WriteError::Conflict),
    };
    if current != expected {
        return Err(WriteError::Conflict);
    }
    fs::rename(&temp.0, path).map_err(|e| io("rename the temporary file over it", e))?;
    std::mem::forget(temp);
    // Make the rename itself durable. The new content is in place even
    // when this fails, so that is a warning.
    #[cfg(unix)]
    if let Err(e) = fs::File::open(&dir).and_then(|d| d.sync_all()) {
        eprintln!("warning: {name}: written, but syncing its directory failed: {e}");
    }
    Ok(())
}

/// A temporary file removed on drop unless it was renamed.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// One line of the audit log.
#[derive(Serialize)]
pub(crate) struct AuditRecord<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    pub actor: &'a str,
    pub command: &'a str,
    /// The edited file, as an absolute path.
    pub file: String,
    /// Content hash before the edit ([`flags_core::Snapshot::version`]).
    pub before: &'a str,
    /// Content hash after the edit.
    pub after: &'a str,
    pub summary: &'a str,
}

/// `FILE.audit.jsonl` beside the file.
pub(crate) fn default_audit_log(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".audit.jsonl");
    path.with_file_name(name)
}

/// Appends one JSON line (one `write` call, opened in append mode, synced).
pub(crate) fn append_audit(log: &Path, record: &AuditRecord<'_>) -> io::Result<()> {
    let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    file.write_all(&line)?;
    file.sync_data()
}
