//! What the file-source tests share: flag files, waiting for a condition
//! with a deadline (never a fixed sleep), and recording events.

// Each test file uses its own part of these.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flags_core::Snapshot;
use flags_core::watch::{FileSource, ReloadEvent, WatchOptions};

pub const DEADLINE: Duration = Duration::from_secs(15);

/// A one-flag file; each percentage gives different bytes.
pub fn file(percentage: u32) -> String {
    format!(r#"{{"version": 1, "flags": {{"a": {{"percentage": {percentage}}}}}}}"#)
}

/// A file with `n` flags, all at `percentage`.
pub fn many(n: usize, percentage: u32) -> String {
    let flags: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"    "flag_{i:02}": {{"percentage": {percentage}, "owner": "team-{i}"}}"#)
        })
        .collect();
    format!(
        "{{\n  \"version\": 1,\n  \"flags\": {{\n{}\n  }}\n}}\n",
        flags.join(",\n")
    )
}

pub fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("test files are valid")
        .version()
        .to_owned()
}

/// A directory holding `flags.json` with `text`.
pub fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("flags.json");
    fs::write(&path, text).expect("write");
    (dir, path)
}

pub fn open(path: &Path) -> FileSource {
    FileSource::open(path, WatchOptions::default()).expect("valid file opens")
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the source serves exactly `text`.
pub fn wait_serving(source: &FileSource, text: &str) {
    let want = version(text);
    wait_until("the new content", || *source.snapshot().version() == want);
}

pub fn record(source: &FileSource) -> Arc<Mutex<Vec<ReloadEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    source.on_event(move |event| sink.lock().expect("not poisoned").push(event.clone()));
    events
}

pub fn events(events: &Mutex<Vec<ReloadEvent>>) -> Vec<ReloadEvent> {
    events.lock().expect("not poisoned").clone()
}

/// Waits until `n` events were recorded, then returns them. The status and
/// the served snapshot change before the callbacks run, so a test that saw
/// the new status must still wait for the event.
pub fn wait_events(seen: &Mutex<Vec<ReloadEvent>>, n: usize) -> Vec<ReloadEvent> {
    wait_until(&format!("{n} events"), || events(seen).len() >= n);
    events(seen)
}

/// Writes via a temporary file in the same directory and a rename.
pub fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).expect("write");
    fs::rename(&tmp, path).expect("rename");
}
