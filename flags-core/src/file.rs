//! Reading flag files safely, and (with the `watch` feature) replacing a
//! file atomically.
//!
//! A flag file path is something operators and deploy tools control, and a
//! process that reads it must never hang or run out of memory because of
//! what is found there: a named pipe (`open()` would wait for a writer), a
//! device such as `/dev/zero` (endless), a directory, or a file far bigger
//! than any flag file. [`read_flag_file`] opens without blocking, checks
//! with `fstat` that it opened a regular file of at most the size limit,
//! and only then reads, never more than the limit.

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::Path;

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
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
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

/// Writes `bytes` to `path` so that readers see the old file or the new
/// one, never a part: a temporary file in the same directory
/// (`.NAME.PID.N.tmp`), `fsync`, rename over `path`, then `fsync` of the
/// directory (best effort). The temporary file is removed on failure.
#[cfg(any(feature = "watch", feature = "remote"))]
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
