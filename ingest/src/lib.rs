//! The ingest stage of docket: parse documents of many formats into clean text with
//! pages and headings ([`Document`]), then cut them into token-counted chunks that later
//! stages embed, index and cite.
//!
//! Loaders are pure functions of bytes behind the [`Loader`] trait and treat every input
//! as hostile ([`Limits`]); errors name the file and the reason ([`Error`]).

pub mod chunk;
pub mod document;
pub mod docx;
pub mod email;
pub mod error;
mod flow;
pub mod html;
pub mod loader;
pub mod markdown;
pub mod normalize;
pub mod pdf;
pub mod pipeline;
pub mod records;
pub mod source;
pub mod text;
pub mod tokens;
mod xml;

pub use chunk::{Chunk, Chunker, ChunkingConfig};
pub use document::{Document, Extracted, Format, Heading, Page, TextBuilder};
pub use error::{DocError, Error, Fault, Result};
pub use loader::{Deadline, Limits, LoadContext, Loader, loader_for};
pub use pipeline::{IngestOptions, Ingestor};
pub use source::{SourceFile, Walk, WalkOptions, walk};
pub use tokens::{ApproxTokenizer, HfTokenizer, TokenCounter};
