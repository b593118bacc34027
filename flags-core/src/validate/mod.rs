//! From bytes to a [`Snapshot`], reporting every problem at once.
//!
//! Syntax errors (and invalid UTF-8) stop at the first one: nothing after it
//! can be read reliably. Everything else is collected, so one run of
//! `flags check` lists every typo, wrong type and out-of-range value.
//!
//! This module checks the document (its top-level fields, the `pilots`
//! and `flags` objects) and holds the checks every part uses (objects and
//! their keys, strings, percentages, id lists); [`flag`] checks each flag.
//! The result has no version yet: `load` names it by its content hash.

mod flag;
mod migration;

#[cfg(feature = "edit")]
pub(crate) use migration::MIGRATION_FIELDS;

pub use flag::parse_duration;

use std::collections::HashMap;
use std::sync::Arc;

use crate::decimal::{self, BpError};
use crate::error::{Diagnostic, Error};
use crate::json::{self, Kind, Member, Node};
use crate::json_path::{Path, format_segs, quote};
use crate::model::{Flag, IdSet, Snapshot, Targets};

/// The flag file versions this build understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// Top-level fields, in the order `docs/flag-file.md` lists them (edits
/// insert missing members in this order too).
pub(crate) const TOP_FIELDS: &[&str] = &["$schema", "version", "kill_all", "pilots", "flags"];
/// Flag fields, in documentation order.
pub(crate) const FLAG_FIELDS: &[&str] = &[
    "description",
    "owner",
    "migration",
    "killed",
    "requires",
    "deny",
    "pilots",
    "percentage",
    "ramp",
    "paused_at",
    "bucket_by",
    "salt",
    "variants",
    "guard",
];
/// Longest flag key.
pub(crate) const MAX_KEY_LEN: usize = 128;

/// Parses and validates `bytes`, naming them `source` in diagnostics. The
/// snapshot's `version` is left for the caller to fill in (see `load`).
pub(crate) fn snapshot(bytes: &[u8], source: Arc<str>) -> Result<Snapshot, Error> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.valid_up_to();
            // The prefix is valid UTF-8 by definition.
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
            let (line, column) = json::line_col(prefix, valid);
            return Err(Error::invalid(vec![Diagnostic {
                source,
                line,
                column,
                path: "(root)".to_owned(),
                message: format!(
                    "invalid UTF-8 (byte 0x{:02X} at offset {valid}); save the file as UTF-8",
                    bytes[valid]
                ),
            }]));
        }
    };
    let root = json::parse(text).map_err(|e| {
        let (line, column) = json::line_col(text, e.at);
        Error::invalid(vec![Diagnostic {
            source: source.clone(),
            line,
            column,
            path: format_segs(&e.path),
            message: e.message,
        }])
    })?;
    let mut v = Validator {
        errors: Vec::new(),
        locator: json::Locator::new(text),
    };
    let snapshot = v.root(&root);
    if v.errors.is_empty() {
        if let Some(snapshot) = snapshot {
            return Ok(snapshot);
        }
    }
    // Document order; stable, so problems at one spot keep their order.
    v.errors.sort_by_key(|e| e.at);
    let locator = v.locator;
    let diagnostics = v
        .errors
        .into_iter()
        .map(|e| {
            let (line, column) = locator.locate(e.at);
            Diagnostic {
                source: source.clone(),
                line,
                column,
                path: e.path,
                message: e.message,
            }
        })
        .collect();
    Err(Error::invalid(diagnostics))
}

struct Problem {
    at: usize,
    path: String,
    message: String,
}

struct Validator<'t> {
    errors: Vec<Problem>,
    locator: json::Locator<'t>,
}

/// The fields of one object, looked up by name after unknown and duplicate
/// keys have been reported.
struct Fields<'n, 'a> {
    members: &'n [Member<'a>],
    /// For each member: false when it is a repeat of an earlier key.
    first: Vec<bool>,
    at: usize,
}

impl<'n, 'a> Fields<'n, 'a> {
    fn get(&self, name: &str) -> Option<&'n Node<'a>> {
        self.members
            .iter()
            .zip(&self.first)
            .find(|(m, first)| **first && m.key == name)
            .map(|(m, _)| &m.value)
    }

    fn get_member(&self, name: &str) -> Option<&'n Member<'a>> {
        self.members
            .iter()
            .zip(&self.first)
            .find(|(m, first)| **first && m.key == name)
            .map(|(m, _)| m)
    }
}

impl<'t> Validator<'t> {
    fn error(&mut self, at: usize, path: &Path<'_>, message: impl Into<String>) {
        self.errors.push(Problem {
            at,
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, node: &Node<'_>, path: &Path<'_>, expected: &str) {
        let found = node.kind.describe();
        self.error(node.at, path, format!("expected {expected}, found {found}"));
    }

    fn line_col(&self, at: usize) -> (usize, usize) {
        self.locator.locate(at)
    }

    /// Checks that `node` is an object, reports duplicate keys and (when
    /// `known` is given) unknown keys, and returns its fields.
    fn object<'n, 'a>(
        &mut self,
        node: &'n Node<'a>,
        path: &Path<'_>,
        known: Option<&[&str]>,
        expected: &str,
    ) -> Option<Fields<'n, 'a>> {
        let Kind::Object(members) = &node.kind else {
            self.wrong_type(node, path, expected);
            return None;
        };
        let mut first = vec![true; members.len()];
        for (i, earlier) in json::duplicates(members) {
            first[i] = false;
            let (line, column) = self.line_col(members[earlier].key_at);
            let m = &members[i];
            self.error(
                m.key_at,
                &path.key(&m.key),
                format!("duplicate key (first at line {line}, column {column})"),
            );
        }
        if let Some(known) = known {
            for (m, _) in members.iter().zip(&first).filter(|(_, f)| **f) {
                if !known.contains(&&*m.key) {
                    let message = unknown_field(&m.key, known);
                    self.error(m.key_at, &path.key(&m.key), message);
                }
            }
        }
        Some(Fields {
            members,
            first,
            at: node.at,
        })
    }

    fn require<'n, 'a>(
        &mut self,
        fields: &Fields<'n, 'a>,
        name: &str,
        path: &Path<'_>,
    ) -> Option<&'n Node<'a>> {
        let node = fields.get(name);
        if node.is_none() {
            self.error(
                fields.at,
                &path.key(name),
                format!("missing required field `{name}`"),
            );
        }
        node
    }

    fn boolean(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<bool> {
        match node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, path, "a boolean (true or false)");
                None
            }
        }
    }

    fn string<'n>(&mut self, node: &'n Node<'_>, path: &Path<'_>) -> Option<&'n str> {
        match &node.kind {
            Kind::String(s) => Some(s),
            _ => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    fn non_empty<'n>(&mut self, node: &'n Node<'_>, path: &Path<'_>) -> Option<&'n str> {
        match &node.kind {
            Kind::String(s) if s.is_empty() => {
                self.error(node.at, path, "expected a non-empty string, found \"\"");
                None
            }
            Kind::String(s) => Some(s),
            _ => {
                self.wrong_type(node, path, "a non-empty string");
                None
            }
        }
    }

    fn percentage(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<u32> {
        const EXPECTED: &str = "a number from 0 to 100 with at most two decimals";
        let Kind::Number(literal) = node.kind else {
            self.wrong_type(node, path, EXPECTED);
            return None;
        };
        match decimal::basis_points(literal) {
            Ok(bp) => Some(bp),
            Err(BpError::TooPrecise) => {
                self.error(
                    node.at,
                    path,
                    format!("expected {EXPECTED}, found {literal} (too many decimals)"),
                );
                None
            }
            Err(BpError::OutOfRange) => {
                self.error(
                    node.at,
                    path,
                    format!("expected {EXPECTED}, found {literal} (out of range)"),
                );
                None
            }
        }
    }

    /// A list of strings, as a set.
    fn id_list(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<IdSet> {
        let Kind::Array(items) = &node.kind else {
            self.wrong_type(node, path, "a list of strings");
            return None;
        };
        let mut ids = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match &item.kind {
                Kind::String(s) => ids.push(&**s),
                _ => {
                    ok = false;
                    self.wrong_type(item, &path.index(i), "a string");
                }
            }
        }
        if !ok {
            return None;
        }
        let set = IdSet::new(ids);
        if set.is_none() {
            self.error(
                node.at,
                path,
                "the ids of this list add up to more than 4 GiB",
            );
        }
        set
    }

    /// `{attribute: [ids]}` as used by `pilots` and `deny`.
    fn targets(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Targets> {
        let fields = self.object(
            node,
            path,
            None,
            "an object mapping attribute names to lists of strings",
        )?;
        let mut targets = Vec::with_capacity(fields.members.len());
        let mut ok = true;
        for (m, first) in fields.members.iter().zip(&fields.first) {
            if !first {
                ok = false;
                continue;
            }
            let item_path = path.key(&m.key);
            if m.key.is_empty() {
                ok = false;
                self.error(m.key_at, &item_path, "attribute names must not be empty");
            }
            match self.id_list(&m.value, &item_path) {
                Some(ids) => targets.push((Box::from(&*m.key), ids)),
                None => ok = false,
            }
        }
        ok.then_some(Targets(targets))
    }

    fn root(&mut self, root: &Node<'_>) -> Option<Snapshot> {
        let path = Path::Root;
        let fields = self.object(root, &path, Some(TOP_FIELDS), "a JSON object")?;
        // An unsupported version means the rest may follow other rules:
        // report that alone.
        if let Some(version) = fields.get("version") {
            if !matches!(version.kind, Kind::Number("1")) {
                let found = match &version.kind {
                    Kind::Number(n) => (*n).to_owned(),
                    other => other.describe().to_owned(),
                };
                self.errors.clear();
                let supported: Vec<String> =
                    SUPPORTED_VERSIONS.iter().map(ToString::to_string).collect();
                self.error(
                    version.at,
                    &path.key("version"),
                    format!(
                        "unsupported version {found}; supported versions: {}",
                        supported.join(", ")
                    ),
                );
                return None;
            }
        }
        self.require(&fields, "version", &path);
        if let Some(schema) = fields.get("$schema") {
            self.string(schema, &path.key("$schema"));
        }
        let kill_all = match fields.get("kill_all") {
            Some(node) => self.boolean(node, &path.key("kill_all")),
            None => Some(false),
        };
        let pilots = match fields.get("pilots") {
            Some(node) => self.targets(node, &path.key("pilots")),
            None => Some(Targets::default()),
        };
        let flags = self
            .require(&fields, "flags", &path)
            .and_then(|node| self.flags(node, &path.key("flags")));
        let (kill_all, pilots, mut flags) = (kill_all?, pilots?, flags?);
        flags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut index = HashMap::with_capacity_and_hasher(flags.len(), Default::default());
        for (i, flag) in flags.iter().enumerate() {
            index.insert(flag.key.clone(), i);
        }
        Some(Snapshot {
            version: Box::default(),
            kill_all,
            pilots,
            flags,
            index,
        })
    }

    fn flags(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Vec<Flag>> {
        let fields = self.object(node, path, None, "an object mapping flag keys to flags")?;
        let mut flags = Vec::with_capacity(fields.members.len());
        let mut ok = true;
        for (m, first) in fields.members.iter().zip(&fields.first) {
            if !first {
                ok = false;
                continue;
            }
            let flag_path = path.key(&m.key);
            if !valid_flag_key(&m.key) {
                ok = false;
                self.error(
                    m.key_at,
                    &flag_path,
                    format!(
                        "invalid flag key: expected 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 _ - ."
                    ),
                );
            }
            match self.flag(&m.key, &m.value, &flag_path) {
                Some(flag) => flags.push(flag),
                None => ok = false,
            }
        }
        ok.then_some(flags)
    }
}

/// The rule for flag keys (`docs/flag-file.md`, "Keys"): 1 to
/// [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 _ - .`.
pub(crate) fn valid_flag_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn unknown_field(key: &str, known: &[&str]) -> String {
    let closest = known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    let list = known.join(", ");
    match closest {
        Some((_, suggestion)) => {
            format!(
                "unknown field {}; did you mean \"{suggestion}\"? (expected one of: {list})",
                quote(key)
            )
        }
        None => format!("unknown field {} (expected one of: {list})", quote(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant_name_error(name: &str) -> Option<String> {
        let file = format!(
            r#"{{"version": 1, "flags": {{"f": {{"variants": [{{"name": {}, "weight": 100}}]}}}}}}"#,
            quote(name)
        );
        match snapshot(file.as_bytes(), Arc::from("flags.json")) {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    #[test]
    fn variant_names_reject_exactly_the_control_characters() {
        // `char::is_control` is the Cc category: C0, DEL and C1.
        for c in ('\u{0}'..='\u{1f}').chain('\u{7f}'..='\u{9f}') {
            let error = variant_name_error(&format!("a{c}b"))
                .unwrap_or_else(|| panic!("U+{:04X} accepted", u32::from(c)));
            assert!(
                error.contains(&format!("found U+{:04X}", u32::from(c))),
                "{error}"
            );
        }
        for name in [
            "a b",
            "~",
            "a\u{a0}b",
            "é日本🚀",
            "a\u{2028}b",
            "a\u{200b}b",
        ] {
            assert_eq!(variant_name_error(name), None, "{name:?}");
        }
    }
}
