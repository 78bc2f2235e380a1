//! Errors of the job engine. Like the stage crates' errors, each variant names the file
//! or setting at fault, and [`Error::fault`] says who must act, which is how the binary
//! picks its exit code.

use std::path::{Path, PathBuf};

pub use docket_ingest::Fault;

/// Who holds (or last held) a lock.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub job: String,
    pub started: String,
}

/// Another run holds the lock (a transient fault: try again later).
#[derive(Debug)]
pub struct LockHeld {
    pub path: PathBuf,
    pub holder: Option<Holder>,
}

impl std::fmt::Display for LockHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.holder {
            Some(h) => write!(
                f,
                "another run holds {} (job {}, pid {}, started {}); not starting",
                self.path.display(),
                h.job,
                h.pid,
                h.started
            ),
            None => write!(f, "another run holds {}; not starting", self.path.display()),
        }
    }
}

impl std::error::Error for LockHeld {}

/// Errors of docket-pipelines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A job file that cannot be used (syntax, unknown key, missing input).
    #[error("job file {}: {reason}", path.display())]
    JobFile { path: PathBuf, reason: String },
    /// Another run holds the index's run lock.
    #[error(transparent)]
    LockHeld(#[from] LockHeld),
    /// Settings that cannot work together, or a value out of range (the user's to fix).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The job's state database failed or holds what this docket did not write.
    #[error("job state {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
    /// An input file of a task (questions, labels, examples) has a malformed line.
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A default model could not be provisioned.
    #[error("model {package}: {reason}")]
    Provision { package: String, reason: String },
    /// Something the run needs cannot be had (an LLM that did not load).
    #[error("{0}")]
    Unavailable(String),
    /// An output row could not be written.
    #[error("writing {what}: {source}")]
    Output {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Ingest(#[from] docket_ingest::Error),
    #[error(transparent)]
    Index(#[from] docket_index::Error),
    #[error(transparent)]
    Generate(#[from] docket_generate::Error),
    /// What was being done when `source` happened.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Who must act on this error.
    pub fn fault(&self) -> Fault {
        match self {
            Error::JobFile { .. } => Fault::Config,
            Error::LockHeld(_) => Fault::Transient,
            Error::Usage(_) => Fault::Usage,
            Error::Parse { .. } => Fault::Input,
            Error::Io { .. } | Error::State { .. } | Error::Provision { .. } => Fault::Environment,
            Error::Output { .. } | Error::Unavailable(_) => Fault::Environment,
            Error::Ingest(e) => e.fault(),
            Error::Index(e) => e.fault(),
            Error::Generate(e) => e.fault(),
            Error::Context { source, .. } => source.fault(),
        }
    }

    /// Whether this is (or wraps) the lock of another run.
    pub fn lock_held(&self) -> Option<&LockHeld> {
        match self {
            Error::LockHeld(l) => Some(l),
            Error::Context { source, .. } => source.lock_held(),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_owned(),
            source,
        }
    }

    pub(crate) fn state(path: &Path, reason: impl std::fmt::Display) -> Error {
        Error::State {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// Writing an output failed; the cause is kept (a closed pipe must stay
    /// recognisable).
    pub fn output(
        what: impl std::fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Output {
            what: what.to_string(),
            source: source.into(),
        }
    }
}

/// Says what was being done when an error happened, as anyhow's `context` does for the
/// binary.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: what(),
            source: Box::new(e.into()),
        })
    }
}

/// Result alias of docket-pipelines.
pub type Result<T, E = Error> = std::result::Result<T, E>;
