//! Editing a flag file: text-preserving edits ([`Document`]) and the
//! transaction that writes them ([`apply`]), the one edit path of the
//! `flags` commands, the C ABI (`flags_file_edit`) and every binding
//! built on it (PHP's `FlagFile`, the Laravel artisan commands, Dart).
//!
//! # Edits of the text
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
//! [`Document`] does no I/O.
//!
//! # The transaction
//! [`apply`] makes a list of [`Op`]s on a file on disk, as every `flags`
//! edit command does: the directory lock (`lock`), the cleanup of an
//! interrupted edit (`journal`), the read, the edits, the validation, the
//! atomic write ([`replace_atomically`]) refusing a file changed meanwhile,
//! and the audit record (`audit`), with what to print ([`Outcome`]: the
//! summary and the lines of [`changes`], `diff`). It prints nothing: what
//! it has to say on the way comes to [`Options::notify`] as [`Notice`]s,
//! and failures are [`EditError`]s whose kind says whether to run it again
//! ([`EditErrorKind::Conflict`]). [`status_json`] and [`status_table`]
//! (`status`) are what `flags status` prints.
//!
//! # Why a hand-written editor
//! The `cst` feature of `jsonc-parser` (0.34) edits JSON keeping comments
//! and whitespace, and was tried on the layouts `tests/edit.rs` checks.
//! It does not keep what that test proves: any object it inserts is laid
//! out on several lines (a `killed` or `pilots` added to a one-line flag
//! turns the whole flag into several lines, and one-line ramp points
//! become five lines each); inserted members take `": "` and `", "`
//! whatever the file uses (`" : "`, or none in a compact file); and it
//! accepts JSONC (comments, trailing commas), which flag files are not.
//! Correcting that after it would take more code than the planning here,
//! which reuses the crate's own strict parser and writes only the spans
//! that change. So edits keep this module's small syntax layer
//! (`syntax`), the style learnt from the file (`style`) and the planned
//! splices (`plan`).

use crate::decimal::{self, BpError};
use crate::error::Error;
use crate::json_path::quote;
use crate::model::Snapshot;
use crate::stage::Stage;
use crate::timestamp::parse_millis;
use crate::validate::{MAX_KEY_LEN, valid_flag_key};

mod audit;
mod diff;
mod error;
mod journal;
mod lock;
mod notice;
mod plan;
mod status;
mod style;
mod syntax;
mod transaction;

pub use crate::file::{ReplaceError, Replaced, is_temporary_file_of, replace_atomically};
pub use audit::{Recovery, default_actor, default_audit_log, shell_command};
pub use diff::{changes, summary};
pub use error::{EditError, EditErrorKind};
pub use notice::Notice;
pub use status::{status_json, status_table};
pub use transaction::{DEFAULT_LOCK_WAIT, MAX_OPS, Op, Options, Outcome, apply};

use plan::{Splice, Tree};

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
        let tree = self.tree()?;
        let mut plan = tree.set_percentage(flag, basis_points)?;
        plan.extend(tree.set_paused_at(flag, None)?);
        self.commit(plan)
    }

    /// Sets a flag's rollout to a ramp: `(time, basis points)` points, each
    /// time an RFC 3339 time with an offset, strictly increasing. Replaces
    /// the `ramp` value, or the `percentage` member, or adds a `ramp`.
    pub fn set_ramp(&mut self, flag: &str, points: &[(String, u32)]) -> Result<(), Error> {
        check_ramp(points)?;
        let tree = self.tree()?;
        let mut plan = tree.set_ramp(flag, points)?;
        plan.extend(tree.set_paused_at(flag, None)?);
        self.commit(plan)
    }

    /// Pauses a flag's ramp at `at` (an RFC 3339 time with an offset):
    /// sets its `paused_at`, so that it stays at the percentage it had
    /// then. The flag must have a ramp. A flag already paused keeps its
    /// earlier `paused_at` (a later pause would let it grow).
    pub fn pause(&mut self, flag: &str, at: &str) -> Result<(), Error> {
        let Some(ms) = parse_millis(at) else {
            return Err(Error::edit(format!(
                "invalid pause time {}: expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
                quote(at)
            )));
        };
        let tree = self.tree()?;
        let plan = tree.set_paused_at(flag, Some(at))?;
        let Some(current) = self.snapshot.flag(flag) else {
            return self.commit(plan);
        };
        if !current.is_ramp() {
            return Err(Error::edit(format!(
                "flag {} has no ramp to pause: pausing freezes a ramp (kill it instead)",
                quote(flag)
            )));
        }
        if current
            .paused_at()
            .is_some_and(|(_, earlier)| earlier.unix_millis() <= ms)
        {
            return Ok(());
        }
        self.commit(plan)
    }

    /// Lifts a pause: removes the flag's `paused_at`, so that its ramp
    /// follows its schedule again (from where the schedule is now, not
    /// from where it was paused). Nothing changes when it is not paused.
    pub fn resume(&mut self, flag: &str) -> Result<(), Error> {
        let plan = self.tree()?.set_paused_at(flag, None)?;
        self.commit(plan)
    }

    /// Moves a migration flag (one with a `migration` object): writes
    /// each stage `change` names into its `migration`, as given (a stage
    /// that already means the same but is not written, such as a `next`
    /// equal to `stage`, is written). The file must stay valid: `next` and
    /// `pilot_stage` not before `stage`, `safe` a stage where the old
    /// system answers, every stage one of the migration's.
    ///
    /// ```
    /// use flags_core::Stage;
    /// use flags_core::edit::{Document, StageChange};
    ///
    /// let mut doc = Document::parse(
    ///     r#"{"version": 1, "flags": {"orders": {"migration": {"stages": 4, "stage": "off"}}}}"#,
    /// )?;
    /// doc.set_stage("orders", &StageChange { next: Some(Stage::Shadow), ..StageChange::default() })?;
    /// assert_eq!(
    ///     doc.text(),
    ///     r#"{"version": 1, "flags": {"orders": {"migration": {"stages": 4, "stage": "off", "next": "shadow"}}}}"#
    /// );
    /// # Ok::<(), flags_core::Error>(())
    /// ```
    pub fn set_stage(&mut self, flag: &str, change: &StageChange) -> Result<(), Error> {
        let fields: Vec<(&str, Stage)> = [
            ("stage", change.stage),
            ("next", change.next),
            ("pilot_stage", change.pilot_stage),
            ("safe", change.safe),
        ]
        .into_iter()
        .filter_map(|(name, stage)| stage.map(|s| (name, s)))
        .collect();
        if fields.is_empty() {
            return Err(Error::edit(
                "nothing to change: give a stage, next, pilot_stage or safe",
            ));
        }
        let plan = self.tree()?.set_migration(flag, &fields)?;
        self.commit(plan)
    }

    /// Rolls a migration flag back to its baseline: writes its `next` and
    /// `pilot_stage` as the value of its `stage`, so that nobody (no
    /// rollout, no pilot) is past it; the baseline itself does not move.
    /// What a guard whose action is `rollback` does. A flag already held
    /// there (both written as `stage`) is left as it is.
    pub fn rollback(&mut self, flag: &str) -> Result<(), Error> {
        let tree = self.tree()?;
        let stage = self
            .snapshot
            .flag(flag)
            .map(|f| f.migration().map(|m| m.stage()));
        let stage = match stage {
            // `set_migration` names the flag that does not exist.
            None => Stage::Off,
            Some(None) => return Err(plan::not_a_migration(flag)),
            Some(Some(stage)) => stage,
        };
        let plan = tree.set_migration(flag, &[("next", stage), ("pilot_stage", stage)])?;
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
                quote(key)
            )));
        }
        if self.snapshot.flag(key).is_some() {
            return Err(Error::edit(format!("flag {} already exists", quote(key))));
        }
        let plan = self.tree()?.create_flag(key, description, owner);
        self.commit(plan)
    }

    /// Removes a flag.
    pub fn delete_flag(&mut self, key: &str) -> Result<(), Error> {
        let plan = self.tree()?.delete_flag(key)?;
        self.commit(plan)
    }

    /// Replaces the whole text with `text`, which must be a valid flag
    /// file (the error lists every problem otherwise, naming this
    /// document's source, and the document is left as it was).
    pub fn replace(&mut self, text: &str) -> Result<(), Error> {
        if text == self.text {
            return Ok(());
        }
        self.snapshot = Snapshot::from_slice_named(text.as_bytes(), &self.source)?;
        text.clone_into(&mut self.text);
        Ok(())
    }

    fn tree(&self) -> Result<Tree<'_>, Error> {
        Tree::parse(&self.text, &self.snapshot)
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
            quote(text)
        )));
    }
    // `digits` guarantees a plain decimal, which is also a JSON number
    // (leading zeros aside, which `basis_points` does not mind).
    match decimal::basis_points(number) {
        Ok(bp) => Ok(bp),
        Err(BpError::TooPrecise) => Err(Error::edit(format!(
            "invalid percentage {}: at most two decimals (0.01 is the smallest step)",
            quote(text)
        ))),
        Err(BpError::OutOfRange) => Err(Error::edit(format!(
            "invalid percentage {}: expected a number from 0 to 100",
            quote(text)
        ))),
    }
}

/// The stages a stage edit writes into a migration flag's `migration`
/// ([`Document::set_stage`], [`Op::Stage`]): each one given is written,
/// the others are left as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageChange {
    /// The baseline, where everyone is unless moved.
    pub stage: Option<Stage>,
    /// Where the flag's rollout moves users.
    pub next: Option<Stage>,
    /// Where pilots are.
    pub pilot_stage: Option<Stage>,
    /// Where the kill switches send everyone.
    pub safe: Option<Stage>,
}

/// A stage name as an operator types it (`shadow`, `Shadow`), with a
/// "did you mean" for a near miss.
///
/// ```
/// use flags_core::Stage;
/// use flags_core::edit::parse_stage;
/// assert_eq!(parse_stage("Live")?, Stage::Live);
/// assert_eq!(
///     parse_stage("dual-write").unwrap_err().to_string(),
///     "unknown stage \"dual-write\"; did you mean \"dualwrite\"? (expected one of: off, dualwrite, shadow, live, rampdown, complete)"
/// );
/// # Ok::<(), flags_core::Error>(())
/// ```
pub fn parse_stage(text: &str) -> Result<Stage, Error> {
    let name = text.trim().to_lowercase();
    if let Some(stage) = Stage::from_name(&name) {
        return Ok(stage);
    }
    let list: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
    let closest = Stage::ALL
        .iter()
        .map(|s| (strsim::levenshtein(&name, s.as_str()), s.as_str()))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    Err(Error::edit(match closest {
        Some((_, s)) => format!(
            "unknown stage {}; did you mean \"{s}\"? (expected one of: {})",
            quote(text),
            list.join(", ")
        ),
        None => format!(
            "unknown stage {} (expected one of: {})",
            quote(text),
            list.join(", ")
        ),
    }))
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
                quote(at)
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
