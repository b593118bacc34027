//! A flag server as a source, with an offline cache file (cargo feature
//! `remote`).
//!
//! A [`RemoteSource`] fetches `GET {url}/v1/flags` (the flag file as JSON,
//! served by `flags serve`), validates it completely and serves it as a
//! [`Snapshot`], exactly like a [`FileSource`](crate::watch::FileSource)
//! serves a file: lock-free reads, whole snapshots only, the last good one
//! kept when an answer is bad.
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
//! `flags check` or a [`FileSource`](crate::watch::FileSource). The write is
//! atomic (a temporary file in the same directory, `fsync`, rename, then
//! an `fsync` of the directory), so the cache is always a whole file. The
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

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, mpsc as std_mpsc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH,
};
use reqwest::{StatusCode, Url};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::Error;
use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file, write_atomically};
use crate::json::{self, Kind};
use crate::load::content_version;
use crate::model::Snapshot;
use crate::watch::{Published, ReloadEvent, SnapshotGuard, SourceStatus, Start};

/// Largest `/v1/flags` body accepted; a bigger one is a bad answer.
const MAX_BODY: usize = 64 << 20;
/// Reconnect delays of the stream.
const STREAM_BACKOFF_MIN: Duration = Duration::from_secs(1);
const STREAM_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A stream that sent nothing for this long is reconnected (`flags serve`
/// sends a keep-alive comment every 15 s).
const STREAM_IDLE: Duration = Duration::from_secs(60);
/// Longest SSE line kept; longer ones are skipped.
const MAX_SSE_LINE: usize = 64 << 10;

/// Where the flags come from and how often to ask.
///
/// ```
/// use std::time::Duration;
/// use flags_core::remote::RemoteOptions;
///
/// let options = RemoteOptions::new("https://flags.example.com");
/// assert_eq!(options.refresh_interval, Duration::from_secs(30));
/// assert_eq!(options.timeout, Duration::from_secs(5));
/// assert!(options.stream);
/// ```
#[derive(Clone)]
pub struct RemoteOptions {
    /// The server's base URL (`http` or `https`), e.g.
    /// `https://flags.example.com/`; `v1/flags` and `v1/stream` are
    /// appended to its path.
    pub url: String,
    /// Where to keep the last good flags for an offline start; `None` for
    /// no cache. The directory must exist.
    pub cache_path: Option<PathBuf>,
    /// Bearer token sent with every request.
    pub token: Option<String>,
    /// How often to ask for a new flag set, stream or not.
    /// [`Duration::ZERO`] turns the periodic refresh off (the stream and
    /// [`RemoteSource::refresh_now`] remain). Default: 30 s.
    pub refresh_interval: Duration,
    /// Limit for each request: connecting, and for a fetch the whole
    /// answer. Must not be zero. Default: 5 s.
    pub timeout: Duration,
    /// Also follow `GET {url}/v1/stream` to fetch as soon as the flags
    /// change. Default: true.
    pub stream: bool,
}

impl RemoteOptions {
    /// The defaults for the server at `url`: no cache, no token, refresh
    /// every 30 s, 5 s timeout, follow the stream.
    pub fn new(url: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            url: url.into(),
            cache_path: None,
            token: None,
            refresh_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            stream: true,
        }
    }
}

impl fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("url", &self.url)
            .field("cache_path", &self.cache_path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("refresh_interval", &self.refresh_interval)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .finish()
    }
}

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

/// What the background thread and the handles share.
struct Shared {
    /// As given.
    url: String,
    cache_path: Option<PathBuf>,
    published: Published,
    /// The background thread, to refuse `refresh_now` from a callback.
    worker: OnceLock<ThreadId>,
}

enum Command {
    Refresh(std_mpsc::SyncSender<Result<bool, Error>>),
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

/// The two URLs derived from the base URL.
#[derive(Clone)]
struct Endpoints {
    flags: Url,
    stream: Url,
}

impl Endpoints {
    fn new(base: &str) -> Result<Endpoints, Error> {
        let invalid =
            |why: &str| Error::remote_option(base, format!("invalid flag server URL: {why}"));
        let url = Url::parse(base.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("expected an http or https URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        let join = |tail: &str| {
            let mut url = url.clone();
            url.set_fragment(None);
            let path = format!("{}/{tail}", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url
        };
        Ok(Endpoints {
            flags: join("v1/flags"),
            stream: join("v1/stream"),
        })
    }
}

/// The body of the background thread: a single-threaded runtime making
/// every request.
fn worker(
    options: RemoteOptions,
    endpoints: Endpoints,
    ready: &std_mpsc::SyncSender<Result<Arc<Shared>, Error>>,
    commands: mpsc::UnboundedReceiver<Command>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(Error::remote(
                &options.url,
                format!("cannot start the async runtime: {e}"),
            )));
            return;
        }
    };
    runtime.block_on(async move {
        let Some((fetcher, shared)) = start(options, endpoints, ready).await else {
            return;
        };
        tokio::select! {
            // The last handle is gone: stop at once, whatever is in flight.
            _ = stop => {}
            () = fetcher.run(&shared, commands) => {}
        }
    });
    // Dropping the runtime cancels the stream task and closes connections.
}

/// The first fetch, or the cache: the source's first snapshot, sent to
/// `open`.
async fn start(
    options: RemoteOptions,
    endpoints: Endpoints,
    ready: &std_mpsc::SyncSender<Result<Arc<Shared>, Error>>,
) -> Option<(Fetcher, Arc<Shared>)> {
    let mut headers = HeaderMap::new();
    if let Some(token) = &options.token {
        match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            Err(_) => {
                let error =
                    Error::remote_option(&options.url, "the token is not a valid header value");
                let _ = ready.send(Err(error));
                return None;
            }
        }
    }
    let client = reqwest::Client::builder()
        .connect_timeout(options.timeout)
        .default_headers(headers)
        .user_agent(concat!("flags-core/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(Error::remote(&options.url, describe(&e))));
            return None;
        }
    };

    let cache = options.cache_path.as_deref().map(Cache::read);
    let mut fetcher = Fetcher {
        client,
        endpoints,
        timeout: options.timeout,
        refresh_interval: options.refresh_interval,
        stream: options.stream,
        etag: cache
            .as_ref()
            .and_then(|c| c.usable())
            .and_then(|(_, etag)| etag.clone()),
        cache_path: options.cache_path.clone(),
        cached: cache.as_ref().and_then(Cache::written),
        reported: None,
    };

    let first = fetcher.get().await;
    let (snapshot, problem, body) = match (first, &cache) {
        (
            Ok(Fetched::Body {
                snapshot,
                body,
                etag,
            }),
            _,
        ) => {
            fetcher.etag = etag;
            (Arc::new(snapshot), None, Some(body))
        }
        // Only sent with the cache's ETag, so the cache is usable.
        (Ok(Fetched::NotModified), _) => match cache.as_ref().and_then(Cache::usable) {
            Some((snapshot, _)) => (Arc::clone(snapshot), None, None),
            None => {
                let url = fetcher.endpoints.flags.as_str();
                let _ = ready.send(Err(Error::remote(url, "304 Not Modified without a cache")));
                return None;
            }
        },
        (Err(error), Some(cache)) => match &cache.state {
            CacheState::Usable { snapshot, .. } => {
                let text = error.to_string();
                let problem = format!(
                    "{text}\nserving the cached flags from {}",
                    cache.path.display()
                );
                fetcher.reported = Some(text);
                (Arc::clone(snapshot), Some(problem), None)
            }
            CacheState::Missing => {
                let _ = ready.send(Err(error));
                return None;
            }
            CacheState::Unusable(why) => {
                let message = format!("{error}\nand the cache cannot be used: {why}");
                let _ = ready.send(Err(Error::remote(&options.url, message)));
                return None;
            }
        },
        (Err(error), None) => {
            let _ = ready.send(Err(error));
            return None;
        }
    };

    let shared = Arc::new(Shared {
        url: options.url,
        cache_path: options.cache_path,
        published: Published::new(match problem {
            None => Start::Fresh(snapshot),
            Some(problem) => Start::Stale(snapshot, problem),
        }),
        worker: OnceLock::new(),
    });
    let _ = shared.worker.set(thread::current().id());
    if let Some(body) = body {
        fetcher.write_cache(&shared, &body);
    } else {
        fetcher.write_etag(&shared);
    }
    ready.send(Ok(Arc::clone(&shared))).ok()?;
    Some((fetcher, shared))
}

enum Fetched {
    NotModified,
    Body {
        snapshot: Snapshot,
        body: Vec<u8>,
        etag: Option<String>,
    },
}

/// Everything the background thread knows between fetches.
struct Fetcher {
    client: reqwest::Client,
    endpoints: Endpoints,
    timeout: Duration,
    refresh_interval: Duration,
    stream: bool,
    /// The server's ETag for the served content, as received.
    etag: Option<String>,
    cache_path: Option<PathBuf>,
    /// What the cache file and its sidecar hold now.
    cached: Option<Written>,
    /// The error last reported; `None` while healthy.
    reported: Option<String>,
}

/// The cache's content version and the ETag in its sidecar.
#[derive(Clone, PartialEq, Eq)]
struct Written {
    version: Box<str>,
    etag: Option<String>,
}

impl Fetcher {
    /// Refreshes until the channel closes (the last handle is gone).
    async fn run(mut self, shared: &Shared, mut commands: mpsc::UnboundedReceiver<Command>) {
        let (announce, mut announced) = mpsc::unbounded_channel();
        let mut streaming = self.stream;
        if streaming {
            let stream = StreamFollower {
                client: self.client.clone(),
                url: self.endpoints.stream.clone(),
                timeout: self.timeout,
            };
            tokio::spawn(stream.run(announce));
        } else {
            drop(announce);
        }
        let periodic = !self.refresh_interval.is_zero();
        let mut next = Instant::now() + self.refresh_interval;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Refresh(reply)) => {
                        let _ = reply.send(self.refresh(shared).await);
                    }
                    None => return,
                },
                () = tokio::time::sleep_until(next), if periodic => {
                    let _ = self.refresh(shared).await;
                }
                version = announced.recv(), if streaming => match version {
                    Some(version) if !self.serves(shared, &version) => {
                        let _ = self.refresh(shared).await;
                    }
                    Some(_) => continue,
                    None => {
                        streaming = false;
                        continue;
                    }
                },
            }
            next = Instant::now() + self.refresh_interval;
        }
    }

    /// True when `version` (announced by the stream) is the one served.
    fn serves(&self, shared: &Shared, version: &str) -> bool {
        match &self.etag {
            Some(etag) => etag_value(etag) == version,
            None => shared.published.load().version() == version,
        }
    }

    /// One fetch, applied: a new snapshot is swapped in and cached; a bad
    /// answer is reported.
    async fn refresh(&mut self, shared: &Shared) -> Result<bool, Error> {
        shared.published.attempted();
        let fetched = match self.get().await {
            Ok(fetched) => fetched,
            Err(error) => {
                let text = error.to_string();
                if self.reported.as_ref() != Some(&text) {
                    self.reported = Some(text.clone());
                    shared.published.failed(text);
                }
                return Err(error);
            }
        };
        let changed = match fetched {
            Fetched::NotModified => false,
            Fetched::Body {
                snapshot,
                body,
                etag,
            } => {
                self.etag = etag;
                let changed = snapshot.version() != shared.published.load().version();
                if changed {
                    self.reported = None;
                    shared.published.swap(Arc::new(snapshot));
                }
                self.write_cache(shared, &body);
                changed
            }
        };
        if !changed && self.reported.take().is_some() {
            shared.published.recovered();
        }
        Ok(changed)
    }

    /// `GET /v1/flags`, validated.
    async fn get(&self) -> Result<Fetched, Error> {
        let url = &self.endpoints.flags;
        let fail = |message: String| Error::remote(url.as_str(), message);
        let mut request = self
            .client
            .get(url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, "application/json");
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| fail(format!("cannot fetch: {}", describe(&e))))?;
        match response.status() {
            StatusCode::NOT_MODIFIED if self.etag.is_some() => return Ok(Fetched::NotModified),
            StatusCode::OK => {}
            status => return Err(fail(format!("unexpected answer: HTTP {status}"))),
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(format!("incomplete answer: {}", describe(&e))))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(fail(format!("answer larger than {} MiB", MAX_BODY >> 20)));
            }
            body.extend_from_slice(&chunk);
        }
        let snapshot = Snapshot::from_slice_named(&body, url.as_str())?;
        Ok(Fetched::Body {
            snapshot,
            body,
            etag,
        })
    }

    /// Writes a new body (and the ETag) to the cache, when it differs from
    /// what the cache holds.
    fn write_cache(&mut self, shared: &Shared, body: &[u8]) {
        let Some(path) = &self.cache_path else {
            return;
        };
        let version = content_version(body);
        if self.cached.as_ref().map(|w| &w.version) != Some(&version) {
            if let Err(e) = write_atomically(path, body) {
                let text = format!("{}: cannot write the cache: {e}", path.display());
                shared.published.cache_written(Err(text));
                return;
            }
            self.cached = Some(Written {
                version,
                etag: None,
            });
        }
        self.write_etag(shared);
    }

    /// Brings the sidecar up to date with the ETag of the cached body.
    fn write_etag(&mut self, shared: &Shared) {
        let (Some(path), Some(cached)) = (&self.cache_path, &mut self.cached) else {
            return;
        };
        if cached.etag == self.etag {
            shared.published.cache_written(Ok(()));
            return;
        }
        let sidecar = etag_path(path);
        let result = match &self.etag {
            Some(etag) => {
                write_atomically(&sidecar, format!("{}\n{etag}\n", cached.version).as_bytes())
            }
            None => match fs::remove_file(&sidecar) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        match result {
            Ok(()) => {
                cached.etag.clone_from(&self.etag);
                shared.published.cache_written(Ok(()));
            }
            Err(e) => {
                let text = format!("{}: cannot write the cache: {e}", sidecar.display());
                shared.published.cache_written(Err(text));
            }
        }
    }
}

/// The cache file as found at start-up.
struct Cache {
    path: PathBuf,
    state: CacheState,
}

enum CacheState {
    Missing,
    Unusable(String),
    Usable {
        snapshot: Arc<Snapshot>,
        /// The sidecar's ETag, when it belongs to this body.
        etag: Option<String>,
    },
}

impl Cache {
    fn read(path: &Path) -> Cache {
        let state = match read_flag_file(path, DEFAULT_MAX_FILE_BYTES) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheState::Missing,
            Err(e) => CacheState::Unusable(Error::io(path, e).to_string()),
            Ok(body) => match Snapshot::from_slice_named(&body, &path.display().to_string()) {
                Err(e) => CacheState::Unusable(e.to_string()),
                Ok(snapshot) => {
                    let etag = fs::read_to_string(etag_path(path)).ok().and_then(|text| {
                        let mut lines = text.lines();
                        let (version, etag) = (lines.next()?, lines.next()?);
                        (version == snapshot.version() && !etag.is_empty()).then(|| etag.to_owned())
                    });
                    CacheState::Usable {
                        snapshot: Arc::new(snapshot),
                        etag,
                    }
                }
            },
        };
        Cache {
            path: path.to_path_buf(),
            state,
        }
    }

    fn usable(&self) -> Option<(&Arc<Snapshot>, &Option<String>)> {
        match &self.state {
            CacheState::Usable { snapshot, etag } => Some((snapshot, etag)),
            _ => None,
        }
    }

    /// What the cache holds, in the terms of [`Fetcher::cached`].
    fn written(&self) -> Option<Written> {
        self.usable().map(|(snapshot, etag)| Written {
            version: snapshot.version().into(),
            etag: etag.clone(),
        })
    }
}

fn etag_path(cache: &Path) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".etag");
    cache.with_file_name(name)
}

/// An ETag's opaque value: without `W/` and quotes.
fn etag_value(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

/// A reqwest error's causes, without the URL (the caller names it).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        let mut text = error.to_string();
        if let Some(url) = error.url() {
            text = text.replace(&format!(" ({url})"), "");
        }
        text
    } else {
        parts.join(": ")
    }
}

/// Follows `/v1/stream` and announces every version it names.
struct StreamFollower {
    client: reqwest::Client,
    url: Url,
    timeout: Duration,
}

impl StreamFollower {
    /// Reconnects with backoff until the receiver is gone.
    async fn run(self, announce: mpsc::UnboundedSender<String>) {
        let mut backoff = STREAM_BACKOFF_MIN;
        loop {
            match self.follow(&announce).await {
                Ended::Shutdown => return,
                // A stream that worked starts the backoff over.
                Ended::AfterEvents => backoff = STREAM_BACKOFF_MIN,
                Ended::Failed => {}
            }
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(STREAM_BACKOFF_MAX);
        }
    }

    async fn follow(&self, announce: &mpsc::UnboundedSender<String>) -> Ended {
        let request = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache")
            .send();
        let mut response = match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(response)) if response.status().is_success() => response,
            _ => return Ended::Failed,
        };
        let mut parser = SseParser::default();
        let mut events = false;
        loop {
            let chunk = match tokio::time::timeout(STREAM_IDLE, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                // Closed, broken or silent for too long.
                _ => break,
            };
            for (event, data) in parser.push(&chunk) {
                if event == "version" {
                    if let Some(version) = announced_version(&data) {
                        events = true;
                        if announce.send(version).is_err() {
                            return Ended::Shutdown;
                        }
                    }
                }
            }
        }
        if announce.is_closed() {
            Ended::Shutdown
        } else if events {
            Ended::AfterEvents
        } else {
            Ended::Failed
        }
    }
}

enum Ended {
    Shutdown,
    AfterEvents,
    Failed,
}

/// `base` shortened by a random part of up to a half, so that many clients
/// do not reconnect in step after a server restart.
fn jitter(base: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    let half = base / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    base - Duration::from_nanos(random % nanos.max(1))
}

/// The `version` of a `{"version": "..."}` event payload.
fn announced_version(data: &str) -> Option<String> {
    let node = json::parse(data).ok()?;
    let Kind::Object(members) = node.kind else {
        return None;
    };
    members
        .into_iter()
        .find_map(|m| match (&*m.key, m.value.kind) {
            ("version", Kind::String(v)) if !v.is_empty() => Some(v.into_owned()),
            _ => None,
        })
}

/// An incremental Server-Sent Events parser (the event stream format of
/// the HTML standard): fields `event` and `data`, comments, any line ending.
#[derive(Default)]
struct SseParser {
    /// The incomplete last line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one
    /// belongs to it.
    after_cr: bool,
    /// The line being collected is too long and is skipped.
    skipping: bool,
    event: String,
    data: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed as `(type, data)`.
    fn push(&mut self, chunk: &[u8]) -> Vec<(String, String)> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if !std::mem::take(&mut self.skipping) {
                        self.line_done(&line, &mut events);
                    }
                }
                _ if self.skipping => {}
                _ if self.line.len() >= MAX_SSE_LINE => {
                    self.line.clear();
                    self.skipping = true;
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn line_done(&mut self, line: &[u8], events: &mut Vec<(String, String)>) {
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if let Some(data) = self.data.take() {
                let kind = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event
                };
                events.push((kind, data));
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_join_paths() {
        for (base, flags) in [
            ("http://h:1", "http://h:1/v1/flags"),
            ("http://h:1/", "http://h:1/v1/flags"),
            ("https://h/api", "https://h/api/v1/flags"),
            ("https://h/api/", "https://h/api/v1/flags"),
            (
                "https://h/api//?env=prod#x",
                "https://h/api/v1/flags?env=prod",
            ),
        ] {
            let endpoints = Endpoints::new(base).expect("valid");
            assert_eq!(endpoints.flags.as_str(), flags, "{base}");
            assert_eq!(
                endpoints.stream.as_str(),
                flags.replace("v1/flags", "v1/stream")
            );
        }
        for bad in [
            "",
            "flags.example.com",
            "ftp://h/",
            "file:///tmp/x",
            "http://",
        ] {
            let error = Endpoints::new(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(error.is_invalid_option(), "{bad:?}: {error}");
            assert!(!error.is_remote());
        }
    }

    #[test]
    fn sse_events_across_chunks_and_line_endings() {
        let mut parser = SseParser::default();
        let mut all = Vec::new();
        for chunk in [
            &b": keep-alive\n\nevent: vers"[..],
            b"ion\ndata: {\"version\":\"a\"}\r",
            b"\n\r\n",
            b"event:version\rdata:{\"version\":\r\ndata: \"b\"}\r\r",
            b"data: plain\n\n",
            b"event: version\n\n",
        ] {
            all.extend(parser.push(chunk));
        }
        assert_eq!(
            all,
            [
                ("version".to_owned(), r#"{"version":"a"}"#.to_owned()),
                ("version".to_owned(), "{\"version\":\n\"b\"}".to_owned()),
                ("message".to_owned(), "plain".to_owned()),
            ]
        );
        assert_eq!(announced_version(&all[0].1).as_deref(), Some("a"));
        assert_eq!(announced_version(&all[1].1).as_deref(), Some("b"));
        assert_eq!(announced_version("plain"), None);
        assert_eq!(announced_version(r#"{"version": 3}"#), None);
    }

    #[test]
    fn over_long_sse_lines_are_skipped() {
        let mut parser = SseParser::default();
        let mut long = b"data: ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_SSE_LINE * 2));
        long.extend_from_slice(b"\n\nevent: version\ndata: {\"version\":\"c\"}\n\n");
        let events = parser.push(&long);
        assert_eq!(events.len(), 1);
        assert_eq!(announced_version(&events[0].1).as_deref(), Some("c"));
    }

    #[test]
    fn etag_values() {
        assert_eq!(etag_value("\"abc\""), "abc");
        assert_eq!(etag_value("W/\"abc\""), "abc");
        assert_eq!(etag_value("abc"), "abc");
        assert_eq!(
            etag_path(Path::new("dir/flags.json")),
            Path::new("dir/flags.json.etag")
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(8));
            assert!(
                d > Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
