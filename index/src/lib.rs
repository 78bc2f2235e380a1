//! The index stage of docket: embeds chunks from [`docket_ingest`] into a vector store
//! and a BM25 index, keeps a catalog of what is indexed, and retrieves.
//!
//! - [`embed`]: the sentence embedder (BERT-family models, vectors equal to
//!   sentence-transformers'), on docket-kernels' AVX-512 kernels.
//! - [`catalog`] and [`manifest`]: what an index holds and the settings it was made with.
//! - [`lexical`]: the BM25 index on tantivy; [`eval`]: retrieval metrics on BEIR data.
//! - [`vector`]: the vector stores, embedded (qdrant-edge) and Qdrant server.
//! - [`filter`]: metadata filters and hits shared by every retrieval backend.
//! - [`index`]: an index directory with all of the above kept in step, for writing
//!   incrementally and crash-safely and for searching; [`fusion`] makes search hybrid.

pub mod catalog;
pub mod embed;
pub mod error;
pub mod eval;
pub mod filter;
pub mod fusion;
pub mod home;
pub mod index;
pub mod lexical;
pub mod manifest;
pub mod record;
pub mod vector;

pub use catalog::{Catalog, DocEntry, DocState};
pub use error::{Error, Fault, Result};
pub use filter::{Filter, Hit};
pub use fusion::{FusedHit, FusionConfig, FusionMethod, LegHit};
pub use index::{
    Action, Fallback, Index, IndexSettings, Legs, Mode, SearchHit, SearchResults, Status,
    WriteConfig, WriteStats,
};
pub use lexical::{AnalyzerConfig, Bm25Index, LexicalConfig, LexicalIndex, Snippet};
pub use manifest::{Manifest, SCHEMA_VERSION};
pub use record::HitRecord;
pub use vector::{VectorSpec, VectorStore, VectorStoreConfig, open_store};
