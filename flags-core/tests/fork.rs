//! The on-access file source across a real `fork()`, the way PHP-FPM and
//! other pre-forking servers use it: the source is opened in the parent,
//! workers are forked, and every worker must keep reloading the file on its
//! own, with no thread of its own.
//!
//! Each child runs a small check and ends with `_exit(0)` (passed) or
//! `_exit(1)` (failed, with the reason written to a file the parent prints);
//! the parent waits for it with `waitpid` and asserts. Children never print
//! and never return into the test harness.

#![cfg(unix)]
// `fork`, `waitpid`, `kill` and `_exit` are only reachable through `libc`.
// The workspace denies unsafe code; this test file opts out, and every
// unsafe block says why it is sound.
#![allow(unsafe_code)]

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flags_core::Snapshot;
use flags_core::watch::{FileSource, ReloadEvent};

/// How often the sources under test look at their file.
const INTERVAL: Duration = Duration::from_millis(50);
/// How long a child waits for a change before it gives up.
const CHILD_DEADLINE: Duration = Duration::from_secs(10);

/// Forking while another test of this binary runs would copy its threads'
/// half-done work into the child; one forking test at a time.
static FORK: Mutex<()> = Mutex::new(());

/// A one-flag file; each `n` gives different bytes and a different length
/// (so even a file system with coarse timestamps shows the change).
fn file(n: usize) -> String {
    format!(
        r#"{{"version": 1, "flags": {{"a": {{"percentage": {}, "description": "{}"}}}}}}"#,
        n % 101,
        "x".repeat(n)
    )
}

const BAD: &str = r#"{"version": 1, "flags": {"a": {"percentge": 5}}}"#;

fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("test files are valid")
        .version()
        .to_owned()
}

fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("flags.json");
    fs::write(&path, text).expect("write");
    (dir, path)
}

/// Replaces the file the way deploy tools do: a temporary file and a rename.
fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).expect("write");
    fs::rename(&tmp, path).expect("rename");
}

/// Polls `done` until it holds or `deadline` passes.
fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + deadline;
    while !done() {
        if Instant::now() >= end {
            return Err(format!("timed out after {deadline:?} waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

/// A forked child: its id and where it writes why it failed.
struct Child {
    pid: libc::pid_t,
    report: PathBuf,
}

/// Forks; the child runs `body` and exits 0 when it returns `Ok`, 1
/// otherwise (writing the reason to a file in `dir`).
fn fork_child(dir: &Path, name: &str, body: impl FnOnce() -> Result<(), String>) -> Child {
    let report = dir.join(format!("{name}.failure"));
    // SAFETY: `fork` has no preconditions. The child is a copy of this
    // process with only the calling thread; it runs `body` (which does not
    // touch any lock another thread of the harness may hold: no printing)
    // and leaves with `_exit` without returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let outcome = catch_unwind(AssertUnwindSafe(body))
            .unwrap_or_else(|_| Err("the child panicked".to_owned()));
        let code = match outcome {
            Ok(()) => 0,
            Err(reason) => {
                let _ = fs::write(&report, reason);
                1
            }
        };
        // SAFETY: `_exit` ends the child at once, without running the
        // parent's atexit handlers, destructors or test harness.
        unsafe { libc::_exit(code) }
    }
    Child { pid, report }
}

impl Child {
    /// Waits (at most 10 s) for the child and asserts that it passed.
    fn assert_passed(self) {
        let end = Instant::now() + Duration::from_secs(10);
        let mut status: libc::c_int = 0;
        loop {
            // SAFETY: `pid` is our own child and `status` a valid place for
            // the result; WNOHANG makes the call return at once.
            let done = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            assert!(done >= 0, "waitpid: {}", std::io::Error::last_os_error());
            if done == self.pid {
                break;
            }
            if Instant::now() >= end {
                // SAFETY: killing and reaping our own, hung child.
                unsafe {
                    libc::kill(self.pid, libc::SIGKILL);
                    libc::waitpid(self.pid, &mut status, 0);
                }
                panic!("child {} hung", self.pid);
            }
            thread::sleep(Duration::from_millis(5));
        }
        assert!(
            libc::WIFEXITED(status),
            "child {} did not exit normally (status {status:#x})",
            self.pid
        );
        let reason = fs::read_to_string(&self.report).unwrap_or_default();
        assert_eq!(libc::WEXITSTATUS(status), 0, "child failed: {reason}");
    }
}

/// Threads in this process, where /proc tells (Linux).
fn threads() -> Option<usize> {
    fs::read_dir("/proc/self/task").ok().map(Iterator::count)
}

fn open(path: &Path) -> FileSource {
    FileSource::open_on_access(path, INTERVAL).expect("valid file opens")
}

#[test]
fn a_child_sees_a_version_written_after_the_fork() {
    let _one = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, path) = setup(&file(1));
    let source = open(&path);
    assert!(source.is_on_access());
    assert_eq!(source.generation(), 0);
    let new = version(&file(2));

    let child = fork_child(dir.path(), "child", || {
        wait_for("the new version", CHILD_DEADLINE, || {
            *source.snapshot().version() == new
        })?;
        let status = source.status();
        ensure(source.generation() == 1, || {
            format!("generation {}", source.generation())
        })?;
        ensure(status.healthy && status.reloads == 1, || {
            format!("status {status:?}")
        })?;
        // The reload ran on this (the only) thread: no watcher, no worker.
        ensure(threads().is_none_or(|n| n == 1), || {
            format!("{:?} threads in the child", threads())
        })
    });

    thread::sleep(INTERVAL * 2);
    rename_over(&path, &file(2));
    child.assert_passed();

    // The parent's copy reloads too, on its own.
    wait_for("the parent to reload", Duration::from_secs(10), || {
        *source.snapshot().version() == new
    })
    .expect("the parent reloads");
}

#[test]
fn two_children_keep_reloading_independently() {
    let _one = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, path) = setup(&file(1));
    let source = open(&path);
    let (v2, v3) = (version(&file(2)), version(&file(3)));

    let children: Vec<Child> = (0..2)
        .map(|i| {
            let marker = dir.path().join(format!("saw-v2-{i}"));
            let (source, v2, v3) = (&source, &v2, &v3);
            fork_child(dir.path(), &format!("child-{i}"), move || {
                wait_for("version 2", CHILD_DEADLINE, || {
                    *source.load().version() == **v2
                })?;
                fs::write(&marker, "").map_err(|e| e.to_string())?;
                wait_for("version 3", CHILD_DEADLINE * 2, || {
                    *source.load().version() == **v3
                })?;
                let status = source.status();
                ensure(source.generation() == 2 && status.reloads == 2, || {
                    format!("generation {}, status {status:?}", source.generation())
                })
            })
        })
        .collect();

    rename_over(&path, &file(2));
    let markers = [dir.path().join("saw-v2-0"), dir.path().join("saw-v2-1")];
    let seen = wait_for(
        "both children to see version 2",
        Duration::from_secs(10),
        || markers.iter().all(|m| m.exists()),
    );
    // Whatever happened, let the children finish before asserting.
    fs::write(&path, file(3)).expect("write in place");
    for child in children {
        child.assert_passed();
    }
    seen.expect("both children reloaded version 2");

    // The parent never looked in between: it went straight from 1 to 3,
    // whatever its children did.
    assert_eq!(*source.snapshot().version(), v3);
    assert_eq!(source.generation(), 1);
}

#[test]
fn a_bad_edit_keeps_the_last_good_flags_in_a_child() {
    let _one = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, path) = setup(&file(1));
    let source = open(&path);
    let (v1, v2) = (version(&file(1)), version(&file(2)));
    let marker = dir.path().join("reported");

    let child = fork_child(dir.path(), "child", || {
        wait_for("the bad edit to be reported", CHILD_DEADLINE, || {
            !source.status().healthy
        })?;
        let status = source.status();
        ensure(*source.snapshot().version() == v1, || {
            "the bad file replaced the good flags".to_owned()
        })?;
        ensure(status.failures == 1 && status.reloads == 0, || {
            format!("status {status:?}")
        })?;
        let error = status.last_error.unwrap_or_default();
        ensure(error.contains("flags.a.percentge: unknown field"), || {
            format!("last error {error:?}")
        })?;
        ensure(source.generation() == 0, || {
            format!("generation {}", source.generation())
        })?;
        fs::write(&marker, "").map_err(|e| e.to_string())?;

        wait_for("the good edit", CHILD_DEADLINE, || {
            *source.snapshot().version() == v2
        })?;
        let status = source.status();
        ensure(
            status.healthy && status.last_error.is_none() && status.failures == 1,
            || format!("status {status:?}"),
        )
    });

    rename_over(&path, BAD);
    let reported = wait_for("the child to report", Duration::from_secs(10), || {
        marker.exists()
    });
    rename_over(&path, &file(2));
    child.assert_passed();
    reported.expect("the child reported the bad edit");
}

#[test]
fn a_child_forked_during_a_check_takes_the_check_over() {
    let _one = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, path) = setup(&file(1));
    let source = open(&path);
    let v3 = version(&file(3));

    // The first reload's callback stops, in another thread, while that
    // thread holds the check lock: the child is forked right then.
    let stopped = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    {
        let (stopped, go) = (Arc::clone(&stopped), Arc::clone(&go));
        source.on_event(move |event| {
            if matches!(event, ReloadEvent::Reloaded { .. })
                && !stopped.swap(true, Ordering::SeqCst)
            {
                let end = Instant::now() + Duration::from_secs(10);
                while !go.load(Ordering::SeqCst) && Instant::now() < end {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        });
    }
    rename_over(&path, &file(2));
    let checker = {
        let source = source.clone();
        thread::spawn(move || source.reload_now())
    };
    wait_for(
        "the check to stop in its callback",
        Duration::from_secs(10),
        || stopped.load(Ordering::SeqCst),
    )
    .expect("the reload ran");

    let child = fork_child(dir.path(), "child", || {
        // The thread holding the lock does not exist here.
        wait_for("version 3", CHILD_DEADLINE, || {
            *source.snapshot().version() == v3
        })
    });
    rename_over(&path, &file(3));
    child.assert_passed();

    go.store(true, Ordering::SeqCst);
    assert!(
        checker.join().expect("no panic").expect("valid file"),
        "version 2 was swapped in"
    );
    wait_for("the parent to reload", Duration::from_secs(10), || {
        *source.snapshot().version() == v3
    })
    .expect("the parent reloads after its check finished");
}

#[test]
fn on_access_readers_on_many_threads_never_wait_and_see_whole_files() {
    let _one = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (_dir, path) = setup(&file(1));
    // Every access is due for a check: the most contention there can be.
    let source = FileSource::open_on_access(&path, Duration::ZERO).expect("valid");
    let versions: Vec<String> = (1..=40).map(|n| version(&file(n))).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (source, stop, versions) = (source.clone(), Arc::clone(&stop), versions.clone());
            thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let snapshot = source.load();
                    assert!(versions.iter().any(|v| v == snapshot.version()));
                    assert_eq!(snapshot.len(), 1);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 2..=40 {
        rename_over(&path, &file(n));
        thread::sleep(Duration::from_millis(5));
    }
    wait_for("the last version", Duration::from_secs(10), || {
        *source.load().version() == versions[39]
    })
    .expect("the readers' accesses reloaded the file");
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        assert!(reader.join().expect("readers saw only whole files") > 0);
    }
    let status = source.status();
    assert!(status.healthy);
    assert!((1..=39).contains(&status.reloads), "{status:?}");
    assert_eq!(source.generation(), status.reloads);
}
