//! Errors of the index stage. Variants say who must act: the user (an index made with
//! another model, a bad setting), the runtime (a store that failed; retry), or docket
//! (a broken invariant).

use std::path::PathBuf;

/// Errors of the index crate; each names the index, file or store at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The index at `path` was made with other settings than the ones asked for; using
    /// it would silently mix incompatible vectors or chunks.
    #[error(
        "{path}: index was made with {setting} {found}, not {wanted}; use another --index or rebuild it"
    )]
    ManifestMismatch {
        path: PathBuf,
        setting: &'static str,
        found: String,
        wanted: String,
    },
    /// The index was written by a newer or older docket whose format this one cannot read.
    #[error(
        "{path}: index schema version {found} is not supported (this docket reads {supported})"
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The catalog database failed.
    #[error("{path}: catalog: {reason}")]
    Catalog { path: PathBuf, reason: String },
    /// A file of the index could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A persisted file is not what docket wrote (damaged or edited by hand).
    #[error("{path}: cannot read: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of the index crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
