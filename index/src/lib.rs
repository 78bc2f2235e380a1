//! The index stage of docket: embeds chunks from [`docket_ingest`] into a vector store
//! and a BM25 index, and retrieves them; [`eval`] measures retrieval on BEIR-format data.

pub mod error;
pub mod eval;
pub mod filter;
pub mod lexical;

pub use error::{Error, Result};
pub use filter::{Filter, Hit};
pub use lexical::{AnalyzerConfig, Bm25Index, LexicalConfig, LexicalIndex, Snippet};
