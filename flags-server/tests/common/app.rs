//! The HTTP API in-process, through `app(state)` and tower's `oneshot`:
//! shared by `server.rs` and `server_errors.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use flags_core::watch::{FileSource, WatchOptions};
use flags_server::server::{AppState, Config, app};
use serde_json::Value;
use tower::ServiceExt;

pub const FILE: &str = r#"{
  "version": 1,
  "pilots": {"user_id": ["1"]},
  "flags": {
    "half": {"percentage": 50},
    "all": {"percentage": 100, "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]},
    "killed": {"killed": true, "percentage": 100},
    "gated": {"requires": [{"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"}], "percentage": 100},
    "by_tenant": {"bucket_by": "tenant_id", "percentage": 30}
  }
}"#;

pub fn temp_file(content: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "flags-server-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("flags.json");
    std::fs::write(&path, content).expect("write");
    path
}

pub fn state_with(content: &str, tokens: &[&str]) -> (AppState, FileSource, PathBuf) {
    state_watching(content, tokens, false)
}

pub fn state_watching(
    content: &str,
    tokens: &[&str],
    watch: bool,
) -> (AppState, FileSource, PathBuf) {
    let path = temp_file(content);
    // In-process tests reload explicitly (reload_now) so nothing races them;
    // the end-to-end test below turns the watcher on.
    let options = if watch {
        WatchOptions::default()
    } else {
        WatchOptions {
            watch_events: false,
            poll_interval: Duration::ZERO,
            ..WatchOptions::default()
        }
    };
    let source = FileSource::open(&path, options).expect("valid file");
    let state = AppState::new(
        source.clone(),
        Config {
            tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
            targeting_key: "user_id".to_owned(),
            ..Config::default()
        },
    );
    (state, source, path)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Asserts an error answer of the flags API: `status`, a JSON content
/// type and `{"error": "..."}` alone; returns the message.
pub fn json_error(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    let body = reply.json();
    let fields: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(fields, ["error"], "{body}");
    body["error"].as_str().expect("a message").to_owned()
}

/// Asserts an OFREP error answer: `status`, a JSON content type and
/// `{"errorCode", "errorDetails"}` (and `key` when known); returns the
/// details.
pub fn ofrep_error(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    let body = reply.json();
    assert!(body["errorCode"].is_string(), "{body}");
    assert!(
        body.as_object()
            .expect("an object")
            .keys()
            .all(|k| ["key", "errorCode", "errorDetails"].contains(&k.as_str())),
        "{body}"
    );
    body["errorDetails"].as_str().expect("details").to_owned()
}

pub async fn call(state: &AppState, request: Request<Body>) -> Reply {
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

pub fn post(uri: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .expect("request")
}

pub fn assert_metrics(metrics: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            metrics.lines().any(|l| l == *line),
            "missing {line:?} in:\n{metrics}"
        );
    }
}

pub fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
        .parse()
        .expect("a number")
}

pub fn state_with_config(content: &str, config: Config) -> AppState {
    let source = FileSource::open(
        temp_file(content),
        WatchOptions {
            watch_events: false,
            poll_interval: Duration::ZERO,
            ..WatchOptions::default()
        },
    )
    .expect("valid file");
    AppState::new(source, config)
}
