//! `flags eval`: evaluate one request, or stream JSON Lines requests.

use std::borrow::Cow;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use flags_core::{Evaluation, OwnedContext, Snapshot, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::output;
use crate::wire::{self, Answer};

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

#[derive(Serialize)]
struct ErrorLine<'a> {
    line: u64,
    error: &'a str,
}

/// The longest request line `flags eval` reads, not counting its line end:
/// 1 MiB. A longer line is answered with an error, and its bytes are
/// skipped as they arrive, never held in memory.
pub const MAX_LINE: usize = 1024 * 1024;

/// Input is read in blocks of up to this size.
const BLOCK: usize = 64 * 1024;

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
    match stream(&snapshot, io::stdin().lock(), io::stdout().lock(), clock) {
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
    serde_json::to_string(&Answer::new(flag, result)).unwrap_or_default()
}

/// Answers every request line of `input` on `output`, in order, in
/// bounded memory (one block, one line of at most [`MAX_LINE`] and the
/// output buffer). Returns how many lines were bad.
///
/// Each read returns what is there, up to a block: a whole block from a
/// file, whatever the writer has sent from a pipe or a terminal. The
/// answers to the lines of a block are flushed before the next read, which
/// may wait for input: so a caller that sends one request and waits gets
/// its answer at once, and a bulk run still writes in blocks as large as
/// it reads them (one write per up to 64 KiB of requests).
fn stream(
    snapshot: &Snapshot,
    mut input: impl Read,
    output: impl Write,
    clock: impl Fn() -> Timestamp,
) -> io::Result<u64> {
    let mut answers = Answers {
        snapshot,
        clock,
        out: BufWriter::with_capacity(2 * BLOCK, output),
        bad: 0,
    };
    let mut lines = Lines::default();
    let mut block = vec![0; BLOCK];
    loop {
        let n = match input.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines.feed(&block[..n], &mut answers)?;
        answers.out.flush()?;
    }
    lines.finish(&mut answers)?;
    answers.out.flush()?;
    Ok(answers.bad)
}

/// Cuts blocks into lines. A line is answered straight from its block
/// when it lies within one; only the start of a line that continues in
/// the next block is copied, up to [`MAX_LINE`].
#[derive(Default)]
struct Lines {
    /// The start of the current line, when it began in an earlier block.
    partial: Vec<u8>,
    /// The current line is over [`MAX_LINE`]: its bytes are dropped.
    skipping: bool,
    /// Lines completed so far (the current one is `number + 1`).
    number: u64,
}

impl Lines {
    fn feed<W: Write, C: Fn() -> Timestamp>(
        &mut self,
        block: &[u8],
        answers: &mut Answers<'_, W, C>,
    ) -> io::Result<()> {
        let mut rest = block;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let segment = &rest[..end];
            rest = &rest[end + 1..];
            self.number += 1;
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                answers.line(self.number, segment)?;
            } else if self.partial.len() + segment.len() <= MAX_LINE + 1 {
                self.partial.extend_from_slice(segment);
                answers.line(self.number, &self.partial)?;
                self.partial.clear();
            } else {
                self.partial.clear();
                answers.too_long(self.number)?;
            }
        }
        if self.skipping || rest.is_empty() {
            return Ok(());
        }
        // One byte over MAX_LINE may still be the `\r` of a `\r\n`.
        if self.partial.len() + rest.len() <= MAX_LINE + 1 {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
            self.skipping = true;
            answers.too_long(self.number + 1)?;
        }
        Ok(())
    }

    /// The last line, when the input does not end with a line end.
    fn finish<W: Write, C: Fn() -> Timestamp>(
        &mut self,
        answers: &mut Answers<'_, W, C>,
    ) -> io::Result<()> {
        if self.partial.is_empty() {
            return Ok(());
        }
        self.number += 1;
        let line = std::mem::take(&mut self.partial);
        answers.line(self.number, &line)
    }
}

/// Writes the answer to each request line.
struct Answers<'s, W: Write, C> {
    snapshot: &'s Snapshot,
    clock: C,
    out: BufWriter<W>,
    bad: u64,
}

impl<W: Write, C: Fn() -> Timestamp> Answers<'_, W, C> {
    /// Answers line `number` (without its `\n`).
    fn line(&mut self, number: u64, line: &[u8]) -> io::Result<()> {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if text.len() > MAX_LINE {
            return self.too_long(number);
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(()); // blank lines are not requests
        }
        match answer(self.snapshot, text, &self.clock, &mut self.out) {
            Ok(()) => {}
            Err(LineError::Bad(message)) => self.error(number, &message)?,
            Err(LineError::Io(e)) => return Err(e),
        }
        self.out.write_all(b"\n")
    }

    fn too_long(&mut self, number: u64) -> io::Result<()> {
        self.error(
            number,
            &format!("request line longer than 1 MiB ({MAX_LINE} bytes); skipped"),
        )?;
        self.out.write_all(b"\n")
    }

    fn error(&mut self, number: u64, message: &str) -> io::Result<()> {
        self.bad += 1;
        serde_json::to_writer(
            &mut self.out,
            &ErrorLine {
                line: number,
                error: message,
            },
        )
        // `from` keeps the kind of a write error (a closed stdout).
        .map_err(io::Error::from)
    }
}

/// Why a request line got an error line instead of an answer.
enum LineError {
    Bad(String),
    Io(io::Error),
}

fn answer(
    snapshot: &Snapshot,
    text: &[u8],
    clock: &impl Fn() -> Timestamp,
    out: &mut impl Write,
) -> Result<(), LineError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| LineError::Bad("request is not valid UTF-8".into()))?;
    let request: Request<'_> =
        serde_json::from_str(text).map_err(|e| LineError::Bad(format!("invalid request: {e}")))?;
    let ctx = wire::context(request.context)
        .map_err(|e| LineError::Bad(format!("invalid request: {e}")))?;
    let result = snapshot.evaluate(&request.flag, &ctx.as_context(), clock());
    serde_json::to_writer(out, &Answer::new(&request.flag, &result))
        .map_err(|e| LineError::Io(io::Error::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_stream(file: &str, input: &str) -> (String, u64) {
        run_chunked(file, input.as_bytes(), usize::MAX)
    }

    /// Reads at most `chunk` bytes a call, as a pipe fed slowly does.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn run_chunked(file: &str, input: &[u8], chunk: usize) -> (String, u64) {
        let snapshot = Snapshot::from_slice(file.as_bytes()).expect("valid file");
        let mut out = Vec::new();
        let input = Chunked {
            data: input.to_vec(),
            at: 0,
            chunk,
        };
        let bad = stream(&snapshot, input, &mut out, || {
            Timestamp::from_unix_millis(0)
        })
        .expect("in-memory io");
        (String::from_utf8(out).expect("utf-8"), bad)
    }

    const FILE: &str = r#"{"version": 1, "flags": {"a": {"percentage": 100}}}"#;
    const ANSWER_A: &str =
        r#"{"flag":"a","enabled":true,"variant":null,"reason":"ROLLOUT_IN","bucket":"#;

    #[test]
    fn lines_split_across_reads_are_answered_whole() {
        let input = "{\"flag\": \"a\", \"context\": {\"user_id\": \"7\"}}\r\n\n{\"flag\": \"a\"}\n{\"flag\": \"a\", \"context\": {\"user_id\": \"8\"}}";
        let (whole, bad) = run_stream(FILE, input);
        assert_eq!(bad, 0);
        assert_eq!(whole.lines().count(), 3, "{whole}");
        for chunk in [1, 2, 3, 7] {
            assert_eq!(
                run_chunked(FILE, input.as_bytes(), chunk),
                (whole.clone(), 0)
            );
        }
    }

    /// `{"flag": "a"}` padded with spaces to `len` bytes.
    fn padded_request(len: usize) -> String {
        let request = r#"{"flag": "a"}"#;
        format!("{request}{}", " ".repeat(len - request.len()))
    }

    #[test]
    fn regression_a_line_over_one_mib_is_refused_and_skipped() {
        let at_cap = padded_request(MAX_LINE);
        let over_cap = padded_request(MAX_LINE + 1);
        let huge = "x".repeat(5 * MAX_LINE);
        let input = format!("{at_cap}\r\n{over_cap}\n{huge}\n{{\"flag\": \"a\"}}\n{huge}");
        let too_long =
            r#"{"line":LINE,"error":"request line longer than 1 MiB (1048576 bytes); skipped"}"#;
        for chunk in [usize::MAX, 1000, 4096 + 1] {
            let (out, bad) = run_chunked(FILE, input.as_bytes(), chunk);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(bad, 3, "{chunk}");
            assert_eq!(lines.len(), 5, "{chunk}");
            assert!(lines[0].starts_with(ANSWER_A), "{}", lines[0]);
            assert_eq!(lines[1], too_long.replace("LINE", "2"));
            assert_eq!(lines[2], too_long.replace("LINE", "3"));
            assert!(lines[3].starts_with(ANSWER_A), "{}", lines[3]);
            assert_eq!(lines[4], too_long.replace("LINE", "5"));
        }
    }

    /// One case of a golden vector (`tests/vectors/*.json`), written by the
    /// independent reference implementation.
    #[derive(Deserialize)]
    struct Case {
        name: String,
        flag: String,
        context: Box<RawValue>,
        now: String,
        expected: serde_json::Value,
    }

    #[derive(Deserialize)]
    struct Vector {
        /// The flag file, as the vector's text has it (never re-serialized).
        file: Box<RawValue>,
        cases: Vec<Case>,
    }

    fn vectors_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
    }

    fn vector(name: &str) -> Vector {
        let path = vectors_dir().join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn case<'v>(vector: &'v Vector, name: &str) -> &'v Case {
        vector
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name:?}"))
    }

    /// The request line for `case`: its context as the vector's text has
    /// it, on one line (a raw line end can only be whitespace in JSON).
    fn request(case: &Case) -> String {
        format!(
            "{{\"flag\": {}, \"context\": {}}}",
            serde_json::to_string(&case.flag).expect("a string"),
            case.context.get().replace(['\n', '\r'], " ")
        )
    }

    /// The answer line `case` expects: its flag, then the expected fields.
    fn expected(case: &Case) -> serde_json::Value {
        let mut answer = case.expected.clone();
        answer["flag"] = case.flag.clone().into();
        answer
    }

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Runs `input` against `file` at the time `now` (RFC 3339).
    fn run_at(file: &str, input: &str, now: &str) -> (String, u64) {
        let snapshot = Snapshot::from_slice(file.as_bytes()).expect("valid file");
        let now = Timestamp::parse_rfc3339(now).expect("valid time");
        let mut out = Vec::new();
        let bad = stream(&snapshot, input.as_bytes(), &mut out, || now).expect("in-memory io");
        (String::from_utf8(out).expect("utf-8"), bad)
    }

    #[test]
    fn answers_match_the_golden_vectors() {
        let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
            .expect("tests/vectors")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .filter(|n| n.ends_with(".json") && !n.starts_with("invalid-"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{files:?}");
        let mut total = 0;
        for name in files {
            let vector = vector(&name);
            // One run per time the cases are evaluated at, all its cases
            // as request lines: answers in the order of the requests.
            let mut times: Vec<&str> = vector.cases.iter().map(|c| c.now.as_str()).collect();
            times.sort_unstable();
            times.dedup();
            for now in times {
                let cases: Vec<&Case> = vector.cases.iter().filter(|c| c.now == now).collect();
                let input: String = cases.iter().map(|c| request(c) + "\n").collect();
                let (out, bad) = run_at(vector.file.get(), &input, now);
                assert_eq!(bad, 0, "{name}: {out}");
                let lines: Vec<&str> = out.lines().collect();
                assert_eq!(lines.len(), cases.len(), "{name}");
                for (case, line) in cases.iter().zip(lines) {
                    assert_eq!(parse(line), expected(case), "{name}: {}", case.name);
                    total += 1;
                }
            }
        }
        assert!(total >= 1000, "only {total} cases");
    }

    #[test]
    fn answers_in_order_and_reports_bad_lines() {
        let vector = vector("pilots.json");
        let rollout = case(&vector, "non-pilot 7 on the 50% flag");
        let pilot = case(&vector, "global pilot on a 50% flag: bucket null");
        assert_eq!(rollout.expected["reason"], "ROLLOUT_IN");
        assert_eq!(pilot.expected["reason"], "PILOT");
        let input = format!(
            "{}\nnot json\n\n{}\r\n{}\n{}",
            request(rollout),
            request(pilot),
            r#"{"flag": "half", "context": {"user_id": 1.5}}"#,
            r#"{"flag": "zzz"}"#,
        );
        let (out, bad) = run_at(vector.file.get(), &input, &rollout.now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(bad, 2);
        assert_eq!(lines.len(), 5);
        assert_eq!(parse(lines[0]), expected(rollout));
        assert!(
            lines[1].starts_with(r#"{"line":2,"error":"invalid request: "#),
            "{}",
            lines[1]
        );
        assert_eq!(parse(lines[2]), expected(pilot));
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
