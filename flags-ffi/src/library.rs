//! The library's version, result and reason texts, and freeing strings.

use std::ffi::{CStr, c_char};

use crate::boundary::{boundary, free_string};
use crate::types::{flags_reason, flags_result};

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => c"unknown",
    };

/// The library's version, e.g. "0.1.0". Static: never freed.
#[unsafe(no_mangle)]
pub extern "C" fn flags_library_version() -> *const c_char {
    boundary(|_| c"unknown".as_ptr(), || VERSION.as_ptr())
}

/// A static description of a `flags_result` code; unknown codes get a
/// generic text. Never NULL, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn flags_result_message(code: i32) -> *const c_char {
    boundary(
        |_| c"unknown result code".as_ptr(),
        || flags_result::message_of(code).as_ptr(),
    )
}

/// The static name of a `FLAGS_REASON_*` number ("ROLLOUT_IN", ...);
/// "UNKNOWN" for any other number. Never NULL, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn flags_reason_name(reason: i32) -> *const c_char {
    boundary(
        |_| c"UNKNOWN".as_ptr(),
        || flags_reason::name_of(reason).as_ptr(),
    )
}

/// Releases a string the library returned through a `char **`
/// out-parameter. NULL is ignored. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_string_free(s: *mut c_char) {
    boundary(
        |_| (),
        // SAFETY: NULL or a string made by this library and released once,
        // by the crate's rules.
        || unsafe { free_string(s) },
    );
}
