//! Chunks and vectors for the vector store tests, shared by both backends' tests.
#![allow(dead_code)]

pub mod qdrant;

use std::collections::BTreeMap;

use docket_index::filter::{Filter, Hit};
use docket_index::vector::{Point, VectorStore};
use docket_ingest::{Chunk, Format};

pub fn chunk(
    doc: &str,
    ordinal: u32,
    source: &str,
    format: Format,
    meta: &[(&str, &str)],
) -> Chunk {
    let text = format!("text of {doc} #{ordinal}");
    Chunk {
        id: format!("{doc}-{ordinal}"),
        doc_id: doc.to_owned(),
        ordinal,
        end: text.len(),
        text,
        start: 0,
        page_start: 1,
        page_end: 1,
        heading_path: vec!["Intro".into()],
        token_count: 5,
        source: source.to_owned(),
        title: Some(format!("Title {doc}")),
        format,
        metadata: meta
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Small deterministic pseudo-random generator (xorshift), so tests need no extra crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_f32() + 1.0) / 2.0 * n as f32) as usize % n
    }
    pub fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| self.next_f32()).collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        v.into_iter().map(|x| x / norm).collect()
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

pub fn upsert_all(store: &dyn VectorStore, chunks: &[Chunk], vectors: &[Vec<f32>]) {
    let points: Vec<Point<'_>> = chunks
        .iter()
        .zip(vectors)
        .map(|(chunk, vector)| Point {
            chunk,
            vector,
            content_hash: None,
        })
        .collect();
    store.upsert(&points).expect("upsert");
}

/// A corpus of chunks over several documents, sources, formats and metadata.
pub fn corpus(n_docs: usize, per_doc: u32, dim: usize, seed: u64) -> (Vec<Chunk>, Vec<Vec<f32>>) {
    let mut rng = Rng::new(seed);
    let sources = [
        ("policies/hr/leave.pdf", Format::Pdf),
        ("policies/it/security.md", Format::Markdown),
        ("policies/readme.txt", Format::Text),
        ("reports/2024/q1.pdf", Format::Pdf),
        ("reports/summary.html", Format::Html),
        ("notes.md", Format::Markdown),
        ("weird dir/a.b=c.pdf", Format::Pdf),
    ];
    let mut chunks = Vec::new();
    let mut vectors = Vec::new();
    for d in 0..n_docs {
        let (src, format) = sources[d % sources.len()];
        let source = if d < sources.len() {
            src.to_owned()
        } else {
            format!("{d}/{src}")
        };
        let priority = if d % 3 == 0 { "high" } else { "low" };
        let team = if d % 2 == 0 { "a.b" } else { "c=d" };
        for o in 0..per_doc {
            chunks.push(chunk(
                &format!("doc{d}"),
                o,
                &source,
                format,
                &[("priority", priority), ("team.name", team)],
            ));
            vectors.push(rng.unit_vector(dim));
        }
    }
    (chunks, vectors)
}

/// What a search must return: exact cosine ranking over the chunks that pass `keep`.
pub fn brute_force(
    chunks: &[Chunk],
    vectors: &[Vec<f32>],
    query: &[f32],
    k: usize,
    keep: impl Fn(&Chunk) -> bool,
) -> Vec<String> {
    let mut scored: Vec<(f32, &str)> = chunks
        .iter()
        .zip(vectors)
        .filter(|(c, _)| keep(c))
        .map(|(c, v)| (cosine(query, v), c.id.as_str()))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.to_owned())
        .collect()
}

pub fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.chunk_id.clone()).collect()
}

pub fn filter_glob(glob: &str) -> Filter {
    Filter {
        source_glob: Some(glob.to_owned()),
        ..Filter::default()
    }
}

/// Whether `filter` keeps chunk `c`: the reference semantics of [`Filter`], which every
/// store's filtered search must reproduce exactly.
pub fn filter_keeps(filter: &Filter, c: &Chunk) -> bool {
    let glob = filter
        .source_glob
        .as_deref()
        .map(|g| docket_index::filter::SourceMatcher::new(g).expect("glob"));
    glob.as_ref().is_none_or(|m| m.is_match(&c.source))
        && (filter.formats.is_empty()
            || filter
                .formats
                .iter()
                .any(|f| f.eq_ignore_ascii_case(c.format.name())))
        && filter
            .metadata
            .iter()
            .all(|(k, v)| c.metadata.get(k) == Some(v))
        && (filter.doc_ids.is_empty() || filter.doc_ids.contains(&c.doc_id))
}
