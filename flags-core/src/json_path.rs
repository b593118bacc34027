//! JSON paths as they appear in error messages: `flags.checkout-v2.ramp[1].at`,
//! `flags["a.b"].percentage`, and `(root)` for the document itself.
//!
//! Validation walks millions of values in large files, so the path is a
//! linked list on the stack ([`Path`]) and only becomes a string when an
//! error is reported.

use std::fmt::{self, Write as _};

/// One step into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path borrowed from the validator's call stack.
#[derive(Clone, Copy)]
pub(crate) enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl<'p> Path<'p> {
    pub fn key(&'p self, key: &'p str) -> Path<'p> {
        Path::Key(self, key)
    }

    pub fn index(&'p self, index: usize) -> Path<'p> {
        Path::Index(self, index)
    }

    fn write(&self, out: &mut String) {
        match *self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.write(out);
                push_key(out, key);
            }
            Path::Index(parent, index) => {
                parent.write(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(finish(&out))
    }
}

/// Formats a path made of owned segments (from a syntax error).
pub(crate) fn format_segs(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(key) => push_key(&mut out, key),
            Seg::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    finish(&out).to_owned()
}

fn finish(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        push_json_string(out, key);
        out.push(']');
    }
}

/// `s` as a JSON string literal, for quoting file content in messages: a
/// key or value with a newline or a terminal escape cannot break the
/// one-line `FILE:LINE:COL: PATH: message` format.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// Appends `s` as a JSON string literal (quotes and escapes included).
/// Every control character is escaped, C1 controls included.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs that need no escape in one go: ids and names rarely do.
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c.is_control() => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        plain = i + c.len_utf8();
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_json_strings() {
        let cases = [
            ("plain", r#""plain""#),
            ("", r#""""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("l1\nl2\r\t", r#""l1\nl2\r\t""#),
            (
                "\u{1b}[31m\u{7f}\u{9b}é日本",
                r#""\u001b[31m\u007f\u009bé日本""#,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(quote(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn formats_plain_and_bracketed_keys() {
        let root = Path::Root;
        let flags = root.key("flags");
        let flag = flags.key("checkout-v2");
        let ramp = flag.key("ramp");
        let point = ramp.index(1);
        assert_eq!(point.key("at").to_string(), "flags.checkout-v2.ramp[1].at");
        let dotted = flags.key("a.b");
        assert_eq!(dotted.key("salt").to_string(), "flags[\"a.b\"].salt");
        assert_eq!(root.to_string(), "(root)");
        assert_eq!(root.key("").to_string(), "[\"\"]");
        assert_eq!(
            format_segs(&[
                Seg::Key("pilots".into()),
                Seg::Key("user id".into()),
                Seg::Index(2)
            ]),
            "pilots[\"user id\"][2]"
        );
    }
}
