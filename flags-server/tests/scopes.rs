//! Token scopes: a `server` token opens everything, a `client` token only
//! evaluation (`/v1/evaluate`, OFREP, `/v1/stream`), in-process; and the
//! tokens file's format, through `flags serve` itself.

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::app::*;
use common::{PATIENCE, Server};
use flags_server::server::app;
use tower::ServiceExt as _;

fn with_token(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

/// The status and content type of `request`, without reading the body (an
/// event stream's never ends).
async fn status_of(
    state: &flags_server::server::AppState,
    request: Request<Body>,
) -> (StatusCode, Option<String>) {
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status(), kind)
}

const CONTEXT: &str = r#"{"context": {"user_id": "42"}}"#;

#[tokio::test]
async fn a_client_token_may_evaluate_but_not_read_the_file() {
    let (state, _, _) = state_with(FILE, &["srv-token", "app-token client"]);
    for (uri, api) in [("/v1/flags", "flags"), ("/v1/status", "flags")] {
        let reply = call(&state, with_token(get(uri), "app-token")).await;
        assert_eq!(
            json_error(&reply, StatusCode::FORBIDDEN),
            format!(
                "this token has the `client` scope, which allows only evaluation \
                 (POST /v1/evaluate, POST /ofrep/v1/evaluate/flags[/KEY], GET /v1/stream) \
                 and POST /v1/migrations; GET {uri} needs a `server` token"
            ),
            "{api}"
        );
        // Not a 401: the token is good, its scope is too narrow.
        assert_eq!(reply.header(header::WWW_AUTHENTICATE), None);
    }
    let reply = call(
        &state,
        with_token(post("/v1/evaluate", CONTEXT), "app-token"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json()["results"].as_array().expect("results").len(),
        5
    );
    let reply = call(
        &state,
        with_token(post("/ofrep/v1/evaluate/flags/all", CONTEXT), "app-token"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["value"], true);
    let reply = call(
        &state,
        with_token(post("/ofrep/v1/evaluate/flags", CONTEXT), "app-token"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["flags"].as_array().expect("flags").len(), 5);
    // Not-found flags are OFREP's 404, not a scope error.
    let reply = call(
        &state,
        with_token(post("/ofrep/v1/evaluate/flags/nope", CONTEXT), "app-token"),
    )
    .await;
    assert_eq!(
        ofrep_error(&reply, StatusCode::NOT_FOUND),
        "flag `nope` is not in the flag file"
    );
    assert_eq!(
        status_of(&state, with_token(get("/v1/stream"), "app-token")).await,
        (StatusCode::OK, Some("text/event-stream".to_owned()))
    );
}

#[tokio::test]
async fn a_server_token_opens_everything() {
    let (state, _, _) = state_with(FILE, &["srv-token", "app-token client"]);
    for uri in ["/v1/flags", "/v1/status"] {
        let reply = call(&state, with_token(get(uri), "srv-token")).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    }
    for uri in [
        "/v1/evaluate",
        "/ofrep/v1/evaluate/flags",
        "/ofrep/v1/evaluate/flags/all",
    ] {
        let reply = call(&state, with_token(post(uri, CONTEXT), "srv-token")).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    }
    assert_eq!(
        status_of(&state, with_token(get("/v1/stream"), "srv-token"))
            .await
            .0,
        StatusCode::OK
    );
    // `TOKEN server` is the bare token spelled out.
    let (state, _, _) = state_with(FILE, &["spelled-out server"]);
    let reply = call(&state, with_token(get("/v1/flags"), "spelled-out")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn unknown_routes_and_missing_tokens_are_not_scope_errors() {
    let (state, _, _) = state_with(FILE, &["srv-token", "app-token client"]);
    // Unknown routes are 404 for everyone: the scope check is on routes.
    let reply = call(&state, with_token(get("/v1/nothing"), "app-token")).await;
    assert_eq!(
        json_error(&reply, StatusCode::NOT_FOUND),
        "no such endpoint"
    );
    // No token at all is still 401, whatever the route.
    let reply = call(&state, post("/ofrep/v1/evaluate/flags", CONTEXT)).await;
    ofrep_error(&reply, StatusCode::UNAUTHORIZED);
}

fn tokens_file(name: &str, content: &str) -> std::path::PathBuf {
    let path = temp_file(FILE).with_file_name(name);
    std::fs::write(&path, content).expect("write tokens");
    path
}

fn request_with(server: &Server, method: &str, path: &str, token: &str) -> u16 {
    let mut conn = server.connect();
    let body = if method == "POST" { CONTEXT } else { "" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.stream.write_all(request.as_bytes()).expect("send");
    conn.reply().status
}

#[test]
fn an_old_tokens_file_still_works_and_scopes_apply_end_to_end() {
    // A file written before scopes: bare tokens, one with a colon (a
    // `scope:TOKEN` syntax would have misread it), comments, blank lines.
    let old = tokens_file("old-tokens", "# operators\nclient:abc\n\n  plain-token  \n");
    let flags = temp_file(FILE);
    let server = Server::start(
        &flags,
        &["--tokens-file", old.to_str().expect("utf-8")],
        None,
    );
    for token in ["client:abc", "plain-token"] {
        assert_eq!(
            request_with(&server, "GET", "/v1/flags", token),
            200,
            "{token}"
        );
        assert_eq!(
            request_with(&server, "GET", "/v1/status", token),
            200,
            "{token}"
        );
    }
    assert_eq!(request_with(&server, "GET", "/v1/flags", "abc"), 401);
    drop(server);

    let scoped = tokens_file(
        "scoped-tokens",
        "ops-token\nops-2 server\n# the mobile app's\napp-token\tclient\n",
    );
    let server = Server::start(
        &flags,
        &["--tokens-file", scoped.to_str().expect("utf-8")],
        None,
    );
    for token in ["ops-token", "ops-2"] {
        assert_eq!(
            request_with(&server, "GET", "/v1/flags", token),
            200,
            "{token}"
        );
    }
    assert_eq!(request_with(&server, "GET", "/v1/flags", "app-token"), 403);
    assert_eq!(request_with(&server, "GET", "/v1/status", "app-token"), 403);
    assert_eq!(
        request_with(&server, "POST", "/v1/evaluate", "app-token"),
        200
    );
    assert_eq!(
        request_with(&server, "POST", "/ofrep/v1/evaluate/flags", "app-token"),
        200
    );
    assert_eq!(
        request_with(
            &server,
            "POST",
            "/ofrep/v1/evaluate/flags/half",
            "app-token"
        ),
        200
    );
    assert_eq!(request_with(&server, "GET", "/v1/flags", "client"), 401);
}

/// Runs `flags serve --tokens-file TOKENS`, expecting it to refuse to
/// start; returns its stderr.
fn refuses_to_start(tokens: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flags"))
        .arg("serve")
        .arg(temp_file(FILE))
        .args(["--listen", "127.0.0.1:0", "--tokens-file"])
        .arg(tokens)
        .env_remove("FLAGS_TOKENS")
        .env_remove("FLAGS_CLIENT_TOKENS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flags runs");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flags serve started on {}", tokens.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_malformed_scope_line_stops_the_start_naming_file_and_line() {
    let expected = "a line is `TOKEN` or `TOKEN SCOPE`, where SCOPE is `server` or `client`";
    let bad_scope = tokens_file("bad-scope", "good\n# comment\nsecret-token admin\n");
    let stderr = refuses_to_start(&bad_scope);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "flags serve: tokens file {} line 3: the word after the token is not a scope; {expected}",
            bad_scope.display()
        )
    );
    // The line may hold a secret: never quoted.
    assert!(!stderr.contains("secret-token"), "{stderr}");
    let too_many = tokens_file("too-many", "one two client\n");
    assert_eq!(
        refuses_to_start(&too_many).trim_end(),
        format!(
            "flags serve: tokens file {} line 1: found 3 words; {expected}",
            too_many.display()
        )
    );
}
