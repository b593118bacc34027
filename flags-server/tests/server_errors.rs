//! The HTTP API's edges, in-process: every error in its API's shape,
//! bodies, bounded answers, what open endpoints say, and health while a big
//! file renders.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::app::*;
use flags_server::server::{Config, serve};
use serde_json::json;

#[tokio::test]
async fn every_error_is_json_in_the_shape_of_its_api() {
    let (state, _, _) = state_with(FILE, &[]);
    let big = format!(r#"{{"context": {{"user_id": "{}"}}}}"#, "x".repeat(100_000));

    // 413: over the body limit.
    let reply = call(&state, post("/v1/evaluate", big.clone())).await;
    assert_eq!(
        json_error(&reply, StatusCode::PAYLOAD_TOO_LARGE),
        "the request body is larger than the limit of 65536 bytes"
    );
    for uri in ["/ofrep/v1/evaluate/flags/half", "/ofrep/v1/evaluate/flags"] {
        let reply = call(&state, post(uri, big.clone())).await;
        assert_eq!(
            ofrep_error(&reply, StatusCode::PAYLOAD_TOO_LARGE),
            "the request body is larger than the limit of 65536 bytes"
        );
        assert_eq!(reply.json()["errorCode"], "GENERAL");
    }

    // 405, with the methods that are allowed.
    let reply = call(&state, get("/v1/evaluate")).await;
    assert_eq!(
        json_error(&reply, StatusCode::METHOD_NOT_ALLOWED),
        "GET is not allowed here; the Allow header lists the methods that are"
    );
    assert_eq!(reply.header(header::ALLOW), Some("POST"));
    let reply = call(&state, post("/healthz", "")).await;
    assert_eq!(
        json_error(&reply, StatusCode::METHOD_NOT_ALLOWED),
        "POST is not allowed here; the Allow header lists the methods that are"
    );
    assert_eq!(reply.header(header::ALLOW), Some("GET,HEAD"));
    let reply = call(&state, get("/ofrep/v1/evaluate/flags/half")).await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::METHOD_NOT_ALLOWED),
        "GET is not allowed here; the Allow header lists the methods that are"
    );
    assert_eq!(reply.header(header::ALLOW), Some("POST"));

    // 404: unknown paths, in each API's shape.
    let reply = call(&state, get("/nope")).await;
    assert_eq!(
        json_error(&reply, StatusCode::NOT_FOUND),
        "no such endpoint"
    );
    let reply = call(&state, post("/ofrep/v1/evaluate/flag", "{}")).await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::NOT_FOUND),
        "no such endpoint"
    );
    assert_eq!(reply.json()["errorCode"], "GENERAL");

    // 400: a flag key that is not UTF-8 once percent-decoded.
    let reply = call(&state, post("/ofrep/v1/evaluate/flags/%FF%FE", "{}")).await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::BAD_REQUEST),
        "the flag key in the path is not UTF-8 once percent-decoded"
    );
    assert_eq!(reply.json()["errorCode"], "PARSE_ERROR");
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_a_json_408() {
    let state = state_with_config(
        FILE,
        Config {
            request_timeout: Duration::from_millis(200),
            ..Config::default()
        },
    );
    // A body that never ends: the handler waits for it until the timeout.
    let never = || {
        Body::from_stream(tokio_stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >())
    };
    let request = |uri: &str| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(never())
            .expect("request")
    };
    let reply = call(&state, request("/v1/evaluate")).await;
    assert_eq!(
        json_error(&reply, StatusCode::REQUEST_TIMEOUT),
        "the request did not complete in time"
    );
    let reply = call(&state, request("/ofrep/v1/evaluate/flags")).await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::REQUEST_TIMEOUT),
        "the request did not complete in time"
    );
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let (state, _, _) = state_with(FILE, &[]);
    for (body, found) in [
        ("[]", "a list"),
        (r#"[{"user_id":42},["x"]]"#, "a list"),
        (r#""{}""#, "a string"),
        ("null", "null"),
        ("7", "a number"),
    ] {
        let reply = call(&state, post("/v1/evaluate", body)).await;
        assert_eq!(
            json_error(&reply, StatusCode::BAD_REQUEST),
            format!(
                "invalid request: the body must be a JSON object like \
                 {{\"context\": {{...}}}}, found {found}"
            ),
            "{body}"
        );
        for uri in ["/ofrep/v1/evaluate/flags/half", "/ofrep/v1/evaluate/flags"] {
            let reply = call(&state, post(uri, body)).await;
            assert_eq!(
                ofrep_error(&reply, StatusCode::BAD_REQUEST),
                format!(
                    "invalid request body: the body must be a JSON object like \
                     {{\"context\": {{...}}}}, found {found}"
                ),
                "{uri} {body}"
            );
            assert_eq!(reply.json()["errorCode"], "PARSE_ERROR");
        }
    }
    // An empty OFREP body is still an empty context.
    let reply = call(&state, post("/ofrep/v1/evaluate/flags", "")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn one_request_cannot_ask_for_a_huge_answer() {
    let (state, _, _) = state_with(FILE, &[]);

    // The issue's first case: 16,000 unknown flags in 64 KiB (repeats
    // count: every name gets its result).
    let names: Vec<String> = (0..16_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8).to_string())
        .collect();
    let body = json!({ "flags": names }).to_string();
    assert!(body.len() <= 64 * 1024, "{}", body.len());
    let reply = call(&state, post("/v1/evaluate", body)).await;
    assert_eq!(
        json_error(&reply, StatusCode::BAD_REQUEST),
        "invalid request: `flags` names 16000 flags, more than the 1000 one request may \
         name; omit `flags` to evaluate every flag"
    );
    // At the cap, the answer is a result per name, nothing more.
    let names: Vec<String> = (0..1000).map(|i| format!("missing_{i}")).collect();
    let reply = call(
        &state,
        post("/v1/evaluate", json!({ "flags": names }).to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["results"].as_array().expect("results").len(),
        1000
    );

    // The issue's second case: 5,500 bad attributes.
    let attributes: Vec<String> = (0..5500).map(|i| format!(r#""{i:x}":[]"#)).collect();
    let body = format!(r#"{{"context":{{{}}}}}"#, attributes.join(","));
    assert!(body.len() <= 64 * 1024, "{}", body.len());
    for (uri, ofrep) in [
        ("/v1/evaluate", false),
        ("/ofrep/v1/evaluate/flags", true),
        ("/ofrep/v1/evaluate/flags/half", true),
    ] {
        let reply = call(&state, post(uri, body.clone())).await;
        let message = if ofrep {
            ofrep_error(&reply, StatusCode::BAD_REQUEST)
        } else {
            json_error(&reply, StatusCode::BAD_REQUEST)
        };
        assert!(reply.body.len() < 2048, "{uri}: {} bytes", reply.body.len());
        assert!(
            message.contains(
                "context.0: expected a string, an integer, a boolean or null, found a list; "
            ),
            "{message}"
        );
        assert!(message.contains("context.9: "), "{message}");
        assert!(!message.contains("context.a: "), "{message}");
        assert!(message.ends_with("; and 5490 more"), "{message}");
    }

    // Echoed names and values are cut short.
    let long = "n".repeat(30_000);
    let body = json!({ "context": { long.clone(): 1.5 } }).to_string();
    let message = json_error(
        &call(&state, post("/v1/evaluate", body)).await,
        StatusCode::BAD_REQUEST,
    );
    assert!(message.len() < 300, "{message}");
    assert!(
        message.starts_with("invalid request: context.nnn"),
        "{message}"
    );
    let number = format!("1.{}", "5".repeat(30_000));
    let body = format!(r#"{{"context": {{"user_id": {number}}}}}"#);
    let message = json_error(
        &call(&state, post("/v1/evaluate", body)).await,
        StatusCode::BAD_REQUEST,
    );
    assert!(message.len() < 300, "{message}");
    let reply = call(
        &state,
        post(
            &format!("/ofrep/v1/evaluate/flags/{}", "k".repeat(5000)),
            "{}",
        ),
    )
    .await;
    let details = ofrep_error(&reply, StatusCode::NOT_FOUND);
    assert!(details.len() < 200, "{details}");
    assert_eq!(reply.json()["key"], "k".repeat(5000));
}

#[tokio::test]
async fn open_endpoints_say_nothing_about_the_file() {
    let (state, source, path) = state_with(FILE, &["s3cret"]);
    let good = source.snapshot().version().to_owned();
    // An e-mail address pasted where a version belongs.
    std::fs::write(
        &path,
        FILE.replace(
            "\"value\": \"3.2.0\"",
            "\"value\": \"jane.doe@example.com\"",
        ),
    )
    .expect("write");
    assert!(source.reload_now().is_err());
    let file_name = path.file_name().expect("name").to_str().expect("utf-8");
    let dir = path.parent().expect("dir").to_str().expect("utf-8");
    for open in ["/healthz", "/readyz", "/metrics"] {
        let reply = call(&state, get(open)).await;
        let text = reply.text();
        for secret in ["jane.doe", "example.com", file_name, dir, "app_version"] {
            assert!(!text.contains(secret), "{open} shows {secret:?}: {text}");
        }
        // Metrics name the flags that were evaluated (their labels); health
        // names none.
        if open != "/metrics" {
            assert!(!text.contains("gated"), "{open}: {text}");
        }
    }
    let reply = call(&state, get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"ready": true, "version": good}));
}

/// The issue's case: the first `/v1/flags` of a big file used to render it
/// on a runtime worker, under a lock other requests of the same version
/// waited on, so on two workers `/healthz` stalled until it was done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_a_big_file_renders() {
    // About 28 MB of pilot ids.
    let mut content = String::from(r#"{"version": 1, "pilots": {"user_id": ["#);
    for i in 0..2_000_000u32 {
        if i > 0 {
            content.push(',');
        }
        content.push_str(&format!("\"{}\"", 1_000_000_000 + i));
    }
    content.push_str(r#"]}, "flags": {"a": {"percentage": 5}}}"#);
    // Rendering this in a debug build on a busy machine may take longer
    // than the default request timeout.
    let state = state_with_config(
        &content,
        Config {
            request_timeout: Duration::from_secs(600),
            ..Config::default()
        },
    );
    drop(content);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    tokio::task::spawn_blocking(move || {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let answered = Arc::new(AtomicBool::new(false));
        // Three clients want the flags at once: with the old code one renders
        // on a worker while the others block a worker each on its lock.
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let answered = answered.clone();
                std::thread::spawn(move || {
                    let mut stream = TcpStream::connect(addr).expect("connect");
                    stream
                        .write_all(
                            b"GET /v1/flags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        )
                        .expect("send");
                    let mut status = [0u8; 12];
                    stream.read_exact(&mut status).expect("status line");
                    answered.store(true, Ordering::SeqCst);
                    let mut rest = Vec::new();
                    stream.read_to_end(&mut rest).expect("body");
                    (String::from_utf8_lossy(&status).into_owned(), rest.len())
                })
            })
            .collect();
        // Lets the server start rendering (the assertion below does not
        // depend on it: rendering takes far longer either way).
        std::thread::sleep(Duration::from_millis(200));
        let mut health = TcpStream::connect(addr).expect("connect");
        health
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        health
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut reply = String::new();
        health.read_to_string(&mut reply).expect("healthz answers");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            !answered.load(Ordering::SeqCst),
            "/healthz waited for the flags to be rendered"
        );
        for client in clients {
            let (status, length) = client.join().expect("client");
            assert_eq!(status, "HTTP/1.1 200");
            assert!(length > 20_000_000, "{length}");
        }
    })
    .await
    .expect("clients");
    stop.send(()).expect("stop");
    server.await.expect("server");
}
