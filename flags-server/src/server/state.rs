//! The state every handler shares: the flag source (a file, or an upstream
//! flags server for a relay), auth, metrics, the caps, the rendering of
//! `/v1/flags`, and the guards' last live reading for the dashboard.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use flags_core::migrate::Recorder;
use flags_core::monitor::{MonitorError, Prometheus, Reading};
use flags_core::remote::RemoteSource;
use flags_core::watch::{FileSource, ReloadEvent, SourceStatus};
use flags_core::{Snapshot, Timestamp};
use tokio::sync::{Semaphore, broadcast, watch};
use tracing::{error, info, warn};

use super::auth::Auth;
use super::errors::{Api, Error};
use super::limits;
use super::memory;
use super::metrics::Metrics;

/// Longest time a request may take by default (reading its body included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Server settings beyond the flag source.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bearer tokens accepted on `/v1/*` and `/ofrep/*`, each `TOKEN`
    /// (scope `server`) or `TOKEN client` (evaluation only); empty: no auth.
    pub tokens: Vec<String>,
    /// The context attribute OFREP's `targetingKey` fills.
    pub targeting_key: String,
    /// Most connections served at once; a connection beyond gets one
    /// answer and is closed (`/healthz` and `/readyz` as usual, 503 for
    /// everything else).
    pub max_connections: usize,
    /// Most `/v1/stream` responses open at once; more get 503.
    pub max_streams: usize,
    /// Longest time a request may take, reading its body included (408).
    pub request_timeout: Duration,
    /// Seconds a cache may reuse a `/v1/flags` or OFREP bulk answer without
    /// revalidating it (`Cache-Control: max-age=N, must-revalidate`).
    pub cache_max_age: u64,
    /// `--prometheus`: where the dashboard reads each guard's live value.
    pub guard_monitor: Option<GuardMonitor>,
    /// Most migration flags whose records `POST /v1/migrations` keeps
    /// metrics for (records of further flags are dropped and counted).
    pub max_migration_flags: usize,
}

impl Default for Config {
    /// No tokens, `user_id` as the targeting attribute, the caps that the
    /// process's open-file limit allows, and a 10 s request timeout.
    fn default() -> Self {
        let (max_connections, max_streams) = limits::defaults(limits::open_files());
        Self {
            tokens: Vec::new(),
            targeting_key: flags_core::DEFAULT_BUCKET_BY.to_owned(),
            max_connections,
            max_streams,
            request_timeout: REQUEST_TIMEOUT,
            cache_max_age: 0,
            guard_monitor: None,
            max_migration_flags: flags_core::migrate::DEFAULT_MAX_FLAGS,
        }
    }
}

/// How often the dashboard's guard readings are refreshed by default.
const GUARD_READ_EVERY: Duration = Duration::from_secs(5);
/// The longest one refresh may wait for Prometheus, every guard's query
/// included.
const GUARD_READ_WITHIN: Duration = Duration::from_secs(2);

/// The Prometheus that `flags serve --prometheus URL` asks every guard's
/// query, through [`flags_core::monitor`] (what `flags status
/// --prometheus` prints), for the dashboard.
#[derive(Clone)]
pub struct GuardMonitor {
    pub(crate) prometheus: Prometheus,
    pub(crate) url: String,
    /// Time between two readings.
    pub(crate) every: Duration,
    /// The longest one reading may take.
    pub(crate) within: Duration,
}

impl GuardMonitor {
    /// Asks the Prometheus at `url` every 5 s, each reading bounded by 2 s.
    /// A URL that is not http:// or https:// is [`MonitorError::Url`].
    pub fn new(url: &str) -> Result<Self, MonitorError> {
        Ok(Self {
            prometheus: Prometheus::new(url, GUARD_READ_WITHIN)?,
            url: url.to_owned(),
            every: GUARD_READ_EVERY,
            within: GUARD_READ_WITHIN,
        })
    }

    /// Reads every `every` instead (at least 100 ms).
    #[must_use]
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(100));
        self
    }
}

impl std::fmt::Debug for GuardMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardMonitor")
            .field("url", &self.url)
            .field("every", &self.every)
            .field("within", &self.within)
            .finish_non_exhaustive()
    }
}

/// The guards' readings and where they come from (see `dashboard`).
pub(crate) struct GuardReadings {
    pub monitor: GuardMonitor,
    /// Set once the task that refreshes `last` runs.
    pub started: AtomicBool,
    /// The newest reading; `None` before the first one.
    pub last: Mutex<Option<Arc<GuardReading>>>,
}

/// One reading of every guard of one version of the flags.
pub(crate) struct GuardReading {
    /// The version of the flags whose guards were read.
    pub version: String,
    pub read_at: Timestamp,
    /// Every guard's reading, or why the monitor could not run at all.
    pub readings: Result<Vec<Reading>, String>,
    /// The monitor's line that says what to do.
    pub recommendation: Option<String>,
}

/// Where the served flags come from: a hot-reloaded file, or (a relay)
/// another flags server, followed through the core's remote source.
#[derive(Clone, Debug)]
pub enum Source {
    /// `flags serve FILE`.
    File(FileSource),
    /// `flags serve --upstream URL`: a relay.
    Upstream(Relay),
}

impl From<FileSource> for Source {
    fn from(source: FileSource) -> Self {
        Source::File(source)
    }
}

impl From<RemoteSource> for Source {
    fn from(source: RemoteSource) -> Self {
        Source::Upstream(Relay::opened(source))
    }
}

impl From<Relay> for Source {
    fn from(relay: Relay) -> Self {
        Source::Upstream(relay)
    }
}

impl Source {
    /// The snapshot being served, to keep across an `.await` (an empty
    /// flag set before ready).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self {
            Source::File(s) => s.snapshot(),
            Source::Upstream(r) => r.snapshot(),
        }
    }

    /// True once good flags are served.
    pub fn is_ready(&self) -> bool {
        match self {
            Source::File(s) => s.is_ready(),
            Source::Upstream(r) => r.status().ready,
        }
    }

    /// The source's health (see [`SourceStatus`]).
    pub fn status(&self) -> SourceStatus {
        match self {
            Source::File(s) => s.status(),
            Source::Upstream(r) => r.status(),
        }
    }

    /// The `--cache` copy, when there is one.
    pub fn cache_path(&self) -> Option<&Path> {
        match self {
            Source::File(s) => s.cache_path(),
            Source::Upstream(r) => r.0.cache.as_deref(),
        }
    }

    /// The upstream of a relay; `None` for a file.
    pub fn upstream(&self) -> Option<&Relay> {
        match self {
            Source::File(_) => None,
            Source::Upstream(r) => Some(r),
        }
    }

    /// What the logs call the source.
    fn noun(&self) -> &'static str {
        match self {
            Source::File(_) => "flag file",
            Source::Upstream(_) => "upstream",
        }
    }

    fn on_event(&self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) {
        match self {
            Source::File(s) => s.on_event(callback),
            Source::Upstream(r) => r.on_event(Arc::new(callback)),
        }
    }
}

type Callback = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

/// A relay's source: the upstream's [`RemoteSource`] once it could be
/// opened (from the upstream, or from the cache); until then nothing to
/// serve (not ready), and why.
#[derive(Clone)]
pub struct Relay(Arc<RelayInner>);

struct RelayInner {
    url: String,
    cache: Option<PathBuf>,
    source: OnceLock<RemoteSource>,
    /// Served (never while not ready) until the source opens.
    empty: Arc<Snapshot>,
    /// The state until the source opens.
    pending: Mutex<SourceStatus>,
    /// Registered before the source opened; handed to it when it does.
    callbacks: Mutex<Vec<Callback>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("url", &self.0.url)
            .field("opened", &self.0.source.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Relay {
    fn new(url: String, cache: Option<PathBuf>, error: Option<String>) -> Relay {
        let empty = Snapshot::from_slice_named(br#"{"version":1,"flags":{}}"#, "(none)")
            .map(Arc::new)
            .unwrap_or_else(|_| unreachable!("an empty flag file is valid"));
        Relay(Arc::new(RelayInner {
            url,
            cache,
            source: OnceLock::new(),
            empty,
            pending: Mutex::new(SourceStatus {
                version: String::new(),
                ready: false,
                stale: false,
                loaded_at: None,
                healthy: error.is_none(),
                last_failure_at: error.as_ref().map(|_| SystemTime::now()),
                failures: u64::from(error.is_some()),
                last_error: error,
                reloads: 0,
                last_attempt_at: Some(SystemTime::now()),
                cache_error: None,
            }),
            callbacks: Mutex::new(Vec::new()),
        }))
    }

    /// A relay over an open source.
    pub fn opened(source: RemoteSource) -> Relay {
        let relay = Relay::new(
            source.url().to_owned(),
            source.cache_path().map(Into::into),
            None,
        );
        relay.open(source);
        relay
    }

    /// A relay whose source could not be opened yet (`error`): not ready
    /// until [`open`](Self::open).
    pub fn pending(url: String, cache: Option<PathBuf>, error: String) -> Relay {
        Relay::new(url, cache, Some(error))
    }

    /// Serves `source` from now on (once; later calls are ignored).
    pub fn open(&self, source: RemoteSource) {
        let callbacks = self.0.callbacks.lock().unwrap_or_else(|e| e.into_inner());
        if self.0.source.set(source).is_ok() {
            if let Some(source) = self.0.source.get() {
                for callback in callbacks.iter() {
                    let callback = Arc::clone(callback);
                    source.on_event(move |event| callback(event));
                }
            }
        }
    }

    /// Another failed attempt to open the source.
    pub fn failed(&self, error: String) {
        let mut status = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = SystemTime::now();
        status.last_attempt_at = Some(now);
        if status.last_error.as_deref() != Some(&error) {
            status.failures += 1;
            status.last_failure_at = Some(now);
            status.last_error = Some(error);
        }
    }

    /// The upstream's URL, as given.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// The source, once open.
    pub fn remote(&self) -> Option<&RemoteSource> {
        self.0.source.get()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.remote()
            .map_or_else(|| Arc::clone(&self.0.empty), RemoteSource::snapshot)
    }

    fn status(&self) -> SourceStatus {
        match self.remote() {
            Some(source) => source.status(),
            None => self
                .0
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn on_event(&self, callback: Callback) {
        let mut callbacks = self.0.callbacks.lock().unwrap_or_else(|e| e.into_inner());
        match self.0.source.get() {
            Some(source) => source.on_event(move |event| callback(event)),
            None => callbacks.push(callback),
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub source: Source,
    pub auth: Arc<Auth>,
    pub metrics: Arc<Metrics>,
    /// The aggregate of the migration records of `POST /v1/migrations`.
    pub migrations: Recorder,
    /// New versions for `/v1/stream`; `None` closes the streams (shutdown).
    pub reloads: broadcast::Sender<Option<String>>,
    pub targeting_key: String,
    /// Most connections served at once (see [`Config::max_connections`]).
    pub max_connections: usize,
    /// Open `/v1/stream` responses, one permit each.
    pub streams: Arc<Semaphore>,
    pub max_streams: usize,
    pub request_timeout: Duration,
    /// See [`Config::cache_max_age`].
    pub cache_max_age: u64,
    /// Normalized JSON of the current snapshot, rendered once per version:
    /// the lock is held only to fetch the receiver, never while rendering.
    /// Emptied by every reload, so that an old file's rendering is not kept.
    pub flags_json: Arc<RenderCache>,
    /// With `--prometheus`: the guards' live readings.
    pub guards: Option<Arc<GuardReadings>>,
}

/// The version last rendered for `/v1/flags`, and its rendering.
pub(crate) type RenderCache = Mutex<Option<(Box<str>, Rendered)>>;

/// A snapshot's normalized JSON: `None` until the blocking pool has
/// rendered it.
type Rendered = watch::Receiver<Option<Bytes>>;

impl AppState {
    /// Builds the state over `source` (a [`FileSource`], or a
    /// [`RemoteSource`] for a relay) and subscribes to its reloads (for
    /// logs and `/v1/stream`).
    pub fn new(source: impl Into<Source>, config: Config) -> Self {
        let source = source.into();
        let noun = source.noun();
        let (reloads, _) = broadcast::channel(64);
        let sender = reloads.clone();
        let flags_json: Arc<RenderCache> = Arc::default();
        let rendered = Arc::clone(&flags_json);
        // Callbacks run on the watch thread: work for the runtime is handed
        // over through its handle (none in tests built without a runtime).
        let runtime = tokio::runtime::Handle::try_current().ok();
        source.on_event(move |event| match event {
            ReloadEvent::Reloaded {
                version,
                previous,
                changes,
            } => {
                if previous.is_empty() {
                    info!(version = %version, flags = changes.added.len(), "{noun} loaded: ready");
                } else if version == previous {
                    info!(version = %version, "{noun} good again: it holds the flags being served");
                } else {
                    info!(
                        version = %version,
                        previous = %previous,
                        added = ?changes.added,
                        removed = ?changes.removed,
                        changed = ?changes.changed,
                        "{noun} reloaded"
                    );
                }
                if version != previous {
                    let _ = sender.send(Some(version.clone()));
                    *rendered.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    if let Some(runtime) = &runtime {
                        memory::trim_later(runtime);
                    }
                }
            }
            ReloadEvent::Failed { error } => {
                error!("{noun} rejected, still serving the last good version:\n{error}");
            }
            ReloadEvent::CacheFailed { error } => warn!("{error}"),
            _ => {}
        });
        let targeting_key = if config.targeting_key.is_empty() {
            flags_core::DEFAULT_BUCKET_BY.to_owned()
        } else {
            config.targeting_key
        };
        Self(Arc::new(Shared {
            source,
            auth: Arc::new(Auth::new(&config.tokens)),
            metrics: Arc::default(),
            migrations: Recorder::new(config.max_migration_flags),
            reloads,
            targeting_key,
            max_connections: config.max_connections.max(1),
            streams: Arc::new(Semaphore::new(
                config.max_streams.min(Semaphore::MAX_PERMITS),
            )),
            max_streams: config.max_streams,
            request_timeout: config.request_timeout,
            cache_max_age: config.cache_max_age,
            flags_json,
            guards: config.guard_monitor.map(|monitor| {
                Arc::new(GuardReadings {
                    monitor,
                    started: AtomicBool::new(false),
                    last: Mutex::new(None),
                })
            }),
        }))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }

    /// A reference that does not keep the state alive (for background
    /// tasks that end with it).
    pub(crate) fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.0)
    }

    /// True when bearer tokens are required.
    pub fn auth_enabled(&self) -> bool {
        self.0.auth.enabled()
    }

    /// The answer of every flags endpoint until good flags are loaded: 503
    /// in the shape of `api`, with `Retry-After`. `Ok` once ready (one
    /// atomic load; a check in each handler costs less than a layer).
    pub(crate) fn ready(&self, api: Api) -> Result<(), Error> {
        if self.0.source.is_ready() {
            Ok(())
        } else {
            Err(Error::not_ready(api))
        }
    }

    /// Ends every `/v1/stream` response (used on shutdown).
    pub fn close_streams(&self) {
        let _ = self.0.reloads.send(None);
    }
}
