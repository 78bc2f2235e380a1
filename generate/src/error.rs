//! Errors of the generate stage. Every variant names the model file, server or setting
//! at fault so a logged message says what to fix; [`Error::is_transient`] tells the
//! failures worth retrying (a server that was busy or unreachable) from those that are
//! the user's to fix (a bad model file, a prompt too long, a rejected API key) and from
//! docket's own bugs ([`Error::Internal`]).

use std::path::PathBuf;

/// Errors of the generate crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No model file was given or found in the usual places (user: fetch or configure).
    #[error(transparent)]
    ModelNotFound(#[from] docket_index::home::ModelNotFound),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The GGUF file is malformed, or its metadata or tensors are not what a
    /// llama-family model needs (user: another model file).
    #[error("model file {path}: {reason}")]
    Gguf { path: PathBuf, reason: String },
    /// The tokenizer could not be built from the model, or failed on a text.
    #[error("tokenizer of {model}: {reason}")]
    Tokenizer { model: String, reason: String },
    /// The model's chat template could not render a conversation (it raised an
    /// exception or uses what the template engine lacks).
    #[error("chat template of {model}: {reason}")]
    ChatTemplate { model: String, reason: String },
    /// The backend cannot do what was asked (user: another backend or model).
    #[error("{backend} backend: {what} is not supported")]
    Unsupported { backend: String, what: String },
    /// The prompt (with room for one generated token) does not fit the model's context
    /// (user: shorten the prompt or the retrieved context).
    #[error("prompt of {tokens} tokens does not fit the context of {context} tokens of {model}")]
    PromptTooLong {
        model: String,
        tokens: usize,
        context: usize,
    },
    /// A setting is invalid (user).
    #[error("invalid setting {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
    /// The API key's environment variable is unset or empty (user).
    #[error("the API key variable {var} is not set")]
    MissingApiKey { var: String },
    /// The server refused the request for good (a 4xx other than 408/429): its own
    /// message is kept, and the request was not retried.
    #[error("{url} answered {status}: {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },
    /// The server stayed unreachable, overloaded or failing (connect errors, timeouts,
    /// 408, 429, 5xx) through every retry: worth trying again later.
    #[error("{url} failed after {attempts} attempts: {reason}")]
    Transient {
        url: String,
        attempts: u32,
        reason: String,
    },
    /// The server's answer could not be understood (not OpenAI-compatible?).
    #[error("{url}: unexpected answer: {reason}")]
    Protocol { url: String, reason: String },
    /// The worker threads could not be started.
    #[error("cannot start the generator's threads: {reason}")]
    Runtime { reason: String },
    /// A broken invariant inside docket: a bug to report.
    #[error("internal error (a bug in docket): {reason}")]
    Internal { reason: String },
    /// The embedder failed (model not found, tokenizer, runtime).
    #[error("embedding failed: {0}")]
    Embed(#[from] docket_index::Error),
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
    /// The index could not be searched (an answer's retrieval); the index's own error,
    /// unchanged, so a front end can tell a usage error from a damaged index.
    #[error(transparent)]
    Search(docket_index::Error),
}

impl Error {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. } | Error::Runtime { .. })
    }
}

impl Error {
    /// Who must act on this error; everything not named here is the environment's
    /// (model files, servers, threads).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Config { .. }
            | Error::Setting { .. }
            | Error::PromptTooLong { .. }
            | Error::Unsupported { .. }
            | Error::ChatTemplate { .. }
            | Error::Labels { .. }
            | Error::Training { .. }
            | Error::EmbedderMismatch { .. }
            | Error::EmbedderMissing { .. }
            | Error::FormatVersion { .. } => Fault::Usage,
            Error::Parse { .. } | Error::Input { .. } => Fault::Input,
            Error::Transient { .. } => Fault::Transient,
            Error::Internal { .. } => Fault::Bug,
            Error::Embed(e) | Error::Search(e) => e.fault(),
            _ => Fault::Environment,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result of the generate crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use docket_index::Fault;
