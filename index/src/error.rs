//! Errors of the index stage. Each variant names what was at fault (the path, the query,
//! the setting) so a message is actionable without a backtrace.

use std::path::PathBuf;

/// Everything that can go wrong in the index stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read, written or created.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

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

    /// The BM25 index in `path` was built with other analyzer settings than requested;
    /// its terms would not match queries analyzed the new way.
    #[error(
        "BM25 index {path} was built with analyzer {found}, not {wanted}; \
         rebuild it or use its settings"
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
    Config { name: &'static str, reason: String },

    /// A data file (BEIR corpus, queries, qrels) has a malformed line.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    /// A stored chunk in the index is missing a field or has one of the wrong type: the
    /// index was not written by this version of docket, or is damaged.
    #[error("BM25 index {path}: stored chunk is malformed: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// Result of the index stage.
pub type Result<T> = std::result::Result<T, Error>;
