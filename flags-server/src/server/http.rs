//! Reading requests and writing responses: the body, JSON, ETags.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use super::errors::{Api, Error};

/// The request body, or the error to answer in the shape of `api`.
pub(crate) fn body(api: Api, body: Result<Bytes, BytesRejection>) -> Result<Bytes, Error> {
    body.map_err(|rejection| Error::body(api, &rejection))
}

/// Refuses a body that is not one JSON object (serde's derived
/// `Deserialize` would read a struct from a list too).
pub(crate) fn expect_object(body: &[u8]) -> Result<(), String> {
    let raw: &RawValue =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let found = match raw.get().as_bytes().first() {
        Some(b'{') => return Ok(()),
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(format!(
        "the body must be a JSON object like {{\"context\": {{...}}}}, found {found}"
    ))
}

/// A JSON response from already-serialized bytes.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (or `*`); weak validators match too.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// The headers that let browsers, reverse proxies and CDNs carry an answer:
///
/// - `ETag: etag`, which `If-None-Match` is checked against (304);
/// - `Cache-Control: max-age=N, must-revalidate` ([`cache_control`]);
/// - `Vary: Authorization` when tokens are on (`vary_authorization`), so
///   that a shared cache answers a request only from an answer to the same
///   token: a `client` token is never served what a `server` token got.
///
/// A 304 carries them too, as RFC 9110 (15.4.5) asks.
pub(crate) fn cache_headers(
    mut response: Response,
    etag: &str,
    max_age: u64,
    vary_authorization: bool,
) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, cache_control(max_age));
    if vary_authorization {
        headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    }
    response
}

/// `max-age=N, must-revalidate`: fresh for `max_age` seconds, then never
/// reused without revalidation (an `If-None-Match` answered by 304). Not
/// `no-cache`: with `Authorization` on the request, a shared cache may
/// store the answer only when `must-revalidate`, `public` or `s-maxage`
/// says so (RFC 9111, 3.5), and `must-revalidate` is the one that also
/// forbids serving it stale when this server cannot be asked.
pub(crate) fn cache_control(max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("max-age={max_age}, must-revalidate"))
        .unwrap_or_else(|_| HeaderValue::from_static("max-age=0, must-revalidate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_revalidates_after_max_age() {
        assert_eq!(cache_control(0), "max-age=0, must-revalidate");
        assert_eq!(cache_control(30), "max-age=30, must-revalidate");
    }
}
