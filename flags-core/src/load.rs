//! Loading: from bytes or a file to a validated [`Snapshot`], named by the
//! content hash of those bytes ([`Snapshot::version`]).
//!
//! Every way in goes through here: [`Snapshot::from_slice`],
//! [`Snapshot::from_slice_named`], [`Snapshot::from_path`], and the sources
//! (`watch`, `remote`), which also use [`content_version`] to tell new
//! bytes from the ones being served without parsing them again.

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file};
use crate::model::Snapshot;
use crate::validate;

impl Snapshot {
    /// Parses and validates a flag file held in memory. Errors name the
    /// source `<input>`.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        snapshot(bytes, Arc::from("<input>"))
    }

    /// Parses and validates a flag file held in memory, naming it `source`
    /// in errors (a file name, a URL).
    pub fn from_slice_named(bytes: &[u8], source: &str) -> Result<Self, Error> {
        snapshot(bytes, Arc::from(source))
    }

    /// Reads, parses and validates the flag file at `path`. Anything but a
    /// regular file (a named pipe, a device, a directory) and a file over
    /// [`DEFAULT_MAX_FILE_BYTES`](crate::DEFAULT_MAX_FILE_BYTES) are refused
    /// without blocking or reading it whole.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = read_flag_file(path, DEFAULT_MAX_FILE_BYTES).map_err(|e| Error::io(path, e))?;
        Self::from_slice_named(&bytes, &path.display().to_string())
    }
}

/// Validates `bytes` (errors name `source`) and names the snapshot by
/// their content hash.
fn snapshot(bytes: &[u8], source: Arc<str>) -> Result<Snapshot, Error> {
    let mut snapshot = validate::snapshot(bytes, source)?;
    snapshot.version = content_version(bytes);
    Ok(snapshot)
}

/// The content hash behind [`Snapshot::version`]: SipHash-2-4 (128-bit,
/// keys 0) of the exact bytes, as 32 lowercase hex digits.
pub(crate) fn content_version(bytes: &[u8]) -> Box<str> {
    use std::hash::Hasher as _;
    let mut hasher = siphasher::sip128::SipHasher24::new_with_keys(0, 0);
    hasher.write(bytes);
    let hash = siphasher::sip128::Hasher128::finish128(&hasher).as_u128();
    format!("{hash:032x}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_hash_of_the_exact_bytes() {
        let compact = br#"{"version":1,"flags":{}}"#;
        let spaced = br#"{"version": 1, "flags": {}}"#;
        let a = Snapshot::from_slice(compact).expect("valid");
        let b = Snapshot::from_slice_named(spaced, "flags.json").expect("valid");
        assert_eq!(a.version(), &*content_version(compact));
        assert_eq!(b.version(), &*content_version(spaced));
        assert_ne!(a.version(), b.version(), "any byte changes it");
        assert_eq!(a.version().len(), 32);
        assert!(
            a.version()
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        );
    }
}
