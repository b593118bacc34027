//! One mapping from errors to responses.
//!
//! Every error answer is JSON in the shape of the API it belongs to:
//! `{"error": "..."}` on `/v1/*` and the health paths, OFREP's
//! `{"errorCode": "...", "errorDetails": "..."}` under `/ofrep/`. Handlers
//! build their errors here; [`json_errors`], the outermost layer, rewrites
//! whatever other error still arrives without a JSON body (a timeout, an
//! extractor's rejection that no handler mapped) into the same shapes,
//! keeping its headers (`WWW-Authenticate`, `Retry-After`).
//!
//! Error text is bounded: it never echoes more than [`crate::wire::MAX_ECHO`] characters
//! of a client's name or value, and no error message exceeds
//! [`MAX_MESSAGE`] bytes, so what a request can make the server write back
//! stays small.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::limits::BODY_LIMIT;
use crate::wire::shorten;

/// Longest error message, in bytes.
pub(crate) const MAX_MESSAGE: usize = 2048;
/// Seconds a client is asked to wait after a 503 at a connection or
/// stream cap.
const RETRY_AFTER_SECONDS: &str = "2";

/// The API a request path belongs to, which decides the shape of its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/v1/*`, the health paths, metrics and unknown paths.
    Flags,
    /// `/ofrep/*`.
    Ofrep,
}

impl Api {
    pub fn of(path: &str) -> Self {
        if path == "/ofrep" || path.starts_with("/ofrep/") {
            Api::Ofrep
        } else {
            Api::Flags
        }
    }
}

/// `{"error": message}` with `status`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    #[derive(Serialize)]
    struct Body<'a> {
        error: &'a str,
    }
    (
        status,
        axum::Json(Body {
            error: &cap(message),
        }),
    )
        .into_response()
}

/// OFREP's error body: `{"key"?, "errorCode", "errorDetails"}` with `status`.
pub(crate) fn ofrep_error(
    status: StatusCode,
    key: Option<&str>,
    code: &'static str,
    details: &str,
) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Failure<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<&'a str>,
        error_code: &'static str,
        error_details: &'a str,
    }
    (
        status,
        axum::Json(Failure {
            key,
            error_code: code,
            error_details: &cap(details),
        }),
    )
        .into_response()
}

/// An error in the shape of `api`; OFREP's code is `GENERAL`, the code for
/// errors that are not about one evaluation.
pub(crate) fn error(api: Api, status: StatusCode, message: &str) -> Response {
    match api {
        Api::Flags => json_error(status, message),
        Api::Ofrep => ofrep_error(status, None, "GENERAL", message),
    }
}

/// 503 at a connection or stream cap: `Retry-After`, and the connection is
/// closed after the answer so that it frees its slot at once.
pub(crate) fn busy(api: Api, message: &str) -> Response {
    let mut response = error(api, StatusCode::SERVICE_UNAVAILABLE, message);
    let headers = response.headers_mut();
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn cap(message: &str) -> Cow<'_, str> {
    shorten(message, MAX_MESSAGE)
}

/// 405: the router adds the `Allow` header on the way out.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        Api::of(uri.path()),
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("{method} is not allowed here; the Allow header lists the methods that are"),
    )
}

/// The outermost layer: an error answer without a JSON body becomes one in
/// the shape of the request's API, with a fixed message for its status (the
/// original body is dropped: it may hold internals).
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let api = Api::of(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let message = message_for(status);
    let (mut parts, _) = response.into_parts();
    let (fresh, body) = error(api, status, &message).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in &fresh.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// The message of a 413.
pub(crate) fn body_too_large() -> String {
    format!("the request body is larger than the limit of {BODY_LIMIT} bytes")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
}

fn message_for(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such endpoint".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed here".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request did not complete in time".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
        StatusCode::UNAUTHORIZED => "a valid bearer token is required".to_owned(),
        other => other
            .canonical_reason()
            .map_or_else(|| format!("error {}", other.as_u16()), str::to_lowercase),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_pick_the_error_shape() {
        assert_eq!(Api::of("/ofrep/v1/evaluate/flags"), Api::Ofrep);
        assert_eq!(Api::of("/ofrep"), Api::Ofrep);
        assert_eq!(Api::of("/ofrepx"), Api::Flags);
        assert_eq!(Api::of("/v1/flags"), Api::Flags);
        assert_eq!(Api::of("/healthz"), Api::Flags);
    }
}
