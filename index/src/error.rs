//! Errors of the index stage. Each variant names what was at fault (a path, a collection, a
//! setting) so a message alone tells a user where to look; server errors say whether they
//! were transient (and retried until the retry budget ran out) or permanent.

use std::path::PathBuf;

/// Anything that can go wrong while building or querying an index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range or inconsistent.
    #[error("invalid setting {name}: {reason}")]
    Config { name: &'static str, reason: String },

    /// A filter given by the user cannot be applied (e.g. a malformed source glob).
    #[error("invalid filter: {reason}")]
    InvalidFilter { reason: String },

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

    /// File-system failure on the index directory.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another process (or another handle in this one) holds the store open.
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
}

impl Error {
    /// Whether the operation may succeed if the caller tries again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::ServerTransient { .. } | Error::Locked { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
