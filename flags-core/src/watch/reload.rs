//! One reload attempt and what attempts remember: read the file, hash it,
//! and if the content is new, parse, validate and swap it in; a bad state
//! is kept out, settled and reported once. Both modes (the threaded worker
//! and the on-access checks) run these attempts, one at a time.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::file::{read_flag_file, write_atomically};
use crate::load::content_version;
use crate::model::Snapshot;
use crate::source::{Published, Start};

use super::fingerprint::Fingerprint;
use super::fork_safe::{CheckLock, OnAccess};
use super::options::WatchOptions;

/// What the worker and the handles share. The worker holds it strongly
/// until it exits.
pub(super) struct Shared {
    /// As given to `open`: for `path()` and error messages.
    pub(super) path: PathBuf,
    /// `path` made absolute (symlinks not resolved): what is read.
    pub(super) abs: PathBuf,
    /// Source name in diagnostics.
    pub(super) name: String,
    pub(super) max_bytes: u64,
    /// Where good files are copied, if anywhere.
    pub(super) cache_path: Option<PathBuf>,
    /// How long the same bad state must last before it is reported.
    pub(super) settle: Duration,
    pub(super) published: Published,
    /// Serializes reload attempts and the events they send, and holds what
    /// they remember between attempts.
    pub(super) lock: CheckLock<ReloadState>,
    /// `Some` in the on-access mode.
    pub(super) on_access: Option<OnAccess>,
}

/// What reload attempts remember, guarded by the [`CheckLock`].
#[derive(Clone, Default)]
pub(super) struct ReloadState {
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
pub(super) enum Mode {
    /// Report only when the same bad state has lasted the settling time.
    Settle,
    Report,
}

impl ReloadState {
    /// When a bad state seen but not reported will have lasted long enough
    /// to be reported.
    pub(super) fn settle_due(&self, settle: Duration) -> Option<Instant> {
        match &self.pending {
            Some((bad, since)) if self.reported.as_ref() != Some(bad) => Some(*since + settle),
            _ => None,
        }
    }
}

impl Shared {
    /// The first read. Strict: a bad file is an error. Otherwise a bad file
    /// starts the source on the cache copy, or on nothing.
    pub(super) fn load(
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
    pub(super) fn touch(&self) {
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
    pub(super) fn metadata_changed(&self) -> bool {
        let now = Fingerprint::of(&self.abs);
        self.lock.peek().fingerprint.as_ref() != Some(&now)
    }

    /// One reload attempt, with the lock held: read, hash, and if the
    /// content is new, parse, validate and swap in.
    pub(super) fn check(&self, state: &mut ReloadState, mode: Mode) -> Result<bool, Error> {
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
