//! Text-preserving edits of a flag file (operator commands).
//!
//! A [`Document`] holds the text of a valid flag file. Each edit replaces
//! only the spans that change and leaves every other byte as it was: key
//! order, whitespace, line endings, the spelling of numbers, other flags.
//! A member that has to be added copies the layout of its siblings (one
//! line or one member per line, their indentation and separators); an
//! empty object gets clean indentation. After every edit the whole text is
//! validated again, so a [`Document`] always holds a valid flag file.
//!
//! ```
//! use flags_core::edit::Document;
//!
//! let mut doc = Document::parse(concat!(
//!     "{\n",
//!     "  \"version\": 1,\n",
//!     "  \"flags\": {\n",
//!     "    \"checkout\": {\n",
//!     "      \"owner\": \"payments\",\n",
//!     "      \"percentage\": 12.50\n",
//!     "    }\n",
//!     "  }\n",
//!     "}\n",
//! ))?;
//! doc.set_percentage("checkout", 2500)?;
//! doc.set_killed("checkout", true)?;
//! assert_eq!(doc.text(), concat!(
//!     "{\n",
//!     "  \"version\": 1,\n",
//!     "  \"flags\": {\n",
//!     "    \"checkout\": {\n",
//!     "      \"owner\": \"payments\",\n",
//!     "      \"killed\": true,\n",
//!     "      \"percentage\": 25\n",
//!     "    }\n",
//!     "  }\n",
//!     "}\n",
//! ));
//! // An unknown flag is an error that suggests the nearest key.
//! let err = doc.set_killed("chekout", true).expect_err("unknown flag");
//! assert_eq!(err.to_string(), "no flag named \"chekout\"; did you mean \"checkout\"?");
//! # Ok::<(), flags_core::Error>(())
//! ```
//!
//! Edits do no I/O: reading, writing atomically and auditing are the
//! caller's job (`flags set`, `flags kill`, ... in `flags-server`).

use std::collections::HashSet;
use std::ops::Range;

use crate::decimal::{self, BpError};
use crate::error::Error;
use crate::json::{self, Kind, Member, Node};
use crate::json_path::push_json_string;
use crate::model::{Rollout, Snapshot};
use crate::timestamp::parse_millis;

use crate::validate::{FLAG_FIELDS as FLAG_ORDER, MAX_KEY_LEN, TOP_FIELDS as TOP_ORDER};

/// The text of a valid flag file, edited in place.
///
/// Every edit either succeeds and leaves a valid file, or fails and leaves
/// the document unchanged. An edit that would change nothing (adding a
/// pilot who is already one, setting the percentage a flag already has)
/// succeeds and leaves the text byte for byte as it was.
#[derive(Debug)]
pub struct Document {
    text: String,
    source: String,
    snapshot: Snapshot,
}

impl Document {
    /// Takes the text of a flag file, which must be valid (the error lists
    /// every problem otherwise). Errors name the source `<input>`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_named(text, "<input>")
    }

    /// Like [`Document::parse`], naming the file `source` in validation
    /// errors, including those of an edit that would make the file invalid.
    pub fn parse_named(text: &str, source: &str) -> Result<Self, Error> {
        let snapshot = Snapshot::from_slice_named(text.as_bytes(), source)?;
        Ok(Self {
            text: text.to_owned(),
            source: source.to_owned(),
            snapshot,
        })
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The current text, owned.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The current text, parsed: what the file means after the edits so far.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Sets a flag's fixed rollout percentage, in basis points (`1250` is
    /// 12.5%), written in its shortest form. Replaces the `percentage`
    /// value, or the whole `ramp` member when the flag has a ramp, or adds
    /// a `percentage` member. A value that already means the same (`12.50`
    /// for 1250, no percentage at all for 0) is left as written.
    pub fn set_percentage(&mut self, flag: &str, basis_points: u32) -> Result<(), Error> {
        if basis_points > decimal::FULL {
            return Err(Error::edit(format!(
                "percentage {} is out of range: expected 0 to 100",
                decimal::format_basis_points(basis_points)
            )));
        }
        let plan = self.tree()?.set_percentage(flag, basis_points)?;
        self.commit(plan)
    }

    /// Sets a flag's rollout to a ramp: `(time, basis points)` points, each
    /// time an RFC 3339 time with an offset, strictly increasing. Replaces
    /// the `ramp` value, or the `percentage` member, or adds a `ramp`.
    pub fn set_ramp(&mut self, flag: &str, points: &[(String, u32)]) -> Result<(), Error> {
        check_ramp(points)?;
        let plan = self.tree()?.set_ramp(flag, points)?;
        self.commit(plan)
    }

    /// Adds ids to a flag's `pilots` list for `attribute`, creating the
    /// `pilots` object or the list when missing. New ids are appended in the
    /// order given; ids already in the list are left alone.
    pub fn add_pilots<S: AsRef<str>>(
        &mut self,
        flag: &str,
        attribute: &str,
        ids: &[S],
    ) -> Result<(), Error> {
        check_attribute(attribute)?;
        let plan = self.tree()?.add_pilots(Some(flag), attribute, ids)?;
        self.commit(plan)
    }

    /// Removes ids from a flag's `pilots` list for `attribute` (every
    /// occurrence). A list left empty is removed, and so is a `pilots`
    /// object left empty. Ids that are not pilots are ignored.
    pub fn remove_pilots<S: AsRef<str>>(
        &mut self,
        flag: &str,
        attribute: &str,
        ids: &[S],
    ) -> Result<(), Error> {
        check_attribute(attribute)?;
        let plan = self.tree()?.remove_pilots(Some(flag), attribute, ids)?;
        self.commit(plan)
    }

    /// Like [`Document::add_pilots`], for the top-level `pilots`: the
    /// pilots of every flag.
    pub fn add_global_pilots<S: AsRef<str>>(
        &mut self,
        attribute: &str,
        ids: &[S],
    ) -> Result<(), Error> {
        check_attribute(attribute)?;
        let plan = self.tree()?.add_pilots(None, attribute, ids)?;
        self.commit(plan)
    }

    /// Like [`Document::remove_pilots`], for the top-level `pilots`. A
    /// top-level `pilots` object left empty is removed.
    pub fn remove_global_pilots<S: AsRef<str>>(
        &mut self,
        attribute: &str,
        ids: &[S],
    ) -> Result<(), Error> {
        check_attribute(attribute)?;
        let plan = self.tree()?.remove_pilots(None, attribute, ids)?;
        self.commit(plan)
    }

    /// Sets a flag's kill switch. `killed: false` is written only where a
    /// `killed` member already exists.
    pub fn set_killed(&mut self, flag: &str, killed: bool) -> Result<(), Error> {
        let plan = self.tree()?.set_killed(flag, killed)?;
        self.commit(plan)
    }

    /// Sets the global kill switch `kill_all`. `false` is written only where
    /// a `kill_all` member already exists.
    pub fn set_kill_all(&mut self, kill_all: bool) -> Result<(), Error> {
        let plan = self.tree()?.set_kill_all(kill_all);
        self.commit(plan)
    }

    /// Adds a flag that is off (`"percentage": 0`), with an optional
    /// description and owner. It goes in key order when the file's flags are
    /// sorted, at the end otherwise. The key must be new and valid (1 to 128
    /// characters of `A-Z a-z 0-9 _ - .`).
    pub fn create_flag(
        &mut self,
        key: &str,
        description: Option<&str>,
        owner: Option<&str>,
    ) -> Result<(), Error> {
        if !valid_flag_key(key) {
            return Err(Error::edit(format!(
                "invalid flag key {}: expected 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 _ - .",
                quoted(key)
            )));
        }
        if self.snapshot.flag(key).is_some() {
            return Err(Error::edit(format!("flag {} already exists", quoted(key))));
        }
        let plan = self.tree()?.create_flag(key, description, owner);
        self.commit(plan)
    }

    /// Removes a flag.
    pub fn delete_flag(&mut self, key: &str) -> Result<(), Error> {
        let plan = self.tree()?.delete_flag(key)?;
        self.commit(plan)
    }

    fn tree(&self) -> Result<Tree<'_>, Error> {
        // The text is valid, so it parses; an error here is a bug.
        let root = json::parse(&self.text)
            .map_err(|e| Error::edit(format!("internal error: {}", e.message)))?;
        let style = Style::detect(&self.text, &root);
        Ok(Tree {
            text: &self.text,
            root,
            style,
            snapshot: &self.snapshot,
        })
    }

    /// Applies the splices, validates the result and keeps it when valid.
    fn commit(&mut self, mut plan: Vec<Splice>) -> Result<(), Error> {
        if plan.is_empty() {
            return Ok(());
        }
        plan.sort_by_key(|s| s.range.start);
        let mut out = String::with_capacity(self.text.len() + 64);
        let mut pos = 0;
        for splice in &plan {
            debug_assert!(splice.range.start >= pos, "overlapping splices");
            out.push_str(&self.text[pos..splice.range.start]);
            out.push_str(&splice.with);
            pos = splice.range.end;
        }
        out.push_str(&self.text[pos..]);
        if out == self.text {
            return Ok(());
        }
        self.snapshot = Snapshot::from_slice_named(out.as_bytes(), &self.source)?;
        self.text = out;
        Ok(())
    }
}

/// Parses a percentage as an operator types it: `12.5`, `0.25`, `100`,
/// optionally followed by `%`. Returns basis points (`12.5` -> 1250).
///
/// ```
/// use flags_core::edit::parse_percentage;
/// assert_eq!(parse_percentage("12.5")?, 1250);
/// assert_eq!(parse_percentage("0.01%")?, 1);
/// assert!(parse_percentage("12.345").is_err());
/// assert!(parse_percentage("101").is_err());
/// # Ok::<(), flags_core::Error>(())
/// ```
pub fn parse_percentage(text: &str) -> Result<u32, Error> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed =
        digits(whole) && (fraction.is_empty() || digits(fraction)) && !unsigned.ends_with('.');
    if !well_formed {
        return Err(Error::edit(format!(
            "invalid percentage {}: expected a number from 0 to 100 with at most two decimals, such as 12.5",
            quoted(text)
        )));
    }
    // `digits` guarantees a plain decimal, which is also a JSON number
    // (leading zeros aside, which `basis_points` does not mind).
    match decimal::basis_points(number) {
        Ok(bp) => Ok(bp),
        Err(BpError::TooPrecise) => Err(Error::edit(format!(
            "invalid percentage {}: at most two decimals (0.01 is the smallest step)",
            quoted(text)
        ))),
        Err(BpError::OutOfRange) => Err(Error::edit(format!(
            "invalid percentage {}: expected a number from 0 to 100",
            quoted(text)
        ))),
    }
}

/// Writes basis points as the shortest percentage: 1250 -> `12.5`, the
/// form edits write into the file.
pub fn format_percentage(basis_points: u32) -> String {
    decimal::format_basis_points(basis_points)
}

fn check_ramp(points: &[(String, u32)]) -> Result<(), Error> {
    if points.is_empty() {
        return Err(Error::edit("a ramp needs at least one point"));
    }
    let mut previous: Option<(i64, &str)> = None;
    for (at, bp) in points {
        let Some(ms) = parse_millis(at) else {
            return Err(Error::edit(format!(
                "invalid ramp time {}: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
                quoted(at)
            )));
        };
        if *bp > decimal::FULL {
            return Err(Error::edit(format!(
                "ramp percentage {} at {at} is out of range: expected 0 to 100",
                decimal::format_basis_points(*bp)
            )));
        }
        if let Some((prev_ms, prev)) = previous {
            if ms <= prev_ms {
                return Err(Error::edit(format!(
                    "ramp times must strictly increase: {at} is not after {prev}"
                )));
            }
        }
        previous = Some((ms, at));
    }
    Ok(())
}

fn check_attribute(attribute: &str) -> Result<(), Error> {
    if attribute.is_empty() {
        return Err(Error::edit("attribute names must not be empty"));
    }
    Ok(())
}

/// Same rule as validation (`docs/flag-file.md`, "Keys"), checked up front
/// for a clearer message than a diagnostic in the edited text.
fn valid_flag_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// Replace `range` of the text by `with`.
#[derive(Debug)]
struct Splice {
    range: Range<usize>,
    with: String,
}

impl Splice {
    fn insert(at: usize, with: String) -> Self {
        Self {
            range: at..at,
            with,
        }
    }

    fn remove(range: Range<usize>) -> Self {
        Self {
            range,
            with: String::new(),
        }
    }
}

/// A value to write, laid out by [`Style::render`].
enum Value {
    /// Literal JSON text (a number, `true`, an escaped string).
    Raw(String),
    /// Members, and whether to put one per line.
    Object(Vec<(String, Value)>, bool),
    /// Items, and whether to put one per line.
    Array(Vec<Value>, bool),
}

impl Value {
    fn string(s: &str) -> Value {
        Value::Raw(quoted(s))
    }
}

/// How the file is written, learnt from its text so that new content looks
/// like the old.
#[derive(Debug)]
struct Style {
    /// Between a key and its value: `": "`, `":"`, ...
    colon: String,
    /// Between items of a one-line list or object: `", "` or `","`.
    comma: String,
    /// A space inside the braces of a one-line object: `{ "a": 1 }`.
    object_pad: bool,
    /// A space inside the brackets of a one-line list: `[ "1" ]`.
    array_pad: bool,
    newline: &'static str,
    /// One level of indentation.
    unit: String,
}

impl Style {
    fn detect(text: &str, root: &Node<'_>) -> Style {
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
    fn member(&self, key: &str, value: &Value, indent: &str) -> String {
        let mut out = quoted(key);
        out.push_str(&self.colon);
        self.render(value, indent, &mut out);
        out
    }

    fn render(&self, value: &Value, indent: &str, out: &mut String) {
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

/// The parsed text of a [`Document`], with what edits need to plan.
struct Tree<'d> {
    text: &'d str,
    root: Node<'d>,
    style: Style,
    snapshot: &'d Snapshot,
}

impl<'d> Tree<'d> {
    fn flags(&self) -> &Node<'d> {
        // A valid file has a `flags` object.
        members(&self.root)
            .iter()
            .find(|m| m.key == "flags")
            .map_or(&self.root, |m| &m.value)
    }

    fn flag(&self, key: &str) -> Result<&Node<'d>, Error> {
        members(self.flags())
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
            .ok_or_else(|| unknown_flag(self.snapshot, key))
    }

    fn set_percentage(&self, key: &str, bp: u32) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        let current = self.snapshot.flag(key).map(|f| &f.rollout);
        if matches!(current, Some(Rollout::Percentage(p)) if *p == bp)
            || (bp == 0 && matches!(current, Some(Rollout::Unset)))
        {
            return Ok(Vec::new());
        }
        let value = Value::Raw(decimal::format_basis_points(bp));
        Ok(vec![self.put_rollout(flag, "percentage", "ramp", &value)])
    }

    fn set_ramp(&self, key: &str, points: &[(String, u32)]) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        if let Some(Rollout::Ramp(current)) = self.snapshot.flag(key).map(|f| &f.rollout) {
            let same = current.len() == points.len()
                && current
                    .iter()
                    .zip(points)
                    .all(|(c, (at, bp))| Some(c.at) == parse_millis(at) && c.bp == *bp);
            if same {
                return Ok(Vec::new());
            }
        }
        let multiline = match member(flag, "ramp") {
            Some((_, m)) => is_multiline(self.text, &m.value),
            None => is_multiline(self.text, flag) && points.len() >= 2,
        };
        let items = points
            .iter()
            .map(|(at, bp)| {
                Value::Object(
                    vec![
                        ("at".to_owned(), Value::string(at)),
                        (
                            "percentage".to_owned(),
                            Value::Raw(decimal::format_basis_points(*bp)),
                        ),
                    ],
                    false,
                )
            })
            .collect();
        let value = Value::Array(items, multiline);
        Ok(vec![self.put_rollout(flag, "ramp", "percentage", &value)])
    }

    /// Writes `name: value` in `flag`: replaces the value of `name`, or the
    /// whole member `other` (the two are exclusive), or inserts a member.
    fn put_rollout(&self, flag: &Node<'_>, name: &str, other: &str, value: &Value) -> Splice {
        let indent = self.member_indent(flag);
        if let Some((_, m)) = member(flag, name) {
            let mut with = String::new();
            self.style.render(value, &indent, &mut with);
            return Splice {
                range: m.value.at..m.value.end,
                with,
            };
        }
        if let Some((_, m)) = member(flag, other) {
            let mut with = quoted(name);
            with.push_str(&self.text[key_end(self.text, m.key_at)..m.value.at]);
            self.style.render(value, &indent, &mut with);
            return Splice {
                range: m.key_at..m.value.end,
                with,
            };
        }
        let multiline_parent = is_multiline(self.text, self.flags());
        self.insert_member(flag, multiline_parent, name, value, FLAG_ORDER)
    }

    /// The object whose `pilots` an edit changes: the flag `key`, or the
    /// root for the top-level `pilots`; with what [`Tree::insert_member`]
    /// needs to add a `pilots` member to it.
    fn pilots_owner(
        &self,
        key: Option<&str>,
    ) -> Result<(&Node<'d>, bool, &'static [&'static str]), Error> {
        match key {
            Some(key) => Ok((
                self.flag(key)?,
                is_multiline(self.text, self.flags()),
                FLAG_ORDER,
            )),
            None => Ok((&self.root, true, TOP_ORDER)),
        }
    }

    fn add_pilots<S: AsRef<str>>(
        &self,
        key: Option<&str>,
        attribute: &str,
        ids: &[S],
    ) -> Result<Vec<Splice>, Error> {
        let (flag, flag_in_multiline, order) = self.pilots_owner(key)?;
        let mut wanted: Vec<&str> = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.as_ref();
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        let Some((_, pilots)) = member(flag, "pilots") else {
            if wanted.is_empty() {
                return Ok(Vec::new());
            }
            let value = Value::Object(vec![(attribute.to_owned(), id_list(&wanted))], false);
            return Ok(vec![self.insert_member(
                flag,
                flag_in_multiline,
                "pilots",
                &value,
                order,
            )]);
        };
        let pilots = &pilots.value;
        match member(pilots, attribute) {
            Some((_, list)) => {
                let present: HashSet<&str> = string_items(&list.value).into_iter().collect();
                let new: Vec<String> = wanted
                    .iter()
                    .filter(|id| !present.contains(*id))
                    .map(|id| quoted(id))
                    .collect();
                if new.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![self.append_items(&list.value, &new)])
            }
            None => {
                if wanted.is_empty() {
                    return Ok(Vec::new());
                }
                let list = id_list(&wanted);
                let multiline_parent = is_multiline(self.text, flag);
                Ok(vec![self.insert_member_at(
                    pilots,
                    multiline_parent,
                    members(pilots).len(),
                    attribute,
                    &list,
                )])
            }
        }
    }

    fn remove_pilots<S: AsRef<str>>(
        &self,
        key: Option<&str>,
        attribute: &str,
        ids: &[S],
    ) -> Result<Vec<Splice>, Error> {
        let (flag, _, _) = self.pilots_owner(key)?;
        let Some((pilots_index, pilots)) = member(flag, "pilots") else {
            return Ok(Vec::new());
        };
        let Some((list_index, list)) = member(&pilots.value, attribute) else {
            return Ok(Vec::new());
        };
        let unwanted: HashSet<&str> = ids.iter().map(AsRef::as_ref).collect();
        let remove: Vec<bool> = string_items(&list.value)
            .iter()
            .map(|id| unwanted.contains(id))
            .collect();
        if !remove.contains(&true) {
            return Ok(Vec::new());
        }
        if remove.iter().all(|r| *r) {
            // The list goes; so does `pilots` when it held only this list.
            if members(&pilots.value).len() == 1 {
                return Ok(vec![self.remove_member(flag, pilots_index)]);
            }
            return Ok(vec![self.remove_member(&pilots.value, list_index)]);
        }
        Ok(self.remove_items(&list.value, &remove))
    }

    fn set_killed(&self, key: &str, killed: bool) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        let multiline_parent = is_multiline(self.text, self.flags());
        Ok(self.set_bool(flag, multiline_parent, "killed", killed, FLAG_ORDER))
    }

    fn set_kill_all(&self, kill_all: bool) -> Vec<Splice> {
        self.set_bool(&self.root, true, "kill_all", kill_all, TOP_ORDER)
    }

    fn set_bool(
        &self,
        object: &Node<'_>,
        multiline_parent: bool,
        name: &str,
        value: bool,
        order: &[&str],
    ) -> Vec<Splice> {
        match member(object, name) {
            Some((_, m)) if matches!(m.value.kind, Kind::Bool(b) if b == value) => Vec::new(),
            Some((_, m)) => vec![Splice {
                range: m.value.at..m.value.end,
                with: value.to_string(),
            }],
            None if !value => Vec::new(),
            None => vec![self.insert_member(
                object,
                multiline_parent,
                name,
                &Value::Raw("true".to_owned()),
                order,
            )],
        }
    }

    fn create_flag(
        &self,
        key: &str,
        description: Option<&str>,
        owner: Option<&str>,
    ) -> Vec<Splice> {
        let flags = self.flags();
        let siblings = members(flags);
        // Whether `flags` has (or, when empty, will have) one flag per line.
        let flags_multiline = is_multiline(self.text, flags)
            || (siblings.is_empty() && is_multiline(self.text, &self.root));
        // Like the other flags: one member per line if any of them is.
        let multiline = siblings
            .iter()
            .filter(|m| !members(&m.value).is_empty())
            .map(|m| is_multiline(self.text, &m.value))
            .reduce(|a, b| a || b)
            .unwrap_or(flags_multiline);
        let mut fields = Vec::new();
        if let Some(d) = description {
            fields.push(("description".to_owned(), Value::string(d)));
        }
        if let Some(o) = owner {
            fields.push(("owner".to_owned(), Value::string(o)));
        }
        fields.push(("percentage".to_owned(), Value::Raw("0".to_owned())));
        let value = Value::Object(fields, multiline);
        let sorted = siblings.windows(2).all(|w| w[0].key <= w[1].key);
        let index = if sorted {
            siblings.partition_point(|m| *m.key < *key)
        } else {
            siblings.len()
        };
        let multiline_parent = is_multiline(self.text, &self.root);
        vec![self.insert_member_at(flags, multiline_parent, index, key, &value)]
    }

    fn delete_flag(&self, key: &str) -> Result<Vec<Splice>, Error> {
        let flags = self.flags();
        let index = members(flags)
            .iter()
            .position(|m| m.key == key)
            .ok_or_else(|| unknown_flag(self.snapshot, key))?;
        Ok(vec![self.remove_member(flags, index)])
    }

    /// The indentation of `object`'s members (for values laid out on
    /// several lines).
    fn member_indent(&self, object: &Node<'_>) -> String {
        match members(object).first() {
            Some(m) if is_multiline(self.text, object) => {
                line_indent(self.text, m.key_at).to_owned()
            }
            Some(_) => line_indent(self.text, object.at).to_owned(),
            None => format!("{}{}", line_indent(self.text, object.at), self.style.unit),
        }
    }

    /// Inserts `name: value` where `order` (documentation order) puts it:
    /// after the last member that comes before it.
    fn insert_member(
        &self,
        object: &Node<'_>,
        multiline_parent: bool,
        name: &str,
        value: &Value,
        order: &[&str],
    ) -> Splice {
        let rank = |k: &str| order.iter().position(|o| *o == k);
        let ms = members(object);
        let index = match rank(name) {
            Some(r) => ms
                .iter()
                .rposition(|m| rank(&m.key).is_some_and(|mr| mr < r))
                .map_or(0, |i| i + 1),
            None => ms.len(),
        };
        self.insert_member_at(object, multiline_parent, index, name, value)
    }

    /// Inserts `name: value` as member `index` of `object`, copying the
    /// separator of its neighbours. An empty object is laid out on several
    /// lines when `multiline_parent`, on one line otherwise.
    fn insert_member_at(
        &self,
        object: &Node<'_>,
        multiline_parent: bool,
        index: usize,
        name: &str,
        value: &Value,
    ) -> Splice {
        let text = self.text;
        let ms = members(object);
        let indent = self.member_indent(object);
        let new = self.style.member(name, value, &indent);
        if ms.is_empty() {
            let with = if multiline_parent {
                let base = line_indent(text, object.at);
                let nl = self.style.newline;
                format!("{{{nl}{indent}{new}{nl}{base}}}")
            } else if self.style.object_pad {
                format!("{{ {new} }}")
            } else {
                format!("{{{new}}}")
            };
            return Splice {
                range: object.at..object.end,
                with,
            };
        }
        let separator = if ms.len() >= 2 {
            // The separator next to the insertion point.
            let i = index.clamp(1, ms.len() - 1);
            text[ms[i - 1].value.end..ms[i].key_at].to_owned()
        } else if is_multiline(text, object) {
            format!(",{}{indent}", self.style.newline)
        } else {
            self.style.comma.clone()
        };
        if index >= ms.len() {
            Splice::insert(ms[ms.len() - 1].value.end, format!("{separator}{new}"))
        } else {
            Splice::insert(ms[index].key_at, format!("{new}{separator}"))
        }
    }

    /// Removes member `index` of `object` with one of its commas.
    fn remove_member(&self, object: &Node<'_>, index: usize) -> Splice {
        let ms = members(object);
        if ms.len() == 1 {
            return Splice::remove(object.at + 1..object.end - 1);
        }
        if index == 0 {
            Splice::remove(ms[0].key_at..ms[1].key_at)
        } else {
            Splice::remove(ms[index - 1].value.end..ms[index].value.end)
        }
    }

    /// Appends items (JSON text) to a list, separated like its items.
    fn append_items(&self, list: &Node<'_>, new: &[String]) -> Splice {
        let text = self.text;
        let Kind::Array(items) = &list.kind else {
            return Splice::insert(list.end, String::new());
        };
        let Some(last) = items.last() else {
            let pad = if self.style.array_pad { " " } else { "" };
            return Splice {
                range: list.at..list.end,
                with: format!("[{pad}{}{pad}]", new.join(&self.style.comma)),
            };
        };
        let separator = if items.len() >= 2 {
            text[items[items.len() - 2].end..last.at].to_owned()
        } else if is_multiline(text, list) {
            format!(",{}{}", self.style.newline, line_indent(text, last.at))
        } else {
            self.style.comma.clone()
        };
        let mut with = String::new();
        for item in new {
            with.push_str(&separator);
            with.push_str(item);
        }
        Splice::insert(last.end, with)
    }

    /// Removes the items marked in `remove` (not all of them), each run of
    /// removed items with one comma.
    fn remove_items(&self, list: &Node<'_>, remove: &[bool]) -> Vec<Splice> {
        let Kind::Array(items) = &list.kind else {
            return Vec::new();
        };
        let mut splices = Vec::new();
        let mut i = 0;
        while i < items.len() {
            if !remove[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < items.len() && remove[i] {
                i += 1;
            }
            // Items start..i go.
            if start == 0 {
                // Something is kept, so item i exists.
                splices.push(Splice::remove(items[0].at..items[i].at));
            } else {
                splices.push(Splice::remove(items[start - 1].end..items[i - 1].end));
            }
        }
        splices
    }
}

fn unknown_flag(snapshot: &Snapshot, key: &str) -> Error {
    let nearest = snapshot
        .keys()
        .map(|k| {
            (
                strsim::levenshtein(&key.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= (key.len().max(k.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d);
    match nearest {
        Some((_, k)) => Error::edit(format!(
            "no flag named {}; did you mean {}?",
            quoted(key),
            quoted(k)
        )),
        None => Error::edit(format!("no flag named {}", quoted(key))),
    }
}

fn id_list(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| Value::string(id)).collect(), false)
}

fn members<'n, 'a>(node: &'n Node<'a>) -> &'n [Member<'a>] {
    match &node.kind {
        Kind::Object(members) => members,
        _ => &[],
    }
}

fn member<'n, 'a>(node: &'n Node<'a>, key: &str) -> Option<(usize, &'n Member<'a>)> {
    members(node).iter().enumerate().find(|(_, m)| m.key == key)
}

fn string_items<'n>(list: &'n Node<'_>) -> Vec<&'n str> {
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
fn is_multiline(text: &str, node: &Node<'_>) -> bool {
    let first = match &node.kind {
        Kind::Object(members) => members.first().map(|m| m.key_at),
        Kind::Array(items) => items.first().map(|i| i.at),
        _ => return false,
    };
    text[node.at..first.unwrap_or(node.end)].contains('\n')
}

/// Byte offset just past the closing quote of the string starting at `at`.
fn key_end(text: &str, at: usize) -> usize {
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
fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let rest = &text[start..];
    let len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn finds_the_end_of_escaped_keys() {
        let text = r#"{"a\"b": 1}"#;
        assert_eq!(key_end(text, 1), 7);
        assert_eq!(line_indent("x\n  \t y", 6), "  \t ");
    }
}
