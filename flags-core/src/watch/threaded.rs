//! The threaded mode's worker (`flags-watch`): the watch on the file's
//! directory, re-armed when the directory is replaced, the debounce of its
//! events, the metadata poll, and the reload attempts they trigger.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::options::WatchOptions;
use super::reload::{Mode, Shared};

pub(super) enum Msg {
    Changed,
    /// The watched directory itself was deleted or moved away: the watch
    /// no longer sees the path.
    DirGone,
    Shutdown,
}

/// How often the threaded worker checks that the watched directory is
/// still the one being watched (one `stat`).
const DIR_CHECK: Duration = Duration::from_millis(250);

pub(super) fn start_watcher(dir: &Path, tx: Sender<Msg>) -> notify::Result<RecommendedWatcher> {
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
pub(super) struct DirWatch {
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
    /// The watch `watcher` has on `dir` (none when it could not be
    /// started: then only the poll notices changes).
    pub(super) fn new(watcher: Option<RecommendedWatcher>, dir: PathBuf) -> DirWatch {
        DirWatch {
            watcher,
            identity: dir_identity(&dir),
            dir,
        }
    }

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
pub(super) fn run(shared: &Shared, rx: &Receiver<Msg>, options: &WatchOptions, dir: &mut DirWatch) {
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
