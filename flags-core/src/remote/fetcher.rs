//! The background thread: its single-threaded runtime, the first fetch (or
//! the cache) that `open` waits for, then every fetch after it (periodic,
//! announced by the stream, or asked for by `refresh_now`), each validated
//! and published, its body handed to the cache.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc as std_mpsc};
use std::thread::{self, ThreadId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::Error;
use crate::model::Snapshot;
use crate::source::{Payload, Published, Start};

use super::cache::{Cache, CacheState, CacheWriter};
use super::options::RemoteOptions;
use super::stream::StreamFollower;

/// Largest `/v1/flags` (or bulk evaluation) body accepted; a bigger one is
/// a bad answer.
pub(super) const MAX_BODY: usize = 64 << 20;

/// What the background thread and the handles share: of a flag-server
/// source the snapshot, of a client the answers (`Shared<Answers>`).
pub(super) struct Shared<T: Payload = Snapshot> {
    /// As given.
    pub(super) url: String,
    pub(super) cache_path: Option<PathBuf>,
    pub(super) published: Published<T>,
    /// The background thread, to refuse `refresh_now` from a callback.
    pub(super) worker: OnceLock<ThreadId>,
    /// When the server last answered with a usable flag set (a new one, or
    /// `304` / the same content), in Unix milliseconds; 0: not since open.
    pub(super) last_success: AtomicU64,
}

impl<T: Payload> Shared<T> {
    /// Serving `start`, from the thread now running.
    pub(super) fn new(url: String, cache_path: Option<PathBuf>, start: Start<T>) -> Shared<T> {
        let shared = Shared {
            url,
            cache_path,
            published: Published::new(start),
            worker: OnceLock::new(),
            last_success: AtomicU64::new(0),
        };
        let _ = shared.worker.set(thread::current().id());
        shared
    }

    /// Notes that the server just answered with a usable flag set.
    pub(super) fn succeeded(&self) {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_success.store(millis.max(1), Ordering::Relaxed);
    }

    /// Publishes the outcome of one request: `Ok(None)` for `304 Not
    /// Modified`, `Ok(Some(content))` for a good answer (swapped in when it
    /// differs from what is served), an error reported once while it stays
    /// the same (`reported` holds it; `None` while healthy). `Ok(true)` when
    /// new content is served.
    pub(super) fn publish(
        &self,
        reported: &mut Option<String>,
        outcome: Result<Option<T>, Error>,
    ) -> Result<bool, Error> {
        let content = match outcome {
            Ok(content) => content,
            Err(error) => {
                let text = error.to_string();
                if reported.as_ref() != Some(&text) {
                    *reported = Some(text.clone());
                    self.published.failed(text);
                }
                return Err(error);
            }
        };
        // Noted before anything is published, so that whoever sees the new
        // content (or the recovery) also sees when it arrived.
        self.succeeded();
        let changed = content.is_some_and(|content| {
            let changed = content.version() != self.published.guard().version();
            if changed {
                *reported = None;
                self.published.swap(Arc::new(content));
            }
            changed
        });
        if !changed && reported.take().is_some() {
            self.published.recovered();
        }
        Ok(changed)
    }

    /// When the server last answered with a usable flag set.
    pub(super) fn last_success_at(&self) -> Option<SystemTime> {
        match self.last_success.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(UNIX_EPOCH + Duration::from_millis(millis)),
        }
    }
}

/// What a handle asks of the background thread.
pub(super) enum Command {
    Refresh(std_mpsc::SyncSender<Result<bool, Error>>),
}

/// The URLs derived from the base URL.
#[derive(Clone)]
pub(super) struct Endpoints {
    pub(super) flags: Url,
    pub(super) stream: Url,
    /// `ofrep/v1/evaluate/flags`: the bulk evaluation a `ClientSource` asks.
    pub(super) evaluate: Url,
}

impl Endpoints {
    pub(super) fn new(base: &str) -> Result<Endpoints, Error> {
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
            evaluate: join("ofrep/v1/evaluate/flags"),
        })
    }
}

/// The body of the background thread: a single-threaded runtime making
/// every request.
pub(super) fn worker(
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
    let client = match http_client(&options) {
        Ok(client) => client,
        Err(error) => {
            let _ = ready.send(Err(error));
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
        cache: cache.as_ref().map(Cache::writer),
        reported: None,
        served_announced: None,
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

    let problem_free = problem.is_none();
    let shared = Arc::new(Shared::new(
        options.url,
        options.cache_path,
        match problem {
            None => Start::Fresh(snapshot),
            Some(problem) => Start::Stale(snapshot, problem),
        },
    ));
    if problem_free {
        shared.succeeded();
    }
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
    /// The cache file and its sidecar, when there is one.
    cache: Option<CacheWriter>,
    /// The error last reported; `None` while healthy.
    reported: Option<String>,
    /// Without an ETag: the version the stream announced before the last
    /// fetch, which is therefore the one served. (The served snapshot's
    /// own version hashes the body and never equals the server's version.)
    served_announced: Option<String>,
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
                        if self.refresh(shared).await.is_ok() {
                            self.served_announced = Some(version);
                        }
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
            None => {
                self.served_announced.as_deref() == Some(version)
                    || shared.published.load().version() == version
            }
        }
    }

    /// One fetch, applied: a new snapshot is swapped in and cached; a bad
    /// answer is reported.
    async fn refresh(&mut self, shared: &Shared) -> Result<bool, Error> {
        shared.published.attempted();
        let (outcome, body) = match self.get().await {
            Ok(Fetched::NotModified) => (Ok(None), None),
            Ok(Fetched::Body {
                snapshot,
                body,
                etag,
            }) => {
                self.etag = etag;
                self.served_announced = None;
                (Ok(Some(snapshot)), Some(body))
            }
            Err(error) => (Err(error), None),
        };
        let changed = shared.publish(&mut self.reported, outcome)?;
        if let Some(body) = body {
            self.write_cache(shared, &body);
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
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("cannot fetch: {}", describe(&e))))?;
        match response.status() {
            StatusCode::NOT_MODIFIED if self.etag.is_some() => return Ok(Fetched::NotModified),
            StatusCode::OK => {}
            status => return Err(fail(format!("unexpected answer: HTTP {status}"))),
        }
        let etag = etag_of(&response);
        let body = read_body(response, url).await?;
        let snapshot = Snapshot::from_slice_named(&body, url.as_str())?;
        Ok(Fetched::Body {
            snapshot,
            body,
            etag,
        })
    }

    /// Writes a new body (and the ETag) to the cache, when there is one.
    fn write_cache(&mut self, shared: &Shared, body: &[u8]) {
        if let Some(cache) = &mut self.cache {
            cache.write(&shared.published, body, self.etag.as_deref());
        }
    }

    /// Brings the cache's sidecar up to date with the served ETag.
    fn write_etag(&mut self, shared: &Shared) {
        if let Some(cache) = &mut self.cache {
            cache.write_etag(&shared.published, self.etag.as_deref());
        }
    }
}

/// The HTTP client of a source: the bearer token on every request, the
/// connect timeout, the user agent.
pub(super) fn http_client(options: &RemoteOptions) -> Result<reqwest::Client, Error> {
    let mut headers = HeaderMap::new();
    if let Some(token) = &options.token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            Error::remote_option(&options.url, "the token is not a valid header value")
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .connect_timeout(options.timeout)
        .default_headers(headers)
        .user_agent(concat!("flags-core/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::remote(&options.url, describe(&e)))
}

/// The whole body of `response`, at most [`MAX_BODY`] bytes; errors name
/// `url`.
pub(super) async fn read_body(
    mut response: reqwest::Response,
    url: &Url,
) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::remote(url.as_str(), message);
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
    Ok(body)
}

/// The `ETag` of a response, when it has a non-empty one.
pub(super) fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// An ETag's opaque value: without `W/` and quotes.
pub(super) fn etag_value(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

/// A reqwest error's causes, without the URL (the caller names it).
pub(super) fn describe(error: &reqwest::Error) -> String {
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
    fn etag_values() {
        assert_eq!(etag_value("\"abc\""), "abc");
        assert_eq!(etag_value("W/\"abc\""), "abc");
        assert_eq!(etag_value("abc"), "abc");
    }
}
