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
//!   the source relies on the poll alone.
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

use std::fmt;
use std::io;
use std::mem;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::Error;
use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file, write_atomically};
use crate::load::content_version;
use crate::model::Snapshot;

/// How a [`FileSource`] watches its file.
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
    /// [`stale`](SourceStatus::stale)) by [`FileSource::start`] when the
    /// file is bad at start. Its directory must exist. Default: none.
    pub cache_path: Option<PathBuf>,
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
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            cache_path: None,
            watch_events: true,
        }
    }
}

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

/// What the worker and the handles share. The worker holds it strongly
/// until it exits.
struct Shared {
    /// As given to `open`: for `path()` and error messages.
    path: PathBuf,
    /// `path` made absolute (symlinks not resolved): what is read.
    abs: PathBuf,
    /// Source name in diagnostics.
    name: String,
    max_bytes: u64,
    /// Where good files are copied, if anywhere.
    cache_path: Option<PathBuf>,
    /// How long the same bad state must last before it is reported.
    settle: Duration,
    published: Published,
    /// Serializes reload attempts and the events they send, and holds what
    /// they remember between attempts.
    lock: CheckLock,
    /// `Some` in the on-access mode.
    on_access: Option<OnAccess>,
}

/// What reload attempts remember, guarded by the [`CheckLock`].
#[derive(Clone, Default)]
struct ReloadState {
    /// The file's metadata when it was last read.
    fingerprint: Option<Fingerprint>,
    /// The bad state last reported; `None` while healthy.
    reported: Option<Bad>,
    /// A bad state seen but not (yet) reported, and since when it has been
    /// seen unchanged: it may be a file caught in the middle of a write.
    pending: Option<(Bad, Instant)>,
    /// The version the cache file holds, as far as this source knows.
    cached: Option<Box<str>>,
}

/// A bad state, to report each distinct one once.
#[derive(Clone, PartialEq, Eq)]
enum Bad {
    /// Content hash of a file that failed validation.
    Content(Box<str>),
    /// A read error.
    Io(io::ErrorKind, String),
}

/// Whether a bad state is reported at once or only once it has lasted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Report only when the same bad state has lasted the settling time.
    Settle,
    Report,
}

enum Msg {
    Changed,
    /// The watched directory itself was deleted or moved away: the watch
    /// no longer sees the path.
    DirGone,
    Shutdown,
}

/// How long a bad file must stay bad before the on-access mode reports it.
const ON_ACCESS_SETTLE: Duration = Duration::from_millis(100);

/// How often the threaded worker checks that the watched directory is
/// still the one being watched (one `stat`).
const DIR_CHECK: Duration = Duration::from_millis(250);

/// The on-access mode's schedule: when the next check is due.
struct OnAccess {
    /// `check_interval` in clock units.
    interval: u64,
    clock: Clock,
    /// The clock reading at which the next check is due.
    next_due: AtomicU64,
}

impl OnAccess {
    fn new(check_interval: Duration) -> OnAccess {
        let clock = Clock::new();
        let interval = Clock::units(check_interval);
        OnAccess {
            interval,
            next_due: AtomicU64::new(clock.now().saturating_add(interval)),
            clock,
        }
    }

    /// True for the one caller that should check now: the interval has
    /// elapsed and this caller moved the due time on.
    #[inline]
    fn claim(&self) -> bool {
        let due = self.next_due.load(Ordering::Relaxed);
        let now = self.clock.now();
        now >= due
            && self
                .next_due
                .compare_exchange(
                    due,
                    now.saturating_add(self.interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// The on-access mode's monotonic clock, read on every access. On Linux and
/// Android it is `CLOCK_MONOTONIC_COARSE` (through `coarsetime`): a few
/// nanoseconds per read instead of tens for `Instant::now`, with a
/// resolution of a scheduler tick (1 to 10 ms), plenty for check intervals.
/// Elsewhere it is std's `Instant`. Both are system-wide, so they carry on
/// unchanged in a forked child.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct Clock;

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Clock {
    fn new() -> Clock {
        Clock
    }

    /// Now, in clock units (2^-32 s).
    #[inline]
    fn now(&self) -> u64 {
        coarsetime::Instant::now_without_cache_update().as_ticks()
    }

    fn units(span: Duration) -> u64 {
        coarsetime::Duration::from(span).as_ticks()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
struct Clock {
    epoch: Instant,
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Clock {
    fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Now, in clock units (nanoseconds since the source was opened).
    #[inline]
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn units(span: Duration) -> u64 {
        u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A try-lock that records the process id of its holder, and the
/// [`ReloadState`] it guards (behind an atomic pointer, so that taking the
/// lock over after a fork needs no other lock).
///
/// A holder from another process can only be a thread of an ancestor that
/// held the lock when this process was forked: that thread does not exist
/// here, so its lock is taken over. The state it may have been updating is
/// the one stored before its attempt, which at worst makes the next check
/// read the file once more.
struct CheckLock {
    /// Process id of the holder; 0 when free.
    holder: AtomicU32,
    state: ArcSwap<ReloadState>,
}

struct CheckGuard<'a> {
    lock: &'a CheckLock,
    pid: u32,
    state: ReloadState,
}

impl CheckLock {
    fn new(state: ReloadState) -> CheckLock {
        CheckLock {
            holder: AtomicU32::new(0),
            state: ArcSwap::from_pointee(state),
        }
    }

    /// The lock, unless a thread of this process holds it. Never blocks.
    fn try_acquire(&self) -> Option<CheckGuard<'_>> {
        let pid = std::process::id();
        if let Err(held) =
            self.holder
                .compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed)
        {
            // Held by a thread of this process: it is checking right now.
            // Held by another process's thread: inherited through a fork,
            // take it over (one taker wins).
            if held == pid
                || self
                    .holder
                    .compare_exchange(held, pid, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
            {
                return None;
            }
        }
        Some(CheckGuard {
            lock: self,
            pid,
            state: ReloadState::clone(&self.state.load()),
        })
    }

    /// The lock, waiting for the thread of this process that holds it.
    /// Checks are short (one read and parse), and only the threaded worker
    /// and `reload_now` wait.
    fn acquire(&self) -> CheckGuard<'_> {
        loop {
            if let Some(guard) = self.try_acquire() {
                return guard;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// The state as the last attempt left it; for a quick look without the
    /// lock (a stale answer only costs an extra check).
    fn peek(&self) -> arc_swap::Guard<Arc<ReloadState>> {
        self.state.load()
    }
}

impl Deref for CheckGuard<'_> {
    type Target = ReloadState;
    fn deref(&self) -> &ReloadState {
        &self.state
    }
}

impl std::ops::DerefMut for CheckGuard<'_> {
    fn deref_mut(&mut self) -> &mut ReloadState {
        &mut self.state
    }
}

impl Drop for CheckGuard<'_> {
    fn drop(&mut self) {
        let state = mem::take(&mut self.state);
        self.lock.state.store(Arc::new(state));
        // Fails only if another process's copy of this lock was taken over,
        // which cannot be this one.
        let _ =
            self.lock
                .holder
                .compare_exchange(self.pid, 0, Ordering::Release, Ordering::Relaxed);
    }
}

/// A snapshot borrowed from a source for a short time, without touching its
/// reference count: the cheapest way to evaluate a few flags
/// ([`FileSource::load`], and `RemoteSource::load` with the `remote`
/// feature).
///
/// Dereferences to the [`Snapshot`]. Keep it for the duration of a call
/// or a few evaluations, not across a request: each thread has a handful of
/// cheap slots for such guards, and holding many at once makes further
/// loads slower. For longer use take [`FileSource::snapshot`] (an `Arc`).
pub struct SnapshotGuard(arc_swap::Guard<Arc<Snapshot>>);

impl SnapshotGuard {
    /// The snapshot as an owned `Arc`, to keep beyond the guard.
    pub fn to_arc(&self) -> Arc<Snapshot> {
        Arc::clone(&self.0)
    }
}

impl Deref for SnapshotGuard {
    type Target = Snapshot;
    #[inline]
    fn deref(&self) -> &Snapshot {
        &self.0
    }
}

impl fmt::Debug for SnapshotGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SnapshotGuard")
            .field(&self.version())
            .finish()
    }
}

type Callback = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

/// What every source publishes: the snapshot being served, its generation,
/// the status and the event callbacks. Everything sits behind atomic
/// pointers, so readers never block and a fork never inherits a held lock.
///
/// The methods that change something (`attempted`, `swap`, `recovered`,
/// `failed`, `cache_written`) must be called by one writer at a time (the
/// source serializes its reload attempts), which also keeps events in
/// order.
pub(crate) struct Published {
    current: ArcSwap<Snapshot>,
    /// A good snapshot is being served (never false again once true).
    ready: AtomicBool,
    generation: AtomicU64,
    status: ArcSwap<SourceStatus>,
    callbacks: ArcSwap<Vec<Callback>>,
}

/// What a source starts serving.
pub(crate) enum Start {
    /// A good snapshot of the source itself.
    Fresh(Arc<Snapshot>),
    /// A good snapshot from a cache, the source being bad (`problem`).
    Stale(Arc<Snapshot>, String),
    /// Nothing good yet: the source is bad (`problem`) and nothing is ready.
    Nothing(String),
}

impl Published {
    pub(crate) fn new(start: Start) -> Published {
        let now = SystemTime::now();
        let (snapshot, problem, ready, stale) = match start {
            Start::Fresh(s) => (s, None, true, false),
            Start::Stale(s, problem) => (s, Some(problem), true, true),
            Start::Nothing(problem) => (Arc::new(Snapshot::empty()), Some(problem), false, false),
        };
        let status = SourceStatus {
            version: snapshot.version().to_owned(),
            ready,
            stale,
            loaded_at: ready.then_some(now),
            healthy: problem.is_none(),
            failures: u64::from(problem.is_some()),
            last_failure_at: problem.is_some().then_some(now),
            last_error: problem,
            reloads: 0,
            last_attempt_at: None,
            cache_error: None,
        };
        Published {
            current: ArcSwap::new(snapshot),
            ready: AtomicBool::new(ready),
            generation: AtomicU64::new(0),
            status: ArcSwap::from_pointee(status),
            callbacks: ArcSwap::from_pointee(Vec::new()),
        }
    }

    #[inline]
    pub(crate) fn load(&self) -> SnapshotGuard {
        SnapshotGuard(self.current.load())
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    #[inline]
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn status(&self) -> SourceStatus {
        SourceStatus::clone(&self.status.load())
    }

    pub(crate) fn on_event(&self, callback: Callback) {
        self.callbacks.rcu(|list| {
            let mut list = Vec::clone(list);
            list.push(Arc::clone(&callback));
            list
        });
    }

    fn update(&self, change: impl Fn(&mut SourceStatus)) {
        self.status.rcu(|status| {
            let mut status = SourceStatus::clone(status);
            change(&mut status);
            status
        });
    }

    /// Notes a read of the source, whatever its outcome.
    pub(crate) fn attempted(&self) {
        let at = SystemTime::now();
        self.update(|status| status.last_attempt_at = Some(at));
    }

    /// Serves `next` (a new, valid snapshot of the source itself), counts
    /// the reload and sends the event.
    pub(crate) fn swap(&self, next: Arc<Snapshot>) {
        let previous = self.current.swap(Arc::clone(&next));
        self.generation.fetch_add(1, Ordering::AcqRel);
        let was_ready = self.ready.swap(true, Ordering::AcqRel);
        let at = SystemTime::now();
        self.update(|status| {
            status.version = next.version().to_owned();
            status.ready = true;
            status.stale = false;
            status.loaded_at = Some(at);
            status.healthy = true;
            status.last_error = None;
            status.reloads += 1;
        });
        self.emit(&ReloadEvent::Reloaded {
            version: next.version().to_owned(),
            // Nothing was served before the first good snapshot.
            previous: if was_ready {
                previous.version().to_owned()
            } else {
                String::new()
            },
            changes: Changes::between(&previous, &next),
        });
    }

    /// The source is back to the content being served after a reported
    /// failure (or, serving a stale copy, now holds that same content).
    pub(crate) fn recovered(&self) {
        self.update(|status| {
            status.healthy = true;
            status.stale = false;
            status.last_error = None;
        });
        let version = self.current.load().version().to_owned();
        self.emit(&ReloadEvent::Reloaded {
            previous: version.clone(),
            version,
            changes: Changes::default(),
        });
    }

    /// True while the snapshot served is a stale copy.
    pub(crate) fn is_stale(&self) -> bool {
        self.status.load().stale
    }

    /// Reports a new bad state; the last good snapshot keeps serving.
    pub(crate) fn failed(&self, error: String) {
        let at = SystemTime::now();
        self.update(|status| {
            status.healthy = false;
            status.last_error = Some(error.clone());
            status.last_failure_at = Some(at);
            status.failures += 1;
        });
        self.emit(&ReloadEvent::Failed { error });
    }

    /// Records the outcome of writing the cache file; a new problem (or the
    /// end of one) is sent as an event.
    pub(crate) fn cache_written(&self, result: Result<(), String>) {
        let error = result.err();
        if self.status.load().cache_error == error {
            return;
        }
        self.update(|status| status.cache_error.clone_from(&error));
        if let Some(error) = error {
            self.emit(&ReloadEvent::CacheFailed { error });
        }
    }

    /// Runs every callback, in registration order.
    fn emit(&self, event: &ReloadEvent) {
        let callbacks = self.callbacks.load_full();
        for callback in callbacks.iter() {
            // A panicking callback must not take the reloading thread down;
            // the default panic hook has already printed the message.
            let _ = catch_unwind(AssertUnwindSafe(|| callback(event)));
        }
    }
}

/// The health of a source ([`FileSource`], and `RemoteSource` with the
/// `remote` feature), for readiness probes, status pages and metrics.
///
/// `ready` answers "are good flags being served?" and is what a readiness
/// probe should follow; `healthy` answers "was the source good when last
/// read?" and is news for logs, metrics and alerts: every server reading
/// the same file sees the same bad edit, and would all leave a load
/// balancer at once if readiness followed it.
#[derive(Clone, Debug)]
pub struct SourceStatus {
    /// Version (content hash) of the snapshot being served; empty while
    /// not `ready`.
    pub version: String,
    /// True when a good snapshot is being served (from the source, or a
    /// stale cache copy); false only before the first good one.
    pub ready: bool,
    /// True while the snapshot served came from the cache, not from the
    /// source itself (which has been bad since start, or unreachable).
    pub stale: bool,
    /// When the snapshot being served was loaded; `None` while not ready.
    pub loaded_at: Option<SystemTime>,
    /// True when the source, as last read, was the snapshot being served or
    /// a valid new one; false while a bad file is kept out.
    pub healthy: bool,
    /// Why the file is being kept out, while not healthy: the full error
    /// text, one `file:line:col: path: message` per problem, or
    /// `file: cannot read: reason`.
    pub last_error: Option<String>,
    /// When a bad state was last reported.
    pub last_failure_at: Option<SystemTime>,
    /// Successful swaps after the first load.
    pub reloads: u64,
    /// Bad states reported, each distinct bad content counted once.
    pub failures: u64,
    /// When the file was last read after the first load, whatever the
    /// outcome.
    pub last_attempt_at: Option<SystemTime>,
    /// Why the cache file could not be written, while it cannot.
    pub cache_error: Option<String>,
}

/// What a reload attempt changed; sent to [`FileSource::on_event`]
/// callbacks (and `RemoteSource::on_event` with the `remote` feature).
///
/// New kinds of events may be added: match with a `_` arm.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// A new snapshot is being served, or (with `version == previous` and
    /// no changes) the file went back to the content being served after
    /// a failure. `previous` is empty for the first good snapshot of a
    /// source that started with nothing to serve.
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
    /// The cache file could not be written; serving is not affected.
    CacheFailed {
        /// What went wrong, as in [`SourceStatus::cache_error`].
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
        let mut dir_watch = DirWatch {
            watcher,
            identity: dir_identity(&dir),
            dir: dir.clone(),
        };
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

/// The directory holding `abs` (`.` for a bare name).
fn directory_of(abs: &Path) -> PathBuf {
    abs.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn start_watcher(dir: &Path, tx: Sender<Msg>) -> notify::Result<RecommendedWatcher> {
    let watched = dir.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // The directory itself gone (inotify's IN_DELETE_SELF, which also
        // ends the watch) or moved away (IN_MOVE_SELF: the watch follows
        // the old directory, not the path).
        if let Ok(event) = &event {
            let itself = event.paths.contains(&watched);
            if itself
                && matches!(
                    event.kind,
                    EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
                )
            {
                let _ = tx.send(Msg::DirGone);
                return;
            }
        }
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

/// The directory watch, owned by the worker so that it can be re-armed
/// when the directory is replaced.
struct DirWatch {
    watcher: Option<RecommendedWatcher>,
    dir: PathBuf,
    /// What the watch was set up on; `None` while the directory is missing
    /// or could not be watched.
    identity: Option<DirIdentity>,
}

/// Device and inode of a directory (its existence elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DirIdentity(u64, u64);

fn dir_identity(dir: &Path) -> Option<DirIdentity> {
    let meta = std::fs::metadata(dir).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some(DirIdentity(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(DirIdentity(0, 0))
    }
}

impl DirWatch {
    /// Watches the directory again when it is not the one being watched
    /// (deleted, re-created, renamed over; `gone` when the watch said so).
    /// True when it changed: the file should be read.
    fn rearm(&mut self, gone: bool) -> bool {
        let Some(watcher) = &mut self.watcher else {
            return false;
        };
        let now = dir_identity(&self.dir);
        if !gone && now == self.identity {
            return false;
        }
        // The old watch went with the old directory; forget it either way.
        let _ = watcher.unwatch(&self.dir);
        self.identity = match now {
            Some(id)
                if watcher
                    .watch(&self.dir, RecursiveMode::NonRecursive)
                    .is_ok() =>
            {
                Some(id)
            }
            // Missing, or not watchable yet: try again at the next check.
            _ => None,
        };
        true
    }
}

/// The worker: debounces events, polls metadata, re-arms the directory
/// watch, reloads. Returns when the last handle is dropped (dropping the
/// watcher with it).
fn run(shared: &Shared, rx: &Receiver<Msg>, options: &WatchOptions, dir: &mut DirWatch) {
    let debounce = options.debounce;
    let max_wait = debounce.saturating_mul(10);
    let poll = (!options.poll_interval.is_zero()).then_some(options.poll_interval);

    // (first, last) event of the burst waiting to be read.
    let mut burst: Option<(Instant, Instant)> = None;
    // When to look again at a bad state that may not have settled yet.
    let mut settle_at: Option<Instant> = shared.lock.peek().settle_due(shared.settle);
    let mut next_poll = poll.map(|p| Instant::now() + p);
    let mut next_dir_check = dir.watcher.is_some().then(|| Instant::now() + DIR_CHECK);

    loop {
        let due = [
            burst.map(|(first, last)| (last + debounce).min(first + max_wait)),
            settle_at,
            next_poll,
            next_dir_check,
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
            Ok(Msg::DirGone) => {
                // Forget the dead watch now; `rearm` watches the directory
                // again as soon as it exists (at the latest at the next
                // directory check).
                dir.rearm(true);
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
        if next_dir_check.is_some_and(|at| now >= at) {
            next_dir_check = Some(now + DIR_CHECK);
            check |= dir.rearm(false);
        }
        check |= settle_at.is_some_and(|at| now >= at);
        if check {
            let mut state = shared.lock.acquire();
            let _ = shared.check(&mut state, Mode::Settle);
            settle_at = state.settle_due(shared.settle);
        }
    }
}

impl ReloadState {
    /// When a bad state seen but not reported will have lasted long enough
    /// to be reported.
    fn settle_due(&self, settle: Duration) -> Option<Instant> {
        match &self.pending {
            Some((bad, since)) if self.reported.as_ref() != Some(bad) => Some(*since + settle),
            _ => None,
        }
    }
}

impl Shared {
    /// The first read. Strict: a bad file is an error. Otherwise a bad file
    /// starts the source on the cache copy, or on nothing.
    fn load(
        path: PathBuf,
        abs: PathBuf,
        options: &WatchOptions,
        settle: Duration,
        on_access: Option<OnAccess>,
        strict: bool,
    ) -> Result<Shared, Error> {
        let name = path.display().to_string();
        let fingerprint = Fingerprint::of(&abs);
        let max_bytes = options.max_file_bytes;
        let first = read_flag_file(&abs, max_bytes)
            .map_err(|e| (Bad::Io(e.kind(), e.to_string()), Error::io(&path, e)))
            .and_then(|bytes| {
                let version = content_version(&bytes);
                Snapshot::from_slice_named(&bytes, &name)
                    .map(|snapshot| (Arc::new(snapshot), bytes))
                    .map_err(|e| (Bad::Content(version), e))
            });
        let mut state = ReloadState {
            fingerprint: Some(fingerprint),
            ..ReloadState::default()
        };
        let cache_path = options.cache_path.clone();
        let mut fresh_bytes = None;
        let start = match first {
            Ok((snapshot, bytes)) => {
                fresh_bytes = Some(bytes);
                Start::Fresh(snapshot)
            }
            Err((_, error)) if strict => return Err(error),
            Err((bad, error)) => {
                state.reported = Some(bad);
                let problem = error.to_string();
                match cache_path.as_deref().map(|c| read_cache(c, max_bytes)) {
                    Some(Ok(snapshot)) => {
                        state.cached = Some(snapshot.version().into());
                        Start::Stale(snapshot, problem)
                    }
                    Some(Err(cache_problem)) => {
                        Start::Nothing(format!("{problem}\n{cache_problem}"))
                    }
                    None => Start::Nothing(problem),
                }
            }
        };
        let shared = Shared {
            path,
            abs,
            name,
            max_bytes,
            cache_path,
            settle,
            published: Published::new(start),
            lock: CheckLock::new(state),
            on_access,
        };
        if let Some(bytes) = fresh_bytes {
            // Reads what the cache holds first, to write only a change.
            let mut state = shared.lock.acquire();
            if let Some(cache) = &shared.cache_path {
                state.cached = read_flag_file(cache, max_bytes)
                    .ok()
                    .map(|b| content_version(&b));
            }
            shared.write_cache(&mut state, &bytes);
        }
        Ok(shared)
    }

    /// The on-access mode's hook in every access: when a check is due,
    /// this caller makes it. The fast path (not due) is one atomic load and
    /// one clock read.
    #[inline]
    fn touch(&self) {
        if let Some(on_access) = &self.on_access {
            if on_access.claim() {
                self.check_on_access();
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn check_on_access(&self) {
        // Another thread of this process is checking: serve on.
        let Some(mut state) = self.lock.try_acquire() else {
            return;
        };
        // A bad state not yet reported is read again at every check until
        // it settles or goes away.
        if state.settle_due(self.settle).is_none()
            && state.fingerprint.as_ref() == Some(&Fingerprint::of(&self.abs))
        {
            return;
        }
        let _ = self.check(&mut state, Mode::Settle);
    }

    /// True when the file's metadata differs from what the last read saw.
    fn metadata_changed(&self) -> bool {
        let now = Fingerprint::of(&self.abs);
        self.lock.peek().fingerprint.as_ref() != Some(&now)
    }

    /// One reload attempt, with the lock held: read, hash, and if the
    /// content is new, parse, validate and swap in.
    fn check(&self, state: &mut ReloadState, mode: Mode) -> Result<bool, Error> {
        // Before the read: a write racing the read changes the metadata
        // again, and the next poll looks once more.
        state.fingerprint = Some(Fingerprint::of(&self.abs));
        self.published.attempted();

        let bytes = match read_flag_file(&self.abs, self.max_bytes) {
            Ok(bytes) => bytes,
            Err(e) => {
                let bad = Bad::Io(e.kind(), e.to_string());
                return Err(self.fail(state, bad, Error::io(&self.path, e), mode));
            }
        };
        let version = content_version(&bytes);
        if *version == *self.published.load().version() && self.published.is_ready() {
            state.pending = None;
            if state.reported.take().is_some() || self.published.is_stale() {
                // Back to the content being served: a recovery.
                self.published.recovered();
            }
            return Ok(false);
        }
        let next = match Snapshot::from_slice_named(&bytes, &self.name) {
            Ok(snapshot) => Arc::new(snapshot),
            Err(e) => return Err(self.fail(state, Bad::Content(version), e, mode)),
        };

        state.reported = None;
        state.pending = None;
        self.published.swap(next);
        self.write_cache(state, &bytes);
        Ok(true)
    }

    /// Copies a good file's bytes to the cache, when there is one and it
    /// holds something else.
    fn write_cache(&self, state: &mut ReloadState, bytes: &[u8]) {
        let Some(cache) = &self.cache_path else {
            return;
        };
        let version = content_version(bytes);
        if state.cached.as_deref() == Some(&*version) {
            return;
        }
        let result = write_atomically(cache, bytes)
            .map_err(|e| format!("{}: cannot write the cache: {e}", cache.display()));
        if result.is_ok() {
            state.cached = Some(version);
        }
        self.published.cache_written(result);
    }

    /// Records a bad state and gives the error back. It is reported (once
    /// per distinct bad state) at once in [`Mode::Report`], otherwise only
    /// once the same bad state has lasted the settling time.
    fn fail(&self, state: &mut ReloadState, bad: Bad, error: Error, mode: Mode) -> Error {
        let since = match &state.pending {
            Some((pending, since)) if *pending == bad => *since,
            _ => Instant::now(),
        };
        state.pending = Some((bad.clone(), since));
        if state.reported.as_ref() == Some(&bad) {
            return error;
        }
        if mode == Mode::Settle && since.elapsed() < self.settle {
            return error;
        }
        state.reported = Some(bad);
        self.published.failed(error.to_string());
        error
    }
}

/// A cache copy, if it is a good flag file; otherwise why not.
fn read_cache(path: &Path, max_bytes: u64) -> Result<Arc<Snapshot>, String> {
    let bytes = read_flag_file(path, max_bytes).map_err(|e| Error::io(path, e).to_string())?;
    Snapshot::from_slice_named(&bytes, &path.display().to_string())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// What the metadata poll compares: enough to notice an in-place write, a
/// rename over the file, and a symlink swap.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
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
