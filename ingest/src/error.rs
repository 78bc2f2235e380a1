//! Errors of the ingest stage.
//!
//! Two layers, so that every message a user sees names the file: loaders are pure
//! functions of bytes and report a [`DocError`] (the reason), and the caller that knows
//! where the bytes came from wraps it into [`Error`] with the path.

use std::path::PathBuf;

/// Why one document could not be turned into text.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DocError {
    /// The file could not be read at all (permissions, vanished, I/O error).
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// The bytes are not of the format the file claims to be.
    #[error("not a {expected} file: {reason}")]
    WrongFormat {
        expected: &'static str,
        reason: String,
    },
    /// The file is cut short or its structure is damaged beyond repair.
    #[error("truncated or corrupt: {0}")]
    Corrupt(String),
    /// The PDF is encrypted and neither the empty password nor the given one opens it.
    #[error("encrypted: a password is needed")]
    PasswordRequired,
    /// A password was supplied but does not open the document.
    #[error("encrypted: the password given does not open it")]
    WrongPassword,
    /// The document uses an encryption scheme that is not supported.
    #[error("encrypted with an unsupported scheme: {0}")]
    UnsupportedEncryption(String),
    /// A configured size cap was exceeded (file size, decompressed stream, text).
    #[error("too large: {what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// Nesting of objects, forms or XML went deeper than the configured bound.
    #[error("too deeply nested: {0}")]
    TooDeep(String),
    /// The parse of one document took longer than the configured time.
    #[error("parse took longer than the limit of {secs} s")]
    Timeout { secs: u64 },
    /// No loader handles this kind of file.
    #[error("unsupported format: {0}")]
    Unsupported(String),
    /// A parser panicked. This is a bug in docket, reported per document so the batch
    /// goes on.
    #[error("internal error while parsing (a bug, please report it): {0}")]
    Panic(String),
}

impl DocError {
    /// A short stable name for the kind of failure, for reports and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            DocError::Unreadable(_) => "unreadable",
            DocError::WrongFormat { .. } => "wrong_format",
            DocError::Corrupt(_) => "corrupt",
            DocError::PasswordRequired => "password_required",
            DocError::WrongPassword => "wrong_password",
            DocError::UnsupportedEncryption(_) => "unsupported_encryption",
            DocError::TooLarge { .. } => "too_large",
            DocError::TooDeep(_) => "too_deep",
            DocError::Timeout { .. } => "timeout",
            DocError::Unsupported(_) => "unsupported",
            DocError::Panic(_) => "panic",
        }
    }
}

/// Errors of the ingest crate; each names the file (and line, for records) at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One document failed; the batch it belongs to goes on.
    #[error("{path}: {reason}")]
    Document { path: PathBuf, reason: DocError },
    /// One row of a records file (CSV, TSV, JSON Lines) failed.
    #[error("{path}{}: {reason}", line_suffix(*line))]
    Record {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// Walking the input paths failed (missing path, bad glob, unreadable folder).
    #[error("{path}: {reason}")]
    Walk { path: PathBuf, reason: String },
    /// The tokenizer used to count chunk sizes could not be loaded or failed.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    /// A setting is out of range or inconsistent; the user must fix the configuration.
    #[error("invalid setting `{name}`: {reason}")]
    Config { name: &'static str, reason: String },
}

impl Error {
    /// Attach a path to a document failure.
    pub fn document(path: impl Into<PathBuf>, reason: DocError) -> Self {
        Error::Document {
            path: path.into(),
            reason,
        }
    }

    /// A short stable name for the kind of failure, for reports and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Document { reason, .. } => reason.kind(),
            Error::Record { .. } => "bad_record",
            Error::Walk { .. } => "walk",
            Error::Tokenizer { .. } => "tokenizer",
            Error::Config { .. } => "config",
        }
    }
}

impl Error {
    /// Who must act on this error (every docket crate answers the same question, so the
    /// binary can pick an exit code without knowing the variants).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Document { reason, .. } => match reason {
                DocError::Panic(_) => Fault::Bug,
                DocError::Unreadable(_) => Fault::Environment,
                _ => Fault::Input,
            },
            Error::Record { .. } | Error::Walk { .. } => Fault::Input,
            Error::Tokenizer { .. } => Fault::Environment,
            Error::Config { .. } => Fault::Usage,
        }
    }
}

/// Who must act on an error. Shared by every docket crate (re-exported by docket-index
/// and docket-generate), so that "whose fault" means the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// A document or data file is bad (corrupt, encrypted, malformed row): fix or skip
    /// the input.
    Input,
    /// Settings or arguments that cannot work (out of range, conflicting, an index made
    /// with another model): the user must change what they asked for.
    Usage,
    /// A configuration file (a job file) is invalid.
    Config,
    /// Something around docket is missing or failing for good (a model not fetched, a
    /// disk error, a server that refuses): fix the environment.
    Environment,
    /// A failure that may pass if tried again later (a busy server, a held lock).
    Transient,
    /// A broken invariant inside docket: a bug to report.
    Bug,
}

/// `:line`, or nothing for an error about the whole file (line 0).
fn line_suffix(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// Result alias of the ingest crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
