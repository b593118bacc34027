//! A bad context reads the same wherever it is sent: `flags eval`'s error
//! line, `POST /v1/evaluate`'s error and OFREP's `errorDetails` name every
//! bad attribute by the same path after `context`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use flags_core::watch::{FileSource, WatchOptions};
use flags_server::server::{AppState, Config, app};
use serde_json::Value;
use tower::ServiceExt;

const FILE: &str = r#"{"version": 1, "flags": {"a": {"percentage": 100}}}"#;

/// Contexts and what every command says about them (after
/// `invalid request: ` where the command says that).
const CASES: &[(&str, &str)] = &[
    (
        r#"{"user_id": 1.5}"#,
        "context.user_id: expected a string, an integer, a boolean or null, found the number 1.5",
    ),
    (
        r#"{"a.b": [1]}"#,
        r#"context["a.b"]: expected a string, an integer, a boolean or null, found a list"#,
    ),
    (
        r#"{"": "x"}"#,
        r#"context[""]: attribute names must not be empty"#,
    ),
    (
        r#"{"a.b": [1], "": "x", "ok": {}}"#,
        r#"context["a.b"]: expected a string, an integer, a boolean or null, found a list; context[""]: attribute names must not be empty; context.ok: expected a string, an integer, a boolean or null, found an object"#,
    ),
    (
        r#"[["\ud800"]]"#,
        r"context[0][0]: invalid \u escape: a lone UTF-16 surrogate is not a character",
    ),
    (
        r#"{"a": 1, "a": 2}"#,
        "context.a: duplicate attribute (first at line 1, column 2)",
    ),
    (
        "[1]",
        "context: expected an object of attributes, found a list",
    ),
];

fn flag_file() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-context-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("flags.json");
    std::fs::write(&path, FILE).expect("write");
    path
}

/// `flags eval`'s error for each context, in order.
fn eval_errors(file: &PathBuf) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(["eval", "--file"])
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flags runs");
    let mut input = String::new();
    for (context, _) in CASES {
        input.push_str(&format!("{{\"flag\": \"a\", \"context\": {context}}}\n"));
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("flags ends");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    stdout
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let answer: Value = serde_json::from_str(line).expect("a JSON line");
            assert_eq!(answer["line"], i + 1, "{line}");
            answer["error"].as_str().expect("an error line").to_owned()
        })
        .collect()
}

async fn post(state: &AppState, uri: &str, body: String) -> (StatusCode, Value) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

#[tokio::test]
async fn flags_eval_and_the_server_word_context_errors_alike() {
    let file = flag_file();
    let from_eval = eval_errors(&file);
    assert_eq!(from_eval.len(), CASES.len(), "{from_eval:?}");

    let options = WatchOptions {
        watch_events: false,
        poll_interval: Duration::ZERO,
        ..WatchOptions::default()
    };
    let source = FileSource::open(&file, options).expect("valid file");
    let state = AppState::new(source, Config::default());
    for ((context, expected), eval) in CASES.iter().zip(&from_eval) {
        let expected_request = format!("invalid request: {expected}");
        assert_eq!(eval, &expected_request, "flags eval, context {context}");

        let (status, body) = post(
            &state,
            "/v1/evaluate",
            format!("{{\"context\": {context}}}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], expected_request.as_str(), "/v1/evaluate");

        for uri in ["/ofrep/v1/evaluate/flags/a", "/ofrep/v1/evaluate/flags"] {
            let (status, body) = post(&state, uri, format!("{{\"context\": {context}}}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["errorCode"], "INVALID_CONTEXT", "{uri}: {body}");
            assert_eq!(body["errorDetails"], *expected, "{uri}");
        }
    }
}
