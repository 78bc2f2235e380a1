//! [`Filter`] turned into what a Qdrant filter can express, the same way for both backends.
//!
//! Doc ids, formats and metadata are exact keyword matches. Qdrant has no glob match, so a
//! source glob is resolved against the distinct sources in the store (a facet over the
//! indexed `source` field, narrowed by the other conditions) and becomes an exact match on
//! the matching sources. That is exact, costs one facet per filtered search (proportional to
//! the number of documents, not chunks), and never needs over-fetching and post-filtering.

use crate::error::Result;
use crate::filter::Filter;

use super::payload::{SourceMatcher, metadata_keyword, source_glob_matcher};

#[derive(Debug)]
pub(crate) struct FilterPlan {
    pub doc_ids: Vec<String>,
    /// Lower-cased, as `Format` names are.
    pub formats: Vec<String>,
    /// Encoded with [`metadata_keyword`]; all required.
    pub metadata_kv: Vec<String>,
    source_glob: Option<SourceMatcher>,
}

impl FilterPlan {
    pub fn new(filter: &Filter) -> Result<Self> {
        Ok(FilterPlan {
            doc_ids: filter.doc_ids.clone(),
            formats: filter
                .formats
                .iter()
                .map(|f| f.to_ascii_lowercase())
                .collect(),
            metadata_kv: filter
                .metadata
                .iter()
                .map(|(k, v)| metadata_keyword(k, v))
                .collect(),
            source_glob: filter
                .source_glob
                .as_deref()
                .map(source_glob_matcher)
                .transpose()?,
        })
    }

    /// Whether the sources must be resolved (by a facet) before searching.
    pub fn needs_sources(&self) -> bool {
        self.source_glob.is_some()
    }

    /// The sources among `distinct` that the glob accepts.
    pub fn select_sources(&self, distinct: impl IntoIterator<Item = String>) -> Vec<String> {
        match &self.source_glob {
            Some(m) => distinct.into_iter().filter(|s| m.is_match(s)).collect(),
            None => Vec::new(),
        }
    }
}
