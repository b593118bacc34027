//! Evaluation: one flag (fast boolean or detail), or every flag as JSON.

use std::ffi::c_char;

use flags_core::{Evaluation, Snapshot, Timestamp};
use serde::Serialize;
use serde::ser::Serializer;

use crate::boundary::{
    Failure, boundary, free_string, handle, owned_string, produce, put, str_arg,
};
use crate::context::{flags_context, view};
use crate::source::flags_source;
use crate::types::flags_result::*;
use crate::types::{flags_evaluation, flags_reason};

/// Whether `flag` (UTF-8, `flag_len` bytes) is on for `ctx` (NULL: the
/// empty context) now. False on any error. Allocates nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_is_enabled(
    source: *const flags_source,
    flag: *const c_char,
    flag_len: usize,
    ctx: *const flags_context,
) -> bool {
    boundary(
        |_| false,
        || {
            // SAFETY: the pointers are valid or NULL by the crate's rules.
            let (Some(source), Ok(flag), ctx) =
                (unsafe { (source.as_ref(), str_arg(flag, flag_len), view(ctx)) })
            else {
                return false;
            };
            source.with_snapshot(|snapshot| {
                snapshot
                    .evaluate_with_clock(flag, &ctx, flags_core::now)
                    .enabled
            })
        },
    )
}

/// Evaluates `flag` for `ctx` (NULL: the empty context) now, writing the
/// detail to `*out`. An unknown flag is FLAGS_OK with reason
/// FLAGS_REASON_FLAG_NOT_FOUND. Release `out->variant` with
/// `flags_evaluation_clear`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_evaluate(
    source: *const flags_source,
    flag: *const c_char,
    flag_len: usize,
    ctx: *const flags_context,
    out: *mut flags_evaluation,
) -> i32 {
    // SAFETY: the pointers are valid or NULL by the crate's rules.
    unsafe { evaluate(source, flag, flag_len, ctx, None, out) }
}

/// `flags_evaluate` at `now_unix_ms` (milliseconds since the Unix epoch)
/// instead of the system clock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_evaluate_at(
    source: *const flags_source,
    flag: *const c_char,
    flag_len: usize,
    ctx: *const flags_context,
    now_unix_ms: i64,
    out: *mut flags_evaluation,
) -> i32 {
    let now = Some(Timestamp::from_unix_millis(now_unix_ms));
    // SAFETY: the pointers are valid or NULL by the crate's rules.
    unsafe { evaluate(source, flag, flag_len, ctx, now, out) }
}

/// # Safety
/// The pointers are valid or NULL by the crate's rules.
unsafe fn evaluate(
    source: *const flags_source,
    flag: *const c_char,
    flag_len: usize,
    ctx: *const flags_context,
    now: Option<Timestamp>,
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
            // SAFETY: NULL or a live source, by the crate's rules.
            let Some(source) = (unsafe { source.as_ref() }) else {
                return FLAGS_ERROR_NULL_ARGUMENT.code();
            };
            // SAFETY: NULL or `flag_len` readable bytes, by the crate's rules.
            let flag = match unsafe { str_arg(flag, flag_len) } {
                Ok(flag) => flag,
                Err(code) => return code.code(),
            };
            // SAFETY: NULL or a live context, by the crate's rules.
            let ctx = unsafe { view(ctx) };
            let result = source.with_snapshot(|snapshot| {
                let clock = || now.unwrap_or_else(flags_core::now);
                detail(&snapshot.evaluate_with_clock(flag, &ctx, clock))
            });
            // SAFETY: as above.
            unsafe { out.write(result) };
            FLAGS_OK.code()
        },
    )
}

fn detail(result: &Evaluation<'_>) -> flags_evaluation {
    flags_evaluation {
        enabled: result.enabled,
        reason: flags_reason::of(result.reason) as i32,
        bucket: result.bucket.map_or(-1, i32::from),
        variant: result.variant.map_or(std::ptr::null_mut(), owned_string),
    }
}

/// Frees `evaluation->variant` and sets it to NULL; the other fields are
/// left as they are. NULL is ignored; calling it twice is harmless. Any
/// thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_evaluation_clear(evaluation: *mut flags_evaluation) {
    boundary(
        |_| (),
        || {
            // SAFETY: NULL or a live evaluation, by the crate's rules.
            if let Some(evaluation) = unsafe { evaluation.as_mut() } {
                let variant = std::mem::replace(&mut evaluation.variant, std::ptr::null_mut());
                // SAFETY: NULL or made by `owned_string` in `detail`, and
                // released only here, once (the field is reset first).
                unsafe { free_string(variant) };
            }
        },
    );
}

/// Every flag evaluated for `ctx` (NULL: the empty context) now, as an
/// owned JSON array in key order (release with `flags_string_free`):
/// [{"flag", "enabled", "variant", "reason", "bucket"}, ...], the objects
/// `flags eval` prints.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_evaluate_all_json(
    source: *const flags_source,
    ctx: *const flags_context,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the pointers are valid or NULL by the crate's rules.
    unsafe { evaluate_all(source, ctx, None, out) }
}

/// `flags_evaluate_all_json` at `now_unix_ms` (milliseconds since the Unix
/// epoch) instead of the system clock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_evaluate_all_json_at(
    source: *const flags_source,
    ctx: *const flags_context,
    now_unix_ms: i64,
    out: *mut *mut c_char,
) -> i32 {
    let now = Some(Timestamp::from_unix_millis(now_unix_ms));
    // SAFETY: the pointers are valid or NULL by the crate's rules.
    unsafe { evaluate_all(source, ctx, now, out) }
}

/// # Safety
/// The pointers are valid or NULL by the crate's rules.
unsafe fn evaluate_all(
    source: *const flags_source,
    ctx: *const flags_context,
    now: Option<Timestamp>,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or live handles, by the crate's rules.
        let (source, ctx) = unsafe { (handle(source, "source")?, view(ctx)) };
        let now = now.unwrap_or_else(flags_core::now);
        source.with_snapshot(|snapshot| {
            serde_json::to_string(&All {
                snapshot,
                ctx: &ctx,
                now,
            })
            .map_err(|e| Failure::new(FLAGS_ERROR_PANIC, e.to_string()))
        })
    };
    // SAFETY: `out` is NULL or valid for writes.
    unsafe { produce(out, std::ptr::null_mut(), body) }
}

/// Every flag's result, serialized as a JSON array without collecting.
struct All<'a> {
    snapshot: &'a Snapshot,
    ctx: &'a flags_core::Context<'a>,
    now: Timestamp,
}

/// One result, as `flags eval` writes it.
#[derive(Serialize)]
struct Item<'a> {
    flag: &'a str,
    enabled: bool,
    variant: Option<&'a str>,
    reason: &'static str,
    bucket: Option<u16>,
}

impl Serialize for All<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.snapshot.evaluate_all(self.ctx, self.now).map(
            |(flag, result)| Item {
                flag,
                enabled: result.enabled,
                variant: result.variant,
                reason: result.reason.as_str(),
                bucket: result.bucket,
            },
        ))
    }
}
