//! Planning an edit: the parsed text of a document, and for each edit the
//! splices (a range of the text and what replaces it) that make it, laid
//! out in the file's own style.

use std::collections::HashSet;
use std::ops::Range;

use crate::decimal;
use crate::error::Error;
use crate::json::{self, Kind, Node};
use crate::json_path::quote;
use crate::model::{Rollout, Snapshot};
use crate::stage::Stage;
use crate::timestamp::parse_millis;
use crate::validate::{
    FLAG_FIELDS as FLAG_ORDER, MIGRATION_FIELDS as MIGRATION_ORDER, TOP_FIELDS as TOP_ORDER,
};

use super::style::{Style, Value};
use super::syntax::{is_multiline, key_end, line_indent, member, members, string_items};

/// Replace `range` of the text by `with`.
#[derive(Debug)]
pub(super) struct Splice {
    pub(super) range: Range<usize>,
    pub(super) with: String,
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

/// The parsed text of a [`Document`], with what edits need to plan.
pub(super) struct Tree<'d> {
    text: &'d str,
    root: Node<'d>,
    style: Style,
    snapshot: &'d Snapshot,
}

impl<'d> Tree<'d> {
    /// Parses the text of a valid document.
    pub(super) fn parse(text: &'d str, snapshot: &'d Snapshot) -> Result<Tree<'d>, Error> {
        // The text is valid, so it parses; an error here is a bug.
        let root =
            json::parse(text).map_err(|e| Error::edit(format!("internal error: {}", e.message)))?;
        let style = Style::detect(text, &root);
        Ok(Tree {
            text,
            root,
            style,
            snapshot,
        })
    }

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

    pub(super) fn set_percentage(&self, key: &str, bp: u32) -> Result<Vec<Splice>, Error> {
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

    pub(super) fn set_ramp(
        &self,
        key: &str,
        points: &[(String, u32)],
    ) -> Result<Vec<Splice>, Error> {
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
            let mut with = quote(name);
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

    pub(super) fn add_pilots<S: AsRef<str>>(
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
                    .map(|id| quote(id))
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

    pub(super) fn remove_pilots<S: AsRef<str>>(
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

    pub(super) fn set_killed(&self, key: &str, killed: bool) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        let multiline_parent = is_multiline(self.text, self.flags());
        Ok(self.set_bool(flag, multiline_parent, "killed", killed, FLAG_ORDER))
    }

    /// Sets (`Some`) or removes (`None`) a flag's `paused_at`.
    pub(super) fn set_paused_at(&self, key: &str, at: Option<&str>) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        let current = member(flag, "paused_at");
        Ok(match (current, at) {
            (None, None) => Vec::new(),
            (Some((index, _)), None) => vec![self.remove_member(flag, index)],
            (Some((_, m)), Some(at)) => {
                if matches!(&m.value.kind, Kind::String(s) if s == at) {
                    return Ok(Vec::new());
                }
                let mut with = String::new();
                self.style.render(&Value::string(at), "", &mut with);
                vec![Splice {
                    range: m.value.at..m.value.end,
                    with,
                }]
            }
            (None, Some(at)) => {
                let multiline_parent = is_multiline(self.text, self.flags());
                vec![self.insert_member(
                    flag,
                    multiline_parent,
                    "paused_at",
                    &Value::string(at),
                    FLAG_ORDER,
                )]
            }
        })
    }

    /// Writes members of a migration flag's `migration` object, each
    /// `(name, stage)` in turn: replaces the member's value, or adds the
    /// member where documentation order puts it. A member already written
    /// with that stage is left as it is.
    pub(super) fn set_migration(
        &self,
        key: &str,
        fields: &[(&str, Stage)],
    ) -> Result<Vec<Splice>, Error> {
        let flag = self.flag(key)?;
        let Some((_, migration)) = member(flag, "migration") else {
            return Err(not_a_migration(key));
        };
        let object = &migration.value;
        let multiline_parent = is_multiline(self.text, flag);
        let mut splices = Vec::new();
        for (name, stage) in fields {
            let value = Value::string(stage.as_str());
            match member(object, name) {
                Some((_, m)) if matches!(&m.value.kind, Kind::String(s) if s == stage.as_str()) => {
                }
                Some((_, m)) => {
                    let mut with = String::new();
                    self.style.render(&value, "", &mut with);
                    splices.push(Splice {
                        range: m.value.at..m.value.end,
                        with,
                    });
                }
                None => splices.push(self.insert_member(
                    object,
                    multiline_parent,
                    name,
                    &value,
                    MIGRATION_ORDER,
                )),
            }
        }
        Ok(splices)
    }

    pub(super) fn set_kill_all(&self, kill_all: bool) -> Vec<Splice> {
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

    pub(super) fn create_flag(
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

    pub(super) fn delete_flag(&self, key: &str) -> Result<Vec<Splice>, Error> {
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
            quote(key),
            quote(k)
        )),
        None => Error::edit(format!("no flag named {}", quote(key))),
    }
}

/// The error of a stage edit on a flag without `migration`.
pub(super) fn not_a_migration(key: &str) -> Error {
    Error::edit(format!(
        "flag {} is not a migration flag: it has no `migration` object (see the Migration \
         section of docs/flag-file.md)",
        quote(key)
    ))
}

fn id_list(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| Value::string(id)).collect(), false)
}
