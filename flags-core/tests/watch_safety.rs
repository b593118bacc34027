//! The file source when the file cannot be trusted: a bad file at start (and
//! the last-known-good cache), named pipes, devices, directories, files over
//! the size limit, the directory itself replaced, and writers that are not
//! atomic. Readiness never follows a bad edit.

#[path = "support/watch.rs"]
mod support;

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::thread;
use std::time::Duration;

use flags_core::Snapshot;
use flags_core::watch::{FileSource, ReloadEvent, WatchOptions};
use support::*;

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
