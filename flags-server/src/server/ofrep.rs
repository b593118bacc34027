//! OpenFeature Remote Evaluation Protocol (OFREP) endpoints.
//!
//! Flags are boolean in OpenFeature terms: `value` is whether the flag is
//! on. `variant` is the flag's variant when it has one, else `"on"` or
//! `"off"`; `metadata.flagsVariant` is the variant as the other APIs give
//! it (present only when the flag is on and has variants). A migration
//! flag is a string flag, as LaunchDarkly's are: `value` and `variant` are
//! its stage (`off`, `dualwrite`, ...), and so is `metadata.flagsVariant`.
//! Reasons map as follows (the exact reason is in `metadata.flagsReason`):
//!
//! | flags                                   | OFREP             |
//! |-----------------------------------------|-------------------|
//! | KILL_ALL, KILLED                        | DISABLED          |
//! | REQUIREMENT_UNMET, DENIED, PILOT        | TARGETING_MATCH   |
//! | ROLLOUT_IN, ROLLOUT_OUT                 | SPLIT             |
//! | MISSING_BUCKET_KEY                      | DEFAULT           |
//! | FLAG_NOT_FOUND                          | 404 FLAG_NOT_FOUND |
//!
//! `targetingKey` fills the server's targeting attribute (`user_id` unless
//! `--targeting-key` says otherwise) when the context does not set that
//! attribute itself.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flags_core::{Evaluation, OwnedContext, Reason, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use siphasher::sip128::{Hasher128, SipHasher24};

use super::errors::{Api, Code, Error};
use super::http::{self, cache_headers, json_bytes, not_modified};
use super::state::AppState;
use crate::wire::{self, echo};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success<'a> {
    key: &'a str,
    value: Value<'a>,
    reason: &'static str,
    variant: &'a str,
    metadata: Metadata<'a>,
}

/// A flag's OFREP value: whether it is on, or a migration flag's stage.
#[derive(Serialize)]
#[serde(untagged)]
enum Value<'a> {
    Enabled(bool),
    Stage(&'a str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    flags_reason: &'static str,
    /// The variant as every other API of this project gives it: only when
    /// the flag is on and has variants (`variant` above is never empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    flags_variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bucket: Option<u16>,
    version: &'a str,
}

fn reason(reason: Reason) -> &'static str {
    match reason {
        Reason::KillAll | Reason::Killed => "DISABLED",
        Reason::RequirementUnmet | Reason::Denied | Reason::Pilot => "TARGETING_MATCH",
        Reason::RolloutIn | Reason::RolloutOut => "SPLIT",
        Reason::MissingBucketKey => "DEFAULT",
        Reason::FlagNotFound => "ERROR",
    }
}

/// The answer for flag `key`; `migration` when it is a migration flag
/// (its variant is then its stage).
fn success<'a>(
    key: &'a str,
    result: &Evaluation<'a>,
    migration: bool,
    version: &'a str,
) -> Success<'a> {
    let value = match result.variant {
        Some(stage) if migration => Value::Stage(stage),
        _ => Value::Enabled(result.enabled),
    };
    Success {
        key,
        value,
        reason: reason(result.reason),
        variant: result
            .variant
            .unwrap_or(if result.enabled { "on" } else { "off" }),
        metadata: Metadata {
            flags_reason: result.reason.as_str(),
            flags_variant: result.variant,
            bucket: result.bucket,
            version,
        },
    }
}

/// The request's context, with `targetingKey` mapped, or the error to
/// answer.
fn context(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<OwnedContext, Error> {
    let body = http::body(Api::Ofrep, body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(OwnedContext::new());
    }
    let parse_error = |e: String| {
        Error::ofrep(
            StatusCode::BAD_REQUEST,
            Code::ParseError,
            format!("invalid request body: {e}"),
        )
    };
    http::expect_object(&body).map_err(parse_error)?;
    let request: Request<'_> =
        serde_json::from_slice(&body).map_err(|e| parse_error(e.to_string()))?;
    let mut ctx = wire::context(request.context)
        .map_err(|e| Error::ofrep(StatusCode::BAD_REQUEST, Code::InvalidContext, e))?;
    let attribute = &state.shared().targeting_key;
    let ctx_view = ctx.as_context();
    if let (Some(key), None) = (ctx_view.get("targetingKey"), ctx_view.get(attribute)) {
        let key = key.to_owned();
        ctx.insert(attribute, &key);
    }
    Ok(ctx)
}

/// The flag key of the path, or the error to answer.
fn flag_key(key: Result<Path<String>, PathRejection>) -> Result<String, Error> {
    match key {
        Ok(Path(key)) => Ok(key),
        Err(PathRejection::FailedToDeserializePathParams(e))
            if matches!(e.kind(), ErrorKind::InvalidUtf8InPathParam { .. }) =>
        {
            Err(Error::ofrep(
                StatusCode::BAD_REQUEST,
                Code::ParseError,
                "the flag key in the path is not UTF-8 once percent-decoded",
            ))
        }
        Err(e) => Err(Error::ofrep(
            e.status(),
            Code::General,
            "the flag key in the path could not be read",
        )),
    }
}

/// `POST /ofrep/v1/evaluate/flags/{key}`
pub(crate) async fn single(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    state.ready(Api::Ofrep)?;
    let key = flag_key(key)?;
    let ctx = context(&state, body).map_err(|e| e.with_key(&key))?;
    let shared = state.shared();
    let snapshot = shared.source.snapshot();
    let result = snapshot.evaluate_with_clock(&key, &ctx.as_context(), flags_core::now);
    shared.metrics.evaluation(&snapshot, &key, &result);
    if result.reason == Reason::FlagNotFound {
        return Err(Error::ofrep(
            StatusCode::NOT_FOUND,
            Code::FlagNotFound,
            format!("flag `{}` is not in the flag file", echo(&key)),
        )
        .with_key(&key));
    }
    let migration = snapshot.flag(&key).is_some_and(|f| f.migration().is_some());
    let answer = success(&key, &result, migration, snapshot.version());
    let bytes = serde_json::to_vec(&answer).map_err(|e| {
        Error::ofrep(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::General,
            e.to_string(),
        )
        .with_key(&key)
    })?;
    Ok(json_bytes(StatusCode::OK, bytes))
}

/// `POST /ofrep/v1/evaluate/flags`: every flag, with the headers HTTP
/// caches need ([`cache_headers`]) and an ETag ([`bulk_etag`]) so polling
/// clients get 304 while nothing changed for them.
pub(crate) async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    state.ready(Api::Ofrep)?;
    let body = http::body(Api::Ofrep, body)?;
    let ctx = context(&state, Ok(body.clone()))?;
    let shared = state.shared();
    let snapshot: std::sync::Arc<Snapshot> = shared.source.snapshot();
    let ctx = ctx.as_context();
    let evaluated: Vec<_> = snapshot.evaluate_all(&ctx, flags_core::now()).collect();
    shared.metrics.evaluations(
        &snapshot,
        evaluated.iter().map(|(key, result)| (*key, result)),
    );
    // The tag comes from the evaluation itself, so a revalidation that
    // ends in `304` renders no JSON: most of what a polling phone costs.
    let etag = bulk_etag(snapshot.version(), &body, &evaluated);
    let vary = state.auth_enabled();
    let max_age = state.shared().cache_max_age;
    if not_modified(&headers, &etag) {
        return Ok(cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
            max_age,
            vary,
        ));
    }
    let flags: Vec<Success<'_>> = evaluated
        .iter()
        .map(|(key, result)| {
            let migration = snapshot.flag(key).is_some_and(|f| f.migration().is_some());
            success(key, result, migration, snapshot.version())
        })
        .collect();
    #[derive(Serialize)]
    struct Bulk<'a> {
        flags: Vec<Success<'a>>,
    }
    let bytes = serde_json::to_vec(&Bulk { flags })
        .map_err(|e| Error::internal(Api::Ofrep, e.to_string()))?;
    Ok(cache_headers(
        json_bytes(StatusCode::OK, bytes),
        &etag,
        max_age,
        vary,
    ))
}

/// The bulk answer's ETag: a 128-bit SipHash, with fixed keys so that every
/// replica gives the same tag, over the flags version, the request body
/// (the context evaluated) and every flag's result. The results are in
/// because a schedule moves answers while the version stays; the version
/// and the context are in so that a tag names one file and one context,
/// never another context that happens to get the same answers. The answer
/// is a function of the version and the results (see [`success`]), so
/// hashing the results names the answer without rendering it.
fn bulk_etag(version: &str, request: &[u8], results: &[(&str, Evaluation<'_>)]) -> String {
    let mut hasher = SipHasher24::new_with_keys(0, 0);
    let mut part = |bytes: &[u8]| {
        std::hash::Hasher::write(&mut hasher, &(bytes.len() as u64).to_le_bytes());
        std::hash::Hasher::write(&mut hasher, bytes);
    };
    part(version.as_bytes());
    part(request);
    for (key, result) in results {
        // Every field, by name: a field added to `Evaluation` must be
        // added here (or this stops compiling).
        let Evaluation {
            enabled,
            variant,
            reason,
            bucket,
        } = result;
        part(key.as_bytes());
        part(&[u8::from(*enabled)]);
        part(reason.as_str().as_bytes());
        // `None` and `Some("")` must differ: a flag byte first.
        match variant {
            Some(variant) => {
                part(&[1]);
                part(variant.as_bytes());
            }
            None => part(&[0]),
        }
        match bucket {
            Some(bucket) => {
                let [low, high] = bucket.to_le_bytes();
                part(&[1, low, high]);
            }
            None => part(&[0]),
        }
    }
    format!("\"{:032x}\"", hasher.finish128().as_u128())
}
