//! A flag's `migration` object: the stage set, the baseline `stage`, the
//! `next` stage the rollout moves users to, the `pilot_stage` and the
//! `safe` stage of the kill switches (`docs/flag-file.md`, "Migration").

use crate::json::{Kind, Node};
use crate::json_path::{Path, quote};
use crate::model::Migration;
use crate::stage::{Side, Stage};

use super::{Fields, Validator};

/// Fields of a `migration` object, in documentation order.
pub(crate) const MIGRATION_FIELDS: &[&str] = &["stages", "stage", "next", "pilot_stage", "safe"];

impl Validator<'_> {
    /// `{stages, stage, next?, pilot_stage?, safe?}`.
    pub(super) fn migration(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<Migration> {
        let fields = self.object(
            node,
            path,
            Some(MIGRATION_FIELDS),
            "a migration object {stages, stage, next, pilot_stage, safe}",
        )?;
        let stages = self
            .require(&fields, "stages", path)
            .and_then(|n| self.stage_count(n, &path.key("stages")));
        let stage = self
            .require(&fields, "stage", path)
            .and_then(|n| self.stage_name(n, &path.key("stage"), stages));
        let next = self.later_stage(&fields, "next", path, stages, stage);
        let pilot_stage = self.later_stage(&fields, "pilot_stage", path, stages, stage);
        let safe = match fields.get("safe") {
            None => Some(None),
            Some(n) => {
                let p = path.key("safe");
                let safe = self.stage_name(n, &p, stages)?;
                if safe.authoritative() == Side::Old {
                    Some(Some(safe))
                } else {
                    let old: Vec<&str> = stages
                        .unwrap_or(&Stage::ALL)
                        .iter()
                        .filter(|s| s.authoritative() == Side::Old)
                        .map(|s| s.as_str())
                        .collect();
                    self.error(
                        n.at,
                        &p,
                        format!(
                            "safe stage {} is one where the new system answers: the kill \
                             switches must return everyone to the old system (expected one \
                             of: {})",
                            quote(safe.as_str()),
                            old.join(", ")
                        ),
                    );
                    None
                }
            }
        };
        let (stages, stage, next, pilot_stage, safe) =
            (stages?, stage?, next?, pilot_stage?, safe?);
        Some(Migration {
            stages,
            stage,
            next,
            pilot_stage,
            safe,
        })
    }

    /// `stages`: the number 2, 4 or 6, as its set of stages.
    fn stage_count(&mut self, node: &Node<'_>, path: &Path<'_>) -> Option<&'static [Stage]> {
        const EXPECTED: &str = "the number of stages, 2, 4 or 6";
        let Kind::Number(literal) = node.kind else {
            self.wrong_type(node, path, EXPECTED);
            return None;
        };
        let set = literal.parse::<u32>().ok().and_then(Stage::set);
        if set.is_none() {
            self.error(
                node.at,
                path,
                format!("expected {EXPECTED}, found {literal}"),
            );
        }
        set
    }

    /// A stage name that belongs to `set` (to any of the six stages when
    /// the set is not known).
    fn stage_name(
        &mut self,
        node: &Node<'_>,
        path: &Path<'_>,
        set: Option<&'static [Stage]>,
    ) -> Option<Stage> {
        let Kind::String(name) = &node.kind else {
            self.wrong_type(node, path, "a stage name");
            return None;
        };
        let candidates = set.unwrap_or(&Stage::ALL);
        let list = || {
            candidates
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match Stage::from_name(name) {
            Some(stage) if candidates.contains(&stage) => Some(stage),
            Some(stage) => {
                self.error(
                    node.at,
                    path,
                    format!(
                        "stage {} is not one of the {} stages of this migration (expected one \
                         of: {})",
                        quote(stage.as_str()),
                        candidates.len(),
                        list()
                    ),
                );
                None
            }
            None => {
                let closest = candidates
                    .iter()
                    .map(|s| (strsim::levenshtein(&name.to_lowercase(), s.as_str()), *s))
                    .filter(|(d, _)| *d <= 2)
                    .min_by_key(|(d, _)| *d);
                let message = match closest {
                    Some((_, s)) => format!(
                        "unknown stage {}; did you mean \"{s}\"? (expected one of: {})",
                        quote(name),
                        list()
                    ),
                    None => format!(
                        "unknown stage {} (expected one of: {})",
                        quote(name),
                        list()
                    ),
                };
                self.error(node.at, path, message);
                None
            }
        }
    }

    /// `next` or `pilot_stage`: optional, in the set, and not before
    /// `stage` (checked when `stage` could be read).
    fn later_stage(
        &mut self,
        fields: &Fields<'_, '_>,
        name: &str,
        path: &Path<'_>,
        set: Option<&'static [Stage]>,
        stage: Option<Stage>,
    ) -> Option<Option<Stage>> {
        let Some(node) = fields.get(name) else {
            return Some(None);
        };
        let p = path.key(name);
        let later = self.stage_name(node, &p, set)?;
        match stage {
            Some(stage) if later < stage => {
                let allowed: Vec<&str> = set
                    .unwrap_or(&Stage::ALL)
                    .iter()
                    .filter(|s| **s >= stage)
                    .map(|s| s.as_str())
                    .collect();
                self.error(
                    node.at,
                    &p,
                    format!(
                        "{name} {} comes before stage {}: a migration flag only moves users \
                         forward from its stage (expected one of: {})",
                        quote(later.as_str()),
                        quote(stage.as_str()),
                        allowed.join(", ")
                    ),
                );
                None
            }
            _ => Some(Some(later)),
        }
    }
}
