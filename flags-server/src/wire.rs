//! What `flags eval` and the server's evaluation endpoints share: one
//! evaluation's result as JSON, and reading a request's context, with its
//! errors worded once, so that both say the same about the same context.
//!
//! Error text is bounded: a context error lists at most [`MAX_PROBLEMS`]
//! problems of at most [`MAX_PROBLEM`] bytes each, and never echoes more
//! than [`MAX_ECHO`] characters of a client's name or value.

use std::borrow::Cow;

use flags_core::{Evaluation, OwnedContext};
use serde::Serialize;
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
