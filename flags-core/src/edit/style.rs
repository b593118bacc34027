//! The file's style, learnt from its text (the separators after keys and
//! between items, padding inside one-line braces and brackets, line
//! endings, the indentation unit), and new content written in it.

use crate::json::{Kind, Node};
use crate::json_path::quote;

use super::syntax::{is_multiline, key_end, line_indent, members};

/// A value to write, laid out by [`Style::render`].
pub(super) enum Value {
    /// Literal JSON text (a number, `true`, an escaped string).
    Raw(String),
    /// Members, and whether to put one per line.
    Object(Vec<(String, Value)>, bool),
    /// Items, and whether to put one per line.
    Array(Vec<Value>, bool),
}

impl Value {
    pub(super) fn string(s: &str) -> Value {
        Value::Raw(quote(s))
    }
}

/// How the file is written, learnt from its text so that new content looks
/// like the old.
#[derive(Debug)]
pub(super) struct Style {
    /// Between a key and its value: `": "`, `":"`, ...
    pub(super) colon: String,
    /// Between items of a one-line list or object: `", "` or `","`.
    pub(super) comma: String,
    /// A space inside the braces of a one-line object: `{ "a": 1 }`.
    pub(super) object_pad: bool,
    /// A space inside the brackets of a one-line list: `[ "1" ]`.
    pub(super) array_pad: bool,
    pub(super) newline: &'static str,
    /// One level of indentation.
    pub(super) unit: String,
}

impl Style {
    pub(super) fn detect(text: &str, root: &Node<'_>) -> Style {
        let newline = match text.find('\n') {
            Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
            _ => "\n",
        };
        let first = members(root).first();
        let colon = first.map_or(": ", |m| &text[key_end(text, m.key_at)..m.value.at]);
        let unit = match first {
            Some(m) if is_multiline(text, root) => line_indent(text, m.key_at)
                .strip_prefix(line_indent(text, root.at))
                .filter(|u| !u.is_empty())
                .unwrap_or("  "),
            _ => "  ",
        };
        let mut seen = Seen::default();
        seen.walk(text, root);
        let default_comma = if colon.contains([' ', '\t']) {
            ", "
        } else {
            ","
        };
        Style {
            comma: seen.comma.unwrap_or(default_comma).to_owned(),
            object_pad: seen.object_pad.unwrap_or(false),
            array_pad: seen.array_pad.unwrap_or(false),
            colon: colon.to_owned(),
            newline,
            unit: unit.to_owned(),
        }
    }

    /// `"key": value`, with nested lines indented from `indent`.
    pub(super) fn member(&self, key: &str, value: &Value, indent: &str) -> String {
        let mut out = quote(key);
        out.push_str(&self.colon);
        self.render(value, indent, &mut out);
        out
    }

    pub(super) fn render(&self, value: &Value, indent: &str, out: &mut String) {
        match value {
            Value::Raw(raw) => out.push_str(raw),
            Value::Object(members, multiline) => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|(key, value)| {
                        let inner = self.inner(indent, *multiline);
                        self.member(key, value, &inner)
                    })
                    .collect();
                self.container(out, ('{', '}'), &parts, *multiline, self.object_pad, indent);
            }
            Value::Array(items, multiline) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let mut s = String::new();
                        self.render(item, &self.inner(indent, *multiline), &mut s);
                        s
                    })
                    .collect();
                self.container(out, ('[', ']'), &parts, *multiline, self.array_pad, indent);
            }
        }
    }

    fn inner(&self, indent: &str, multiline: bool) -> String {
        if multiline {
            format!("{indent}{}", self.unit)
        } else {
            indent.to_owned()
        }
    }

    fn container(
        &self,
        out: &mut String,
        (open, close): (char, char),
        parts: &[String],
        multiline: bool,
        pad: bool,
        indent: &str,
    ) {
        out.push(open);
        if parts.is_empty() {
            out.push(close);
            return;
        }
        if multiline {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(self.newline);
                out.push_str(indent);
                out.push_str(&self.unit);
                out.push_str(part);
            }
            out.push_str(self.newline);
            out.push_str(indent);
        } else {
            if pad {
                out.push(' ');
            }
            out.push_str(&parts.join(&self.comma));
            if pad {
                out.push(' ');
            }
        }
        out.push(close);
    }
}

/// The first examples of one-line layout found in the file.
#[derive(Default)]
struct Seen<'t> {
    comma: Option<&'t str>,
    object_pad: Option<bool>,
    array_pad: Option<bool>,
}

impl<'t> Seen<'t> {
    fn done(&self) -> bool {
        self.comma.is_some() && self.object_pad.is_some() && self.array_pad.is_some()
    }

    fn walk(&mut self, text: &'t str, node: &Node<'_>) {
        if self.done() {
            return;
        }
        let starts: Vec<usize> = match &node.kind {
            Kind::Object(members) => members.iter().map(|m| m.key_at).collect(),
            Kind::Array(items) => items.iter().map(|i| i.at).collect(),
            _ => return,
        };
        let one_line = !starts.is_empty() && !text[node.at..node.end].contains('\n');
        if one_line {
            let padded = matches!(text.as_bytes().get(node.at + 1), Some(b' ' | b'\t'));
            match node.kind {
                Kind::Object(_) => {
                    self.object_pad.get_or_insert(padded);
                }
                _ => {
                    self.array_pad.get_or_insert(padded);
                }
            }
            if self.comma.is_none() && starts.len() >= 2 {
                let first_end = match &node.kind {
                    Kind::Object(members) => members[0].value.end,
                    Kind::Array(items) => items[0].end,
                    _ => return,
                };
                self.comma = Some(&text[first_end..starts[1]]);
            }
        }
        match &node.kind {
            Kind::Object(members) => {
                for m in members {
                    self.walk(text, &m.value);
                }
            }
            Kind::Array(items) => {
                for item in items {
                    if self.done() {
                        return;
                    }
                    self.walk(text, item);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn detects_the_style_of_the_example() {
        let text = include_str!("../../../examples/flags.json");
        let root = json::parse(text).expect("valid");
        let style = Style::detect(text, &root);
        assert_eq!(style.colon, ": ");
        assert_eq!(style.comma, ", ");
        assert!(style.object_pad);
        assert!(!style.array_pad);
        assert_eq!(style.newline, "\n");
        assert_eq!(style.unit, "  ");
    }

    #[test]
    fn detects_compact_crlf_and_tabs() {
        let compact = r#"{"version":1,"flags":{"a":{"pilots":{"user_id":["1","2"]}}}}"#;
        let root = json::parse(compact).expect("valid");
        let style = Style::detect(compact, &root);
        assert_eq!((style.colon.as_str(), style.comma.as_str()), (":", ","));
        let tabs = "{\r\n\t\"version\": 1,\r\n\t\"flags\": {}\r\n}\r\n";
        let root = json::parse(tabs).expect("valid");
        let style = Style::detect(tabs, &root);
        assert_eq!((style.newline, style.unit.as_str()), ("\r\n", "\t"));
        assert_eq!(style.comma, ", ");
    }
}
