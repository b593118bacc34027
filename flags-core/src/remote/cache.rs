//! The cache file and its ETag sidecar: read once at start-up (a stale
//! start when the server cannot be used), then written after each new
//! snapshot, exactly as received and atomically, with the server's ETag
//! beside it in `<cache_path>.etag`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file, write_atomically};
use crate::load::content_version;
use crate::model::Snapshot;
use crate::source::Published;

/// The cache file as found at start-up.
pub(super) struct Cache {
    pub(super) path: PathBuf,
    pub(super) state: CacheState,
}

pub(super) enum CacheState {
    Missing,
    Unusable(String),
    Usable {
        snapshot: Arc<Snapshot>,
        /// The sidecar's ETag, when it belongs to this body.
        etag: Option<String>,
    },
}

impl Cache {
    pub(super) fn read(path: &Path) -> Cache {
        let state = match read_flag_file(path, DEFAULT_MAX_FILE_BYTES) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheState::Missing,
            Err(e) => CacheState::Unusable(Error::io(path, e).to_string()),
            Ok(body) => match Snapshot::from_slice_named(&body, &path.display().to_string()) {
                Err(e) => CacheState::Unusable(e.to_string()),
                Ok(snapshot) => {
                    let etag = fs::read_to_string(etag_path(path)).ok().and_then(|text| {
                        let mut lines = text.lines();
                        let (version, etag) = (lines.next()?, lines.next()?);
                        (version == snapshot.version() && !etag.is_empty()).then(|| etag.to_owned())
                    });
                    CacheState::Usable {
                        snapshot: Arc::new(snapshot),
                        etag,
                    }
                }
            },
        };
        Cache {
            path: path.to_path_buf(),
            state,
        }
    }

    pub(super) fn usable(&self) -> Option<(&Arc<Snapshot>, &Option<String>)> {
        match &self.state {
            CacheState::Usable { snapshot, etag } => Some((snapshot, etag)),
            _ => None,
        }
    }

    /// The writer of this cache file, knowing what it holds.
    pub(super) fn writer(&self) -> CacheWriter {
        CacheWriter {
            path: self.path.clone(),
            cached: self.usable().map(|(snapshot, etag)| Written {
                version: snapshot.version().into(),
                etag: etag.clone(),
            }),
        }
    }
}

fn etag_path(cache: &Path) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".etag");
    cache.with_file_name(name)
}

/// The cache's content version and the ETag in its sidecar.
#[derive(Clone, PartialEq, Eq)]
struct Written {
    version: Box<str>,
    etag: Option<String>,
}

/// Writes the cache file and its sidecar, remembering what they hold so
/// that only a change is written.
pub(super) struct CacheWriter {
    path: PathBuf,
    /// What the cache file and its sidecar hold now.
    cached: Option<Written>,
}

impl CacheWriter {
    /// Writes a new body (and the ETag) to the cache, when it differs from
    /// what the cache holds.
    pub(super) fn write(&mut self, published: &Published, body: &[u8], etag: Option<&str>) {
        let version = content_version(body);
        if self.cached.as_ref().map(|w| &w.version) != Some(&version) {
            if let Err(e) = write_atomically(&self.path, body) {
                let text = format!("{}: cannot write the cache: {e}", self.path.display());
                published.cache_written(Err(text));
                return;
            }
            self.cached = Some(Written {
                version,
                etag: None,
            });
        }
        self.write_etag(published, etag);
    }

    /// Brings the sidecar up to date with the ETag of the cached body.
    pub(super) fn write_etag(&mut self, published: &Published, etag: Option<&str>) {
        let Some(cached) = &mut self.cached else {
            return;
        };
        if cached.etag.as_deref() == etag {
            published.cache_written(Ok(()));
            return;
        }
        let sidecar = etag_path(&self.path);
        let result = match etag {
            Some(etag) => {
                write_atomically(&sidecar, format!("{}\n{etag}\n", cached.version).as_bytes())
            }
            None => match fs::remove_file(&sidecar) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        match result {
            Ok(()) => {
                cached.etag = etag.map(str::to_owned);
                published.cache_written(Ok(()));
            }
            Err(e) => {
                let text = format!("{}: cannot write the cache: {e}", sidecar.display());
                published.cache_written(Err(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_sidecar_sits_beside_the_cache() {
        assert_eq!(
            etag_path(Path::new("dir/flags.json")),
            Path::new("dir/flags.json.etag")
        );
    }
}
