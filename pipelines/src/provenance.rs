//! Provenance: what every job output row was made from, in one set of fields (the
//! README's table lists them per output format).
//!
//! A row's `provenance` object says which documents (id, source, content hash) and
//! chunks it was made from, which models (id and the blake3 of the model file, so a
//! replaced file with the same name is told apart), which prompt version, which job and
//! run, and when. A run id is made per `docket run` invocation ([`run_id`]). Hashing a
//! model file costs a read of it (hundreds of MB), so hashes are kept in a small cache
//! under docket's home, keyed by path, size and modification time ([`FileHashes`]), and
//! in memory for the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A model a row was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// The model's id, as `docket models list` and the index manifest name it.
    pub id: String,
    /// blake3 hex digest of the model file (the embedder's `model.safetensors`, the
    /// LLM's GGUF file); `None` for a model behind a server.
    pub file_hash: Option<String>,
}

/// The provenance of one row (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub doc_ids: Vec<String>,
    pub sources: Vec<String>,
    /// blake3 of each document's bytes, in the order of `doc_ids`.
    pub content_hashes: Vec<String>,
    pub chunk_ids: Vec<String>,
    pub models: Vec<ModelRef>,
    /// Version of the prompt the LLM was given; `None` when no prompt was involved.
    pub prompt_version: Option<u32>,
    pub job: String,
    pub run_id: String,
    /// When the row was made, RFC 3339 UTC.
    pub at: String,
}

/// A new run id: the UTC time (to the second) and 8 hex digits that tell apart runs
/// started in the same second (hashed from the clock's nanoseconds and the process id).
pub fn run_id() -> String {
    let now = chrono::Utc::now();
    let mut h = blake3::Hasher::new();
    h.update(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    let tag = h.finalize().to_hex();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &tag[..8])
}

/// The current time as provenance writes it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One cached file hash, valid while the file keeps its size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    blake3: String,
}

/// blake3 digests of files, cached by path, size and modification time in memory and
/// in a JSON file (a lost or unreadable cache file only costs hashing again).
#[derive(Debug)]
pub struct FileHashes {
    path: Option<PathBuf>,
    known: Mutex<HashMap<PathBuf, Entry>>,
}

impl FileHashes {
    /// A cache kept in the file `path` (read now, written when a hash is added).
    pub fn at(path: PathBuf) -> FileHashes {
        let known = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        FileHashes {
            path: Some(path),
            known: Mutex::new(known),
        }
    }

    /// The cache of docket's home (`cache/file-hashes.json`).
    pub fn in_home() -> FileHashes {
        Self::at(
            crate::models::docket_home()
                .join("cache")
                .join("file-hashes.json"),
        )
    }

    /// The blake3 hex digest of the file at `path`: from the cache when the file has the
    /// size and modification time it had when hashed, else read and hashed now.
    pub fn hash(&self, path: &Path) -> Result<String> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = known.get(path)
            && e.size == meta.len()
            && e.mtime_ns == mtime_ns
        {
            return Ok(e.blake3.clone());
        }
        let mut h = blake3::Hasher::new();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        h.update_reader(file).map_err(|e| Error::io(path, e))?;
        let digest = h.finalize().to_hex().to_string();
        known.insert(
            path.to_owned(),
            Entry {
                size: meta.len(),
                mtime_ns,
                blake3: digest.clone(),
            },
        );
        if let Some(file) = &self.path {
            // A cache that cannot be written is only slower next time.
            let json = serde_json::to_vec(&*known).unwrap_or_default();
            let _ = crate::output::write_atomic(file, |w| {
                w.write_all(&json).map_err(|e| Error::io(file, e))
            });
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_cached_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.bin");
        std::fs::write(&file, b"weights v1").unwrap();
        let cache_file = dir.path().join("hashes.json");
        let hashes = FileHashes::at(cache_file.clone());
        let first = hashes.hash(&file).unwrap();
        assert_eq!(first, blake3::hash(b"weights v1").to_hex().to_string());
        // A second cache reads the first one's file: no need to hash again, and the
        // cached digest is what it returns.
        let again = FileHashes::at(cache_file.clone());
        assert_eq!(again.known.lock().unwrap().len(), 1);
        assert_eq!(again.hash(&file).unwrap(), first);
        // Another size: hashed anew.
        std::fs::write(&file, b"weights version 2").unwrap();
        assert_eq!(
            again.hash(&file).unwrap(),
            blake3::hash(b"weights version 2").to_hex().to_string()
        );
    }

    #[test]
    fn run_ids_are_time_based_and_distinct() {
        let (a, b) = (run_id(), run_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261207T203000Z-0123abcd".len());
        assert!(a.starts_with("20"));
    }
}
