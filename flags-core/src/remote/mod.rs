//! A flag server as a source, with an offline cache file (cargo feature
//! `remote`).
//!
//! A [`RemoteSource`] fetches `GET {url}/v1/flags` (the flag file as JSON,
//! served by `flags serve`), validates it completely and serves it as a
//! [`Snapshot`], exactly like a `FileSource` (cargo feature `watch`)
//! serves a file: lock-free reads, whole snapshots only, the last good one
//! kept when an answer is bad.
//!
//! A [`ClientSource`] is the client mode beside it: it never sees the flag
//! file, only the server's answers for one context (`POST
//! {url}/ofrep/v1/evaluate/flags`), so it runs with a token of the
//! `client` scope, the one an app can ship. It shares this module's
//! options, HTTP client, stream follower and limits; see its
//! documentation.
//!
//! ```no_run
//! use std::time::Duration;
//! use flags_core::remote::{RemoteOptions, RemoteSource};
//! use flags_core::{Context, now};
//!
//! let mut options = RemoteOptions::new("https://flags.example.com/");
//! options.cache_path = Some("/var/cache/my-app/flags.json".into());
//! options.token = Some("secret".to_owned());
//! options.refresh_interval = Duration::from_secs(60);
//! // Server first, then the cache; an error only when neither is usable.
//! let source = RemoteSource::open(options)?;
//! if !source.status().healthy {
//!     eprintln!("offline, using the cached flags: {:?}", source.status().last_error);
//! }
//! let on = source.load().is_enabled("checkout_v2", &Context::new(&[("user_id", "42")]), now());
//! # let _ = on;
//! # Ok::<(), flags_core::Error>(())
//! ```
//!
//! # Protocol
//! - `GET {url}/v1/flags` (`{url}` with or without a trailing `/`; a path
//!   prefix such as `https://host/flags/` is kept) with `If-None-Match:`
//!   the last `ETag`: `304 Not Modified` means nothing changed. With a
//!   token, every request carries `Authorization: Bearer <token>`. Each
//!   request must complete (connect, headers and body) within
//!   [`RemoteOptions::timeout`].
//! - Every [`RemoteOptions::refresh_interval`] after the last fetch, and at
//!   once when [`RemoteSource::refresh_now`] is called.
//! - With [`RemoteOptions::stream`], `GET {url}/v1/stream` is followed:
//!   Server-Sent Events `event: version` with `data: {"version": "..."}`.
//!   An announced version that differs from the served one (the server's
//!   `ETag`) fetches at once. A broken stream reconnects after 1 s,
//!   doubling up to 30 s (with jitter), and reconnects when nothing, not
//!   even a keep-alive comment, arrived for 60 s. Stream trouble is not a
//!   failure of the source: the periodic refresh still runs.
//!
//! # Last good snapshot
//! An answer is used only when it is `200 OK` with a complete body that is
//! a valid flag file ([`Snapshot::from_slice_named`], diagnostics named by
//! the URL). Anything else (unreachable, timeout, another status, a
//! truncated body, invalid JSON, a schema error) keeps the last good
//! snapshot serving and is reported once per distinct error, as for files:
//! [`SourceStatus::healthy`] false, [`SourceStatus::last_error`], one more
//! [`SourceStatus::failures`], a [`ReloadEvent::Failed`]. The next good
//! answer (or a `304` for the served content) recovers.
//!
//! # Cache file
//! With [`RemoteOptions::cache_path`], every new snapshot's body is written
//! to that file exactly as received: it is a valid flag file, readable by
//! `flags check` or a `FileSource`. The write is atomic (a temporary file
//! in the same directory, `fsync`, rename, then an `fsync` of the
//! directory), so the cache is always a whole file. The
//! server's `ETag` goes to a small sidecar, `<cache_path>.etag` (the cached
//! body's version and the ETag, one per line), which is used only while it
//! matches the cached body.
//!
//! [`RemoteSource::open`] asks the server first (sending the cached ETag,
//! so an unchanged flag set costs a `304`), and when the server cannot be
//! used starts from a valid cache file, unhealthy, with the reason in
//! [`SourceStatus::last_error`]: a mobile app starts offline with its last
//! known flags. With neither, opening fails. Failing to write the cache
//! does not affect serving; see [`RemoteSource::cache_error`].
//!
//! # Threads
//! One thread named `flags-remote` runs a small single-threaded async
//! runtime that makes every request (the fetches, the stream, the ones
//! `open` and `refresh_now` wait for), so the source can be used from
//! inside an async runtime too, and nothing blocks on the network except
//! those two calls (at most [`RemoteOptions::timeout`] each). Event
//! callbacks run on that thread. Dropping the last clone of the source
//! stops the thread at once, cancelling any request in flight, the
//! stream included. Threads do not survive `fork()`: open the source in
//! the process that uses it.
//!
//! # Inside
//! This file is the [`RemoteSource`] API; [`RemoteOptions`] is in
//! `options`. The background thread and its fetches are in `fetcher`, the
//! cache file and its ETag sidecar in `cache`, the stream follower in
//! `stream` and the Server-Sent Events parser it uses in `sse`. The client
//! mode is in `client/`: its API in `mod.rs`, the answers and their strict
//! parser in `answers`, its background thread in `worker`, what it
//! publishes in `shared` and its cache file in `cache`. What is
//! published (status, events, the snapshot itself) is `crate::source`,
//! shared with `watch`.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::model::Snapshot;

mod cache;
mod client;
mod fetcher;
mod options;
mod sse;
mod stream;

pub use crate::source::{Changes, ReloadEvent, SnapshotGuard, SourceStatus};
pub use client::{Answer, Answers, ClientSource, Value};
pub use options::RemoteOptions;

use fetcher::{Command, Endpoints, Shared, worker};

/// Flags from a flag server, refreshed in the background, with the last
/// good set kept in a cache file. See the [module documentation](self).
///
/// Cloning is cheap and every clone serves the same snapshot; dropping the
/// last clone stops the background thread.
#[derive(Clone)]
pub struct RemoteSource {
    inner: Arc<Handle>,
}

/// Lives as long as the last [`RemoteSource`] clone.
struct Handle {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    /// Dropped with the handle: the background thread stops.
    _stop: oneshot::Sender<()>,
}

impl RemoteSource {
    /// Fetches the flags (with [`RemoteOptions::timeout`]), or when the
    /// server cannot be used starts from the cache file, unhealthy; then
    /// starts the background thread. Blocks for at most the timeout (plus
    /// reading the cache).
    ///
    /// Errors: the URL is not an `http`/`https` URL, or the timeout is zero
    /// ([`Error::is_invalid_option`]); the server could not be used and
    /// there is no cache file ([`Error::is_remote`], or the validation
    /// [`diagnostics`](Error::diagnostics) of its answer); or the cache
    /// file exists but is not a valid flag file either (both reasons).
    pub fn open(options: RemoteOptions) -> Result<RemoteSource, Error> {
        let endpoints = Endpoints::new(&options.url)?;
        if options.timeout.is_zero() {
            return Err(Error::remote_option(
                &options.url,
                "the timeout must not be zero",
            ));
        }
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = oneshot::channel();
        let url = options.url.clone();
        thread::Builder::new()
            .name("flags-remote".to_owned())
            .spawn(move || worker(options, endpoints, &ready_tx, commands_rx, stop_rx))
            .map_err(|e| Error::remote(&url, format!("cannot start the background thread: {e}")))?;
        let shared = ready_rx
            .recv()
            .map_err(|_| Error::remote(&url, "the background thread stopped"))??;
        Ok(RemoteSource {
            inner: Arc::new(Handle {
                shared,
                commands,
                _stop: stop,
            }),
        })
    }

    /// The snapshot being served, as an `Arc` to keep as long as needed.
    /// Lock-free and never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.shared.published.snapshot()
    }

    /// The snapshot being served, borrowed for a short time: cheaper than
    /// [`snapshot`](Self::snapshot), for hot paths (see [`SnapshotGuard`]).
    #[inline]
    pub fn load(&self) -> SnapshotGuard {
        self.inner.shared.published.load()
    }

    /// How many times a new snapshot has been swapped in since the source
    /// was opened (0 until the first change).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.inner.shared.published.generation()
    }

    /// The source's health: version served, reload and failure counts, and
    /// the error keeping the server's answer out (or why the source started
    /// from its cache).
    pub fn status(&self) -> SourceStatus {
        self.inner.shared.published.status()
    }

    /// Registers a callback run after every fetch that changed something: a
    /// new snapshot, a newly reported failure, or a recovery. It runs on the
    /// `flags-remote` thread, one event at a time and in order; it must be
    /// quick, must not call [`refresh_now`](Self::refresh_now) (refused
    /// with an error there), and should not keep a clone of this source
    /// (that would keep it alive). A panic in a callback is caught.
    pub fn on_event(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        self.inner.shared.published.on_event(Arc::new(callback));
    }

    /// Fetches now and waits for the answer (at most the timeout).
    /// `Ok(true)` when a new snapshot was swapped in, `Ok(false)` when the
    /// flags are unchanged (`304`, or the same content). An error when the
    /// server could not be used; the last good snapshot keeps serving and
    /// a new error is reported in [`status`](Self::status) and to the
    /// callbacks.
    pub fn refresh_now(&self) -> Result<bool, Error> {
        let shared = &self.inner.shared;
        if shared.worker.get() == Some(&thread::current().id()) {
            return Err(Error::remote(
                &shared.url,
                "refresh_now cannot be called from an event callback",
            ));
        }
        let (reply, answer) = std_mpsc::sync_channel(1);
        let stopped = || Error::remote(&shared.url, "the background thread stopped");
        self.inner
            .commands
            .send(Command::Refresh(reply))
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    /// When the server last answered with a usable flag set: a new one, or
    /// the one being served (`304 Not Modified`, or the same content).
    /// `None` when it has not since the source was opened (it started from
    /// the cache file). With [`SourceStatus::loaded_at`] (when the served
    /// flags arrived) this tells how stale the flags may be: they were the
    /// server's at this time.
    pub fn last_success_at(&self) -> Option<std::time::SystemTime> {
        self.inner.shared.last_success_at()
    }

    /// The server URL, as given.
    pub fn url(&self) -> &str {
        &self.inner.shared.url
    }

    /// The cache file, as given.
    pub fn cache_path(&self) -> Option<&Path> {
        self.inner.shared.cache_path.as_deref()
    }

    /// Why the last attempt to write the cache file failed, while it keeps
    /// failing (the flags still serve; only the offline start is affected).
    pub fn cache_error(&self) -> Option<String> {
        self.inner.shared.published.status().cache_error
    }
}

impl fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSource")
            .field("url", &self.url())
            .field("version", &self.load().version())
            .finish_non_exhaustive()
    }
}
