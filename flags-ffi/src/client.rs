//! The client mode: a flag server's answers for one context, for code
//! that must not hold the flag file (an app whose token is public).

use std::ffi::c_char;
use std::ptr;

use flags_core::remote::ClientSource;

use crate::boundary::{Failure, boundary, handle, owned_string, produce, put, run, str_arg, text};
use crate::context::{flags_context, owned};
use crate::source::{Status, remote_failure, remote_options};
use crate::types::flags_result::*;
use crate::types::{flags_evaluation, flags_reason, flags_remote_options};

/// A flag server's answers for one context (opaque), refreshed by one
/// background thread. Thread-safe. Release with `flags_client_free`.
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_client {
    inner: ClientSource,
}

/// Opens a client: asks POST {url}/ofrep/v1/evaluate/flags for the answers
/// for `ctx` (NULL: the empty context; copied, so it may be freed after
/// the call), with the ETag, then again every `refresh_interval_ms` and on
/// /v1/stream version events (when `stream`). A token with the `client`
/// scope suffices. The last good answers are kept in `cache_path` with
/// the context they answer; when the server cannot be used, the answers
/// cached for the same context are served (unhealthy, stale, the reason in
/// the status); another context's never are. Blocks for at most the
/// timeout. Starts one background thread, which does not survive fork().
/// Errors: FLAGS_ERROR_INVALID_ARGUMENT (not an http or https URL),
/// FLAGS_ERROR_REMOTE (no usable answer and no cache for this context).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_open(
    options: *const flags_remote_options,
    ctx: *const flags_context,
    out: *mut *mut flags_client,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a valid `flags_remote_options`, by the crate's rules.
        let remote = unsafe { remote_options(options) }?;
        // SAFETY: NULL or a live context, by the crate's rules.
        let context = unsafe { owned(ctx) };
        let inner = ClientSource::open(remote, context).map_err(|e| remote_failure(&e))?;
        Ok(Box::new(flags_client { inner }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// Releases a client and stops its thread (without waiting for a request
/// in flight). NULL is ignored. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_free(client: *mut flags_client) {
    boundary(
        |_| (),
        || {
            if !client.is_null() {
                // SAFETY: made by `Box::into_raw` in `flags_client_open`
                // and released once, by the crate's rules.
                drop(unsafe { Box::from_raw(client) });
            }
        },
    );
}

/// Whether the server answered `true` for `flag` (UTF-8, `flag_len`
/// bytes). False for any other answer, a flag it did not answer, and any
/// error. Lock-free; no request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_is_enabled(
    client: *const flags_client,
    flag: *const c_char,
    flag_len: usize,
) -> bool {
    boundary(
        |_| false,
        || {
            // SAFETY: the pointers are valid or NULL by the crate's rules.
            let (Some(client), Ok(flag)) = (unsafe { (client.as_ref(), str_arg(flag, flag_len)) })
            else {
                return false;
            };
            client.inner.is_enabled(flag)
        },
    )
}

/// The answer for `flag`, in the shape of `flags_evaluate`: `enabled` (the
/// value is `true`), `reason` (the server's exact reason when it gave one,
/// as `flags serve` does; -1, named "UNKNOWN", when it did not), `bucket`
/// (-1 when not reported), `variant` (release with
/// `flags_evaluation_clear`). A flag the server did not answer is FLAGS_OK
/// with reason FLAGS_REASON_FLAG_NOT_FOUND. No request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_evaluate(
    client: *const flags_client,
    flag: *const c_char,
    flag_len: usize,
    out: *mut flags_evaluation,
) -> i32 {
    boundary(
        |_| {
            // SAFETY: NULL or valid for writes, by the crate's rules.
            unsafe { put(out, flags_evaluation::OFF) };
            FLAGS_ERROR_PANIC.code()
        },
        || {
            if out.is_null() {
                return FLAGS_ERROR_NULL_ARGUMENT.code();
            }
            // SAFETY: not NULL, valid for writes by the crate's rules.
            unsafe { out.write(flags_evaluation::OFF) };
            // SAFETY: NULL or a live client, by the crate's rules.
            let Some(client) = (unsafe { client.as_ref() }) else {
                return FLAGS_ERROR_NULL_ARGUMENT.code();
            };
            // SAFETY: NULL or `flag_len` readable bytes, by the crate's rules.
            let flag = match unsafe { str_arg(flag, flag_len) } {
                Ok(flag) => flag,
                Err(code) => return code.code(),
            };
            let answers = client.inner.answers();
            if let Some(answer) = answers.get(flag) {
                let result = flags_evaluation {
                    enabled: answer.is_enabled(),
                    reason: answer
                        .flags_reason
                        .map_or(-1, |r| flags_reason::of(r) as i32),
                    bucket: answer.bucket.map_or(-1, i32::from),
                    variant: answer
                        .variant
                        .as_deref()
                        .map_or(ptr::null_mut(), owned_string),
                };
                // SAFETY: as above.
                unsafe { out.write(result) };
            }
            FLAGS_OK.code()
        },
    )
}

/// The variant the server named for `flag`, owned (release with
/// `flags_string_free`); `*out` is NULL when it named none or did not
/// answer the flag (still FLAGS_OK). No request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_variant(
    client: *const flags_client,
    flag: *const c_char,
    flag_len: usize,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: not NULL, valid for writes by the crate's rules.
        unsafe { out.write(ptr::null_mut()) };
        // SAFETY: NULL or live arguments, by the crate's rules.
        let (client, flag) = unsafe { (handle(client, "client")?, text(flag, flag_len, "flag")?) };
        if let Some(variant) = client.inner.variant(flag) {
            // SAFETY: as above.
            unsafe { out.write(owned_string(variant)) };
        }
        Ok(())
    };
    // SAFETY: no error_out.
    unsafe { run(ptr::null_mut(), body) }
}

/// Asks about `ctx` (NULL: the empty context; copied) from now on and
/// waits for the answer (at most the timeout). Until it arrives the old
/// answers are served; when it cannot be had (FLAGS_ERROR_REMOTE, the
/// reason in `*error_out` and the status), no answers are served (every
/// flag off) until a later refresh gets them: never the old context's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_set_context(
    client: *const flags_client,
    ctx: *const flags_context,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or live handles, by the crate's rules.
        let (client, context) = unsafe { (handle(client, "client")?, owned(ctx)) };
        client
            .inner
            .set_context(context)
            .map(drop)
            .map_err(|e| remote_failure(&e))
    };
    // SAFETY: `error_out` is NULL or valid for writes.
    unsafe { run(error_out, body) }
}

/// Asks the server now and waits for the answer (at most the timeout).
/// `*changed_out` (may be NULL) is set to whether new answers were swapped
/// in. FLAGS_ERROR_REMOTE when the server could not be used: the served
/// answers stay, and the reason is in `*error_out` and the status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_refresh(
    client: *const flags_client,
    changed_out: *mut bool,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or valid for writes, by the crate's rules.
        unsafe { put(changed_out, false) };
        // SAFETY: NULL or a live client, by the crate's rules.
        let client = unsafe { handle(client, "client") }?;
        let changed = client.inner.refresh_now().map_err(|e| remote_failure(&e))?;
        // SAFETY: as above.
        unsafe { put(changed_out, changed) };
        Ok(())
    };
    // SAFETY: `error_out` is NULL or valid for writes.
    unsafe { run(error_out, body) }
}

/// The client's health as an owned JSON object (release with
/// `flags_string_free`), as `flags_source_status_json` writes it, with
/// "kind": "client": {"version" (the content hash of the answers served;
/// "" when none), "healthy", "stale" (serving the cache because the server
/// could not be used yet), "last_error", "reloads", "failures", "kind"}.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_status_json(
    client: *const flags_client,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live client, by the crate's rules.
        let client = unsafe { handle(client, "client") }?;
        let status = client.inner.status();
        serde_json::to_string(&Status::of(&status, "client"))
            .map_err(|e| Failure::new(FLAGS_ERROR_PANIC, e.to_string()))
    };
    // SAFETY: `out` is NULL or valid for writes.
    unsafe { produce(out, ptr::null_mut(), body) }
}

/// The content hash of the answers served (32 hex digits; "" before any
/// answer for the current context), owned: release with
/// `flags_string_free`. It changes exactly when an answer changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_version(
    client: *const flags_client,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live client, by the crate's rules.
        let client = unsafe { handle(client, "client") }?;
        Ok(client.inner.answers().version().to_owned())
    };
    // SAFETY: `out` is NULL or valid for writes.
    unsafe { produce(out, ptr::null_mut(), body) }
}

/// How many times new answers were swapped in: a cheap way to notice a
/// change. 0 for NULL and before the first swap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_client_generation(client: *const flags_client) -> u64 {
    boundary(
        |_| 0,
        || {
            // SAFETY: NULL or a live client, by the crate's rules.
            unsafe { client.as_ref() }.map_or(0, |c| c.inner.generation())
        },
    )
}
