//! Printing on stdout when its reader may go away (`flags status | head -5`).
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has closed fails
//! with "broken pipe" and `println!` panics. Every command of the `flags`
//! binary prints through [`print()`] instead: a closed stdout stops the
//! printing and nothing else (a read-only command exits 0; an edit is still
//! written and audited). Any other write error (a full disk behind `>`) is
//! kept for [`failure`], which `main` reports with exit status 1.

use std::io::{self, Write as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: nothing more is printed.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// The first write error other than a closed pipe.
static FAILURE: OnceLock<String> = OnceLock::new();

/// Writes `text` to stdout as is, and flushes it. Never panics; see the
/// module documentation for what happens when the write fails.
pub fn print(text: &str) {
    if STOPPED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        stopped(&e);
    }
}

/// Writes `line` and a newline to stdout, as [`print()`].
pub fn print_line(line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    print(&text);
}

/// Records that writing to stdout failed with `error`: nothing more is
/// printed, and an error other than a closed pipe becomes [`failure`].
pub fn stopped(error: &io::Error) {
    STOPPED.store(true, Ordering::Relaxed);
    if !is_closed(error) {
        let _ = FAILURE.set(error.to_string());
    }
}

/// Whether `error` says the reader of stdout went away.
pub fn is_closed(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// The first error writing to stdout other than a closed pipe, if any.
pub fn failure() -> Option<&'static str> {
    FAILURE.get().map(String::as_str)
}

/// Whether printing stopped (a closed stdout or a write error): what a
/// command that prints for ever (`flags status --watch`) stops on.
pub fn is_stopped() -> bool {
    STOPPED.load(Ordering::Relaxed)
}
