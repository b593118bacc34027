//! The Server-Sent Events format (the event stream of the HTML standard),
//! as far as the stream of `flags serve` needs it: fields `event` and
//! `data`, comments, any line ending, and the `{"version": "..."}` payload
//! of its `version` events.
//!
//! Hand-written on purpose, after looking at the crates that parse it.
//! The widely used `eventsource-stream` (0.2.3) buffers a line until its
//! end with no limit, so a server that never sends a newline grows the
//! client's memory without bound; this parser keeps at most
//! [`MAX_SSE_LINE`] bytes of a line and skips the rest. It would also bring
//! `nom`, `futures-core` and reqwest's `stream` feature for some seventy
//! lines, on a path that sees a few events an hour, not a hot one.

use crate::json::{self, Kind};

/// Longest SSE line kept; longer ones are skipped.
const MAX_SSE_LINE: usize = 64 << 10;
/// Most data kept for one event (its `data` lines together); an event with
/// more is dropped whole, so that many short lines cannot grow memory
/// without bound either.
const MAX_SSE_EVENT: usize = 64 << 10;

/// The `version` of a `{"version": "..."}` event payload.
pub(super) fn announced_version(data: &str) -> Option<String> {
    let node = json::parse(data).ok()?;
    let Kind::Object(members) = node.kind else {
        return None;
    };
    members
        .into_iter()
        .find_map(|m| match (&*m.key, m.value.kind) {
            ("version", Kind::String(v)) if !v.is_empty() => Some(v.into_owned()),
            _ => None,
        })
}

/// An incremental Server-Sent Events parser (the event stream format of
/// the HTML standard): fields `event` and `data`, comments, any line ending.
#[derive(Default)]
pub(super) struct SseParser {
    /// The incomplete last line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one
    /// belongs to it.
    after_cr: bool,
    /// The line being collected is too long and is skipped.
    skipping: bool,
    event: String,
    data: Option<String>,
    /// The event being collected has too much data and is dropped.
    oversized: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed as `(type, data)`.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Vec<(String, String)> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if !std::mem::take(&mut self.skipping) {
                        self.line_done(&line, &mut events);
                    }
                }
                _ if self.skipping => {}
                _ if self.line.len() >= MAX_SSE_LINE => {
                    self.line.clear();
                    self.skipping = true;
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn line_done(&mut self, line: &[u8], events: &mut Vec<(String, String)>) {
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let oversized = std::mem::take(&mut self.oversized);
            if let Some(data) = self.data.take().filter(|_| !oversized) {
                let kind = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event
                };
                events.push((kind, data));
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" if self.oversized => {}
            "data" => {
                let size = self.data.as_ref().map_or(0, |d| d.len() + 1) + value.len();
                if size > MAX_SSE_EVENT {
                    // Dropped at the blank line that ends it.
                    self.data = Some(String::new());
                    self.oversized = true;
                    return;
                }
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_across_chunks_and_line_endings() {
        let mut parser = SseParser::default();
        let mut all = Vec::new();
        for chunk in [
            &b": keep-alive\n\nevent: vers"[..],
            b"ion\ndata: {\"version\":\"a\"}\r",
            b"\n\r\n",
            b"event:version\rdata:{\"version\":\r\ndata: \"b\"}\r\r",
            b"data: plain\n\n",
            b"event: version\n\n",
        ] {
            all.extend(parser.push(chunk));
        }
        assert_eq!(
            all,
            [
                ("version".to_owned(), r#"{"version":"a"}"#.to_owned()),
                ("version".to_owned(), "{\"version\":\n\"b\"}".to_owned()),
                ("message".to_owned(), "plain".to_owned()),
            ]
        );
        assert_eq!(announced_version(&all[0].1).as_deref(), Some("a"));
        assert_eq!(announced_version(&all[1].1).as_deref(), Some("b"));
        assert_eq!(announced_version("plain"), None);
        assert_eq!(announced_version(r#"{"version": 3}"#), None);
    }

    #[test]
    fn an_event_with_too_much_data_is_dropped_whole() {
        let mut parser = SseParser::default();
        let mut many = b"event: version\n".to_vec();
        let line = format!("data: {}\n", "y".repeat(1000));
        for _ in 0..(MAX_SSE_EVENT / 1000 + 10) {
            many.extend_from_slice(line.as_bytes());
        }
        many.extend_from_slice(b"\nevent: version\ndata: {\"version\":\"d\"}\n\n");
        let events = parser.push(&many);
        assert_eq!(
            events.len(),
            1,
            "{:?}",
            events.iter().map(|e| e.1.len()).collect::<Vec<_>>()
        );
        assert_eq!(announced_version(&events[0].1).as_deref(), Some("d"));
        assert!(parser.data.is_none() && !parser.oversized);
    }

    #[test]
    fn over_long_sse_lines_are_skipped() {
        let mut parser = SseParser::default();
        let mut long = b"data: ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_SSE_LINE * 2));
        long.extend_from_slice(b"\n\nevent: version\ndata: {\"version\":\"c\"}\n\n");
        let events = parser.push(&long);
        assert_eq!(events.len(), 1);
        assert_eq!(announced_version(&events[0].1).as_deref(), Some("c"));
    }
}
