//! From bytes to a [`Snapshot`], reporting every problem at once.
//!
//! Syntax errors (and invalid UTF-8) stop at the first one: nothing after it
//! can be read reliably. Everything else is collected, so one run of
//! `flags check` lists every typo, wrong type and out-of-range value.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bucket::Prefix;
use crate::decimal::{self, BpError};
use crate::error::{Diagnostic, Error};
use crate::json::{self, Kind, Member, Node};
use crate::json_path::{Path, format_segs, quote};
use crate::model::{Condition, Flag, IdSet, RampPoint, Rollout, Snapshot, Targets, Test, Variant};
use crate::semver::Bound;
use crate::timestamp::parse_millis;

/// The flag file versions this build understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// Top-level fields, in the order `docs/flag-file.md` lists them (edits
/// insert missing members in this order too).
pub(crate) const TOP_FIELDS: &[&str] = &["$schema", "version", "kill_all", "pilots", "flags"];
/// Flag fields, in documentation order.
pub(crate) const FLAG_FIELDS: &[&str] = &[
    "description",
    "owner",
    "killed",
    "requires",
    "deny",
    "pilots",
    "percentage",
    "ramp",
    "bucket_by",
    "salt",
    "variants",
];
const CONDITION_FIELDS: &[&str] = &["attribute", "op", "value", "values"];
const RAMP_FIELDS: &[&str] = &["at", "percentage"];
const VARIANT_FIELDS: &[&str] = &["name", "weight"];
const OPS: &[&str] = &["in", "not_in", "semver_gte", "semver_lt"];
/// Longest flag key.
pub(crate) const MAX_KEY_LEN: usize = 128;

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
    let snapshot = v.root(&root, content_version(bytes));
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

    fn root(&mut self, root: &Node<'_>, version: Box<str>) -> Option<Snapshot> {
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
            version,
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

    fn flag(&mut self, key: &str, node: &Node<'_>, path: &Path<'_>) -> Option<Flag> {
        let fields = self.object(node, path, Some(FLAG_FIELDS), "a flag object")?;
        let mut ok = true;
        let text = |v: &mut Self, name: &str, non_empty: bool| -> Option<Option<Box<str>>> {
            match fields.get(name) {
                None => Some(None),
                Some(node) => {
                    let p = path.key(name);
                    let s = if non_empty {
                        v.non_empty(node, &p)
                    } else {
                        v.string(node, &p)
                    };
                    s.map(|s| Some(Box::from(s)))
                }
            }
        };
        let description = text(self, "description", false);
        let owner = text(self, "owner", false);
        let bucket_by = text(self, "bucket_by", true);
        let salt = text(self, "salt", true);
        let killed = match fields.get("killed") {
            Some(node) => self.boolean(node, &path.key("killed")),
            None => Some(false),
        };
        let requires = match fields.get("requires") {
            Some(node) => self.conditions(node, &path.key("requires")),
            None => Some(Vec::new()),
        };
        let deny = match fields.get("deny") {
            Some(node) => self.targets(node, &path.key("deny")),
            None => Some(Targets::default()),
        };
        let pilots = match fields.get("pilots") {
            Some(node) => self.targets(node, &path.key("pilots")),
            None => Some(Targets::default()),
        };
        let rollout = match (fields.get("percentage"), fields.get_member("ramp")) {
            (Some(_), Some(ramp)) => {
                ok = false;
                self.error(
                    ramp.value.at,
                    &path.key("ramp"),
                    "`percentage` and `ramp` cannot both be set: keep one",
                );
                None
            }
            (Some(node), None) => self
                .percentage(node, &path.key("percentage"))
                .map(Rollout::Percentage),
            (None, Some(ramp)) => self.ramp(&ramp.value, &path.key("ramp")).map(Rollout::Ramp),
            (None, None) => Some(Rollout::Unset),
        };
        let variants = match fields.get("variants") {
            Some(node) => self.variants(node, &path.key("variants")),
            None => Some(Vec::new()),
        };
        let (description, owner, bucket_by, salt) = (description?, owner?, bucket_by?, salt?);
        let (killed, requires, deny, pilots) = (killed?, requires?, deny?, pilots?);
        let (rollout, variants) = (rollout?, variants?);
        if !ok {
            return None;
        }
        let salt_text = salt.as_deref().unwrap_or(key);
        Some(Flag {
            bucket_prefix: Prefix::new(salt_text, ":"),
            variant_prefix: Prefix::new(salt_text, ":variant:"),
            key: key.into(),
            description,
            owner,
            killed,
            requires,
            deny,
            pilots,
            rollout,
            bucket_by,
            salt,
            variants,
        })
    }

    fn conditions(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Vec<Condition>> {
        let Kind::Array(items) = &node.kind else {
            self.wrong_type(node, path, "a list of conditions");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.condition(item, &path.index(i)) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn condition(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Condition> {
        let fields = self.object(
            node,
            path,
            Some(CONDITION_FIELDS),
            "a condition object {attribute, op, value|values}",
        )?;
        let attribute = self
            .require(&fields, "attribute", path)
            .and_then(|n| self.non_empty(n, &path.key("attribute")));
        let op = self.require(&fields, "op", path).and_then(|n| {
            let p = path.key("op");
            let op = self.string(n, &p)?;
            if OPS.contains(&op) {
                Some(op)
            } else {
                self.error(
                    n.at,
                    &p,
                    format!(
                        "unknown op {}; expected one of: {}",
                        quote(op),
                        OPS.join(", ")
                    ),
                );
                None
            }
        });
        let Some(op) = op else {
            self.operands_of_unknown_op(&fields, path);
            return None;
        };
        let list_op = matches!(op, "in" | "not_in");
        let (wanted, unwanted) = if list_op {
            ("values", "value")
        } else {
            ("value", "values")
        };
        if let Some(m) = fields.get_member(unwanted) {
            let hint = if list_op {
                "a list of strings in `values`"
            } else {
                "one version in `value`"
            };
            self.error(
                m.key_at,
                &path.key(unwanted),
                format!("op \"{op}\" does not take `{unwanted}`; it takes {hint}"),
            );
        }
        let operand = self.require(&fields, wanted, path)?;
        let operand_path = path.key(wanted);
        let test = if list_op {
            let ids = self.id_list(operand, &operand_path)?;
            if op == "in" {
                Test::In(ids)
            } else {
                Test::NotIn(ids)
            }
        } else {
            let bound = self.version(operand, &operand_path)?;
            if op == "semver_gte" {
                Test::SemverGte(bound)
            } else {
                Test::SemverLt(bound)
            }
        };
        Some(Condition {
            attribute: attribute?.into(),
            test,
        })
    }

    /// The operands of a condition whose `op` is missing or unknown. Which
    /// one the op takes is not known, so each one present is checked by its
    /// own shape: every op that takes `values` takes a list of strings, and
    /// every op that takes `value` a semantic version. A condition with
    /// neither, or with both, is wrong whatever the op.
    fn operands_of_unknown_op(&mut self, fields: &Fields<'_, '_>, path: &Path<'_>) {
        let values = fields.get_member("values");
        let value = fields.get_member("value");
        if let Some(m) = values {
            let _ = self.id_list(&m.value, &path.key("values"));
        }
        if let Some(m) = value {
            let _ = self.version(&m.value, &path.key("value"));
        }
        const TAKES: &str = "a condition takes one version in `value` (semver_gte, semver_lt) \
                             or a list of strings in `values` (in, not_in)";
        match (value, values) {
            (None, None) => {
                self.error(
                    fields.at,
                    path,
                    format!("missing `value` or `values`: {TAKES}"),
                );
            }
            (Some(value), Some(values)) => {
                // Reported at the later of the two, as a duplicate key is.
                let (later, name, other) = if value.key_at > values.key_at {
                    (value, "value", "values")
                } else {
                    (values, "values", "value")
                };
                self.error(
                    later.key_at,
                    &path.key(name),
                    format!("`{name}` given with `{other}`: {TAKES}, not both"),
                );
            }
            _ => {}
        }
    }

    /// A semantic version (the operand of `semver_gte` and `semver_lt`).
    fn version(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Bound> {
        let text = self.string(node, path)?;
        let bound = Bound::parse(text);
        if bound.is_none() {
            self.error(
                node.at,
                path,
                format!(
                    "invalid semantic version {}: expected MAJOR.MINOR.PATCH as in SemVer 2.0, such as 3.2.0",
                    quote(text)
                ),
            );
        }
        bound
    }

    fn ramp(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Vec<RampPoint>> {
        let Kind::Array(items) = &node.kind else {
            self.wrong_type(node, path, "a list of ramp points {at, percentage}");
            return None;
        };
        if items.is_empty() {
            self.error(
                node.at,
                path,
                "expected at least one ramp point, found an empty list",
            );
            return None;
        }
        let mut points = Vec::with_capacity(items.len());
        let mut ok = true;
        // The previous point's time, when it could be read: each point must
        // come after the one before it.
        let mut previous: Option<(i64, &str)> = None;
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            let Some(fields) = self.object(
                item,
                &item_path,
                Some(RAMP_FIELDS),
                "a ramp point {at, percentage}",
            ) else {
                ok = false;
                previous = None;
                continue;
            };
            let at = self.require(&fields, "at", &item_path).and_then(|n| {
                let p = item_path.key("at");
                let text = self.string(n, &p)?;
                match parse_millis(text) {
                    Some(ms) => Some((n, ms, text)),
                    None => {
                        self.error(
                            n.at,
                            &p,
                            format!("invalid time {}: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z", quote(text)),
                        );
                        None
                    }
                }
            });
            if let (Some((n, ms, text)), Some((prev_ms, prev_text))) = (at, previous) {
                if ms <= prev_ms {
                    self.error(
                        n.at,
                        &item_path.key("at"),
                        format!(
                            "ramp times must strictly increase: {} is not after {}",
                            quote(text),
                            quote(prev_text)
                        ),
                    );
                    ok = false;
                }
            }
            previous = at.map(|(_, ms, text)| (ms, text));
            let bp = self
                .require(&fields, "percentage", &item_path)
                .and_then(|n| self.percentage(n, &item_path.key("percentage")));
            match (at, bp) {
                (Some((_, at, text)), Some(bp)) => points.push(RampPoint {
                    at,
                    at_text: text.into(),
                    bp,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(points)
    }

    fn variants(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Vec<Variant>> {
        let Kind::Array(items) = &node.kind else {
            self.wrong_type(node, path, "a list of variants {name, weight}");
            return None;
        };
        if items.is_empty() {
            self.error(
                node.at,
                path,
                "expected at least one variant, found an empty list",
            );
            return None;
        }
        let mut variants: Vec<Variant> = Vec::with_capacity(items.len());
        let mut names: Vec<(&str, usize)> = Vec::with_capacity(items.len());
        let mut names_ok = true;
        let mut weights_ok = true;
        let mut total = 0;
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            let Some(fields) = self.object(
                item,
                &item_path,
                Some(VARIANT_FIELDS),
                "a variant {name, weight}",
            ) else {
                names_ok = false;
                weights_ok = false;
                continue;
            };
            let name = self.require(&fields, "name", &item_path).and_then(|n| {
                let p = item_path.key("name");
                let name = self.non_empty(n, &p)?;
                // Names are returned to callers (JSON, C strings, PHP, Dart);
                // a control character, NUL above all, cannot come out the
                // same everywhere.
                if let Some(c) = name.chars().find(|c| c.is_control()) {
                    self.error(
                        n.at,
                        &p,
                        format!(
                            "invalid variant name {}: expected no control characters \
                             (U+0000 to U+001F, U+007F to U+009F), found U+{:04X}",
                            quote(name),
                            u32::from(c)
                        ),
                    );
                    return None;
                }
                if let Some(&(_, first_at)) = names.iter().find(|(seen, _)| *seen == name) {
                    let (line, column) = self.line_col(first_at);
                    self.error(
                        n.at,
                        &p,
                        format!(
                            "duplicate variant name {} (first at line {line}, column {column})",
                            quote(name)
                        ),
                    );
                    return None;
                }
                names.push((name, n.at));
                Some(name)
            });
            let weight = self
                .require(&fields, "weight", &item_path)
                .and_then(|n| self.percentage(n, &item_path.key("weight")));
            match weight {
                Some(w) => total += w,
                None => weights_ok = false,
            }
            match (name, weight) {
                (Some(name), Some(weight)) => variants.push(Variant {
                    name: name.into(),
                    weight,
                }),
                _ => names_ok = false,
            }
        }
        // The sum is checked whenever every weight could be read, so a
        // duplicate name and a bad total are reported together.
        if weights_ok && total != decimal::FULL {
            self.error(
                node.at,
                path,
                format!(
                    "variant weights must sum to exactly 100, found {}",
                    decimal::format_basis_points(total)
                ),
            );
            return None;
        }
        if !(names_ok && weights_ok) {
            return None;
        }
        Some(variants)
    }
}

/// The content hash behind [`Snapshot::version`].
pub(crate) fn content_version(bytes: &[u8]) -> Box<str> {
    use std::hash::Hasher as _;
    let mut hasher = siphasher::sip128::SipHasher24::new_with_keys(0, 0);
    hasher.write(bytes);
    let hash = siphasher::sip128::Hasher128::finish128(&hasher).as_u128();
    format!("{hash:032x}").into()
}

fn valid_flag_key(key: &str) -> bool {
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
