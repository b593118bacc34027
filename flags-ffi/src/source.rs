//! Sources of flag snapshots: a file (hot-reloading, fork-safe), a JSON
//! string, a flag server.

use std::ffi::c_char;
use std::path::Path;
use std::time::Duration;

use flags_core::Snapshot;
use flags_core::remote::{RemoteOptions, RemoteSource};
use flags_core::watch::{FileSource, SourceStatus};
use serde::Serialize;

use crate::boundary::{Failure, boundary, bytes, handle, optional_c_text, produce, text};
use crate::types::flags_remote_options;
use crate::types::flags_result::*;

/// A source of flag snapshots (opaque). Thread-safe: any number of threads
/// may evaluate with one source at once. Release with `flags_source_free`.
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_source {
    kind: Kind,
}

enum Kind {
    Json(Snapshot),
    /// Always opened with `FileSource::open_on_access`: no thread.
    File(FileSource),
    /// One background thread (`flags-remote`).
    Remote(RemoteSource),
}

/// The health of a source, as `flags_source_status_json` writes it.
#[derive(Serialize)]
struct Status<'a> {
    version: &'a str,
    healthy: bool,
    last_error: Option<&'a str>,
    reloads: u64,
    failures: u64,
    kind: &'static str,
}

impl flags_source {
    /// Runs `f` on the snapshot being served, borrowed: no reference
    /// count is touched on this path.
    #[inline]
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        match &self.kind {
            Kind::Json(snapshot) => f(snapshot),
            Kind::File(file) => f(&file.load()),
            Kind::Remote(remote) => f(&remote.load()),
        }
    }

    fn generation(&self) -> u64 {
        match &self.kind {
            Kind::Json(_) => 0,
            Kind::File(file) => file.generation(),
            Kind::Remote(remote) => remote.generation(),
        }
    }

    fn status_json(&self) -> Result<String, Failure> {
        let json = match &self.kind {
            Kind::Json(snapshot) => serde_json::to_string(&Status {
                version: snapshot.version(),
                healthy: true,
                last_error: None,
                reloads: 0,
                failures: 0,
                kind: "json",
            }),
            Kind::File(file) => serde_json::to_string(&Status::of(&file.status(), "file")),
            Kind::Remote(remote) => serde_json::to_string(&Status::of(&remote.status(), "remote")),
        };
        json.map_err(|e| Failure::new(FLAGS_ERROR_PANIC, e.to_string()))
    }
}

impl<'a> Status<'a> {
    fn of(status: &'a SourceStatus, kind: &'static str) -> Self {
        Status {
            version: &status.version,
            healthy: status.healthy,
            last_error: status.last_error.as_deref(),
            reloads: status.reloads,
            failures: status.failures,
            kind,
        }
    }
}

/// The default of `check_interval_ms`.
const DEFAULT_CHECK_INTERVAL_MS: u32 = 1000;

/// Opens the flag file at `path` (UTF-8, `path_len` bytes). Hot-reloading
/// and fork-safe: no background thread; on access, at most once per
/// `check_interval_ms` (0: the default, 1000), the file's metadata is
/// checked and a changed, valid file swapped in. A bad file keeps the last
/// good flags. Errors: FLAGS_ERROR_IO (unreadable), FLAGS_ERROR_INVALID_FLAGS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_open_file(
    path: *const c_char,
    path_len: usize,
    check_interval_ms: u32,
    out: *mut *mut flags_source,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `path_len` readable bytes, by the crate's rules.
        let path = unsafe { text(path, path_len, "path") }?;
        let file = open_on_access(path, check_interval(check_interval_ms))?;
        Ok(Box::new(flags_source {
            kind: Kind::File(file),
        }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// `check_interval_ms` with 0 meaning the default.
fn check_interval(ms: u32) -> u32 {
    match ms {
        0 => DEFAULT_CHECK_INTERVAL_MS,
        ms => ms,
    }
}

fn open_on_access(path: &str, interval_ms: u32) -> Result<FileSource, Failure> {
    let interval = Duration::from_millis(u64::from(interval_ms));
    FileSource::open_on_access(Path::new(path), interval).map_err(|e| Failure::flags(&e))
}

/// Sources opened with `flags_source_open_file_shared`, by path and
/// interval, for the life of the process.
type SharedSources = std::sync::Mutex<std::collections::HashMap<(String, u32), FileSource>>;

fn shared_sources() -> &'static SharedSources {
    static SHARED: std::sync::OnceLock<SharedSources> = std::sync::OnceLock::new();
    SHARED.get_or_init(SharedSources::default)
}

/// Like `flags_source_open_file`, but the process keeps one source per
/// (path, interval) and every call returns a new handle to it: after the
/// first call, opening costs a lookup, not a read and a parse. For hosts
/// that open the flags on every request and cannot keep objects between
/// requests (PHP under php-fpm). Each handle is still released with
/// `flags_source_free`; the shared source lives until the process exits.
/// A failed open is not remembered: the next call tries the file again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_open_file_shared(
    path: *const c_char,
    path_len: usize,
    check_interval_ms: u32,
    out: *mut *mut flags_source,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `path_len` readable bytes, by the crate's rules.
        let path = unsafe { text(path, path_len, "path") }?;
        let interval = check_interval(check_interval_ms);
        // A panic while the lock was held cannot leave the map half
        // updated (one insert), so a poisoned lock is still usable.
        let mut shared = shared_sources()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (path.to_owned(), interval);
        let file = match shared.get(&key) {
            Some(file) => file.clone(),
            None => {
                let file = open_on_access(path, interval)?;
                shared.insert(key, file.clone());
                file
            }
        };
        Ok(Box::new(flags_source {
            kind: Kind::File(file),
        }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// Opens a flag file held in memory (`json_len` bytes). Errors name the
/// source `<input>`; FLAGS_ERROR_INVALID_FLAGS for any invalid content,
/// including bytes that are not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_open_json(
    json: *const c_char,
    json_len: usize,
    out: *mut *mut flags_source,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `json_len` readable bytes, by the crate's rules.
        let json = unsafe { bytes(json, json_len, "json") }?;
        let snapshot = Snapshot::from_slice(json).map_err(|e| Failure::flags(&e))?;
        Ok(Box::new(flags_source {
            kind: Kind::Json(snapshot),
        }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// Opens a flag server source: fetches GET /v1/flags (with ETag), refreshes
/// on an interval (and on /v1/stream events when `stream`), keeps the last
/// good flags in `cache_path` and starts from that cache when the server
/// cannot be reached (unhealthy, with the reason in the status). Blocks for
/// at most the timeout. Starts one background thread, which does not
/// survive fork(): open it in each worker process, after the fork.
/// Errors: FLAGS_ERROR_INVALID_ARGUMENT (not an http or https URL),
/// FLAGS_ERROR_REMOTE (no usable answer from the server and no usable
/// cache file).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_open_remote(
    options: *const flags_remote_options,
    out: *mut *mut flags_source,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a valid `flags_remote_options`, by the crate's rules.
        let options = unsafe { handle(options, "options") }?;
        // SAFETY: the strings are NULL or NUL-terminated, by the crate's rules.
        let (url, cache_path, token) = unsafe {
            (
                optional_c_text(options.url, "options.url")?,
                optional_c_text(options.cache_path, "options.cache_path")?,
                optional_c_text(options.token, "options.token")?,
            )
        };
        let url = url.ok_or_else(|| Failure::null("options.url"))?;
        if url.is_empty() {
            return Err(Failure::new(
                FLAGS_ERROR_INVALID_ARGUMENT,
                "`options.url` is empty",
            ));
        }
        let mut remote = RemoteOptions::new(url);
        remote.cache_path = cache_path.map(Into::into);
        remote.token = token.map(str::to_owned);
        if options.refresh_interval_ms != 0 {
            remote.refresh_interval = Duration::from_millis(u64::from(options.refresh_interval_ms));
        }
        if options.timeout_ms != 0 {
            remote.timeout = Duration::from_millis(u64::from(options.timeout_ms));
        }
        remote.stream = options.stream;
        let source = RemoteSource::open(remote).map_err(|e| {
            let code = if e.is_invalid_option() {
                FLAGS_ERROR_INVALID_ARGUMENT
            } else {
                FLAGS_ERROR_REMOTE
            };
            Failure::new(code, e.to_string())
        })?;
        Ok(Box::new(flags_source {
            kind: Kind::Remote(source),
        }))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// Releases a source. NULL is ignored. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_free(source: *mut flags_source) {
    boundary(
        |_| (),
        || {
            if !source.is_null() {
                // SAFETY: made by `Box::into_raw` in an open function and
                // released once, by the crate's rules.
                drop(unsafe { Box::from_raw(source) });
            }
        },
    );
}

/// The content hash of the snapshot being served (32 hex digits), owned:
/// release with `flags_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_version(
    source: *const flags_source,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live source, by the crate's rules.
        let source = unsafe { handle(source, "source") }?;
        Ok(source.with_snapshot(|s| s.version().to_owned()))
    };
    // SAFETY: `out` is NULL or valid for writes.
    unsafe { produce(out, std::ptr::null_mut(), body) }
}

/// How many times a new snapshot was swapped in: a cheap way to notice a
/// change. 0 for NULL and before the first swap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_generation(source: *const flags_source) -> u64 {
    boundary(
        |_| 0,
        || {
            // SAFETY: NULL or a live source, by the crate's rules.
            unsafe { source.as_ref() }.map_or(0, flags_source::generation)
        },
    )
}

/// The source's health as an owned JSON object (release with
/// `flags_string_free`): {"version", "healthy", "last_error" (a string or
/// null), "reloads", "failures", "kind" ("file", "json" or "remote")}.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_status_json(
    source: *const flags_source,
    out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or a live source, by the crate's rules.
        unsafe { handle(source, "source") }?.status_json()
    };
    // SAFETY: `out` is NULL or valid for writes.
    unsafe { produce(out, std::ptr::null_mut(), body) }
}
