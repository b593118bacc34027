//! The HTTP API: in-process through `app(state)`, and end to end on an
//! ephemeral loopback port. Errors and limits are in `server_errors.rs`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::app::*;
use flags_core::watch::{FileSource, WatchOptions};
use flags_server::server::{AppState, Config, serve};
use serde_json::{Value, json};

#[tokio::test]
async fn flags_document_with_etag_and_304() {
    let (state, source, _) = state_with(FILE, &[]);
    let reply = call(&state, get("/v1/flags")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let etag = reply.header(header::ETAG).expect("etag").to_owned();
    assert_eq!(etag, format!("\"{}\"", source.snapshot().version()));
    // The normalized document `docs/server.md` describes: compact, flags
    // sorted, `kill_all` spelled out, defaults omitted.
    assert_eq!(
        reply.text(),
        concat!(
            r#"{"version":1,"kill_all":false,"pilots":{"user_id":["1"]},"flags":{"#,
            r#""all":{"percentage":100,"variants":[{"name":"a","weight":50},{"name":"b","weight":50}]},"#,
            r#""by_tenant":{"percentage":30,"bucket_by":"tenant_id"},"#,
            r#""gated":{"requires":[{"attribute":"app_version","op":"semver_gte","value":"3.2.0"}],"percentage":100},"#,
            r#""half":{"percentage":50},"#,
            r#""killed":{"killed":true,"percentage":100}}}"#,
        )
    );
    let again = Request::get("/v1/flags")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .expect("request");
    let reply = call(&state, again).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    let stale = Request::get("/v1/flags")
        .header(header::IF_NONE_MATCH, "\"other\"")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&state, stale).await.status, StatusCode::OK);
}

#[tokio::test]
async fn evaluate_all_or_some_flags() {
    let (state, source, _) = state_with(FILE, &[]);
    let reply = call(
        &state,
        post(
            "/v1/evaluate",
            r#"{"context": {"user_id": 42, "app_version": "3.2.1"}}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["version"], source.snapshot().version());
    let results = body["results"].as_array().expect("results");
    let keys: Vec<&str> = results
        .iter()
        .map(|r| r["flag"].as_str().expect("flag"))
        .collect();
    assert_eq!(keys, ["all", "by_tenant", "gated", "half", "killed"]);
    // User 42 is in bucket 9685 of `half`, outside its 50%: the golden
    // vector "half: string '42'" (tests/vectors/context.json, the same flag),
    // flags_ref.bucket_of("half", "42") == 9685.
    assert_eq!(
        results[3],
        json!({"flag": "half", "enabled": false, "variant": null, "reason": "ROLLOUT_OUT", "bucket": 9685})
    );
    assert_eq!(results[2]["reason"], "ROLLOUT_IN");
    assert_eq!(results[4]["reason"], "KILLED");
    assert_eq!(results[1]["reason"], "MISSING_BUCKET_KEY");

    let reply = call(
        &state,
        post(
            "/v1/evaluate",
            r#"{"context": {"user_id": "1"}, "flags": ["half", "nope"]}"#,
        ),
    )
    .await;
    let results = reply.json()["results"].clone();
    assert_eq!(results[0]["reason"], "PILOT");
    assert_eq!(results[1]["reason"], "FLAG_NOT_FOUND");
}

#[tokio::test]
async fn evaluate_rejects_bad_requests_clearly() {
    let (state, _, _) = state_with(FILE, &[]);
    let reply = call(
        &state,
        post("/v1/evaluate", r#"{"context": {"user_id": 1.5}}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json()["error"],
        "invalid request: context.user_id: expected a string, an integer, a boolean or null, found the number 1.5"
    );
    let reply = call(
        &state,
        post("/v1/evaluate", r#"{"context": {"": "x", "a.b": [1]}}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json()["error"],
        "invalid request: context[\"\"]: attribute names must not be empty; \
         context[\"a.b\"]: expected a string, an integer, a boolean or null, found a list"
    );
    let reply = call(&state, post("/v1/evaluate", "{\"contxt\": {}}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .expect("error")
            .contains("unknown field `contxt`")
    );
    let reply = call(&state, post("/v1/evaluate", "not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let huge = format!(r#"{{"context": {{"user_id": "{}"}}}}"#, "x".repeat(100_000));
    assert_eq!(
        call(&state, post("/v1/evaluate", huge)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        call(&state, get("/nope")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn ofrep_single_flag() {
    let (state, source, _) = state_with(FILE, &[]);
    let version = source.snapshot().version().to_owned();
    let reply = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags/all",
            r#"{"context": {"targetingKey": "42"}}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // From the independent reference: flags_ref.bucket_of("all", "42") == 5328,
    // and flags_ref.variant_bucket_of("all", "42") == 2387, below 5000: "a".
    assert_eq!(
        reply.json(),
        json!({"key": "all", "value": true, "reason": "SPLIT", "variant": "a",
               "metadata": {"flagsReason": "ROLLOUT_IN", "flagsVariant": "a", "bucket": 5328,
                            "version": version}})
    );
    let reply = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags/killed",
            r#"{"context": {"targetingKey": "42"}}"#,
        ),
    )
    .await;
    assert_eq!(reply.json()["reason"], "DISABLED");
    assert_eq!(reply.json()["variant"], "off");
    // Off: no variant in the sense of every other API.
    assert_eq!(reply.json()["metadata"].get("flagsVariant"), None);
    let reply = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags/half",
            r#"{"context": {"targetingKey": "9", "user_id": "1"}}"#,
        ),
    )
    .await;
    assert_eq!(
        reply.json()["reason"],
        "TARGETING_MATCH",
        "an explicit user_id wins over targetingKey"
    );
    let reply = call(
        &state,
        post("/ofrep/v1/evaluate/flags/missing", r#"{"context": {}}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["errorCode"], "FLAG_NOT_FOUND");
    assert_eq!(reply.json()["key"], "missing");
    let reply = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags/half",
            r#"{"context": {"targetingKey": [1]}}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["errorCode"], "INVALID_CONTEXT");
    let reply = call(&state, post("/ofrep/v1/evaluate/flags/half", "{")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["errorCode"], "PARSE_ERROR");
}

/// A migration flag is a string flag: `value` and `variant` are its stage,
/// on or off.
#[tokio::test]
async fn ofrep_migration_flag_answers_its_stage() {
    let file = r#"{"version": 1, "flags": {
        "orders_reads": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow",
            "pilot_stage": "live"}, "pilots": {"user_id": ["7"]}, "percentage": 10},
        "orders_writes": {"migration": {"stages": 4, "stage": "live", "safe": "shadow"},
            "killed": true},
        "plain": {"percentage": 100}}}"#;
    let (state, source, _) = state_with(file, &[]);
    let version = source.snapshot().version().to_owned();
    let single = |user: &str, flag: &str| {
        post(
            &format!("/ofrep/v1/evaluate/flags/{flag}"),
            format!(r#"{{"context": {{"targetingKey": "{user}"}}}}"#),
        )
    };
    // user-5829 is in bucket 999 of orders_reads, inside its 10%, and
    // user-14234 in bucket 1000, outside: tests/vectors/migration.json,
    // cases "orders_reads: bucket 999 of 1000 is in: next" and "... 1000 ...".
    let reply = call(&state, single("user-5829", "orders_reads")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"key": "orders_reads", "value": "shadow", "reason": "SPLIT", "variant": "shadow",
               "metadata": {"flagsReason": "ROLLOUT_IN", "flagsVariant": "shadow", "bucket": 999,
                            "version": version}})
    );
    let reply = call(&state, single("user-14234", "orders_reads")).await;
    assert_eq!(
        reply.json(),
        json!({"key": "orders_reads", "value": "dualwrite", "reason": "SPLIT",
               "variant": "dualwrite",
               "metadata": {"flagsReason": "ROLLOUT_OUT", "flagsVariant": "dualwrite",
                            "bucket": 1000, "version": version}})
    );
    let reply = call(&state, single("7", "orders_reads")).await;
    assert_eq!(
        (&reply.json()["value"], &reply.json()["reason"]),
        (&json!("live"), &json!("TARGETING_MATCH"))
    );
    // Killed: the safe stage.
    let reply = call(&state, single("7", "orders_writes")).await;
    assert_eq!(
        (
            &reply.json()["value"],
            &reply.json()["variant"],
            &reply.json()["reason"]
        ),
        (&json!("shadow"), &json!("shadow"), &json!("DISABLED"))
    );
    let reply = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags",
            r#"{"context": {"targetingKey": "7"}}"#,
        ),
    )
    .await;
    let flags = reply.json()["flags"].clone();
    let values: Vec<(&str, &Value)> = flags
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| (f["key"].as_str().expect("key"), &f["value"]))
        .collect();
    assert_eq!(
        values,
        [
            ("orders_reads", &json!("live")),
            ("orders_writes", &json!("shadow")),
            ("plain", &json!(true)),
        ]
    );
}

#[tokio::test]
async fn ofrep_bulk_with_etag() {
    let (state, _, _) = state_with(FILE, &[]);
    let body = r#"{"context": {"targetingKey": "42", "tenant_id": "acme"}}"#;
    let reply = call(&state, post("/ofrep/v1/evaluate/flags", body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let flags = reply.json()["flags"].as_array().expect("flags").clone();
    assert_eq!(flags.len(), 5);
    assert!(
        flags
            .iter()
            .all(|f| f["value"].is_boolean() && f["key"].is_string())
    );
    let etag = reply.header(header::ETAG).expect("etag").to_owned();
    let cached = Request::post("/ofrep/v1/evaluate/flags")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::from(body))
        .expect("request");
    assert_eq!(call(&state, cached).await.status, StatusCode::NOT_MODIFIED);
    // Another context gives other answers, so another ETag.
    let other = call(
        &state,
        post(
            "/ofrep/v1/evaluate/flags",
            r#"{"context": {"targetingKey": "1"}}"#,
        ),
    )
    .await;
    assert_ne!(other.header(header::ETAG), Some(etag.as_str()));
}

/// The rule of readiness: a bad edit is reported (log, metrics, status),
/// never by leaving the load balancer, while good flags are served.
#[tokio::test]
async fn a_bad_reload_keeps_the_server_ready_and_is_reported() {
    let (state, source, path) = state_with(FILE, &[]);
    assert_eq!(call(&state, get("/healthz")).await.status, StatusCode::OK);
    assert_eq!(call(&state, get("/readyz")).await.status, StatusCode::OK);
    let good = source.snapshot().version().to_owned();
    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(
        &metrics,
        &[
            "flags_ready 1",
            "flags_reload_failing 0",
            "flags_reload_last_failure_timestamp_seconds 0.000",
            "flags_snapshot_stale 0",
        ],
    );

    std::fs::write(
        &path,
        "{\"version\": 1, \"flags\": {\"half\": {\"percentage\": 12.345}}}",
    )
    .expect("write");
    assert!(source.reload_now().is_err());
    let reply = call(&state, get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::OK, "good flags are still served");
    assert_eq!(reply.json(), json!({"ready": true, "version": good}));
    // The last good flags keep serving.
    let reply = call(
        &state,
        post(
            "/v1/evaluate",
            r#"{"context": {"user_id": "1"}, "flags": ["all"]}"#,
        ),
    )
    .await;
    assert_eq!(reply.json()["version"], good.as_str());
    assert_eq!(reply.json()["results"][0]["reason"], "PILOT");
    // Reported: in the metrics, and in full at /v1/status.
    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(&metrics, &["flags_ready 1", "flags_reload_failing 1"]);
    let failed_at: f64 = metric(&metrics, "flags_reload_last_failure_timestamp_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(
        (now - 600.0..=now + 1.0).contains(&failed_at),
        "{failed_at} vs {now}"
    );
    let status = call(&state, get("/v1/status")).await.json();
    assert_eq!(status["ready"], true);
    assert_eq!(status["failing"], true);
    assert_eq!(status["stale"], false);
    assert_eq!(status["version"], good.as_str());
    assert_eq!(status["failures"], 1);
    assert_eq!(status["file"], path.to_str().expect("utf-8"));
    let error = status["last_error"].as_str().expect("the reason");
    assert!(
        error.starts_with(&format!("{}:1:49: flags.half.percentage:", path.display())),
        "{error}"
    );
    assert!(
        status["last_failure_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    std::fs::write(
        &path,
        FILE.replace("\"percentage\": 50", "\"percentage\": 60"),
    )
    .expect("write");
    assert!(source.reload_now().expect("valid again"));
    assert_eq!(call(&state, get("/readyz")).await.status, StatusCode::OK);
    let status = call(&state, get("/v1/status")).await.json();
    assert_eq!(
        (&status["failing"], &status["last_error"]),
        (&json!(false), &Value::Null)
    );

    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(
        &metrics,
        &[
            &format!(
                "flags_snapshot_info{{version=\"{}\"}} 1",
                source.snapshot().version()
            ),
            "flags_snapshot_flags 5",
            "flags_ready 1",
            "flags_reload_failing 0",
            "flags_reloads_total{result=\"success\"} 1",
            "flags_reloads_total{result=\"failure\"} 1",
            "flags_http_requests_total{route=\"/readyz\",status=\"200\"} 3",
            "flags_evaluations_total{flag=\"all\",reason=\"PILOT\",enabled=\"true\"} 1",
        ],
    );
}

/// A source started on a bad file: not ready, and no flags at all are
/// answered (an empty flag set would look real to a relay or an SDK), until
/// the file is good.
#[tokio::test]
async fn started_on_a_bad_file_nothing_is_served_until_it_is_good() {
    let path = temp_file("{\"version\": 1, \"flags\": {\"half\": {\"percentage\": 50},}}");
    let options = WatchOptions {
        watch_events: false,
        poll_interval: Duration::ZERO,
        ..WatchOptions::default()
    };
    let source = FileSource::start(&path, options).expect("starts on a bad file");
    let state = AppState::new(source.clone(), Config::default());

    let reply = call(&state, get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json(), json!({"ready": false, "version": null}));
    assert_eq!(call(&state, get("/healthz")).await.status, StatusCode::OK);
    for request in [
        get("/v1/flags"),
        get("/v1/stream"),
        post("/v1/evaluate", "{}"),
    ] {
        let reply = call(&state, request).await;
        assert_eq!(reply.header(header::RETRY_AFTER), Some("1"));
        let message = json_error(&reply, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            message.contains("no valid flag file has been loaded yet"),
            "{message}"
        );
    }
    for request in [
        post("/ofrep/v1/evaluate/flags/half", "{}"),
        post("/ofrep/v1/evaluate/flags", "{}"),
    ] {
        let reply = call(&state, request).await;
        ofrep_error(&reply, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.json()["errorCode"], "GENERAL");
    }
    let status = call(&state, get("/v1/status")).await.json();
    assert_eq!(
        (&status["ready"], &status["version"]),
        (&json!(false), &Value::Null)
    );
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with(&format!("{}:1:53:", path.display()))),
        "{status}"
    );
    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(&metrics, &["flags_ready 0", "flags_reload_failing 1"]);
    assert!(!metrics.contains("flags_snapshot_info{"), "{metrics}");

    std::fs::write(&path, FILE).expect("write");
    assert!(source.reload_now().expect("good now"));
    assert_eq!(call(&state, get("/readyz")).await.status, StatusCode::OK);
    let reply = call(&state, post("/v1/evaluate", r#"{"flags": ["all"]}"#)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["results"][0]["enabled"], true);
}

/// With `--cache`, a server started while the file is bad serves the last
/// good copy: ready, and stale until the file is good.
#[tokio::test]
async fn started_on_a_bad_file_with_a_cache_serves_the_cached_copy_as_stale() {
    let path = temp_file(FILE);
    let cache = path.with_file_name("last-good.json");
    let options = |cache: &std::path::Path| WatchOptions {
        watch_events: false,
        poll_interval: Duration::ZERO,
        cache_path: Some(cache.to_path_buf()),
        ..WatchOptions::default()
    };
    let first = FileSource::start(&path, options(&cache)).expect("good file");
    let good = first.snapshot().version().to_owned();
    drop(first);
    std::fs::write(&path, "{").expect("write");

    let source = FileSource::start(&path, options(&cache)).expect("starts");
    let state = AppState::new(source.clone(), Config::default());
    let reply = call(&state, get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"ready": true, "version": good}));
    let reply = call(&state, post("/v1/evaluate", r#"{"flags": ["all"]}"#)).await;
    assert_eq!(reply.json()["version"], good.as_str());
    let status = call(&state, get("/v1/status")).await.json();
    assert_eq!(
        (&status["stale"], &status["failing"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(status["cache"], cache.to_str().expect("utf-8"));
    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(
        &metrics,
        &[
            "flags_ready 1",
            "flags_snapshot_stale 1",
            "flags_reload_failing 1",
        ],
    );

    std::fs::write(
        &path,
        FILE.replace("\"percentage\": 50", "\"percentage\": 51"),
    )
    .expect("write");
    assert!(source.reload_now().expect("good now"));
    let metrics = call(&state, get("/metrics")).await.text();
    assert_metrics(
        &metrics,
        &["flags_snapshot_stale 0", "flags_reload_failing 0"],
    );
}

#[tokio::test]
async fn tokens_protect_the_api_but_not_health() {
    let (state, _, _) = state_with(FILE, &["s3cret", "other"]);
    let reply = call(&state, get("/v1/flags")).await;
    assert_eq!(
        json_error(&reply, StatusCode::UNAUTHORIZED),
        "a valid bearer token is required: Authorization: Bearer <token>"
    );
    assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some("Bearer"));
    for uri in ["/ofrep/v1/evaluate/flags/half", "/v1/evaluate"] {
        assert_eq!(
            call(&state, post(uri, "{}")).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The status names the file and shows its errors: for token holders.
    let reply = call(&state, get("/v1/status")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let authorized = Request::get("/v1/status")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&state, authorized).await.json()["ready"], true);
    let reply = call(&state, post("/ofrep/v1/evaluate/flags", "{}")).await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::UNAUTHORIZED),
        "a valid bearer token is required: Authorization: Bearer <token>"
    );
    assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some("Bearer"));
    let wrong = Request::get("/v1/flags")
        .header(header::AUTHORIZATION, "Bearer s3cre")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&state, wrong).await.status, StatusCode::UNAUTHORIZED);
    for scheme in ["Bearer", "bearer", "BEARER", "BeArEr", "Bearer  "] {
        let right = Request::get("/v1/flags")
            .header(header::AUTHORIZATION, format!("{scheme} other"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            call(&state, right).await.status,
            StatusCode::OK,
            "{scheme:?}"
        );
    }
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            call(&state, get(open)).await.status,
            StatusCode::OK,
            "{open}"
        );
    }
}

/// A raw HTTP/1.1 request on a fresh connection; returns status and body.
fn http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    let status = reply[9..12].parse().expect("status code");
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_reload_stream_and_graceful_shutdown() {
    let (state, _, path) = state_watching(FILE, &[], true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let result = tokio::task::spawn_blocking(move || {
        let evaluate = |body: &str| {
            http(addr, &format!(
                "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
        };
        let (status, body) = evaluate(r#"{"context": {"user_id": "7"}, "flags": ["half"]}"#);
        assert_eq!(status, 200, "{body}");

        // Subscribe to the stream, then edit the file: the new version arrives.
        let mut sse = TcpStream::connect(addr).expect("connect");
        sse.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        sse.write_all(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        let mut lines = BufReader::new(sse);
        let mut versions = Vec::new();
        let mut line = String::new();
        let edited = FILE.replace("\"percentage\": 50", "\"percentage\": 0");
        while versions.len() < 2 {
            line.clear();
            lines.read_line(&mut line).expect("stream line");
            if let Some(data) = line.strip_prefix("data: ") {
                versions.push(data.trim().to_owned());
                if versions.len() == 1 {
                    std::fs::write(&path, &edited).expect("edit");
                }
            }
        }
        let new_version = flags_core::Snapshot::from_slice(edited.as_bytes()).expect("valid").version().to_owned();
        assert_eq!(versions[1], format!("{{\"version\":\"{new_version}\"}}"));
        let (_, body) = evaluate(r#"{"context": {"user_id": "7"}, "flags": ["half"]}"#);
        assert!(body.contains("\"reason\":\"ROLLOUT_OUT\""), "{body}");
        lines
    })
    .await
    .expect("client");

    // Shutdown ends the open event stream and the server returns.
    stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server drains within 5 s")
        .expect("server task");
    let mut rest = String::new();
    let mut reader = result;
    let _ = reader.read_to_string(&mut rest);
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
}
