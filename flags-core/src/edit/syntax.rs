//! The syntax layer edits plan on: the members of an object and the items
//! of a list as the crate's JSON parser found them, and where things sit
//! in the text (the end of a key, a line's indentation, whether a
//! container spans lines).

use crate::json::{Kind, Member, Node};

pub(super) fn members<'n, 'a>(node: &'n Node<'a>) -> &'n [Member<'a>] {
    match &node.kind {
        Kind::Object(members) => members,
        _ => &[],
    }
}

pub(super) fn member<'n, 'a>(node: &'n Node<'a>, key: &str) -> Option<(usize, &'n Member<'a>)> {
    members(node).iter().enumerate().find(|(_, m)| m.key == key)
}

pub(super) fn string_items<'n>(list: &'n Node<'_>) -> Vec<&'n str> {
    match &list.kind {
        Kind::Array(items) => items
            .iter()
            .filter_map(|item| match &item.kind {
                Kind::String(s) => Some(&**s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// True when a container puts its first element on a new line (an empty
/// one: when it spans lines).
pub(super) fn is_multiline(text: &str, node: &Node<'_>) -> bool {
    let first = match &node.kind {
        Kind::Object(members) => members.first().map(|m| m.key_at),
        Kind::Array(items) => items.first().map(|i| i.at),
        _ => return false,
    };
    text[node.at..first.unwrap_or(node.end)].contains('\n')
}

/// Byte offset just past the closing quote of the string starting at `at`.
pub(super) fn key_end(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The spaces and tabs that start the line holding `at`.
pub(super) fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let rest = &text[start..];
    let len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_escaped_keys() {
        let text = r#"{"a\"b": 1}"#;
        assert_eq!(key_end(text, 1), 7);
        assert_eq!(line_indent("x\n  \t y", 6), "  \t ");
    }
}
