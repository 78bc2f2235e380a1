//! The server vector store against a real Qdrant server. Runs only when `DOCKET_QDRANT_URL`
//! names one (e.g. `http://127.0.0.1:6334`); otherwise each test says it was skipped.
//! Each test uses its own collection and drops it at the end. The unreachable-server test
//! always runs.

mod common;

use std::io::Write as _;

use common::*;
use docket_index::Error;
use docket_index::filter::Filter;
use docket_index::vector::{Point, ServerStore, VectorSpec, VectorStore, VectorStoreConfig};
use docket_ingest::Chunk;

const DIM: usize = 16;
const URL_VAR: &str = "DOCKET_QDRANT_URL";

/// The server's URL, or `None` after saying the test is skipped. Written to the process's
/// stderr directly, past the test harness's capture, so the skip shows in every run.
fn server(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: set {URL_VAR} to a Qdrant gRPC URL (e.g. http://127.0.0.1:6334) to run it"
            );
            None
        }
    }
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
        }
    }
}

#[test]
fn server_search_filters_delete_and_reupsert() {
    let Some(url) = server("server_search_filters_delete_and_reupsert") else {
        return;
    };
    let col = Collection::new(&url, "main");
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
