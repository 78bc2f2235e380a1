//! Errors of the index stage. Every variant names the index, file or model at fault, so
//! a message read in a log says what to fix without a backtrace; variants say who must
//! act: the user (an index made with another model, a bad setting or model file), the
//! runtime (a store that failed), or docket (a broken invariant).

use std::path::PathBuf;

/// Errors of the index crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No model directory was given or found in the usual places.
    #[error(transparent)]
    ModelNotFound(#[from] crate::home::ModelNotFound),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The caller could not note durably which files a sync is working on (see
    /// [`crate::sync::Marks`]); the files' work went on, but a crash would not have
    /// been accounted to them.
    #[error("cannot record the files in progress: {reason}")]
    Marks { reason: String },
    /// A model configuration file (config.json, modules.json, ...) is malformed or asks
    /// for something this crate does not implement.
    #[error("invalid model configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// tokenizer.json could not be loaded or could not encode a text.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// model.safetensors is unreadable, or a tensor is missing or has the wrong shape.
    #[error("weights {path}: {reason}")]
    Weights { path: PathBuf, reason: String },
    /// The embedder's thread pool could not be started.
    #[error("model {model}: {reason}")]
    Runtime { model: String, reason: String },
    /// The index at `path` was made with other settings than the ones asked for; using
    /// it would silently mix incompatible vectors or chunks.
    #[error(
        "{path}: index was made with {setting} {found}, not {wanted}; use another index directory or rebuild it"
    )]
    ManifestMismatch {
        path: PathBuf,
        setting: &'static str,
        found: String,
        wanted: String,
    },
    /// The index was written by a docket whose on-disk format this one cannot read.
    #[error(
        "{path}: index schema version {found} is not supported (this docket reads {supported})"
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A directory given as an index holds no manifest: it is not a docket index.
    #[error("{}: not a docket index (no manifest.json); create it with `docket index`", path.display())]
    NotAnIndex { path: PathBuf },
    /// The index holds vectors, so writing to it or a dense search needs the embedding
    /// model it was made with.
    #[error("{}: the index holds vectors; this needs its embedding model", path.display())]
    EmbedderRequired { path: PathBuf },
    /// The catalog database failed.
    #[error("{path}: catalog: {reason}")]
    Catalog { path: PathBuf, reason: String },
    /// A persisted file is not what docket wrote (damaged, edited by hand, or from
    /// another version of docket).
    #[error("{path}: cannot read: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The BM25 index in `path` could not be opened, written or committed.
    #[error("BM25 index {path}: {source}")]
    Lexical {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    /// Another process (or another handle in this one) is writing the BM25 index.
    #[error("BM25 index {path} is locked by another writer; close it first")]
    LexicalLocked { path: PathBuf },
    /// Another process is writing the index (waited a few seconds for it).
    #[error("{}: the index is being written by another process; try again when it is done", path.display())]
    IndexLocked { path: PathBuf },
    /// The BM25 index in `path` was built with other analyzer settings than requested;
    /// its terms would not match queries analyzed the new way.
    #[error(
        "BM25 index {path} was built with analyzer {found}, not {wanted}; rebuild it or use its settings"
    )]
    AnalyzerMismatch {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    /// A search could not be run.
    #[error("search {query:?}: {source}")]
    Search {
        query: String,
        #[source]
        source: tantivy::TantivyError,
    },
    /// A filter's source glob does not parse.
    #[error("invalid source glob {glob:?}: {source}")]
    Glob {
        glob: String,
        #[source]
        source: globset::Error,
    },
    /// A setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
    /// A vector's length is not the store's dimension, or a store was opened with another
    /// dimension than the one it was created with (re-embedding with another model needs a
    /// new index).
    #[error("{store}: vectors have {expected} dimensions here, got {found}")]
    DimensionMismatch {
        store: String,
        expected: usize,
        found: usize,
    },
    /// A store was created with another distance than the one asked for.
    #[error("{store}: created with distance {existing}, opened with {requested}")]
    DistanceMismatch {
        store: String,
        existing: String,
        requested: String,
    },
    /// A vector holds NaN or an infinity, which no distance can rank.
    #[error("vector of chunk {chunk_id} is not finite")]
    NonFiniteVector { chunk_id: String },
    /// Another process (or another handle in this one) holds the vector store open.
    #[error("{}: the vector store is in use by another process", path.display())]
    Locked { path: PathBuf },
    /// The embedded vector engine (qdrant-edge) failed on the store at `path`.
    #[error("embedded vector store {}: {operation} failed: {reason}", path.display())]
    Embedded {
        path: PathBuf,
        operation: &'static str,
        reason: String,
    },
    /// A Qdrant server error that may succeed if tried again (unavailable, timeout,
    /// rate-limited); returned once the configured retries are used up.
    #[error(
        "qdrant collection {collection}: {operation} failed after {attempts} attempts: {reason}"
    )]
    ServerTransient {
        collection: String,
        operation: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A Qdrant server error that retrying will not fix (bad request, auth, not found).
    #[error("qdrant collection {collection}: {operation} failed: {reason}")]
    Server {
        collection: String,
        operation: &'static str,
        reason: String,
    },
    /// A stored payload is not the shape this version writes (e.g. written by another tool).
    #[error("{store}: point {point} has an unreadable payload: {reason}")]
    Payload {
        store: String,
        point: String,
        reason: String,
    },
    /// A data file (BEIR corpus, queries, qrels) has a malformed line.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Finding or reading the documents to index failed as a whole (e.g. a path given to
    /// a sync does not exist); one document's failure is reported with the document.
    #[error(transparent)]
    Ingest(#[from] docket_ingest::Error),
}

impl Error {
    /// Whether the operation may succeed if the caller tries again later (a server that
    /// timed out, a store another process holds).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::ServerTransient { .. } | Error::Locked { .. } | Error::IndexLocked { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Who must act on this error; everything not named here is the environment's
    /// (model files, disks, stores, servers).
    pub fn fault(&self) -> Fault {
        match self {
            Error::ManifestMismatch { .. }
            | Error::SchemaVersion { .. }
            | Error::NotAnIndex { .. }
            | Error::EmbedderRequired { .. }
            | Error::AnalyzerMismatch { .. }
            | Error::Glob { .. }
            | Error::Setting { .. }
            | Error::DimensionMismatch { .. }
            | Error::DistanceMismatch { .. } => Fault::Usage,
            Error::ServerTransient { .. }
            | Error::Locked { .. }
            | Error::LexicalLocked { .. }
            | Error::IndexLocked { .. } => Fault::Transient,
            Error::Parse { .. } => Fault::Input,
            Error::NonFiniteVector { .. } => Fault::Bug,
            _ => Fault::Environment,
        }
    }
}

pub use docket_ingest::Fault;

/// Result alias of the index crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
