//! The data model shared by both backends: point ids and payloads.
//!
//! A payload is the chunk serialised as JSON (same field names as [`Chunk`], metadata as a
//! nested object) plus [`METADATA_KV`]: every metadata pair encoded as one keyword, so one
//! keyword index serves exact matches on any metadata key, including keys with dots or
//! other characters a payload path would have to escape.

use docket_ingest::Chunk;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Error, Result};
pub use crate::filter::SourceMatcher;

/// Keyword fields every backend indexes, because filters and deletes select on them.
pub(crate) const INDEXED_FIELDS: [&str; 5] = [DOC_ID, SOURCE, FORMAT, METADATA_KV, CONTENT_HASH];
pub(crate) const CHUNK_ID: &str = "id";
pub(crate) const DOC_ID: &str = "doc_id";
pub(crate) const SOURCE: &str = "source";
pub(crate) const FORMAT: &str = "format";
pub(crate) const METADATA_KV: &str = "metadata_kv";
/// The content hash of the chunk's document, for citing the exact version read.
pub(crate) const CONTENT_HASH: &str = "content_hash";
/// The ids of the chunk's lexical terms (those of its sparse vector), under an integer
/// index: counting the points that hold a term gives its document frequency over the
/// whole collection, whatever the shards (see `server.rs`).
pub(crate) const TERM_IDS: &str = "bm25_term_ids";

/// Namespace of docket's point ids (a fixed random UUID): point ids are UUIDv5 of the chunk
/// id in it, so they never collide with ids another tool derives from the same strings.
const NAMESPACE: Uuid = Uuid::from_u128(0x5d0c_4e7a_9b1f_4c2e_8a63_1f0e_2b7d_9c41);

/// The point id of a chunk: a name-based UUID of its id, so upserting the same chunk again
/// overwrites the point instead of adding one.
pub fn point_id(chunk_id: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, chunk_id.as_bytes())
}

/// One metadata pair as a single keyword, unambiguous whatever the key and value hold
/// (`key=value` would confuse `a=b`,`c` with `a`,`b=c`).
pub(crate) fn metadata_keyword(key: &str, value: &str) -> String {
    Value::Array(vec![Value::from(key), Value::from(value)]).to_string()
}

/// The payload stored with a chunk's vector.
pub(crate) fn chunk_payload(chunk: &Chunk) -> Result<Map<String, Value>> {
    let value = serde_json::to_value(chunk).map_err(|e| Error::Payload {
        store: "payload encoding".into(),
        point: chunk.id.clone(),
        reason: e.to_string(),
    })?;
    let Value::Object(mut map) = value else {
        return Err(Error::Payload {
            store: "payload encoding".into(),
            point: chunk.id.clone(),
            reason: "a chunk does not serialise to a JSON object".into(),
        });
    };
    let kv = chunk
        .metadata
        .iter()
        .map(|(k, v)| Value::String(metadata_keyword(k, v)))
        .collect();
    map.insert(METADATA_KV.to_owned(), Value::Array(kv));
    Ok(map)
}

/// Read a chunk back from its stored payload.
pub(crate) fn chunk_from_payload(store: &str, mut map: Map<String, Value>) -> Result<Chunk> {
    map.remove(METADATA_KV);
    map.remove(CONTENT_HASH);
    map.remove(TERM_IDS);
    let point = map
        .get(CHUNK_ID)
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    serde_json::from_value(Value::Object(map)).map_err(|e| Error::Payload {
        store: store.to_owned(),
        point,
        reason: e.to_string(),
    })
}

/// Compile a `--filter` source glob (see [`SourceMatcher`]).
pub fn source_glob_matcher(glob: &str) -> Result<SourceMatcher> {
    SourceMatcher::new(glob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_distinct() {
        assert_eq!(point_id("d-0"), point_id("d-0"));
        assert_ne!(point_id("d-0"), point_id("d-1"));
        // Pinned: changing the derivation would orphan every stored point.
        assert_eq!(
            point_id("doc-0").to_string(),
            Uuid::new_v5(&NAMESPACE, b"doc-0").to_string()
        );
    }

    #[test]
    fn metadata_keywords_are_unambiguous() {
        assert_ne!(metadata_keyword("a=b", "c"), metadata_keyword("a", "b=c"));
        assert_eq!(metadata_keyword("k", "v"), r#"["k","v"]"#);
    }

    #[test]
    fn globs_follow_gitignore_conventions() {
        let pdf = source_glob_matcher("*.pdf").expect("glob");
        assert!(pdf.is_match("a.pdf"));
        assert!(pdf.is_match("deep/dir/a.pdf"));
        assert!(!pdf.is_match("a.pdf.txt"));
        let pol = source_glob_matcher("policies/**").expect("glob");
        assert!(pol.is_match("policies/hr/leave.md"));
        assert!(!pol.is_match("other/policies/x.md"));
        let one = source_glob_matcher("policies/*.md").expect("glob");
        assert!(one.is_match("policies/a.md"));
        assert!(!one.is_match("policies/hr/a.md"));
        assert!(matches!(
            source_glob_matcher("a[").map(|_| ()),
            Err(Error::Glob { .. })
        ));
    }
}
