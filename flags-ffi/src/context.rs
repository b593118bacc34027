//! Contexts: the attributes of whoever flags are evaluated for, built once
//! and used for many evaluations.

use std::ffi::c_char;
use std::ptr;

use flags_core::{Context, OwnedContext};

use crate::boundary::{Failure, boundary, handle_mut, produce, run, str_arg, text};
use crate::types::flags_result::*;

/// The attributes of whoever flags are evaluated for (opaque): built once,
/// used for many evaluations. May be shared by threads that evaluate with
/// it, but not changed while another thread uses it. Release with
/// `flags_context_free`.
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_context {
    inner: OwnedContext,
}

/// The borrowed view of `ctx` used for evaluation; NULL is the empty
/// context.
///
/// # Safety
/// `ctx` is NULL or a live context not changed during the borrow.
#[inline]
pub(crate) unsafe fn view<'a>(ctx: *const flags_context) -> Context<'a> {
    // SAFETY: forwarded from the caller.
    match unsafe { ctx.as_ref() } {
        Some(ctx) => ctx.inner.as_context(),
        None => Context::empty(),
    }
}

/// A copy of the attributes of `ctx`; NULL is the empty context.
///
/// # Safety
/// `ctx` is NULL or a live context not changed during the call.
pub(crate) unsafe fn owned(ctx: *const flags_context) -> OwnedContext {
    // SAFETY: forwarded from the caller.
    unsafe { ctx.as_ref() }.map_or_else(OwnedContext::new, |ctx| ctx.inner.clone())
}

/// A new, empty context; release with `flags_context_free`. NULL only
/// when an internal bug is caught at the boundary (where other functions
/// return FLAGS_ERROR_PANIC); running out of memory aborts.
#[unsafe(no_mangle)]
pub extern "C" fn flags_context_new() -> *mut flags_context {
    boundary(
        |_| std::ptr::null_mut(),
        || {
            Box::into_raw(Box::new(flags_context {
                inner: OwnedContext::new(),
            }))
        },
    )
}

/// Sets `attribute` to `value` (both UTF-8), replacing an earlier value.
/// The value may be empty; the attribute may not
/// (FLAGS_ERROR_INVALID_ARGUMENT).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_context_set(
    ctx: *mut flags_context,
    attribute: *const c_char,
    attribute_len: usize,
    value: *const c_char,
    value_len: usize,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live context used by no other thread, and
        // strings NULL or readable for their lengths, by the crate's rules.
        let (ctx, attribute, value) = unsafe {
            (
                handle_mut(ctx, "ctx")?,
                attribute_arg(attribute, attribute_len)?,
                text(value, value_len, "value")?,
            )
        };
        ctx.inner.insert(attribute, value);
        Ok(())
    };
    // SAFETY: no `error_out`.
    unsafe { run(std::ptr::null_mut(), body) }
}

/// Removes `attribute` (UTF-8); removing an absent attribute is not an
/// error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_context_remove(
    ctx: *mut flags_context,
    attribute: *const c_char,
    attribute_len: usize,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live context used by no other thread, and a
        // string NULL or readable for its length, by the crate's rules.
        let (ctx, attribute) = unsafe {
            (
                handle_mut(ctx, "ctx")?,
                attribute_arg(attribute, attribute_len)?,
            )
        };
        ctx.inner.remove(attribute);
        Ok(())
    };
    // SAFETY: no `error_out`.
    unsafe { run(std::ptr::null_mut(), body) }
}

/// # Safety
/// As `text`.
unsafe fn attribute_arg<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller.
    let attribute = unsafe { text(ptr, len, "attribute") }?;
    if attribute.is_empty() {
        return Err(Failure::new(
            FLAGS_ERROR_INVALID_ARGUMENT,
            "`attribute` is empty",
        ));
    }
    Ok(attribute)
}

/// Builds a context from a JSON object of attributes: strings as they are,
/// integers as their decimal text (42 -> "42"), booleans as "true"/"false",
/// null as absent. Anything else is FLAGS_ERROR_INVALID_CONTEXT, with every
/// problem in `error_out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_context_from_json(
    json: *const c_char,
    json_len: usize,
    out: *mut *mut flags_context,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `json_len` readable bytes, by the crate's rules.
        let json = unsafe { text(json, json_len, "json") }?;
        let inner = OwnedContext::from_json(json)
            .map_err(|e| Failure::new(FLAGS_ERROR_INVALID_CONTEXT, e.to_string()))?;
        Ok(Box::new(flags_context { inner }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// Like `flags_context_from_json`, returning the new context itself: NULL
/// on any failure (NULL or non-UTF-8 `json`, an invalid context); call
/// `flags_context_from_json` then for the code and the message. Release a
/// context it returns with `flags_context_free`. For hosts where making an
/// out-parameter costs more than the call (PHP's FFI parses a C type for
/// it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_context_parse(
    json: *const c_char,
    json_len: usize,
) -> *mut flags_context {
    boundary(
        |_| ptr::null_mut(),
        || {
            // SAFETY: NULL or `json_len` readable bytes, by the crate's rules.
            let Ok(json) = (unsafe { str_arg(json, json_len) }) else {
                return ptr::null_mut();
            };
            OwnedContext::from_json(json).map_or(ptr::null_mut(), |inner| {
                Box::into_raw(Box::new(flags_context { inner }))
            })
        },
    )
}

/// Releases a context. NULL is ignored. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_context_free(ctx: *mut flags_context) {
    boundary(
        |_| (),
        || {
            if !ctx.is_null() {
                // SAFETY: made by `Box::into_raw` in this module and
                // released once, by the crate's rules.
                drop(unsafe { Box::from_raw(ctx) });
            }
        },
    );
}
