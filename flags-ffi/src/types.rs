//! The C-visible data types: result codes, reasons, an evaluation's detail
//! and the options of a remote source.

use std::ffi::{CStr, c_char};

use flags_core::Reason;

/// Result codes. Stable: never renumbered, never reused. Functions return
/// them as `int32_t`; `flags_result_message` turns one into text.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C names, as the header spells them
pub enum flags_result {
    /// Success.
    FLAGS_OK = 0,
    /// A required pointer was NULL.
    FLAGS_ERROR_NULL_ARGUMENT = 1,
    /// A string argument is not valid UTF-8.
    FLAGS_ERROR_INVALID_UTF8 = 2,
    /// The flag file or JSON failed validation (details in error_out).
    FLAGS_ERROR_INVALID_FLAGS = 3,
    /// A file could not be read.
    FLAGS_ERROR_IO = 4,
    /// The context JSON is invalid (details in error_out).
    FLAGS_ERROR_INVALID_CONTEXT = 5,
    /// The flag server could not be used (unreachable, refused the token, or a bad answer) and no cache could be used.
    FLAGS_ERROR_REMOTE = 6,
    /// An argument is out of range: an empty attribute name, a bad URL, a
    /// bad edit request (its message names the field), an unknown flag.
    FLAGS_ERROR_INVALID_ARGUMENT = 7,
    /// An internal bug, caught at the boundary.
    FLAGS_ERROR_PANIC = 8,
    /// An edit found the file changed since it read it, or waited too long
    /// for another edit's lock: nothing was written; run it again.
    FLAGS_ERROR_CONFLICT = 9,
}

impl flags_result {
    /// The code as returned across the ABI.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Static text for every code; unknown codes get a generic text.
    pub(crate) const fn message_of(code: i32) -> &'static CStr {
        match code {
            0 => c"success",
            1 => c"a required pointer argument was NULL",
            2 => c"a string argument is not valid UTF-8",
            3 => c"the flag file failed validation",
            4 => c"a file could not be read",
            5 => c"the context JSON is invalid",
            6 => c"the flag server could not be used and no cache could be used",
            7 => c"an argument is invalid (an empty attribute name, a bad URL, a bad edit request)",
            8 => c"internal error (a bug in the flags library, caught at the boundary)",
            9 => c"the flag file changed since it was read, or another edit held it too long; nothing was written",
            _ => c"unknown result code",
        }
    }
}

/// Why a flag evaluated the way it did: stable numbers, in evaluation
/// order. `flags_reason_name` gives the name used in JSON and every binding.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)] // C names, as the header spells them
pub enum flags_reason {
    /// The global kill switch (`kill_all`) is on.
    FLAGS_REASON_KILL_ALL = 0,
    /// The file has no flag with that key.
    FLAGS_REASON_FLAG_NOT_FOUND = 1,
    /// The flag's own kill switch (`killed`) is on.
    FLAGS_REASON_KILLED = 2,
    /// A `requires` condition failed (absent attributes fail).
    FLAGS_REASON_REQUIREMENT_UNMET = 3,
    /// The context matched the flag's `deny` lists.
    FLAGS_REASON_DENIED = 4,
    /// The context matched the flag's or the file's `pilots`.
    FLAGS_REASON_PILOT = 5,
    /// The unit's bucket is inside the rollout percentage.
    FLAGS_REASON_ROLLOUT_IN = 6,
    /// The unit's bucket is outside the rollout percentage (or it is 0%).
    FLAGS_REASON_ROLLOUT_OUT = 7,
    /// The rollout is partial and the context lacks the `bucket_by` attribute.
    FLAGS_REASON_MISSING_BUCKET_KEY = 8,
}

impl flags_reason {
    /// The stable number of a core reason.
    pub(crate) const fn of(reason: Reason) -> flags_reason {
        match reason {
            Reason::KillAll => flags_reason::FLAGS_REASON_KILL_ALL,
            Reason::FlagNotFound => flags_reason::FLAGS_REASON_FLAG_NOT_FOUND,
            Reason::Killed => flags_reason::FLAGS_REASON_KILLED,
            Reason::RequirementUnmet => flags_reason::FLAGS_REASON_REQUIREMENT_UNMET,
            Reason::Denied => flags_reason::FLAGS_REASON_DENIED,
            Reason::Pilot => flags_reason::FLAGS_REASON_PILOT,
            Reason::RolloutIn => flags_reason::FLAGS_REASON_ROLLOUT_IN,
            Reason::RolloutOut => flags_reason::FLAGS_REASON_ROLLOUT_OUT,
            Reason::MissingBucketKey => flags_reason::FLAGS_REASON_MISSING_BUCKET_KEY,
        }
    }

    /// The static name of a reason number; `UNKNOWN` for any other number.
    pub(crate) const fn name_of(reason: i32) -> &'static CStr {
        match reason {
            0 => c"KILL_ALL",
            1 => c"FLAG_NOT_FOUND",
            2 => c"KILLED",
            3 => c"REQUIREMENT_UNMET",
            4 => c"DENIED",
            5 => c"PILOT",
            6 => c"ROLLOUT_IN",
            7 => c"ROLLOUT_OUT",
            8 => c"MISSING_BUCKET_KEY",
            _ => c"UNKNOWN",
        }
    }
}

/// The detail of one evaluation, filled by `flags_evaluate` and
/// `flags_evaluate_at`.
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_evaluation {
    /// Whether the feature is on.
    pub enabled: bool,
    /// Why: a `FLAGS_REASON_*` number.
    pub reason: i32,
    /// The rollout bucket, 0..9999, or -1 when not reported (the rollout
    /// did not decide, or the `bucket_by` attribute is absent).
    pub bucket: i32,
    /// The variant, NUL-terminated; NULL when none. Owned by this struct:
    /// release it with `flags_evaluation_clear`.
    pub variant: *mut c_char,
}

impl flags_evaluation {
    /// What an evaluation that could not run reports: off, flag not found.
    pub(crate) const OFF: flags_evaluation = flags_evaluation {
        enabled: false,
        reason: flags_reason::FLAGS_REASON_FLAG_NOT_FOUND as i32,
        bucket: -1,
        variant: std::ptr::null_mut(),
    };
}

/// How to reach a flag server, for `flags_source_open_remote`. Its strings
/// are NUL-terminated and only read during the call.
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_remote_options {
    /// Required: the server's base URL, e.g. `https://flags.example/`.
    pub url: *const c_char,
    /// The cache file for the last good flags, or NULL for none.
    pub cache_path: *const c_char,
    /// A bearer token sent with every request, or NULL.
    pub token: *const c_char,
    /// How often to ask the server for changes; 0: the default, 30000.
    pub refresh_interval_ms: u32,
    /// Timeout of each request; 0: the default, 5000.
    pub timeout_ms: u32,
    /// Also follow GET /v1/stream for immediate updates.
    pub stream: bool,
}
