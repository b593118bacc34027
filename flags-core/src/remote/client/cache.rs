//! The client's offline cache file: one JSON document holding the answer
//! exactly as received, its ETag, and the hash of the context it was
//! evaluated for, written atomically in one piece so that the answers and
//! the context they belong to can never come from two different writes.
//!
//! ```text
//! {"flags_client_cache": 1, "context": "<32 hex digits>", "etag": "\"...\"" or null,
//!  "answer": {"flags": [...]}}
//! ```

use std::path::{Path, PathBuf};

use crate::file::{DEFAULT_MAX_FILE_BYTES, read_flag_file, write_atomically};
use crate::json::{self, Kind};
use crate::json_path::push_json_string;

use super::answers::{self, Answers};

/// What a usable cache file holds.
pub(super) struct Cached {
    pub(super) answers: Answers,
    pub(super) etag: Option<String>,
}

/// The cache file as found, for the context `context_key`.
pub(super) enum CacheState {
    Missing,
    /// Unreadable, or not a cache file.
    Unusable(String),
    /// A good cache file, for another context: never served.
    OtherContext,
    Usable(Cached),
}

/// Reads the cache at `path` for the context whose key is `context_key`.
pub(super) fn read(path: &Path, context_key: &str) -> CacheState {
    let body = match read_flag_file(path, DEFAULT_MAX_FILE_BYTES) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return CacheState::Missing,
        Err(e) => return CacheState::Unusable(format!("{}: cannot read: {e}", path.display())),
        Ok(body) => body,
    };
    match parse(&body, context_key) {
        Ok(Some(cached)) => CacheState::Usable(cached),
        Ok(None) => CacheState::OtherContext,
        Err(why) => CacheState::Unusable(format!(
            "{}: not a flags client cache: {why}",
            path.display()
        )),
    }
}

fn parse(body: &[u8], context_key: &str) -> Result<Option<Cached>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
    let root = json::parse(text).map_err(|e| e.message)?;
    let Kind::Object(members) = &root.kind else {
        return Err("expected an object".to_owned());
    };
    let get = |name: &str| members.iter().find(|m| m.key == name).map(|m| &m.value);
    if !matches!(
        get("flags_client_cache").map(|n| &n.kind),
        Some(Kind::Number("1"))
    ) {
        return Err("expected \"flags_client_cache\": 1".to_owned());
    }
    let Some(Kind::String(context)) = get("context").map(|n| &n.kind) else {
        return Err("expected a string \"context\"".to_owned());
    };
    let etag = match get("etag").map(|n| &n.kind) {
        Some(Kind::String(etag)) if !etag.is_empty() => Some(etag.to_string()),
        Some(Kind::Null) => None,
        _ => return Err("expected a string or null \"etag\"".to_owned()),
    };
    let Some(answer) = get("answer") else {
        return Err("expected an \"answer\"".to_owned());
    };
    if context != context_key {
        return Ok(None);
    }
    let answers =
        answers::parse(&body[answer.at..answer.end]).map_err(|e| format!("answer: {e}"))?;
    Ok(Some(Cached { answers, etag }))
}

/// Writes the cache file, remembering what it holds so that only a change
/// is written.
pub(super) struct CacheWriter {
    pub(super) path: PathBuf,
    /// (context key, answer version, ETag) of what the file holds.
    written: Option<(String, String, Option<String>)>,
}

impl CacheWriter {
    pub(super) fn new(path: PathBuf, holds: Option<(&str, &Cached)>) -> CacheWriter {
        CacheWriter {
            path,
            written: holds.map(|(key, cached)| {
                (
                    key.to_owned(),
                    cached.answers.version().to_owned(),
                    cached.etag.clone(),
                )
            }),
        }
    }

    /// Writes `body` (a valid answer whose version is `version`) for the
    /// context `context_key`, unless the file already holds exactly that.
    pub(super) fn write(
        &mut self,
        context_key: &str,
        version: &str,
        body: &[u8],
        etag: Option<&str>,
    ) -> Result<(), String> {
        let next = (
            context_key.to_owned(),
            version.to_owned(),
            etag.map(str::to_owned),
        );
        if self.written.as_ref() == Some(&next) {
            return Ok(());
        }
        let mut out = String::from("{\"flags_client_cache\": 1, \"context\": ");
        push_json_string(&mut out, context_key);
        out.push_str(", \"etag\": ");
        match etag {
            Some(etag) => push_json_string(&mut out, etag),
            None => out.push_str("null"),
        }
        out.push_str(",\n\"answer\": ");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b"}\n");
        write_atomically(&self.path, &bytes)
            .map_err(|e| format!("{}: cannot write the cache: {e}", self.path.display()))?;
        self.written = Some(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_cache_reads_back_for_its_context_only() {
        let dir = std::env::temp_dir().join(format!("flags-client-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("client.json");
        let body = br#"{"flags":[{"key":"a","value":true,"reason":"SPLIT"}]}"#;
        let version = answers::parse(body).expect("valid").version().to_owned();
        let mut writer = CacheWriter::new(path.clone(), None);
        writer
            .write("ctx1", &version, body, Some("\"e1\""))
            .expect("written");
        match read(&path, "ctx1") {
            CacheState::Usable(cached) => {
                assert!(cached.answers.is_enabled("a"));
                assert_eq!(cached.answers.version(), version);
                assert_eq!(cached.etag.as_deref(), Some("\"e1\""));
            }
            _ => panic!("the cache is usable for its own context"),
        }
        assert!(matches!(read(&path, "ctx2"), CacheState::OtherContext));
        assert!(matches!(
            read(&dir.join("none.json"), "ctx1"),
            CacheState::Missing
        ));
        std::fs::write(&path, br#"{"version": 1, "flags": {}}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read(&path, "ctx1"), CacheState::Unusable(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
