//! The audit log: one JSON line per edit (who, when, what, the content
//! hash before and after), appended after the file is replaced, and who
//! the actor is when the caller does not say.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of the audit log.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct AuditRecord {
    /// RFC 3339, UTC: when the file was replaced (taken just before).
    pub time: String,
    pub actor: String,
    pub command: String,
    /// The edited file, as an absolute path.
    pub file: String,
    /// Content hash before the edit ([`Snapshot::version`](crate::Snapshot::version)).
    pub before: String,
    /// Content hash after the edit.
    pub after: String,
    pub summary: String,
    /// Why the edit was made, when the caller says (`flags guard`: the
    /// query, its value, the threshold and how long it held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Only in a record appended for an interrupted edit (see
    /// `journal::reconcile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// When that record was appended (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<String>,
}

/// What the edit that found an interrupted edit's journal knew of it: the
/// `recovery` field of the record it appended for it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Recovery {
    /// The file held the edit's result: the edit was written.
    Applied,
    /// The file held neither the content the edit was made on nor its
    /// result: it was changed since by other means, and whether the edit
    /// was written cannot be told.
    Unconfirmed,
}

/// `FILE.audit.jsonl` beside the file `path`: where an edit appends its
/// record unless told otherwise.
///
/// ```
/// use std::path::Path;
/// use flags_core::edit::default_audit_log;
///
/// assert_eq!(
///     default_audit_log(Path::new("/etc/flags/flags.json")),
///     Path::new("/etc/flags/flags.json.audit.jsonl")
/// );
/// ```
pub fn default_audit_log(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".audit.jsonl");
    path.with_file_name(name)
}

fn record_line(record: &AuditRecord) -> io::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(io::Error::other)
}

/// Appends one JSON line (one `write` call, opened in append mode, synced).
/// Opened without blocking: a named pipe with no reader is an error, not a
/// wait.
pub(crate) fn append(log: &Path, record: &AuditRecord) -> io::Result<()> {
    let mut line = record_line(record)?;
    line.push(b'\n');
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(log)?;
    file.write_all(&line)?;
    file.sync_data()
}

/// Whether `log` holds the line of `record`, as appended by the edit or by
/// the reconciliation of its journal (which adds its fields at the end).
pub(crate) fn holds(log: &Path, record: &AuditRecord) -> io::Result<bool> {
    let line = record_line(record)?;
    // `{...,"summary":"..."}`: the same up to the closing brace.
    let stem = &line[..line.len() - 1];
    let file = match crate::file::open_nonblocking(log) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    for logged in io::BufReader::new(file).split(b'\n') {
        let logged = logged?;
        // No let chain: this crate builds with Rust 1.85.
        let rest = logged.strip_prefix(stem).and_then(|rest| rest.first());
        if matches!(rest, Some(b'}' | b',')) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Who makes an edit when the caller does not say: `$SUDO_USER` when set
/// (the operator behind `sudo flags ...`, not `root`), else the login name
/// of the process's user id in the user database, else `uid:N` (a
/// container's random uid has no entry). Never empty. `$USER` and
/// `$LOGNAME` are not read: `env -i`, cron and containers leave them
/// unset, and `sudo` sets them to `root`.
pub fn default_actor() -> String {
    actor_of(std::env::var("SUDO_USER").ok(), current_uid(), user_name)
}

/// The rule of [`default_actor`], with what it reads passed in.
fn actor_of(
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

/// Quotes `words` for a POSIX shell where needed and joins them with
/// spaces: an edit's `command` as typed, such that pasting it into a shell
/// runs the same command. Done by the `shlex` crate, which knows more of
/// the shells' corners (`!` and `^` in interactive shells, `{a,b}`
/// expansion, fish's backslashes) than a hand-written quoter would. A
/// word that is not UTF-8 is taken lossily; one holding a NUL byte (which
/// no shell word can) is left unquoted.
///
/// ```
/// use flags_core::edit::shell_command;
///
/// assert_eq!(
///     shell_command(["flags", "create", "flags.json", "x", "--description", "It's new"]),
///     "flags create flags.json x --description \"It's new\""
/// );
/// assert_eq!(shell_command(["php", "artisan", "flags:kill", "José"]), "php artisan flags:kill 'José'");
/// ```
pub fn shell_command<W: AsRef<std::ffi::OsStr>>(words: impl IntoIterator<Item = W>) -> String {
    let mut out = Vec::new();
    for word in words {
        let word = word.as_ref().to_string_lossy();
        let quoted = shlex::try_quote(&word).map_or_else(|_| word.to_string(), String::from);
        out.push(quoted);
    }
    out.join(" ")
}

/// Removes the file at `path` if it is there; whether it was there or not,
/// it is not there afterwards unless this fails.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_actor() {
        let named = |name: &'static str| move |_: u32| Some(name.to_owned());
        let nobody = |_: u32| None;
        assert_eq!(actor_of(Some("oncall".into()), 0, named("root")), "oncall");
        assert_eq!(actor_of(Some(" ".into()), 0, named("root")), "root");
        assert_eq!(actor_of(None, 1000, named("deploy")), "deploy");
        assert_eq!(actor_of(None, 1000, named("")), "uid:1000");
        assert_eq!(actor_of(None, 1_000_680_000, nobody), "uid:1000680000");
        assert_eq!(actor_of(Some(String::new()), 7, nobody), "uid:7");
    }

    #[test]
    fn words_are_quoted_for_a_shell() {
        let words = ["flags", "set", "", "José", "$HOME", "a b"];
        let line = shell_command(words);
        assert_eq!(line, "flags set '' 'José' '$HOME' 'a b'");
        assert_eq!(shlex::split(&line).expect("well quoted"), words);
    }
}
