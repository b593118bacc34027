//! The client mode (`ClientSource`) against a small OFREP server written
//! here with `std::net`, which evaluates with this crate exactly as
//! `flags serve` does: the bulk answer for the posted context, an ETag
//! over the file version, the request and the answer (so that a ramp moves
//! it), `304` for a matching `If-None-Match`, `/v1/stream` version events,
//! and `403` on `/v1/flags` for its `client`-scoped token.
//!
//! The server evaluates at a time the test sets: a ramp moves while the
//! file stays the same, as it does on a real server as time passes.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use flags_core::remote::{ClientSource, ReloadEvent, RemoteOptions, RemoteSource, Value};
use flags_core::{OwnedContext, Reason, Snapshot, Timestamp};

const DEADLINE: Duration = Duration::from_secs(20);
const TOKEN: &str = "app-token";

/// `beta`: only pilot user 7. `theme`: everyone, variant by bucket.
/// `ramped`: 0% until the ramp's first point, 100% from the second.
const FILE: &str = r#"{"version": 1, "flags": {
  "beta": {"pilots": {"user_id": ["7"]}},
  "theme": {"percentage": 100, "variants": [{"name": "dark", "weight": 100}]},
  "ramped": {"ramp": [{"at": "2026-01-01T00:00:00Z", "percentage": 0},
                      {"at": "2026-01-02T00:00:00Z", "percentage": 100}]}
}}"#;
const BEFORE_RAMP: &str = "2026-01-01T00:00:00Z";
const AFTER_RAMP: &str = "2026-01-03T00:00:00Z";

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn user(id: &str) -> OwnedContext {
    [("user_id", id)].into_iter().collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    /// 500.
    Error,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with an answer lacking `reason`.
    MissingField,
    /// Closes every connection without answering.
    Down,
}

struct State {
    mode: Mode,
    snapshot: Snapshot,
    now: Timestamp,
    streams: Vec<TcpStream>,
    evaluations: usize,
    not_modified: usize,
    stream_connections: usize,
    /// Request bodies of the bulk evaluations, in order.
    bodies: Vec<String>,
    paths: Vec<String>,
}

#[derive(Clone)]
struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = Server {
            addr: listener.local_addr().expect("address"),
            state: Arc::new(Mutex::new(State {
                mode: Mode::Normal,
                snapshot: Snapshot::from_slice(FILE.as_bytes()).expect("valid"),
                now: Timestamp::parse_rfc3339(BEFORE_RAMP).expect("valid time"),
                streams: Vec::new(),
                evaluations: 0,
                not_modified: 0,
                stream_connections: 0,
                bodies: Vec::new(),
                paths: Vec::new(),
            })),
        };
        let accepting = server.clone();
        thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let server = accepting.clone();
                thread::spawn(move || server.serve(connection));
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    fn set_now(&self, time: &str) {
        self.state().now = Timestamp::parse_rfc3339(time).expect("valid time");
    }

    /// Serves `file` from now on and announces its version on every stream.
    fn set_file(&self, file: &str) {
        let mut state = self.state();
        state.snapshot = Snapshot::from_slice(file.as_bytes()).expect("valid");
        let event = format!(
            "event: version\ndata: {{\"version\":\"{}\"}}\n\n",
            state.snapshot.version()
        );
        state.streams.retain_mut(|s| {
            s.write_all(event.as_bytes())
                .and_then(|()| s.flush())
                .is_ok()
        });
    }

    fn evaluations(&self) -> usize {
        self.state().evaluations
    }

    fn serve(&self, mut connection: TcpStream) {
        let _ = connection.set_read_timeout(Some(Duration::from_secs(10)));
        let Some((method, path, headers, body)) = read_request(&connection) else {
            return;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut state = self.state();
        if state.mode == Mode::Down {
            return;
        }
        state.paths.push(path.clone());
        if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
            respond(&mut connection, "401 Unauthorized", &[], b"{}");
            return;
        }
        if path == "/v1/flags" {
            // The token has the `client` scope.
            respond(&mut connection, "403 Forbidden", &[], b"{}");
            return;
        }
        if path == "/v1/stream" {
            state.stream_connections += 1;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            let first = format!(
                "event: version\ndata: {{\"version\":\"{}\"}}\n\n",
                state.snapshot.version()
            );
            if connection.write_all(head.as_bytes()).is_err()
                || connection.write_all(first.as_bytes()).is_err()
            {
                return;
            }
            let Ok(pusher) = connection.try_clone() else {
                return;
            };
            state.streams.push(pusher);
            drop(state);
            let _ = connection.set_read_timeout(None);
            let mut sink = [0u8; 64];
            while matches!(connection.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        if method != "POST" || path != "/ofrep/v1/evaluate/flags" {
            respond(&mut connection, "404 Not Found", &[], b"{}");
            return;
        }
        state.evaluations += 1;
        state.bodies.push(body.clone());
        match state.mode {
            Mode::Error => {
                return respond(&mut connection, "500 Internal Server Error", &[], b"oops");
            }
            Mode::Garbage => return respond(&mut connection, "200 OK", &[], b"<html>"),
            Mode::MissingField => {
                let answer = br#"{"flags": [{"key": "beta", "value": true}]}"#;
                return respond(&mut connection, "200 OK", &[], answer);
            }
            Mode::Normal | Mode::Down => {}
        }
        let request: serde_json::Value = serde_json::from_str(&body).expect("a JSON request");
        let context = OwnedContext::from_json(&request["context"].to_string()).expect("a context");
        let context = context.as_context();
        let snapshot = &state.snapshot;
        let flags: Vec<serde_json::Value> = snapshot
            .evaluate_all(&context, state.now)
            .map(|(key, result)| {
                let mut metadata = serde_json::json!({
                    "flagsReason": result.reason.as_str(),
                    "version": snapshot.version(),
                });
                if let Some(bucket) = result.bucket {
                    metadata["bucket"] = bucket.into();
                }
                if let Some(variant) = result.variant {
                    metadata["flagsVariant"] = variant.into();
                }
                serde_json::json!({
                    "key": key,
                    "value": result.enabled,
                    "reason": if result.enabled { "SPLIT" } else { "DEFAULT" },
                    "variant": result.variant.unwrap_or(if result.enabled { "on" } else { "off" }),
                    "metadata": metadata,
                })
            })
            .collect();
        let answer = serde_json::json!({ "flags": flags }).to_string();
        let mut hasher = DefaultHasher::new();
        for part in [snapshot.version(), &body, &answer] {
            hasher.write_usize(part.len());
            hasher.write(part.as_bytes());
        }
        let etag = format!("\"{:016x}\"", hasher.finish());
        if header("if-none-match").as_deref() == Some(&*etag) {
            state.not_modified += 1;
            respond(&mut connection, "304 Not Modified", &[("etag", &etag)], b"");
        } else {
            respond(
                &mut connection,
                "200 OK",
                &[("etag", &etag)],
                answer.as_bytes(),
            );
        }
    }
}

type Request = (String, String, Vec<(String, String)>, String);

/// The method, path, headers and body of one request.
fn read_request(connection: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(connection);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, headers, String::from_utf8(body).ok()?))
}

fn respond(connection: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let _ = connection.write_all(head.as_bytes());
    let _ = connection.write_all(body);
}

/// Options with the client token that never refresh on their own.
fn quiet(server: &Server) -> RemoteOptions {
    let mut options = RemoteOptions::new(server.url());
    options.token = Some(TOKEN.to_owned());
    options.refresh_interval = Duration::from_secs(3600);
    options.stream = false;
    options.timeout = Duration::from_secs(5);
    options
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn answers_for_the_context_then_304_while_unchanged() {
    let server = Server::start();
    let pilot = ClientSource::open(quiet(&server), user("7")).expect("opens");
    let other = ClientSource::open(quiet(&server), user("8")).expect("opens");
    assert!(pilot.is_enabled("beta"));
    assert!(!other.is_enabled("beta"));
    assert!(!pilot.is_enabled("no_such_flag"));
    assert_eq!(pilot.variant("theme").as_deref(), Some("dark"));
    let answer = pilot.evaluate("beta").expect("answered");
    assert_eq!(answer.value, Value::Bool(true));
    assert_eq!(answer.flags_reason, Some(Reason::Pilot));
    assert_eq!(
        other.evaluate("beta").map(|a| a.flags_reason),
        Some(Some(Reason::RolloutOut))
    );
    assert_eq!(pilot.answers().len(), 3);
    assert_eq!(
        server.state().bodies[0],
        r#"{"context":{"user_id":"7"}}"#,
        "the context is posted"
    );

    let status = pilot.status();
    assert!(status.healthy && !status.stale && status.last_error.is_none());
    assert_eq!(
        status.version.len(),
        32,
        "a content hash: {}",
        status.version
    );
    assert!(pilot.last_success_at().is_some());

    // Unchanged: the ETag makes it a 304, and nothing is swapped.
    assert_eq!(pilot.refresh_now().map_err(|e| e.to_string()), Ok(false));
    assert_eq!(server.state().not_modified, 1);
    assert_eq!(pilot.generation(), 0);
    assert_eq!(pilot.status().version, status.version);
}

#[test]
fn a_client_token_is_enough_while_the_file_source_gets_403() {
    let server = Server::start();
    let client = ClientSource::open(quiet(&server), user("7")).expect("opens");
    assert!(client.is_enabled("beta"));
    assert!(
        !server.state().paths.iter().any(|p| p == "/v1/flags"),
        "{:?}",
        server.state().paths
    );
    // What the flag-file source would have met with this token.
    let mut options = RemoteOptions::new(server.url());
    options.token = Some(TOKEN.to_owned());
    options.stream = false;
    let error = RemoteSource::open(options).expect_err("403");
    assert!(error.to_string().contains("403"), "{error}");

    // Without the token, the server refuses, and the error says how.
    let mut options = quiet(&server);
    options.token = None;
    let error = ClientSource::open(options, user("7")).expect_err("401");
    assert!(error.is_remote());
    assert!(
        error.to_string().contains(
            "ofrep/v1/evaluate/flags: unexpected answer: HTTP 401 Unauthorized \
             (no token, or one the server does not know)"
        ),
        "{error}"
    );
}

#[test]
fn the_interval_moves_a_ramp_with_no_file_change() {
    let server = Server::start();
    let mut options = quiet(&server);
    options.refresh_interval = Duration::from_millis(100);
    let client = ClientSource::open(options, user("42")).expect("opens");
    assert!(!client.is_enabled("ramped"));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    client.on_event(move |e| sink.lock().expect("not poisoned").push(e.clone()));
    // Unchanged answers cost 304s.
    wait_until("a 304", || server.state().not_modified >= 1);
    assert!(!client.is_enabled("ramped"));

    server.set_now(AFTER_RAMP);
    wait_until("the ramp to reach the client", || {
        client.is_enabled("ramped")
    });
    assert!(client.generation() >= 1);
    let events = events.lock().expect("not poisoned").clone();
    assert!(
        events.iter().any(|e| matches!(e,
            ReloadEvent::Reloaded { changes, .. } if changes.changed == ["ramped"])),
        "{events:?}"
    );
}

#[test]
fn a_stream_event_asks_at_once() {
    let server = Server::start();
    let mut options = quiet(&server);
    options.stream = true;
    let client = ClientSource::open(options, user("8")).expect("opens");
    wait_until("the stream", || server.state().stream_connections == 1);
    assert!(!client.is_enabled("beta"));
    server.set_file(r#"{"version": 1, "flags": {"beta": {"percentage": 100}}}"#);
    wait_until("the new answer", || client.is_enabled("beta"));
    assert!(
        client.evaluate("theme").is_none(),
        "the removed flag is gone"
    );
    // The open, then the announced version; the version announced on
    // connecting was the one served and asked nothing.
    assert_eq!(server.evaluations(), 2);
}

#[test]
fn bad_answers_keep_the_last_good_answers_and_are_reported_once() {
    let server = Server::start();
    let client = ClientSource::open(quiet(&server), user("7")).expect("opens");
    let version = client.status().version;
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    client.on_event(move |e| sink.lock().expect("not poisoned").push(e.clone()));
    for (mode, expected) in [
        (
            Mode::Error,
            "unexpected answer: HTTP 500 Internal Server Error",
        ),
        (
            Mode::Garbage,
            "invalid answer: the answer is not JSON: line 1, column 1",
        ),
        (
            Mode::MissingField,
            "invalid answer: flags[0] (\"beta\"): missing field \"reason\"",
        ),
        (Mode::Down, "cannot fetch"),
    ] {
        server.set_mode(mode);
        let failures = client.status().failures;
        for _ in 0..2 {
            let error = client.refresh_now().expect_err("a bad answer");
            assert!(error.to_string().contains(expected), "{mode:?}: {error}");
        }
        let status = client.status();
        assert!(!status.healthy);
        assert!(
            status
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains(expected)),
            "{status:?}"
        );
        assert_eq!(status.failures, failures + 1, "{mode:?}: reported once");
        assert!(client.is_enabled("beta"), "{mode:?}: the last good answers");
        assert_eq!(status.version, version);
    }
    server.set_mode(Mode::Normal);
    assert_eq!(client.refresh_now().map_err(|e| e.to_string()), Ok(false));
    let status = client.status();
    assert!(status.healthy && status.last_error.is_none());
    let failed = events
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|e| matches!(e, ReloadEvent::Failed { .. }))
        .count();
    assert_eq!(failed, 4);
}

#[test]
fn an_offline_start_serves_the_cache_of_the_same_context_only() {
    let server = Server::start();
    let dir = temp_dir();
    let cache = dir.path().join("client.json");
    let mut options = quiet(&server);
    options.cache_path = Some(cache.clone());
    drop(ClientSource::open(options.clone(), user("7")).expect("opens"));
    let text = std::fs::read_to_string(&cache).expect("the cache is written");
    let document: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert!(document["etag"].is_string(), "{text}");
    assert!(document["answer"]["flags"].is_array(), "{text}");

    // Online with the cache: its ETag makes the open a 304.
    drop(ClientSource::open(options.clone(), user("7")).expect("opens"));
    assert_eq!(server.state().not_modified, 1);

    server.set_mode(Mode::Down);
    let client = ClientSource::open(options.clone(), user("7")).expect("starts from the cache");
    assert!(client.is_enabled("beta"));
    let status = client.status();
    assert!(!status.healthy && status.stale);
    let why = status.last_error.unwrap_or_default();
    assert!(why.contains("serving the cached answers from"), "{why}");
    assert!(client.last_success_at().is_none());

    // Another user never gets user 7's answers.
    let error = ClientSource::open(options.clone(), user("8")).expect_err("another context");
    assert!(
        error
            .to_string()
            .contains("holds answers for another context"),
        "{error}"
    );
    // Nor does anyone without a cache.
    let mut no_cache = options;
    no_cache.cache_path = Some(dir.path().join("none.json"));
    assert!(ClientSource::open(no_cache, user("7")).is_err());

    // Back online, the cached answers are confirmed.
    server.set_mode(Mode::Normal);
    assert_eq!(client.refresh_now().map_err(|e| e.to_string()), Ok(false));
    let status = client.status();
    assert!(status.healthy && !status.stale);
}

#[test]
fn set_context_asks_for_the_new_context_and_moves_the_cache() {
    let server = Server::start();
    let dir = temp_dir();
    let mut options = quiet(&server);
    options.cache_path = Some(dir.path().join("client.json"));
    let client = ClientSource::open(options.clone(), user("7")).expect("opens");
    assert!(client.is_enabled("beta"));

    assert_eq!(
        client.set_context(user("8")).map_err(|e| e.to_string()),
        Ok(true)
    );
    assert!(!client.is_enabled("beta"));
    assert_eq!(
        server.state().bodies.last().map(String::as_str),
        Some(r#"{"context":{"user_id":"8"}}"#)
    );
    // The same context again is a plain refresh: a 304.
    assert_eq!(
        client.set_context(user("8")).map_err(|e| e.to_string()),
        Ok(false)
    );
    assert_eq!(server.state().not_modified, 1);

    // The cache now answers for user 8, not user 7.
    server.set_mode(Mode::Down);
    assert!(ClientSource::open(options.clone(), user("7")).is_err());
    let offline = ClientSource::open(options, user("8")).expect("user 8's cache");
    assert!(!offline.is_enabled("beta") && offline.evaluate("theme").is_some());

    // With the server down, a new context gets no answers rather than the
    // old context's.
    let error = client
        .set_context(user("7"))
        .expect_err("the server is down");
    assert!(error.is_remote());
    assert!(client.answers().is_empty());
    assert!(!client.is_enabled("theme"));
    assert!(!client.status().healthy);
    server.set_mode(Mode::Normal);
    assert_eq!(client.refresh_now().map_err(|e| e.to_string()), Ok(true));
    assert!(client.is_enabled("beta"));
    assert!(client.status().healthy);
}

#[test]
fn blocking_calls_are_refused_inside_a_callback() {
    let server = Server::start();
    let mut options = quiet(&server);
    options.refresh_interval = Duration::from_millis(50);
    let client = ClientSource::open(options, user("7")).expect("opens");
    let seen = Arc::new(Mutex::new(None));
    let (sink, inner) = (Arc::clone(&seen), client.clone());
    client.on_event(move |_| {
        let refused = inner.refresh_now().map_err(|e| e.to_string());
        *sink.lock().expect("not poisoned") = Some(refused);
    });
    server.set_now(AFTER_RAMP);
    wait_until("a callback", || {
        seen.lock().expect("not poisoned").is_some()
    });
    let refused = seen.lock().expect("not poisoned").take();
    assert!(
        matches!(&refused, Some(Err(e)) if e.contains("cannot be called from an event callback")),
        "{refused:?}"
    );
}

#[test]
fn invalid_options_are_refused_before_any_request() {
    let context = user("7");
    for (url, timeout, expected) in [
        (
            "ftp://h/",
            Duration::from_secs(1),
            "expected an http or https URL",
        ),
        (
            "http://127.0.0.1:9/",
            Duration::ZERO,
            "the timeout must not be zero",
        ),
    ] {
        let mut options = RemoteOptions::new(url);
        options.timeout = timeout;
        let error = ClientSource::open(options, context.clone()).expect_err(url);
        assert!(error.is_invalid_option(), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}
