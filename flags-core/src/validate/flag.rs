//! The fields of one flag: texts, the kill switch, `requires` conditions,
//! `deny` and `pilots` lists, the rollout (`percentage` or `ramp`),
//! `variants` and `guard` (a `migration` object is checked in
//! [`super::migration`]). The document around them is checked in the parent module.

use crate::bucket::Prefix;
use crate::decimal;
use crate::json::{Kind, Node};
use crate::json_path::{Path, quote};
use crate::model::{
    Condition, Flag, Guard, GuardAction, RampPoint, Rollout, Targets, Test, Threshold, Variant,
};
use crate::semver::Bound;
use crate::timestamp::parse_millis;

use super::{FLAG_FIELDS, Fields, Validator};

const CONDITION_FIELDS: &[&str] = &["attribute", "op", "value", "values"];
const RAMP_FIELDS: &[&str] = &["at", "percentage"];
const VARIANT_FIELDS: &[&str] = &["name", "weight"];
const OPS: &[&str] = &["in", "not_in", "semver_gte", "semver_lt"];
const GUARD_FIELDS: &[&str] = &["query", "above", "below", "for", "action"];
const GUARD_ACTIONS: &[&str] = &["kill", "pause", "rollback"];
/// The longest `for` a guard may have.
pub(crate) const MAX_GUARD_FOR_MS: u64 = 24 * 3_600_000;

impl Validator<'_> {
    pub(super) fn flag(&mut self, key: &str, node: &Node<'_>, path: &Path<'_>) -> Option<Flag> {
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
        let paused_at = match fields.get("paused_at") {
            None => Some(None),
            Some(node) => {
                let p = path.key("paused_at");
                let time = self.time(node, &p);
                if fields.get("ramp").is_none() {
                    self.error(
                        node.at,
                        &p,
                        "`paused_at` freezes a ramp, and this flag has no `ramp`: remove it",
                    );
                    None
                } else {
                    time.map(|(ms, text)| Some((ms, Box::from(text))))
                }
            }
        };
        let migration = match fields.get("migration") {
            Some(node) => self.migration(node, &path.key("migration")).map(Some),
            None => Some(None),
        };
        let variants = match fields.get("variants") {
            // A migration flag's answer is a stage: no variants.
            Some(node) if fields.get("migration").is_some() => {
                self.error(
                    node.at,
                    &path.key("variants"),
                    "a migration flag cannot have `variants`: its answer is a stage; remove \
                     `variants` or `migration`",
                );
                None
            }
            Some(node) => self.variants(node, &path.key("variants")),
            None => Some(Vec::new()),
        };
        let guard = match fields.get("guard") {
            Some(node) => {
                let migration = fields.get("migration").is_some();
                self.guard(node, &path.key("guard"), migration).map(Some)
            }
            None => Some(None),
        };
        let (description, owner, bucket_by, salt) = (description?, owner?, bucket_by?, salt?);
        let (killed, requires, deny, pilots) = (killed?, requires?, deny?, pilots?);
        let (rollout, paused_at, variants, guard) = (rollout?, paused_at?, variants?, guard?);
        let migration = migration?;
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
            paused_at,
            bucket_by,
            salt,
            variants,
            guard,
            migration,
        })
    }

    /// An RFC 3339 time with an offset: Unix milliseconds and the text.
    fn time<'n>(&mut self, node: &'n Node<'_>, path: &Path<'_>) -> Option<(i64, &'n str)> {
        let text = self.string(node, path)?;
        match parse_millis(text) {
            Some(ms) => Some((ms, text)),
            None => {
                self.error(
                    node.at,
                    path,
                    format!(
                        "invalid time {}: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
                        quote(text)
                    ),
                );
                None
            }
        }
    }

    /// `{query, above | below, for, action}`; `rollback` only on a
    /// `migration` flag.
    fn guard(&mut self, node: &Node<'_>, path: &Path<'_>, migration: bool) -> Option<Guard> {
        let fields = self.object(
            node,
            path,
            Some(GUARD_FIELDS),
            "a guard object {query, above | below, for, action}",
        )?;
        let query = self
            .require(&fields, "query", path)
            .and_then(|n| self.non_empty(n, &path.key("query")));
        let threshold = match (fields.get_member("above"), fields.get_member("below")) {
            (Some(above), Some(below)) => {
                let later = if above.key_at > below.key_at {
                    above
                } else {
                    below
                };
                self.error(
                    later.key_at,
                    &path.key(&later.key),
                    "`above` and `below` cannot both be set: a guard has one threshold",
                );
                None
            }
            (Some(m), None) => self
                .threshold(&m.value, &path.key("above"))
                .map(|(t, text)| (Threshold::Above(t), text)),
            (None, Some(m)) => self
                .threshold(&m.value, &path.key("below"))
                .map(|(t, text)| (Threshold::Below(t), text)),
            (None, None) => {
                self.error(
                    fields.at,
                    path,
                    "missing `above` or `below`: the threshold the query's value must not cross",
                );
                None
            }
        };
        let hold = self.require(&fields, "for", path).and_then(|n| {
            let p = path.key("for");
            let text = self.string(n, &p)?;
            match parse_duration_ms(text) {
                Some(ms) if ms <= MAX_GUARD_FOR_MS => Some((ms, text)),
                Some(_) => {
                    self.error(
                        n.at,
                        &p,
                        format!("duration {} is too long: at most 24h", quote(text)),
                    );
                    None
                }
                None => {
                    self.error(
                        n.at,
                        &p,
                        format!(
                            "invalid duration {}: expected a whole number of seconds, minutes \
                             or hours, such as 30s, 2m or 1h (0s to 24h)",
                            quote(text)
                        ),
                    );
                    None
                }
            }
        });
        let action = self.require(&fields, "action", path).and_then(|n| {
            let p = path.key("action");
            match self.string(n, &p)? {
                "kill" => Some(GuardAction::Kill),
                "pause" => Some(GuardAction::Pause),
                "rollback" if migration => Some(GuardAction::Rollback),
                "rollback" => {
                    self.error(
                        n.at,
                        &p,
                        "action \"rollback\" moves a migration flag back to its stage, and this \
                         flag has no `migration`: use kill or pause",
                    );
                    None
                }
                other => {
                    self.error(
                        n.at,
                        &p,
                        format!(
                            "unknown action {}; expected one of: {}",
                            quote(other),
                            GUARD_ACTIONS.join(", ")
                        ),
                    );
                    None
                }
            }
        });
        let (query, (threshold, threshold_text), (for_ms, for_text), action) =
            (query?, threshold?, hold?, action?);
        Some(Guard {
            query: query.into(),
            threshold,
            threshold_text: threshold_text.into(),
            for_ms,
            for_text: for_text.into(),
            action,
        })
    }

    /// A finite JSON number, with its literal.
    fn threshold<'n>(&mut self, node: &'n Node<'_>, path: &Path<'_>) -> Option<(f64, &'n str)> {
        let Kind::Number(literal) = node.kind else {
            self.wrong_type(node, path, "a number");
            return None;
        };
        match literal.parse::<f64>() {
            Ok(value) if value.is_finite() => Some((value, literal)),
            _ => {
                self.error(
                    node.at,
                    path,
                    format!("expected a number a 64-bit float can hold, found {literal}"),
                );
                None
            }
        }
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

/// A duration as flag files and `flags guard` write it: a whole number and
/// one unit, `s`, `m` or `h` (`30s`, `2m`, `1h`); `None` for anything else.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(flags_core::parse_duration("2m"), Some(Duration::from_secs(120)));
/// assert_eq!(flags_core::parse_duration("1.5h"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    parse_duration_ms(text).map(std::time::Duration::from_millis)
}

/// [`parse_duration`] in milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Option<u64> {
    let unit = match text.as_bytes().last()? {
        b's' => 1_000,
        b'm' => 60_000,
        b'h' => 3_600_000,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().map(|n| n * unit)
}
