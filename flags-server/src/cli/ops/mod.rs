//! Operator commands: edit a flag file safely, show its state, compare two.
//!
//! Every edit command is a thin caller of [`flags_core::edit::apply`], the
//! one edit path the C ABI and its bindings (PHP, the Laravel artisan
//! commands, Dart) share: it reads the file, makes the change keeping the
//! file's layout, validates the result, and then either says what would
//! change (`--dry-run`) or replaces the file atomically, refusing when the
//! file changed since it was read, and appends a record to the audit log;
//! the record is journaled before the file is replaced, so that an edit
//! killed half-way is still recorded by the next one. This module parses
//! the command line into [`Op`]s and prints the [`flags_core::edit::Outcome`]
//! and the notices on the way. Servers watching the file pick the change
//! up by themselves. See `docs/operations.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ArgGroup;
use flags_core::edit::{self, Notice, Op, Options, StageChange, parse_percentage, parse_stage};
use flags_core::monitor::{self, MonitorError, Prometheus};
use flags_core::{Snapshot, Stage, Timestamp};

use crate::cli::output;

pub use flags_core::edit::{changes, summary};

/// The operator subcommands (flattened into `flags`).
#[derive(clap::Subcommand)]
pub enum Command {
    /// Set a flag's rollout: a fixed --percentage, or a --ramp over time.
    Set(SetArgs),
    /// Add or remove pilots of a flag, or with --global of every flag: ids
    /// that always get it (unless it is killed, denied or its requirements
    /// fail).
    Pilots(PilotsArgs),
    /// Kill a flag: off for everyone, pilots included.
    Kill(FlagArgs),
    /// Lift a flag's kill switch.
    Unkill(FlagArgs),
    /// Pause a flag's ramp now: it stays at its current percentage until
    /// `flags resume` (writes `paused_at`).
    Pause(FlagArgs),
    /// Lift a pause: the ramp follows its schedule again, from where the
    /// schedule is now (removes `paused_at`).
    Resume(FlagArgs),
    /// Move a migration flag: its baseline (--stage), where its rollout
    /// moves users (--next), where pilots are (--pilot-stage), where the
    /// kill switches send everyone (--safe); or --rollback: nobody past the
    /// baseline (next and pilot stage set to the stage).
    Stage(StageArgs),
    /// Set the global kill switch: every flag off for everyone.
    KillAll(FileArgs),
    /// Lift the global kill switch.
    UnkillAll(FileArgs),
    /// Add a new flag, off (percentage 0).
    Create(CreateArgs),
    /// Remove a flag.
    Delete(FlagArgs),
    /// Show every flag's state: a table, or one JSON document with --json.
    Status(StatusArgs),
    /// Say what changed between two flag files, flag by flag (exit 0 either
    /// way).
    Diff(DiffArgs),
    /// Watch every flag's guard in Prometheus and kill or pause the flag
    /// when its query has crossed its threshold for its duration (runs
    /// until SIGTERM or Ctrl-C).
    Guard(crate::cli::guard::Args),
}

/// Options every edit command takes.
#[derive(clap::Args)]
pub struct EditOptions {
    /// Print what would change and write nothing (no audit record either).
    #[arg(long)]
    dry_run: bool,
    /// Append the audit record to PATH instead of FILE.audit.jsonl beside
    /// the file.
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// Who makes the change, for the audit log; not empty [default:
    /// $SUDO_USER, else the login name of the user id, else uid:N].
    #[arg(long, value_name = "NAME", value_parser = parse_actor)]
    actor: Option<String>,
    /// Why the change is made, for the audit record's `reason`.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

/// `FILE FLAG` and the edit options.
#[derive(clap::Args)]
pub struct FlagArgs {
    /// The flag file.
    file: PathBuf,
    /// The flag's key.
    flag: String,
    #[command(flatten)]
    edit: EditOptions,
}

/// `FILE` and the edit options.
#[derive(clap::Args)]
pub struct FileArgs {
    /// The flag file.
    file: PathBuf,
    #[command(flatten)]
    edit: EditOptions,
}

/// Options of `flags set`.
#[derive(clap::Args)]
#[command(group(ArgGroup::new("rollout").required(true).args(["percentage", "ramp"])))]
pub struct SetArgs {
    /// The flag file.
    file: PathBuf,
    /// The flag's key.
    flag: String,
    /// The rollout percentage, 0 to 100 with at most two decimals (12.5).
    /// Replaces a ramp.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    percentage: Option<String>,
    /// A ramp: comma-separated PERCENT@TIME points, times in RFC 3339 with an
    /// offset and increasing, e.g. "10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z".
    /// Replaces a fixed percentage.
    #[arg(long, value_name = "POINTS")]
    ramp: Option<String>,
    #[command(flatten)]
    edit: EditOptions,
}

/// Options of `flags stage`.
#[derive(clap::Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)
    .args(["stage", "next", "pilot_stage", "safe", "rollback"])))]
// clap would list the group before FILE; say it in the order it is typed.
#[command(
    override_usage = "flags stage [OPTIONS] <FILE> <FLAG> <--stage <STAGE>|--next <STAGE>|--pilot-stage <STAGE>|--safe <STAGE>|--rollback>"
)]
pub struct StageArgs {
    /// The flag file.
    file: PathBuf,
    /// The migration flag's key.
    flag: String,
    /// The baseline: where everyone is unless the rollout or a pilot list
    /// moves them (off, dualwrite, shadow, live, rampdown, complete).
    #[arg(long, value_name = "STAGE")]
    stage: Option<String>,
    /// Where the flag's rollout (percentage or ramp) moves users; not
    /// before the stage.
    #[arg(long, value_name = "STAGE")]
    next: Option<String>,
    /// Where pilots are; not before the stage.
    #[arg(long, value_name = "STAGE")]
    pilot_stage: Option<String>,
    /// Where the kill switches send everyone: off, dualwrite or shadow.
    #[arg(long, value_name = "STAGE")]
    safe: Option<String>,
    /// Move everyone past the baseline back to it: next and pilot stage
    /// set to the stage (what a `rollback` guard does).
    #[arg(long, conflicts_with_all = ["stage", "next", "pilot_stage", "safe"])]
    rollback: bool,
    #[command(flatten)]
    edit: EditOptions,
}

/// Options of `flags pilots`.
#[derive(clap::Args)]
#[command(group(ArgGroup::new("target").required(true).args(["flag", "global"])))]
// clap would list the groups before FILE; say it in the order it is typed.
#[command(
    override_usage = "flags pilots [OPTIONS] <FILE> <FLAG|--global> <--add <ID>...|--remove <ID>...>"
)]
#[command(group(ArgGroup::new("change").required(true).args(["add", "remove"])))]
pub struct PilotsArgs {
    /// The flag file.
    file: PathBuf,
    /// The flag's key.
    flag: Option<String>,
    /// Edit the top-level pilots, who get every flag, instead of one flag's.
    #[arg(long)]
    global: bool,
    /// Ids to add (appended; ids already there are left alone).
    #[arg(long, value_name = "ID", num_args = 1..)]
    add: Vec<String>,
    /// Ids to remove (ids that are not pilots are ignored).
    #[arg(long, value_name = "ID", num_args = 1..)]
    remove: Vec<String>,
    /// The context attribute the ids are values of.
    #[arg(long, value_name = "NAME", default_value = "user_id")]
    attribute: String,
    #[command(flatten)]
    edit: EditOptions,
}

/// Options of `flags create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// The flag file.
    file: PathBuf,
    /// The new flag's key: 1 to 128 characters of A-Z a-z 0-9 _ - .
    flag: String,
    /// What the flag does.
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// The team that owns it.
    #[arg(long, value_name = "TEXT")]
    owner: Option<String>,
    #[command(flatten)]
    edit: EditOptions,
}

/// Options of `flags status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The flag file.
    file: PathBuf,
    /// Show the state at this RFC 3339 time instead of the system clock.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// Ask this Prometheus (e.g. http://127.0.0.1:9090) every guard's query:
    /// its value against its threshold, and one recommendation line.
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// Redraw every --interval until Ctrl-C (the time is the system
    /// clock's).
    #[arg(long, conflicts_with_all = ["json", "now"])]
    watch: bool,
    /// How often --watch redraws: a whole number of s, m or h.
    #[arg(long, value_name = "DURATION", default_value = "5s", requires = "watch",
          value_parser = crate::cli::guard::parse_interval)]
    interval: std::time::Duration,
}

/// Options of `flags diff`.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// The flag file before.
    old: PathBuf,
    /// The flag file after.
    new: PathBuf,
}

/// Runs one operator command. Errors are printed on stderr (one line, plus
/// validation diagnostics when there are some) with exit status 1.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Set(args) => set(args),
        Command::Pilots(args) => pilots(args),
        Command::Kill(a) => edit(&a.file, &a.edit, Op::Kill { flag: a.flag }),
        Command::Unkill(a) => edit(&a.file, &a.edit, Op::Unkill { flag: a.flag }),
        Command::Pause(a) => {
            let op = Op::Pause {
                flag: a.flag,
                at: flags_core::now().to_string(),
            };
            edit(&a.file, &a.edit, op)
        }
        Command::Resume(a) => edit(&a.file, &a.edit, Op::Resume { flag: a.flag }),
        Command::Stage(args) => stage(args),
        Command::KillAll(a) => edit(&a.file, &a.edit, Op::KillAll),
        Command::UnkillAll(a) => edit(&a.file, &a.edit, Op::UnkillAll),
        Command::Create(a) => {
            let op = Op::Create {
                flag: a.flag,
                description: a.description,
                owner: a.owner,
            };
            edit(&a.file, &a.edit, op)
        }
        Command::Delete(a) => edit(&a.file, &a.edit, Op::Delete { flag: a.flag }),
        Command::Status(args) => show_status(&args),
        Command::Diff(args) => diff_files(&args),
        Command::Guard(args) => return crate::cli::guard::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn set(args: SetArgs) -> Result<(), String> {
    let name = args.file.display();
    let flag = args.flag;
    if let Some(text) = &args.percentage {
        let bp = parse_percentage(text).map_err(|e| format!("{name}: --percentage: {e}"))?;
        let op = Op::SetPercentage {
            flag,
            basis_points: bp,
        };
        return edit(&args.file, &args.edit, op);
    }
    let text = args.ramp.as_deref().unwrap_or_default();
    let points = parse_ramp(text).map_err(|e| format!("{name}: --ramp: {e}"))?;
    edit(&args.file, &args.edit, Op::SetRamp { flag, points })
}

fn stage(args: StageArgs) -> Result<(), String> {
    if args.rollback {
        return edit(&args.file, &args.edit, Op::Rollback { flag: args.flag });
    }
    let name = args.file.display();
    let parse = |option: &str, text: &Option<String>| -> Result<Option<Stage>, String> {
        text.as_deref()
            .map(|t| parse_stage(t).map_err(|e| format!("{name}: --{option}: {e}")))
            .transpose()
    };
    let change = StageChange {
        stage: parse("stage", &args.stage)?,
        next: parse("next", &args.next)?,
        pilot_stage: parse("pilot-stage", &args.pilot_stage)?,
        safe: parse("safe", &args.safe)?,
    };
    let op = Op::Stage {
        flag: args.flag,
        change,
    };
    edit(&args.file, &args.edit, op)
}

/// `10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z` as points.
fn parse_ramp(text: &str) -> Result<Vec<(String, u32)>, String> {
    let mut points = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let Some((percentage, at)) = part.split_once('@') else {
            return Err(format!(
                "invalid point \"{part}\": expected PERCENT@TIME, such as 10@2026-11-21T00:00:00Z"
            ));
        };
        let bp = parse_percentage(percentage).map_err(|e| e.to_string())?;
        let at = at.trim();
        Timestamp::parse_rfc3339(at).map_err(|e| e.to_string())?;
        points.push((at.to_owned(), bp));
    }
    Ok(points)
}

fn pilots(args: PilotsArgs) -> Result<(), String> {
    // clap requires exactly one of FLAG and --global, and of --add and
    // --remove.
    let (flag, attribute) = (args.flag, args.attribute);
    let op = if args.add.is_empty() {
        Op::RemovePilots {
            flag,
            attribute,
            ids: args.remove,
        }
    } else {
        Op::AddPilots {
            flag,
            attribute,
            ids: args.add,
        }
    };
    edit(&args.file, &args.edit, op)
}

/// Makes the edit through [`edit::apply`], printing its notices on stderr
/// as they come, then prints what changed (`--dry-run`) or the summary of
/// what was written.
fn edit(path: &Path, options: &EditOptions, op: Op) -> Result<(), String> {
    let name = path.display().to_string();
    let notify = |notice: &Notice| eprintln!("{notice}");
    let mut edit_options = Options::new(command_line());
    edit_options.dry_run = options.dry_run;
    edit_options.audit_log.clone_from(&options.audit_log);
    edit_options.actor.clone_from(&options.actor);
    edit_options.reason.clone_from(&options.reason);
    edit_options.notify = Some(&notify);
    let outcome = edit::apply(path, &[op], &edit_options).map_err(|e| e.to_string())?;
    if outcome.dry_run && outcome.changed {
        for line in &outcome.changes {
            output::print_line(line);
        }
        if outcome.changes.is_empty() {
            output::print_line("no changes in meaning (layout only)");
        }
        output::print_line(&format!("dry run: nothing was written to {name}"));
        return Ok(());
    }
    // The summary of what was written, or "no changes; nothing was written".
    output::print_line(&format!("{name}: {}", outcome.summary));
    Ok(())
}

/// `--actor`'s value: a name, not nothing.
pub(crate) fn parse_actor(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "the actor must not be empty: give a name, or leave --actor out to \
                    record the login name"
                .to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// The command as typed, quoted for a POSIX shell where needed.
pub(crate) fn command_line() -> String {
    command_words(std::env::args_os().skip(1))
}

/// `flags` and `args`, each quoted for a POSIX shell where needed
/// ([`edit::shell_command`]).
fn command_words(args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
    let flags = std::iter::once(std::ffi::OsString::from("flags"));
    edit::shell_command(flags.chain(args))
}

fn show_status(args: &StatusArgs) -> Result<(), String> {
    let now = match &args.now {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| format!("--now: {e}"))?,
        None => flags_core::now(),
    };
    if args.watch {
        return watch_status(args);
    }
    if let Some(url) = &args.prometheus {
        let prometheus = prometheus(url, std::time::Duration::from_secs(10))?;
        let snapshot = Snapshot::from_path(&args.file).map_err(|e| e.to_string())?;
        let readings =
            monitor::read(&snapshot, &prometheus, None, None).map_err(|e| e.to_string())?;
        if args.json {
            let json = monitor::json(&args.file, now, &readings).map_err(|e| e.to_string())?;
            output::print_line(&json);
        } else {
            let table = monitor::table(&args.file, now, &readings).map_err(|e| e.to_string())?;
            output::print(&table);
        }
        return Ok(());
    }
    if args.json {
        let json = edit::status_json(&args.file, now).map_err(|e| e.to_string())?;
        output::print_line(&json);
    } else {
        let table = edit::status_table(&args.file, now).map_err(|e| e.to_string())?;
        output::print(&table);
    }
    Ok(())
}

/// `--watch`: the screen cleared and the status drawn again every
/// interval, until Ctrl-C. A file that cannot be read is said in place of
/// the table, and the watch goes on.
fn watch_status(args: &StatusArgs) -> Result<(), String> {
    let prometheus = match &args.prometheus {
        Some(url) => Some(prometheus(
            url,
            args.interval.min(std::time::Duration::from_secs(10)),
        )?),
        None => None,
    };
    let mut memory = HashMap::new();
    loop {
        let now = flags_core::now();
        let text = match &prometheus {
            Some(prometheus) => Snapshot::from_path(&args.file)
                .map_err(MonitorError::from)
                .and_then(|snapshot| monitor::read(&snapshot, prometheus, Some(&mut memory), None))
                .and_then(|readings| monitor::table(&args.file, now, &readings))
                .map_err(|e| e.to_string()),
            None => edit::status_table(&args.file, now).map_err(|e| e.to_string()),
        };
        let text = text.unwrap_or_else(|e| format!("{e}\n"));
        // Clear the screen, cursor home: the next picture replaces this one.
        output::print(&format!(
            "\x1b[2J\x1b[H{text}(every {}s; Ctrl-C to stop)\n",
            args.interval.as_secs()
        ));
        if output::is_stopped() {
            return Ok(());
        }
        std::thread::sleep(args.interval);
    }
}

/// The Prometheus of `--prometheus URL`; a bad URL is said as
/// `--prometheus URL: ...`.
pub(crate) fn prometheus(url: &str, timeout: std::time::Duration) -> Result<Prometheus, String> {
    Prometheus::new(url, timeout).map_err(|e| match e {
        MonitorError::Url(message) => format!("--prometheus {message}"),
        other => other.to_string(),
    })
}

fn diff_files(args: &DiffArgs) -> Result<(), String> {
    let old = Snapshot::from_path(&args.old).map_err(|e| e.to_string())?;
    let new = Snapshot::from_path(&args.new).map_err(|e| e.to_string())?;
    let lines = changes(&old, &new);
    if lines.is_empty() {
        output::print_line("no changes");
    }
    for line in lines {
        output::print_line(&line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_as_operators_type_them() {
        assert_eq!(
            parse_ramp("10@2026-11-21T00:00:00Z, 100@2026-11-22T00:00:00+01:00"),
            Ok(vec![
                ("2026-11-21T00:00:00Z".to_owned(), 1000),
                ("2026-11-22T00:00:00+01:00".to_owned(), 10_000)
            ])
        );
        assert_eq!(
            parse_ramp("10").expect_err("no time"),
            "invalid point \"10\": expected PERCENT@TIME, such as 10@2026-11-21T00:00:00Z"
        );
        assert!(
            parse_ramp("10@tomorrow")
                .expect_err("bad time")
                .contains("invalid time `tomorrow`")
        );
        assert!(
            parse_ramp("150@2026-11-21T00:00:00Z")
                .expect_err("too high")
                .contains("from 0 to 100")
        );
    }

    #[test]
    fn the_command_is_quoted_for_a_shell() {
        let args = [
            "set",
            "flags.json",
            "new-checkout",
            "--ramp",
            "10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z",
            "--description",
            "It's the new checkout",
            "",
            "José",
            "$HOME",
        ];
        let line = command_words(args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            line,
            "flags set flags.json new-checkout --ramp \
             '10@2026-11-21T00:00:00Z,100@2026-11-22T00:00:00Z' --description \
             \"It's the new checkout\" '' 'José' '$HOME'"
        );
        // A shell reads back the words as typed.
        let mut typed = vec!["flags"];
        typed.extend(args);
        assert_eq!(shlex::split(&line).expect("well quoted"), typed);
    }
}
