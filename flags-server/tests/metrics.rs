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

#[tokio::test]
async fn regression_labels_of_removed_flags_are_dropped_after_a_reload() {
    let path = temp_file("removed", FILE);
    let (state, source) = state(&path, Config::default());
    let (status, _) = call(
        &state,
        post(
            "/v1/evaluate",
            r#"{"context": {"user_id": "7"}, "flags": ["half", "all", "gone"]}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&state, post("/ofrep/v1/evaluate/flags/half", "{}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics(&state).await;
    for flag in ["half", "all", "(unknown)"] {
        assert!(
            text.contains(&format!("flags_evaluations_total{{flag=\"{flag}\",")),
            "no evaluations of {flag} in:\n{text}"
        );
    }

    // `half` leaves the file: its counters go with it, the others stay.
    std::fs::write(
        &path,
        r#"{"version": 1, "flags": {"all": {"percentage": 100}}}"#,
    )
    .expect("write");
    assert!(source.reload_now().expect("valid file"));
    let text = metrics(&state).await;
    assert!(!text.contains("flag=\"half\""), "{text}");
    assert!(
        text.lines().any(|l| l
            == "flags_evaluations_total{flag=\"all\",reason=\"ROLLOUT_IN\",enabled=\"true\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("flags_evaluations_total{flag=\"(unknown)\","),
        "{text}"
    );

    // Evaluated again once it is back, it starts from zero.
    std::fs::write(&path, FILE).expect("write");
    assert!(source.reload_now().expect("valid file"));
    let (status, _) = call(&state, post("/ofrep/v1/evaluate/flags/half", "{}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics(&state).await;
    let half: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("flag=\"half\""))
        .collect();
    assert_eq!(
        half,
        [
            "flags_evaluations_total{flag=\"half\",reason=\"MISSING_BUCKET_KEY\",enabled=\"false\"} 1"
        ],
        "{text}"
    );
}
