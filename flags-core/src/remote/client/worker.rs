//! The client's background thread: the first bulk evaluation (or the
//! cache) that `open` waits for, then every one after it (periodic,
//! announced by the stream, asked for by `refresh_now` or `set_context`),
//! each parsed and published, its body handed to the cache. The HTTP
//! client, the stream follower and the body limit are the flag-server
//! source's.

use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, IF_NONE_MATCH};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::context::OwnedContext;
use crate::error::Error;
use crate::json_path::push_json_string;
use crate::load::content_version;

use super::super::fetcher::{Endpoints, describe, etag_of, http_client, read_body};
use super::super::options::RemoteOptions;
use super::super::stream::StreamFollower;
use super::ClientShared;
use super::answers::{self, Answers};
use super::cache::{self, CacheState, CacheWriter};
use crate::source::Start;

/// What a handle asks of the background thread; each waits for the answer.
pub(super) enum Command {
    Refresh(std_mpsc::SyncSender<Result<bool, Error>>),
    SetContext(OwnedContext, std_mpsc::SyncSender<Result<bool, Error>>),
}

/// The request body for a context, and the key that names the context in
/// the cache file: the attributes sorted by name, so that the same
/// attributes in another order are the same context.
#[derive(Clone)]
pub(super) struct ContextRequest {
    body: String,
    key: String,
}

impl ContextRequest {
    pub(super) fn of(context: &OwnedContext) -> ContextRequest {
        let mut pairs: Vec<(&str, &str)> = context.iter().collect();
        pairs.sort_unstable();
        let mut body = String::from("{\"context\":{");
        for (i, (name, value)) in pairs.into_iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            push_json_string(&mut body, name);
            body.push(':');
            push_json_string(&mut body, value);
        }
        body.push_str("}}");
        let key = content_version(body.as_bytes()).into();
        ContextRequest { body, key }
    }
}

/// The body of the background thread: a single-threaded runtime making
/// every request.
pub(super) fn worker(
    options: RemoteOptions,
    endpoints: Endpoints,
    context: &OwnedContext,
    ready: &std_mpsc::SyncSender<Result<Arc<ClientShared>, Error>>,
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
        let Some((fetcher, shared)) = start(options, endpoints, context, ready).await else {
            return;
        };
        tokio::select! {
            // The last handle is gone: stop at once, whatever is in flight.
            _ = stop => {}
            () = fetcher.run(&shared, commands) => {}
        }
    });
}

/// The first answer, or the cache's for the same context.
async fn start(
    options: RemoteOptions,
    endpoints: Endpoints,
    context: &OwnedContext,
    ready: &std_mpsc::SyncSender<Result<Arc<ClientShared>, Error>>,
) -> Option<(Fetcher, Arc<ClientShared>)> {
    let client = match http_client(&options) {
        Ok(client) => client,
        Err(error) => {
            let _ = ready.send(Err(error));
            return None;
        }
    };
    let request = ContextRequest::of(context);
    let cache = options
        .cache_path
        .as_deref()
        .map(|path| (path, cache::read(path, &request.key)));
    let cached = match &cache {
        Some((_, CacheState::Usable(cached))) => Some(cached),
        _ => None,
    };
    let mut fetcher = Fetcher {
        client,
        endpoints,
        timeout: options.timeout,
        refresh_interval: options.refresh_interval,
        stream: options.stream,
        etag: cached.and_then(|c| c.etag.clone()),
        cache: options
            .cache_path
            .clone()
            .map(|path| CacheWriter::new(path, cached.map(|c| (request.key.as_str(), c)))),
        request,
        reported: None,
        served_announced: None,
    };

    let (answers, problem, body) = match (fetcher.post().await, &cache) {
        (
            Ok(Fetched::Body {
                answers,
                body,
                etag,
            }),
            _,
        ) => {
            fetcher.etag = etag;
            (answers, None, Some(body))
        }
        // Only sent with the cache's ETag, so the cache is usable.
        (Ok(Fetched::NotModified), _) => match cached {
            Some(cached) => (cached.answers.clone(), None, None),
            None => {
                let url = fetcher.endpoints.evaluate.as_str();
                let _ = ready.send(Err(Error::remote(url, "304 Not Modified without a cache")));
                return None;
            }
        },
        (Err(error), Some((path, state))) => match state {
            CacheState::Usable(cached) => {
                let text = error.to_string();
                let problem = format!("{text}\nserving the cached answers from {}", path.display());
                fetcher.reported = Some(text);
                (cached.answers.clone(), Some(problem), None)
            }
            CacheState::Missing => {
                let _ = ready.send(Err(error));
                return None;
            }
            CacheState::OtherContext => {
                let message = format!(
                    "{error}\nand the cache {} holds answers for another context",
                    path.display()
                );
                let _ = ready.send(Err(Error::remote(&options.url, message)));
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

    let fresh = problem.is_none();
    let shared = Arc::new(ClientShared::new(
        options.url,
        options.cache_path,
        match problem {
            None => Start::Fresh(Arc::new(answers)),
            Some(problem) => Start::Stale(Arc::new(answers), problem),
        },
    ));
    if fresh {
        shared.succeeded();
    }
    if let Some(body) = body {
        fetcher.write_cache(&shared, &body);
    }
    ready.send(Ok(Arc::clone(&shared))).ok()?;
    Some((fetcher, shared))
}

enum Fetched {
    NotModified,
    Body {
        answers: Answers,
        body: Vec<u8>,
        etag: Option<String>,
    },
}

/// Everything the background thread knows between requests.
struct Fetcher {
    client: reqwest::Client,
    endpoints: Endpoints,
    timeout: Duration,
    refresh_interval: Duration,
    stream: bool,
    /// The context asked about.
    request: ContextRequest,
    /// The server's ETag for the served answers (for this context).
    etag: Option<String>,
    cache: Option<CacheWriter>,
    /// The error last reported; `None` while healthy.
    reported: Option<String>,
    /// The version the stream announced before the last good answer,
    /// when the answer itself names none.
    served_announced: Option<String>,
}

impl Fetcher {
    /// Refreshes until the channel closes (the last handle is gone).
    async fn run(mut self, shared: &ClientShared, mut commands: mpsc::UnboundedReceiver<Command>) {
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
                    Some(Command::SetContext(context, reply)) => {
                        let _ = reply.send(self.set_context(shared, &context).await);
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

    /// True when the announced flag file `version` is the one the served
    /// answers were evaluated on.
    fn serves(&self, shared: &ClientShared, version: &str) -> bool {
        match shared.published.guard().server_version() {
            Some(served) => served == version,
            None => self.served_announced.as_deref() == Some(version),
        }
    }

    /// Asks about another context: its answers replace the served ones;
    /// when they cannot be had, no answers are served (every flag off)
    /// rather than another context's.
    async fn set_context(
        &mut self,
        shared: &ClientShared,
        context: &OwnedContext,
    ) -> Result<bool, Error> {
        let request = ContextRequest::of(context);
        if request.key == self.request.key {
            return self.refresh(shared).await;
        }
        self.request = request;
        self.etag = None;
        self.served_announced = None;
        let result = self.refresh(shared).await;
        if result.is_err() {
            shared.published.clear();
        }
        result
    }

    /// One request, applied: new answers are swapped in and cached; a bad
    /// answer is reported once.
    async fn refresh(&mut self, shared: &ClientShared) -> Result<bool, Error> {
        shared.published.attempted();
        let (outcome, body) = match self.post().await {
            Ok(Fetched::NotModified) => (Ok(None), None),
            Ok(Fetched::Body {
                answers,
                body,
                etag,
            }) => {
                self.etag = etag;
                self.served_announced = None;
                (Ok(Some(answers)), Some(body))
            }
            Err(error) => (Err(error), None),
        };
        let changed = shared.publish(&mut self.reported, outcome)?;
        if let Some(body) = body {
            self.write_cache(shared, &body);
        }
        Ok(changed)
    }

    /// `POST /ofrep/v1/evaluate/flags` for the context, parsed.
    async fn post(&self) -> Result<Fetched, Error> {
        let url = &self.endpoints.evaluate;
        let fail = |message: String| Error::remote(url.as_str(), message);
        let mut request = self
            .client
            .post(url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .body(self.request.body.clone());
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
            StatusCode::UNAUTHORIZED => {
                return Err(fail(format!(
                    "unexpected answer: HTTP {} (no token, or one the server does not know)",
                    StatusCode::UNAUTHORIZED
                )));
            }
            StatusCode::FORBIDDEN => {
                return Err(fail(format!(
                    "unexpected answer: HTTP {} (the token may not evaluate flags)",
                    StatusCode::FORBIDDEN
                )));
            }
            status => return Err(fail(format!("unexpected answer: HTTP {status}"))),
        }
        let etag = etag_of(&response);
        let body = read_body(response, url).await?;
        let answers = answers::parse(&body).map_err(|m| fail(format!("invalid answer: {m}")))?;
        Ok(Fetched::Body {
            answers,
            body,
            etag,
        })
    }

    fn write_cache(&mut self, shared: &ClientShared, body: &[u8]) {
        if let Some(cache) = &mut self.cache {
            let version = shared.published.guard().version().to_owned();
            let result = cache.write(&self.request.key, &version, body, self.etag.as_deref());
            shared.published.cache_written(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_request_is_sorted_and_escaped() {
        let a: OwnedContext = [("user_id", "42"), ("tenant", "a\"c")]
            .into_iter()
            .collect();
        let b: OwnedContext = [("tenant", "a\"c"), ("user_id", "42")]
            .into_iter()
            .collect();
        let (ra, rb) = (ContextRequest::of(&a), ContextRequest::of(&b));
        assert_eq!(ra.body, r#"{"context":{"tenant":"a\"c","user_id":"42"}}"#);
        assert_eq!(ra.key, rb.key);
        let c: OwnedContext = [("user_id", "43")].into_iter().collect();
        assert_ne!(ContextRequest::of(&c).key, ra.key);
        assert_eq!(
            ContextRequest::of(&OwnedContext::new()).body,
            r#"{"context":{}}"#
        );
    }
}
