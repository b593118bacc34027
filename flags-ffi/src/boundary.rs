//! The panic boundary and the translation of C arguments: every exported
//! function runs its whole body through [`boundary`], and reads its
//! arguments and writes its results only through the helpers here.

use std::any::Any;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::types::flags_result::{self, *};

/// A failed call: the code returned and the message for `error_out`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: flags_result,
    pub message: String,
}

impl Failure {
    pub fn new(code: flags_result, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A required pointer argument was NULL.
    pub fn null(argument: &str) -> Self {
        Self::new(FLAGS_ERROR_NULL_ARGUMENT, format!("`{argument}` is NULL"))
    }

    /// A flag file (or JSON text) that could not be read or validated.
    pub fn flags(error: &flags_core::Error) -> Self {
        let code = if error.is_io() {
            FLAGS_ERROR_IO
        } else {
            FLAGS_ERROR_INVALID_FLAGS
        };
        Self::new(code, error.to_string())
    }
}

/// Runs `body`; should it panic, returns `on_panic(message)` instead. The
/// one panic boundary every exported function goes through. `on_panic`
/// must not panic (it only writes results).
#[inline]
pub(crate) fn boundary<R>(on_panic: impl FnOnce(&str) -> R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let result = on_panic(panic_message(&*payload));
            // Dropping a payload runs its destructor, which could panic in
            // turn; keep that inside a boundary too (and leak it if so).
            if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(nested);
            }
            result
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}

/// Runs a fallible `body` inside the boundary, writing the message of a
/// failure to `error_out`: the shape of every function that returns a
/// result code. `*error_out` is set to NULL first.
///
/// # Safety
/// `error_out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn run(
    error_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<(), Failure>,
) -> i32 {
    // SAFETY: the caller passes NULL or a pointer valid for writes.
    unsafe { put(error_out, ptr::null_mut()) };
    let result = boundary(
        |message| {
            Err(Failure::new(
                FLAGS_ERROR_PANIC,
                format!("internal error, please report it: {message}"),
            ))
        },
        body,
    );
    match result {
        Ok(()) => FLAGS_OK.code(),
        Err(failure) => {
            if !error_out.is_null() {
                // SAFETY: not NULL, and valid for writes by the caller's
                // contract.
                unsafe { error_out.write(owned_string(failure.message)) };
            }
            failure.code.code()
        }
    }
}

/// Like [`run`] for a function whose result goes to `*out`: `*out` is set
/// to NULL first, and to the result only on success.
///
/// # Safety
/// `out` and `error_out` are NULL or valid for writing a pointer.
pub(crate) unsafe fn produce<T: IntoRaw>(
    out: *mut *mut T::Target,
    error_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<T, Failure>,
) -> i32 {
    let outer = || {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: not NULL, and valid for writes by the caller's contract.
        unsafe { out.write(ptr::null_mut()) };
        let value = body()?;
        // SAFETY: as above.
        unsafe { out.write(value.into_raw()) };
        Ok(())
    };
    // SAFETY: `error_out` is NULL or valid for writes by the caller's
    // contract.
    unsafe { run(error_out, outer) }
}

/// A result handed to the caller as an owned pointer.
pub(crate) trait IntoRaw {
    type Target;
    fn into_raw(self) -> *mut Self::Target;
}

impl<T> IntoRaw for Box<T> {
    type Target = T;
    fn into_raw(self) -> *mut T {
        Box::into_raw(self)
    }
}

impl IntoRaw for String {
    type Target = c_char;
    fn into_raw(self) -> *mut c_char {
        owned_string(self)
    }
}

/// Writes `value` through `out` unless `out` is NULL. The old value is
/// neither read nor dropped.
///
/// # Safety
/// `out` is NULL or valid for writing a `T`.
#[inline]
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: not NULL, and valid for writes by the caller's contract.
        unsafe { out.write(value) };
    }
}

/// A NUL-terminated copy of `text` for the caller to free with
/// `flags_string_free`. A NUL inside the text (which C cannot represent)
/// becomes U+FFFD.
pub(crate) fn owned_string(text: impl Into<String>) -> *mut c_char {
    let mut text: String = text.into();
    if text.contains('\0') {
        text = text.replace('\0', "\u{FFFD}");
    }
    match CString::new(text) {
        Ok(c) => c.into_raw(),
        // Unreachable: every NUL was replaced above.
        Err(_) => ptr::null_mut(),
    }
}

/// Releases a string made by [`owned_string`].
///
/// # Safety
/// `s` is NULL or was returned by [`owned_string`] and not released since.
pub(crate) unsafe fn free_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in `owned_string`, released once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// A required handle argument, borrowed for the call.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that no other thread changes
/// during the call.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, argument: &str) -> Result<&'a T, Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(argument))
}

/// A required handle argument, borrowed mutably for the call.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that no other thread uses during
/// the call.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, argument: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(argument))
}

/// A (pointer, length) UTF-8 string argument, without a message: the fast
/// path of evaluation.
///
/// # Safety
/// `ptr` is NULL or valid for reading `len` bytes during the call.
#[inline]
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, flags_result> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes_arg(ptr, len) }?;
    std::str::from_utf8(bytes).map_err(|_| FLAGS_ERROR_INVALID_UTF8)
}

/// A (pointer, length) byte string argument.
///
/// # Safety
/// `ptr` is NULL or valid for reading `len` bytes during the call.
#[inline]
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<&'a [u8], flags_result> {
    if ptr.is_null() {
        return Err(FLAGS_ERROR_NULL_ARGUMENT);
    }
    if isize::try_from(len).is_err() {
        return Err(FLAGS_ERROR_INVALID_ARGUMENT);
    }
    // SAFETY: not NULL, `len` fits `isize`, and the caller guarantees `len`
    // readable bytes that are not written during the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// [`str_arg`] with a message naming the argument.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn text<'a>(
    ptr: *const c_char,
    len: usize,
    argument: &str,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes(ptr, len, argument) }?;
    std::str::from_utf8(bytes).map_err(|e| utf8_failure(argument, &e))
}

/// [`bytes_arg`] with a message naming the argument.
///
/// # Safety
/// As [`bytes_arg`].
pub(crate) unsafe fn bytes<'a>(
    ptr: *const c_char,
    len: usize,
    argument: &str,
) -> Result<&'a [u8], Failure> {
    // SAFETY: forwarded from the caller.
    unsafe { bytes_arg(ptr, len) }.map_err(|code| match code {
        FLAGS_ERROR_NULL_ARGUMENT => Failure::null(argument),
        code => Failure::new(code, format!("`{argument}`: length {len} is too large")),
    })
}

/// A NUL-terminated UTF-8 string argument that may be NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string readable during the
/// call.
pub(crate) unsafe fn optional_c_text<'a>(
    ptr: *const c_char,
    argument: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL and NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map(Some).map_err(|e| utf8_failure(argument, &e))
}

fn utf8_failure(argument: &str, error: &std::str::Utf8Error) -> Failure {
    Failure::new(
        FLAGS_ERROR_INVALID_UTF8,
        format!(
            "`{argument}` is not valid UTF-8 (at byte {})",
            error.valid_up_to()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_result_code_and_a_message() {
        let mut error: *mut c_char = ptr::null_mut();
        // SAFETY: `error` is a valid out-pointer.
        let code = unsafe {
            run(&mut error, || -> Result<(), Failure> {
                panic!("deliberate panic in a test")
            })
        };
        assert_eq!(code, FLAGS_ERROR_PANIC.code());
        assert!(!error.is_null());
        // SAFETY: just written by `run`, NUL-terminated.
        let message = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            message,
            "internal error, please report it: deliberate panic in a test"
        );
        // SAFETY: made by `owned_string`, released once.
        unsafe { free_string(error) };
        assert!(!boundary(|_| false, || panic!("{}", String::from("owned"))));
    }

    #[test]
    fn nul_inside_a_string_is_replaced() {
        let s = owned_string("a\0b");
        // SAFETY: just made, NUL-terminated.
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_str(), Ok("a\u{FFFD}b"));
        // SAFETY: made by `owned_string`, released once.
        unsafe { free_string(s) };
    }
}
