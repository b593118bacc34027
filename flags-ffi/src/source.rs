//! Sources of flag snapshots: a file (hot-reloading, fork-safe), a JSON
//! string, a flag server.

use std::ffi::c_char;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use flags_core::Snapshot;
use flags_core::remote::{RemoteOptions, RemoteSource};
use flags_core::watch::{FileSource, SourceStatus};
use serde::Serialize;

use crate::boundary::{Failure, boundary, bytes, handle, optional_c_text, produce, str_arg, text};
use crate::types::flags_remote_options;
use crate::types::flags_result::*;

/// A source of flag snapshots (opaque). Thread-safe: any number of threads
/// may evaluate with one source at once. Release with `flags_source_free`
/// (a no-op for the process-lifetime handles of `flags_source_shared`).
#[allow(non_camel_case_types)] // C names, as the header spells them
pub struct flags_source {
    kind: Kind,
    /// A handle of `flags_source_shared`: it lives until the process exits,
    /// and `flags_source_free` leaves it alone.
    process_lifetime: bool,
}

enum Kind {
    Json(Snapshot),
    /// Always opened with `FileSource::open_on_access`: no thread.
    File(FileSource),
    /// One background thread (`flags-remote`).
    Remote(RemoteSource),
}

/// The health of a source, as `flags_source_status_json` (and
/// `flags_client_status_json`) writes it.
#[derive(Serialize)]
pub(crate) struct Status<'a> {
    version: &'a str,
    healthy: bool,
    /// Serving a cached copy: a remote source that started offline.
    stale: bool,
    last_error: Option<&'a str>,
    reloads: u64,
    failures: u64,
    kind: &'static str,
}

impl flags_source {
    /// A handle the caller owns and releases with `flags_source_free`.
    fn owned(kind: Kind) -> Box<Self> {
        Box::new(Self {
            kind,
            process_lifetime: false,
        })
    }

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
                stale: false,
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
    pub(crate) fn of(status: &'a SourceStatus, kind: &'static str) -> Self {
        Status {
            version: &status.version,
            healthy: status.healthy,
            stale: status.stale,
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
        Ok(flags_source::owned(Kind::File(file)))
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

/// One file source shared for the life of the process: what
/// `flags_source_shared` returns and what the handles of
/// `flags_source_open_file_shared` serve. A node of the registry, leaked on
/// purpose, so that a pointer to its source stays valid until the process
/// exits.
struct SharedSource {
    path: Box<str>,
    interval_ms: u32,
    source: flags_source,
    /// The node pushed before this one (NULL for the first). Written before
    /// the node is published, never changed after.
    next: *const SharedSource,
}

/// The registry of shared sources: an append-only list of leaked nodes,
/// newest first, and no lock. A lookup walks it; a first open reads the
/// file with nothing held, then pushes its node with a compare-and-swap.
/// So a `fork()` while another thread is inside an open leaves the child a
/// registry it can use (a lock held across that read would stay locked in
/// the child forever: its holder does not survive the fork). A list, not a
/// hash map: a process has a handful, a lookup borrows the path (the open
/// of every request allocates nothing), and the nodes are held through
/// pointers to their start, which valgrind reports as "still reachable".
static SHARED: AtomicPtr<SharedSource> = AtomicPtr::new(ptr::null_mut());

/// The source for (`path`, `interval_ms`) among the nodes from `node` up
/// to, not including, `end` (NULL: to the end of the list).
fn find(
    mut node: *const SharedSource,
    end: *const SharedSource,
    path: &str,
    interval_ms: u32,
) -> Option<&'static flags_source> {
    while !node.is_null() && node != end {
        // SAFETY: a node of the list: fully written before the Release
        // compare-and-swap that published it (this pointer was read with
        // Acquire, or from such a node's `next`), never changed after, never
        // freed.
        let shared: &'static SharedSource = unsafe { &*node };
        if shared.interval_ms == interval_ms && *shared.path == *path {
            return Some(&shared.source);
        }
        node = shared.next;
    }
    None
}

/// The shared source for (`path`, `interval_ms`), opened on first use. A
/// failed open is not remembered: the next call tries the file again.
fn shared_source(path: &str, interval_ms: u32) -> Result<&'static flags_source, Failure> {
    registered(path, interval_ms, || open_on_access(path, interval_ms))
}

/// The registered source for (`path`, `interval_ms`), or the one `open`
/// gives, registered. `open` runs with no lock held; two first calls at
/// once may both open the file, and the one that registers second drops
/// its own source and returns the first one's.
fn registered(
    path: &str,
    interval_ms: u32,
    open: impl FnOnce() -> Result<FileSource, Failure>,
) -> Result<&'static flags_source, Failure> {
    let mut head = SHARED.load(Ordering::Acquire);
    if let Some(found) = find(head, ptr::null(), path, interval_ms) {
        return Ok(found);
    }
    let file = open()?;
    let node = Box::into_raw(Box::new(SharedSource {
        path: path.into(),
        interval_ms,
        source: flags_source {
            kind: Kind::File(file),
            process_lifetime: true,
        },
        next: head,
    }));
    loop {
        match SHARED.compare_exchange(head, node, Ordering::Release, Ordering::Acquire) {
            // SAFETY: `node` is published and, like every node, never
            // changed or freed again.
            Ok(_) => return Ok(unsafe { &(*node).source }),
            Err(current) => {
                // Nodes pushed since `head` was read: one may be ours.
                if let Some(found) = find(current, head, path, interval_ms) {
                    // SAFETY: made by `Box::into_raw` above and never
                    // published: this thread is its only user.
                    drop(unsafe { Box::from_raw(node) });
                    return Ok(found);
                }
                head = current;
                // SAFETY: not published yet: this thread is its only user.
                unsafe { (*node).next = head };
            }
        }
    }
}

/// Like `flags_source_open_file`, but the process keeps one source per
/// (path, interval), the one `flags_source_shared` returns, and every call
/// returns a new handle to it: after the first call, opening costs a
/// lookup, not a read and a parse. Each handle is released with
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
        let shared = shared_source(path, check_interval(check_interval_ms))?;
        match &shared.kind {
            Kind::File(file) => Ok(flags_source::owned(Kind::File(file.clone()))),
            // `shared_source` registers nothing else.
            Kind::Json(_) | Kind::Remote(_) => Err(Failure::new(
                FLAGS_ERROR_PANIC,
                "internal error, please report it: a shared source that is not a file",
            )),
        }
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// The process-lifetime file source for (`path`, `check_interval_ms`), as
/// `flags_source_open_file` opens it, shared by every caller in the
/// process: the first call reads the file, later ones are a lookup that
/// allocates nothing. NULL on any failure (NULL or non-UTF-8 path, a file
/// that cannot be read or is not valid); call
/// `flags_source_open_file_shared` then for the code and the message. The
/// pointer stays valid until the process exits and is the same for every
/// call with the same path and interval: use it with every function that
/// takes a `const flags_source *`, from any thread. It is not the caller's:
/// do not free it (`flags_source_free` ignores it, so a destructor that
/// frees every source does no harm). For hosts that open the flags on
/// every request and cannot keep objects between requests (PHP under
/// php-fpm): no handle to allocate, receive and free per request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_shared(
    path: *const c_char,
    path_len: usize,
    check_interval_ms: u32,
) -> *const flags_source {
    boundary(
        |_| ptr::null(),
        || {
            // SAFETY: NULL or `path_len` readable bytes, by the crate's rules.
            let Ok(path) = (unsafe { str_arg(path, path_len) }) else {
                return ptr::null();
            };
            shared_source(path, check_interval(check_interval_ms))
                .map_or(ptr::null(), ptr::from_ref)
        },
    )
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
        Ok(flags_source::owned(Kind::Json(snapshot)))
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
        let remote = unsafe { remote_options(options) }?;
        let source = RemoteSource::open(remote).map_err(|e| remote_failure(&e))?;
        Ok(flags_source::owned(Kind::Remote(source)))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// The options of a flag server, read from C.
///
/// # Safety
/// `options` is NULL or a valid `flags_remote_options` whose strings are
/// NULL or NUL-terminated.
pub(crate) unsafe fn remote_options(
    options: *const flags_remote_options,
) -> Result<RemoteOptions, Failure> {
    // SAFETY: forwarded from the caller.
    let options = unsafe { handle(options, "options") }?;
    // SAFETY: the strings are NULL or NUL-terminated, by the caller's contract.
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
    Ok(remote)
}

/// A flag server that could not be used: a bad option, or no usable answer.
pub(crate) fn remote_failure(e: &flags_core::Error) -> Failure {
    let code = if e.is_invalid_option() {
        FLAGS_ERROR_INVALID_ARGUMENT
    } else {
        FLAGS_ERROR_REMOTE
    };
    Failure::new(code, e.to_string())
}

/// Releases a source. NULL and the pointers of `flags_source_shared`
/// (which live until the process exits) are ignored. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_source_free(source: *mut flags_source) {
    boundary(
        |_| (),
        || {
            // SAFETY: NULL or a live source, by the crate's rules.
            let owned = unsafe { source.as_ref() }.is_some_and(|s| !s.process_lifetime);
            if owned {
                // SAFETY: not shared, so made by `Box::into_raw` in an open
                // function, and released once, by the crate's rules.
                drop(unsafe { Box::from_raw(source) });
            }
        },
    );
}

/// The content hash of the snapshot being served (32 hex digits), owned:
/// release with `flags_string_free`. For a file source, the hash of the
/// file's bytes: the content hash `flags status` prints and the ETag of a
/// server serving that file. For a remote source, the hash of the body
/// GET /v1/flags returned (the server's normalized JSON), which is not the
/// server's ETag.
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
    unsafe { produce(out, ptr::null_mut(), body) }
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
/// `flags_string_free`): {"version", "healthy", "stale" (true while a remote
/// source serves its cache file because the server could not be used yet),
/// "last_error" (a string or null), "reloads", "failures", "kind" ("file",
/// "json" or "remote")}.
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
    unsafe { produce(out, ptr::null_mut(), body) }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A flag file in a directory of its own (the registry is per process,
    /// and `cargo test` runs the tests in one).
    fn flag_file(test: &str, json: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flags-ffi-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join("flags.json");
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    fn remove_dir_of(file: &Path) {
        if let Some(dir) = file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    const ON: &str = r#"{"version": 1, "flags": {"f": {"percentage": 100}}}"#;

    fn shared(path: &str, interval: u32) -> *const flags_source {
        // SAFETY: `path` is valid for its length.
        unsafe { flags_source_shared(path.as_ptr().cast(), path.len(), interval) }
    }

    fn is_on(source: *const flags_source) -> bool {
        // SAFETY: a live source and a valid string; NULL context.
        unsafe { crate::flags_is_enabled(source, c"f".as_ptr(), 1, ptr::null()) }
    }

    #[test]
    fn one_process_lifetime_source_per_path_and_interval() {
        let file = flag_file("one-source", ON);
        let path = file
            .to_str()
            .unwrap_or_else(|| panic!("a temp path that is not UTF-8"));
        let source = shared(path, 0);
        assert!(!source.is_null());
        assert!(is_on(source));
        assert_eq!(source, shared(path, 0), "the same pointer every time");
        assert_eq!(source, shared(path, 1000), "0 is the default interval");
        assert_ne!(
            source,
            shared(path, 250),
            "another interval, another source"
        );

        // Freeing it does nothing: it is the process's.
        // SAFETY: a pointer from `flags_source_shared`, which free ignores.
        unsafe { flags_source_free(source.cast_mut()) };
        assert!(is_on(source));

        // The handles of flags_source_open_file_shared serve the same
        // source: with the file gone, they still open (a lookup, no read).
        std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let mut handle = ptr::null_mut();
        // SAFETY: valid string and out-pointer; no error_out.
        let code = unsafe {
            flags_source_open_file_shared(
                path.as_ptr().cast(),
                path.len(),
                0,
                &mut handle,
                ptr::null_mut(),
            )
        };
        assert_eq!(code, FLAGS_OK.code());
        assert!(!handle.is_null() && handle.cast_const() != source);
        assert!(is_on(handle));
        // SAFETY: an owned handle, released once.
        unsafe { flags_source_free(handle) };
        assert!(is_on(source), "freeing a handle leaves the shared source");
        assert_eq!(source, shared(path, 0));
        remove_dir_of(&file);
    }

    /// Two first opens at once: both read the file (no lock is held while
    /// reading), the first to register wins, and the other caller drops
    /// its own source and returns the winner's.
    #[test]
    fn an_open_that_registers_second_returns_the_first_source() {
        let file = flag_file("registers-second", ON);
        let path = file
            .to_str()
            .unwrap_or_else(|| panic!("a temp path that is not UTF-8"));
        let mut first = ptr::null();
        let second = registered(path, DEFAULT_CHECK_INTERVAL_MS, || {
            // Another caller opens and registers the same file meanwhile.
            first = shared(path, 0);
            open_on_access(path, DEFAULT_CHECK_INTERVAL_MS)
        });
        assert!(!first.is_null());
        let second = second.map(ptr::from_ref);
        assert!(
            matches!(second, Ok(second) if second == first),
            "one source per path and interval: {second:?}, {first:?}"
        );
        assert_eq!(first, shared(path, 0));
        assert!(is_on(first));
        remove_dir_of(&file);
    }

    #[test]
    fn null_on_every_failure_and_failures_are_not_remembered() {
        // SAFETY: NULL is allowed here and gives NULL.
        assert!(unsafe { flags_source_shared(ptr::null(), 0, 0) }.is_null());
        // SAFETY: two valid bytes that are not UTF-8.
        assert!(unsafe { flags_source_shared(c"\xff\xfe".as_ptr(), 2, 0) }.is_null());
        let file = flag_file(
            "null-on-failure",
            r#"{"version": 1, "flags": {"f": {"percentage": 101}}}"#,
        );
        let path = file
            .to_str()
            .unwrap_or_else(|| panic!("a temp path that is not UTF-8"));
        assert!(shared(path, 0).is_null(), "an invalid file");
        assert!(
            shared(&format!("{path}.missing"), 0).is_null(),
            "a missing file"
        );
        std::fs::write(&file, ON).unwrap_or_else(|e| panic!("{e}"));
        let source = shared(path, 0);
        assert!(!source.is_null(), "the next call reads the file again");
        assert!(is_on(source));
        remove_dir_of(&file);
    }
}
