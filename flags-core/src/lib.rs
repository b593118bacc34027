//! The core of **flags**: the flag file model, strict validation,
//! deterministic bucketing and evaluation.
//!
//! ```
//! use flags_core::{Context, Reason, Snapshot, Timestamp};
//!
//! let file = br#"{
//!   "version": 1,
//!   "pilots": { "user_id": ["1", "2"] },
//!   "flags": {
//!     "enrollment_service": { "percentage": 12.5 },
//!     "checkout_v2": { "killed": true, "percentage": 100 }
//!   }
//! }"#;
//! let snapshot = Snapshot::from_slice(file)?;
//! let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z")?;
//!
//! // Pilot users always get a feature.
//! let pilot = Context::new(&[("user_id", "1")]);
//! assert_eq!(snapshot.evaluate("enrollment_service", &pilot, now).reason, Reason::Pilot);
//!
//! // Everyone else is bucketed: SipHash-2-4 of "enrollment_service:42" mod 10000,
//! // on when the bucket is below 1250 (12.5%).
//! let user = Context::new(&[("user_id", "42"), ("tenant_id", "acme")]);
//! let result = snapshot.evaluate("enrollment_service", &user, now);
//! // flags_ref.bucket_of("enrollment_service", "42") == 374 (tests/reference).
//! assert_eq!((result.enabled, result.bucket), (true, Some(374)));
//!
//! // A kill switch beats everything; unknown flags are simply off.
//! assert!(!snapshot.is_enabled("checkout_v2", &pilot, now));
//! assert_eq!(snapshot.evaluate("no_such_flag", &user, now).reason, Reason::FlagNotFound);
//!
//! // Bad files are rejected with every problem, each located.
//! let err = Snapshot::from_slice(br#"{"version": 1, "flags": {"x": {"percentge": 5}}}"#).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "<input>:1:32: flags.x.percentge: unknown field \"percentge\"; did you mean \"percentage\"? \
//!      (expected one of: description, owner, migration, killed, requires, deny, pilots, \
//!      percentage, ramp, paused_at, bucket_by, salt, variants, guard)"
//! );
//! # Ok::<(), flags_core::Error>(())
//! ```
//!
//! # What it does
//! - [`Snapshot`]: parses a version 1 flag file (`docs/flag-file.md`) and
//!   validates it completely: unknown fields, duplicate keys, wrong types,
//!   over-precise numbers, bad times and versions are all reported at once
//!   as [`Diagnostic`]s with line, column and JSON path.
//! - [`Snapshot::evaluate`], [`Snapshot::is_enabled`],
//!   [`Snapshot::evaluate_all`]: the evaluation order and bucketing of
//!   `docs/bucketing.md`, bit for bit the same in every language binding.
//!   One evaluation allocates nothing.
//! - Migration flags ([`Flag::migration`], `docs/migrations.md`): the
//!   answer is a [`Stage`], carried in the evaluation's variant;
//!   [`Snapshot::stage`] reads it, and [`Stage::read`] / [`Stage::write`]
//!   say what a read or a write does at each stage.
//! - [`Context`]: borrowed attributes, free to build; [`OwnedContext`] for
//!   contexts built once (from JSON, from another language) and reused.
//!
//! With cargo features:
//! - `watch`: a hot-reloading file source that swaps in a new snapshot
//!   atomically and keeps the last good one when an edit is bad.
//! - `remote`: a flag-server source with ETags, a change stream and an
//!   offline cache file.
//! - `source` (with `watch` or `remote`): what both sources share: the
//!   status, the reload events and the changes between two snapshots.
//! - `edit`: changes to a flag file's text (set a percentage, add pilots,
//!   kill a flag) that keep its layout, key order and untouched content,
//!   and the transaction that writes them: the one edit path of the
//!   `flags` commands and the C ABI (directory lock, validation, atomic
//!   write refused when the file changed meanwhile, audit log), and the
//!   `flags status` document.
//! - `monitor` (with `edit`): each guard's query asked of Prometheus, its
//!   value against its threshold, and one recommendation line: the
//!   document of `flags status --prometheus --json`.
//! - `migrate`: a migration flag's reads and writes run per [`Stage`] (the
//!   authoritative side answers; the other runs on a small bounded pool of
//!   threads, compared, contained by a timeout), and the recorder of their
//!   `flags_migration_*` metrics in the Prometheus text format.
//!
//! # Where things are
//! Loading (bytes or a path to a validated snapshot, and the content hash
//! that names it) is in `load.rs`; the checks in `validate/`; the snapshot
//! itself, plain data, in `model.rs`; evaluation in `eval.rs` and
//! `bucket.rs`; normalized JSON output in `serialize.rs`; the JSON parser
//! in `json.rs` and the paths its messages print in `json_path.rs`;
//! reading a flag file safely and writing one atomically in `file.rs`.
//! The sources live in `source/`, `watch/` and `remote/`; the editor, the
//! edit transaction (lock, journal, audit log), the change lines and the
//! status document in `edit/`; the Prometheus client and the monitor's
//! readings and recommendation in `monitor/`; the migrator, its records
//! and their recorder in `migrate/`.
//!
//! # What it does not do
//! Evaluation reads no clock (pass [`now()`] or any [`Timestamp`]), does no
//! I/O and never allocates. With no features enabled the crate starts no
//! threads, watches no files and opens no sockets: `watch` adds file
//! watching (one worker thread, or none with `FileSource::open_on_access`),
//! `remote` adds an HTTP client for a flag server, `migrate` a pool of
//! threads per `Migrator`; `edit` reads, locks and
//! writes files only in `edit::apply` and the status functions (its
//! `edit::Document` does no I/O), and prints nothing. Serving flags over
//! HTTP lives in `flags-server`.

#![forbid(unsafe_code)]

mod bucket;
mod context;
mod decimal;
#[cfg(feature = "edit")]
pub mod edit;
mod error;
mod eval;
mod file;
mod ids;
mod json;
mod json_path;
mod load;
#[cfg(feature = "migrate")]
pub mod migrate;
mod model;
#[cfg(feature = "monitor")]
pub mod monitor;
#[cfg(feature = "remote")]
pub mod remote;
mod semver;
mod serialize;
#[cfg(any(feature = "watch", feature = "remote"))]
pub mod source;
mod stage;
mod timestamp;
mod validate;
#[cfg(feature = "watch")]
pub mod watch;

pub use bucket::{bucket, siphash24, variant_bucket};
pub use context::{Context, OwnedContext};
pub use error::{Diagnostic, Error};
pub use eval::{Evaluation, Reason};
pub use file::DEFAULT_MAX_FILE_BYTES;
pub use model::{DEFAULT_BUCKET_BY, Flag, Guard, GuardAction, Migration, Snapshot, Threshold};
pub use stage::{Plan, Side, Stage};
pub use timestamp::{Timestamp, now};
pub use validate::{SUPPORTED_VERSIONS, parse_duration};
