//! What lets a file source carry on across `fork()`: the on-access mode's
//! schedule and its monotonic clock, and the try-lock that serializes
//! reload attempts and records the process id of its holder, so that a
//! child forked while a parent's thread held it takes it over.

use std::mem;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::time::Instant;

use arc_swap::ArcSwap;

/// The on-access mode's schedule: when the next check is due.
pub(super) struct OnAccess {
    /// `check_interval` in clock units.
    interval: u64,
    clock: Clock,
    /// The clock reading at which the next check is due.
    next_due: AtomicU64,
}

impl OnAccess {
    pub(super) fn new(check_interval: Duration) -> OnAccess {
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
    pub(super) fn claim(&self) -> bool {
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

/// A try-lock that records the process id of its holder, and the state it
/// guards (behind an atomic pointer, so that taking the lock over after a
/// fork needs no other lock): for the file source, what reload attempts
/// remember.
///
/// A holder from another process can only be a thread of an ancestor that
/// held the lock when this process was forked: that thread does not exist
/// here, so its lock is taken over. The state it may have been updating is
/// the one stored before its attempt, which at worst makes the next check
/// read the file once more.
pub(super) struct CheckLock<S> {
    /// Process id of the holder; 0 when free.
    holder: AtomicU32,
    state: ArcSwap<S>,
}

/// The lock held, with a copy of the state to change; stored back and
/// released on drop.
pub(super) struct CheckGuard<'a, S: Clone + Default> {
    lock: &'a CheckLock<S>,
    pid: u32,
    state: S,
}

impl<S: Clone + Default> CheckLock<S> {
    pub(super) fn new(state: S) -> CheckLock<S> {
        CheckLock {
            holder: AtomicU32::new(0),
            state: ArcSwap::from_pointee(state),
        }
    }

    /// The lock, unless a thread of this process holds it. Never blocks.
    pub(super) fn try_acquire(&self) -> Option<CheckGuard<'_, S>> {
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
            state: S::clone(&self.state.load()),
        })
    }

    /// The lock, waiting for the thread of this process that holds it.
    /// Checks are short (one read and parse), and only the threaded worker
    /// and `reload_now` wait.
    pub(super) fn acquire(&self) -> CheckGuard<'_, S> {
        loop {
            if let Some(guard) = self.try_acquire() {
                return guard;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// The state as the last attempt left it; for a quick look without the
    /// lock (a stale answer only costs an extra check).
    pub(super) fn peek(&self) -> arc_swap::Guard<Arc<S>> {
        self.state.load()
    }
}

impl<S: Clone + Default> Deref for CheckGuard<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S: Clone + Default> DerefMut for CheckGuard<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

impl<S: Clone + Default> Drop for CheckGuard<'_, S> {
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
