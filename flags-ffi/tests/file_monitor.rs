//! `flags_file_monitor_json` called as C calls it, against a fake
//! Prometheus written here with `std::net`: the document of `flags status
//! --prometheus --json`, a bounded wait when Prometheus never answers, and
//! every bad argument refused saying which.

// Calling the C functions takes unsafe blocks, each with its SAFETY note.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::ptr;
use std::time::{Duration, Instant};

use flags_ffi::{flags_file_monitor_json, flags_result, flags_string_free};
use serde_json::Value;

const GUARDED: &str = r#"{
  "version": 1,
  "flags": {
    "checkout": {
      "percentage": 100,
      "guard": {"query": "checkout_error_ratio", "above": 0.05, "for": "2m", "action": "kill"}
    },
    "plain": {"percentage": 10}
  }
}
"#;

/// A fake Prometheus answering every query with `value` (a scalar), or
/// holding every connection without an answer when `value` is None.
fn fake_prometheus(value: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, value));
        }
    });
    format!("http://{addr}")
}

fn serve(mut stream: TcpStream, value: Option<&str>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let Some(value) = value else {
        std::thread::sleep(Duration::from_secs(120));
        return;
    };
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{value}"]}}}}"#
    );
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flags-ffi-monitor-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("flags.json");
    std::fs::write(&path, GUARDED).expect("write");
    path
}

fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: an owned, NUL-terminated string of the library, freed once.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    // SAFETY: as above.
    unsafe { flags_string_free(s) };
    Some(text)
}

fn monitor(path: &str, url: &str, timeout_ms: u32) -> (i32, Option<String>, Option<String>) {
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: both texts are valid for their lengths; valid out-pointers.
    let code = unsafe {
        flags_file_monitor_json(
            path.as_ptr().cast(),
            path.len(),
            url.as_ptr().cast(),
            url.len(),
            timeout_ms,
            &mut out,
            &mut error,
        )
    };
    (code, take(out), take(error))
}

#[test]
fn the_document_of_flags_status_prometheus_json() {
    let url = fake_prometheus(Some("0.09"));
    let path = file("crossed");
    let path = path.to_str().expect("UTF-8");
    let (code, out, error) = monitor(path, &url, 10_000);
    assert_eq!((code, error), (flags_result::FLAGS_OK.code(), None));
    let doc: Value = serde_json::from_str(&out.expect("out")).expect("JSON");
    let checkout = doc["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["key"] == "checkout")
        .expect("checkout");
    assert_eq!(checkout["guard"]["now"]["value"], 0.09);
    assert_eq!(checkout["guard"]["now"]["crossed"], true);
    assert_eq!(
        doc["recommendation"],
        format!(
            "GUARD CROSSED on checkout: 0.09 above 0.05 -- a running `flags guard` kills it once \
             it has held for 2m; or run `flags kill {path} checkout` now"
        )
        .as_str()
    );
}

#[test]
fn a_silent_prometheus_holds_the_caller_no_longer_than_its_timeout() {
    let url = fake_prometheus(None);
    let path = file("silent");
    let started = Instant::now();
    let (code, out, error) = monitor(path.to_str().expect("UTF-8"), &url, 300);
    // Far below the fake's 120 s hold; generous for 2 busy cores.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((code, error), (flags_result::FLAGS_OK.code(), None));
    let doc: Value = serde_json::from_str(&out.expect("out")).expect("JSON");
    let now = &doc["flags"][0]["guard"]["now"];
    assert_eq!(now["value"], Value::Null, "{doc}");
    assert!(
        now["no_data"]
            .as_str()
            .is_some_and(|w| w.contains("gave no answer within 300 ms")),
        "{doc}"
    );
    assert!(
        doc["recommendation"]
            .as_str()
            .is_some_and(|r| r.starts_with("NO DATA for the guard of checkout")),
        "{doc}"
    );
}

#[test]
fn bad_arguments_are_refused_saying_which() {
    let path = file("bad");
    let path = path.to_str().expect("UTF-8");
    let invalid = flags_result::FLAGS_ERROR_INVALID_ARGUMENT.code();
    let url = "http://127.0.0.1:9";
    assert_eq!(
        monitor("", url, 1000),
        (invalid, None, Some("`path` is empty".into()))
    );
    let (code, out, error) = monitor(path, "localhost:9090", 1000);
    assert_eq!((code, out), (invalid, None));
    assert_eq!(
        error.as_deref(),
        Some("`prometheus_url` localhost:9090: expected an http:// or https:// URL")
    );
    for ms in [0, 60_001] {
        let (code, _, error) = monitor(path, url, ms);
        assert_eq!(code, invalid);
        assert_eq!(
            error,
            Some(format!(
                "`timeout_ms`: expected milliseconds from 1 to 60000, found {ms}"
            ))
        );
    }
    let (code, _, error) = monitor("/nonexistent/flags.json", url, 1000);
    assert_eq!(code, flags_result::FLAGS_ERROR_IO.code(), "{error:?}");
    let (mut out, mut error) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: NULL texts with length 0; valid out-pointers.
    let code = unsafe {
        flags_file_monitor_json(
            path.as_ptr().cast(),
            path.len(),
            ptr::null(),
            0,
            1000,
            &mut out,
            &mut error,
        )
    };
    assert_eq!(code, flags_result::FLAGS_ERROR_NULL_ARGUMENT.code());
    assert!(out.is_null());
    assert_eq!(take(error).as_deref(), Some("`prometheus_url` is NULL"));
}
