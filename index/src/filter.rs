//! Metadata filters and search hits, shared by every retrieval backend (embedded vector
//! store, Qdrant server, BM25) so that `--filter` means the same in every mode.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// A compiled `--filter` source glob, with the conventions of `.gitignore`: `*` and `?`
/// stay within one path segment and `**` crosses them; a pattern without `/` matches the
/// file name at any depth (`*.pdf` is every PDF), one with `/` the whole relative path
/// (`policies/**`). Every backend matches sources with it, so a filter means the same in
/// every search mode.
#[derive(Debug, Clone)]
pub struct SourceMatcher {
    matcher: GlobMatcher,
    file_name_only: bool,
}

impl SourceMatcher {
    pub fn new(glob: &str) -> Result<SourceMatcher> {
        let matcher = GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|source| Error::Glob {
                glob: glob.to_owned(),
                source,
            })?
            .compile_matcher();
        Ok(SourceMatcher {
            matcher,
            file_name_only: !glob.contains('/'),
        })
    }

    pub fn is_match(&self, source: &str) -> bool {
        if self.file_name_only {
            let name = source.rsplit('/').next().unwrap_or(source);
            self.matcher.is_match(name)
        } else {
            self.matcher.is_match(source)
        }
    }
}
