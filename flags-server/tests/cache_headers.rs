//! Answers HTTP caches can carry: `/v1/flags` and OFREP bulk send `ETag`,
//! `Cache-Control` and, with tokens, `Vary: Authorization`, on 200 and 304
//! alike; OFREP bulk's ETag names the flags version and the context.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::app::*;

const REVALIDATE: &str = "max-age=0, must-revalidate";

fn with(mut request: Request<Body>, name: header::HeaderName, value: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert(name, value.parse().expect("header value"));
    request
}

/// Asserts the cache headers of `reply`; returns its ETag.
fn cache_headers(reply: &Reply, vary: Option<&str>) -> String {
    assert_eq!(reply.header(header::CACHE_CONTROL), Some(REVALIDATE));
    assert_eq!(reply.header(header::VARY), vary);
    reply.header(header::ETAG).expect("an ETag").to_owned()
}

#[tokio::test]
async fn flags_document_revalidates_and_varies_on_the_token() {
    let (state, _, _) = state_with(FILE, &[]);
    let reply = call(&state, get("/v1/flags")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let etag = cache_headers(&reply, None);
    let reply = call(&state, with(get("/v1/flags"), header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert_eq!(cache_headers(&reply, None), etag);

    let (state, _, _) = state_with(FILE, &["srv-token", "app-token client"]);
    let authorized = |r| with(r, header::AUTHORIZATION, "Bearer srv-token");
    let reply = call(&state, authorized(get("/v1/flags"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let etag = cache_headers(&reply, Some("Authorization"));
    let reply = call(
        &state,
        authorized(with(get("/v1/flags"), header::IF_NONE_MATCH, &etag)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(cache_headers(&reply, Some("Authorization")), etag);
    // A weak validator from a cache that compressed the answer matches too.
    let weak = format!("W/{etag}");
    let reply = call(
        &state,
        authorized(with(get("/v1/flags"), header::IF_NONE_MATCH, &weak)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
}

fn bulk(body: &str) -> Request<Body> {
    post("/ofrep/v1/evaluate/flags", body)
}

#[tokio::test]
async fn ofrep_bulk_revalidates_and_varies_on_the_token() {
    let (state, _, _) = state_with(FILE, &["app-token client"]);
    let authorized = |r| with(r, header::AUTHORIZATION, "Bearer app-token");
    let body = r#"{"context": {"targetingKey": "42"}}"#;
    let reply = call(&state, authorized(bulk(body))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let etag = cache_headers(&reply, Some("Authorization"));
    let reply = call(
        &state,
        authorized(with(bulk(body), header::IF_NONE_MATCH, &etag)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(cache_headers(&reply, Some("Authorization")), etag);
    // Among several tags, as a cache holding several answers sends them.
    let reply = call(
        &state,
        authorized(with(
            bulk(body),
            header::IF_NONE_MATCH,
            &format!("\"other\", {etag}"),
        )),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);

    let (state, _, _) = state_with(FILE, &[]);
    let reply = call(&state, bulk(body)).await;
    cache_headers(&reply, None);
}

#[tokio::test]
async fn ofrep_bulk_etag_names_the_context_not_only_the_answers() {
    let (state, source, path) = state_with(FILE, &[]);
    // Two contexts that get the very same answers (no flag reads
    // `country`): still two representations, two tags.
    let plain = r#"{"context": {"targetingKey": "42"}}"#;
    let other = r#"{"context": {"targetingKey": "42", "country": "NO"}}"#;
    let first = call(&state, bulk(plain)).await;
    let second = call(&state, bulk(other)).await;
    assert_eq!(first.json(), second.json(), "the same answers");
    let etag = cache_headers(&first, None);
    assert_ne!(cache_headers(&second, None), etag);
    let reply = call(&state, with(bulk(other), header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(reply.status, StatusCode::OK, "another context's tag");
    // The same context on a new version of the file: a new tag.
    std::fs::write(
        &path,
        FILE.replace(
            "\"half\": {\"percentage\": 50}",
            "\"half\": {\"percentage\": 51}",
        ),
    )
    .expect("write");
    source.reload_now().expect("reload");
    let reply = call(&state, with(bulk(plain), header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_ne!(cache_headers(&reply, None), etag);
}

#[test]
fn cache_max_age_is_what_flags_serve_is_told() {
    let file = temp_file(FILE);
    let server = common::Server::start(&file, &["--cache-max-age", "30"], None);
    for (path, body) in [
        ("/v1/flags", ""),
        ("/ofrep/v1/evaluate/flags", "{\"context\": {}}"),
    ] {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let reply = server.request(method, path, body);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("cache-control"),
            Some("max-age=30, must-revalidate"),
            "{path}"
        );
    }
}
