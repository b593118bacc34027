//! What every source shares (cargo feature `watch` or `remote`): the
//! snapshot being served and how readers borrow it ([`SnapshotGuard`]),
//! the health a source reports ([`SourceStatus`]), the events it sends
//! ([`ReloadEvent`], with the [`Changes`] between two snapshots), and the
//! crate-internal `Published` that holds them all behind atomic pointers.
//!
//! The file source (`watch`) and the flag-server source (`remote`) each
//! decide *when* to read and *what* is good; both publish through this
//! module, so they answer readers, probes and callbacks the same way. The
//! types are also re-exported from `flags_core::watch` and
//! `flags_core::remote`.

use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::model::Snapshot;

mod changes;

pub use changes::Changes;

/// A snapshot borrowed from a source for a short time, without touching its
/// reference count: the cheapest way to evaluate a few flags
/// (`FileSource::load` with the `watch` feature, `RemoteSource::load` with
/// the `remote` feature).
///
/// Dereferences to the [`Snapshot`]. Keep it for the duration of a call
/// or a few evaluations, not across a request: each thread has a handful of
/// cheap slots for such guards, and holding many at once makes further
/// loads slower. For longer use take the source's `snapshot()` (an `Arc`).
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

/// What a source serves: a [`Snapshot`] (file and flag-server sources), or
/// one context's answers (the client mode of the `remote` feature).
pub(crate) trait Payload: Send + Sync + 'static {
    /// Names the content: what the status and the events call its version.
    fn version(&self) -> &str;
    /// What is served before anything good (or, for answers, instead of
    /// another context's).
    fn empty() -> Self;
    /// What differs from `old` to `new`, for the reload event.
    fn changes(old: &Self, new: &Self) -> Changes;
}

impl Payload for Snapshot {
    fn version(&self) -> &str {
        Snapshot::version(self)
    }

    fn empty() -> Self {
        Snapshot::empty()
    }

    fn changes(old: &Self, new: &Self) -> Changes {
        Changes::between(old, new)
    }
}

/// What every source publishes: the snapshot being served, its generation,
/// the status and the event callbacks. Everything sits behind atomic
/// pointers, so readers never block and a fork never inherits a held lock.
///
/// The methods that change something (`attempted`, `swap`, `recovered`,
/// `failed`, `cache_written`) must be called by one writer at a time (the
/// source serializes its reload attempts), which also keeps events in
/// order.
pub(crate) struct Published<T: Payload = Snapshot> {
    current: ArcSwap<T>,
    /// A good snapshot is being served (never false again once true).
    ready: AtomicBool,
    generation: AtomicU64,
    status: ArcSwap<SourceStatus>,
    callbacks: ArcSwap<Vec<Callback>>,
}

/// What a source starts serving.
pub(crate) enum Start<T = Snapshot> {
    /// A good snapshot of the source itself.
    Fresh(Arc<T>),
    /// A good snapshot from a cache, the source being bad (`problem`).
    Stale(Arc<T>, String),
    /// Nothing good yet: the source is bad (`problem`) and nothing is ready.
    /// Only the file source starts this way (a flag server source without
    /// an answer or a cache fails to open).
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    Nothing(String),
}

impl Published<Snapshot> {
    #[inline]
    pub(crate) fn load(&self) -> SnapshotGuard {
        SnapshotGuard(self.current.load())
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

impl<T: Payload> Published<T> {
    pub(crate) fn new(start: Start<T>) -> Published<T> {
        let now = SystemTime::now();
        let (snapshot, problem, ready, stale) = match start {
            Start::Fresh(s) => (s, None, true, false),
            Start::Stale(s, problem) => (s, Some(problem), true, true),
            Start::Nothing(problem) => (Arc::new(T::empty()), Some(problem), false, false),
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

    /// What is served, borrowed for a short time.
    #[inline]
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn guard(&self) -> arc_swap::Guard<Arc<T>> {
        self.current.load()
    }

    /// What is served, as an `Arc` to keep.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn current(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Only the file source asks: a remote source is ready from the start.
    #[inline]
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
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
    pub(crate) fn swap(&self, next: Arc<T>) {
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
            changes: T::changes(&previous, &next),
        });
    }

    /// Serves nothing (`T::empty()`), the health as it is: what was served
    /// no longer applies (the client mode's context changed) and what
    /// replaces it is not known yet.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn clear(&self) {
        let next = Arc::new(T::empty());
        let previous = self.current.swap(Arc::clone(&next));
        self.generation.fetch_add(1, Ordering::AcqRel);
        let at = SystemTime::now();
        self.update(|status| {
            status.version = next.version().to_owned();
            status.loaded_at = Some(at);
            status.stale = false;
        });
        self.emit(&ReloadEvent::Reloaded {
            version: next.version().to_owned(),
            previous: previous.version().to_owned(),
            changes: T::changes(&previous, &next),
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

    /// True while the snapshot served is a stale copy (the file source
    /// asks; a remote source knows from its own state).
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
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

/// The health of a source (`FileSource` with the `watch` feature,
/// `RemoteSource` with the `remote` feature), for readiness probes, status
/// pages and metrics.
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

/// What a reload attempt changed; sent to the callbacks registered with a
/// source's `on_event` (`FileSource`, `RemoteSource`).
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
