//! Reads and writes of a migration flag, run per stage, recorded, and
//! rendered for Prometheus (`docs/migrations.md`).
//!
//! - [`Migrator`] runs a read or a write as the flag's [`Stage`] says
//!   ([`Stage::read`], [`Stage::write`]): the authoritative side on the
//!   caller's thread, the other on a small bounded pool, contained by a
//!   timeout; the caller gets the authoritative result.
//! - [`Record`] is one operation (stage, op, each side's latency and
//!   error, consistent or not), what the migrator and a server's ingestion
//!   of `POST /v1/migrations` batches both produce.
//! - [`Recorder`] aggregates records into counters and histograms with
//!   bounded cardinality and renders the `flags_migration_*` metrics.
//! - [`stage_of`] decides a flag's stage for a context: one evaluation.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use flags_core::migrate::{Migrator, MigratorOptions, Recorder};
//! use flags_core::Stage;
//!
//! let recorder = Arc::new(Recorder::default());
//! let migrator = Migrator::new(Arc::clone(&recorder), MigratorOptions::default())?;
//!
//! // In shadow the old system answers and the new one is compared.
//! let order: Result<String, String> = migrator.read(
//!     "orders_reads",
//!     Stage::Shadow,
//!     || Ok("order 7: 3 items".to_owned()),  // the old store
//!     || Ok("order 7: 2 items".to_owned()),  // the new store
//!     |old, new| old == new,
//! );
//! assert_eq!(order.as_deref(), Ok("order 7: 3 items"));
//!
//! // The comparison ran in the background; the metrics say how it went.
//! assert!(migrator.wait_idle(Duration::from_secs(10)));
//! let text = recorder.render();
//! assert!(text.contains(
//!     r#"flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="false"} 1"#
//! ));
//! # Ok::<(), std::io::Error>(())
//! ```

mod migrator;
mod pool;
mod record;
mod recorder;

pub use migrator::{Migrator, MigratorOptions};
pub use record::{DropReason, Op, Record, SideRecord};
pub use recorder::{DEFAULT_MAX_FLAGS, LATENCY_BUCKETS, Recorder};

use crate::{Context, Snapshot, Stage, Timestamp};

/// The stage of migration flag `key` for `ctx` at `now`
/// ([`Snapshot::stage`]: one evaluation), `Stage::Off` when the flag is not
/// in the snapshot or is not a migration flag: the old system only, where
/// a migration starts.
pub fn stage_of(snapshot: &Snapshot, key: &str, ctx: &Context<'_>, now: Timestamp) -> Stage {
    snapshot.stage(key, ctx, now).unwrap_or(Stage::Off)
}
