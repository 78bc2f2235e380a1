//! Metadata filters and search hits, shared by every retrieval backend (embedded vector
//! store, Qdrant server, BM25) so that `--filter` means the same in every mode.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Conditions a chunk must meet to be returned; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    /// Glob on the chunk's `source` path (e.g. `policies/**`, `*.pdf`).
    pub source_glob: Option<String>,
    /// Only chunks of documents in these formats (`pdf`, `markdown`, ...), if non-empty.
    pub formats: Vec<String>,
    /// Exact matches on ingest metadata fields (`priority=high`), all required.
    pub metadata: BTreeMap<String, String>,
    /// Only chunks of these documents, if non-empty.
    pub doc_ids: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.source_glob.is_none()
            && self.formats.is_empty()
            && self.metadata.is_empty()
            && self.doc_ids.is_empty()
    }
}

/// One retrieved chunk with its score under the backend that found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub chunk_id: String,
    pub doc_id: String,
    /// Higher is better; comparable only within one backend's ranking.
    pub score: f32,
}
