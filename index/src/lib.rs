//! The index stage of docket: embeds chunks from [`docket_ingest`] into a vector store
//! and a BM25 index, and retrieves them.
//!
//! So far it holds the embedding model ([`embed`]): a sentence embedder that reproduces
//! sentence-transformers' vectors for BERT-family models.

pub mod embed;
pub mod error;

pub use error::{Error, Result};
