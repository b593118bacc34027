//! Hot-reloading file source (cargo feature `watch`).
//!
//! A [`FileSource`] loads a flag file, serves it as an immutable
//! [`Snapshot`] behind [`arc_swap`], and swaps in a new snapshot whenever the
//! file changes to new, valid content. Readers never block and never see a
//! mix of two files: a new file is read, hashed, parsed and validated
//! completely off to the side, then published with one atomic store.
//!
//! ```no_run
//! use flags_core::watch::{FileSource, ReloadEvent, WatchOptions};
//! use flags_core::{Context, now};
//!
//! // An invalid or unreadable file at start-up is an error: exit non-zero.
//! let source = FileSource::open("flags.json", WatchOptions::default())?;
//! source.on_event(|event| match event {
//!     ReloadEvent::Reloaded { version, changes, .. } => eprintln!("reloaded {version}: {changes:?}"),
//!     ReloadEvent::Failed { error } => eprintln!("keeping the last good flags: {error}"),
//! });
//!
//! // Per request: load the snapshot once, evaluate as often as needed.
//! let snapshot = source.snapshot();
//! let on = snapshot.is_enabled("checkout_v2", &Context::new(&[("user_id", "42")]), now());
//! # let _ = on;
//! # Ok::<(), flags_core::Error>(())
//! ```
//!
//! # How a change is noticed
//! - **Directory watch.** The file's parent directory is watched
//!   (non-recursively) with `notify`'s recommended watcher, not the file
//!   itself: rename-based saves (vim, `mv tmp flags.json`, editors' atomic
//!   saves) replace the file's inode, and a Kubernetes ConfigMap update swaps
//!   a `..data` symlink and shows up as events on `..data`, never on the file
//!   name. So any event in the directory schedules a check, except pure
//!   reads (opens by anyone, including this source). The path is resolved
//!   again, following symlinks, on every read.
//! - **Debounce.** A check runs once the directory has been quiet for
//!   [`WatchOptions::debounce`] (trailing edge), and at the latest
//!   10 × `debounce` after the first event of a continuous storm. A burst of
//!   writes therefore ends on its last content.
//! - **Content hash.** A check reads the bytes and hashes them first (the
//!   hash is [`Snapshot::version`]); unchanged bytes are not parsed again and
//!   do not count as a reload.
//! - **Metadata poll.** Every [`WatchOptions::poll_interval`] the file's
//!   metadata (length, modification and change times, device and inode, and
//!   the resolved symlink target) is compared with what the last check saw;
//!   a difference runs the same check. This is the only way to see changes
//!   on mounts where events never arrive: Docker single-file bind mounts,
//!   Kubernetes `subPath` mounts, some network file systems. If the watcher
//!   cannot be started (for example the inotify instance limit is reached),
//!   the source relies on the poll alone.
//!
//! # Last good snapshot
//! Only a completely parsed and validated file is ever stored. Any bad state
//! (invalid JSON or schema, empty, truncated, unreadable, deleted) keeps the
//! last good snapshot serving and is reported once per distinct bad content:
//! [`SourceStatus::healthy`] turns false, [`SourceStatus::last_error`] holds
//! the full diagnostics (`file:line:col: path: message`),
//! [`SourceStatus::failures`] grows by one and a [`ReloadEvent::Failed`] is
//! sent. The next good write recovers by itself. A file caught in the middle
//! of a non-atomic write is not a failure yet: the background thread reports
//! a bad file only once it has stayed bad for a short settling time
//! (5 × `debounce`, at least 100 ms), so a slow writer does not flap the
//! health of every server reading the file. [`FileSource::reload_now`]
//! reports at once.
//!
//! # Threads
//! One `notify` watcher thread and one worker thread named `flags-watch`,
//! which debounces, polls and reloads. Both stop promptly when the last clone
//! of the [`FileSource`] is dropped. Event callbacks run on the thread that
//! made the reload attempt; a panicking callback is caught and does not stop
//! the worker.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::Error;
use crate::model::Snapshot;
use crate::validate::content_version;

/// How a [`FileSource`] watches its file.
///
/// ```
/// use std::time::Duration;
/// use flags_core::watch::WatchOptions;
///
/// let options = WatchOptions { poll_interval: Duration::from_secs(5), ..WatchOptions::default() };
/// assert_eq!(options.debounce, Duration::from_millis(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// Quiet time after the last file system event before the file is read.
    /// A continuous storm of events is read at the latest after 10 × this.
    /// Default: 20 ms.
    pub debounce: Duration,
    /// How often the file's metadata is compared with the last check, as a
    /// fallback for mounts where file system events never arrive.
    /// [`Duration::ZERO`] disables polling. Default: 2 s.
    pub poll_interval: Duration,
    /// Whether to watch the directory for events at all (default true).
    /// Turning it off leaves only the metadata poll; for tests of the poll.
    #[doc(hidden)]
    pub watch_events: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(20),
            poll_interval: Duration::from_secs(2),
            watch_events: true,
        }
    }
}

/// A flag file that reloads itself when it changes, keeping the last good
/// snapshot when an edit is bad. See the [module documentation](self).
///
/// Cloning is cheap and every clone serves the same snapshot; dropping the
/// last clone stops the background threads.
#[derive(Clone)]
pub struct FileSource {
    inner: Arc<Inner>,
}

/// Lives as long as the last [`FileSource`] clone; dropping it stops the
/// worker and the watcher.
struct Inner {
    shared: Arc<Shared>,
    shutdown: Sender<Msg>,
    _watcher: Option<RecommendedWatcher>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The worker may already be gone; nothing to do then.
        let _ = self.shutdown.send(Msg::Shutdown);
    }
}

/// What the worker and the handles share. The worker holds it strongly
/// until it exits.
struct Shared {
    /// As given to `open`: for `path()` and error messages.
    path: PathBuf,
    /// `path` made absolute (symlinks not resolved): what is read.
    abs: PathBuf,
    /// Source name in diagnostics.
    name: String,
    current: ArcSwap<Snapshot>,
    status: Mutex<SourceStatus>,
    /// Serializes reload attempts and the events they send.
    reload: Mutex<ReloadState>,
    callbacks: Mutex<Vec<Callback>>,
}

type Callback = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

struct ReloadState {
    /// The file's metadata when it was last read.
    fingerprint: Option<Fingerprint>,
    /// The bad state last reported; `None` while healthy.
    reported: Option<Bad>,
}

/// A bad state, to report each distinct one once.
#[derive(PartialEq, Eq)]
enum Bad {
    /// Content hash of a file that failed validation.
    Content(Box<str>),
    /// A read error.
    Io(io::ErrorKind, String),
}

/// Whether a failure is reported at once or only noted (a file may be
/// caught in the middle of a write).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tentative,
    Report,
}

enum Msg {
    Changed,
    Shutdown,
}

/// The health of a [`FileSource`], for readiness probes and metrics.
#[derive(Clone, Debug)]
pub struct SourceStatus {
    /// Version (content hash) of the snapshot being served.
    pub version: String,
    /// When the snapshot being served was loaded.
    pub loaded_at: SystemTime,
    /// True when the file, as last read, was the snapshot being served or
    /// a valid new one; false while a bad file is kept out.
    pub healthy: bool,
    /// Why the file is being kept out, while not healthy: the full error
    /// text, one `file:line:col: path: message` per problem, or
    /// `file: cannot read: reason`.
    pub last_error: Option<String>,
    /// Successful swaps after the first load.
    pub reloads: u64,
    /// Bad states reported, each distinct bad content counted once.
    pub failures: u64,
    /// When the file was last read after the first load, whatever the
    /// outcome.
    pub last_attempt_at: Option<SystemTime>,
}

/// What a reload attempt changed; sent to [`FileSource::on_event`]
/// callbacks.
#[derive(Clone, Debug)]
pub enum ReloadEvent {
    /// A new snapshot is being served, or (with `version == previous` and
    /// no changes) the file went back to the content being served after
    /// a failure.
    Reloaded {
        /// Version of the snapshot now served.
        version: String,
        /// Version of the snapshot served before.
        previous: String,
        /// Flags added, removed and changed.
        changes: Changes,
    },
    /// The file is bad; the last good snapshot keeps serving.
    Failed {
        /// The full error text, as in [`SourceStatus::last_error`].
        error: String,
    },
}

/// Flag keys that differ between two snapshots, each list sorted.
///
/// ```
/// use flags_core::Snapshot;
/// use flags_core::watch::Changes;
///
/// let old = Snapshot::from_slice(br#"{"version": 1, "flags": {"a": {}, "b": {"percentage": 5}}}"#)?;
/// let new = Snapshot::from_slice(br#"{"version": 1, "flags": {"b": {"percentage": 6}, "c": {}}}"#)?;
/// let changes = Changes::between(&old, &new);
/// assert_eq!(changes.added, ["c"]);
/// assert_eq!(changes.removed, ["a"]);
/// assert_eq!(changes.changed, ["b"]);
/// assert!(!changes.globals_changed);
/// # Ok::<(), flags_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Flags only in the new snapshot.
    pub added: Vec<String>,
    /// Flags only in the old snapshot.
    pub removed: Vec<String>,
    /// Flags in both whose normalized JSON differs.
    pub changed: Vec<String>,
    /// The file-wide settings changed: `kill_all` or the global `pilots`,
    /// which affect every flag.
    pub globals_changed: bool,
}

impl Changes {
    /// What changed from `old` to `new`, comparing each flag's normalized
    /// JSON ([`crate::Flag::to_json`]). Keys are sorted.
    pub fn between(old: &Snapshot, new: &Snapshot) -> Changes {
        let mut changes = Changes {
            globals_changed: old.globals_json() != new.globals_json(),
            ..Changes::default()
        };
        for flag in new.flags() {
            match old.flag(flag.key()) {
                None => changes.added.push(flag.key().to_owned()),
                Some(before) if before.to_json() != flag.to_json() => {
                    changes.changed.push(flag.key().to_owned());
                }
                Some(_) => {}
            }
        }
        changes.removed = old
            .keys()
            .filter(|key| new.flag(key).is_none())
            .map(str::to_owned)
            .collect();
        changes
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.globals_changed
    }
}

impl FileSource {
    /// Loads the file and starts watching it. An invalid or unreadable file
    /// is an error (with every diagnostic): the caller should exit
    /// non-zero. Errors starting the threads are reported as I/O errors on
    /// the file's directory.
    pub fn open(path: impl AsRef<Path>, options: WatchOptions) -> Result<FileSource, Error> {
        let path = path.as_ref().to_path_buf();
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let dir = abs
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let (tx, rx) = mpsc::channel();

        // Watch before the first read, so a change during it is not missed.
        let watcher = if options.watch_events {
            match start_watcher(&dir, tx.clone()) {
                Ok(watcher) => Some(watcher),
                Err(_) if !options.poll_interval.is_zero() => None,
                Err(e) => return Err(Error::watch(dir, e)),
            }
        } else {
            None
        };

        let name = path.display().to_string();
        let fingerprint = Fingerprint::of(&abs);
        let bytes = std::fs::read(&abs).map_err(|e| Error::io(&path, e))?;
        let snapshot = Snapshot::from_slice_named(&bytes, &name)?;
        let status = SourceStatus {
            version: snapshot.version().to_owned(),
            loaded_at: SystemTime::now(),
            healthy: true,
            last_error: None,
            reloads: 0,
            failures: 0,
            last_attempt_at: None,
        };
        let shared = Arc::new(Shared {
            path,
            abs,
            name,
            current: ArcSwap::from_pointee(snapshot),
            status: Mutex::new(status),
            reload: Mutex::new(ReloadState {
                fingerprint: Some(fingerprint),
                reported: None,
            }),
            callbacks: Mutex::new(Vec::new()),
        });

        let worker = Arc::clone(&shared);
        thread::Builder::new()
            .name("flags-watch".to_owned())
            .spawn(move || run(&worker, &rx, options))
            .map_err(|e| Error::watch(dir, format!("cannot start the watcher thread: {e}")))?;

        Ok(FileSource {
            inner: Arc::new(Inner {
                shared,
                shutdown: tx,
                _watcher: watcher,
            }),
        })
    }

    /// The snapshot being served. Lock-free and never blocks; a snapshot is
    /// always one whole, valid file. Load it once per request or batch of
    /// evaluations and keep the `Arc` for as long as needed.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.shared.current.load_full()
    }

    /// Reads the file now and swaps it in if its content changed and is
    /// valid. `Ok(true)` when a new snapshot was swapped in, `Ok(false)`
    /// when the content hash was unchanged. An error when the file is bad
    /// (the last good snapshot keeps serving); a new bad state is reported
    /// at once in [`status`](Self::status) and to the callbacks.
    pub fn reload_now(&self) -> Result<bool, Error> {
        self.inner.shared.check(Mode::Report)
    }

    /// The source's health: version served, reload and failure counts, and
    /// the error keeping a bad file out.
    pub fn status(&self) -> SourceStatus {
        lock(&self.inner.shared.status).clone()
    }

    /// Registers a callback run after every reload attempt that changed
    /// something: a new snapshot, a newly reported failure, or a recovery.
    /// It runs on the thread that made the attempt (the `flags-watch`
    /// worker, or the caller of [`reload_now`](Self::reload_now)), one event
    /// at a time and in order. It may call [`snapshot`](Self::snapshot) and
    /// [`status`](Self::status) but not `reload_now` (that would deadlock),
    /// and should not keep a clone of this source (that would keep it
    /// alive). A panic in a callback is caught.
    pub fn on_event(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        lock(&self.inner.shared.callbacks).push(Arc::new(callback));
    }

    /// The path as given to [`open`](Self::open).
    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path())
            .field("version", &self.snapshot().version())
            .finish_non_exhaustive()
    }
}

fn start_watcher(dir: &Path, tx: Sender<Msg>) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Opening or reading a file changes nothing, and this source's own
        // reads would otherwise wake it up again. A write being closed does
        // count. Errors (such as a queue overflow) may hide changes: check.
        let relevant = match &event {
            Ok(event) => match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            },
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(Msg::Changed);
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// The worker: debounces events, polls metadata, reloads. Returns when the
/// last handle is dropped.
fn run(shared: &Shared, rx: &Receiver<Msg>, options: WatchOptions) {
    let debounce = options.debounce;
    let max_wait = debounce.saturating_mul(10);
    let settle = debounce.saturating_mul(5).max(Duration::from_millis(100));
    let poll = (!options.poll_interval.is_zero()).then_some(options.poll_interval);

    // (first, last) event of the burst waiting to be read.
    let mut burst: Option<(Instant, Instant)> = None;
    // When to report a bad file that may have been caught mid-write.
    let mut report_at: Option<Instant> = None;
    let mut next_poll = poll.map(|p| Instant::now() + p);

    loop {
        let due = [
            burst.map(|(first, last)| (last + debounce).min(first + max_wait)),
            report_at,
            next_poll,
        ]
        .into_iter()
        .flatten()
        .min();
        let msg = match due {
            Some(due) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match msg {
            Ok(Msg::Changed) => {
                let now = Instant::now();
                burst = Some((burst.map_or(now, |(first, _)| first), now));
            }
            Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }

        // Checked after every message too, so a storm cannot starve them.
        let now = Instant::now();
        let mut check = false;
        if let Some((first, last)) = burst {
            if now >= last + debounce || now >= first + max_wait {
                burst = None;
                check = true;
            }
        }
        if let (Some(p), Some(at)) = (poll, next_poll) {
            if now >= at {
                next_poll = Some(now + p);
                check |= shared.metadata_changed();
            }
        }
        if check {
            match shared.check(Mode::Tentative) {
                Ok(_) => report_at = None,
                Err(_) => {
                    report_at.get_or_insert(now + settle);
                }
            }
        }
        if report_at.is_some_and(|at| now >= at) {
            report_at = None;
            let _ = shared.check(Mode::Report);
        }
    }
}

impl Shared {
    /// True when the file's metadata differs from what the last read saw.
    fn metadata_changed(&self) -> bool {
        let now = Fingerprint::of(&self.abs);
        lock(&self.reload).fingerprint.as_ref() != Some(&now)
    }

    /// One reload attempt: read, hash, and if the content is new, parse,
    /// validate and swap in.
    fn check(&self, mode: Mode) -> Result<bool, Error> {
        let mut state = lock(&self.reload);
        // Before the read: a write racing the read changes the metadata
        // again, and the next poll looks once more.
        state.fingerprint = Some(Fingerprint::of(&self.abs));
        let attempt_at = SystemTime::now();
        lock(&self.status).last_attempt_at = Some(attempt_at);

        let bytes = match std::fs::read(&self.abs) {
            Ok(bytes) => bytes,
            Err(e) => {
                let bad = Bad::Io(e.kind(), e.to_string());
                return Err(self.fail(&mut state, bad, Error::io(&self.path, e), mode));
            }
        };
        let version = content_version(&bytes);
        let current = self.current.load_full();
        if *version == *current.version() {
            if state.reported.take().is_some() {
                // Back to the content being served: a recovery.
                {
                    let mut status = lock(&self.status);
                    status.healthy = true;
                    status.last_error = None;
                }
                self.emit(&ReloadEvent::Reloaded {
                    version: version.to_string(),
                    previous: version.to_string(),
                    changes: Changes::default(),
                });
            }
            return Ok(false);
        }
        let next = match Snapshot::from_slice_named(&bytes, &self.name) {
            Ok(snapshot) => Arc::new(snapshot),
            Err(e) => return Err(self.fail(&mut state, Bad::Content(version), e, mode)),
        };
        drop(bytes);

        self.current.store(Arc::clone(&next));
        {
            let mut status = lock(&self.status);
            status.version = next.version().to_owned();
            status.loaded_at = SystemTime::now();
            status.healthy = true;
            status.last_error = None;
            status.reloads += 1;
        }
        state.reported = None;
        self.emit(&ReloadEvent::Reloaded {
            version: next.version().to_owned(),
            previous: current.version().to_owned(),
            changes: Changes::between(&current, &next),
        });
        Ok(true)
    }

    /// Records a bad state (once per distinct one) and gives the error back.
    fn fail(&self, state: &mut ReloadState, bad: Bad, error: Error, mode: Mode) -> Error {
        if mode == Mode::Tentative || state.reported.as_ref() == Some(&bad) {
            return error;
        }
        state.reported = Some(bad);
        let text = error.to_string();
        {
            let mut status = lock(&self.status);
            status.healthy = false;
            status.last_error = Some(text.clone());
            status.failures += 1;
        }
        self.emit(&ReloadEvent::Failed { error: text });
        error
    }

    /// Runs every callback; called with the reload lock held, so events
    /// arrive in order.
    fn emit(&self, event: &ReloadEvent) {
        let callbacks = lock(&self.callbacks).clone();
        for callback in callbacks {
            // A panicking callback must not take the worker down; the
            // default panic hook has already printed the message.
            let _ = catch_unwind(AssertUnwindSafe(|| callback(event)));
        }
    }
}

/// What the metadata poll compares: enough to notice an in-place write, a
/// rename over the file, and a symlink swap.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    /// The path with every symlink resolved.
    target: Option<PathBuf>,
    file: Result<FileMeta, io::ErrorKind>,
}

#[derive(Debug, PartialEq, Eq)]
struct FileMeta {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode, change time (seconds, nanoseconds).
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Fingerprint {
    fn of(path: &Path) -> Fingerprint {
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Callbacks run under `catch_unwind` and nothing else here panics while
    // holding a lock; should one be poisoned anyway, its data is still
    // consistent enough to serve.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> Snapshot {
        Snapshot::from_slice(text.as_bytes()).expect("valid test file")
    }

    #[test]
    fn changes_flag_by_flag() {
        let old = snap(
            r#"{"version": 1, "flags": {"same": {"percentage": 5}, "gone": {}, "edited": {"pilots": {"user_id": ["1"]}}}}"#,
        );
        let new = snap(
            r#"{"version": 1, "kill_all": true, "flags": {"same": {"percentage": 5.0}, "edited": {"pilots": {"user_id": ["1", "2"]}}, "new": {}, "a.new": {}}}"#,
        );
        let changes = Changes::between(&old, &new);
        assert_eq!(
            changes,
            Changes {
                added: vec!["a.new".into(), "new".into()],
                removed: vec!["gone".into()],
                changed: vec!["edited".into()],
                globals_changed: true,
            }
        );
        assert!(Changes::between(&new, &new).is_empty());
    }
}
