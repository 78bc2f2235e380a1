//! The ingest stage of docket: parse documents of many formats into clean text with
//! pages and headings ([`Document`]), then cut them into token-counted chunks that later
//! stages embed, index and cite.
//!
//! ```
//! use std::sync::Arc;
//! use docket_ingest::{ApproxTokenizer, Chunker, ChunkingConfig, IngestOptions, Ingestor, SourceFile};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("travel.md");
//! std::fs::write(&path, "# Travel\n\nFlights are booked in economy class.\n")?;
//! let doc = Ingestor::new(IngestOptions::default()).load(&SourceFile::explicit(&path))?;
//! assert_eq!(doc.source, "travel.md");
//!
//! // Token counts approximated without a model's tokenizer (see `HfTokenizer`).
//! let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer))?;
//! let chunks = chunker.chunk(&doc)?;
//! assert_eq!(chunks.len(), 1);
//! assert!(chunks[0].text.contains("economy class"));
//! assert_eq!(chunks[0].heading_path, ["Travel"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Loaders are pure functions of bytes behind the [`Loader`] trait and treat every input
//! as hostile ([`Limits`]); errors name the file and the reason ([`Error`]). Many files
//! go through one ordered, parallel [`stream`](stream::stream).

pub mod chunk;
pub mod document;
pub mod docx;
pub mod email;
pub mod error;
mod flow;
pub mod html;
pub mod image;
pub mod instructions;
pub mod language;
pub mod loader;
pub mod markdown;
pub mod memory;
pub mod normalize;
pub mod ocr;
pub mod pdf;
pub mod pipeline;
pub mod pptx;
pub mod records;
pub mod redact;
pub mod sheets;
pub mod source;
pub mod stream;
pub mod text;
pub mod tokens;
mod xml;

pub use chunk::{Chunk, Chunker, ChunkingConfig};
pub use document::{Document, Extracted, Format, Heading, Page, PageOcr, Table, TextBuilder};
pub use error::{DocError, Error, Fault, Result};
pub use loader::{Deadline, Limits, LoadContext, Loader};
pub use ocr::{Ocr, OcrMode, OcrOptions};
pub use pipeline::{IngestOptions, Ingestor, loader_for};
pub use redact::{PiiKind, RedactOptions, Redactor};
pub use source::{SourceFile, Walk, WalkOptions, walk};
pub use stream::{Decision, Ended, Item, StreamOptions, stream};
pub use tokens::{ApproxTokenizer, HfTokenizer, TokenCounter};
