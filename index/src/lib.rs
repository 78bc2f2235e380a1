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
//! - [`sync`]: bring an index up to date with a folder (what `docket index` does), by
//!   content hash, optionally one [`shard`] of it.
//!
//! A BM25-only index (no embedder, so no model needed), one document, one search:
//!
//! ```
//! use std::sync::Arc;
//! use docket_index::{Action, Filter, Index, IndexSettings, Mode};
//! use docket_ingest::document::content_hash;
//! use docket_ingest::{ApproxTokenizer, Chunker, ChunkingConfig, Document, Format, TextBuilder};
//!
//! let dir = tempfile::tempdir()?;
//! let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer))?;
//! let settings = IndexSettings {
//!     tokenizer: chunker.tokenizer_name().to_owned(),
//!     chunking: chunker.config().clone(),
//!     ..IndexSettings::default()
//! };
//! let mut index = Index::create_or_open(dir.path(), None, &settings)?;
//!
//! let text = "Flights are booked in economy class.";
//! let mut builder = TextBuilder::new();
//! builder.push_str(text);
//! let hash = content_hash(text.as_bytes());
//! let doc = Document::new("policies/travel.md".into(), Format::Markdown, hash, builder.finish(true));
//! let chunks = chunker.chunk(&doc)?;
//! index.stage(&doc, chunks, Action::Add)?;
//! index.commit()?;
//!
//! let results = index.search("economy flights", 5, Mode::Bm25, &Filter::default(), None)?;
//! assert_eq!(results.hits[0].chunk.source, "policies/travel.md");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
pub mod shard;
pub mod snapshot;
pub mod sync;
pub mod vector;

pub use catalog::{Catalog, DocEntry, DocState};
pub use error::{Error, Fault, Result};
pub use filter::{Filter, FilterTerm, Hit};
pub use fusion::{FusedHit, FusionConfig, FusionMethod, LegHit};
pub use index::{
    Action, Fallback, FlaggedChunk, Index, IndexSettings, Legs, Mode, SearchHit, SearchResults,
    Status, WriteConfig, WriteStats,
};
pub use lexical::{
    AnalyzerConfig, Analyzers, Bm25Index, DocFreqs, LexicalConfig, LexicalIndex, Snippet,
};
pub use manifest::{Manifest, SCHEMA_VERSION};
pub use record::HitRecord;
pub use shard::Shard;
pub use sync::{SyncConfig, SyncEvent, SyncHooks, SyncReport, sync};
pub use vector::{VectorSpec, VectorStore, VectorStoreConfig, open_store};
