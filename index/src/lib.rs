//! The index stage of docket: embeds chunks from [`docket_ingest`] into a vector store
//! and a BM25 index, and retrieves them. Built in the index issue; this crate exists now
//! so the workspace has the shape the architecture describes.

pub mod error;
pub mod filter;
pub mod vector;

pub use error::{Error, Result};
pub use filter::{Filter, Hit};
pub use vector::{VectorSpec, VectorStore, VectorStoreConfig, open_store};
