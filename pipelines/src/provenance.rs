//! Provenance: what every job output row was made from, in one set of fields (the
//! README's table lists them per output format).
//!
//! A row's `provenance` object says which row it is (`row_id`, what `docket explain`
//! takes), which documents (id, source, content hash, license and usage) and chunks it
//! was made from, which models (id and the blake3 of the model file, so a
//! replaced file with the same name is told apart), which prompt version, which job and
//! run, and when. A run id is made per `docket run` invocation, and per one-off command
//! (`docket ask`, `search`, `classify`, whose rows have no job) ([`run_id`]). Hashing a
//! model file costs a read of it (hundreds of MB), so hashes are kept in a small cache
//! under docket's home, keyed by path, size and modification time ([`FileHashes`]), and
//! in memory for the run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use docket_generate::answer::Answer;
use docket_index::{DocEntry, Index, SearchHit};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::settings::{LICENSE_KEY, LlmSpec, USAGE_KEY};

/// A model a row was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// The model's id, as `docket models list` and the index manifest name it.
    pub id: String,
    /// blake3 hex digest of the model file (the embedder's `model.safetensors`, the
    /// LLM's GGUF file); `None` for a model behind a server.
    pub file_hash: Option<String>,
}

impl ModelRef {
    /// The embedding model `id` loaded from the folder `dir` (`None`: the default
    /// model's folder), with the hash of its weights file.
    pub fn embedder(hashes: &FileHashes, id: &str, dir: Option<&Path>) -> ModelRef {
        let dir = dir.map_or_else(|| crate::models::EMBEDDER.dir(), Path::to_path_buf);
        ModelRef {
            id: id.to_owned(),
            file_hash: hashes.hash(&dir.join(crate::models::EMBEDDER.marker)).ok(),
        }
    }

    /// The LLM `id` that `spec` loads, with the hash of its GGUF file (none for a
    /// server's model, or a file that cannot be read any more).
    pub fn llm(hashes: &FileHashes, id: &str, spec: &LlmSpec) -> ModelRef {
        let file = match (&spec.url, &spec.model) {
            (Some(_), _) => None,
            (None, Some(file)) => Some(file.clone()),
            (None, None) => Some(
                crate::models::GENERATOR
                    .dir()
                    .join(crate::models::GENERATOR.marker),
            ),
        };
        ModelRef {
            id: id.to_owned(),
            file_hash: file.and_then(|f| hashes.hash(&f).ok()),
        }
    }
}

/// A document a row was made from, as provenance names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRef {
    pub doc_id: String,
    pub source: String,
    pub content_hash: String,
    /// The document's `license` and `usage` metadata (from `[sources]`, `--license`,
    /// `--usage` or the document itself).
    pub license: Option<String>,
    pub usage: Option<String>,
}

impl DocRef {
    /// The catalogued document `entry`, with its `license` and `usage` from `metadata`
    /// (its chunks').
    pub fn new(entry: &DocEntry, metadata: &BTreeMap<String, String>) -> DocRef {
        DocRef {
            doc_id: entry.doc_id.clone(),
            source: entry.source.clone(),
            content_hash: entry.content_hash.clone(),
            license: metadata.get(LICENSE_KEY).cloned(),
            usage: metadata.get(USAGE_KEY).cloned(),
        }
    }

    /// The catalogued document `doc_id` of `index`, its metadata read from its first
    /// chunk unless given; `None` when the catalog does not hold it.
    pub fn lookup(
        index: &Index,
        doc_id: &str,
        metadata: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<DocRef>> {
        let Some(entry) = index.catalog().get(doc_id)? else {
            return Ok(None);
        };
        let read;
        let metadata = match metadata {
            Some(m) => m,
            None => {
                read = index.document_metadata(&entry)?;
                &read
            }
        };
        Ok(Some(DocRef::new(&entry, metadata)))
    }
}

/// The provenance of one row (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The row's id, `RUN_ID/TASK/KEY`: what `docket explain` takes.
    pub row_id: String,
    pub doc_ids: Vec<String>,
    pub sources: Vec<String>,
    /// blake3 of each document's bytes, in the order of `doc_ids`.
    pub content_hashes: Vec<String>,
    /// Each document's `license` metadata, in the order of `doc_ids` (null: none).
    pub licenses: Vec<Option<String>>,
    /// Each document's `usage` metadata, in the order of `doc_ids` (null: none).
    pub usages: Vec<Option<String>>,
    pub chunk_ids: Vec<String>,
    pub models: Vec<ModelRef>,
    /// Version of the prompt the LLM was given; `None` when no prompt was involved.
    pub prompt_version: Option<u32>,
    /// The job whose task made the row; `None` for a one-off command.
    pub job: Option<String>,
    pub run_id: String,
    /// When the row was made, RFC 3339 UTC.
    pub at: String,
}

impl Provenance {
    /// The provenance of the row `key` of `task` in the run `run_id`, made now from
    /// `docs` (and of them, the chunks `chunk_ids`).
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per field a caller knows; the rest are made here"
    )]
    pub fn new(
        run_id: &str,
        task: &str,
        key: &str,
        docs: &[DocRef],
        chunk_ids: Vec<String>,
        models: Vec<ModelRef>,
        prompt_version: Option<u32>,
        job: Option<&str>,
    ) -> Provenance {
        Provenance {
            row_id: row_id(run_id, task, key),
            doc_ids: docs.iter().map(|d| d.doc_id.clone()).collect(),
            sources: docs.iter().map(|d| d.source.clone()).collect(),
            content_hashes: docs.iter().map(|d| d.content_hash.clone()).collect(),
            licenses: docs.iter().map(|d| d.license.clone()).collect(),
            usages: docs.iter().map(|d| d.usage.clone()).collect(),
            chunk_ids,
            models,
            prompt_version,
            job: job.map(str::to_owned),
            run_id: run_id.to_owned(),
            at: now_rfc3339(),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The documents an answer's cited sources are (with the license and usage their
/// retrieved chunks carry) and the chunks it cites: what its provenance names.
pub fn answer_docs(index: &Index, a: &Answer) -> (Vec<DocRef>, Vec<String>) {
    let mut docs: Vec<DocRef> = Vec::new();
    for s in &a.sources {
        if docs.iter().any(|d| d.doc_id == s.doc_id) {
            continue;
        }
        let metadata = a
            .retrieved
            .iter()
            .find(|r| r.doc_id == s.doc_id)
            .map(|r| &r.metadata);
        if let Ok(Some(d)) = DocRef::lookup(index, &s.doc_id, metadata) {
            docs.push(d);
        }
    }
    let chunks = a.sources.iter().map(|s| s.chunk_id.clone()).collect();
    (docs, chunks)
}

/// The prompt version of an answer: the answer prompts' when an LLM was asked (its
/// answer kept, or the extractive one in its place), none for an extractive answer.
pub fn answer_prompt_version(a: &Answer) -> Option<u32> {
    a.model
        .is_some()
        .then_some(docket_generate::answer::PROMPT_VERSION)
}

/// The run of a one-off command (`docket ask`, `search`, `classify`, a server
/// request): a fresh run id, no job, and model hashes from the cache in docket's home.
#[derive(Debug)]
pub struct OneOff {
    pub run_id: String,
    /// What names the rows' task in their ids (`ask`, `search`, `classify`).
    pub task: &'static str,
    pub hashes: FileHashes,
}

impl OneOff {
    pub fn new(task: &'static str) -> OneOff {
        OneOff {
            run_id: run_id(),
            task,
            hashes: FileHashes::in_home(),
        }
    }

    /// The provenance of this run's row `key`.
    pub fn provenance(
        &self,
        key: &str,
        docs: &[DocRef],
        chunk_ids: Vec<String>,
        models: Vec<ModelRef>,
        prompt_version: Option<u32>,
    ) -> Provenance {
        Provenance::new(
            &self.run_id,
            self.task,
            key,
            docs,
            chunk_ids,
            models,
            prompt_version,
            None,
        )
    }

    /// The provenance of a search hit: its chunk and document, found with `models`.
    pub fn hit(
        &self,
        index: &Index,
        key: &str,
        hit: &SearchHit,
        models: Vec<ModelRef>,
    ) -> Result<Provenance> {
        let c = &hit.chunk;
        let docs: Vec<DocRef> = DocRef::lookup(index, &c.doc_id, Some(&c.metadata))?
            .into_iter()
            .collect();
        Ok(self.provenance(key, &docs, vec![c.id.clone()], models, None))
    }

    /// The provenance of an answer made with `models` (the embedder's; the LLM's is
    /// added here when one was asked, from `llm`).
    pub fn answer(
        &self,
        index: &Index,
        key: &str,
        a: &Answer,
        mut models: Vec<ModelRef>,
        llm: Option<&LlmSpec>,
    ) -> Provenance {
        let (docs, chunks) = answer_docs(index, a);
        if let (Some(id), Some(spec)) = (&a.model, llm) {
            models.push(ModelRef::llm(&self.hashes, id, spec));
        }
        self.provenance(key, &docs, chunks, models, answer_prompt_version(a))
    }

    /// The embedder `index` searches with, as a model reference (none without one);
    /// `dir` is the folder it was loaded from (`None`: the default model's).
    pub fn embedder(&self, index: &Index, dir: Option<&Path>) -> Vec<ModelRef> {
        index
            .embedder()
            .map(|e| ModelRef::embedder(&self.hashes, e.model_id(), dir))
            .into_iter()
            .collect()
    }
}

/// The id of the row `key` of `task` in the run `run_id`: `RUN_ID/TASK/KEY`. The run id
/// has no `/`, so the first one ends it (a key may hold any character).
pub fn row_id(run_id: &str, task: &str, key: &str) -> String {
    format!("{run_id}/{task}/{key}")
}

/// The run id of a row id (see [`row_id`]).
pub fn run_of(row_id: &str) -> &str {
    row_id.split_once('/').map_or(row_id, |(run, _)| run)
}

/// The provenance columns of a CSV output, after the row's own (lists joined by `|`, a
/// model as `id@blake3`, a missing license or usage as an empty cell).
pub const PROVENANCE_COLUMNS: [&str; 10] = [
    "content_hash",
    "chunk_ids",
    "models",
    "prompt_version",
    "license",
    "usage",
    "job",
    "row_id",
    "run_id",
    "at",
];

/// The cells of [`PROVENANCE_COLUMNS`] from a row's `provenance` object.
pub fn provenance_cells(p: &Value) -> [String; 10] {
    let list = |k: &str| -> String {
        p[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default()
    };
    let models: Vec<String> = p["models"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let id = m["id"].as_str().unwrap_or("");
                    match m["file_hash"].as_str() {
                        Some(h) => format!("{id}@{h}"),
                        None => id.to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    [
        list("content_hashes"),
        list("chunk_ids"),
        models.join("|"),
        p["prompt_version"]
            .as_u64()
            .map_or(String::new(), |v| v.to_string()),
        list("licenses"),
        list("usages"),
        s("job"),
        s("row_id"),
        s("run_id"),
        s("at"),
    ]
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
