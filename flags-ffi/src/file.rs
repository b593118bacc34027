//! Editing a flag file and reading its status: the `flags` commands' one
//! edit path ([`flags_core::edit::apply`]), `flags status --json` and
//! `flags status --prometheus --json` ([`flags_core::monitor`]), for every
//! language that calls C.

use std::cell::RefCell;
use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flags_core::edit::{self, EditError, EditErrorKind, Notice, Op, Options, Outcome, StageChange};
use flags_core::monitor::{self, MonitorError};
use flags_core::{Stage, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::boundary::{Failure, produce, text};
use crate::types::flags_result::{self, *};

/// The longest wait for another edit's directory lock a request may ask
/// for (`lock_wait_ms`): a minute.
const MAX_LOCK_WAIT_MS: u64 = 60_000;

/// `now_unix_ms` of `flags_file_status_json` meaning "the system clock".
const NOW_FROM_CLOCK: i64 = i64::MIN;

/// The longest a monitor request may wait for Prometheus (`timeout_ms`):
/// a minute.
const MAX_MONITOR_TIMEOUT_MS: u32 = 60_000;

/// Edits the flag file a JSON request names, through the same edit path
/// as the `flags` commands: the directory lock (waiting at most
/// `lock_wait_ms`), validation before writing, an atomic write refused
/// when the file changed since it was read, and one audit record.
/// `request_json` (`request_len` bytes) is {"path": "...", "ops": [...],
/// "dry_run": false, "audit_log": null, "actor": null, "command": null,
/// "reason": null, "lock_wait_ms": 30000}; every op is an object such as {"op": "kill",
/// "flag": "checkout"} (docs/c-abi.md lists them). On success `*out` is an
/// owned JSON object {"written", "dry_run", "summary", "changes", "before",
/// "after", "audit_log", "notes"}. Errors: FLAGS_ERROR_INVALID_ARGUMENT (a
/// bad request: its message names the field; an unknown flag, an existing
/// key, an empty actor), FLAGS_ERROR_INVALID_FLAGS (the file is invalid, or
/// the edit would make it so: one diagnostic per line after the first),
/// FLAGS_ERROR_IO, FLAGS_ERROR_CONFLICT (the file changed since it was read,
/// or another edit held the lock longer than `lock_wait_ms`: nothing was
/// written, run it again), FLAGS_ERROR_INVALID_UTF8. Nothing is written on
/// any error but one: FLAGS_ERROR_IO with a message saying "written, but
/// the audit log ... could not be appended".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_file_edit(
    request_json: *const c_char,
    request_len: usize,
    out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `request_len` readable bytes, by the crate's rules.
        let request = unsafe { text(request_json, request_len, "request_json") }?;
        let request = Request::parse(request)?;
        edit_file(&request)
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// The status of the flag file at `path` (UTF-8, `path_len` bytes) at
/// `now_unix_ms` (milliseconds since the Unix epoch; INT64_MIN: the system
/// clock), as the owned JSON document `flags status FILE --json` prints:
/// {"file", "content_hash", "now", "kill_all", "interrupted_edit",
/// "pilots", "flags": [...]}. Errors: FLAGS_ERROR_IO,
/// FLAGS_ERROR_INVALID_FLAGS, FLAGS_ERROR_INVALID_ARGUMENT (an empty path).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_file_status_json(
    path: *const c_char,
    path_len: usize,
    now_unix_ms: i64,
    out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `path_len` readable bytes, by the crate's rules.
        let path = unsafe { text(path, path_len, "path") }?;
        if path.is_empty() {
            return Err(invalid("`path` is empty"));
        }
        let now = match now_unix_ms {
            NOW_FROM_CLOCK => flags_core::now(),
            ms => Timestamp::from_unix_millis(ms),
        };
        edit::status_json(Path::new(path), now).map_err(|e| Failure::flags(&e))
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

/// The status of the flag file at `path` (UTF-8, `path_len` bytes) now,
/// with each guard's query asked of the Prometheus at `prometheus_url`
/// (UTF-8, `url_len` bytes; http:// or https://, e.g.
/// "http://127.0.0.1:9090"), as the owned JSON document `flags status FILE
/// --prometheus URL --json` prints: the document of
/// `flags_file_status_json` with `guard.now` {"value", "crossed",
/// "no_data", "done", "seen_crossed_for_seconds", "query"} in each guarded
/// flag and a top-level "recommendation" line. The call returns within
/// about `timeout_ms` (1 to 60000) whatever Prometheus does: a query with
/// no answer by then is no data (`no_data` says why), never a value, and
/// so is an unreachable Prometheus. Errors: FLAGS_ERROR_IO (also when no
/// runtime or HTTP client could be started),
/// FLAGS_ERROR_INVALID_FLAGS, FLAGS_ERROR_INVALID_ARGUMENT (an empty path,
/// a URL that is not http:// or https://, `timeout_ms` out of range).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flags_file_monitor_json(
    path: *const c_char,
    path_len: usize,
    prometheus_url: *const c_char,
    url_len: usize,
    timeout_ms: u32,
    out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> i32 {
    let body = || {
        // SAFETY: NULL or `path_len` readable bytes, by the crate's rules.
        let path = unsafe { text(path, path_len, "path") }?;
        // SAFETY: NULL or `url_len` readable bytes, by the crate's rules.
        let url = unsafe { text(prometheus_url, url_len, "prometheus_url") }?;
        if path.is_empty() {
            return Err(invalid("`path` is empty"));
        }
        if timeout_ms == 0 || timeout_ms > MAX_MONITOR_TIMEOUT_MS {
            return Err(invalid(format!(
                "`timeout_ms`: expected milliseconds from 1 to {MAX_MONITOR_TIMEOUT_MS}, found {timeout_ms}"
            )));
        }
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        // `within` below ends every query at `timeout`; the client's own
        // timeout, a little later, never fires first, so that a silent
        // Prometheus is said as "no answer within ... ms".
        let client_timeout = timeout + Duration::from_secs(1);
        let prometheus = monitor::Prometheus::new(url, client_timeout).map_err(monitor_failure)?;
        let path = Path::new(path);
        let snapshot = flags_core::Snapshot::from_path(path).map_err(|e| Failure::flags(&e))?;
        let readings =
            monitor::read(&snapshot, &prometheus, None, Some(timeout)).map_err(monitor_failure)?;
        monitor::json(path, flags_core::now(), &readings).map_err(monitor_failure)
    };
    // SAFETY: `out` and `error_out` are NULL or valid for writes.
    unsafe { produce(out, error_out, body) }
}

fn monitor_failure(error: MonitorError) -> Failure {
    match error {
        MonitorError::Url(message) => invalid(format!("`prometheus_url` {message}")),
        MonitorError::Flags(e) => Failure::flags(&e),
        other => Failure::new(FLAGS_ERROR_IO, other.to_string()),
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(FLAGS_ERROR_INVALID_ARGUMENT, message)
}

/// A request of `flags_file_edit`, read and checked.
struct Request {
    path: PathBuf,
    ops: Vec<Op>,
    dry_run: bool,
    audit_log: Option<PathBuf>,
    actor: Option<String>,
    command: Option<String>,
    reason: Option<String>,
    lock_wait: Duration,
}

/// The fields of a request, for messages.
const REQUEST_FIELDS: &str = "path, ops, dry_run, audit_log, actor, command, reason, lock_wait_ms";

/// The operations and their fields (besides `op`), for messages.
const OPS: &[(&str, &[&str])] = &[
    ("set_percentage", &["flag", "percentage"]),
    ("set_ramp", &["flag", "points"]),
    ("add_pilots", &["flag", "ids", "attribute"]),
    ("remove_pilots", &["flag", "ids", "attribute"]),
    ("kill", &["flag"]),
    ("unkill", &["flag"]),
    ("pause", &["flag", "at"]),
    ("resume", &["flag"]),
    ("stage", &["flag", "stage", "next", "pilot_stage", "safe"]),
    ("rollback", &["flag"]),
    ("kill_all", &[]),
    ("unkill_all", &[]),
    ("create", &["flag", "description", "owner"]),
    ("delete", &["flag"]),
    ("replace", &["text"]),
];

impl Request {
    fn parse(json: &str) -> Result<Self, Failure> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("`request_json` is not valid JSON: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(invalid(format!(
                "`request_json` must be a JSON object {{\"path\": ..., \"ops\": [...]}}, found {}",
                kind(&value)
            )));
        };
        let object = Fields::new(&fields, "request", REQUEST_FIELDS)?;
        let path = object.string("path")?;
        if path.is_empty() {
            return Err(invalid(
                "request.path is empty: expected the flag file's path",
            ));
        }
        let ops = match object.get("ops") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, op)| parse_op(op, &format!("ops[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Array(_)) => {
                return Err(invalid(
                    "request.ops is empty: expected at least one operation",
                ));
            }
            Some(other) => {
                return Err(invalid(format!(
                    "request.ops: expected an array of operations, found {}",
                    kind(other)
                )));
            }
            None => {
                return Err(invalid(
                    "request.ops is missing: expected an array of operations",
                ));
            }
        };
        let lock_wait_ms = match object.get("lock_wait_ms") {
            None | Some(Value::Null) => edit::DEFAULT_LOCK_WAIT.as_millis() as u64,
            Some(Value::Number(n)) => n.as_u64().filter(|ms| *ms <= MAX_LOCK_WAIT_MS).ok_or_else(|| {
                invalid(format!(
                    "request.lock_wait_ms: expected milliseconds from 0 to {MAX_LOCK_WAIT_MS}, found {n}"
                ))
            })?,
            Some(other) => {
                return Err(invalid(format!(
                    "request.lock_wait_ms: expected milliseconds from 0 to {MAX_LOCK_WAIT_MS}, found {}",
                    kind(other)
                )));
            }
        };
        let actor = object.optional_string("actor")?;
        if actor.as_deref().is_some_and(|a| a.trim().is_empty()) {
            return Err(invalid(
                "request.actor is empty: give a name, or leave it out (or null) to record the \
                 login name",
            ));
        }
        Ok(Request {
            path: PathBuf::from(path),
            ops,
            dry_run: object.boolean("dry_run")?,
            audit_log: object.optional_string("audit_log")?.map(PathBuf::from),
            actor,
            command: object.optional_string("command")?,
            reason: object.optional_string("reason")?,
            lock_wait: Duration::from_millis(lock_wait_ms),
        })
    }
}

/// The members of a JSON object, read by name, with messages naming where
/// they are (`ops[2].flag`).
struct Fields<'a> {
    fields: &'a Map<String, Value>,
    at: &'a str,
}

impl<'a> Fields<'a> {
    /// Refuses a member whose name is not one of `known` (comma-separated).
    fn new(fields: &'a Map<String, Value>, at: &'a str, known: &str) -> Result<Self, Failure> {
        let names: Vec<&str> = known.split(", ").filter(|n| !n.is_empty()).collect();
        if let Some(unknown) = fields.keys().find(|k| !names.contains(&k.as_str())) {
            let expected = if names.is_empty() {
                "no other field".to_owned()
            } else {
                format!("one of: {known}")
            };
            return Err(invalid(format!(
                "{at}: unknown field {}; expected {expected}",
                quote(unknown)
            )));
        }
        Ok(Self { fields, at })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.fields.get(name)
    }

    fn string(&self, name: &str) -> Result<&'a str, Failure> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(invalid(format!(
                "{}.{name}: expected a string, found {}",
                self.at,
                kind(other)
            ))),
            None => Err(invalid(format!(
                "{}.{name} is missing: expected a string",
                self.at
            ))),
        }
    }

    /// A string, or None when absent or null.
    fn optional_string(&self, name: &str) -> Result<Option<String>, Failure> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(format!(
                "{}.{name}: expected a string or null, found {}",
                self.at,
                kind(other)
            ))),
        }
    }

    /// A boolean, false when absent or null.
    fn boolean(&self, name: &str) -> Result<bool, Failure> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(invalid(format!(
                "{}.{name}: expected true or false, found {}",
                self.at,
                kind(other)
            ))),
        }
    }

    /// A list of strings.
    fn strings(&self, name: &str) -> Result<Vec<String>, Failure> {
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(format!(
                        "{}.{name}[{i}]: expected a string, found {}",
                        self.at,
                        kind(other)
                    ))),
                })
                .collect(),
            Some(other) => Err(invalid(format!(
                "{}.{name}: expected an array of strings, found {}",
                self.at,
                kind(other)
            ))),
            None => Err(invalid(format!(
                "{}.{name} is missing: expected an array of strings",
                self.at
            ))),
        }
    }
}

/// One operation of a request, at `at` (`ops[0]`).
fn parse_op(value: &Value, at: &str) -> Result<Op, Failure> {
    let Value::Object(fields) = value else {
        return Err(invalid(format!(
            "{at}: expected an operation object such as {{\"op\": \"kill\", \"flag\": \"checkout\"}}, found {}",
            kind(value)
        )));
    };
    let names: Vec<&str> = OPS.iter().map(|(name, _)| *name).collect();
    let op = match fields.get("op") {
        Some(Value::String(op)) => op.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "{at}.op: expected a string, one of: {}; found {}",
                names.join(", "),
                kind(other)
            )));
        }
        None => {
            return Err(invalid(format!(
                "{at}.op is missing: expected one of: {}",
                names.join(", ")
            )));
        }
    };
    let Some((_, operands)) = OPS.iter().find(|(name, _)| *name == op) else {
        return Err(invalid(format!(
            "{at}.op: unknown operation {}; expected one of: {}",
            quote(op),
            names.join(", ")
        )));
    };
    let mut known = vec!["op"];
    known.extend_from_slice(operands);
    let fields = Fields::new(fields, at, &known.join(", "))?;
    let flag = || fields.string("flag").map(str::to_owned);
    Ok(match op {
        "set_percentage" => Op::SetPercentage {
            flag: flag()?,
            basis_points: percentage(fields.get("percentage"), &format!("{at}.percentage"))?,
        },
        "set_ramp" => Op::SetRamp {
            flag: flag()?,
            points: ramp(fields.get("points"), &format!("{at}.points"))?,
        },
        "add_pilots" | "remove_pilots" => {
            let flag = fields.optional_string("flag")?;
            let attribute = fields
                .optional_string("attribute")?
                .unwrap_or_else(|| "user_id".to_owned());
            let ids = fields.strings("ids")?;
            if op == "add_pilots" {
                Op::AddPilots {
                    flag,
                    attribute,
                    ids,
                }
            } else {
                Op::RemovePilots {
                    flag,
                    attribute,
                    ids,
                }
            }
        }
        "kill" => Op::Kill { flag: flag()? },
        "unkill" => Op::Unkill { flag: flag()? },
        // `at` defaults to now, as `flags pause` does; the editor checks a
        // given time and says what it expected.
        "pause" => Op::Pause {
            flag: flag()?,
            at: fields
                .optional_string("at")?
                .unwrap_or_else(|| flags_core::now().to_string()),
        },
        "resume" => Op::Resume { flag: flag()? },
        // Each stage given by name, as `flags stage` reads it.
        "stage" => {
            let stage = |name: &str| -> Result<Option<Stage>, Failure> {
                fields
                    .optional_string(name)?
                    .map(|text| {
                        edit::parse_stage(&text).map_err(|e| invalid(format!("{at}.{name}: {e}")))
                    })
                    .transpose()
            };
            Op::Stage {
                flag: flag()?,
                change: StageChange {
                    stage: stage("stage")?,
                    next: stage("next")?,
                    pilot_stage: stage("pilot_stage")?,
                    safe: stage("safe")?,
                },
            }
        }
        "rollback" => Op::Rollback { flag: flag()? },
        "kill_all" => Op::KillAll,
        "unkill_all" => Op::UnkillAll,
        "create" => Op::Create {
            flag: flag()?,
            description: fields.optional_string("description")?,
            owner: fields.optional_string("owner")?,
        },
        "delete" => Op::Delete { flag: flag()? },
        _ => Op::Replace {
            text: fields.string("text")?.to_owned(),
        },
    })
}

/// A percentage given as a string (`"12.5"`, `"12.5%"`) or a number
/// (`12.5`), as `flags set --percentage` reads it: basis points.
fn percentage(value: Option<&Value>, at: &str) -> Result<u32, Failure> {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(invalid(format!(
                "{at}: expected a percentage (a number or a string such as \"12.5\"), found {}",
                kind(other)
            )));
        }
        None => {
            return Err(invalid(format!(
                "{at} is missing: expected a percentage such as 12.5"
            )));
        }
    };
    edit::parse_percentage(&text).map_err(|e| invalid(format!("{at}: {e}")))
}

/// Ramp points: `[[percentage, "time"], ...]` or `[{"at": "time",
/// "percentage": p}, ...]`.
fn ramp(value: Option<&Value>, at: &str) -> Result<Vec<(String, u32)>, Failure> {
    const EXPECTED: &str = "expected [percentage, time] pairs such as [[10, \"2026-11-21T00:00:00Z\"], [100, \"2026-11-22T00:00:00Z\"]]";
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(invalid(format!(
                "{at} is empty: a ramp needs at least one point"
            )));
        }
        Some(other) => return Err(invalid(format!("{at}: {EXPECTED}, found {}", kind(other)))),
        None => return Err(invalid(format!("{at} is missing: {EXPECTED}"))),
    };
    let mut points = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let (bp, time) = match item {
            Value::Array(pair) if pair.len() == 2 => (
                percentage(pair.first(), &format!("{here}[0]"))?,
                pair.get(1),
            ),
            Value::Object(fields) => {
                let fields = Fields::new(fields, &here, "at, percentage")?;
                (
                    percentage(fields.get("percentage"), &format!("{here}.percentage"))?,
                    fields.get("at"),
                )
            }
            other => {
                return Err(invalid(format!(
                    "{here}: {EXPECTED}, found {}",
                    kind(other)
                )));
            }
        };
        let time = match time {
            Some(Value::String(time)) => time,
            Some(other) => {
                return Err(invalid(format!(
                    "{here}: the time: expected an RFC 3339 string such as \"2026-11-21T00:00:00Z\", found {}",
                    kind(other)
                )));
            }
            None => return Err(invalid(format!("{here}: the time is missing"))),
        };
        Timestamp::parse_rfc3339(time).map_err(|e| invalid(format!("{here}: {e}")))?;
        points.push((time.clone(), bp));
    }
    Ok(points)
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `text` as a JSON string, for messages.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// The result of a successful `flags_file_edit`.
#[derive(Serialize)]
struct Edited<'a> {
    written: bool,
    dry_run: bool,
    summary: &'a str,
    changes: &'a [String],
    before: &'a str,
    after: &'a str,
    audit_log: Option<String>,
    /// What the edit said on the way ([`Notice`]s: an interrupted edit
    /// settled, a wait for another edit), one line each.
    notes: Vec<String>,
}

fn edit_file(request: &Request) -> Result<String, Failure> {
    let notes = RefCell::new(Vec::new());
    let collect = |notice: &Notice| notes.borrow_mut().push(notice.to_string());
    let command = request.command.clone().unwrap_or_else(|| {
        // The host process's command line (`php artisan flags:kill x`).
        edit::shell_command(std::env::args_os())
    });
    let mut options = Options::new(command);
    options.dry_run = request.dry_run;
    options.audit_log.clone_from(&request.audit_log);
    options.actor.clone_from(&request.actor);
    options.reason.clone_from(&request.reason);
    options.lock_wait = request.lock_wait;
    options.notify = Some(&collect);
    let outcome: Outcome = edit::apply(&request.path, &request.ops, &options).map_err(failure)?;
    let notes = notes.into_inner();
    serde_json::to_string(&Edited {
        written: outcome.written,
        dry_run: outcome.dry_run,
        summary: &outcome.summary,
        changes: &outcome.changes,
        before: &outcome.before,
        after: &outcome.after,
        audit_log: outcome.audit_log.map(|p| p.display().to_string()),
        notes,
    })
    .map_err(|e| Failure::new(FLAGS_ERROR_PANIC, e.to_string()))
}

/// The result code of an edit error; the message is the `flags` CLI's.
fn failure(error: EditError) -> Failure {
    let code = match error.kind() {
        EditErrorKind::Conflict => FLAGS_ERROR_CONFLICT,
        EditErrorKind::Invalid => FLAGS_ERROR_INVALID_FLAGS,
        EditErrorKind::Io => FLAGS_ERROR_IO,
        EditErrorKind::Rejected => FLAGS_ERROR_INVALID_ARGUMENT,
        _ => flags_result::FLAGS_ERROR_IO,
    };
    Failure::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(json: &str) -> String {
        match Request::parse(json) {
            Ok(_) => panic!("accepted: {json}"),
            Err(failure) => {
                assert_eq!(failure.code, FLAGS_ERROR_INVALID_ARGUMENT, "{json}");
                failure.message
            }
        }
    }

    #[test]
    fn bad_requests_are_refused_naming_the_field() {
        let cases = [
            (
                "[]",
                "`request_json` must be a JSON object {\"path\": ..., \"ops\": [...]}, found an array",
            ),
            (
                "{\"ops\": [{\"op\": \"kill_all\"}]}",
                "request.path is missing: expected a string",
            ),
            (
                "{\"path\": \"\", \"ops\": [{\"op\": \"kill_all\"}]}",
                "request.path is empty: expected the flag file's path",
            ),
            (
                "{\"path\": \"f\", \"ops\": []}",
                "request.ops is empty: expected at least one operation",
            ),
            (
                "{\"path\": \"f\"}",
                "request.ops is missing: expected an array of operations",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\"}], \"dryrun\": true}",
                "request: unknown field \"dryrun\"; expected one of: path, ops, dry_run, audit_log, actor, command, reason, lock_wait_ms",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kil\", \"flag\": \"x\"}]}",
                "ops[0].op: unknown operation \"kil\"; expected one of: set_percentage, set_ramp, add_pilots, remove_pilots, kill, unkill, pause, resume, stage, rollback, kill_all, unkill_all, create, delete, replace",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\"}, {\"op\": \"kill\"}]}",
                "ops[1].flag is missing: expected a string",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill\", \"flag\": 7}]}",
                "ops[0].flag: expected a string, found the number 7",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill\", \"flag\": \"x\", \"percentage\": 5}]}",
                "ops[0]: unknown field \"percentage\"; expected one of: op, flag",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\", \"flag\": \"x\"}]}",
                "ops[0]: unknown field \"flag\"; expected one of: op",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"set_percentage\", \"flag\": \"x\", \"percentage\": \"12.345\"}]}",
                "ops[0].percentage: invalid percentage \"12.345\": at most two decimals (0.01 is the smallest step)",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"set_percentage\", \"flag\": \"x\", \"percentage\": 101}]}",
                "ops[0].percentage: invalid percentage \"101\": expected a number from 0 to 100",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"set_ramp\", \"flag\": \"x\", \"points\": [[10, \"tomorrow\"]]}]}",
                "ops[0].points[0]: invalid time `tomorrow`: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"add_pilots\", \"flag\": null, \"ids\": [\"1\", 2]}]}",
                "ops[0].ids[1]: expected a string, found the number 2",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\"}], \"lock_wait_ms\": 600000}",
                "request.lock_wait_ms: expected milliseconds from 0 to 60000, found 600000",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\"}], \"actor\": \" \"}",
                "request.actor is empty: give a name, or leave it out (or null) to record the login name",
            ),
            (
                "{\"path\": \"f\", \"ops\": [{\"op\": \"kill_all\"}], \"dry_run\": \"yes\"}",
                "request.dry_run: expected true or false, found the string \"yes\"",
            ),
            (
                "{\"path\": \"f\", \"ops\": [\"kill_all\"]}",
                "ops[0]: expected an operation object such as {\"op\": \"kill\", \"flag\": \"checkout\"}, found the string \"kill_all\"",
            ),
        ];
        for (json, message) in cases {
            assert_eq!(refused(json), message, "{json}");
        }
        assert!(refused("{").starts_with("`request_json` is not valid JSON: EOF while parsing"));
    }

    #[test]
    fn every_operation_as_a_request_says_it() {
        let request = Request::parse(
            r#"{"path": "flags.json", "dry_run": true, "lock_wait_ms": 0, "ops": [
                {"op": "set_percentage", "flag": "a", "percentage": "12.5%"},
                {"op": "set_percentage", "flag": "a", "percentage": 0.25},
                {"op": "set_ramp", "flag": "a", "points": [[10, "2026-11-21T00:00:00Z"], {"at": "2026-11-22T00:00:00Z", "percentage": "100"}]},
                {"op": "add_pilots", "flag": null, "ids": ["1"]},
                {"op": "remove_pilots", "flag": "a", "ids": ["2"], "attribute": "tenant_id"},
                {"op": "kill", "flag": "a"}, {"op": "unkill", "flag": "a"},
                {"op": "kill_all"}, {"op": "unkill_all"},
                {"op": "create", "flag": "b", "description": null, "owner": "team"},
                {"op": "delete", "flag": "b"},
                {"op": "replace", "text": "{}"}
            ]}"#,
        )
        .unwrap_or_else(|f| panic!("{}", f.message));
        let a = || "a".to_owned();
        assert_eq!(
            request.ops,
            [
                Op::SetPercentage {
                    flag: a(),
                    basis_points: 1250
                },
                Op::SetPercentage {
                    flag: a(),
                    basis_points: 25
                },
                Op::SetRamp {
                    flag: a(),
                    points: vec![
                        ("2026-11-21T00:00:00Z".to_owned(), 1000),
                        ("2026-11-22T00:00:00Z".to_owned(), 10_000)
                    ]
                },
                Op::AddPilots {
                    flag: None,
                    attribute: "user_id".to_owned(),
                    ids: vec!["1".to_owned()]
                },
                Op::RemovePilots {
                    flag: Some(a()),
                    attribute: "tenant_id".to_owned(),
                    ids: vec!["2".to_owned()]
                },
                Op::Kill { flag: a() },
                Op::Unkill { flag: a() },
                Op::KillAll,
                Op::UnkillAll,
                Op::Create {
                    flag: "b".to_owned(),
                    description: None,
                    owner: Some("team".to_owned())
                },
                Op::Delete {
                    flag: "b".to_owned()
                },
                Op::Replace {
                    text: "{}".to_owned()
                },
            ]
        );
        assert!(request.dry_run);
        assert_eq!(request.lock_wait, Duration::ZERO);
        assert_eq!(request.path, Path::new("flags.json"));
        assert_eq!(
            (request.actor, request.command, request.audit_log),
            (None, None, None)
        );
    }
}
