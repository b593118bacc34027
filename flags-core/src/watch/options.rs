//! How a [`FileSource`](super::FileSource) watches its file.

use std::path::PathBuf;
use std::time::Duration;

use crate::file::DEFAULT_MAX_FILE_BYTES;

/// How a [`FileSource`](super::FileSource) watches its file.
///
/// ```
/// use std::time::Duration;
/// use flags_core::watch::WatchOptions;
///
/// let options = WatchOptions { poll_interval: Duration::from_secs(5), ..WatchOptions::default() };
/// assert_eq!(options.debounce, Duration::from_millis(20));
/// assert_eq!(options.max_file_bytes, flags_core::DEFAULT_MAX_FILE_BYTES);
/// assert_eq!(options.cache_path, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// Quiet time after the last file system event before the file is read.
    /// A continuous storm of events is read at the latest after 10 × this.
    /// Default: 20 ms.
    pub debounce: Duration,
    /// How often the file's metadata is compared with the last check, as a
    /// fallback for mounts where file system events never arrive.
    /// [`Duration::ZERO`] disables polling. Default: 2 s.
    pub poll_interval: Duration,
    /// The largest file accepted, in bytes; a bigger one is a bad state
    /// (never read past this). Default:
    /// [`DEFAULT_MAX_FILE_BYTES`](crate::DEFAULT_MAX_FILE_BYTES), 64 MiB.
    pub max_file_bytes: u64,
    /// Where to keep a copy of the last good file, written atomically after
    /// each good load whose content changed, and served (as
    /// [`stale`](crate::source::SourceStatus::stale)) by
    /// [`FileSource::start`](super::FileSource::start) when the
    /// file is bad at start. Its directory must exist. Default: none.
    pub cache_path: Option<PathBuf>,
    /// Whether to watch the file's directory for file system events
    /// (default true). Off, no watcher is started and changes are noticed
    /// by the metadata poll alone: for file systems whose events are
    /// missing or misleading (network and FUSE mounts, some container
    /// mounts), or to spare the inotify instances and watches a host has.
    /// With [`poll_interval`](Self::poll_interval) zero as well, the file
    /// is read again only by
    /// [`FileSource::reload_now`](super::FileSource::reload_now).
    pub watch_events: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(20),
            poll_interval: Duration::from_secs(2),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            cache_path: None,
            watch_events: true,
        }
    }
}
