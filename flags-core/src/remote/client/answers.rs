//! The evaluated flags of one context, as the bulk evaluation
//! (`POST {url}/ofrep/v1/evaluate/flags`) answers them: parsed strictly,
//! kept whole and immutable.

use std::collections::BTreeMap;

use crate::eval::Reason;
use crate::json::{self, Kind, Member, Node};
use crate::json_path::push_json_string;
use crate::load::content_version;
use crate::source::{Changes, Payload};

/// The value of a flag, as the server gave it. `flags serve` answers
/// booleans (whether the flag is on); other OFREP servers may answer a
/// string or a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A boolean: for `flags serve`, whether the flag is on.
    Bool(bool),
    /// A string.
    String(String),
    /// The number exactly as written in the answer.
    Number(String),
}

/// One flag's answer for the context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The flag's value.
    pub value: Value,
    /// The flag's variant as every other source of this library gives it:
    /// from `flags serve`, its `metadata.flagsVariant`, present only when
    /// the flag is on and has variants, or is a migration flag (its stage)
    /// (`None` otherwise, as
    /// [`Evaluation::variant`](crate::Evaluation::variant)); from another
    /// OFREP server, its `variant`.
    pub variant: Option<String>,
    /// The OFREP `variant` as answered (`flags serve` answers the flag's
    /// variant, or `on` / `off` for a flag without variants).
    pub ofrep_variant: Option<String>,
    /// The OFREP reason: `SPLIT`, `TARGETING_MATCH`, `DISABLED`, ...
    pub reason: String,
    /// The exact reason of `flags serve` (`metadata.flagsReason`), when
    /// the answer carries one this library knows.
    pub flags_reason: Option<Reason>,
    /// The rollout bucket (`metadata.bucket`), when the server reported it.
    pub bucket: Option<u16>,
}

impl Answer {
    /// True for the value `true`; for a migration flag of `flags serve`,
    /// whose value is its stage, true when its reason is `PILOT` or
    /// `ROLLOUT_IN` (moved forward), as a file source says.
    pub fn is_enabled(&self) -> bool {
        match (&self.value, self.flags_reason) {
            (Value::Bool(on), _) => *on,
            (Value::String(_), Some(reason)) => {
                matches!(reason, Reason::Pilot | Reason::RolloutIn)
            }
            _ => false,
        }
    }
}

/// Every flag's answer for one context: what a
/// [`ClientSource`](super::ClientSource) serves, swapped whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    flags: BTreeMap<String, Answer>,
    /// The content hash of the answer's body; empty for no answers.
    version: String,
    /// The flag file version the answers were evaluated on
    /// (`metadata.version`), when given.
    server_version: Option<String>,
}

impl Answers {
    /// The answer for `key`; `None` for a flag the server did not answer.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.flags.get(key)
    }

    /// True when the server answered `true` for `key`; false for any other
    /// value and for a flag it did not answer.
    #[inline]
    pub fn is_enabled(&self, key: &str) -> bool {
        self.get(key).is_some_and(Answer::is_enabled)
    }

    /// The variant of `key`, when the server named one.
    #[inline]
    pub fn variant(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|a| a.variant.as_deref())
    }

    /// Every answer, by key in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Answer)> {
        self.flags.iter().map(|(k, a)| (k.as_str(), a))
    }

    /// How many flags were answered.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// True when no flag was answered (also before any answer arrived).
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The content hash of the answer (32 hex digits, as
    /// [`Snapshot::version`](crate::Snapshot::version) hashes a file);
    /// empty when there is no answer.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The version of the server's flag file the answers come from
    /// (`metadata.version` of `flags serve`), when the answer names one.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }
}

/// Parses a bulk evaluation answer: `{"flags": [{"key", "value",
/// "reason", "variant"?, "metadata"?}, ...]}`. Every entry must have a
/// non-empty string `key` (no key twice), a boolean, string or number
/// `value` and a string `reason`; `variant` is a string, `metadata` an
/// object whose `flagsReason`, `flagsVariant`, `bucket` (0..9999) and
/// `version` are checked when present. Other fields are ignored (the protocol may add some). An
/// entry with an `errorCode` (a flag the server could not evaluate) is an
/// error. The message names the JSON path of the first problem.
pub(super) fn parse(body: &[u8]) -> Result<Answers, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let root = json::parse(text).map_err(|e| {
        let (line, column) = json::line_col(text, e.at);
        format!(
            "the answer is not JSON: line {line}, column {column}: {}",
            e.message
        )
    })?;
    let members = object(&root, "(root)")?;
    let flags = match field(members, "flags") {
        Some(Node {
            kind: Kind::Array(items),
            ..
        }) => items,
        Some(other) => return Err(expected("flags", "a list", other)),
        None => return Err("(root): missing field \"flags\" (expected a list)".to_owned()),
    };
    let mut answers = Answers {
        version: content_version(body).into(),
        ..Answers::default()
    };
    for (i, item) in flags.iter().enumerate() {
        let at = format!("flags[{i}]");
        let members = object(item, &at)?;
        let key = match field(members, "key") {
            Some(Node {
                kind: Kind::String(key),
                ..
            }) if !key.is_empty() => key.to_string(),
            Some(other) => return Err(expected(&format!("{at}.key"), "a non-empty string", other)),
            None => return Err(format!("{at}: missing field \"key\"")),
        };
        let at = format!("{at} ({})", quoted(&key));
        if let Some(Node {
            kind: Kind::String(code),
            ..
        }) = field(members, "errorCode")
        {
            return Err(format!("{at}: the server could not evaluate it: {code}"));
        }
        let value = match field(members, "value") {
            Some(Node { kind, .. }) => match kind {
                Kind::Bool(b) => Value::Bool(*b),
                Kind::String(s) => Value::String(s.to_string()),
                Kind::Number(n) => Value::Number((*n).to_owned()),
                other => {
                    return Err(format!(
                        "{at}.value: expected a boolean, a string or a number, found {}",
                        other.describe()
                    ));
                }
            },
            None => return Err(format!("{at}: missing field \"value\"")),
        };
        let reason = match field(members, "reason") {
            Some(Node {
                kind: Kind::String(s),
                ..
            }) => s.to_string(),
            Some(other) => return Err(expected(&format!("{at}.reason"), "a string", other)),
            None => return Err(format!("{at}: missing field \"reason\"")),
        };
        let variant = match field(members, "variant") {
            None
            | Some(Node {
                kind: Kind::Null, ..
            }) => None,
            Some(Node {
                kind: Kind::String(s),
                ..
            }) => Some(s.to_string()),
            Some(other) => return Err(expected(&format!("{at}.variant"), "a string", other)),
        };
        let mut answer = Answer {
            value,
            variant: variant.clone(),
            reason,
            ofrep_variant: variant,
            flags_reason: None,
            bucket: None,
        };
        match field(members, "metadata") {
            None
            | Some(Node {
                kind: Kind::Null, ..
            }) => {}
            Some(metadata) => {
                let path = format!("{at}.metadata");
                let metadata = object(metadata, &path)?;
                metadata_fields(metadata, &path, &mut answer, &mut answers.server_version)?;
            }
        }
        if answers.flags.insert(key, answer).is_some() {
            return Err(format!("{at}: the flag is answered twice"));
        }
    }
    Ok(answers)
}

fn metadata_fields(
    metadata: &[Member<'_>],
    path: &str,
    answer: &mut Answer,
    server_version: &mut Option<String>,
) -> Result<(), String> {
    match field(metadata, "flagsReason") {
        None => {}
        Some(Node {
            kind: Kind::String(name),
            ..
        }) => {
            answer.flags_reason = Reason::from_name(name);
            // `flags serve`: the variant in the library's sense is
            // `flagsVariant`, absent when the flag has none or is off.
            answer.variant = match field(metadata, "flagsVariant") {
                None
                | Some(Node {
                    kind: Kind::Null, ..
                }) => None,
                Some(Node {
                    kind: Kind::String(s),
                    ..
                }) => Some(s.to_string()),
                Some(other) => {
                    return Err(expected(&format!("{path}.flagsVariant"), "a string", other));
                }
            };
        }
        Some(other) => return Err(expected(&format!("{path}.flagsReason"), "a string", other)),
    }
    match field(metadata, "bucket") {
        None
        | Some(Node {
            kind: Kind::Null, ..
        }) => {}
        Some(node) => {
            let bucket = match &node.kind {
                Kind::Number(n) => n.parse::<u16>().ok().filter(|b| *b < 10_000),
                _ => None,
            };
            match bucket {
                Some(bucket) => answer.bucket = Some(bucket),
                None => {
                    return Err(expected(
                        &format!("{path}.bucket"),
                        "an integer from 0 to 9999",
                        node,
                    ));
                }
            }
        }
    }
    match field(metadata, "version") {
        None => {}
        Some(Node {
            kind: Kind::String(version),
            ..
        }) if server_version.is_none() => *server_version = Some(version.to_string()),
        Some(Node {
            kind: Kind::String(_),
            ..
        }) => {}
        Some(other) => return Err(expected(&format!("{path}.version"), "a string", other)),
    }
    Ok(())
}

fn object<'n, 'a>(node: &'n Node<'a>, path: &str) -> Result<&'n [Member<'a>], String> {
    match &node.kind {
        Kind::Object(members) => Ok(members),
        _ => Err(expected(path, "an object", node)),
    }
}

/// The first member named `name`.
fn field<'n, 'a>(members: &'n [Member<'a>], name: &str) -> Option<&'n Node<'a>> {
    members.iter().find(|m| m.key == name).map(|m| &m.value)
}

fn expected(path: &str, what: &str, found: &Node<'_>) -> String {
    let found = match &found.kind {
        Kind::Number(n) => format!("the number {n}"),
        Kind::String(s) => format!("the string {}", quoted(s)),
        other => other.describe().to_owned(),
    };
    format!("{path}: expected {what}, found {found}")
}

fn quoted(text: &str) -> String {
    let mut out = String::new();
    push_json_string(&mut out, text);
    out
}

impl Payload for Answers {
    fn version(&self) -> &str {
        Answers::version(self)
    }

    fn empty() -> Self {
        Answers::default()
    }

    /// The flags whose answers were added, removed or changed.
    fn changes(old: &Self, new: &Self) -> Changes {
        let mut changes = Changes::default();
        for (key, answer) in new.iter() {
            match old.get(key) {
                None => changes.added.push(key.to_owned()),
                Some(before) if before != answer => changes.changed.push(key.to_owned()),
                Some(_) => {}
            }
        }
        changes.removed = old
            .iter()
            .filter(|(key, _)| new.get(key).is_none())
            .map(|(key, _)| key.to_owned())
            .collect();
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_flags_serve_answers() {
        let body = br#"{"flags":[
            {"key":"a","value":true,"reason":"SPLIT","variant":"on","metadata":{"flagsReason":"ROLLOUT_IN","bucket":374,"version":"v1"}},
            {"key":"b","value":"blue","reason":"STATIC","variant":"x","extra":1},
            {"key":"c","value":1.5,"reason":"DEFAULT","variant":null,"metadata":{}},
            {"key":"d","value":true,"reason":"TARGETING_MATCH","variant":"dark","metadata":{"flagsReason":"PILOT","flagsVariant":"dark"}},
            {"key":"m_in","value":"shadow","reason":"SPLIT","variant":"shadow","metadata":{"flagsReason":"ROLLOUT_IN","flagsVariant":"shadow","bucket":999}},
            {"key":"m_out","value":"dualwrite","reason":"SPLIT","variant":"dualwrite","metadata":{"flagsReason":"ROLLOUT_OUT","flagsVariant":"dualwrite","bucket":1000}}
        ]}"#;
        let answers = parse(body).expect("valid");
        assert_eq!(answers.len(), 6);
        // A migration flag answers its stage, on or off.
        assert!(answers.is_enabled("m_in") && !answers.is_enabled("m_out"));
        assert_eq!(
            (answers.variant("m_in"), answers.variant("m_out")),
            (Some("shadow"), Some("dualwrite"))
        );
        assert!(answers.is_enabled("a"));
        assert!(!answers.is_enabled("b") && !answers.is_enabled("missing"));
        // `flags serve`'s `on` for a flag without variants is no variant,
        // as for every other source; another server's variant is kept.
        assert_eq!(answers.variant("a"), None);
        assert_eq!(
            answers.get("a").expect("a").ofrep_variant.as_deref(),
            Some("on")
        );
        assert_eq!(answers.variant("b"), Some("x"));
        assert_eq!(answers.variant("d"), Some("dark"));
        let a = answers.get("a").expect("answered");
        assert_eq!(
            (a.flags_reason, a.bucket),
            (Some(Reason::RolloutIn), Some(374))
        );
        assert_eq!(
            answers.get("b").map(|b| &b.value),
            Some(&Value::String("blue".into()))
        );
        assert_eq!(
            answers.get("c").map(|c| &c.value),
            Some(&Value::Number("1.5".into()))
        );
        assert_eq!(answers.server_version(), Some("v1"));
        assert_eq!(answers.version(), &*content_version(body));
    }

    #[test]
    fn every_bad_answer_is_named() {
        for (body, message) in [
            ("{", "the answer is not JSON: line 1, column 2: "),
            ("[]", "(root): expected an object, found a list"),
            ("{}", "(root): missing field \"flags\" (expected a list)"),
            (
                r#"{"flags": {}}"#,
                "flags: expected a list, found an object",
            ),
            (
                r#"{"flags": [1]}"#,
                "flags[0]: expected an object, found the number 1",
            ),
            (
                r#"{"flags": [{"value": true}]}"#,
                "flags[0]: missing field \"key\"",
            ),
            (
                r#"{"flags": [{"key": ""}]}"#,
                "flags[0].key: expected a non-empty string, found the string \"\"",
            ),
            (
                r#"{"flags": [{"key": "a", "reason": "S"}]}"#,
                "flags[0] (\"a\"): missing field \"value\"",
            ),
            (
                r#"{"flags": [{"key": "a", "value": null, "reason": "S"}]}"#,
                "flags[0] (\"a\").value: expected a boolean, a string or a number, found null",
            ),
            (
                r#"{"flags": [{"key": "a", "value": true}]}"#,
                "flags[0] (\"a\"): missing field \"reason\"",
            ),
            (
                r#"{"flags": [{"key": "a", "value": true, "reason": "S", "variant": 2}]}"#,
                "flags[0] (\"a\").variant: expected a string, found the number 2",
            ),
            (
                r#"{"flags": [{"key": "a", "value": true, "reason": "S", "metadata": {"bucket": 10000}}]}"#,
                "flags[0] (\"a\").metadata.bucket: expected an integer from 0 to 9999, found the number 10000",
            ),
            (
                r#"{"flags": [{"key": "a", "errorCode": "GENERAL"}]}"#,
                "flags[0] (\"a\"): the server could not evaluate it: GENERAL",
            ),
            (
                r#"{"flags": [{"key": "a", "value": true, "reason": "S"}, {"key": "a", "value": false, "reason": "S"}]}"#,
                "flags[1] (\"a\"): the flag is answered twice",
            ),
        ] {
            let error = parse(body.as_bytes()).expect_err(body);
            assert!(error.starts_with(message), "{body}: {error}");
        }
        assert_eq!(
            parse(b"\xff").expect_err("not UTF-8"),
            "the answer is not UTF-8"
        );
    }
}
