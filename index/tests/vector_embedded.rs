//! The embedded (qdrant-edge) vector store on a real store in a temp dir.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use docket_index::filter::Filter;
use docket_index::vector::{
    EmbeddedStore, Point, VectorSpec, VectorStore, VectorStoreConfig, open_store,
};
use docket_index::{AnalyzerConfig, Error};
use docket_ingest::Chunk;

const DIM: usize = 16;

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, VectorSpec::cosine(DIM)).expect("open store")
}

#[test]
fn nearest_neighbours_come_back_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (chunks, vectors) = corpus(20, 10, DIM, 7);
    upsert_all(&store, &chunks, &vectors);
    assert_eq!(store.count().expect("count"), 200);

    let mut rng = Rng::new(99);
    for _ in 0..10 {
        let q = rng.unit_vector(DIM);
        let hits = store.search(&q, 10, &Filter::default()).expect("search");
        assert_eq!(ids(&hits), brute_force(&chunks, &vectors, &q, 10, |_| true));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let best = &hits[0];
        let i = chunks
            .iter()
            .position(|c| c.id == best.chunk_id)
            .expect("known");
        assert!((best.score - cosine(&q, &vectors[i])).abs() < 1e-4);
        assert_eq!(best.doc_id, chunks[i].doc_id);
    }
    // A stored vector is its own nearest neighbour, with cosine 1.
    let hits = store
        .search(&vectors[42], 1, &Filter::default())
        .expect("search");
    assert_eq!(hits[0].chunk_id, chunks[42].id);
    assert!((hits[0].score - 1.0).abs() < 1e-4);
    assert!(
        store
            .search(&vectors[0], 0, &Filter::default())
            .expect("k=0")
            .is_empty()
    );
    // More than there is: everything, once.
    assert_eq!(
        store
            .search(&vectors[0], 1000, &Filter::default())
            .expect("all")
            .len(),
        200
    );
}

#[test]
fn filters_match_an_exact_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (chunks, vectors) = corpus(30, 8, DIM, 11);
    upsert_all(&store, &chunks, &vectors);

    let meta = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let filters = vec![
        filter_glob("*.pdf"),
        filter_glob("policies/**"),
        filter_glob("1*/policies/*/*.pdf"),
        filter_glob("weird dir/a.b=c.pdf"),
        filter_glob("nothing/**"),
        Filter {
            formats: vec!["markdown".into(), "HTML".into()],
            ..Filter::default()
        },
        Filter {
            metadata: meta(&[("priority", "high")]),
            ..Filter::default()
        },
        Filter {
            metadata: meta(&[("priority", "high"), ("team.name", "c=d")]),
            ..Filter::default()
        },
        Filter {
            metadata: meta(&[("missing", "x")]),
            ..Filter::default()
        },
        Filter {
            doc_ids: vec!["doc3".into(), "doc17".into()],
            ..Filter::default()
        },
        Filter {
            source_glob: Some("*.pdf".into()),
            formats: vec!["pdf".into()],
            metadata: meta(&[("team.name", "a.b")]),
            doc_ids: vec![],
        },
    ];
    let mut rng = Rng::new(5);
    for filter in &filters {
        let keep = |c: &Chunk| filter_keeps(filter, c);
        let expected_any = chunks.iter().any(keep);
        for _ in 0..3 {
            let q = rng.unit_vector(DIM);
            let hits = store.search(&q, 12, filter).expect("search");
            assert_eq!(
                ids(&hits),
                brute_force(&chunks, &vectors, &q, 12, keep),
                "filter {filter:?}"
            );
            assert_eq!(!hits.is_empty(), expected_any, "filter {filter:?}");
        }
    }
    let bad = filter_glob("a[");
    assert!(matches!(
        store.search(&vectors[0], 5, &bad),
        Err(Error::Glob { .. })
    ));
}

#[test]
fn delete_document_removes_all_its_chunks_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (chunks, vectors) = corpus(5, 10, DIM, 3);
    upsert_all(&store, &chunks, &vectors);
    store.delete_document("doc2").expect("delete");
    store
        .delete_document("no-such-doc")
        .expect("unknown doc is fine");
    assert_eq!(store.count().expect("count"), 40);
    let hits = store
        .search(&vectors[25], 50, &Filter::default())
        .expect("search");
    assert_eq!(hits.len(), 40);
    assert!(hits.iter().all(|h| h.doc_id != "doc2"));
    assert!(store.chunks(&["doc2-5"]).expect("chunks").is_empty());
    assert_eq!(store.chunks(&["doc3-5"]).expect("chunks").len(), 1);
}

#[test]
fn upserting_again_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (mut chunks, vectors) = corpus(3, 4, DIM, 5);
    upsert_all(&store, &chunks, &vectors);
    upsert_all(&store, &chunks, &vectors);
    assert_eq!(store.count().expect("count"), 12);

    chunks[0].text = "rewritten".into();
    chunks[0]
        .metadata
        .insert("priority".into(), "urgent".into());
    let moved = Rng::new(8).unit_vector(DIM);
    store
        .upsert(&[Point {
            chunk: &chunks[0],
            vector: &moved,
            content_hash: None,
        }])
        .expect("upsert");
    assert_eq!(store.count().expect("count"), 12);
    let got = store.chunks(&[&chunks[0].id]).expect("chunks");
    assert_eq!(got, vec![chunks[0].clone()]);
    let hits = store.search(&moved, 1, &Filter::default()).expect("search");
    assert_eq!(hits[0].chunk_id, chunks[0].id);
    // The old metadata no longer matches.
    let old = Filter {
        metadata: [("priority".to_owned(), "high".to_owned())].into(),
        doc_ids: vec!["doc0".into()],
        ..Filter::default()
    };
    let hits = store.search(&moved, 10, &old).expect("search");
    assert!(hits.iter().all(|h| h.chunk_id != chunks[0].id));
}

#[test]
fn chunks_round_trip_in_the_order_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (chunks, vectors) = corpus(3, 3, DIM, 13);
    upsert_all(&store, &chunks, &vectors);
    let got = store
        .chunks(&["doc2-1", "nope", "doc0-0", "doc1-2"])
        .expect("chunks");
    let want: Vec<Chunk> = ["doc2-1", "doc0-0", "doc1-2"]
        .iter()
        .map(|id| chunks.iter().find(|c| c.id == *id).expect("known").clone())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn persists_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chunks, vectors) = corpus(10, 10, DIM, 17);
    let q = Rng::new(3).unit_vector(DIM);
    let before = {
        let store = open(dir.path());
        upsert_all(&store, &chunks, &vectors);
        store.delete_document("doc4").expect("delete");
        store.flush().expect("flush");
        store.search(&q, 10, &filter_glob("*.pdf")).expect("search")
    };
    let store = open(dir.path());
    assert_eq!(store.count().expect("count"), 90);
    assert_eq!(
        store.search(&q, 10, &filter_glob("*.pdf")).expect("search"),
        before
    );
    assert_eq!(
        store.chunks(&["doc1-1"]).expect("chunks"),
        vec![chunks[11].clone()]
    );
    // And through the config-driven entry point, which uses <index dir>/vectors.
    drop(store);
    let index_dir = tempfile::tempdir().expect("tempdir");
    {
        let s = open_store(
            &VectorStoreConfig::default(),
            index_dir.path(),
            VectorSpec::cosine(DIM),
            &AnalyzerConfig::default(),
        )
        .expect("open");
        upsert_all(s.as_ref(), &chunks[..5], &vectors[..5]);
        s.flush().expect("flush");
    }
    assert!(index_dir.path().join("vectors").is_dir());
    let s = open_store(
        &VectorStoreConfig::default(),
        index_dir.path(),
        VectorSpec::cosine(DIM),
        &AnalyzerConfig::default(),
    )
    .expect("reopen");
    assert_eq!(s.count().expect("count"), 5);
}

#[test]
fn wrong_dimensions_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chunks, vectors) = corpus(1, 1, DIM, 1);
    {
        let store = open(dir.path());
        let short = vec![0.5; DIM - 1];
        let err = store
            .upsert(&[Point {
                chunk: &chunks[0],
                vector: &short,
                content_hash: None,
            }])
            .expect_err("short vector");
        assert!(
            matches!(err, Error::DimensionMismatch { expected: DIM, found, .. } if found == DIM - 1),
            "{err}"
        );
        assert!(matches!(
            store.search(&short, 3, &Filter::default()),
            Err(Error::DimensionMismatch { .. })
        ));
        let mut nan = vectors[0].clone();
        nan[3] = f32::NAN;
        assert!(matches!(
            store.upsert(&[Point {
                chunk: &chunks[0],
                vector: &nan,
                content_hash: None,
            }]),
            Err(Error::NonFiniteVector { .. })
        ));
        assert_eq!(store.count().expect("count"), 0);
    }
    let err = EmbeddedStore::open(dir.path(), VectorSpec::cosine(384)).expect_err("other dim");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: DIM,
                found: 384,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
}

#[test]
fn a_store_is_opened_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = open(dir.path());
    assert!(matches!(
        EmbeddedStore::open(dir.path(), VectorSpec::cosine(DIM)),
        Err(Error::Locked { .. })
    ));
}

#[test]
fn optimize_keeps_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chunks, vectors) = corpus(20, 20, DIM, 23);
    let q = Rng::new(4).unit_vector(DIM);
    let store = open(dir.path());
    upsert_all(&store, &chunks, &vectors);
    store.delete_document("doc0").expect("delete");
    let before = store.search(&q, 10, &Filter::default()).expect("search");
    store.optimize().expect("optimize");
    assert_eq!(
        store.search(&q, 10, &Filter::default()).expect("search"),
        before
    );
    store.flush().expect("flush");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.count().expect("count"), 380);
    assert_eq!(
        store.search(&q, 10, &Filter::default()).expect("search"),
        before
    );
}

/// Env vars telling the child test where its store is and whether it flushes once.
const CHILD_DIR: &str = "DOCKET_TEST_KILL_CHILD_DIR";
const CHILD_FLUSHES: &str = "DOCKET_TEST_KILL_CHILD_FLUSHES";

/// Child half of the kill tests: does nothing unless run by [`kill_child`].
#[test]
#[allow(clippy::print_stdout)]
fn kill_before_flush_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let store = open(std::path::Path::new(&dir));
    let (chunks, vectors) = corpus(4, 25, DIM, 29);
    if std::env::var_os(CHILD_FLUSHES).is_some() {
        upsert_all(&store, &chunks[..50], &vectors[..50]);
        store.flush().expect("flush");
    }
    upsert_all(&store, &chunks[50..], &vectors[50..]);
    store.delete_document("doc0").expect("delete");
    println!("READY");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

/// Run the child on `dir` and SIGKILL it once it has upserted without flushing.
fn kill_child(dir: &std::path::Path, flush_first: bool) {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "kill_before_flush_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, dir)
    .stdout(Stdio::piped());
    if flush_first {
        cmd.env(CHILD_FLUSHES, "1");
    }
    let mut child = cmd.spawn().expect("spawn child");
    let stdout = child.stdout.take().expect("piped");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(|l| l.ok())
        .any(|l| l.contains("READY"));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(ready, "child never got to its upserts");
}

/// What a `kill -9` after an upsert but before a flush leaves: the store as of the last
/// flush (qdrant-edge 0.7.0 does not replay its WAL on load), which reopens cleanly.
#[test]
fn kill_before_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_child(dir.path(), true);

    let store = open(dir.path());
    let (chunks, vectors) = corpus(4, 25, DIM, 29);
    let count = store.count().expect("count");
    assert_eq!(count, 50, "only the flushed points survive");
    let hits = store
        .search(&vectors[10], 100, &Filter::default())
        .expect("search");
    assert_eq!(hits.len(), 50);
    assert_eq!(hits[0].chunk_id, chunks[10].id);
    assert_eq!(store.chunks(&[&chunks[60].id]).expect("chunks"), vec![]);
    // Recovery: upsert what was not committed, again.
    upsert_all(&store, &chunks[50..], &vectors[50..]);
    store.delete_document("doc0").expect("delete");
    store.flush().expect("flush");
    assert_eq!(store.count().expect("count"), 75);
}

/// A store killed before its first flush reopens empty (and usable).
#[test]
fn kill_before_first_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_child(dir.path(), false);
    let store = open(dir.path());
    assert_eq!(store.count().expect("count"), 0);
    let (chunks, vectors) = corpus(4, 25, DIM, 29);
    upsert_all(&store, &chunks, &vectors);
    store.flush().expect("flush");
    assert_eq!(store.count().expect("count"), 100);
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if std::fs::read(&p)
                .expect("read")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_rebuild_leaves_no_byte_of_deleted_points_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vectors");
    let (mut chunks, vectors) = corpus(5, 4, DIM, 3);
    for c in chunks.iter_mut().filter(|c| c.doc_id == "doc0") {
        c.text = format!("Obfuscatory marmalade clause {}", c.ordinal);
    }
    {
        let store = open(&path);
        upsert_all(&store, &chunks, &vectors);
        store.delete_document("doc0").expect("delete");
        store.flush().expect("flush");
    }
    // A delete marks points; their payloads stay in the files (segments, WAL).
    assert!(!files_holding(&path, b"Obfuscatory marmalade").is_empty());
    EmbeddedStore::rebuild(&path, VectorSpec::cosine(DIM)).expect("rebuild");
    assert_eq!(
        files_holding(&path, b"Obfuscatory marmalade"),
        Vec::<std::path::PathBuf>::new()
    );
    // Nothing is left beside the store either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["vectors"]);
    let store = open(&path);
    let kept: Vec<&Chunk> = chunks.iter().filter(|c| c.doc_id != "doc0").collect();
    assert_eq!(store.count().expect("count"), kept.len());
    let ids: Vec<&str> = kept.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(store.chunks(&ids).expect("chunks").len(), kept.len());
    // Vectors came along: a kept chunk's vector is its own nearest neighbour.
    let i = chunks
        .iter()
        .position(|c| c.id == kept[0].id)
        .expect("known");
    let hits = store
        .search(&vectors[i], 1, &Filter::default())
        .expect("search");
    assert_eq!(hits[0].chunk_id, kept[0].id);
}

#[test]
fn an_interrupted_rebuild_is_finished_or_undone_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vectors");
    let (chunks, vectors) = corpus(2, 2, DIM, 5);
    {
        let store = open(&path);
        upsert_all(&store, &chunks, &vectors);
        store.flush().expect("flush");
    }
    // Killed after moving the store aside, before the copy was marked finished: the
    // store comes back.
    std::fs::rename(&path, dir.path().join("vectors.old")).expect("move aside");
    std::fs::create_dir(dir.path().join("vectors.rebuild")).expect("partial copy");
    let store = open(&path);
    assert_eq!(store.count().expect("count"), chunks.len());
    drop(store);
    assert!(!dir.path().join("vectors.old").exists());
    assert!(!dir.path().join("vectors.rebuild").exists());
}
