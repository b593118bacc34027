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

/// `secs` seconds from now, as an RFC 3339 time (UTC, whole seconds).
fn rfc3339_in(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let t = now + secs;
    let (days, rest) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[tokio::test]
async fn ofrep_bulk_etag_moves_with_a_ramp_on_the_same_version() {
    // Twenty flags ramping from 0 % to 100 % over four seconds: about half
    // of them are on for the context now, all of them once the ramps end.
    // The file does not change, so only the answers can change the tag.
    let (from, to) = (rfc3339_in(-2), rfc3339_in(2));
    let flags: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#""ramped_{i}": {{"ramp": [{{"at": "{from}", "percentage": 0}}, {{"at": "{to}", "percentage": 100}}]}}"#
            )
        })
        .collect();
    let file = format!(r#"{{"version": 1, "flags": {{{}}}}}"#, flags.join(", "));
    let (state, _source, _path) = state_with(&file, &[]);
    let request = r#"{"context": {"targetingKey": "42"}}"#;
    let before = call(&state, bulk(request)).await;
    assert_eq!(before.status, StatusCode::OK);
    let etag = cache_headers(&before, None);
    let all_on = |reply: &Reply| {
        reply.json()["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .all(|f| f["value"] == true)
    };
    assert!(
        !all_on(&before),
        "some ramps leave user 42 out now: {}",
        before.json()
    );
    // Past the end of the ramps (wall-clock time: the server reads the clock).
    tokio::time::sleep(std::time::Duration::from_millis(4_500)).await;
    let after = call(&state, with(bulk(request), header::IF_NONE_MATCH, &etag)).await;
    assert_eq!(after.status, StatusCode::OK, "the answers moved: not a 304");
    assert!(all_on(&after), "every ramp ended: {}", after.json());
    let moved = cache_headers(&after, None);
    assert_ne!(moved, etag);
    assert_eq!(
        before.json()["flags"][0]["metadata"]["version"],
        after.json()["flags"][0]["metadata"]["version"],
        "the same version of the file"
    );
    // The new tag revalidates while the answers stay.
    let again = call(&state, with(bulk(request), header::IF_NONE_MATCH, &moved)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}
