//! Reads and writes run per stage: the authoritative side on the caller's
//! thread, the other one on a small background pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::pool::Pool;
use super::record::{DropReason, Op, Record, SideRecord};
use super::recorder::Recorder;
use crate::{Side, Stage};

/// How a [`Migrator`] contains the non-authoritative side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigratorOptions {
    /// How long the non-authoritative side may run (its own run, not its
    /// wait in the pool's queue): a side that takes longer is recorded as
    /// an error (`timeout`), and a caller never waits longer than this,
    /// from the moment it hands it to the pool, for a write's other side.
    /// Default 100 ms.
    pub timeout: Duration,
    /// Threads of the background pool (at least 1). Default 2.
    pub threads: usize,
    /// Operations the pool may hold waiting (at least 1); beyond, the
    /// non-authoritative side is skipped and counted
    /// (`reason="queue_full"`). Default 64.
    pub queue: usize,
}

impl Default for MigratorOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            threads: 2,
            queue: 64,
        }
    }
}

/// Runs a migration flag's reads and writes as its stage says
/// ([`Stage::read`], [`Stage::write`]), and records each one in a
/// [`Recorder`].
///
/// The caller always gets the authoritative side's `Result`, which runs
/// first, on the caller's thread. The other side never changes that
/// answer, and its failure or slowness is contained:
///
/// - it runs on the migrator's background pool (a few threads, a bounded
///   queue); when the queue is full it is skipped and counted
///   (`flags_migration_records_dropped_total{reason="queue_full"}`),
///   never waited for;
/// - a **read** never waits for it: the authoritative result is cloned to
///   the pool, which runs the other read, compares the two with the
///   caller's function and records the outcome. A compared read adds a
///   clone and a queue push to the request, nothing more;
/// - a **write** waits for it at most [`MigratorOptions::timeout`], so
///   that one caller's writes reach the other system in the order they
///   were made (while it keeps up). If the authoritative write fails the
///   other one is not attempted;
/// - an error, a panic (caught), or a run longer than the timeout counts
///   as an error of that side (`flags_migration_errors_total`), and a
///   compared read is then neither consistent nor inconsistent.
///
/// A side that never returns holds one pool thread for good: once every
/// thread is held, the queue fills and later operations skip their other
/// side (counted), while the callers go on unharmed.
///
/// Both closures must be `Send + 'static`, since the stage decides which
/// one runs in the background: move clones of the connections or handles
/// they need into them.
pub struct Migrator {
    recorder: Arc<Recorder>,
    pool: Pool,
    timeout: Duration,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Migrator {
    /// A migrator recording into `recorder`; starts the pool's threads
    /// (the error is the operating system's refusal to start one).
    pub fn new(recorder: Arc<Recorder>, options: MigratorOptions) -> std::io::Result<Self> {
        Ok(Self {
            recorder,
            pool: Pool::new(options.threads, options.queue)?,
            timeout: options.timeout,
        })
    }

    /// The recorder the operations are counted in (to render it).
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Waits until the background pool has finished every operation
    /// handed to it, at most `timeout`; true when it has (for tests, and
    /// to render complete metrics before a process ends).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.pool.wait_idle(timeout)
    }

    /// A read of migration flag `flag` at `stage`: `old` reads the old
    /// system, `new` the new one, `same` compares the old result (first
    /// argument) with the new one at the stages that compare (`shadow`,
    /// `live`): the same order at both, as in PHP and Dart, so a
    /// one-sided comparison keeps its meaning when the flag moves on.
    pub fn read<T, E, O, N, C>(
        &self,
        flag: &str,
        stage: Stage,
        old: O,
        new: N,
        same: C,
    ) -> Result<T, E>
    where
        T: Clone + Send + 'static,
        E: Send + 'static,
        O: FnOnce() -> Result<T, E> + Send + 'static,
        N: FnOnce() -> Result<T, E> + Send + 'static,
        C: Fn(&T, &T) -> bool + Send + 'static,
    {
        let plan = stage.read();
        let read = Operation {
            flag,
            stage,
            op: Op::Read,
            authoritative: plan.authoritative,
            both: plan.both,
        };
        match plan.authoritative {
            Side::Old => self.read_with(read, old, new, same),
            Side::New => self.read_with(read, new, old, move |new: &T, old: &T| same(old, new)),
        }
    }

    /// A write of migration flag `flag` at `stage`: `old` writes to the
    /// old system, `new` to the new one. The caller gets the
    /// authoritative write's result; the other write's error is recorded,
    /// not returned.
    pub fn write<T, E, O, N>(&self, flag: &str, stage: Stage, old: O, new: N) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
        O: FnOnce() -> Result<T, E> + Send + 'static,
        N: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let plan = stage.write();
        let write = Operation {
            flag,
            stage,
            op: Op::Write,
            authoritative: plan.authoritative,
            both: plan.both,
        };
        match plan.authoritative {
            Side::Old => self.write_with(write, old, new),
            Side::New => self.write_with(write, new, old),
        }
    }

    fn read_with<T, E, A, B, C>(
        &self,
        read: Operation<'_>,
        auth: A,
        other: B,
        same: C,
    ) -> Result<T, E>
    where
        T: Clone + Send + 'static,
        E: Send + 'static,
        A: FnOnce() -> Result<T, E>,
        B: FnOnce() -> Result<T, E> + Send + 'static,
        C: Fn(&T, &T) -> bool + Send + 'static,
    {
        let (result, record) = read.authoritative(auth);
        if !read.both {
            let _ = self.recorder.record(&record);
            return result;
        }
        let answer = result.as_ref().ok().cloned();
        let job = self.shadow(
            record,
            read.authoritative.other(),
            other,
            move |value: &T| answer.as_ref().map(|answer| same(answer, value)),
        );
        if !self.pool.try_run(job) {
            self.skipped(&record);
        }
        result
    }

    fn write_with<T, E, A, B>(&self, write: Operation<'_>, auth: A, other: B) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
        A: FnOnce() -> Result<T, E>,
        B: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let (result, record) = write.authoritative(auth);
        if !write.both || result.is_err() {
            let _ = self.recorder.record(&record);
            return result;
        }
        let (done, finished) = mpsc::sync_channel::<()>(1);
        let shadow = self.shadow(record, write.authoritative.other(), other, |_: &T| None);
        let job = Box::new(move || {
            shadow();
            let _ = done.send(());
        });
        if self.pool.try_run(job) {
            // Dropped sender (a panic in the job) or the timeout: go on.
            let _ = finished.recv_timeout(self.timeout);
        } else {
            self.skipped(&record);
        }
        result
    }

    /// The pool's job for `side`, the other side of `record`: run
    /// `other`, `compare` its success against the authoritative answer,
    /// record.
    fn shadow<T, E, B>(
        &self,
        record: Record<'_>,
        side: Side,
        other: B,
        compare: impl FnOnce(&T) -> Option<bool> + Send + 'static,
    ) -> Box<dyn FnOnce() + Send + 'static>
    where
        T: Send + 'static,
        E: Send + 'static,
        B: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let recorder = Arc::clone(&self.recorder);
        let timeout = self.timeout;
        let flag: Box<str> = record.flag.into();
        let (stage, op) = (record.stage, record.op);
        let (old, new) = (record.old, record.new);
        Box::new(move || {
            let started = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(other));
            let latency = started.elapsed();
            let mut record = Record {
                flag: &flag,
                stage,
                op,
                old,
                new,
                consistent: None,
            };
            // The side's own run, not its wait in the queue: a busy pool
            // must not read as errors of the other system (a guard on the
            // error rate would act on them).
            let part = if latency > timeout {
                SideRecord::timed_out(latency)
            } else {
                match outcome {
                    Ok(Ok(value)) => match catch_unwind(AssertUnwindSafe(|| compare(&value))) {
                        Ok(consistent) => {
                            record.consistent = consistent;
                            SideRecord::new(latency, false)
                        }
                        // A comparison that panics is the shadow's failure
                        // to be compared: an error, neither consistent nor
                        // not.
                        Err(_) => SideRecord::new(latency, true),
                    },
                    Ok(Err(_)) | Err(_) => SideRecord::new(latency, true),
                }
            };
            record.set_side(side, part);
            let _ = recorder.record(&record);
        })
    }

    /// The other side was skipped (the pool is full): the operation is
    /// recorded with its authoritative side alone, and the skip counted.
    fn skipped(&self, record: &Record<'_>) {
        self.recorder.count_drop(DropReason::QueueFull);
        let _ = self.recorder.record(record);
    }
}

/// One operation being run: what the plan says.
#[derive(Clone, Copy)]
struct Operation<'a> {
    flag: &'a str,
    stage: Stage,
    op: Op,
    authoritative: Side,
    both: bool,
}

impl<'a> Operation<'a> {
    /// Runs the authoritative side, timed: its result and the record so far.
    fn authoritative<T, E>(self, run: impl FnOnce() -> Result<T, E>) -> (Result<T, E>, Record<'a>) {
        let started = Instant::now();
        let result = run();
        let mut record = Record::new(self.flag, self.stage, self.op);
        record.set_side(
            self.authoritative,
            SideRecord::new(started.elapsed(), result.is_err()),
        );
        (result, record)
    }
}
