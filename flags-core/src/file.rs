//! Reading flag files safely, and (with the `watch`, `remote` or `edit`
//! feature) replacing a file atomically: the one way this workspace
//! writes a file that others read (the sources' cache files, the edits of
//! the `flags` commands).
//!
//! A flag file path is something operators and deploy tools control, and a
//! process that reads it must never hang or run out of memory because of
//! what is found there: a named pipe (`open()` would wait for a writer), a
//! device such as `/dev/zero` (endless), a directory, or a file far bigger
//! than any flag file. [`read_flag_file`] opens without blocking, checks
//! with `fstat` that it opened a regular file of at most the size limit,
//! and only then reads, never more than the limit.

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::Path;
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
use std::path::PathBuf;

/// The default size limit of a flag file: 64 MiB, room for a million pilot
/// ids of 40 characters each (UUIDs) with their quotes and separators.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads the regular file at `path` (symlinks followed), refusing without
/// blocking anything else: a named pipe, a socket, a device or a directory
/// is an [`io::ErrorKind::InvalidInput`] error naming what was found, and a
/// file over `max_bytes` is an [`io::ErrorKind::FileTooLarge`] error.
pub(crate) fn read_flag_file(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file but {}", describe(&meta.file_type())),
        ));
    }
    if meta.len() > max_bytes {
        return Err(too_large(meta.len(), max_bytes));
    }
    // The file may grow between the fstat and the read: read one byte more
    // than allowed to notice, never the whole of it.
    let capacity = usize::try_from(meta.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64, max_bytes));
    }
    Ok(bytes)
}

fn too_large(len: u64, max_bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "the file is {len} bytes, over the limit of {}",
            human_size(max_bytes)
        ),
    )
}

/// `67108864` as `67108864 bytes (64 MiB)`, for messages.
fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{bytes} bytes ({} MiB)", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{bytes} bytes ({} KiB)", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Opens for reading with `O_NONBLOCK` where there is one: opening a named
/// pipe without a writer returns at once instead of waiting forever. It
/// changes nothing for a regular file.
#[cfg(unix)]
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    // No named pipes on a path to block on; a directory fails to open.
    File::open(path)
}

fn describe(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "something other than a file"
    }
}

/// Writes `bytes` to `path` atomically (see [`replace_atomically`]), with
/// the default permissions of a new file and no check before the rename;
/// syncing the directory is best effort. For the sources' cache files.
#[cfg(any(feature = "watch", feature = "remote"))]
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match replace_atomically(path, bytes, None, || Ok::<(), std::convert::Infallible>(())) {
        Ok(_) => Ok(()),
        Err(ReplaceError::Io { source, .. }) => Err(source),
        Err(ReplaceError::Refused(never)) => match never {},
    }
}

/// Replaces the content of `path` with `bytes` so that readers see the old
/// file or the new one, never a part, and a crash leaves one or the other:
/// a temporary file in the same directory (`.NAME.PID.N.tmp`) is written,
/// given `permissions` (when set), and synced; then `before_rename` runs,
/// and unless it refuses, the temporary file is renamed over `path` and
/// the directory is synced.
///
/// `before_rename` is the last moment to look at `path` before it is
/// replaced: to check that it still holds what an edit was made on, or to
/// write a journal that must be on disk before the new content is. When
/// it returns an error, nothing is written and the error comes back as
/// [`ReplaceError::Refused`]. Every other failure is a
/// [`ReplaceError::Io`] that says which step failed; in both cases the
/// temporary file is removed and `path` is untouched.
///
/// Syncing the directory makes the rename itself durable. When it fails
/// the new content is in place all the same, so that is not an error but
/// [`Replaced::dir_sync_error`].
///
/// A process killed after creating the temporary file leaves it behind;
/// [`is_temporary_file_of`] recognizes such files to clean them up.
///
// The example uses the public path, which only the `edit` feature has.
#[cfg_attr(
    feature = "edit",
    doc = r#"
```
use flags_core::edit::{ReplaceError, replace_atomically};

let dir = tempfile::tempdir()?;
let path = dir.path().join("flags.json");
std::fs::write(&path, "old")?;
// Replace only if the file still holds what was read.
let still_old = || match std::fs::read(&path) {
    Ok(bytes) if bytes == b"old" => Ok(()),
    _ => Err("changed since it was read"),
};
replace_atomically(&path, b"new", None, still_old).map_err(|e| e.to_string())?;
assert_eq!(std::fs::read(&path)?, b"new");

// Now it holds "new": the check refuses and nothing is written.
let refused = replace_atomically(&path, b"newer", None, still_old);
assert!(matches!(refused, Err(ReplaceError::Refused("changed since it was read"))));
assert_eq!(std::fs::read(&path)?, b"new");
# Ok::<(), Box<dyn std::error::Error>>(())
```
"#
)]
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
pub fn replace_atomically<E>(
    path: &Path,
    bytes: &[u8],
    permissions: Option<&fs::Permissions>,
    before_rename: impl FnOnce() -> Result<(), E>,
) -> Result<Replaced, ReplaceError<E>> {
    use std::io::Write as _;

    let step = |step: &'static str| move |source| ReplaceError::Io { step, source };
    let dir = directory_of(path);
    let (mut file, temp) =
        create_temporary(path).map_err(step("create a temporary file beside it"))?;
    let guard = RemoveOnDrop(Some(temp.clone()));
    file.write_all(bytes)
        .map_err(step("write the temporary file"))?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions.clone())
            .map_err(step("set the temporary file's permissions"))?;
    }
    file.sync_all().map_err(step("sync the temporary file"))?;
    drop(file);
    before_rename().map_err(ReplaceError::Refused)?;
    fs::rename(&temp, path).map_err(step("rename the temporary file over it"))?;
    guard.disarm();
    Ok(Replaced {
        dir_sync_error: sync_dir(&dir).err(),
    })
}

/// How [`replace_atomically`] failed. Either way `path` is untouched and the
/// temporary file is gone.
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
#[derive(Debug)]
pub enum ReplaceError<E> {
    /// A step failed.
    Io {
        /// What was being done, as it reads after "cannot": `create a
        /// temporary file beside it`, `write the temporary file`, `set the
        /// temporary file's permissions`, `sync the temporary file`,
        /// `rename the temporary file over it`.
        step: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The check before the rename refused, with its error.
    Refused(E),
}

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
impl<E: std::fmt::Display> std::fmt::Display for ReplaceError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplaceError::Io { step, source } => write!(f, "cannot {step}: {source}"),
            ReplaceError::Refused(error) => error.fmt(f),
        }
    }
}

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
impl<E: std::error::Error + 'static> std::error::Error for ReplaceError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplaceError::Io { source, .. } => Some(source),
            ReplaceError::Refused(error) => Some(error),
        }
    }
}

/// A file replaced by [`replace_atomically`].
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
#[derive(Debug)]
pub struct Replaced {
    // Read through `edit` only: the cache writes ignore it.
    #[cfg_attr(not(feature = "edit"), allow(dead_code))]
    dir_sync_error: Option<io::Error>,
}

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
impl Replaced {
    /// Why the directory could not be synced after the rename, if it
    /// could not: the new content is in place, but a crash soon after
    /// might bring the old file back.
    #[cfg_attr(not(feature = "edit"), allow(dead_code))]
    pub fn dir_sync_error(&self) -> Option<&io::Error> {
        self.dir_sync_error.as_ref()
    }
}

/// Whether `name` is one of the names [`replace_atomically`] gives its
/// temporary files for a file named `file_name`: exactly `.` `file_name`
/// `.` digits `.` digits `.tmp`. For removing the ones a killed process
/// left behind, and nothing else.
///
// The example uses the public path, which only the `edit` feature has.
#[cfg_attr(
    feature = "edit",
    doc = r#"
```
use std::ffi::OsStr;
use flags_core::edit::is_temporary_file_of;

let flags = OsStr::new("flags.json");
assert!(is_temporary_file_of(OsStr::new(".flags.json.4242.0.tmp"), flags));
assert!(!is_temporary_file_of(OsStr::new(".flags.json.edit-pending"), flags));
assert!(!is_temporary_file_of(OsStr::new(".other.json.4242.0.tmp"), flags));
```
"#
)]
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
// Public through `edit` (the `flags` commands clean up after killed edits).
#[cfg_attr(not(feature = "edit"), allow(dead_code))]
pub fn is_temporary_file_of(name: &OsStr, file_name: &OsStr) -> bool {
    let (name, file_name) = (name.as_encoded_bytes(), file_name.as_encoded_bytes());
    let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|r| r.strip_prefix(file_name))
        .and_then(|r| r.strip_prefix(b"."))
        .and_then(|r| r.strip_suffix(b".tmp"))
    else {
        return false;
    };
    let mut parts = rest.split(|&b| b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// The `N` of the next temporary file name.
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
static TEMPORARY_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Creates a new temporary file for `path`: `.NAME.PID.N.tmp` beside it,
/// `N` counting up in this process. A name already taken (left by a
/// killed process that had the same process id) is skipped.
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
fn create_temporary(path: &Path) -> io::Result<(File, PathBuf)> {
    use std::sync::atomic::Ordering;

    let dir = directory_of(path);
    let mut attempts = 0;
    loop {
        let n = TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(temporary_name(path, n));
        match File::create_new(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `.NAME.PID.N.tmp` for `path` named `NAME`.
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
fn temporary_name(path: &Path, n: u64) -> OsString {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    name
}

/// The directory holding `path` (`.` for a bare file name).
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
pub(crate) fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A temporary file removed on drop unless it was renamed.
#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
struct RemoveOnDrop(Option<PathBuf>);

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

#[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "flags.json")
            .collect();
        names.sort();
        names
    }

    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    #[test]
    fn temporary_file_names_are_the_ones_cleanup_recognizes() {
        let path = Path::new("dir/flags.json");
        let file_name = OsStr::new("flags.json");
        for n in [0, 7, u64::MAX] {
            let name = temporary_name(path, n);
            assert!(is_temporary_file_of(&name, file_name), "{name:?}");
        }
        for (name, theirs) in [
            (".flags.json.123.456.tmp", true),
            (".flags.json.1.0.tmp", true),
            (".flags.json.123.tmp", false),
            (".flags.json.123.456.789.tmp", false),
            (".flags.json.12a.456.tmp", false),
            (".flags.json..456.tmp", false),
            (".flags.json.123.456.tmp.bak", false),
            ("flags.json.123.456.tmp", false),
            (".flags.json.edit-pending", false),
            (".other.json.123.456.tmp", false),
            (".flags.jsonx.123.456.tmp", false),
            (".x.flags.json.123.456.tmp", false),
        ] {
            assert_eq!(
                is_temporary_file_of(OsStr::new(name), file_name),
                theirs,
                "{name}"
            );
        }
        // A flag file whose own name looks like a temporary file's.
        assert!(!is_temporary_file_of(
            OsStr::new(".a.1.2.tmp.3.4.tmp"),
            OsStr::new("a")
        ));
    }

    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    #[test]
    fn replaces_with_the_permissions_given_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flags.json");
        fs::write(&path, "old").expect("write");
        let mut seen = None;
        #[cfg(unix)]
        let permissions = {
            use std::os::unix::fs::PermissionsExt as _;
            fs::Permissions::from_mode(0o640)
        };
        #[cfg(not(unix))]
        let permissions = fs::metadata(&path).expect("stat").permissions();
        let replaced = replace_atomically(&path, b"new", Some(&permissions), || {
            // The new content is complete beside the file, which is
            // still the old one.
            seen = Some((fs::read(&path).expect("read"), leftovers(dir.path())));
            Ok::<(), String>(())
        })
        .expect("replaced");
        assert!(replaced.dir_sync_error().is_none());
        let (before, temps) = seen.expect("the check ran");
        assert_eq!(before, b"old");
        assert_eq!(temps.len(), 1, "{temps:?}");
        assert!(is_temporary_file_of(
            OsStr::new(&temps[0]),
            OsStr::new("flags.json")
        ));
        assert_eq!(fs::read(&path).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    #[test]
    fn a_refusal_or_a_failed_step_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flags.json");
        fs::write(&path, "old").expect("write");
        let refused = replace_atomically(&path, b"new", None, || Err("changed"));
        assert!(matches!(refused, Err(ReplaceError::Refused("changed"))));
        assert_eq!(fs::read(&path).expect("read"), b"old");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());

        // Renaming a file over a directory fails: the step is named.
        let target = dir.path().join("a-directory");
        fs::create_dir(&target).expect("mkdir");
        fs::write(target.join("inside"), "x").expect("write");
        let failed = replace_atomically(&target, b"new", None, || Ok::<(), String>(()));
        match failed {
            Err(ReplaceError::Io { step, .. }) => {
                assert_eq!(step, "rename the temporary file over it");
            }
            other => panic!("expected the rename to fail: {other:?}"),
        }
        assert_eq!(leftovers(dir.path()), ["a-directory"]);
    }

    #[cfg(any(feature = "watch", feature = "remote", feature = "edit"))]
    #[test]
    fn a_temporary_name_left_by_a_dead_process_is_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flags.json");
        // The next names this process would use, taken already (other
        // tests may take some numbers meanwhile: that only shortens the
        // skip).
        let next = TEMPORARY_COUNTER.load(std::sync::atomic::Ordering::Relaxed);
        let stale: Vec<PathBuf> = (next..next + 20)
            .map(|n| dir.path().join(temporary_name(&path, n)))
            .collect();
        for temp in &stale {
            fs::write(temp, "stale").expect("write");
        }
        replace_atomically(&path, b"new", None, || Ok::<(), String>(())).expect("written");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        for temp in &stale {
            assert_eq!(fs::read(temp).expect("still there"), b"stale");
        }
    }

    #[test]
    fn sizes_in_messages() {
        assert_eq!(human_size(64 << 20), "67108864 bytes (64 MiB)");
        assert_eq!(human_size(3 << 10), "3072 bytes (3 KiB)");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn reads_a_regular_file_within_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flags.json");
        fs::write(&path, b"0123456789").expect("write");
        assert_eq!(read_flag_file(&path, 10).expect("10 bytes"), b"0123456789");
        let err = read_flag_file(&path, 9).expect_err("over the limit");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "the file is 10 bytes, over the limit of 9 bytes"
        );
    }

    #[test]
    fn refuses_a_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = read_flag_file(dir.path(), 1 << 20).expect_err("a directory");
        assert!(
            err.to_string().contains("a directory") || err.kind() == io::ErrorKind::IsADirectory,
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_device_without_reading_it() {
        let err = read_flag_file(Path::new("/dev/zero"), 1 << 20).expect_err("a device");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "not a regular file but a character device");
    }
}
