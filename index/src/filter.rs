//! Metadata filters and search hits, shared by every retrieval backend (embedded vector
//! store, Qdrant server, BM25) so that a filter means the same in every mode.
//!
//! A filter is written as `KEY=VALUE` terms ([`FilterTerm`]): `source` (or `path`) is a
//! path glob, `format` a document format (repeatable: any of them), `doc` (or `doc_id`) a
//! document id (repeatable), and any other key an exact match on an ingest metadata
//! field. The same terms come from command-line flags (one [`FilterTerm`] each, combined
//! with [`Filter::from_terms`]), from one string (`source=a/**;format=pdf`, see
//! [`Filter::from_str`](std::str::FromStr)), or from a config file's table
//! (`{ source = "policies/**", format = ["pdf", "docx"], priority = "high" }`, the serde
//! form of [`Filter`]).

use std::collections::BTreeMap;
use std::str::FromStr;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Conditions a chunk must meet to be returned; all given conditions must hold.
///
/// Its serde form is the table of terms a job file writes (see the module's
/// documentation), not the struct's fields: nothing persists the struct form, and a
/// table is what people write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FilterTable", into = "FilterTable")]
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

/// One `KEY=VALUE` term of a filter, parsed (and its glob checked) on its own so that a
/// command-line parser can reject a bad one where it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterTerm {
    /// `source=GLOB` or `path=GLOB`.
    Source(String),
    /// `format=NAME`, lowercased.
    Format(String),
    /// `doc=ID` or `doc_id=ID`.
    Doc(String),
    /// Any other key: an exact match on that metadata field.
    Metadata { key: String, value: String },
}

impl FilterTerm {
    /// The term for `key` and `value` (both trimmed), checking a source glob.
    pub fn new(key: &str, value: &str) -> Result<FilterTerm> {
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(bad_term(&format!("{key}={value}"), "the key is empty"));
        }
        Ok(match key {
            "source" | "path" => {
                SourceMatcher::new(value)?;
                FilterTerm::Source(value.to_owned())
            }
            "format" => FilterTerm::Format(value.to_lowercase()),
            "doc" | "doc_id" => FilterTerm::Doc(value.to_owned()),
            _ => FilterTerm::Metadata {
                key: key.to_owned(),
                value: value.to_owned(),
            },
        })
    }
}

/// An error naming the offending term (or key) and why it is wrong.
fn bad_term(term: &str, reason: &str) -> Error {
    Error::Setting {
        name: "filter",
        reason: format!("{term:?}: {reason}"),
    }
}

impl FromStr for FilterTerm {
    type Err = Error;

    /// One `KEY=VALUE` term.
    fn from_str(term: &str) -> Result<FilterTerm> {
        let Some((key, value)) = term.split_once('=') else {
            return Err(bad_term(
                term,
                "expected KEY=VALUE (source=GLOB, format=pdf, doc=ID or a metadata field)",
            ));
        };
        if key.trim().is_empty() {
            return Err(bad_term(term, "the key is empty"));
        }
        FilterTerm::new(key, value)
    }
}

impl Filter {
    /// The filter of all `terms`: `format` and `doc` terms may repeat (any of them
    /// matches); a source glob or a metadata key given twice is an error, since a chunk
    /// cannot match two different values.
    pub fn from_terms(terms: impl IntoIterator<Item = FilterTerm>) -> Result<Filter> {
        let mut filter = Filter::default();
        for term in terms {
            match term {
                FilterTerm::Source(glob) => {
                    if filter.source_glob.replace(glob).is_some() {
                        return Err(bad_term("source", "given twice"));
                    }
                }
                FilterTerm::Format(f) => filter.formats.push(f),
                FilterTerm::Doc(d) => filter.doc_ids.push(d),
                FilterTerm::Metadata { key, value } => {
                    if filter.metadata.insert(key.clone(), value).is_some() {
                        return Err(bad_term(&key, "given twice"));
                    }
                }
            }
        }
        Ok(filter)
    }
}

impl FromStr for Filter {
    type Err = Error;

    /// Terms separated by `;` (`source=policies/**;format=pdf`); empty pieces are
    /// ignored. `;` rather than `,`, because globs use commas (`*.{pdf,docx}`); a value
    /// that holds a `;` must be given as its own [`FilterTerm`].
    fn from_str(s: &str) -> Result<Filter> {
        let terms = s
            .split(';')
            .filter(|t| !t.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<FilterTerm>>>()?;
        Filter::from_terms(terms)
    }
}

/// One value of a filter table: a string, or a list for the repeatable keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    One(String),
    Many(Vec<String>),
}

/// The serde form of a [`Filter`]: key to value(s), as in a job file.
pub type FilterTable = BTreeMap<String, FilterValue>;

impl TryFrom<FilterTable> for Filter {
    type Error = Error;

    fn try_from(table: FilterTable) -> Result<Filter> {
        let mut terms = Vec::new();
        for (key, value) in table {
            let values = match value {
                FilterValue::One(v) => vec![v],
                FilterValue::Many(vs) => vs,
            };
            let term = |v: &String| FilterTerm::new(&key, v);
            let first = values.first().map(term).transpose()?;
            let repeatable = matches!(first, Some(FilterTerm::Format(_) | FilterTerm::Doc(_)));
            if values.len() != 1 && !repeatable {
                return Err(bad_term(&key, "takes exactly one value"));
            }
            terms.extend(first);
            for v in values.iter().skip(1) {
                terms.push(term(v)?);
            }
        }
        Filter::from_terms(terms)
    }
}

impl From<Filter> for FilterTable {
    fn from(filter: Filter) -> FilterTable {
        let many = |mut vs: Vec<String>| match vs.len() {
            1 => FilterValue::One(vs.remove(0)),
            _ => FilterValue::Many(vs),
        };
        let mut table: FilterTable = filter
            .metadata
            .into_iter()
            .map(|(k, v)| (k, FilterValue::One(v)))
            .collect();
        if let Some(glob) = filter.source_glob {
            table.insert("source".into(), FilterValue::One(glob));
        }
        if !filter.formats.is_empty() {
            table.insert("format".into(), many(filter.formats));
        }
        if !filter.doc_ids.is_empty() {
            table.insert("doc".into(), many(filter.doc_ids));
        }
        table
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

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(flags: &[&str]) -> Result<Filter> {
        Filter::from_terms(
            flags
                .iter()
                .map(|f| f.parse())
                .collect::<Result<Vec<FilterTerm>>>()?,
        )
    }

    #[test]
    fn terms_parse_into_fields_and_bad_ones_are_errors() {
        let f = terms(&[
            "source=policies/**",
            "format=PDF",
            "format=markdown",
            "priority = high",
        ])
        .unwrap();
        assert_eq!(f.source_glob.as_deref(), Some("policies/**"));
        assert_eq!(f.formats, ["pdf", "markdown"]);
        assert_eq!(f.metadata["priority"], "high");
        assert!(terms(&["nokey"]).is_err());
        assert!(terms(&["=x"]).is_err());
        let err = terms(&["a=1", "a=2"]).unwrap_err();
        assert!(err.to_string().contains("\"a\": given twice"), "{err}");
        assert!(terms(&["source=a/*", "path=b/*"]).is_err());
        let err = "source=a/[".parse::<FilterTerm>().unwrap_err();
        assert!(matches!(err, Error::Glob { .. }), "{err}");
        let err = "nokey".parse::<FilterTerm>().unwrap_err().to_string();
        assert!(err.contains("nokey") && !err.contains("--"), "{err}");
    }

    #[test]
    fn a_filter_string_is_terms_separated_by_semicolons() {
        let f: Filter = "source=*.{pdf,docx}; doc=a;doc_id=b;;team=ops"
            .parse()
            .unwrap();
        assert_eq!(f.source_glob.as_deref(), Some("*.{pdf,docx}"));
        assert_eq!(f.doc_ids, ["a", "b"]);
        assert_eq!(f.metadata["team"], "ops");
        assert_eq!("".parse::<Filter>().unwrap(), Filter::default());
        assert!("team=ops;team=dev".parse::<Filter>().is_err());
    }

    #[test]
    fn a_filter_deserialises_from_a_table_and_round_trips() {
        let f: Filter = serde_json::from_str(
            r#"{"source": "policies/**", "format": ["PDF", "docx"], "doc": "d1", "priority": "high"}"#,
        )
        .unwrap();
        assert_eq!(f.source_glob.as_deref(), Some("policies/**"));
        assert_eq!(f.formats, ["pdf", "docx"]);
        assert_eq!(f.doc_ids, ["d1"]);
        assert_eq!(f.metadata["priority"], "high");
        let back: Filter = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        for bad in [
            r#"{"source": ["a/*", "b/*"]}"#,
            r#"{"priority": []}"#,
            r#"{"source": "a/["}"#,
            r#"{"": "x"}"#,
        ] {
            assert!(serde_json::from_str::<Filter>(bad).is_err(), "{bad}");
        }
    }
}
