//! The client mode: the flags of one context, evaluated by the flag
//! server (cargo feature `remote`). See [`ClientSource`].

use std::fmt;
use std::path::Path;
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::context::OwnedContext;
use crate::error::Error;

use super::fetcher::Endpoints;
use super::options::RemoteOptions;
use crate::source::{ReloadEvent, SourceStatus};

mod answers;
mod cache;
mod worker;

pub use answers::{Answer, Answers, Value};

/// What a client's thread and handles share: [`Shared`](super::fetcher::Shared) over answers.
type ClientShared = super::fetcher::Shared<Answers>;
use worker::{Command, worker};

/// The answers of a flag server for one context, refreshed in the
/// background, with the last good answers kept in a cache file: the mode
/// for code that must not hold the flag file (a phone, a browser-facing
/// tier), whose token may only evaluate.
///
/// ```no_run
/// use flags_core::OwnedContext;
/// use flags_core::remote::{ClientSource, RemoteOptions};
///
/// let mut options = RemoteOptions::new("https://flags.example.com/");
/// options.token = Some("client-token".to_owned()); // a `client` scope suffices
/// options.cache_path = Some("/data/app/flags-client.json".into());
/// let user: OwnedContext = [("user_id", "42")].into_iter().collect();
/// let client = ClientSource::open(options, user)?;
/// if client.is_enabled("checkout_v2") {
///     // ...
/// }
/// // The user logs in as someone else: their answers, fetched now.
/// client.set_context([("user_id", "7")].into_iter().collect())?;
/// # Ok::<(), flags_core::Error>(())
/// ```
///
/// # Protocol
/// - `POST {url}/ofrep/v1/evaluate/flags` with the body
///   `{"context": {...}}` (the attributes sorted by name) and
///   `If-None-Match:` the last `ETag`: `304 Not Modified` means the
///   answers for this context are unchanged. The answer is
///   `{"flags": [{"key", "value", "reason", "variant"?, "metadata"?}]}`,
///   parsed strictly (see [`Answers`]); at most 64 MiB, as for
///   `/v1/flags`. The bearer token, the timeout and the URL rules are
///   those of [`RemoteSource`](super::RemoteSource); a token with the
///   `client` scope of `flags serve` is enough (it may not read
///   `/v1/flags`).
/// - Every [`RemoteOptions::refresh_interval`] (default 30 s) after the
///   last request. A ramp or a schedule changes answers while the flag
///   file stays the same, so the interval is what moves them; the ETag
///   makes an unchanged answer cost a `304`.
/// - With [`RemoteOptions::stream`], `GET {url}/v1/stream` is followed as
///   the flag-server source follows it: an announced flag file version
///   that differs from the one the answers were evaluated on
///   (`metadata.version`) asks at once.
///
/// # Last good answers
/// Anything but a `200` with a valid answer (or a `304`) keeps the served
/// answers and is reported once per distinct error: [`status`]
/// unhealthy with [`SourceStatus::last_error`], a [`ReloadEvent::Failed`].
/// The next good answer recovers.
///
/// # Cache file
/// With [`RemoteOptions::cache_path`], every new answer is written to that
/// file (atomically: a temporary file, `fsync`, rename) with its ETag and
/// the hash of the context it answers, in one JSON document. [`open`]
/// asks the server first (with the cached ETag, so an unchanged answer
/// costs a `304`); when the server cannot be used it serves the cached
/// answers, unhealthy and `stale`, with the reason in
/// [`SourceStatus::last_error`], but only when they were evaluated for the
/// same context: another context's answers are never served. With no
/// usable cache, opening fails.
///
/// # Changing the context
/// [`set_context`] asks about the new context at once and waits for the
/// answer (at most the timeout). Until it arrives, the old context's
/// answers are served (readers never block); if it cannot be had, no
/// answers are served at all (every flag off, [`Answers::is_empty`]) and
/// the status says why, until a later refresh gets them: never the old
/// context's answers for the new one. The cache then holds the new
/// context's answers as soon as there are any.
///
/// # Threads
/// As for [`RemoteSource`](super::RemoteSource): one thread named
/// `flags-client` makes every request; callbacks run on it; dropping the
/// last clone stops it at once. It does not survive `fork()`.
///
/// [`status`]: ClientSource::status
/// [`open`]: ClientSource::open
/// [`set_context`]: ClientSource::set_context
#[derive(Clone)]
pub struct ClientSource {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<ClientShared>,
    commands: mpsc::UnboundedSender<Command>,
    /// Dropped with the handle: the background thread stops.
    _stop: oneshot::Sender<()>,
}

impl ClientSource {
    /// Asks the server for the answers for `context` (with
    /// [`RemoteOptions::timeout`]), or when the server cannot be used
    /// starts from the cache file's answers for the same context,
    /// unhealthy; then starts the background thread.
    ///
    /// Errors: the URL is not an `http`/`https` URL, the token is not a
    /// valid header value, or the timeout is zero
    /// ([`Error::is_invalid_option`]); the server could not be used (its
    /// answer names the problem) and there is no cache file for this
    /// context ([`Error::is_remote`]).
    pub fn open(options: RemoteOptions, context: OwnedContext) -> Result<ClientSource, Error> {
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
            .name("flags-client".to_owned())
            .spawn(move || {
                worker(
                    options,
                    endpoints,
                    &context,
                    &ready_tx,
                    commands_rx,
                    stop_rx,
                )
            })
            .map_err(|e| Error::remote(&url, format!("cannot start the background thread: {e}")))?;
        let shared = ready_rx
            .recv()
            .map_err(|_| Error::remote(&url, "the background thread stopped"))??;
        Ok(ClientSource {
            inner: Arc::new(Handle {
                shared,
                commands,
                _stop: stop,
            }),
        })
    }

    /// True when the server answered `true` for `key`; false for anything
    /// else, including a flag it did not answer. Lock-free.
    #[inline]
    pub fn is_enabled(&self, key: &str) -> bool {
        self.inner.shared.published.guard().is_enabled(key)
    }

    /// The variant the server named for `key`.
    pub fn variant(&self, key: &str) -> Option<String> {
        self.inner
            .shared
            .published
            .guard()
            .variant(key)
            .map(str::to_owned)
    }

    /// The whole answer for `key`: value, variant, reasons, bucket.
    pub fn evaluate(&self, key: &str) -> Option<Answer> {
        self.inner.shared.published.guard().get(key).cloned()
    }

    /// Every answer being served, as an `Arc` to keep as long as needed.
    pub fn answers(&self) -> Arc<Answers> {
        self.inner.shared.published.current()
    }

    /// How many times new answers were swapped in (0 until the first
    /// change).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.inner.shared.published.generation()
    }

    /// The client's health: the version of the answers served (their
    /// content hash), failures, the error keeping the server's answer out
    /// (or why the cache is served).
    pub fn status(&self) -> SourceStatus {
        self.inner.shared.published.status()
    }

    /// Registers a callback run after every request that changed
    /// something, as for [`RemoteSource::on_event`](super::RemoteSource::on_event):
    /// on the `flags-client` thread, in order; it must be quick and must
    /// not call [`refresh_now`](Self::refresh_now) or
    /// [`set_context`](Self::set_context) (refused there).
    pub fn on_event(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        self.inner.shared.published.on_event(Arc::new(callback));
    }

    /// Asks now and waits for the answer (at most the timeout). `Ok(true)`
    /// when new answers were swapped in, `Ok(false)` when they are the
    /// same. An error when the server could not be used; the served
    /// answers stay.
    pub fn refresh_now(&self) -> Result<bool, Error> {
        self.ask(Command::Refresh, "refresh_now")
    }

    /// Asks about `context` from now on, at once, and waits for the answer
    /// (at most the timeout); see [Changing the
    /// context](ClientSource#changing-the-context). `Ok(true)` when the
    /// answers changed. On an error no answers are served until the server
    /// answers for this context.
    pub fn set_context(&self, context: OwnedContext) -> Result<bool, Error> {
        self.ask(|reply| Command::SetContext(context, reply), "set_context")
    }

    fn ask(
        &self,
        command: impl FnOnce(std_mpsc::SyncSender<Result<bool, Error>>) -> Command,
        name: &str,
    ) -> Result<bool, Error> {
        let shared = &self.inner.shared;
        if shared.worker.get() == Some(&thread::current().id()) {
            return Err(Error::remote(
                &shared.url,
                format!("{name} cannot be called from an event callback"),
            ));
        }
        let (reply, answer) = std_mpsc::sync_channel(1);
        let stopped = || Error::remote(&shared.url, "the background thread stopped");
        self.inner
            .commands
            .send(command(reply))
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    /// When the server last answered usably (new answers, a `304`, or the
    /// same answers); `None` when it has not since the client was opened.
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
}

impl fmt::Debug for ClientSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSource")
            .field("url", &self.url())
            .field("version", &self.inner.shared.published.guard().version())
            .finish_non_exhaustive()
    }
}
