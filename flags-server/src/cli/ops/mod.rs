//! Operator commands: edit a flag file safely, show its state, compare two.
//!
//! Every edit command reads the file, makes the change with
//! [`flags_core::edit`] (which keeps the file's layout and validates the
//! result), and then either prints what would change (`--dry-run`) or
//! replaces the file atomically, refusing when the file changed since it
//! was read, and appends a record to the audit log; the record is
//! journaled before the file is replaced, so that an edit killed half-way
//! is still recorded by the next one. Servers watching the file pick the
//! change up by themselves. See `docs/operations.md`.

mod diff;
mod file;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ArgGroup;
use flags_core::edit::{Document, parse_percentage};
use flags_core::{Snapshot, Timestamp};

use crate::cli::output;

pub use diff::{changes, summary};

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
        Command::Set(args) => set(&args),
        Command::Pilots(args) => pilots(&args),
        Command::Kill(a) => edit(&a.file, &a.edit, |d| d.set_killed(&a.flag, true)),
        Command::Unkill(a) => edit(&a.file, &a.edit, |d| d.set_killed(&a.flag, false)),
        Command::KillAll(a) => edit(&a.file, &a.edit, |d| d.set_kill_all(true)),
        Command::UnkillAll(a) => edit(&a.file, &a.edit, |d| d.set_kill_all(false)),
        Command::Create(a) => edit(&a.file, &a.edit, |d| {
            d.create_flag(&a.flag, a.description.as_deref(), a.owner.as_deref())
        }),
        Command::Delete(a) => edit(&a.file, &a.edit, |d| d.delete_flag(&a.flag)),
        Command::Status(args) => show_status(&args),
        Command::Diff(args) => diff_files(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn set(args: &SetArgs) -> Result<(), String> {
    let name = args.file.display();
    if let Some(text) = &args.percentage {
        let bp = parse_percentage(text).map_err(|e| format!("{name}: --percentage: {e}"))?;
        return edit(&args.file, &args.edit, |d| d.set_percentage(&args.flag, bp));
    }
    let text = args.ramp.as_deref().unwrap_or_default();
    let points = parse_ramp(text).map_err(|e| format!("{name}: --ramp: {e}"))?;
    edit(&args.file, &args.edit, |d| d.set_ramp(&args.flag, &points))
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

fn pilots(args: &PilotsArgs) -> Result<(), String> {
    let attribute = &args.attribute;
    // clap requires exactly one of FLAG and --global.
    edit(&args.file, &args.edit, |d| {
        match (&args.flag, args.add.is_empty()) {
            (Some(flag), true) => d.remove_pilots(flag, attribute, &args.remove),
            (Some(flag), false) => d.add_pilots(flag, attribute, &args.add),
            (None, true) => d.remove_global_pilots(attribute, &args.remove),
            (None, false) => d.add_global_pilots(attribute, &args.add),
        }
    })
}

/// Reads, edits, validates, then prints the change (`--dry-run`) or writes
/// it atomically and audits it.
fn edit(
    path: &Path,
    options: &EditOptions,
    change: impl FnOnce(&mut Document) -> Result<(), flags_core::Error>,
) -> Result<(), String> {
    let name = path.display().to_string();
    // Held until the audit record is written: concurrent `flags` edits of
    // this directory take turns instead of refusing each other.
    let lock = if options.dry_run {
        None
    } else {
        Some(file::lock_dir(path)?)
    };
    if let Some(lock) = &lock {
        if lock.held() {
            file::remove_stale_temps(path);
        }
        file::reconcile(path)?;
    }
    let original = file::read_for_edit(path)?;
    let before =
        Snapshot::from_slice_named(&original.bytes, &name).map_err(|e| invalid_file(&name, &e))?;
    // Valid files are UTF-8.
    let text = std::str::from_utf8(&original.bytes).map_err(|e| format!("{name}: {e}"))?;
    let mut document = Document::parse_named(text, &name).map_err(|e| invalid_file(&name, &e))?;
    change(&mut document).map_err(|e| {
        if e.diagnostics().is_empty() {
            format!("{name}: {e}")
        } else {
            format!("{name}: the edit would make the file invalid; nothing was written\n{e}")
        }
    })?;
    if document.text().as_bytes() == original.bytes {
        output::print_line(&format!("{name}: no changes; nothing was written"));
        return Ok(());
    }
    let after = document.snapshot();
    let lines = changes(&before, after);
    let summary = summary(&lines);
    if options.dry_run {
        for line in &lines {
            output::print_line(line);
        }
        if lines.is_empty() {
            output::print_line("no changes in meaning (layout only)");
        }
        output::print_line(&format!("dry run: nothing was written to {name}"));
        return Ok(());
    }
    file::test_pause();
    let log = options
        .audit_log
        .clone()
        .unwrap_or_else(|| file::default_audit_log(path));
    let pending = file::Pending {
        audit_log: std::path::absolute(&log).unwrap_or(log),
        record: file::AuditRecord {
            time: flags_core::now().to_string(),
            actor: actor(options.actor.as_deref()),
            command: command_line(),
            file: std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            before: before.version().to_owned(),
            after: after.version().to_owned(),
            summary,
            recovery: None,
            recovered_at: None,
        },
    };
    match file::replace(
        path,
        &original.bytes,
        document.text().as_bytes(),
        &original.permissions,
        &pending,
    ) {
        Ok(()) => {}
        Err(file::WriteError::Conflict) => {
            return Err(format!(
                "{name} changed since it was read (another edit?); nothing was written, run the command again"
            ));
        }
        Err(file::WriteError::Io(message)) => return Err(message),
    }
    // Audited before anything is printed: whatever happens to stdout, the
    // edit has its record.
    let audited = file::append_audit(&pending.audit_log, &pending.record);
    file::test_stop("audited");
    if let Err(e) = audited {
        return Err(format!(
            "{name}: written, but the audit log {} could not be appended: {e}; the record \
             stays in {} and the next edit of the file appends it",
            pending.audit_log.display(),
            file::journal_path(path).display()
        ));
    }
    file::remove_journal(path);
    output::print_line(&format!("{name}: {}", pending.record.summary));
    Ok(())
}

fn invalid_file(name: &str, err: &flags_core::Error) -> String {
    if err.diagnostics().is_empty() {
        return err.to_string();
    }
    format!("{name}: the file is invalid, fix it first; nothing was written\n{err}")
}

/// `--actor` (never empty: the argument parser refuses that), else who ran
/// the command: see [`default_actor`].
fn actor(given: Option<&str>) -> String {
    match given {
        Some(actor) => actor.to_owned(),
        None => default_actor(std::env::var("SUDO_USER").ok(), current_uid(), user_name),
    }
}

/// `$SUDO_USER` when set (the operator behind `sudo flags ...`, not
/// `root`), else the login name of the process's user id in the user
/// database, else `uid:N` (a container's random uid has no entry).
/// Never empty. `$USER` and `$LOGNAME` are not read: `env -i`, cron and
/// containers leave them unset, and `sudo` sets them to `root`.
fn default_actor(
    sudo_user: Option<String>,
    uid: u32,
    user_name: impl FnOnce(u32) -> Option<String>,
) -> String {
    let named = |n: &String| !n.trim().is_empty();
    sudo_user
        .filter(named)
        .or_else(|| user_name(uid).filter(named))
        .unwrap_or_else(|| format!("uid:{uid}"))
}

#[cfg(unix)]
fn current_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[cfg(unix)]
fn user_name(uid: u32) -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid));
    user.ok().flatten().map(|user| user.name)
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

#[cfg(not(unix))]
fn user_name(_uid: u32) -> Option<String> {
    std::env::var("USERNAME").ok()
}

/// `--actor`'s value: a name, not nothing.
fn parse_actor(text: &str) -> Result<String, String> {
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
fn command_line() -> String {
    command_words(std::env::args_os().skip(1))
}

/// `flags` and `args`, each quoted for a POSIX shell where needed, with
/// the `shlex` crate: it knows more of the shells' corners (`!` and `^`
/// in interactive shells, `{a,b}` expansion, fish's backslashes) than a
/// hand-written quoter would, and has no dependencies of its own.
fn command_words(args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
    let mut words = vec!["flags".to_owned()];
    for arg in args {
        let word = arg.to_string_lossy();
        // Only a NUL byte cannot be quoted, and no argument holds one.
        let quoted = shlex::try_quote(&word).map_or_else(|_| word.to_string(), String::from);
        words.push(quoted);
    }
    words.join(" ")
}

fn show_status(args: &StatusArgs) -> Result<(), String> {
    let now = match &args.now {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| format!("--now: {e}"))?,
        None => flags_core::now(),
    };
    let snapshot = Snapshot::from_path(&args.file).map_err(|e| e.to_string())?;
    let name = args.file.display().to_string();
    let interrupted = file::interrupted_edit(&args.file);
    if args.json {
        output::print_line(&status::json(&name, &snapshot, now, interrupted.as_ref()));
    } else {
        output::print(&status::table(&name, &snapshot, now, interrupted.as_ref()));
    }
    Ok(())
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
    fn the_default_actor() {
        let named = |name: &'static str| move |_: u32| Some(name.to_owned());
        let nobody = |_: u32| None;
        assert_eq!(
            default_actor(Some("oncall".into()), 0, named("root")),
            "oncall"
        );
        assert_eq!(default_actor(Some(" ".into()), 0, named("root")), "root");
        assert_eq!(default_actor(None, 1000, named("deploy")), "deploy");
        assert_eq!(default_actor(None, 1000, named("")), "uid:1000");
        assert_eq!(default_actor(None, 1_000_680_000, nobody), "uid:1000680000");
        assert_eq!(default_actor(Some(String::new()), 7, nobody), "uid:7");
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
