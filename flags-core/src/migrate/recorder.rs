//! The aggregate of migration records: atomic counters and fixed-bucket
//! histograms per flag, rendered in the Prometheus text exposition format
//! (0.0.4).
//!
//! Memory and label sets are bounded: at most `max_flags` flags are held
//! (a further flag's records are dropped and counted under
//! `reason="too_many_flags"`), and each flag holds a fixed set of counters
//! (6 stages x 2 operations x 2 sides), whatever the records say.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foldhash::fast::RandomState;

use super::record::{DropReason, Op, Record, SideRecord};
use crate::{Side, Stage};

/// The upper bounds of the latency histogram's buckets, in seconds (the
/// `le` labels; `+Inf` follows).
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// [`LATENCY_BUCKETS`] in nanoseconds, to compare without floats.
const BUCKET_NANOS: [u64; 13] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// The number of flags a [`Recorder`] holds by default.
pub const DEFAULT_MAX_FLAGS: usize = 256;

const STAGES: usize = Stage::ALL.len();

/// One histogram: per-bucket counts (not cumulative; the last one is
/// `+Inf`'s own), and the sum of the observations in nanoseconds.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKET_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BUCKET_NANOS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Every counter of one flag.
#[derive(Default)]
struct FlagMetrics {
    /// `[stage][op]`.
    ops: [[AtomicU64; 2]; STAGES],
    /// `[stage][consistent]`.
    consistency: [[AtomicU64; 2]; STAGES],
    /// `[stage][op][side]`.
    errors: [[[AtomicU64; 2]; 2]; STAGES],
    /// `[op][side]`.
    latency: [[Histogram; 2]; 2],
}

const fn side_index(side: Side) -> usize {
    match side {
        Side::Old => 0,
        Side::New => 1,
    }
}

const SIDES: [Side; 2] = [Side::Old, Side::New];

impl FlagMetrics {
    fn add(&self, record: &Record<'_>) {
        let stage = record.stage as usize;
        let op = record.op.index();
        self.ops[stage][op].fetch_add(1, Ordering::Relaxed);
        for side in SIDES {
            if let Some(SideRecord { latency, error, .. }) = record.side(side) {
                let s = side_index(side);
                self.latency[op][s].observe(latency);
                if error {
                    self.errors[stage][op][s].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(consistent) = record.consistent {
            self.consistency[stage][usize::from(consistent)].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Aggregates [`Record`]s into the metrics of design section 4 of issue 12
/// and renders them for Prometheus:
///
/// - `flags_migration_ops_total{flag,stage,op}`
/// - `flags_migration_consistency_total{flag,stage,consistent}`
/// - `flags_migration_errors_total{flag,stage,op,side}`
/// - `flags_migration_latency_seconds{flag,op,side}` (histogram,
///   [`LATENCY_BUCKETS`])
/// - `flags_migration_records_dropped_total{reason}`
///
/// Recording takes a read lock and a few relaxed atomic additions (a
/// flag's first record takes the write lock once); it allocates only for a
/// flag's first record. Share it with an `Arc`.
pub struct Recorder {
    flags: RwLock<HashMap<Box<str>, Box<FlagMetrics>, RandomState>>,
    max_flags: usize,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl Default for Recorder {
    /// A recorder of at most [`DEFAULT_MAX_FLAGS`] flags.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FLAGS)
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("flags", &self.len())
            .field("max_flags", &self.max_flags)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder that holds at most `max_flags` flags.
    pub fn new(max_flags: usize) -> Self {
        Self {
            flags: RwLock::new(HashMap::default()),
            max_flags,
            dropped: Default::default(),
        }
    }

    /// Counts `record`; `Err` says why it was dropped instead (and counts
    /// the drop).
    pub fn record(&self, record: &Record<'_>) -> Result<(), DropReason> {
        {
            let flags = self.flags.read().unwrap_or_else(|e| e.into_inner());
            if let Some(metrics) = flags.get(record.flag) {
                metrics.add(record);
                return Ok(());
            }
        }
        let mut flags = self.flags.write().unwrap_or_else(|e| e.into_inner());
        if !flags.contains_key(record.flag) && flags.len() >= self.max_flags {
            drop(flags);
            self.count_drop(DropReason::TooManyFlags);
            return Err(DropReason::TooManyFlags);
        }
        flags.entry(record.flag.into()).or_default().add(record);
        Ok(())
    }

    /// Counts one record (or shadow side) dropped for `reason`.
    pub fn count_drop(&self, reason: DropReason) {
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// How many records were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// The number of flags held.
    pub fn len(&self) -> usize {
        self.flags.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True before any flag's first record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the flags for which `keep` is false (a flag that left the
    /// flag file, or stopped being a migration flag), freeing their places.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        self.flags
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|flag, _| keep(flag));
    }

    /// The five metric families in the Prometheus text format, each with
    /// its `HELP` and `TYPE` lines; flags in key order, counters that are
    /// zero and histograms without observations left out (every drop
    /// reason is written, zero or not).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.render_into(&mut out);
        out
    }

    /// [`Recorder::render`], appended to `out` (a service's own
    /// `/metrics` text).
    pub fn render_into(&self, out: &mut String) {
        let flags = self.flags.read().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<(&str, &FlagMetrics)> = flags.iter().map(|(k, v)| (&**k, &**v)).collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let value = |counter: &AtomicU64| counter.load(Ordering::Relaxed);

        header(
            out,
            "flags_migration_ops_total",
            "Migrated reads and writes, by flag, stage and operation.",
            "counter",
        );
        for (flag, metrics) in &keys {
            let flag = escape(flag);
            for stage in Stage::ALL {
                for op in Op::ALL {
                    let n = value(&metrics.ops[stage as usize][op.index()]);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "flags_migration_ops_total{{flag=\"{flag}\",stage=\"{stage}\",op=\"{op}\"}} {n}"
                        );
                    }
                }
            }
        }

        header(
            out,
            "flags_migration_consistency_total",
            "Compared reads where both sides succeeded, by flag, stage and whether the results matched.",
            "counter",
        );
        for (flag, metrics) in &keys {
            let flag = escape(flag);
            for stage in Stage::ALL {
                for consistent in [true, false] {
                    let n = value(&metrics.consistency[stage as usize][usize::from(consistent)]);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "flags_migration_consistency_total{{flag=\"{flag}\",stage=\"{stage}\",consistent=\"{consistent}\"}} {n}"
                        );
                    }
                }
            }
        }

        header(
            out,
            "flags_migration_errors_total",
            "Failed sides of migrated operations (errors, panics and timeouts), by flag, stage, operation and side.",
            "counter",
        );
        for (flag, metrics) in &keys {
            let flag = escape(flag);
            for stage in Stage::ALL {
                for op in Op::ALL {
                    for side in SIDES {
                        let n =
                            value(&metrics.errors[stage as usize][op.index()][side_index(side)]);
                        if n > 0 {
                            let _ = writeln!(
                                out,
                                "flags_migration_errors_total{{flag=\"{flag}\",stage=\"{stage}\",op=\"{op}\",side=\"{side}\"}} {n}"
                            );
                        }
                    }
                }
            }
        }

        header(
            out,
            "flags_migration_latency_seconds",
            "Latency of each side of migrated operations, by flag, operation and side.",
            "histogram",
        );
        for (flag, metrics) in &keys {
            let flag = escape(flag);
            for op in Op::ALL {
                for side in SIDES {
                    let histogram = &metrics.latency[op.index()][side_index(side)];
                    let counts: Vec<u64> = histogram.buckets.iter().map(value).collect();
                    let count: u64 = counts.iter().sum();
                    if count == 0 {
                        continue;
                    }
                    let labels = format!("flag=\"{flag}\",op=\"{op}\",side=\"{side}\"");
                    let mut cumulative = 0;
                    for (i, n) in counts.iter().enumerate() {
                        cumulative += n;
                        match LATENCY_BUCKETS.get(i) {
                            Some(le) => {
                                let _ = writeln!(
                                    out,
                                    "flags_migration_latency_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                                );
                            }
                            None => {
                                let _ = writeln!(
                                    out,
                                    "flags_migration_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
                                );
                            }
                        }
                    }
                    let sum = Duration::from_nanos(value(&histogram.sum_nanos)).as_secs_f64();
                    let _ = writeln!(out, "flags_migration_latency_seconds_sum{{{labels}}} {sum}");
                    let _ = writeln!(
                        out,
                        "flags_migration_latency_seconds_count{{{labels}}} {count}"
                    );
                }
            }
        }

        header(
            out,
            "flags_migration_records_dropped_total",
            "Migration records not counted, by reason (unknown_flag, bad_record, too_many_flags), and shadow sides skipped because the background pool was full (queue_full).",
            "counter",
        );
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "flags_migration_records_dropped_total{{reason=\"{reason}\"}} {}",
                self.dropped(reason)
            );
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value escaped for the text format: backslash, double quote and
/// line feed.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_match_the_seconds() {
        for (seconds, nanos) in LATENCY_BUCKETS.iter().zip(BUCKET_NANOS) {
            assert_eq!(
                Duration::from_secs_f64(*seconds).as_nanos(),
                u128::from(nanos)
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
