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
//! // (`FileSource::start` waits for a good file instead.)
//! let source = FileSource::open("flags.json", WatchOptions::default())?;
//! source.on_event(|event| match event {
//!     ReloadEvent::Reloaded { version, changes, .. } => eprintln!("reloaded {version}: {changes:?}"),
//!     ReloadEvent::Failed { error } => eprintln!("keeping the last good flags: {error}"),
//!     _ => {}
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
//!   the source relies on the poll alone, and
//!   [`WatchOptions::watch_events`] off asks for that from the start.
//!
//! # Last good snapshot
//! Only a completely parsed and validated file is ever stored. Any bad state
//! (invalid JSON or schema, empty, truncated, unreadable, deleted, not a
//! regular file, over [`WatchOptions::max_file_bytes`]) keeps the last good
//! snapshot serving and is reported once per distinct bad content:
//! [`SourceStatus::healthy`] turns false, [`SourceStatus::last_error`] holds
//! the full diagnostics (`file:line:col: path: message`),
//! [`SourceStatus::failures`] grows by one, [`SourceStatus::last_failure_at`]
//! is set and a [`ReloadEvent::Failed`] is sent. The source stays
//! [`ready`](SourceStatus::ready): it still serves good flags, and every
//! server reading the same file would otherwise turn unready together. The
//! next good write recovers by itself.
//!
//! A file caught in the middle of a non-atomic write is not a failure: a bad
//! state is reported only once the *same* bad content (or the same read
//! error) has stayed for a settling time (5 × `debounce`, at least 100 ms;
//! 100 ms in the on-access mode), so a slow writer never counts as a failure
//! and never flaps the status of every server reading the file.
//! [`FileSource::reload_now`] reports at once.
//!
//! # Reading safely
//! The file is opened without blocking and checked with `fstat` before a
//! byte is read: a named pipe, a socket, a device (a symlink to `/dev/zero`)
//! or a directory is refused at once, and so is a file over
//! [`WatchOptions::max_file_bytes`] (default
//! [`DEFAULT_MAX_FILE_BYTES`](crate::DEFAULT_MAX_FILE_BYTES)), without
//! reading more than that. Each is a bad state like any other.
//!
//! # Starting on a bad file, and the last-known-good cache
//! [`FileSource::open`] refuses a bad file: for tools and services that
//! would rather not start. [`FileSource::start`] always starts (unless its
//! thread or watcher cannot): on a bad file it reports every problem, serves
//! nothing ([`FileSource::is_ready`] is false, and [`FileSource::snapshot`]
//! is an empty flag set in which every flag is off) and becomes ready as
//! soon as the file is good. With [`WatchOptions::cache_path`], every good
//! file is also copied to that path (atomically, only when its content
//! changed), and a start on a bad file serves that copy instead: ready, but
//! [`stale`](SourceStatus::stale) until the file itself is good again.
//!
//! # The directory itself
//! Events come from a watch on the directory. When the directory is deleted
//! and created again (or replaced by a rename), the old watch goes with the
//! old directory: the worker notices within 250 ms (one `stat` of the
//! directory) and watches the new one, then reads the file, so changes keep
//! arriving as events even with polling off.
//!
//! # Threads, or none: two modes
//! [`FileSource::open`] starts one `notify` watcher thread and one worker
//! thread named `flags-watch`, which debounces, polls and reloads. Both stop
//! promptly when the last clone of the [`FileSource`] is dropped. Event
//! callbacks run on the thread that made the reload attempt; a panicking
//! callback is caught and does not stop the worker.
//!
//! Background threads do not survive `fork()`: a threaded source opened in
//! a process that then forks (PHP-FPM, Apache prefork, uWSGI, Gunicorn and
//! other servers that load code in a master process and fork workers) keeps
//! serving in the children but never reloads there.
//! [`FileSource::open_on_access`] is the fork-safe mode: it starts no thread
//! and no watcher. Instead, an access ([`snapshot`](FileSource::snapshot),
//! [`load`](FileSource::load), [`generation`](FileSource::generation),
//! [`status`](FileSource::status)) made at least `check_interval` after the
//! last check compares the file's metadata fingerprint (the same one the
//! poll above uses) on the caller's thread, and on a difference reads,
//! validates and swaps in the file by the same rules: content-hash skip,
//! last good snapshot kept, status and events updated. A source opened
//! before a fork therefore keeps reloading in every child, each child on
//! its own. Between checks an access costs an atomic load and a monotonic
//! clock read (a coarse one where the platform has it: a few nanoseconds
//! on Linux and Android) on top of the lock-free snapshot load.
//!
//! ```no_run
//! use std::time::Duration;
//! use flags_core::watch::FileSource;
//! use flags_core::{Context, now};
//!
//! // In the master process, before the fork:
//! let source = FileSource::open_on_access("flags.json", Duration::from_secs(1))?;
//! // In any worker, in every request:
//! let on = source.load().is_enabled("checkout_v2", &Context::new(&[("user_id", "42")]), now());
//! # let _ = on;
//! # Ok::<(), flags_core::Error>(())
//! ```
//!
//! Only one caller checks at a time, and nobody waits for it: the check is
//! taken with a try-lock, and callers that do not get it serve the current
//! snapshot. The lock records the process id of its holder, so a child
//! forked while another thread of the parent was in the middle of a check
//! (that thread does not exist in the child) takes the lock over instead
//! of never checking again; no other lock is taken on this path (status
//! and callbacks live behind atomic pointers), so nothing a parent's thread
//! held at the fork can deadlock a child. A file caught in the middle of a
//! non-atomic write is reported as a failure only if it is still bad at a
//! check at least 100 ms later (it keeps being read at every check until
//! then). Callbacks run on the accessing thread, inside that access.
//!
//! # Inside
//! This file is the [`FileSource`] API; [`WatchOptions`] is in `options`.
//! One reload attempt (read, hash, validate, swap or keep out, settle and
//! report) is in `reload`, shared by both modes; the threaded mode's
//! worker and its directory watch in `threaded`; the on-access schedule,
//! its clock and the fork-safe lock in `fork_safe`; the metadata
//! fingerprint both compare in `fingerprint`. What is published (status,
//! events, the snapshot itself) is `crate::source`, shared with `remote`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::Duration;

use crate::error::Error;
use crate::file::directory_of;
use crate::model::Snapshot;

mod fingerprint;
mod fork_safe;
mod options;
mod reload;
mod threaded;

pub use crate::source::{Changes, ReloadEvent, SnapshotGuard, SourceStatus};
pub use options::WatchOptions;

use fork_safe::OnAccess;
use reload::{Mode, Shared};
use threaded::{DirWatch, Msg, run, start_watcher};

/// A flag file that reloads itself when it changes, keeping the last good
/// snapshot when an edit is bad. See the [module documentation](self).
///
/// Cloning is cheap and every clone serves the same snapshot; dropping the
/// last clone stops the background threads (there are none in the
/// [on-access mode](FileSource::open_on_access)).
#[derive(Clone)]
pub struct FileSource {
    inner: Arc<Inner>,
}

/// Lives as long as the last [`FileSource`] clone; dropping it stops the
/// worker (which owns the watcher).
struct Inner {
    shared: Arc<Shared>,
    /// `None` in the on-access mode. Dropped with the last handle.
    _worker: Option<Worker>,
}

struct Worker {
    shutdown: Sender<Msg>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The worker may already be gone; nothing to do then.
        let _ = self.shutdown.send(Msg::Shutdown);
    }
}

/// How long a bad file must stay bad before the on-access mode reports it.
const ON_ACCESS_SETTLE: Duration = Duration::from_millis(100);

impl FileSource {
    /// Loads the file and starts watching it with a background thread (see
    /// the [module documentation](self)). An invalid or unreadable file is
    /// an error (with every diagnostic): the caller should exit non-zero.
    /// Errors starting the threads are reported as I/O errors on the file's
    /// directory. To start on a bad file and serve as soon as it is good
    /// (or serve a cached copy meanwhile), use [`start`](Self::start).
    ///
    /// A process that forks after opening should use
    /// [`open_on_access`](Self::open_on_access) instead: threads do not
    /// survive a fork.
    pub fn open(path: impl AsRef<Path>, options: WatchOptions) -> Result<FileSource, Error> {
        Self::launch(path.as_ref(), options, true)
    }

    /// Like [`open`](Self::open), but a bad file at start is not an error:
    /// every problem is reported (in [`status`](Self::status) and to the
    /// callbacks registered later, as [`SourceStatus::last_error`]), and
    /// the source serves the [`WatchOptions::cache_path`] copy when that is
    /// a good flag file ([`stale`](SourceStatus::stale)), or nothing
    /// ([`is_ready`](Self::is_ready) false, an empty flag set) until the
    /// file is good. The only errors are failures to start the thread or
    /// the watcher, and a cache path that is the flag file itself.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flags_core::watch::{FileSource, WatchOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("flags.json");
    /// std::fs::write(&path, "{ not yet")?;
    /// let source = FileSource::start(&path, WatchOptions::default())?;
    /// assert!(!source.is_ready());
    /// assert!(source.status().last_error.unwrap().contains("flags.json:1:3"));
    ///
    /// std::fs::write(&path, r#"{"version": 1, "flags": {"a": {"percentage": 100}}}"#)?;
    /// source.reload_now()?;
    /// assert!(source.is_ready());
    /// assert_eq!(source.snapshot().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(path: impl AsRef<Path>, options: WatchOptions) -> Result<FileSource, Error> {
        Self::launch(path.as_ref(), options, false)
    }

    fn launch(path: &Path, options: WatchOptions, strict: bool) -> Result<FileSource, Error> {
        let path = path.to_path_buf();
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let dir = directory_of(&abs);
        if let Some(cache) = &options.cache_path {
            let same = std::path::absolute(cache).is_ok_and(|c| c == abs)
                || std::fs::canonicalize(cache)
                    .ok()
                    .is_some_and(|c| std::fs::canonicalize(&abs).is_ok_and(|a| a == c));
            if same {
                return Err(Error::watch(
                    cache,
                    "the cache path is the flag file itself; give the cache a path of its own",
                ));
            }
        }
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

        let settle = options
            .debounce
            .saturating_mul(5)
            .max(Duration::from_millis(100));
        let shared = Arc::new(Shared::load(path, abs, &options, settle, None, strict)?);
        let worker = Arc::clone(&shared);
        let mut dir_watch = DirWatch::new(watcher, dir.clone());
        thread::Builder::new()
            .name("flags-watch".to_owned())
            .spawn(move || run(&worker, &rx, &options, &mut dir_watch))
            .map_err(|e| Error::watch(dir, format!("cannot start the watcher thread: {e}")))?;

        Ok(FileSource {
            inner: Arc::new(Inner {
                shared,
                _worker: Some(Worker { shutdown: tx }),
            }),
        })
    }

    /// Loads the file for the fork-safe mode: no thread, no watcher; an
    /// access at least `check_interval` after the last check compares the
    /// file's metadata on the caller's thread and reloads it when it
    /// changed (see the [module documentation](self)). A source opened
    /// before `fork()` keeps reloading in every child.
    /// [`Duration::ZERO`] checks on every access (a `stat` and a path
    /// resolution each time: for tests and tools, not hot paths). Files
    /// over [`DEFAULT_MAX_FILE_BYTES`](crate::DEFAULT_MAX_FILE_BYTES) are
    /// refused.
    ///
    /// An invalid or unreadable file is an error, as for [`open`](Self::open).
    ///
    /// ```
    /// use std::time::Duration;
    /// use flags_core::watch::FileSource;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("flags.json");
    /// std::fs::write(&path, r#"{"version": 1, "flags": {"a": {"percentage": 100}}}"#)?;
    /// let source = FileSource::open_on_access(&path, Duration::ZERO)?;
    /// assert_eq!(source.load().len(), 1);
    ///
    /// std::fs::write(&path, r#"{"version": 1, "flags": {"a": {}, "b": {}}}"#)?;
    /// assert_eq!(source.load().len(), 2, "the access saw the change");
    /// assert_eq!(source.generation(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_on_access(
        path: impl AsRef<Path>,
        check_interval: Duration,
    ) -> Result<FileSource, Error> {
        let path = path.as_ref().to_path_buf();
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let on_access = OnAccess::new(check_interval);
        let shared = Arc::new(Shared::load(
            path,
            abs,
            &WatchOptions::default(),
            ON_ACCESS_SETTLE,
            Some(on_access),
            true,
        )?);
        Ok(FileSource {
            inner: Arc::new(Inner {
                shared,
                _worker: None,
            }),
        })
    }

    /// The snapshot being served, as an `Arc` to keep as long as needed
    /// (a request, a batch of evaluations). Lock-free and never blocks; a
    /// snapshot is always one whole, valid file. Before a source made by
    /// [`start`](Self::start) is [ready](Self::is_ready), an empty flag
    /// set. In the on-access mode this is an access: it may check the file
    /// first.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.shared.touch();
        self.inner.shared.published.snapshot()
    }

    /// The snapshot being served, borrowed for a short time: cheaper than
    /// [`snapshot`](Self::snapshot) (no reference count is touched), for hot
    /// paths that evaluate a flag or a few. In the on-access mode this is an
    /// access: it may check the file first.
    ///
    /// ```no_run
    /// # let source = flags_core::watch::FileSource::open("flags.json", Default::default())?;
    /// use flags_core::{Context, now};
    /// let on = source.load().is_enabled("checkout_v2", &Context::new(&[("user_id", "42")]), now());
    /// # let _ = on;
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    #[inline]
    pub fn load(&self) -> SnapshotGuard {
        self.inner.shared.touch();
        self.inner.shared.published.load()
    }

    /// True when a good snapshot is being served: always for a source made
    /// by [`open`](Self::open) or [`open_on_access`](Self::open_on_access);
    /// for one made by [`start`](Self::start), from the first good file (or
    /// good cache copy) on. It never turns false again: a bad edit keeps
    /// the last good snapshot serving. One atomic load.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.inner.shared.published.is_ready()
    }

    /// How many times a new snapshot has been swapped in since the file was
    /// opened (0 until the first reload): a cheap way to notice changes by
    /// polling. In the on-access mode this is an access: it may check the
    /// file first.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.inner.shared.touch();
        self.inner.shared.published.generation()
    }

    /// Reads the file now and swaps it in if its content changed and is
    /// valid. `Ok(true)` when a new snapshot was swapped in, `Ok(false)`
    /// when the content hash was unchanged. An error when the file is bad
    /// (the last good snapshot keeps serving); a new bad state is reported
    /// at once in [`status`](Self::status) and to the callbacks. Waits for
    /// a check in progress on another thread.
    pub fn reload_now(&self) -> Result<bool, Error> {
        let shared = &self.inner.shared;
        let mut state = shared.lock.acquire();
        shared.check(&mut state, Mode::Report)
    }

    /// The source's health: whether it is ready, the version served, reload
    /// and failure counts, and the error keeping a bad file out. In the
    /// on-access mode this is an access: it may check the file first.
    pub fn status(&self) -> SourceStatus {
        self.inner.shared.touch();
        self.inner.shared.published.status()
    }

    /// Registers a callback run after every reload attempt that changed
    /// something: a new snapshot, a newly reported failure, or a recovery.
    /// It runs on the thread that made the attempt (the `flags-watch`
    /// worker; in the on-access mode the thread whose access checked the
    /// file; or the caller of [`reload_now`](Self::reload_now)), one event
    /// at a time and in order. It may call [`snapshot`](Self::snapshot) and
    /// [`status`](Self::status) but not `reload_now` (that would wait
    /// forever), and should not keep a clone of this source (that would
    /// keep it alive). A panic in a callback is caught. Events that
    /// happened before it was registered (a bad file at start) are in
    /// [`status`](Self::status), not sent again.
    pub fn on_event(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        self.inner.shared.published.on_event(Arc::new(callback));
    }

    /// The path as given to [`open`](Self::open).
    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }

    /// The cache path of [`WatchOptions::cache_path`], if any.
    pub fn cache_path(&self) -> Option<&Path> {
        self.inner.shared.cache_path.as_deref()
    }

    /// True for a source opened with [`open_on_access`](Self::open_on_access).
    pub fn is_on_access(&self) -> bool {
        self.inner.shared.on_access.is_some()
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path())
            .field("on_access", &self.is_on_access())
            .field("ready", &self.is_ready())
            .field("version", &self.inner.shared.published.load().version())
            .finish_non_exhaustive()
    }
}
