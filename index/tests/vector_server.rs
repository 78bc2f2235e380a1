//! The server vector store against a real Qdrant server: the one at `DOCKET_QDRANT_URL`
//! if set (e.g. `http://127.0.0.1:6334`), else a server each test starts on loopback from
//! the Qdrant binary that `common::qdrant` finds (`QDRANT_BIN` or the cache path); with
//! neither, each test says it was skipped. Each test uses its own collection and drops it
//! at the end. The unreachable-server test always runs.

mod common;

use std::io::Write as _;

use common::qdrant::{QdrantNode, qdrant_binary};
use common::*;
use docket_index::Error;
use docket_index::filter::Filter;
use docket_index::fusion::{FusionConfig, fuse};
use docket_index::lexical::{Bm25Index, LexicalConfig, LexicalIndex};
use docket_index::vector::{
    IdfSource, Point, ServerFusion, ServerStore, SparseConfig, VectorSpec, VectorStore,
    VectorStoreConfig,
};
use docket_ingest::{Chunk, Format};

const DIM: usize = 16;
const URL_VAR: &str = "DOCKET_QDRANT_URL";

/// A server to test against; a node this test started, stopped when dropped.
struct Server {
    url: String,
    _node: Option<QdrantNode>,
    _dir: Option<tempfile::TempDir>,
}

/// The server for a test, or `None` after saying the test is skipped. Written to the
/// process's stderr directly, past the test harness's capture, so the skip shows in every
/// run.
fn server(test: &str) -> Option<Server> {
    if let Ok(url) = std::env::var(URL_VAR)
        && !url.is_empty()
    {
        return Some(Server {
            url,
            _node: None,
            _dir: None,
        });
    }
    let Some(bin) = qdrant_binary() else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no Qdrant server: set QDRANT_BIN to a qdrant binary (or put one at ~/.cache/docket/qdrant/qdrant), or {URL_VAR} to a server's gRPC URL"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = QdrantNode::single(&bin, dir.path()).expect("start qdrant");
    Some(Server {
        url: node.url(),
        _node: Some(node),
        _dir: Some(dir),
    })
}

/// A collection for one test, dropped (best effort) when the test ends.
struct Collection {
    url: String,
    config: VectorStoreConfig,
}

impl Collection {
    fn new(url: &str, test: &str) -> Self {
        let mut config = VectorStoreConfig::server(url);
        config.collection = format!("docket_test_{}_{test}", std::process::id());
        config.max_retries = 2;
        Collection {
            url: url.to_owned(),
            config,
        }
    }
    fn open(&self, dim: usize) -> docket_index::Result<ServerStore> {
        ServerStore::connect(&self.url, &self.config, VectorSpec::cosine(dim))
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        let Ok(client) = qdrant_client::Qdrant::from_url(&self.url)
            .skip_compatibility_check()
            .build()
        else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            let _ = rt.block_on(client.delete_collection(&self.config.collection));
            let meta = format!("{}__docket_meta", self.config.collection);
            let _ = rt.block_on(client.delete_collection(meta));
        }
    }
}

#[test]
fn server_search_filters_delete_and_reupsert() {
    let Some(server) = server("server_search_filters_delete_and_reupsert") else {
        return;
    };
    let col = Collection::new(&server.url, "main");
    let store = col.open(DIM).expect("connect");
    let (mut chunks, vectors) = corpus(20, 8, DIM, 11);
    upsert_all(&store, &chunks, &vectors);
    upsert_all(&store, &chunks, &vectors);
    store.flush().expect("flush");
    assert_eq!(store.count().expect("count"), 160);

    let mut rng = Rng::new(5);
    let filters = [
        Filter::default(),
        filter_glob("*.pdf"),
        filter_glob("policies/**"),
        filter_glob("nothing/**"),
        Filter {
            formats: vec!["markdown".into()],
            metadata: [("team.name".to_owned(), "c=d".to_owned())].into(),
            ..Filter::default()
        },
        Filter {
            doc_ids: vec!["doc3".into(), "doc7".into()],
            ..Filter::default()
        },
    ];
    for filter in &filters {
        let keep = |c: &Chunk| filter_keeps(filter, c);
        let q = rng.unit_vector(DIM);
        let hits = store.search(&q, 10, filter).expect("search");
        assert_eq!(
            ids(&hits),
            brute_force(&chunks, &vectors, &q, 10, keep),
            "{filter:?}"
        );
    }

    store.delete_document("doc2").expect("delete");
    assert_eq!(store.count().expect("count"), 152);
    chunks[0].text = "rewritten".into();
    store
        .upsert(&[Point {
            chunk: &chunks[0],
            vector: &vectors[0],
            content_hash: None,
        }])
        .expect("upsert");
    assert_eq!(
        store
            .chunks(&["doc0-1", "doc0-0", "doc2-0"])
            .expect("chunks"),
        vec![chunks[1].clone(), chunks[0].clone()]
    );
    drop(store);

    // Reconnecting finds the same collection; another dimension is refused.
    let store = col.open(DIM).expect("reconnect");
    assert_eq!(store.count().expect("count"), 152);
    assert!(matches!(
        col.open(384),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn server_unreachable_is_a_transient_error() {
    // Needs no server: nothing listens on port 1 of the loopback address.
    let mut config = VectorStoreConfig::server("http://127.0.0.1:1");
    config.max_retries = 1;
    config.initial_backoff_ms = 10;
    let err = ServerStore::connect("http://127.0.0.1:1", &config, VectorSpec::cosine(DIM))
        .expect_err("nothing listens there");
    assert!(err.is_transient(), "{err}");
}

/// Chunks with real text, for the lexical leg.
fn text_corpus() -> Vec<Chunk> {
    let texts = [
        "Annual leave is booked in the HR portal at least two weeks ahead.",
        "Sick leave needs a doctor's note after three days of absence.",
        "Expenses above 500 euros need the approval of a director.",
        "The VPN must be used on every public network; passwords rotate yearly.",
        "Travel is booked in economy class; business class needs approval.",
        "The cafeteria opens at eight and closes at three on Fridays.",
        "Leave requests, expenses and travel all go through the same portal.",
        "Security incidents are reported to the security team within one hour.",
        "Parental leave is sixteen weeks, paid in full, for every parent.",
        "Laptops are replaced every four years or when they fail.",
        "The quarterly report covers revenue, costs and headcount by region.",
        "Regional revenue grew in the north and fell in the south this quarter.",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut c = chunk(
                &format!("doc{i}"),
                0,
                "policies/p.md",
                Format::Markdown,
                &[],
            );
            c.text = (*t).to_owned();
            c.end = c.text.len();
            c.title = None;
            c.heading_path = Vec::new();
            c
        })
        .collect()
}

#[test]
fn server_lexical_leg_ranks_like_the_bm25_index() {
    let Some(server) = server("server_lexical_leg_ranks_like_the_bm25_index") else {
        return;
    };
    let chunks = text_corpus();
    // The local BM25 index of the same chunks, and the average length its scores use.
    let dir = tempfile::tempdir().expect("tempdir");
    let bm25 = Bm25Index::open(dir.path(), LexicalConfig::default()).expect("bm25");
    bm25.add(&chunks).expect("add");
    bm25.commit().expect("commit");
    let avg = chunks
        .iter()
        .map(|c| bm25.analyze(&c.text).len())
        .sum::<usize>() as f32
        / chunks.len() as f32;

    let mut col = Collection::new(&server.url, "lexical");
    col.config.sparse = SparseConfig {
        avg_terms: Some(avg),
        ..SparseConfig::default()
    };
    let store = col.open(DIM).expect("connect");
    assert!(store.has_lexical(), "a new collection has the sparse leg");
    let mut rng = Rng::new(3);
    let vectors: Vec<Vec<f32>> = chunks.iter().map(|_| rng.unit_vector(DIM)).collect();
    upsert_all(&store, &chunks, &vectors);

    for query in [
        "leave portal",
        "approval of expenses",
        "revenue by region",
        "security",
        "the and of",
    ] {
        let local = bm25.search(query, 5, &Filter::default()).expect("bm25");
        let remote = store
            .lexical_search(query, 5, &Filter::default())
            .expect("lexical search")
            .expect("a lexical leg");
        // The same hits; equal scores may come in either order.
        let set = |h: &[docket_index::Hit]| {
            ids(h)
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(set(&remote), set(&local), "{query}");
        for (r, l) in remote.iter().zip(&local) {
            // tantivy stores lengths in a lossy one-byte code; the rest is the same BM25.
            assert!(
                (r.score - l.score).abs() <= 0.05 * l.score,
                "{query}: {} vs {}",
                r.score,
                l.score
            );
        }
    }
    // Filters apply to the lexical leg too.
    let only = Filter {
        doc_ids: vec!["doc1".into(), "doc8".into()],
        ..Filter::default()
    };
    let hits = store
        .lexical_search("leave", 10, &only)
        .expect("search")
        .expect("leg");
    assert_eq!(ids(&hits).len(), 2);
    // The server's own fusions run over both legs.
    let q = rng.unit_vector(DIM);
    for fusion in [ServerFusion::Rrf, ServerFusion::Dbsf] {
        let hits = store
            .fused_search(&q, "leave", 5, 20, &Filter::default(), fusion)
            .expect("fused")
            .expect("leg");
        assert_eq!(hits.len(), 5, "{fusion:?}");
    }

    // A collection made without the leg keeps working, with none.
    let mut plain = Collection::new(&server.url, "plain");
    plain.config.sparse.enabled = false;
    let store = plain.open(DIM).expect("connect");
    assert!(!store.has_lexical());
    upsert_all(&store, &chunks, &vectors);
    assert!(
        store
            .lexical_search("leave", 5, &Filter::default())
            .expect("search")
            .is_none()
    );
}

/// The average chunk length the meta collection records for `col`.
fn recorded_avg_terms(col: &Collection) -> Option<f64> {
    let client = qdrant_client::Qdrant::from_url(&col.url)
        .skip_compatibility_check()
        .build()
        .ok()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let info = rt
        .block_on(client.collection_info(format!("{}__docket_meta", col.config.collection)))
        .ok()?;
    info.result?
        .config?
        .metadata
        .get("docket_sparse_avg_terms")
        .cloned()?
        .into_json()
        .as_f64()
}

#[test]
fn the_first_write_fixes_the_average_length_for_every_writer() {
    let Some(server) = server("the_first_write_fixes_the_average_length_for_every_writer") else {
        return;
    };
    let chunks = text_corpus();
    let mut rng = Rng::new(9);
    let vectors: Vec<Vec<f32>> = chunks.iter().map(|_| rng.unit_vector(DIM)).collect();
    let col = Collection::new(&server.url, "avg");
    let first = col.open(DIM).expect("connect");
    assert_eq!(recorded_avg_terms(&col), None, "nothing written yet");
    upsert_all(&first, &chunks[..4], &vectors[..4]);
    let encoder = docket_index::vector::SparseEncoder::new(
        &docket_index::AnalyzerConfig::default(),
        SparseConfig::default(),
    )
    .expect("encoder");
    let mean = encoder.mean_terms(chunks[..4].iter());
    let recorded = recorded_avg_terms(&col).expect("recorded");
    assert!(
        (recorded - f64::from(mean)).abs() < 1e-4,
        "{recorded} vs {mean}"
    );
    // A second writer (another worker) uses the recorded value, not its own batch's.
    let second = col.open(DIM).expect("connect");
    upsert_all(&second, &chunks[4..], &vectors[4..]);
    assert_eq!(recorded_avg_terms(&col), Some(recorded));
    // Both writers' chunks score on one scale: the same text under two ids ties.
    let mut twin = chunks[0].clone();
    twin.id = "twin-0".into();
    twin.doc_id = "twin".into();
    upsert_all(&second, std::slice::from_ref(&twin), &vectors[..1]);
    let hits = first
        .lexical_search(&chunks[0].text, 2, &Filter::default())
        .expect("search")
        .expect("leg");
    assert_eq!(hits.len(), 2);
    assert!((hits[0].score - hits[1].score).abs() < 1e-5, "{hits:?}");
}

/// Chunks of made-up words with a skewed frequency (some words in most chunks, most in a
/// few), chunk `i` being `12 + i` words long: distinct lengths, so no two chunks tie on a
/// lexical score and top-10s have one right order.
fn skewed_corpus(n: usize, rng: &mut Rng) -> Vec<Chunk> {
    (0..n)
        .map(|i| {
            let words: Vec<String> = (0..12 + i)
                .map(|_| {
                    // u^3 leans towards the first words of the vocabulary.
                    let u = (rng.next_f32() + 1.0) / 2.0;
                    skewed_word((u * u * u * 400.0) as usize)
                })
                .collect();
            let mut c = chunk(&format!("doc{i}"), 0, "notes/n.md", Format::Markdown, &[]);
            c.text = words.join(" ");
            c.end = c.text.len();
            c.title = None;
            c.heading_path = Vec::new();
            c
        })
        .collect()
}

/// Word `i` of the vocabulary: two consonant-vowel syllables, so none is a stopword.
fn skewed_word(i: usize) -> String {
    const SYL: [&str; 20] = [
        "ka", "ri", "mo", "tu", "le", "sa", "po", "ni", "du", "fe", "go", "hi", "ju", "ba", "ze",
        "vo", "wi", "ru", "pe", "lo",
    ];
    format!("{}{}", SYL[i % 20], SYL[(i / 20) % 20])
}

/// A store's hits as (chunk id, score).
fn scored(hits: impl IntoIterator<Item = (String, f32)>) -> Vec<(String, f32)> {
    hits.into_iter().collect()
}

/// The same ids in the same order, and scores within 1e-4.
fn assert_same_hits(one: &[(String, f32)], many: &[(String, f32)], what: &str) {
    let ids = |h: &[(String, f32)]| h.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(one), ids(many), "{what}: {one:?} vs {many:?}");
    for ((id, a), (_, b)) in one.iter().zip(many) {
        assert!((a - b).abs() <= 1e-4, "{what}: {id} scores {a} vs {b}");
    }
}

#[test]
fn shards_do_not_change_lexical_or_hybrid_hits() {
    let Some(server) = server("shards_do_not_change_lexical_or_hybrid_hits") else {
        return;
    };
    let mut rng = Rng::new(17);
    let chunks = skewed_corpus(240, &mut rng);
    let vectors: Vec<Vec<f32>> = chunks.iter().map(|_| rng.unit_vector(DIM)).collect();
    let stores: Vec<(Collection, ServerStore)> = [(1, "one"), (6, "six")]
        .into_iter()
        .map(|(shards, name)| {
            let mut col = Collection::new(&server.url, &format!("shards_{name}"));
            col.config.shard_number = shards;
            col.config.sparse.avg_terms = Some(100.0);
            let store = col.open(DIM).expect("connect");
            assert_eq!(store.idf_source(), Some(IdfSource::Collection));
            upsert_all(&store, &chunks, &vectors);
            (col, store)
        })
        .collect();
    let (one, six) = (&stores[0].1, &stores[1].1);
    assert_eq!(six.count().expect("count"), 240);

    // Queries of common, middling and rare words.
    let queries: Vec<String> = (0..12)
        .map(|q| {
            (0..2 + q % 3)
                .map(|t| skewed_word((q * 7 + t * 31) % 60 + (q % 4) * 40))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let fusion = FusionConfig::default();
    let none = Filter::default();
    let hybrid = |store: &ServerStore, query: &str, v: &[f32]| {
        let n = fusion.candidates;
        let dense = store.search(v, n, &none).expect("dense");
        let lexical = store
            .lexical_search(query, n, &none)
            .expect("lexical")
            .expect("leg");
        scored(
            fuse(&dense, &lexical, &fusion)
                .into_iter()
                .take(10)
                .map(|h| (h.chunk_id, h.score)),
        )
    };
    let lexical = |store: &ServerStore, query: &str| {
        let hits = store.lexical_search(query, 10, &none).expect("lexical");
        scored(
            hits.expect("leg")
                .into_iter()
                .map(|h| (h.chunk_id, h.score)),
        )
    };
    for query in &queries {
        let v = rng.unit_vector(DIM);
        let lex = lexical(one, query);
        assert_eq!(
            lex.len(),
            10,
            "{query}: the queries match at least 10 chunks"
        );
        assert_same_hits(&lex, &lexical(six, query), &format!("lexical {query}"));
        assert_same_hits(
            &hybrid(one, query, &v),
            &hybrid(six, query, &v),
            &format!("hybrid {query}"),
        );
        for f in [ServerFusion::Rrf, ServerFusion::Dbsf] {
            let server_fused = |store: &ServerStore| {
                let hits = store.fused_search(&v, query, 10, 50, &none, f);
                scored(
                    hits.expect("fused")
                        .expect("leg")
                        .into_iter()
                        .map(|h| (h.chunk_id, h.score)),
                )
            };
            // RRF gives equal scores to equal ranks; Qdrant orders such ties as the
            // shards answer, and picks among those tied at the 10th place the same way.
            // So: the same score at every rank, and the same ids above the 10th score
            // (compared in id order).
            let (a, b) = (server_fused(one), server_fused(six));
            let what = format!("{f:?} {query}");
            assert_eq!(a.len(), b.len(), "{what}: {a:?} vs {b:?}");
            for ((_, x), (_, y)) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-4, "{what}: {a:?} vs {b:?}");
            }
            let above_last = |h: &[(String, f32)]| {
                let last = h.last().map_or(f32::MIN, |l| l.1);
                let mut above: Vec<(String, f32)> =
                    h.iter().filter(|x| x.1 > last + 1e-4).cloned().collect();
                above.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                above
            };
            assert_same_hits(&above_last(&a), &above_last(&b), &what);
        }
    }

    // What earlier versions made: the server's idf modifier, computed per shard. Still
    // searched, but on six shards its scores are not the single collection's, which is
    // what the layout above fixes (and shows this test can tell).
    let old = Collection::new(&server.url, "shards_modifier");
    create_with_idf_modifier(&old, 6);
    let mut old_config = old.config.clone();
    old_config.sparse.avg_terms = Some(100.0);
    let old_store =
        ServerStore::connect(&server.url, &old_config, VectorSpec::cosine(DIM)).expect("connect");
    assert_eq!(old_store.idf_source(), Some(IdfSource::PerShard));
    upsert_all(&old_store, &chunks, &vectors);
    let differing = queries
        .iter()
        .filter(|q| {
            let (a, b) = (lexical(one, q), lexical(&old_store, q));
            a.iter()
                .zip(&b)
                .any(|((ia, sa), (ib, sb))| ia != ib || (sa - sb).abs() > 1e-3)
        })
        .count();
    assert!(differing > 0, "per-shard idf changed no query's hits");
}

/// A collection as earlier versions created it: the sparse leg with Qdrant's `idf`
/// modifier.
fn create_with_idf_modifier(col: &Collection, shards: u32) {
    use qdrant_client::qdrant::{
        CreateCollectionBuilder, Distance, Modifier, SparseVectorParamsBuilder,
        SparseVectorsConfigBuilder, VectorParamsBuilder,
    };
    let client = qdrant_client::Qdrant::from_url(&col.url)
        .skip_compatibility_check()
        .build()
        .expect("client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        "bm25",
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
    );
    rt.block_on(
        client.create_collection(
            CreateCollectionBuilder::new(&col.config.collection)
                .vectors_config(VectorParamsBuilder::new(DIM as u64, Distance::Cosine))
                .shard_number(shards)
                .sparse_vectors_config(sparse),
        ),
    )
    .expect("create collection");
}
