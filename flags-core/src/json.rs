//! A strict RFC 8259 JSON parser that keeps what validation needs: the byte
//! offset of every value and key, the raw text of every number (so decimals
//! are checked exactly, never through `f64`), and the path of the value it
//! was reading when a syntax error stopped it.
//!
//! Duplicate keys are kept (in document order) so that the validator can
//! report every one of them with both positions.
//!
//! One file of some 640 lines, a sixth of them tests: a recursive-descent
//! parser whose parts (values, strings and their escapes, numbers, the
//! positions of errors) call one another, and read best together.

use std::borrow::Cow;

use crate::json_path::Seg;

/// Deepest nesting accepted, counting the top-level value as one level.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug)]
pub(crate) struct Node<'a> {
    /// Byte offset of the value's first character.
    pub at: usize,
    /// Byte offset just past the value's last character (what edits
    /// replace; validation needs only the start).
    #[cfg_attr(not(feature = "edit"), allow(dead_code))]
    pub end: usize,
    pub kind: Kind<'a>,
}

#[derive(Debug)]
pub(crate) enum Kind<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written (already checked against the grammar).
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<Member<'a>>),
}

#[derive(Debug)]
pub(crate) struct Member<'a> {
    pub key: Cow<'a, str>,
    /// Byte offset of the key's opening quote.
    pub key_at: usize,
    pub value: Node<'a>,
}

impl Kind<'_> {
    /// How the kind is named in "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "a list",
            Kind::Object(_) => "an object",
        }
    }
}

/// Pairs of `(index, index of the first member with the same key)` for
/// every repeated key of an object, in document order.
pub(crate) fn duplicates(members: &[Member<'_>]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    if members.len() <= 16 {
        for (i, m) in members.iter().enumerate() {
            if let Some(first) = members[..i].iter().position(|f| f.key == m.key) {
                found.push((i, first));
            }
        }
    } else {
        let mut seen: std::collections::HashMap<&str, usize, foldhash::fast::RandomState> =
            std::collections::HashMap::with_capacity_and_hasher(members.len(), Default::default());
        for (i, m) in members.iter().enumerate() {
            match seen.entry(&m.key) {
                std::collections::hash_map::Entry::Occupied(e) => found.push((i, *e.get())),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }
    found
}

/// A syntax error: where, why, and the path (outermost first) of the value
/// being read.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub at: usize,
    pub message: String,
    pub path: Vec<Seg>,
}

impl SyntaxError {
    fn new(at: usize, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Records one more enclosing path segment while the error unwinds.
    fn inside(mut self, seg: Seg) -> Self {
        self.path.push(seg);
        self
    }
}

/// Parses one JSON document (one value, surrounded by optional whitespace).
pub(crate) fn parse(text: &str) -> Result<Node<'_>, SyntaxError> {
    if text.starts_with('\u{feff}') {
        return Err(SyntaxError::new(
            0,
            "byte order mark (U+FEFF) at the start of the file; save the file as UTF-8 without BOM",
        ));
    }
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.pos == p.bytes.len() {
        let message = if text.is_empty() {
            "empty input, expected a JSON object"
        } else {
            "input holds only whitespace, expected a JSON object"
        };
        return Err(SyntaxError::new(p.pos, message));
    }
    let result = p.value().map_err(|mut e| {
        e.path.reverse();
        e
    })?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(SyntaxError::new(
            p.pos,
            "unexpected content after the end of the JSON value",
        ));
    }
    Ok(result)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn unexpected(&self, expected: &str) -> SyntaxError {
        match self.text[self.pos..].chars().next() {
            None => SyntaxError::new(
                self.pos,
                format!("unexpected end of input, expected {expected}"),
            ),
            Some(c) => SyntaxError::new(
                self.pos,
                format!("unexpected {}, expected {expected}", describe_char(c)),
            ),
        }
    }

    fn value(&mut self) -> Result<Node<'a>, SyntaxError> {
        let at = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            _ => return Err(self.unexpected("a JSON value")),
        };
        Ok(Node {
            at,
            end: self.pos,
            kind,
        })
    }

    fn literal(&mut self, word: &str, kind: Kind<'a>) -> Result<Kind<'a>, SyntaxError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                self.pos,
                format!("nesting too deep (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Kind<'a>, SyntaxError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_ws();
            let index = items.len();
            let item = self.value().map_err(|e| e.inside(Seg::Index(index)))?;
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Kind::Array(items));
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }

    fn object(&mut self) -> Result<Kind<'a>, SyntaxError> {
        self.enter()?;
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a key in double quotes"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("`:`").inside(Seg::Key(key.into_owned())));
            }
            self.pos += 1;
            self.skip_ws();
            let value = match self.value() {
                Ok(v) => v,
                Err(e) => return Err(e.inside(Seg::Key(key.into_owned()))),
            };
            members.push(Member { key, key_at, value });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Kind::Object(members));
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    /// Reads a string starting at its opening quote. Borrows from the input
    /// when the string has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            match self.peek() {
                None => return Err(self.unexpected("`\"` to close the string")),
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(b) if b < 0x20 => {
                    return Err(SyntaxError::new(
                        self.pos,
                        format!("control character U+{b:04X} inside a string; escape it"),
                    ));
                }
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                None => return Err(self.unexpected("`\"` to close the string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape(escape_at)?;
                            out.push(c);
                            continue;
                        }
                        _ => {
                            return Err(SyntaxError::new(
                                escape_at,
                                "invalid escape; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                            ));
                        }
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(b) if b < 0x20 => {
                    return Err(SyntaxError::new(
                        self.pos,
                        format!("control character U+{b:04X} inside a string; escape it"),
                    ));
                }
                Some(_) => {
                    // Copy one whole UTF-8 character.
                    let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, SyntaxError> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let value = digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(SyntaxError::new(
                escape_at,
                "invalid \\u escape; expected four hexadecimal digits",
            )),
        }
    }

    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, SyntaxError> {
        let first = self.hex4(escape_at)?;
        let lone = || {
            SyntaxError::new(
                escape_at,
                "invalid \\u escape: a lone UTF-16 surrogate is not a character",
            )
        };
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(lone());
                }
                self.pos += 2;
                let second = self.hex4(escape_at)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(lone());
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(lone()),
            other => other,
        };
        char::from_u32(code).ok_or_else(lone)
    }

    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.pos;
        let bad = |p: &Self, what: &str| {
            SyntaxError::new(
                start,
                format!("invalid number `{}`: {what}", p.number_text(start)),
            )
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(bad(self, "leading zeros are not allowed"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad(self, "expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self, "expected a digit after `.`"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self, "expected a digit in the exponent"));
            }
            self.digits();
        }
        Ok(&self.text[start..self.pos])
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// The text of a malformed number, for messages.
    fn number_text(&self, start: usize) -> &'a str {
        let end = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')))
            .map_or(self.text.len(), |n| start + n);
        &self.text[start..end]
    }
}

fn describe_char(c: char) -> String {
    match c {
        '\'' => "`'` (JSON strings use double quotes)".to_owned(),
        '/' => "`/` (JSON has no comments)".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Converts a byte offset into a 1-based line and a 1-based column counted
/// in characters. For one lookup; use a [`Locator`] for many.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    Locator::new(text).locate(at)
}

/// Line and column lookups for many offsets of one text: the line starts
/// are found once, each lookup is a binary search, and lookups in
/// increasing order on one line count characters from the previous one.
/// A file with tens of thousands of errors is located in linear time.
pub(crate) struct Locator<'t> {
    text: &'t str,
    /// Byte offset where each line starts, found on the first lookup (valid
    /// files never need it).
    line_starts: std::cell::OnceCell<Vec<usize>>,
    /// The last lookup: (offset, line index, column).
    cursor: std::cell::Cell<(usize, usize, usize)>,
}

impl<'t> Locator<'t> {
    pub fn new(text: &'t str) -> Self {
        Self {
            text,
            line_starts: std::cell::OnceCell::new(),
            cursor: std::cell::Cell::new((0, 0, 1)),
        }
    }

    pub fn locate(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.text.len());
        let line_starts = self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            starts
        });
        let line = line_starts.partition_point(|&start| start <= at) - 1;
        let (from, base) = match self.cursor.get() {
            (last, last_line, column) if last_line == line && last <= at => (last, column),
            _ => (line_starts[line], 1),
        };
        let column = base + count_chars(&self.text.as_bytes()[from..at]);
        self.cursor.set((at, line, column));
        (line + 1, column)
    }
}

/// Characters in `bytes` (UTF-8 lead bytes; an offset inside a character,
/// which only invalid input could produce, still counts sensibly).
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> SyntaxError {
        parse(text).expect_err("should fail")
    }

    #[test]
    fn parses_nested_values_with_offsets() {
        let node = parse(r#" {"a": [1, -2.5e3, "x\u00e9"], "b": null}"#).expect("valid");
        let Kind::Object(members) = node.kind else {
            panic!("object expected")
        };
        assert_eq!(node.at, 1);
        assert_eq!(members[0].key, "a");
        assert_eq!(members[0].key_at, 2);
        let Kind::Array(items) = &members[0].value.kind else {
            panic!("array expected")
        };
        assert!(matches!(items[1].kind, Kind::Number("-2.5e3")));
        assert!(matches!(&items[2].kind, Kind::String(s) if s == "xé"));
    }

    #[test]
    fn keeps_duplicate_keys() {
        let node = parse(r#"{"a": 1, "a": 2}"#).expect("valid syntax");
        let Kind::Object(members) = node.kind else {
            panic!()
        };
        assert_eq!(members.len(), 2);
    }

    #[test]
    fn syntax_errors_carry_the_path() {
        let e = err("{\"flags\": {\"x\": {\"percentage\": 01}}}");
        assert_eq!(
            e.path,
            vec![
                Seg::Key("flags".into()),
                Seg::Key("x".into()),
                Seg::Key("percentage".into())
            ]
        );
        assert!(e.message.contains("leading zeros"), "{}", e.message);
    }

    #[test]
    fn rejects_what_rfc_8259_rejects() {
        for bad in [
            "",
            " ",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "{'a':1}",
            "{\"a\":NaN}",
            "{\"a\":+1}",
            "{\"a\":.5}",
            "{\"a\":1.}",
            "{\"a\":1e}",
            "// c\n{}",
            "{} x",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\\ud800\"}",
            "{\"a\":\"\t\"}",
            "\u{feff}{}",
            "{\"a\" 1}",
            "{a:1}",
            "tru",
            "nul",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn limits_nesting() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = err(&deep);
        assert_eq!(e.at, MAX_DEPTH);
        assert!(e.message.contains("nesting too deep"));
    }

    #[test]
    fn decodes_surrogate_pairs() {
        let node = parse(r#""\ud83d\ude00""#).expect("valid");
        assert!(matches!(node.kind, Kind::String(s) if s == "😀"));
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "{\n  \"é\": x}";
        assert_eq!(line_col(text, text.find('x').expect("x")), (2, 8));
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, text.len()), (2, 10));
        // Many lookups, in and out of order, agree with one-off lookups.
        let locator = Locator::new(text);
        for at in [0, 3, 5, 7, 2, 11, 9, 0, text.len()] {
            let expected = {
                let before = &text[..at];
                let line = before.matches('\n').count() + 1;
                let start = before.rfind('\n').map_or(0, |i| i + 1);
                (line, text[start..at].chars().count() + 1)
            };
            assert_eq!(locator.locate(at), expected, "offset {at}");
        }
    }
}
