//! Throughput of the embedded vector store: upsert, flush, search (exact, then after
//! `optimize` builds HNSW) for 384-d random unit vectors, as docket's default embedder
//! produces. Sizes: `DOCKET_BENCH_SIZES` (comma-separated, default `20000,100000`).
//!
//! Run: `cargo bench -p docket-index --bench vectors`.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use docket_index::filter::Filter;
use docket_index::vector::{EmbeddedStore, Point, VectorSpec, VectorStore};
use docket_ingest::{Chunk, Format};

const DIM: usize = 384;
const QUERIES: usize = 200;
const K: usize = 10;
const BATCH: usize = 1000;

struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn unit(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..DIM).map(|_| self.next_f32()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }
}

fn chunk(i: usize) -> Chunk {
    let doc = i / 20;
    let text = format!(
        "chunk {i} of document {doc}, about {} words of text ",
        i % 97
    )
    .repeat(12);
    Chunk {
        id: format!("doc{doc}-{}", i % 20),
        doc_id: format!("doc{doc}"),
        ordinal: (i % 20) as u32,
        start: 0,
        end: text.len(),
        text,
        page_start: 1,
        page_end: 1,
        heading_path: vec!["Section".into()],
        token_count: 200,
        source: format!(
            "dir{}/doc{doc}.{}",
            doc % 50,
            if doc.is_multiple_of(2) { "pdf" } else { "md" }
        ),
        title: None,
        format: if doc.is_multiple_of(2) {
            Format::Pdf
        } else {
            Format::Markdown
        },
        metadata: BTreeMap::from([("team".to_owned(), format!("t{}", doc % 5))]),
    }
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn searches(
    store: &EmbeddedStore,
    queries: &[Vec<f32>],
    filter: &Filter,
) -> (f64, Vec<Vec<String>>) {
    let start = Instant::now();
    let results: Vec<Vec<String>> = queries
        .iter()
        .map(|q| {
            store
                .search(q, K, filter)
                .expect("search")
                .into_iter()
                .map(|h| h.chunk_id)
                .collect()
        })
        .collect();
    (
        queries.len() as f64 / start.elapsed().as_secs_f64(),
        results,
    )
}

fn recall(exact: &[Vec<String>], approx: &[Vec<String>]) -> f64 {
    let found: usize = exact
        .iter()
        .zip(approx)
        .map(|(e, a)| {
            let e: HashSet<_> = e.iter().collect();
            a.iter().filter(|id| e.contains(id)).count()
        })
        .sum();
    found as f64 / (exact.len() * K) as f64
}

fn bench(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), VectorSpec::cosine(DIM)).expect("open");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let chunks: Vec<Chunk> = (0..n).map(chunk).collect();
    let vectors: Vec<Vec<f32>> = (0..n).map(|_| rng.unit()).collect();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| rng.unit()).collect();

    let start = Instant::now();
    for (cs, vs) in chunks.chunks(BATCH).zip(vectors.chunks(BATCH)) {
        let points: Vec<Point<'_>> = cs
            .iter()
            .zip(vs)
            .map(|(chunk, vector)| Point {
                chunk,
                vector,
                content_hash: None,
            })
            .collect();
        store.upsert(&points).expect("upsert");
    }
    let upsert = start.elapsed().as_secs_f64();
    let start = Instant::now();
    store.flush().expect("flush");
    let flush = start.elapsed().as_secs_f64();
    println!(
        "n={n}: upsert {upsert:.2} s ({:.0} points/s, batches of {BATCH}), flush {flush:.2} s, on disk {} MiB (wal {} MiB)",
        n as f64 / upsert,
        dir_size(dir.path()) >> 20,
        dir_size(&dir.path().join("wal")) >> 20,
    );

    let pdf = Filter {
        formats: vec!["pdf".into()],
        ..Filter::default()
    };
    let glob = Filter {
        source_glob: Some("dir1*/**".into()),
        ..Filter::default()
    };
    let (qps, exact) = searches(&store, &queries, &Filter::default());
    let (qps_pdf, exact_pdf) = searches(&store, &queries, &pdf);
    let (qps_glob, _) = searches(&store, &queries, &glob);
    println!(
        "n={n}: search before optimize (exact): {qps:.0} q/s, format filter {qps_pdf:.0} q/s, source glob {qps_glob:.0} q/s (k={K})"
    );

    let start = Instant::now();
    let optimized = store.optimize().expect("optimize");
    let optimize = start.elapsed().as_secs_f64();
    store.flush().expect("flush");
    let (qps, approx) = searches(&store, &queries, &Filter::default());
    let (qps_pdf, approx_pdf) = searches(&store, &queries, &pdf);
    let (qps_glob, _) = searches(&store, &queries, &glob);
    println!(
        "n={n}: optimize {optimize:.1} s (did work: {optimized}); after: {qps:.0} q/s (recall@{K} {:.3}), format filter {qps_pdf:.0} q/s (recall {:.3}), source glob {qps_glob:.0} q/s; on disk {} MiB",
        recall(&exact, &approx),
        recall(&exact_pdf, &approx_pdf),
        dir_size(dir.path()) >> 20,
    );
}

fn main() {
    let sizes = std::env::var("DOCKET_BENCH_SIZES").unwrap_or_else(|_| "20000,100000".into());
    for n in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        bench(n);
    }
}
