//! Evaluation contexts: a flat map from attribute name to string value.

use std::sync::Arc;

use crate::error::{Diagnostic, Error};
use crate::json::{self, Kind};
use crate::json_path::{Path, format_segs};

/// The attributes of whoever a flag is evaluated for, borrowed.
///
/// Building one from `&str` pairs costs no allocation. When an attribute
/// appears twice, the first occurrence wins.
///
/// ```
/// use flags_core::Context;
/// let ctx = Context::new(&[("user_id", "42"), ("tenant_id", "acme")]);
/// assert_eq!(ctx.get("tenant_id"), Some("acme"));
/// assert_eq!(ctx.get("app_version"), None);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Context<'a>(Repr<'a>);

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    Pairs(&'a [(&'a str, &'a str)]),
    Owned(&'a [(Box<str>, Box<str>)]),
}

impl<'a> Context<'a> {
    /// A context over borrowed `(attribute, value)` pairs.
    pub const fn new(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self(Repr::Pairs(pairs))
    }

    /// The empty context.
    pub const fn empty() -> Self {
        Self(Repr::Pairs(&[]))
    }

    /// The value of `attribute`, if present.
    #[inline]
    pub fn get(&self, attribute: &str) -> Option<&'a str> {
        match self.0 {
            Repr::Pairs(pairs) => pairs
                .iter()
                .find(|(name, _)| *name == attribute)
                .map(|&(_, value)| value),
            Repr::Owned(pairs) => pairs
                .iter()
                .find(|(name, _)| &**name == attribute)
                .map(|(_, value)| &**value),
        }
    }
}

impl Default for Context<'_> {
    fn default() -> Self {
        Self::empty()
    }
}

/// A context that owns its strings: built once (from JSON, from a host
/// language) and used for many evaluations through [`OwnedContext::as_context`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedContext {
    pairs: Vec<(Box<str>, Box<str>)>,
}

impl OwnedContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `attribute` to `value`, replacing an earlier value.
    pub fn insert(&mut self, attribute: &str, value: &str) {
        match self.pairs.iter_mut().find(|(name, _)| &**name == attribute) {
            Some((_, old)) => *old = value.into(),
            None => self.pairs.push((attribute.into(), value.into())),
        }
    }

    /// Removes `attribute`.
    pub fn remove(&mut self, attribute: &str) {
        self.pairs.retain(|(name, _)| &**name != attribute);
    }

    /// The borrowed view used for evaluation.
    pub fn as_context(&self) -> Context<'_> {
        Context(Repr::Owned(&self.pairs))
    }

    /// The `(attribute, value)` pairs, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Parses a JSON object of attributes. Strings are taken as they are,
    /// integers as their decimal text (`42` -> `"42"`), booleans as
    /// `"true"`/`"false"`, and `null` means the attribute is absent. Any
    /// other value (a fraction, a list, an object), an empty or duplicate
    /// attribute name, or malformed JSON is an error naming the attribute.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let source: Arc<str> = Arc::from("<context>");
        let locator = json::Locator::new(text);
        let diag = |at: usize, path: String, message: String| {
            let (line, column) = locator.locate(at);
            Diagnostic {
                source: source.clone(),
                line,
                column,
                path,
                message,
            }
        };
        let root = json::parse(text)
            .map_err(|e| Error::invalid(vec![diag(e.at, format_segs(&e.path), e.message)]))?;
        let Kind::Object(members) = root.kind else {
            return Err(Error::invalid(vec![diag(
                root.at,
                "(root)".to_owned(),
                format!(
                    "expected an object of attributes, found {}",
                    root.kind.describe()
                ),
            )]));
        };
        let mut errors = Vec::new();
        let mut ctx = OwnedContext {
            pairs: Vec::with_capacity(members.len()),
        };
        let root_path = Path::Root;
        let mut repeated = vec![false; members.len()];
        for (i, first) in json::duplicates(&members) {
            repeated[i] = true;
            let (line, column) = locator.locate(members[first].key_at);
            errors.push((
                members[i].key_at,
                root_path.key(&members[i].key).to_string(),
                format!("duplicate attribute (first at line {line}, column {column})"),
            ));
        }
        for (i, member) in members.iter().enumerate() {
            let path = root_path.key(&member.key);
            if repeated[i] {
                continue;
            }
            if member.key.is_empty() {
                // No flag file can name it, and the C ABI's setter refuses
                // it too: an error rather than an attribute nothing reads.
                errors.push((
                    member.key_at,
                    path.to_string(),
                    "attribute names must not be empty".to_owned(),
                ));
                continue;
            }
            let value = match &member.value.kind {
                Kind::Null => continue,
                Kind::String(s) => Box::from(&**s),
                Kind::Bool(b) => Box::from(if *b { "true" } else { "false" }),
                Kind::Number(n) if is_integer(n) => Box::from(*n),
                other => {
                    let found = match other {
                        Kind::Number(n) => format!("the number {n}"),
                        other => other.describe().to_owned(),
                    };
                    errors.push((
                        member.value.at,
                        path.to_string(),
                        format!("expected a string, an integer, a boolean or null, found {found}"),
                    ));
                    continue;
                }
            };
            ctx.pairs.push((Box::from(&*member.key), value));
        }
        if errors.is_empty() {
            return Ok(ctx);
        }
        errors.sort_by_key(|e| e.0);
        Err(Error::invalid(
            errors
                .into_iter()
                .map(|(at, path, message)| diag(at, path, message))
                .collect(),
        ))
    }
}

/// An integer literal: no fraction and no exponent (`-0` included).
fn is_integer(literal: &str) -> bool {
    !literal.contains(['.', 'e', 'E'])
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for OwnedContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut ctx = OwnedContext::new();
        for (k, v) in iter {
            ctx.insert(k.as_ref(), v.as_ref());
        }
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_json_values() {
        let ctx = OwnedContext::from_json(
            r#"{"user_id": 42, "beta": true, "tenant_id": "acme", "gone": null, "big": 12345678901234567890}"#,
        )
        .expect("valid");
        let c = ctx.as_context();
        assert_eq!(c.get("user_id"), Some("42"));
        assert_eq!(c.get("beta"), Some("true"));
        assert_eq!(c.get("tenant_id"), Some("acme"));
        assert_eq!(c.get("gone"), None);
        assert_eq!(c.get("big"), Some("12345678901234567890"));
    }

    #[test]
    fn rejects_other_types_naming_each_attribute() {
        let err = OwnedContext::from_json("{\"a\": 1.5,\n \"b\": [1], \"a\": \"x\"}")
            .expect_err("invalid");
        let lines: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "<context>:1:7: a: expected a string, an integer, a boolean or null, found the number 1.5",
                "<context>:2:7: b: expected a string, an integer, a boolean or null, found a list",
                "<context>:2:12: a: duplicate attribute (first at line 1, column 2)",
            ]
        );
        let err = OwnedContext::from_json(r#"{"user_id": "1", "": "x"}"#).expect_err("empty name");
        assert_eq!(
            err.diagnostics()[0].to_string(),
            r#"<context>:1:18: [""]: attribute names must not be empty"#
        );
        assert!(OwnedContext::from_json("[]").is_err());
        assert!(OwnedContext::from_json("{").is_err());
    }

    #[test]
    fn first_pair_wins_and_insert_replaces() {
        let c = Context::new(&[("a", "1"), ("a", "2")]);
        assert_eq!(c.get("a"), Some("1"));
        let mut owned: OwnedContext = [("a", "1")].into_iter().collect();
        owned.insert("a", "2");
        assert_eq!(owned.as_context().get("a"), Some("2"));
        owned.remove("a");
        assert_eq!(owned.as_context().get("a"), None);
    }
}
