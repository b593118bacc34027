//! `flags eval`: evaluate one request, or stream JSON Lines requests.

use std::borrow::Cow;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use flags_core::{Evaluation, OwnedContext, Snapshot, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ops::output;

#[derive(clap::Args)]
/// Options of `flags eval`.
pub struct Args {
    /// The flag file.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Evaluate at this RFC 3339 time instead of the system clock.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    now: Option<Timestamp>,
    /// Evaluate this one flag instead of reading requests from stdin.
    #[arg(long, value_name = "KEY")]
    flag: Option<String>,
    /// With --flag: the context as a JSON object (default: {}).
    #[arg(long, value_name = "JSON", requires = "flag")]
    context: Option<String>,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| e.to_string())
}

/// One request line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    flag: Cow<'a, str>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

/// One result, as `flags eval` and `POST /v1/evaluate` write it.
#[derive(Serialize)]
pub(crate) struct Response<'a> {
    flag: &'a str,
    enabled: bool,
    variant: Option<&'a str>,
    reason: &'static str,
    bucket: Option<u16>,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    line: u64,
    error: &'a str,
}

/// Runs `flags eval`.
pub fn run(args: &Args) -> ExitCode {
    let snapshot = match Snapshot::from_path(&args.file) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let clock = || args.now.unwrap_or_else(flags_core::now);
    if let Some(flag) = &args.flag {
        let ctx = match OwnedContext::from_json(args.context.as_deref().unwrap_or("{}")) {
            Ok(ctx) => ctx,
            Err(err) => {
                eprintln!("--context: {err}");
                return ExitCode::FAILURE;
            }
        };
        let result = snapshot.evaluate(flag, &ctx.as_context(), clock());
        output::print_line(&response_json(flag, &result));
        return ExitCode::SUCCESS;
    }
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    match stream(&snapshot, stdin, stdout, clock) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(bad) => {
            eprintln!("flags eval: {bad} request line(s) had errors");
            ExitCode::FAILURE
        }
        // A closed stdout (e.g. `| head`) ends the run quietly.
        Err(e) if output::is_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flags eval: {e}");
            ExitCode::FAILURE
        }
    }
}

fn response_json(flag: &str, result: &Evaluation<'_>) -> String {
    serde_json::to_string(&response(flag, result)).unwrap_or_default()
}

pub(crate) fn response<'a>(flag: &'a str, result: &Evaluation<'a>) -> Response<'a> {
    Response {
        flag,
        enabled: result.enabled,
        variant: result.variant,
        reason: result.reason.as_str(),
        bucket: result.bucket,
    }
}

/// Answers every request line of `input` on `output`, in order, in
/// bounded memory. Returns how many lines were bad.
fn stream(
    snapshot: &Snapshot,
    mut input: impl BufRead,
    output: impl Write,
    clock: impl Fn() -> Timestamp,
) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut bad = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let text = trim_line_end(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue; // blank lines are not requests
        }
        match answer(snapshot, text, &clock, &mut out) {
            Ok(()) => {}
            Err(Answer::Bad(message)) => {
                bad += 1;
                serde_json::to_writer(
                    &mut out,
                    &ErrorLine {
                        line: number,
                        error: &message,
                    },
                )
                // `from` keeps the kind of a write error (a closed stdout).
                .map_err(io::Error::from)?;
            }
            Err(Answer::Io(e)) => return Err(e),
        }
        out.write_all(b"\n")?;
        // Flush when no more input is waiting, so an interactive caller
        // gets each answer at once while a bulk run writes in large blocks.
        if input.fill_buf()?.is_empty() {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(bad)
}

enum Answer {
    Bad(String),
    Io(io::Error),
}

fn answer(
    snapshot: &Snapshot,
    text: &[u8],
    clock: &impl Fn() -> Timestamp,
    out: &mut impl Write,
) -> Result<(), Answer> {
    let text =
        std::str::from_utf8(text).map_err(|_| Answer::Bad("request is not valid UTF-8".into()))?;
    let request: Request<'_> =
        serde_json::from_str(text).map_err(|e| Answer::Bad(format!("invalid request: {e}")))?;
    let ctx = match request.context {
        Some(raw) => OwnedContext::from_json(raw.get()).map_err(|e| {
            let detail: Vec<String> = e
                .diagnostics()
                .iter()
                .map(|d| {
                    format!("context.{}: {}", d.path(), d.message())
                        .replace("context.(root)", "context")
                })
                .collect();
            Answer::Bad(format!("invalid request: {}", detail.join("; ")))
        })?,
        None => OwnedContext::new(),
    };
    let result = snapshot.evaluate(&request.flag, &ctx.as_context(), clock());
    serde_json::to_writer(out, &response(&request.flag, &result))
        .map_err(|e| Answer::Io(io::Error::from(e)))
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_stream(file: &str, input: &str) -> (String, u64) {
        let snapshot = Snapshot::from_slice(file.as_bytes()).expect("valid file");
        let mut out = Vec::new();
        let bad = stream(&snapshot, input.as_bytes(), &mut out, || {
            Timestamp::from_unix_millis(0)
        })
        .expect("in-memory io");
        (String::from_utf8(out).expect("utf-8"), bad)
    }

    #[test]
    fn answers_in_order_and_reports_bad_lines() {
        let file = r#"{"version": 1, "pilots": {"user_id": ["1"]}, "flags": {"a": {"percentage": 100}, "b": {}}}"#;
        let input = concat!(
            r#"{"flag": "a", "context": {"user_id": 7}}"#,
            "\n",
            "not json\n",
            "\n",
            r#"{"flag": "b", "context": {"user_id": "1"}}"#,
            "\r\n",
            r#"{"flag": "a", "context": {"user_id": 1.5}}"#,
            "\n",
            r#"{"flag": "zzz"}"#,
        );
        let (out, bad) = run_stream(file, input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(bad, 2);
        assert_eq!(lines.len(), 5);
        let bucket = flags_core::bucket("a", "7");
        assert_eq!(
            lines[0],
            format!(
                r#"{{"flag":"a","enabled":true,"variant":null,"reason":"ROLLOUT_IN","bucket":{bucket}}}"#
            )
        );
        assert!(
            lines[1].starts_with(r#"{"line":2,"error":"invalid request: "#),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[2],
            r#"{"flag":"b","enabled":true,"variant":null,"reason":"PILOT","bucket":null}"#
        );
        assert!(
            lines[3].contains(r#""line":5"#)
                && lines[3].contains("context.user_id: expected a string"),
            "{}",
            lines[3]
        );
        assert_eq!(
            lines[4],
            r#"{"flag":"zzz","enabled":false,"variant":null,"reason":"FLAG_NOT_FOUND","bucket":null}"#
        );
    }
}
