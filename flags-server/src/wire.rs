//! What `flags eval` and the server's evaluation endpoints share: one
//! evaluation's result as JSON, and reading a request's context, with its
//! errors worded once, so that both say the same about the same context;
//! and the records of a `POST /v1/migrations` batch.
//!
//! Error text is bounded: a context error lists at most [`MAX_PROBLEMS`]
//! problems of at most [`MAX_PROBLEM`] bytes each, and never echoes more
//! than [`MAX_ECHO`] characters of a client's name or value.

use std::borrow::Cow;

use flags_core::migrate::{Op, Record, SideRecord};
use flags_core::{Evaluation, OwnedContext, Stage};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Longest piece of client input (a name, a value) echoed in an error.
pub(crate) const MAX_ECHO: usize = 64;
/// Most context problems listed in one error.
const MAX_PROBLEMS: usize = 10;
/// Longest single context problem in an error, in bytes.
const MAX_PROBLEM: usize = 160;

/// One result, as `flags eval` and `POST /v1/evaluate` write it.
#[derive(Serialize)]
pub(crate) struct Answer<'a> {
    flag: &'a str,
    enabled: bool,
    variant: Option<&'a str>,
    reason: &'static str,
    bucket: Option<u16>,
}

impl<'a> Answer<'a> {
    /// The answer for `flag`, evaluated as `result`.
    pub(crate) fn new(flag: &'a str, result: &Evaluation<'a>) -> Self {
        Self {
            flag,
            enabled: result.enabled,
            variant: result.variant,
            reason: result.reason.as_str(),
            bucket: result.bucket,
        }
    }
}

/// Reads a request's `context` (raw JSON text; none is the empty
/// context). The error names every bad attribute by its path after
/// `context`, as a client would write it in JavaScript or jq:
/// `context.user_id`, `context["a.b"]`, `context[0][0]`, and `context`
/// itself for the whole value.
pub(crate) fn context(raw: Option<&RawValue>) -> Result<OwnedContext, String> {
    let Some(raw) = raw else {
        return Ok(OwnedContext::new());
    };
    OwnedContext::from_json(raw.get()).map_err(|e| {
        let problems = e.diagnostics();
        let mut details: Vec<String> = problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(|d| {
                let message = shorten(d.message(), MAX_PROBLEM);
                match d.path() {
                    "(root)" => format!("context: {message}"),
                    // A quoted name (`["a.b"]`, `[""]`) or an index
                    // (`[0]`) follows without a dot.
                    path if path.starts_with('[') => format!("context{}: {message}", echo(path)),
                    path => format!("context.{}: {message}", echo(path)),
                }
            })
            .collect();
        if problems.len() > MAX_PROBLEMS {
            details.push(format!("and {} more", problems.len() - MAX_PROBLEMS));
        }
        details.join("; ")
    })
}

/// Most records one `POST /v1/migrations` batch may hold.
pub(crate) const MAX_MIGRATION_RECORDS: usize = 1000;
/// Longest latency a migration record may report, in seconds (a day): a
/// larger one is a client's bug, not a measurement.
const MAX_SIDE_SECONDS: f64 = 86_400.0;

/// A `POST /v1/migrations` body: `{"records": [...]}`. The records stay
/// raw, so that one bad record is dropped and counted alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MigrationBatch<'a> {
    #[serde(borrow)]
    pub records: Vec<&'a RawValue>,
}

/// One record as clients send it (design of issue 12, section 4).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord<'a> {
    #[serde(borrow)]
    flag: Cow<'a, str>,
    #[serde(borrow)]
    stage: Cow<'a, str>,
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(default)]
    old: Option<WireSide>,
    #[serde(default)]
    new: Option<WireSide>,
    #[serde(default)]
    consistent: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSide {
    seconds: f64,
    error: bool,
    #[serde(default)]
    timeout: bool,
}

/// A valid migration record without its flag.
#[derive(Clone, Copy)]
struct Parts {
    stage: Stage,
    op: Op,
    old: Option<SideRecord>,
    new: Option<SideRecord>,
    consistent: Option<bool>,
}

/// A migration record's flag key, read before the rest: whether it names a
/// migration flag decides the drop reason.
pub(crate) struct MigrationRecord<'a> {
    flag: Cow<'a, str>,
    rest: Option<Parts>,
}

impl MigrationRecord<'_> {
    /// The flag the record names.
    pub(crate) fn flag(&self) -> &str {
        &self.flag
    }

    /// The record, or `None` when it is not a valid one: an unknown stage
    /// or op, no side, a latency that is negative, not finite or over a
    /// day, a timeout that is not an error, or `consistent` on anything
    /// but a read whose two sides both succeeded.
    pub(crate) fn record(&self) -> Option<Record<'_>> {
        let Parts {
            stage,
            op,
            old,
            new,
            consistent,
        } = self.rest?;
        Some(Record {
            flag: &self.flag,
            stage,
            op,
            old,
            new,
            consistent,
        })
    }
}

/// Reads one raw migration record: `None` when it is not even an object
/// with a string `flag`.
pub(crate) fn migration_record(raw: &RawValue) -> Option<MigrationRecord<'_>> {
    #[derive(Deserialize)]
    struct Flag<'a> {
        #[serde(borrow)]
        flag: Cow<'a, str>,
    }
    let Ok(wire) = serde_json::from_str::<WireRecord<'_>>(raw.get()) else {
        let flag = serde_json::from_str::<Flag<'_>>(raw.get()).ok()?.flag;
        return Some(MigrationRecord { flag, rest: None });
    };
    let side = |side: Option<WireSide>| -> Result<Option<SideRecord>, ()> {
        let Some(side) = side else { return Ok(None) };
        if !(side.seconds.is_finite() && (0.0..=MAX_SIDE_SECONDS).contains(&side.seconds))
            || (side.timeout && !side.error)
        {
            return Err(());
        }
        let latency = std::time::Duration::from_secs_f64(side.seconds);
        Ok(Some(if side.timeout {
            SideRecord::timed_out(latency)
        } else {
            SideRecord::new(latency, side.error)
        }))
    };
    let rest = (|| {
        let stage = Stage::from_name(&wire.stage)?;
        let op = Op::from_name(&wire.op)?;
        let old = side(wire.old).ok()?;
        let new = side(wire.new).ok()?;
        if old.is_none() && new.is_none() {
            return None;
        }
        let compared =
            op == Op::Read && old.is_some_and(|s| !s.error) && new.is_some_and(|s| !s.error);
        if wire.consistent.is_some() && !compared {
            return None;
        }
        Some(Parts {
            stage,
            op,
            old,
            new,
            consistent: wire.consistent,
        })
    })();
    Some(MigrationRecord {
        flag: wire.flag,
        rest,
    })
}

/// At most [`MAX_ECHO`] characters of client input, marked when cut.
pub(crate) fn echo(text: &str) -> Cow<'_, str> {
    shorten(text, MAX_ECHO)
}

/// `text` cut to at most `max` bytes on a character boundary, with `...`
/// appended when cut.
pub(crate) fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_on_character_boundaries() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdef", 5), "ab...");
        // "é" is two bytes: a cut never splits it.
        assert_eq!(shorten("ééééé", 6), "é...");
        assert_eq!(echo(&"x".repeat(1000)).len(), MAX_ECHO);
    }
}
