//! What the lexical leg's collection-wide idf costs and changes on a Qdrant server or
//! cluster: one BEIR corpus (one chunk per document) in three collections, a 1-shard one
//! and two of `--shards` shards, the layout docket creates (idf counted over the whole
//! collection at query time) and the one earlier versions created (Qdrant's `idf` modifier,
//! computed per shard). Prints, over the judged queries, the lexical top-10s that equal the
//! 1-shard collection's, nDCG@10, and the lexical search latency (p50/p99) of each.
//!
//! ```text
//! cargo run --release -p docket-index --example server_idf -- URL DATASET_DIR
//!     [--split test] [--shards 6] [--replicas 1] [--rounds 3]
//! ```
//!
//! The collections are named `docket_server_idf_<pid>_*` and dropped at the end.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use docket_index::eval::{BeirDataset, evaluate};
use docket_index::vector::{
    IdfSource, Point, ServerStore, VectorSpec, VectorStore, VectorStoreConfig,
};
use docket_index::{Filter, Hit};
use docket_ingest::{Chunk, Format};
use qdrant_client::qdrant::{
    CreateCollectionBuilder, Distance, Modifier, SparseVectorParamsBuilder,
    SparseVectorsConfigBuilder, VectorParamsBuilder,
};

/// The dense vectors are not searched here; the smallest size keeps the upload small.
const DIM: usize = 4;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut dir) = (None, None);
    let mut split = "test".to_string();
    let (mut shards, mut replicas, mut rounds) = (6u32, 1u32, 3usize);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--split" => split = value("--split")?,
            "--shards" => shards = value("--shards")?.parse()?,
            "--replicas" => replicas = value("--replicas")?.parse()?,
            "--rounds" => rounds = value("--rounds")?.parse()?,
            _ if url.is_none() => url = Some(a),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => bail!("unexpected argument {a:?}"),
        }
    }
    let (Some(url), Some(dir)) = (url, dir) else {
        bail!(
            "usage: server_idf URL DATASET_DIR [--split test] [--shards 6] [--replicas 1] [--rounds 3]"
        );
    };
    let ds = BeirDataset::load(&dir, &split)?;
    let chunks: Vec<Chunk> = ds
        .corpus
        .iter()
        .map(|d| Chunk {
            id: d.id.clone(),
            doc_id: d.id.clone(),
            ordinal: 0,
            text: d.text.clone(),
            start: 0,
            end: d.text.len(),
            page_start: 1,
            page_end: 1,
            heading_path: Vec::new(),
            token_count: 0,
            source: d.id.clone(),
            title: (!d.title.trim().is_empty()).then(|| d.title.clone()),
            format: Format::Text,
            metadata: BTreeMap::new(),
        })
        .collect();
    // A fixed, arbitrary direction per chunk: any vector will do.
    let vectors: Vec<Vec<f32>> = (0..chunks.len())
        .map(|i| {
            let mut v = [0.1f32; DIM];
            v[i % DIM] = 1.0;
            v.to_vec()
        })
        .collect();
    println!(
        "{}: {} chunks, {} judged queries; {shards} shards, replication {replicas}",
        dir.display(),
        chunks.len(),
        ds.queries.len()
    );

    let prefix = format!("docket_server_idf_{}", std::process::id());
    let config = |name: &str, shard_number: u32| {
        let mut c = VectorStoreConfig::server(&url);
        c.collection = format!("{prefix}_{name}");
        c.shard_number = shard_number;
        c.replication_factor = replicas;
        c
    };
    let (one, many, legacy) = (
        config("one", 1),
        config("many", shards),
        config("legacy", shards),
    );
    create_with_idf_modifier(&url, &legacy)?;
    let mut stores = Vec::new();
    for c in [&one, &many, &legacy] {
        let store = ServerStore::connect(&url, c, VectorSpec::cosine(DIM))?;
        let points: Vec<Point<'_>> = chunks
            .iter()
            .zip(&vectors)
            .map(|(chunk, vector)| Point {
                chunk,
                vector,
                content_hash: None,
            })
            .collect();
        let t = Instant::now();
        store.upsert(&points)?;
        println!(
            "{}: {:?}, {} points written in {:.1} s",
            c.collection,
            store.idf_source().context("no lexical leg")?,
            store.count()?,
            t.elapsed().as_secs_f64()
        );
        stores.push(store);
    }
    let result = measure(&ds, &stores, rounds);
    for s in &stores {
        s.delete_all()?;
    }
    result
}

fn measure(ds: &BeirDataset, stores: &[ServerStore], rounds: usize) -> anyhow::Result<()> {
    let filter = Filter::default();
    let top = |store: &ServerStore, q: &str| -> anyhow::Result<Vec<Hit>> {
        store
            .lexical_search(q, 10, &filter)?
            .context("no lexical leg")
    };
    // Rankings, then timings in rounds over every query, the stores taking turns so
    // that both see the same server load.
    let mut ranked: Vec<HashMap<String, Vec<String>>> = vec![HashMap::new(); stores.len()];
    let mut scores: Vec<Vec<Vec<Hit>>> = vec![Vec::new(); stores.len()];
    for q in &ds.queries {
        for (i, s) in stores.iter().enumerate() {
            let hits = top(s, &q.text)?;
            ranked[i].insert(
                q.id.clone(),
                hits.iter().map(|h| h.doc_id.clone()).collect(),
            );
            scores[i].push(hits);
        }
    }
    let mut millis: Vec<Vec<f64>> = vec![Vec::new(); stores.len()];
    for _ in 0..rounds {
        for q in &ds.queries {
            for (i, s) in stores.iter().enumerate() {
                let t = Instant::now();
                top(s, &q.text)?;
                millis[i].push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    for (i, s) in stores.iter().enumerate() {
        let same = (0..ds.queries.len())
            .filter(|&q| same_hits(&scores[0][q], &scores[i][q]))
            .count();
        let m = evaluate(&ranked[i], &ds.qrels);
        let idf = match s.idf_source() {
            Some(IdfSource::Collection) => "collection idf",
            Some(IdfSource::PerShard) => "per-shard idf modifier",
            None => "none",
        };
        let ms = &mut millis[i];
        ms.sort_by(f64::total_cmp);
        println!(
            "{} ({idf}): top-10 equal to the 1-shard collection's for {same} of {} queries, \
             nDCG@10 {:.4}; lexical search p50 {:.2} ms, p99 {:.2} ms ({} searches)",
            s.collection(),
            ds.queries.len(),
            m.ndcg_at_10,
            percentile(ms, 0.50),
            percentile(ms, 0.99),
            ms.len()
        );
    }
    Ok(())
}

/// The same chunks in the same order with scores within 1e-4.
fn same_hits(a: &[Hit], b: &[Hit]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.chunk_id == y.chunk_id && (x.score - y.score).abs() <= 1e-4)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// A collection as earlier versions created it: the sparse leg with Qdrant's `idf`
/// modifier.
fn create_with_idf_modifier(url: &str, c: &VectorStoreConfig) -> anyhow::Result<()> {
    let client = qdrant_client::Qdrant::from_url(url)
        .skip_compatibility_check()
        .build()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        "bm25",
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
    );
    rt.block_on(
        client.create_collection(
            CreateCollectionBuilder::new(&c.collection)
                .vectors_config(VectorParamsBuilder::new(DIM as u64, Distance::Cosine))
                .shard_number(c.shard_number)
                .replication_factor(c.replication_factor)
                .sparse_vectors_config(sparse),
        ),
    )?;
    Ok(())
}
