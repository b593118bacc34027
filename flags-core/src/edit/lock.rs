//! The edit lock: an exclusive `flock(2)` on the directory of a flag file,
//! held from the read of an edit to its audit record, so that edits of
//! files in the same directory at the same time (from `flags` commands, a
//! PHP process, anything using the C ABI; other threads of the same
//! process too) run one after the other: each reads what the previous one
//! wrote and both land. Writers that do not take it (editors, deploy
//! tools) are still caught by the conflict check before the rename.
//!
//! It is the lock `flags` has always taken (std's `File::lock` is the same
//! `flock(2)`), so older `flags` binaries and this code take turns too.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::EditError;
use super::notice::{Notice, Notify};
use crate::file::{directory_of, is_temporary_file_of};

/// The lock, released when dropped (closing the directory's descriptor
/// releases the `flock`).
pub(crate) struct DirLock {
    handle: Option<File>,
}

impl DirLock {
    /// Whether the lock is really held (not on a file system without locks).
    pub(crate) fn held(&self) -> bool {
        self.handle.is_some()
    }
}

/// What one attempt to take the lock found.
enum Attempt {
    Taken,
    Busy,
    /// The file system cannot lock (or the call failed otherwise).
    Unsupported,
}

#[cfg(unix)]
fn try_lock(dir: &File) -> Attempt {
    use rustix::fs::{FlockOperation, flock};
    match flock(dir, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Attempt::Taken,
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Attempt::Busy,
        Err(_) => Attempt::Unsupported,
    }
}

#[cfg(not(unix))]
fn try_lock(_dir: &File) -> Attempt {
    Attempt::Unsupported
}

/// Takes the lock on `path`'s directory, waiting up to `wait` for another
/// edit (said once, as [`Notice::WaitingForLock`]). A directory that cannot
/// be opened or locked (a file system without locks) gives no lock: the
/// conflict check still protects the file. Waiting longer than `wait` is a
/// conflict.
pub(crate) fn lock_dir(
    path: &Path,
    wait: Duration,
    notify: Notify<'_>,
) -> Result<DirLock, EditError> {
    let dir = directory_of(path);
    let Ok(handle) = File::open(&dir) else {
        return Ok(DirLock { handle: None });
    };
    let start = Instant::now();
    let mut said = false;
    loop {
        match try_lock(&handle) {
            Attempt::Taken => {
                return Ok(DirLock {
                    handle: Some(handle),
                });
            }
            Attempt::Busy => {}
            Attempt::Unsupported => return Ok(DirLock { handle: None }),
        }
        if start.elapsed() >= wait {
            return Err(EditError::conflict(format!(
                "{}: another flags command has been editing files in {} for {}; \
                 nothing was written",
                path.display(),
                dir.display(),
                duration(wait)
            )));
        }
        if !said {
            notify(&Notice::WaitingForLock {
                file: path.to_path_buf(),
                dir: dir.clone(),
            });
            said = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `30 s`, or `250 ms` when not whole seconds.
fn duration(wait: Duration) -> String {
    if wait.subsec_millis() == 0 {
        format!("{} s", wait.as_secs())
    } else {
        format!("{} ms", wait.as_millis())
    }
}

/// Whether another edit holds the lock of `dir` right now.
pub(crate) fn is_locked(dir: &Path) -> bool {
    let Ok(handle) = File::open(dir) else {
        return false;
    };
    // Taken means free: released again when `handle` is dropped.
    matches!(try_lock(&handle), Attempt::Busy)
}

/// Removes the temporary files of `path` that edits killed while writing
/// them left behind (they can be megabytes each). Call it only while
/// holding the [`DirLock`]: then no other edit is writing one. Only
/// regular files named exactly as `replace_atomically` names them for this
/// flag file ([`is_temporary_file_of`]) are removed; a notice says which.
pub(crate) fn remove_stale_temps(path: &Path, notify: Notify<'_>) {
    let Some(file_name) = path.file_name() else {
        return;
    };
    let Ok(entries) = fs::read_dir(directory_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_temporary_file_of(&name, file_name) || !entry.file_type().is_ok_and(|t| t.is_file())
        {
            continue;
        }
        let file = path.to_path_buf();
        match fs::remove_file(entry.path()) {
            Ok(()) => notify(&Notice::TemporaryFileRemoved { file, name }),
            Err(error) => notify(&Notice::TemporaryFileNotRemoved { file, name, error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_whole_seconds_or_milliseconds() {
        assert_eq!(duration(Duration::from_secs(30)), "30 s");
        assert_eq!(duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1500 ms");
    }
}
