//! One error type for every error answer: [`Error`], which implements
//! axum's `IntoResponse`.
//!
//! Every error answer is JSON in the shape of the API it belongs to:
//! `{"error": "..."}` on `/v1/*` and the health paths, OFREP's
//! `{"key"?, "errorCode": "...", "errorDetails": "..."}` under `/ofrep/`.
//! Handlers, the auth layer and the connection cap answer with an
//! [`Error`]; [`json_errors`], the outermost layer, turns whatever other
//! error still arrives without a JSON body (a timeout, an extractor's
//! rejection that no handler mapped) into one too, keeping its headers
//! (`WWW-Authenticate`, `Retry-After`).
//!
//! Error text is bounded: it never echoes more than
//! [`crate::wire::MAX_ECHO`] characters of a client's name or value, and no
//! error message exceeds [`MAX_MESSAGE`] bytes, so what a request can make
//! the server write back stays small.

use axum::extract::Request;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::limits::BODY_LIMIT;
use crate::wire::{echo, shorten};

/// Longest error message, in bytes.
pub(crate) const MAX_MESSAGE: usize = 2048;
/// Seconds a client is asked to wait after a 503 at a connection or
/// stream cap.
const BUSY_RETRY_AFTER: &str = "2";
/// Seconds a client is asked to wait while no good flags are loaded.
const NOT_READY_RETRY_AFTER: &str = "1";

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

/// OFREP's `errorCode`s that this server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// Errors that are not about one evaluation (auth, limits, timeouts).
    General,
    /// The body, or the flag key in the path, cannot be read.
    ParseError,
    /// The context is not a valid one.
    InvalidContext,
    /// The flag is not in the flag file (404).
    FlagNotFound,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::General => "GENERAL",
            Code::ParseError => "PARSE_ERROR",
            Code::InvalidContext => "INVALID_CONTEXT",
            Code::FlagNotFound => "FLAG_NOT_FOUND",
        }
    }
}

/// An error answer: its status, its message, the API whose shape it
/// takes, and for OFREP its code and the flag key. Boxed, so that a
/// handler's `Result<Response, Error>` is no bigger than a response.
pub(crate) struct Error(Box<Inner>);

struct Inner {
    api: Api,
    status: StatusCode,
    code: Code,
    key: Option<String>,
    message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Error {
    /// An error in the shape of `api`; OFREP's code is `GENERAL`.
    pub fn new(api: Api, status: StatusCode, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            api,
            status,
            code: Code::General,
            key: None,
            message: message.into(),
            headers: Vec::new(),
        }))
    }

    /// An OFREP error with its code.
    pub fn ofrep(status: StatusCode, code: Code, details: impl Into<String>) -> Self {
        let mut error = Self::new(Api::Ofrep, status, details);
        error.0.code = code;
        error
    }

    /// Names the flag the error is about (OFREP's `key`).
    #[must_use]
    pub fn with_key(mut self, key: &str) -> Self {
        self.0.key = Some(key.to_owned());
        self
    }

    #[must_use]
    fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.0.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// 503 until good flags are loaded, with `Retry-After`.
    pub fn not_ready(api: Api) -> Self {
        Self::new(
            api,
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid flag file has been loaded yet: the server's log and GET /v1/status say why",
        )
        .with_header(header::RETRY_AFTER, NOT_READY_RETRY_AFTER)
    }

    /// 503 at a connection or stream cap: `Retry-After`, and the
    /// connection is closed after the answer so that it frees its slot at
    /// once.
    pub fn busy(api: Api, message: impl Into<String>) -> Self {
        Self::new(api, StatusCode::SERVICE_UNAVAILABLE, message)
            .with_header(header::RETRY_AFTER, BUSY_RETRY_AFTER)
            .with_header(header::CONNECTION, "close")
    }

    /// 401 with `WWW-Authenticate`, saying only that a token is needed.
    pub fn unauthorized(api: Api) -> Self {
        Self::new(
            api,
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required: Authorization: Bearer <token>",
        )
        .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    /// 403 for a `client` token outside the evaluation routes: says what
    /// the token may do and that `method path` needs a `server` token.
    pub fn forbidden(api: Api, method: &Method, path: &str) -> Self {
        Self::new(
            api,
            StatusCode::FORBIDDEN,
            format!(
                "this token has the `client` scope, which allows only evaluation \
                 (POST /v1/evaluate, POST /ofrep/v1/evaluate/flags[/KEY], GET /v1/stream) \
                 and POST /v1/migrations; {method} {} needs a `server` token",
                echo(path)
            ),
        )
    }

    /// The body could not be had: 413 over [`BODY_LIMIT`], else the
    /// rejection's status (a body that could not be read).
    pub fn body(api: Api, rejection: &BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(api, StatusCode::PAYLOAD_TOO_LARGE, body_too_large())
            }
            status => Self::new(api, status, "the request body could not be read"),
        }
    }

    /// 500, for what cannot happen to a well-formed answer.
    pub fn internal(api: Api, message: impl Into<String>) -> Self {
        Self::new(api, StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Flags<'a> {
            error: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Ofrep<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            key: Option<&'a str>,
            error_code: &'static str,
            error_details: &'a str,
        }
        let Inner {
            api,
            status,
            code,
            key,
            message,
            headers,
        } = *self.0;
        let message = shorten(&message, MAX_MESSAGE);
        let mut response = match api {
            Api::Flags => (status, axum::Json(Flags { error: &message })).into_response(),
            Api::Ofrep => (
                status,
                axum::Json(Ofrep {
                    key: key.as_deref(),
                    error_code: code.as_str(),
                    error_details: &message,
                }),
            )
                .into_response(),
        };
        response.headers_mut().extend(headers);
        response
    }
}

/// 404 for a path no route matches.
pub(crate) async fn not_found(uri: Uri) -> Error {
    Error::new(
        Api::of(uri.path()),
        StatusCode::NOT_FOUND,
        "no such endpoint",
    )
}

/// 405: the router adds the `Allow` header on the way out.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Error {
    Error::new(
        Api::of(uri.path()),
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed here; the Allow header lists the methods that are"),
    )
}

/// The outermost layer: an error answer without a JSON body becomes an
/// [`Error`] in the shape of the request's API, with a fixed message for
/// its status (the original body is dropped: it may hold internals).
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let api = Api::of(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (fresh, body) = Error::new(api, status, message_for(status))
        .into_response()
        .into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in &fresh.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// The message of a 413.
fn body_too_large() -> String {
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
        StatusCode::FORBIDDEN => "this token's scope does not allow this request".to_owned(),
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
