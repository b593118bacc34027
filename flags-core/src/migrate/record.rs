//! One record per migrated operation: the unit the [`Migrator`] and a
//! server's ingestion of batches both feed into a [`Recorder`].
//!
//! [`Migrator`]: super::Migrator
//! [`Recorder`]: super::Recorder

use std::fmt;
use std::time::Duration;

use crate::{Side, Stage};

/// The kind of operation a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A read ([`Stage::read`] decides what runs).
    Read,
    /// A write ([`Stage::write`] decides what runs).
    Write,
}

impl Op {
    /// Both operations, in label order.
    pub const ALL: [Op; 2] = [Op::Read, Op::Write];

    /// `read` or `write`: the name in JSON and in metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
        }
    }

    /// The operation named `name` (as written by [`Op::as_str`]).
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one side (old or new) did in an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideRecord {
    /// How long it took (for a side that timed out: until it was given up
    /// on, or until it ended, whichever is known).
    pub latency: Duration,
    /// It failed: returned an error, panicked, or timed out.
    pub error: bool,
    /// It did not finish within the migrator's timeout (also an error).
    pub timeout: bool,
}

impl SideRecord {
    /// A side that finished in `latency`, failed or not.
    pub const fn new(latency: Duration, error: bool) -> Self {
        Self {
            latency,
            error,
            timeout: false,
        }
    }

    /// A side that took `latency`, longer than the timeout: an error.
    pub const fn timed_out(latency: Duration) -> Self {
        Self {
            latency,
            error: true,
            timeout: true,
        }
    }
}

/// One operation of a migration flag, as design section 4 of issue 12
/// writes it in JSON:
///
/// ```json
/// {"flag": "orders_reads", "stage": "shadow", "op": "read",
///  "old": {"seconds": 0.0012, "error": false},
///  "new": {"seconds": 0.0034, "error": true},
///  "consistent": null}
/// ```
///
/// `old` and `new` are present only for the sides that ran; `consistent`
/// is `Some` only for a compared read where both sides succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The migration flag's key.
    pub flag: &'a str,
    /// The stage the operation ran at.
    pub stage: Stage,
    /// A read or a write.
    pub op: Op,
    /// The old system's part, when it ran.
    pub old: Option<SideRecord>,
    /// The new system's part, when it ran.
    pub new: Option<SideRecord>,
    /// For a compared read where both sides succeeded: whether the
    /// comparison found the two results the same.
    pub consistent: Option<bool>,
}

impl<'a> Record<'a> {
    /// A record of `op` at `stage` for `flag` in which no side ran yet.
    pub const fn new(flag: &'a str, stage: Stage, op: Op) -> Self {
        Self {
            flag,
            stage,
            op,
            old: None,
            new: None,
            consistent: None,
        }
    }

    /// The side whose result (or error) the caller got: the stage's
    /// authoritative side.
    pub const fn answered(&self) -> Side {
        self.stage.authoritative()
    }

    /// The part of `side`.
    pub const fn side(&self, side: Side) -> Option<SideRecord> {
        match side {
            Side::Old => self.old,
            Side::New => self.new,
        }
    }

    /// Sets the part of `side`.
    pub fn set_side(&mut self, side: Side, part: SideRecord) {
        match side {
            Side::Old => self.old = Some(part),
            Side::New => self.new = Some(part),
        }
    }
}

/// Why a record (or the shadow side of an operation) was not counted: the
/// `reason` label of `flags_migration_records_dropped_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The flag is not a migration flag of the served flag file (a
    /// server's ingestion).
    UnknownFlag,
    /// The record is not one (a bad stage, op, side or latency; a server's
    /// ingestion).
    BadRecord,
    /// The recorder already holds its limit of flags: a further flag's
    /// records are dropped, so that labels stay bounded.
    TooManyFlags,
    /// The migrator's background pool was full: the non-authoritative side
    /// was skipped (the authoritative one still ran and is recorded).
    QueueFull,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 4] = [
        DropReason::UnknownFlag,
        DropReason::BadRecord,
        DropReason::TooManyFlags,
        DropReason::QueueFull,
    ];

    /// The label value: `unknown_flag`, `bad_record`, `too_many_flags`,
    /// `queue_full`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownFlag => "unknown_flag",
            DropReason::BadRecord => "bad_record",
            DropReason::TooManyFlags => "too_many_flags",
            DropReason::QueueFull => "queue_full",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
