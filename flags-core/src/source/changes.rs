//! Change detection: which flags a new snapshot added, removed or changed,
//! compared by their normalized JSON, and whether the file-wide settings
//! changed.

use crate::model::Snapshot;
use crate::serialize;

/// Flag keys that differ between two snapshots, each list sorted.
///
/// ```
/// use flags_core::Snapshot;
/// use flags_core::source::Changes;
///
/// let old = Snapshot::from_slice(br#"{"version": 1, "flags": {"a": {}, "b": {"percentage": 5}}}"#)?;
/// let new = Snapshot::from_slice(br#"{"version": 1, "flags": {"b": {"percentage": 6}, "c": {}}}"#)?;
/// let changes = Changes::between(&old, &new);
/// assert_eq!(changes.added, ["c"]);
/// assert_eq!(changes.removed, ["a"]);
/// assert_eq!(changes.changed, ["b"]);
/// assert!(!changes.globals_changed);
/// # Ok::<(), flags_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Flags only in the new snapshot.
    pub added: Vec<String>,
    /// Flags only in the old snapshot.
    pub removed: Vec<String>,
    /// Flags in both whose normalized JSON differs.
    pub changed: Vec<String>,
    /// The file-wide settings changed: `kill_all` or the global `pilots`,
    /// which affect every flag.
    pub globals_changed: bool,
}

impl Changes {
    /// What changed from `old` to `new`, comparing each flag's normalized
    /// JSON ([`crate::Flag::to_json`]). Keys are sorted.
    pub fn between(old: &Snapshot, new: &Snapshot) -> Changes {
        let mut changes = Changes {
            globals_changed: globals_json(old) != globals_json(new),
            ..Changes::default()
        };
        for flag in new.flags() {
            match old.flag(flag.key()) {
                None => changes.added.push(flag.key().to_owned()),
                Some(before) if before.to_json() != flag.to_json() => {
                    changes.changed.push(flag.key().to_owned());
                }
                Some(_) => {}
            }
        }
        changes.removed = old
            .keys()
            .filter(|key| new.flag(key).is_none())
            .map(str::to_owned)
            .collect();
        changes
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.globals_changed
    }
}

/// The file-wide part of the normalized JSON: `kill_all` and `pilots`.
fn globals_json(snapshot: &Snapshot) -> String {
    let mut out = String::from(if snapshot.kill_all { "true" } else { "false" });
    serialize::targets(&mut out, &snapshot.pilots);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> Snapshot {
        Snapshot::from_slice(text.as_bytes()).expect("valid test file")
    }

    #[test]
    fn changes_flag_by_flag() {
        let old = snap(
            r#"{"version": 1, "flags": {"same": {"percentage": 5}, "gone": {}, "edited": {"pilots": {"user_id": ["1"]}}}}"#,
        );
        let new = snap(
            r#"{"version": 1, "kill_all": true, "flags": {"same": {"percentage": 5.0}, "edited": {"pilots": {"user_id": ["1", "2"]}}, "new": {}, "a.new": {}}}"#,
        );
        let changes = Changes::between(&old, &new);
        assert_eq!(
            changes,
            Changes {
                added: vec!["a.new".into(), "new".into()],
                removed: vec!["gone".into()],
                changed: vec!["edited".into()],
                globals_changed: true,
            }
        );
        assert!(Changes::between(&new, &new).is_empty());
    }
}
