//! The metadata fingerprint of the flag file: what the metadata poll and
//! the on-access checks compare to notice a change without reading it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What the metadata poll compares: enough to notice an in-place write, a
/// rename over the file, and a symlink swap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fingerprint {
    /// The path with every symlink resolved.
    target: Option<PathBuf>,
    file: Result<FileMeta, io::ErrorKind>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FileMeta {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode, change time (seconds, nanoseconds).
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Fingerprint {
    pub(super) fn of(path: &Path) -> Fingerprint {
        let file = std::fs::metadata(path)
            .map(|m| FileMeta {
                len: m.len(),
                modified: m.modified().ok(),
                #[cfg(unix)]
                unix: {
                    use std::os::unix::fs::MetadataExt as _;
                    (m.dev(), m.ino(), m.ctime(), m.ctime_nsec())
                },
            })
            .map_err(|e| e.kind());
        Fingerprint {
            target: std::fs::canonicalize(path).ok(),
            file,
        }
    }
}
