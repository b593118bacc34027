//! What `/metrics` counts, in-process through `app(state)`.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use flags_core::watch::{FileSource, WatchOptions};
use flags_server::server::{AppState, Config, app};
use tower::ServiceExt;

const FILE: &str = r#"{
  "version": 1,
  "flags": {
    "half": {"percentage": 50},
    "all": {"percentage": 100}
  }
}"#;

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flags-server-metrics-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("flags.json");
    std::fs::write(&path, content).expect("write");
    path
}

/// A state over `path` that reloads only when the test says so.
fn state(path: &PathBuf, config: Config) -> (AppState, FileSource) {
    let options = WatchOptions {
        watch_events: false,
        poll_interval: Duration::ZERO,
        ..WatchOptions::default()
    };
    let source = FileSource::open(path, options).expect("valid file");
    (AppState::new(source.clone(), config), source)
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request")
}

async fn metrics(state: &AppState) -> String {
    let (status, text) = call(
        state,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    text
}

#[tokio::test]
async fn regression_a_request_that_times_out_is_counted() {
    let path = temp_file("timeout", FILE);
    let (state, _source) = state(
        &path,
        Config {
            request_timeout: Duration::from_millis(200),
            ..Config::default()
        },
    );
    // A body that never ends: the timeout layer answers 408.
    let never = Body::from_stream(tokio_stream::pending::<
        Result<axum::body::Bytes, std::io::Error>,
    >());
    let (status, _) = call(&state, post("/v1/evaluate", never)).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    let (status, _) = call(&state, post("/v1/evaluate", "{}")).await;
    assert_eq!(status, StatusCode::OK);

    let text = metrics(&state).await;
    for line in [
        "flags_http_requests_total{route=\"/v1/evaluate\",status=\"408\"} 1",
        "flags_http_requests_total{route=\"/v1/evaluate\",status=\"200\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
}
