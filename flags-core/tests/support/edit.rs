//! What the edit tests share: the example file, parsing, and the same
//! file in other layouts (compact, CRLF, tabs).

// Each test file uses its own part of these.
#![allow(dead_code)]

use flags_core::Timestamp;
use flags_core::edit::Document;

pub const EXAMPLE: &str = include_str!("../../../examples/flags.json");

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("valid time")
}

pub fn doc(text: &str) -> Document {
    Document::parse(text).expect("valid flag file")
}

// ---------------------------------------------------------------- layouts

/// The example without any whitespace outside strings: one line.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// Leading pairs of spaces become tabs.
pub fn tabs(text: &str) -> String {
    text.lines()
        .map(|line| {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            format!("{}{}\n", "\t".repeat(spaces / 2), &line[spaces..])
        })
        .collect()
}

pub const EMPTY_FLAGS: &str = "{\n  \"version\": 1,\n  \"flags\": {}\n}\n";

pub const ONLY_FLAG: &str =
    "{\n  \"version\": 1,\n  \"flags\": {\n    \"solo\": { \"percentage\": 5 }\n  }\n}\n";

/// Escapes in keys and values, non-ASCII ids and descriptions.
pub const UNICODE: &str = r#"{
  "version": 1,
  "pilots": { "user_id": ["José", "\u65e5\u672c\u8a9e"] },
  "flags": {
    "cafe-menu": { "descr\u0069ption": "Menü für José 🚀", "pilots": { "user_id": ["🚀", "a\"b"] }, "percentage": 1.50 },
    "umlaut_free": { "owner": "日本語チーム", "ramp": [{ "at": "2026-11-21T00:00:00+09:00", "percentage": 0.5 }] }
  }
}
"#;

/// Odd but valid spacing: spaces before colons and commas.
pub const ODD_SPACING: &str = "{ \"version\" : 1 , \"kill_all\" : false , \"flags\" : { \"a\" : { \"percentage\" : 1.50 } , \"b\" : { \"killed\" : true } } }";

pub fn layouts() -> Vec<(&'static str, String)> {
    vec![
        ("example", EXAMPLE.to_owned()),
        ("compact", compact(EXAMPLE)),
        ("crlf", crlf(EXAMPLE)),
        ("tabs", tabs(EXAMPLE)),
        ("empty flags", EMPTY_FLAGS.to_owned()),
        ("only flag", ONLY_FLAG.to_owned()),
        ("unicode", UNICODE.to_owned()),
        ("odd spacing", ODD_SPACING.to_owned()),
        ("compact crlf tabs", crlf(&tabs(ONLY_FLAG))),
    ]
}
