//! The index stage of docket: embeds chunks from [`docket_ingest`] into a vector store
//! and a BM25 index, keeps a catalog of what is indexed, and retrieves.

pub mod catalog;
pub mod error;
pub mod filter;
pub mod manifest;

pub use catalog::{Catalog, DocEntry, DocState};
pub use error::{Error, Result};
pub use filter::{Filter, Hit};
pub use manifest::{Manifest, SCHEMA_VERSION};
