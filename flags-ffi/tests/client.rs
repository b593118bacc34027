//! The client mode through the C ABI, called exactly as C calls it, against
//! a small OFREP server on loopback (`std::net`): the bulk answer for the
//! posted context with an ETag and `304`s, and a switch to make it fail.
//! The core's own tests (`flags-core/tests/remote_client.rs`) cover the
//! protocol in depth; these check the boundary: results, codes, messages,
//! ownership, NULL and bad arguments.

// Calling the C functions takes unsafe blocks, each with its SAFETY note.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use flags_ffi::flags_result::*;
use flags_ffi::*;

/// What the test server knows.
#[derive(Default)]
struct Server {
    down: AtomicBool,
    requests: AtomicUsize,
    not_modified: AtomicUsize,
    bodies: Mutex<Vec<String>>,
}

/// `beta` is on for user 7 only, with variant `blue`; `theme` is on for
/// everyone, without a flags reason (as another OFREP server answers).
fn answer(body: &str) -> String {
    let pilot = body.contains(r#""user_id":"7""#);
    format!(
        r#"{{"flags":[{{"key":"beta","value":{pilot},"reason":"TARGETING_MATCH","variant":"{}","metadata":{{"flagsReason":"{}",{}"version":"v1"}}}},{{"key":"theme","value":true,"reason":"STATIC"}}]}}"#,
        if pilot { "blue" } else { "off" },
        if pilot { "PILOT" } else { "ROLLOUT_OUT" },
        if pilot {
            r#""flagsVariant":"blue","#
        } else {
            ""
        },
    )
}

fn start() -> (String, Arc<Server>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = Arc::new(Server::default());
    let shared = Arc::clone(&server);
    thread::spawn(move || {
        for connection in listener.incoming().flatten() {
            let server = Arc::clone(&shared);
            thread::spawn(move || serve(&server, connection));
        }
    });
    (url, server)
}

fn serve(server: &Server, mut connection: TcpStream) {
    if server.down.load(Ordering::SeqCst) {
        return;
    }
    let _ = connection.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&connection);
    let mut line = String::new();
    let (mut length, mut if_none_match) = (0, None);
    let _ = reader.read_line(&mut line);
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    loop {
        line.clear();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "if-none-match" => if_none_match = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, etag, payload) = if path == "/ofrep/v1/evaluate/flags" {
        server.requests.fetch_add(1, Ordering::SeqCst);
        let payload = answer(&body);
        server.bodies.lock().expect("not poisoned").push(body);
        let etag = format!("\"{}\"", payload.len());
        if if_none_match.as_deref() == Some(&*etag) {
            server.not_modified.fetch_add(1, Ordering::SeqCst);
            ("304 Not Modified", etag, String::new())
        } else {
            ("200 OK", etag, payload)
        }
    } else {
        ("404 Not Found", "\"x\"".to_owned(), "{}".to_owned())
    };
    let _ = write!(
        connection,
        "HTTP/1.1 {status}\r\netag: {etag}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{payload}",
        payload.len()
    );
}

fn options(url: &CString) -> flags_remote_options {
    flags_remote_options {
        url: url.as_ptr(),
        cache_path: ptr::null(),
        token: ptr::null(),
        refresh_interval_ms: 3_600_000,
        timeout_ms: 5000,
        stream: false,
    }
}

fn context(json: &str) -> *mut flags_context {
    let mut ctx = ptr::null_mut();
    // SAFETY: a valid string and out-pointer.
    let code = unsafe {
        flags_context_from_json(json.as_ptr().cast(), json.len(), &mut ctx, ptr::null_mut())
    };
    assert_eq!(code, FLAGS_OK.code());
    ctx
}

/// Takes an owned string from the library.
fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: an owned, NUL-terminated string from the library, freed once.
    unsafe {
        let text = CStr::from_ptr(s).to_string_lossy().into_owned();
        flags_string_free(s);
        text
    }
}

fn open(
    options: &flags_remote_options,
    ctx: *const flags_context,
) -> Result<*mut flags_client, (i32, String)> {
    let (mut client, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid options, context and out-pointers.
    let code = unsafe { flags_client_open(options, ctx, &mut client, &mut error) };
    if code == FLAGS_OK.code() {
        assert!(error.is_null() && !client.is_null());
        Ok(client)
    } else {
        assert!(client.is_null());
        Err((code, take(error)))
    }
}

fn on(client: *const flags_client, flag: &str) -> bool {
    // SAFETY: a live client (or NULL) and a valid string.
    unsafe { flags_client_is_enabled(client, flag.as_ptr().cast(), flag.len()) }
}

fn evaluate(client: *const flags_client, flag: &str) -> (i32, bool, String, i32, Option<String>) {
    let mut out = flags_evaluation {
        enabled: true,
        reason: 99,
        bucket: 5,
        variant: ptr::null_mut(),
    };
    // SAFETY: a live client and valid pointers.
    let code = unsafe { flags_client_evaluate(client, flag.as_ptr().cast(), flag.len(), &mut out) };
    // SAFETY: a static string.
    let reason = unsafe { CStr::from_ptr(flags_reason_name(out.reason)) }
        .to_string_lossy()
        .into_owned();
    let variant = (!out.variant.is_null())
        // SAFETY: NUL-terminated and owned by `out` until cleared.
        .then(|| {
            unsafe { CStr::from_ptr(out.variant) }
                .to_string_lossy()
                .into_owned()
        });
    // SAFETY: `out` was filled by the library.
    unsafe { flags_evaluation_clear(&mut out) };
    (code, out.enabled, reason, out.bucket, variant)
}

fn status_of(client: *const flags_client) -> serde_json::Value {
    let mut out = ptr::null_mut();
    // SAFETY: a live client and a valid out-pointer.
    assert_eq!(
        unsafe { flags_client_status_json(client, &mut out) },
        FLAGS_OK.code()
    );
    serde_json::from_str(&take(out)).expect("JSON")
}

#[test]
fn answers_detail_refresh_and_status() {
    let (url, server) = start();
    let url = CString::new(url).expect("no NUL");
    let ctx = context(r#"{"user_id": "7"}"#);
    let client = open(&options(&url), ctx).expect("opens");
    // SAFETY: the client copied the context.
    unsafe { flags_context_free(ctx) };
    assert_eq!(
        server.bodies.lock().expect("not poisoned")[0],
        r#"{"context":{"user_id":"7"}}"#
    );
    assert!(on(client, "beta") && on(client, "theme"));
    assert!(!on(client, "missing"));
    assert_eq!(
        evaluate(client, "beta"),
        (0, true, "PILOT".into(), -1, Some("blue".into()))
    );
    assert_eq!(
        evaluate(client, "theme"),
        (0, true, "UNKNOWN".into(), -1, None)
    );
    assert_eq!(
        evaluate(client, "missing"),
        (0, false, "FLAG_NOT_FOUND".into(), -1, None)
    );

    let mut variant = ptr::null_mut();
    // SAFETY: a live client, valid string and out-pointer.
    assert_eq!(
        unsafe { flags_client_variant(client, c"beta".as_ptr(), 4, &mut variant) },
        0
    );
    assert_eq!(take(variant), "blue");
    // SAFETY: as above.
    assert_eq!(
        unsafe { flags_client_variant(client, c"theme".as_ptr(), 5, &mut variant) },
        0
    );
    assert!(variant.is_null(), "no variant: NULL");

    let mut version = ptr::null_mut();
    // SAFETY: a live client and a valid out-pointer.
    assert_eq!(unsafe { flags_client_version(client, &mut version) }, 0);
    let version = take(version);
    assert_eq!(version.len(), 32);
    let status = status_of(client);
    assert_eq!(status["kind"], "client");
    assert_eq!(status["healthy"], true);
    assert_eq!(status["version"], version.as_str());

    // Unchanged: a 304, nothing changed.
    let mut changed = true;
    // SAFETY: a live client and valid out-pointers.
    let code = unsafe { flags_client_refresh(client, &mut changed, ptr::null_mut()) };
    assert_eq!((code, changed), (0, false));
    assert_eq!(server.not_modified.load(Ordering::SeqCst), 1);

    // Unreachable: the last answers stay, the reason is given.
    server.down.store(true, Ordering::SeqCst);
    let mut error = ptr::null_mut();
    // SAFETY: as above; `changed_out` may be NULL.
    let code = unsafe { flags_client_refresh(client, ptr::null_mut(), &mut error) };
    assert_eq!(code, FLAGS_ERROR_REMOTE.code());
    assert!(take(error).contains("ofrep/v1/evaluate/flags: cannot fetch"));
    assert!(on(client, "beta"));
    let status = status_of(client);
    assert_eq!(status["healthy"], false);
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot fetch"))
    );
    // SAFETY: released once.
    unsafe { flags_client_free(client) };
}

#[test]
fn set_context_asks_for_the_new_context() {
    let (url, server) = start();
    let url = CString::new(url).expect("no NUL");
    // NULL: the empty context.
    let client = open(&options(&url), ptr::null()).expect("opens");
    assert!(!on(client, "beta"));
    assert_eq!(flags_client_generation_of(client), 0);
    let ctx = context(r#"{"user_id": 7}"#);
    // SAFETY: live handles; no error_out.
    assert_eq!(
        unsafe { flags_client_set_context(client, ctx, ptr::null_mut()) },
        0
    );
    assert!(on(client, "beta"));
    assert_eq!(flags_client_generation_of(client), 1);
    assert_eq!(
        server
            .bodies
            .lock()
            .expect("not poisoned")
            .last()
            .map(String::as_str),
        Some(r#"{"context":{"user_id":"7"}}"#)
    );
    // Down: another context gets no answers, not user 7's.
    server.down.store(true, Ordering::SeqCst);
    let mut error = ptr::null_mut();
    // SAFETY: live client, NULL context (empty), valid error_out.
    let code = unsafe { flags_client_set_context(client, ptr::null(), &mut error) };
    assert_eq!(code, FLAGS_ERROR_REMOTE.code());
    assert!(!take(error).is_empty());
    assert!(!on(client, "beta") && !on(client, "theme"));
    // SAFETY: released once.
    unsafe {
        flags_context_free(ctx);
        flags_client_free(client);
    }
}

fn flags_client_generation_of(client: *const flags_client) -> u64 {
    // SAFETY: a live client.
    unsafe { flags_client_generation(client) }
}

#[test]
fn the_cache_serves_an_offline_start_for_the_same_context() {
    let (url, server) = start();
    let url = CString::new(url).expect("no NUL");
    let dir = std::env::temp_dir().join(format!("flags-ffi-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let cache = CString::new(dir.join("client.json").to_str().expect("UTF-8")).expect("no NUL");
    let mut opts = options(&url);
    opts.cache_path = cache.as_ptr();
    let pilot = context(r#"{"user_id": "7"}"#);
    let client = open(&opts, pilot).expect("opens");
    // SAFETY: released once.
    unsafe { flags_client_free(client) };

    server.down.store(true, Ordering::SeqCst);
    let client = open(&opts, pilot).expect("starts from the cache");
    assert!(on(client, "beta"));
    let status = status_of(client);
    assert_eq!(
        (status["healthy"].clone(), status["stale"].clone()),
        (false.into(), true.into())
    );
    // SAFETY: released once.
    unsafe { flags_client_free(client) };

    let other = context(r#"{"user_id": "8"}"#);
    let (code, message) = open(&opts, other).expect_err("another context");
    assert_eq!(code, FLAGS_ERROR_REMOTE.code());
    assert!(
        message.contains("holds answers for another context"),
        "{message}"
    );
    // SAFETY: released once.
    unsafe {
        flags_context_free(pilot);
        flags_context_free(other);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_codes_and_messages() {
    // NULL options, NULL url, a bad URL, NULL out.
    assert_eq!(open_raw(ptr::null()), FLAGS_ERROR_NULL_ARGUMENT.code());
    let url = CString::new("ftp://example.com").expect("no NUL");
    let mut opts = options(&url);
    let (code, message) = open(&opts, ptr::null()).expect_err("not http");
    assert_eq!(code, FLAGS_ERROR_INVALID_ARGUMENT.code());
    assert!(
        message.contains("expected an http or https URL"),
        "{message}"
    );
    opts.url = ptr::null();
    assert_eq!(open_raw(&opts), FLAGS_ERROR_NULL_ARGUMENT.code());
    let nowhere = CString::new("http://127.0.0.1:1").expect("no NUL");
    let (code, message) = open(&options(&nowhere), ptr::null()).expect_err("unreachable");
    assert_eq!(code, FLAGS_ERROR_REMOTE.code());
    assert!(message.contains("cannot fetch"), "{message}");

    // NULL client: false, codes, nothing written but the "off" answer.
    assert!(!on(ptr::null(), "beta"));
    assert_eq!(
        evaluate(ptr::null(), "beta").0,
        FLAGS_ERROR_NULL_ARGUMENT.code()
    );
    let mut out = ptr::null_mut();
    // SAFETY: NULL handles are allowed and refused.
    unsafe {
        assert_eq!(
            flags_client_version(ptr::null(), &mut out),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        assert_eq!(
            flags_client_status_json(ptr::null(), &mut out),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        assert_eq!(
            flags_client_refresh(ptr::null(), ptr::null_mut(), ptr::null_mut()),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        assert_eq!(
            flags_client_set_context(ptr::null(), ptr::null(), ptr::null_mut()),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        assert_eq!(
            flags_client_variant(ptr::null(), c"a".as_ptr(), 1, &mut out),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        assert_eq!(flags_client_generation(ptr::null()), 0);
        flags_client_free(ptr::null_mut());
    }

    // A live client with a flag name that is not UTF-8.
    let (url, _server) = start();
    let url = CString::new(url).expect("no NUL");
    let client = open(&options(&url), ptr::null()).expect("opens");
    let bad = b"\xff\xfe";
    // SAFETY: a live client and two readable bytes.
    unsafe {
        assert!(!flags_client_is_enabled(client, bad.as_ptr().cast(), 2));
        assert_eq!(
            flags_client_variant(client, bad.as_ptr().cast(), 2, &mut out),
            FLAGS_ERROR_INVALID_UTF8.code()
        );
        assert_eq!(
            flags_client_variant(client, c"beta".as_ptr(), 4, ptr::null_mut()),
            FLAGS_ERROR_NULL_ARGUMENT.code()
        );
        flags_client_free(client);
    }
    assert_eq!(evaluate_bad_utf8(), FLAGS_ERROR_NULL_ARGUMENT.code());
}

fn open_raw(options: *const flags_remote_options) -> i32 {
    let mut client = ptr::null_mut();
    // SAFETY: `options` is NULL or valid; a valid out-pointer.
    unsafe { flags_client_open(options, ptr::null(), &mut client, ptr::null_mut()) }
}

fn evaluate_bad_utf8() -> i32 {
    // SAFETY: NULL client and NULL out: refused.
    unsafe { flags_client_evaluate(ptr::null(), c"a".as_ptr(), 1, ptr::null_mut()) }
}
