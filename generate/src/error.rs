//! Errors of the generate stage. Every variant names the file, model or setting at fault
//! so that a message read in a log says what to fix without a backtrace.

use std::path::PathBuf;

/// Errors of the generate crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedder failed (model not found, tokenizer, runtime).
    #[error("embedding failed: {0}")]
    Embed(#[from] docket_index::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A labels, examples or model file has a malformed line or value.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A saved classifier was trained with another embedding model than the one it is
    /// loaded with; its weights would be applied to vectors of another space.
    #[error(
        "{path}: classifier was trained on embeddings of {trained}, but the embedder given is {given}; load it with {trained} or retrain"
    )]
    EmbedderMismatch {
        path: PathBuf,
        trained: String,
        given: String,
    },
    /// A saved classifier needs an embedder and none was given.
    #[error("{path}: classifier uses embeddings of {trained}; load it with that embedder")]
    EmbedderMissing { path: PathBuf, trained: String },
    /// A saved classifier was written by a docket whose format this one cannot read.
    #[error(
        "{path}: classifier format version {found} is not supported (this docket reads {supported})"
    )]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A saved classifier is not what docket wrote (damaged, or edited by hand).
    #[error("{path}: cannot read classifier: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The labels given cannot make a classifier (none, duplicates, a blank name).
    #[error("invalid labels: {reason}")]
    Labels { reason: String },
    /// The training examples cannot train a classifier (fewer than two labels, empty).
    #[error("cannot train: {reason}")]
    Training { reason: String },
    /// Inputs that must correspond do not (texts and embeddings of different counts or
    /// dimensions).
    #[error("input mismatch: {reason}")]
    Input { reason: String },
    /// A setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of the generate crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
