//! The search hit as every front end writes it (`docket search --json`, a server's
//! `/search`): one `Serialize` type, so the same fact has the same field name
//! wherever a hit is printed or served.

use std::collections::BTreeMap;

use docket_ingest::Format;
use serde::Serialize;

use crate::index::{Mode, SearchHit};
use crate::lexical::Snippet;

/// One ranked hit with where it is, why it ranked, and a highlighted snippet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRecord<'a> {
    /// 1-based rank.
    pub rank: usize,
    pub score: f32,
    /// The mode that produced the ranking (hybrid, dense, bm25).
    pub mode: Mode,
    pub chunk_id: &'a str,
    pub doc_id: &'a str,
    pub source: &'a str,
    pub title: Option<&'a str>,
    pub format: Format,
    pub page_start: u32,
    pub page_end: u32,
    pub heading_path: &'a [String],
    /// Byte offsets of the chunk in its document's text.
    pub start: usize,
    pub end: usize,
    pub metadata: &'a BTreeMap<String, String>,
    pub dense_rank: Option<usize>,
    pub bm25_rank: Option<usize>,
    pub snippet: &'a str,
    /// Byte ranges of `snippet` that matched the query, as `[start, end]` pairs.
    pub highlights: Vec<[usize; 2]>,
    pub text: &'a str,
}

impl<'a> HitRecord<'a> {
    pub fn new(rank: usize, hit: &'a SearchHit, snippet: &'a Snippet, mode: Mode) -> Self {
        let c = &hit.chunk;
        HitRecord {
            rank,
            score: hit.score,
            mode,
            chunk_id: &c.id,
            doc_id: &c.doc_id,
            source: &c.source,
            title: c.title.as_deref(),
            format: c.format,
            page_start: c.page_start,
            page_end: c.page_end,
            heading_path: &c.heading_path,
            start: c.start,
            end: c.end,
            metadata: &c.metadata,
            dense_rank: hit.dense.map(|l| l.rank),
            bm25_rank: hit.bm25.map(|l| l.rank),
            snippet: &snippet.fragment,
            highlights: snippet
                .highlighted
                .iter()
                .map(|r| [r.start, r.end])
                .collect(),
            text: &c.text,
        }
    }

    /// Where in its document the hit is: `page 3` / `pages 3-4` (for paged formats, or
    /// once a document has more than one page), and the heading path.
    pub fn location(&self) -> String {
        let mut parts = Vec::new();
        if self.format == Format::Pdf || self.page_end > 1 {
            if self.page_start == self.page_end {
                parts.push(format!("page {}", self.page_start));
            } else {
                parts.push(format!("pages {}-{}", self.page_start, self.page_end));
            }
        }
        if !self.heading_path.is_empty() {
            parts.push(self.heading_path.join(" > "));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::LegHit;
    use docket_ingest::Chunk;

    #[test]
    fn a_hit_serializes_with_the_search_json_field_names_and_says_where_it_is() {
        let chunk = Chunk {
            id: "d-0".into(),
            doc_id: "d".into(),
            ordinal: 0,
            text: "The per diem is 95 USD.".into(),
            start: 10,
            end: 33,
            page_start: 2,
            page_end: 3,
            heading_path: vec!["Travel".into(), "Abroad".into()],
            token_count: 7,
            source: "policies/travel.pdf".into(),
            title: Some("Travel".into()),
            format: Format::Pdf,
            metadata: BTreeMap::new(),
        };
        let hit = SearchHit {
            chunk,
            score: 0.5,
            dense: None,
            bm25: Some(LegHit {
                rank: 1,
                score: 3.0,
            }),
        };
        let snippet = Snippet {
            fragment: "per diem".into(),
            highlighted: vec![0..3, 4..8],
        };
        let record = HitRecord::new(1, &hit, &snippet, Mode::Bm25);
        assert_eq!(record.location(), "pages 2-3, Travel > Abroad");
        let v = serde_json::to_value(&record).unwrap();
        for key in [
            "rank",
            "chunk_id",
            "doc_id",
            "source",
            "page_start",
            "start",
            "end",
            "bm25_rank",
            "snippet",
            "highlights",
            "text",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["highlights"], serde_json::json!([[0, 3], [4, 8]]));
        assert_eq!(v["dense_rank"], serde_json::Value::Null);
    }
}
