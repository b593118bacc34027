//! The hot-reloading file source against real files: every way a flag file
//! gets replaced, bad edits, bursts, slow writers and concurrent readers.
//!
//! Tests wait for a condition with a deadline instead of sleeping a fixed
//! time, so they are fast when things work and fail clearly when not.

#[path = "support/watch.rs"]
mod support;

use std::fs;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use flags_core::watch::{Changes, FileSource, ReloadEvent, WatchOptions};
use support::*;

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
    // reload_now swaps at once, unless the watcher, seeing the write,
    // already did: either way the new flags are served when it returns,
    // after exactly one reload.
    let swapped = source.reload_now().expect("valid");
    assert_eq!(*source.snapshot().version(), version(&file(2)));
    assert!(
        swapped || source.status().reloads == 1,
        "neither reload_now nor the watcher swapped: {:?}",
        source.status()
    );
    wait_until("the one reload counted", || source.status().reloads == 1);
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
