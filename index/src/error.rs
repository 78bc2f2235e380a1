//! The error type of the index crate. Every variant names the file or model at fault, so
//! a message read in a log says what to fix without a backtrace.

use std::path::PathBuf;

/// Errors of the index stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No model directory was given or found in the usual places.
    #[error(
        "no embedding model found (looked in {looked_in}); fetch it with `cargo run --release -- models fetch` or set DOCKET_EMBED_MODEL to a model directory"
    )]
    ModelNotFound {
        /// The places searched, for the message.
        looked_in: String,
    },
    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configuration file (config.json, modules.json, ...) is malformed or asks for
    /// something this crate does not implement.
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
}

/// Result with the index crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
