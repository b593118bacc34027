//! The hot-reloading file source against real files: every way a flag file
//! gets replaced, bad edits, bursts, slow writers and concurrent readers.
//!
//! Tests wait for a condition with a deadline instead of sleeping a fixed
//! time, so they are fast when things work and fail clearly when not.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flags_core::Snapshot;
use flags_core::watch::{Changes, FileSource, ReloadEvent, WatchOptions};

const DEADLINE: Duration = Duration::from_secs(15);

/// A one-flag file; each percentage gives different bytes.
fn file(percentage: u32) -> String {
    format!(r#"{{"version": 1, "flags": {{"a": {{"percentage": {percentage}}}}}}}"#)
}

/// A file with `n` flags, all at `percentage`.
fn many(n: usize, percentage: u32) -> String {
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

fn version(text: &str) -> String {
    Snapshot::from_slice(text.as_bytes())
        .expect("test files are valid")
        .version()
        .to_owned()
}

/// A directory holding `flags.json` with `text`.
fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("flags.json");
    fs::write(&path, text).expect("write");
    (dir, path)
}

fn open(path: &Path) -> FileSource {
    FileSource::open(path, WatchOptions::default()).expect("valid file opens")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the source serves exactly `text`.
fn wait_serving(source: &FileSource, text: &str) {
    let want = version(text);
    wait_until("the new content", || *source.snapshot().version() == want);
}

fn record(source: &FileSource) -> Arc<Mutex<Vec<ReloadEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    source.on_event(move |event| sink.lock().expect("not poisoned").push(event.clone()));
    events
}

fn events(events: &Mutex<Vec<ReloadEvent>>) -> Vec<ReloadEvent> {
    events.lock().expect("not poisoned").clone()
}

/// Waits until `n` events were recorded, then returns them. The status and
/// the served snapshot change before the callbacks run, so a test that saw
/// the new status must still wait for the event.
fn wait_events(seen: &Mutex<Vec<ReloadEvent>>, n: usize) -> Vec<ReloadEvent> {
    wait_until(&format!("{n} events"), || events(seen).len() >= n);
    events(seen)
}

/// Writes via a temporary file in the same directory and a rename.
fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).expect("write");
    fs::rename(&tmp, path).expect("rename");
}

#[test]
fn in_place_write() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    assert_eq!(*source.snapshot().version(), version(&file(1)));
    assert_eq!(source.path(), path);

    fs::write(&path, file(2)).expect("truncate and write");
    wait_serving(&source, &file(2));
    let status = source.status();
    assert!(status.healthy);
    assert_eq!(status.reloads, 1);
    assert_eq!(status.version, version(&file(2)));
}

#[test]
fn rename_over_the_file() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    rename_over(&path, &file(2));
    wait_serving(&source, &file(2));
    rename_over(&path, &file(3));
    wait_serving(&source, &file(3));
    assert_eq!(source.status().reloads, 2);
}

#[cfg(unix)]
#[test]
fn configmap_symlink_swap() {
    use std::os::unix::fs::symlink;
    // The layout the kubelet writes for a mounted ConfigMap.
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    fs::create_dir(root.join("..2026_a")).expect("mkdir");
    fs::write(root.join("..2026_a/flags.json"), file(1)).expect("write");
    symlink("..2026_a", root.join("..data")).expect("symlink");
    symlink("..data/flags.json", root.join("flags.json")).expect("symlink");
    let source = open(&root.join("flags.json"));
    assert_eq!(*source.snapshot().version(), version(&file(1)));

    // An update: a new timestamped directory, then an atomic swap of `..data`.
    fs::create_dir(root.join("..2026_b")).expect("mkdir");
    fs::write(root.join("..2026_b/flags.json"), file(2)).expect("write");
    symlink("..2026_b", root.join("..data_tmp")).expect("symlink");
    fs::rename(root.join("..data_tmp"), root.join("..data")).expect("rename");
    fs::remove_dir_all(root.join("..2026_a")).expect("remove the old version");

    wait_serving(&source, &file(2));
    assert!(source.status().healthy);
}

#[test]
fn delete_then_recreate() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    fs::remove_file(&path).expect("delete");

    wait_until("the deletion to be reported", || !source.status().healthy);
    assert_eq!(
        *source.snapshot().version(),
        version(&file(1)),
        "last good snapshot serves"
    );
    let error = source
        .status()
        .last_error
        .expect("an error while unhealthy");
    assert!(
        error.starts_with(&format!("{}: cannot read:", path.display())),
        "{error}"
    );

    fs::write(&path, file(2)).expect("re-create");
    wait_serving(&source, &file(2));
    let status = source.status();
    assert!(status.healthy);
    assert_eq!(status.last_error, None);
    assert_eq!((status.reloads, status.failures), (1, 1));
}

#[test]
fn burst_of_100_writes_ends_on_the_last_content() {
    let (_dir, path) = setup(&file(100));
    let source = open(&path);
    for percentage in 0..100 {
        fs::write(&path, file(percentage)).expect("write");
    }
    wait_serving(&source, &file(99));
    let reloads = source.status().reloads;
    assert!(
        (1..=20).contains(&reloads),
        "the burst is debounced, not read 100 times: {reloads} reloads"
    );
}

#[test]
fn slow_writer_is_never_served_half_a_file() {
    let old = many(20, 0);
    let new = many(20, 100);
    let (old_version, new_version) = (version(&old), version(&new));
    let (_dir, path) = setup(&old);
    let source = open(&path);

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (source, stop) = (source.clone(), Arc::clone(&stop));
        let (old_version, new_version) = (old_version.clone(), new_version.clone());
        thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let snapshot = source.snapshot();
                let v = snapshot.version();
                assert!(v == old_version || v == new_version, "served {v}");
                assert_eq!(snapshot.len(), 20);
                reads += 1;
            }
            reads
        })
    };

    let mut f = fs::File::create(&path).expect("truncate");
    let (first, rest) = new.split_at(new.len() / 2);
    f.write_all(first.as_bytes()).expect("write");
    f.flush().expect("flush");
    thread::sleep(Duration::from_millis(50));
    f.write_all(rest.as_bytes()).expect("write");
    drop(f);

    wait_serving(&source, &new);
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().expect("the reader saw only whole files") > 0);
    assert!(source.status().healthy);
}

#[test]
fn bad_edit_keeps_the_last_good_flags_then_a_good_edit_recovers() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    let seen = record(&source);

    let bad = r#"{"version": 1, "flags": {"x": {"percentge": 5}}}"#;
    fs::write(&path, bad).expect("write");
    wait_until("the bad edit to be reported", || !source.status().healthy);

    assert_eq!(
        *source.snapshot().version(),
        version(&file(1)),
        "last good snapshot serves"
    );
    let status = source.status();
    let error = status.last_error.expect("an error while unhealthy");
    assert!(
        error.starts_with(&format!(
            "{}:1:32: flags.x.percentge: unknown field \"percentge\"; did you mean \"percentage\"?",
            path.display()
        )),
        "{error}"
    );
    assert_eq!((status.reloads, status.failures), (0, 1));
    assert!(
        matches!(&wait_events(&seen, 1)[..], [ReloadEvent::Failed { error: e }] if *e == error)
    );

    // The same bad content again is not a new failure, however it is seen.
    fs::write(&path, bad).expect("write");
    let again = source.reload_now().expect_err("still bad");
    assert_eq!(again.diagnostics()[0].line(), 1);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(source.status().failures, 1);
    assert_eq!(events(&seen).len(), 1);

    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
    let status = source.status();
    assert!(status.healthy);
    assert_eq!(status.last_error, None);
    assert_eq!((status.reloads, status.failures), (1, 1));
    match &wait_events(&seen, 2)[..] {
        [
            ReloadEvent::Failed { .. },
            ReloadEvent::Reloaded {
                version: v,
                previous,
                changes,
            },
        ] => {
            assert_eq!(*v, version(&file(2)));
            assert_eq!(*previous, version(&file(1)));
            assert_eq!(
                *changes,
                Changes {
                    changed: vec!["a".into()],
                    ..Changes::default()
                }
            );
        }
        other => panic!("unexpected events {other:?}"),
    }
}

#[test]
fn going_back_to_the_served_content_recovers() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    let seen = record(&source);
    fs::write(&path, "").expect("empty the file");
    wait_until("the empty file to be reported", || !source.status().healthy);
    assert_eq!(*source.snapshot().version(), version(&file(1)));

    fs::write(&path, file(1)).expect("write");
    wait_until("recovery", || source.status().healthy);
    let status = source.status();
    assert_eq!(
        (status.reloads, status.failures, status.last_error),
        (0, 1, None)
    );
    let v = version(&file(1));
    assert!(matches!(
        &wait_events(&seen, 2)[..],
        [ReloadEvent::Failed { .. }, ReloadEvent::Reloaded { version, previous, changes }]
            if *version == v && *previous == v && changes.is_empty()
    ));
}

#[test]
fn unchanged_rewrite_is_not_a_reload() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    let seen = record(&source);
    assert_eq!(source.status().last_attempt_at, None);

    fs::write(&path, file(1)).expect("same bytes");
    wait_until("the file to be read again", || {
        source.status().last_attempt_at.is_some()
    });
    assert!(!source.reload_now().expect("valid"));
    let status = source.status();
    assert_eq!((status.reloads, status.failures), (0, 0));
    assert!(status.healthy);
    assert!(events(&seen).is_empty());

    fs::write(&path, file(2)).expect("write");
    assert!(
        source.reload_now().expect("valid"),
        "reload_now swaps at once"
    );
    assert_eq!(*source.snapshot().version(), version(&file(2)));
}

#[test]
fn metadata_poll_works_without_events() {
    let (_dir, path) = setup(&file(1));
    let options = WatchOptions {
        poll_interval: Duration::from_millis(100),
        watch_events: false,
        ..WatchOptions::default()
    };
    let source = FileSource::open(&path, options).expect("valid");
    fs::write(&path, file(22)).expect("write in place");
    wait_serving(&source, &file(22));
    rename_over(&path, &file(33));
    wait_serving(&source, &file(33));
    assert_eq!(source.status().reloads, 2);
}

#[test]
fn opening_a_bad_file_is_an_error() {
    let (_dir, path) = setup(r#"{"version": 1, "flags": {"x": {"percentge": 5}}}"#);
    let err = FileSource::open(&path, WatchOptions::default()).expect_err("invalid");
    let d = &err.diagnostics()[0];
    assert_eq!(
        (d.line(), d.column(), d.path()),
        (1, 32, "flags.x.percentge")
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1:32:", path.display()))
    );

    fs::write(&path, "").expect("write");
    let err = FileSource::open(&path, WatchOptions::default()).expect_err("empty");
    assert!(!err.diagnostics().is_empty());

    let err = FileSource::open(path.with_file_name("missing.json"), WatchOptions::default())
        .expect_err("missing");
    assert!(err.is_io());
}

#[test]
fn dropping_the_source_stops_its_worker() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    let clone = source.clone();
    // The worker owns the callbacks until it exits: when the probe is the
    // last reference left, the worker thread has finished.
    let probe = Arc::new(());
    let held = Arc::clone(&probe);
    source.on_event(move |_| {
        let _ = &held;
    });
    drop(source);
    fs::write(&path, file(2)).expect("write");
    wait_serving(&clone, &file(2));
    assert_eq!(Arc::strong_count(&probe), 2, "a clone keeps it running");

    drop(clone);
    wait_until("the worker to exit", || Arc::strong_count(&probe) == 1);
}

#[test]
fn a_panicking_callback_does_not_stop_reloads() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    source.on_event(|_| panic!("a callback bug (this panic is expected)"));
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    source.on_event(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });

    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
    wait_until("the second callback", || count.load(Ordering::SeqCst) == 1);
    fs::write(&path, file(3)).expect("write");
    wait_serving(&source, &file(3));
    wait_until("the second callback", || count.load(Ordering::SeqCst) == 2);
}

#[test]
fn concurrent_readers_see_whole_files_only() {
    // A: all 20 flags at 0%; B: all at 100%. A mix would show both.
    let (a, b) = (many(20, 0), many(20, 100));
    let (_dir, path) = setup(&a);
    let options = WatchOptions {
        debounce: Duration::from_millis(5),
        ..WatchOptions::default()
    };
    let source = FileSource::open(&path, options).expect("valid");
    let stop = Arc::new(AtomicBool::new(false));
    let now = flags_core::now();

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (source, stop) = (source.clone(), Arc::clone(&stop));
            let versions = [version(&a), version(&b)];
            thread::spawn(move || {
                let mut seen = [0u64; 2];
                while !stop.load(Ordering::Relaxed) {
                    let snapshot = source.snapshot();
                    assert_eq!(snapshot.len(), 20, "never empty, never partial");
                    let first = snapshot.flags().next().expect("20 flags");
                    let bp = first.basis_points_at(now);
                    assert!(
                        snapshot.flags().all(|f| f.basis_points_at(now) == bp),
                        "a mix of two files"
                    );
                    let which = usize::from(bp == 10_000);
                    assert_eq!(*snapshot.version(), versions[which]);
                    seen[which] += 1;
                }
                seen
            })
        })
        .collect();

    for i in 0..50 {
        let text = if i % 2 == 0 { &b } else { &a };
        fs::write(&path, text).expect("write in place");
        wait_serving(&source, text);
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let seen = reader.join().expect("readers saw only whole files");
        assert!(seen[0] + seen[1] > 0);
    }
    assert_eq!(source.status().reloads, 50);
}

#[test]
fn a_bad_edit_leaves_the_source_ready_and_says_when_it_failed() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    assert!(source.is_ready());
    let before = std::time::SystemTime::now();
    fs::write(&path, "{\"version\": 1,").expect("write");
    wait_until("the bad edit to be reported", || !source.status().healthy);
    let status = source.status();
    assert!(status.ready, "a good snapshot is still served");
    assert!(source.is_ready());
    assert!(!status.stale);
    assert_eq!(status.version, version(&file(1)));
    let failed_at = status.last_failure_at.expect("the time of the failure");
    assert!(failed_at >= before, "{failed_at:?} is not after {before:?}");
    assert!(status.loaded_at.is_some_and(|at| at <= before));
}

/// A source over a file that may be bad, with a cache beside it.
fn start(path: &Path, cache: Option<&Path>) -> FileSource {
    let options = WatchOptions {
        cache_path: cache.map(Path::to_path_buf),
        ..WatchOptions::default()
    };
    FileSource::start(path, options).expect("start never fails on the file's content")
}

#[test]
fn starting_on_a_bad_file_serves_nothing_until_the_file_is_good() {
    let (_dir, path) = setup("{\"version\": 1, \"flags\": {\"a\": {\"percentage\": 101}}}");
    let source = start(&path, None);
    let seen = record(&source);
    assert!(!source.is_ready());
    let status = source.status();
    assert!(!status.ready && !status.healthy && !status.stale);
    assert_eq!(status.loaded_at, None);
    assert_eq!(status.failures, 1);
    let error = status.last_error.expect("why nothing is served");
    assert!(
        error.starts_with(&format!("{}:1:46: flags.a.percentage:", path.display())),
        "{error}"
    );
    let empty = source.snapshot();
    assert_eq!((empty.len(), empty.version()), (0, ""));
    let now = flags_core::now();
    assert!(!empty.is_enabled("a", &flags_core::Context::new(&[("user_id", "1")]), now));

    fs::write(&path, file(100)).expect("write");
    wait_until("the good file", || source.is_ready());
    let status = source.status();
    assert!(status.ready && status.healthy && !status.stale);
    assert_eq!(status.version, version(&file(100)));
    assert!(status.loaded_at.is_some());
    match &wait_events(&seen, 1)[..] {
        [
            ReloadEvent::Reloaded {
                version: v,
                previous,
                changes,
            },
        ] => {
            assert_eq!(*v, version(&file(100)));
            assert_eq!(previous, "", "nothing was served before");
            assert_eq!(changes.added, ["a"]);
        }
        other => panic!("unexpected events {other:?}"),
    }
}

#[test]
fn a_missing_file_at_start_is_waited_for() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("flags.json");
    let source = start(&path, None);
    assert!(!source.is_ready());
    assert!(
        source
            .status()
            .last_error
            .expect("the reason")
            .contains("cannot read"),
    );
    rename_over(&path, &file(5));
    wait_until("the file to appear", || source.is_ready());
    assert_eq!(*source.snapshot().version(), version(&file(5)));
}

#[test]
fn the_cache_holds_the_last_good_file_and_serves_it_stale_on_a_bad_start() {
    let (dir, path) = setup(&file(1));
    let cache = dir.path().join("cache").join("flags.json");
    fs::create_dir(cache.parent().expect("a parent")).expect("mkdir");

    // A good start writes the cache; a good reload rewrites it.
    let source = start(&path, Some(&cache));
    assert_eq!(fs::read_to_string(&cache).expect("cache written"), file(1));
    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
    wait_until("the cache to follow", || {
        fs::read_to_string(&cache).is_ok_and(|c| c == file(2))
    });
    // A bad edit leaves it alone.
    fs::write(&path, "{").expect("write");
    wait_until("the failure", || !source.status().healthy);
    assert_eq!(fs::read_to_string(&cache).expect("cache"), file(2));
    drop(source);

    // A replica started now, while the file is bad, serves the cached copy.
    let replica = start(&path, Some(&cache));
    assert!(replica.is_ready(), "ready on the cached copy");
    let status = replica.status();
    assert!(status.stale && !status.healthy);
    assert_eq!(status.version, version(&file(2)));
    assert!(
        status
            .last_error
            .expect("the file's problem")
            .starts_with(&format!("{}:1:2:", path.display()))
    );
    assert_eq!(replica.cache_path(), Some(cache.as_path()));

    // The file fixed to new content: fresh again.
    fs::write(&path, file(3)).expect("write");
    wait_serving(&replica, &file(3));
    let status = replica.status();
    assert!(status.ready && status.healthy && !status.stale);
    wait_until("the cache to follow", || {
        fs::read_to_string(&cache).is_ok_and(|c| c == file(3))
    });
}

#[test]
fn a_stale_copy_turns_fresh_when_the_file_holds_the_same_content() {
    let (dir, path) = setup("[]");
    let cache = dir.path().join("last-good.json");
    fs::write(&cache, file(7)).expect("write");
    let source = start(&path, Some(&cache));
    assert!(source.status().stale);
    fs::write(&path, file(7)).expect("write");
    wait_until("fresh", || !source.status().stale);
    let status = source.status();
    assert!(status.healthy);
    assert_eq!(status.version, version(&file(7)));
}

#[test]
fn a_bad_cache_and_a_bad_file_say_both_and_serve_nothing() {
    let (dir, path) = setup("{");
    let cache = dir.path().join("last-good.json");
    fs::write(&cache, "[1]").expect("write");
    let source = start(&path, Some(&cache));
    assert!(!source.is_ready());
    let error = source.status().last_error.expect("both problems");
    assert!(
        error.contains(&format!("{}:1:2:", path.display()))
            && error.contains(&format!("{}:1:1:", cache.display())),
        "{error}"
    );
}

#[test]
fn the_cache_cannot_be_the_flag_file() {
    let (_dir, path) = setup(&file(1));
    let options = WatchOptions {
        cache_path: Some(path.clone()),
        ..WatchOptions::default()
    };
    let err = FileSource::start(&path, options).expect_err("the same file");
    assert!(
        err.to_string()
            .contains("the cache path is the flag file itself"),
        "{err}"
    );
}

#[test]
fn a_cache_that_cannot_be_written_is_reported_and_serving_goes_on() {
    let (dir, path) = setup(&file(1));
    let cache = dir.path().join("no-such-dir").join("flags.json");
    let source = start(&path, Some(&cache));
    let seen = record(&source);
    assert!(source.is_ready());
    let error = source.status().cache_error.expect("the cache problem");
    assert!(
        error.starts_with(&format!("{}: cannot write the cache:", cache.display())),
        "{error}"
    );

    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
    assert!(
        wait_events(&seen, 1)
            .iter()
            .any(|e| matches!(e, ReloadEvent::Reloaded { .. }))
    );
    fs::create_dir(cache.parent().expect("a parent")).expect("mkdir");
    fs::write(&path, file(3)).expect("write");
    wait_until("the cache to be written", || {
        source.status().cache_error.is_none()
            && fs::read_to_string(&cache).is_ok_and(|c| c == file(3))
    });
}

/// Makes a named pipe at `path` (nothing ever writes to it).
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_named_pipe_at_the_path_is_refused_without_blocking() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    fs::remove_file(&path).expect("rm");
    mkfifo(&path);
    wait_until("the pipe to be refused", || {
        source
            .status()
            .last_error
            .is_some_and(|e| e.contains("not a regular file but a named pipe"))
    });
    assert!(source.is_ready());
    assert_eq!(*source.snapshot().version(), version(&file(1)));

    // The watch thread is not stuck: a good file is loaded.
    fs::remove_file(&path).expect("rm");
    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
}

#[cfg(unix)]
#[test]
fn a_named_pipe_does_not_hang_an_on_access_reader() {
    let (_dir, path) = setup(&file(1));
    let source = FileSource::open_on_access(&path, Duration::ZERO).expect("valid");
    fs::remove_file(&path).expect("rm");
    mkfifo(&path);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = source.clone();
    thread::spawn(move || {
        let on = reader.load().is_enabled(
            "a",
            &flags_core::Context::new(&[("user_id", "1")]),
            flags_core::now(),
        );
        let _ = tx.send((on, reader.status()));
    });
    let (_, status) = rx
        .recv_timeout(DEADLINE)
        .expect("an access returns while the path is a named pipe");
    assert_eq!(status.version, version(&file(1)));
    let err = FileSource::open_on_access(&path, Duration::ZERO).expect_err("a pipe");
    assert!(err.to_string().contains("named pipe"), "{err}");
    let err = Snapshot::from_path(&path).expect_err("a pipe");
    assert!(err.to_string().contains("named pipe"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_device_or_a_directory_at_the_path_is_refused() {
    let (_dir, path) = setup(&file(1));
    let source = open(&path);
    fs::remove_file(&path).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
    wait_until("the device to be refused", || {
        source
            .status()
            .last_error
            .is_some_and(|e| e.ends_with("not a regular file but a character device"))
    });
    fs::remove_file(&path).expect("rm");
    fs::create_dir(&path).expect("mkdir");
    wait_until("the directory to be refused", || {
        source.status().last_error.is_some_and(|e| {
            e.ends_with("not a regular file but a directory") || e.contains("Is a directory")
        })
    });
    assert_eq!(source.status().failures, 2);
    assert!(source.is_ready());
    fs::remove_dir(&path).expect("rmdir");
    fs::write(&path, file(9)).expect("write");
    wait_serving(&source, &file(9));
}

#[test]
fn a_file_over_the_size_limit_is_a_failed_reload() {
    let (_dir, path) = setup(&file(1));
    let options = WatchOptions {
        max_file_bytes: 4096,
        ..WatchOptions::default()
    };
    let source = FileSource::open(&path, options).expect("small file");
    let big = many(99, 1);
    assert!(big.len() > 4096);
    fs::write(&path, &big).expect("write");
    wait_until("the big file to be refused", || !source.status().healthy);
    let error = source.status().last_error.expect("why");
    assert_eq!(
        error,
        format!(
            "{}: cannot read: the file is {} bytes, over the limit of 4096 bytes (4 KiB)",
            path.display(),
            big.len()
        )
    );
    assert_eq!(*source.snapshot().version(), version(&file(1)));
}

#[test]
fn the_directory_deleted_and_created_again_is_watched_again() {
    let parent = tempfile::tempdir().expect("temporary directory");
    let dir = parent.path().join("flags");
    fs::create_dir(&dir).expect("mkdir");
    let path = dir.join("flags.json");
    fs::write(&path, file(1)).expect("write");
    // Events only: without the re-armed watch nothing would ever be seen.
    let options = WatchOptions {
        poll_interval: Duration::ZERO,
        ..WatchOptions::default()
    };
    let source = FileSource::open(&path, options).expect("valid");

    fs::remove_dir_all(&dir).expect("rm -r");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(&path, file(2)).expect("write");
    wait_serving(&source, &file(2));
    // And the new directory's events arrive.
    fs::write(&path, file(3)).expect("write");
    wait_serving(&source, &file(3));
    rename_over(&path, &file(4));
    wait_serving(&source, &file(4));
}

#[test]
fn a_slow_non_atomic_writer_is_not_counted_as_a_failure() {
    let old = many(20, 0);
    let new = many(20, 100);
    let (_dir, path) = setup(&old);
    // Settling time 5 x 200 ms = 1 s: far longer than the writer's pauses,
    // even on a busy machine.
    let options = WatchOptions {
        debounce: Duration::from_millis(200),
        ..WatchOptions::default()
    };
    let source = FileSource::open(&path, options).expect("valid");
    let seen = record(&source);

    // Ten chunks, 40 ms apart: the file is bad, with new content every
    // time, for about 400 ms (longer than the old rule's 100 ms settle).
    let mut f = fs::File::create(&path).expect("truncate");
    for chunk in new.as_bytes().chunks(new.len().div_ceil(10)) {
        f.write_all(chunk).expect("write");
        f.flush().expect("flush");
        thread::sleep(Duration::from_millis(40));
    }
    drop(f);
    wait_serving(&source, &new);
    let status = source.status();
    assert_eq!(status.failures, 0, "{:?}", status.last_error);
    assert!(
        wait_events(&seen, 1)
            .iter()
            .all(|e| matches!(e, ReloadEvent::Reloaded { .. })),
        "{:?}",
        events(&seen)
    );
}
