//! What a client's background thread publishes and its handles read: the
//! answers behind an atomic pointer, the status, the event callbacks. The
//! same contract as the flag sources' `Published` (one writer, readers
//! that never block, events in order), for answers instead of snapshots.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, Guard};

use crate::source::{Changes, ReloadEvent, SourceStatus};

use super::answers::Answers;

type Callback = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

pub(super) struct ClientShared {
    /// As given.
    pub(super) url: String,
    pub(super) cache_path: Option<PathBuf>,
    answers: ArcSwap<Answers>,
    generation: AtomicU64,
    status: ArcSwap<SourceStatus>,
    callbacks: ArcSwap<Vec<Callback>>,
    /// The background thread, to refuse blocking calls from a callback.
    pub(super) worker: OnceLock<ThreadId>,
    /// When the server last answered usably, in Unix milliseconds; 0: not
    /// since open.
    last_success: AtomicU64,
}

impl ClientShared {
    /// Serving `answers`; `problem` when they come from the cache because
    /// the server could not be used.
    pub(super) fn new(
        url: String,
        cache_path: Option<PathBuf>,
        answers: Answers,
        problem: Option<String>,
    ) -> ClientShared {
        let now = SystemTime::now();
        let status = SourceStatus {
            version: answers.version().to_owned(),
            ready: true,
            stale: problem.is_some(),
            loaded_at: Some(now),
            healthy: problem.is_none(),
            failures: u64::from(problem.is_some()),
            last_failure_at: problem.is_some().then_some(now),
            last_error: problem,
            reloads: 0,
            last_attempt_at: None,
            cache_error: None,
        };
        ClientShared {
            url,
            cache_path,
            answers: ArcSwap::from_pointee(answers),
            generation: AtomicU64::new(0),
            status: ArcSwap::from_pointee(status),
            callbacks: ArcSwap::from_pointee(Vec::new()),
            worker: OnceLock::new(),
            last_success: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(super) fn load(&self) -> Guard<Arc<Answers>> {
        self.answers.load()
    }

    pub(super) fn answers(&self) -> Arc<Answers> {
        self.answers.load_full()
    }

    #[inline]
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn status(&self) -> SourceStatus {
        SourceStatus::clone(&self.status.load())
    }

    pub(super) fn on_event(&self, callback: Callback) {
        self.callbacks.rcu(|list| {
            let mut list = Vec::clone(list);
            list.push(Arc::clone(&callback));
            list
        });
    }

    /// Notes that the server just answered usably.
    pub(super) fn succeeded(&self) {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_success.store(millis.max(1), Ordering::Relaxed);
    }

    pub(super) fn last_success_at(&self) -> Option<SystemTime> {
        match self.last_success.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(UNIX_EPOCH + Duration::from_millis(millis)),
        }
    }

    fn update(&self, change: impl Fn(&mut SourceStatus)) {
        self.status.rcu(|status| {
            let mut status = SourceStatus::clone(status);
            change(&mut status);
            status
        });
    }

    pub(super) fn attempted(&self) {
        let at = SystemTime::now();
        self.update(|status| status.last_attempt_at = Some(at));
    }

    /// Serves `next`, good answers from the server: healthy, one more
    /// reload, an event.
    pub(super) fn swap(&self, next: Arc<Answers>) {
        let previous = self.replace(&next);
        self.update(|status| {
            status.stale = false;
            status.healthy = true;
            status.last_error = None;
            status.reloads += 1;
        });
        self.emit(&ReloadEvent::Reloaded {
            version: next.version().to_owned(),
            previous: previous.version().to_owned(),
            changes: changes(&previous, &next),
        });
    }

    /// Serves no answers at all (every flag off), keeping the status's
    /// health as it is: the context changed and its answers are unknown.
    pub(super) fn clear(&self) {
        let next = Arc::new(Answers::default());
        let previous = self.replace(&next);
        self.update(|status| status.stale = false);
        self.emit(&ReloadEvent::Reloaded {
            version: String::new(),
            previous: previous.version().to_owned(),
            changes: changes(&previous, &next),
        });
    }

    fn replace(&self, next: &Arc<Answers>) -> Arc<Answers> {
        let previous = self.answers.swap(Arc::clone(next));
        self.generation.fetch_add(1, Ordering::AcqRel);
        let at = SystemTime::now();
        let version = next.version().to_owned();
        self.update(|status| {
            status.version.clone_from(&version);
            status.loaded_at = Some(at);
        });
        previous
    }

    /// The server answers the served answers again after a reported
    /// failure (or, serving the cache, now confirms it).
    pub(super) fn recovered(&self) {
        self.update(|status| {
            status.healthy = true;
            status.stale = false;
            status.last_error = None;
        });
        let version = self.answers.load().version().to_owned();
        self.emit(&ReloadEvent::Reloaded {
            previous: version.clone(),
            version,
            changes: Changes::default(),
        });
    }

    /// Reports a new bad state; the served answers stay.
    pub(super) fn failed(&self, error: String) {
        let at = SystemTime::now();
        self.update(|status| {
            status.healthy = false;
            status.last_error = Some(error.clone());
            status.last_failure_at = Some(at);
            status.failures += 1;
        });
        self.emit(&ReloadEvent::Failed { error });
    }

    /// Records the outcome of writing the cache file; a new problem is
    /// sent as an event.
    pub(super) fn cache_written(&self, result: Result<(), String>) {
        let error = result.err();
        if self.status.load().cache_error == error {
            return;
        }
        self.update(|status| status.cache_error.clone_from(&error));
        if let Some(error) = error {
            self.emit(&ReloadEvent::CacheFailed { error });
        }
    }

    fn emit(&self, event: &ReloadEvent) {
        let callbacks = self.callbacks.load_full();
        for callback in callbacks.iter() {
            // A panicking callback must not take the thread down; the
            // default panic hook has already printed the message.
            let _ = catch_unwind(AssertUnwindSafe(|| callback(event)));
        }
    }
}

/// The flags whose answers were added, removed or changed.
fn changes(old: &Answers, new: &Answers) -> Changes {
    let mut changes = Changes::default();
    for (key, answer) in new.iter() {
        match old.get(key) {
            None => changes.added.push(key.to_owned()),
            Some(before) if before != answer => changes.changed.push(key.to_owned()),
            Some(_) => {}
        }
    }
    changes.removed = old
        .iter()
        .filter(|(key, _)| new.get(key).is_none())
        .map(|(key, _)| key.to_owned())
        .collect();
    changes
}
