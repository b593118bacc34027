//! A Rust service that evaluates flags in process, with `flags-core` as a
//! plain dependency: the same sources the C ABI and the PHP and Dart
//! packages open (a hot-reloading file, a flag server with an offline
//! cache, JSON text), and the same evaluation, without going through C.
//!
//! Cargo features of `flags-core`:
//! - `watch`: [`FileSource`], a file that reloads itself (a watcher thread,
//!   or with `FileSource::open_on_access` no thread at all, for servers
//!   that fork workers after loading);
//! - `remote` (implies `watch`): [`RemoteSource`], `GET /v1/flags` from
//!   `flags serve` with ETags, the `/v1/stream` change events and a cache
//!   file for offline starts (HTTPS through rustls, no OpenSSL);
//! - neither: [`Snapshot::from_slice`] / [`Snapshot::from_path`], a fixed
//!   flag set (tests, defaults bundled into the binary).
//!
//! ```toml
//! [dependencies]
//! flags-core = { version = "0.1", features = ["remote"] }
//! ```
//!
//! Run it from the repository root:
//!
//! ```sh
//! # A file, reloaded when it changes (edit examples/flags.json meanwhile):
//! cargo run -p flags-core --features remote --example service -- examples/flags.json
//! # A flag server (`flags serve examples/flags.json`), cached for offline starts:
//! cargo run -p flags-core --features remote --example service -- \
//!     --server http://127.0.0.1:8080 --cache flags-cache.json
//! # The flags bundled into the binary:
//! cargo run -p flags-core --features remote --example service
//! ```
//!
//! It then "handles requests" for a few users every two seconds, ten times,
//! printing what it decided and every reload. A server token, when the
//! server wants one, is read from the `FLAGS_TOKEN` environment variable.

use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use flags_core::remote::{RemoteOptions, RemoteSource};
use flags_core::watch::{FileSource, ReloadEvent, SnapshotGuard, WatchOptions};
use flags_core::{Context, Snapshot, now};

/// Flags compiled into the binary: the fallback when nothing else is given.
const BUNDLED: &str = r#"{
  "version": 1,
  "flags": {
    "enrollment_service": { "percentage": 12.5 },
    "tenant_billing_v2": { "bucket_by": "tenant_id", "pilots": { "tenant_id": ["acme"] } }
  }
}"#;

/// Whichever source the service was started with. Each serves immutable
/// snapshots; evaluation is the same for all of them.
enum Flags {
    File(FileSource),
    Remote(RemoteSource),
    Fixed(Arc<Snapshot>),
}

impl Flags {
    fn open(args: &[String]) -> Result<Flags, String> {
        match args {
            [] => Ok(Flags::Fixed(Arc::new(
                Snapshot::from_slice(BUNDLED.as_bytes()).map_err(|e| e.to_string())?,
            ))),
            [flag, url, rest @ ..] if flag == "--server" => {
                let mut options = RemoteOptions::new(url.clone());
                options.token = std::env::var("FLAGS_TOKEN").ok();
                match rest {
                    [] => {}
                    [flag, path] if flag == "--cache" => options.cache_path = Some(path.into()),
                    _ => return Err(usage()),
                }
                let source = RemoteSource::open(options).map_err(|e| e.to_string())?;
                let status = source.status();
                if !status.healthy {
                    // Started from the cache: serving, but possibly stale.
                    eprintln!("offline: {}", status.last_error.unwrap_or_default());
                }
                log_events(|f| source.on_event(f));
                Ok(Flags::Remote(source))
            }
            [path] if !path.starts_with('-') => {
                // A bad file at start-up is an error: fix it, do not serve
                // without flags.
                let source =
                    FileSource::open(path, WatchOptions::default()).map_err(|e| e.to_string())?;
                log_events(|f| source.on_event(f));
                Ok(Flags::File(source))
            }
            _ => Err(usage()),
        }
    }

    /// The current snapshot, borrowed (no reference count touched); to
    /// evaluate a few flags right away.
    fn load(&self) -> Loaded<'_> {
        match self {
            Flags::File(source) => Loaded::Guard(source.load()),
            Flags::Remote(source) => Loaded::Guard(source.load()),
            Flags::Fixed(snapshot) => Loaded::Fixed(snapshot),
        }
    }

    /// The current snapshot, owned: keep it for a whole request, so that
    /// every decision in the request comes from the same flag set.
    fn snapshot(&self) -> Arc<Snapshot> {
        match self {
            Flags::File(source) => source.snapshot(),
            Flags::Remote(source) => source.snapshot(),
            Flags::Fixed(snapshot) => Arc::clone(snapshot),
        }
    }
}

enum Loaded<'a> {
    Guard(SnapshotGuard),
    Fixed(&'a Snapshot),
}

impl std::ops::Deref for Loaded<'_> {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        match self {
            Loaded::Guard(guard) => guard,
            Loaded::Fixed(snapshot) => snapshot,
        }
    }
}

/// Logs every reload and every bad edit or bad answer (the last good flags
/// keep serving through those).
fn log_events(register: impl FnOnce(Box<dyn Fn(&ReloadEvent) + Send + Sync>)) {
    register(Box::new(|event| match event {
        ReloadEvent::Reloaded {
            version, changes, ..
        } => eprintln!("flags reloaded: version {version}, {changes:?}"),
        ReloadEvent::Failed { error } => eprintln!("keeping the last good flags:\n{error}"),
        ReloadEvent::CacheFailed { error } => eprintln!("flags cache: {error}"),
        // Later versions may add events.
        _ => {}
    }));
}

/// One request of the service: every decision from one snapshot.
fn handle_request(flags: &Flags, user_id: u64, tenant_id: &str) -> String {
    let user = user_id.to_string();
    let attributes = [("user_id", user.as_str()), ("tenant_id", tenant_id)];
    let ctx = Context::new(&attributes);
    let snapshot = flags.snapshot();
    let now = now();
    let enrollment = snapshot.evaluate("enrollment_service", &ctx, now);
    let billing = snapshot.is_enabled("tenant_billing_v2", &ctx, now);
    format!(
        "user {user:>3} @ {tenant_id:<6} enrollment_service={} ({}, bucket {:?}) tenant_billing_v2={billing}",
        enrollment.enabled, enrollment.reason, enrollment.bucket,
    )
}

fn usage() -> String {
    "usage: service [FLAGS.json | --server URL [--cache PATH]]".to_owned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match Flags::open(&args) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    for round in 0..10 {
        if round > 0 {
            thread::sleep(Duration::from_secs(2));
        }
        // A hot path that needs one answer: borrow, evaluate, done.
        let killed = flags.load().kill_all();
        println!(
            "-- round {round}, version {}, kill_all={killed}",
            flags.load().version()
        );
        for (user_id, tenant_id) in [(1, "acme"), (42, "acme"), (77, "globex"), (1042, "globex")] {
            println!("{}", handle_request(&flags, user_id, tenant_id));
        }
    }
    ExitCode::SUCCESS
}
