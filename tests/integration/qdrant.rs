//! `docket` against a real Qdrant server on loopback: sharded workers writing one
//! collection, whole-archive search and the answer step from any worker, kill -9 of an
//! index run, and the server killed and restarted under a run.
//!
//! Runs when a Qdrant binary is found (`QDRANT_BIN`, or `~/.cache/docket/qdrant/qdrant`);
//! otherwise each test prints SKIPPED and passes without running anything.

#[path = "../../index/tests/common/qdrant.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use docket_index::shard::Shard;
use server::{QdrantNode, qdrant_binary};

use crate::util::{copy_examples, docket, docket_bin, temp_dir, write};

/// A Qdrant server for one test, or `None` after saying the test is skipped.
fn server(test: &str, dir: &Path) -> Option<QdrantNode> {
    let Some(bin) = qdrant_binary() else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no Qdrant binary: set QDRANT_BIN or put one at ~/.cache/docket/qdrant/qdrant (README: Qdrant for the tests)"
        );
        return None;
    };
    Some(QdrantNode::single(&bin, &dir.join("qdrant")).expect("start qdrant"))
}

/// Chunks per document id in a collection, read with an exact facet.
fn chunks_by_doc(node: &QdrantNode, collection: &str) -> BTreeMap<String, u64> {
    let (code, body) = node
        .post(
            &format!("/collections/{collection}/facet"),
            r#"{"key":"doc_id","limit":100000,"exact":true}"#,
        )
        .expect("facet request");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["result"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["value"].as_str().expect("value").to_owned(),
                h["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

fn points(node: &QdrantNode, collection: &str) -> u64 {
    let (code, body) = node
        .post(
            &format!("/collections/{collection}/points/count"),
            r#"{"exact":true}"#,
        )
        .expect("count request");
    if code != 200 {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["result"]["count"].as_u64().unwrap_or(0)
}

fn index_args<'a>(
    paths: &'a Path,
    index: &'a Path,
    url: &'a str,
    collection: &'a str,
) -> Vec<std::ffi::OsString> {
    [
        "index".as_ref(),
        paths.as_os_str(),
        "--index".as_ref(),
        index.as_os_str(),
        "--qdrant-url".as_ref(),
        url.as_ref(),
        "--qdrant-collection".as_ref(),
        collection.as_ref(),
    ]
    .into_iter()
    .map(ToOwned::to_owned)
    .collect()
}

/// The chunk ids of `docket search --json` hits.
fn search_ids(index: &Path, query: &str) -> Vec<String> {
    let run = docket([
        "search",
        query,
        "--index",
        &index.display().to_string(),
        "-k",
        "10",
        "--json",
    ]);
    run.expect_code(0);
    run.json_lines()
        .iter()
        .map(|h| h["chunk_id"].as_str().expect("chunk_id").to_owned())
        .collect()
}

/// Document ids of the sources the answers cite.
fn cited_docs(answers: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(answers).expect("answers");
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("answer json");
        for c in v["sources"].as_array().into_iter().flatten() {
            if let Some(s) = c["doc_id"].as_str() {
                out.insert(s.to_owned());
            }
        }
    }
    out
}

#[test]
fn sharded_workers_fill_one_collection_that_any_worker_searches_and_answers_over() {
    let tmp = temp_dir();
    let Some(node) = server(
        "sharded_workers_fill_one_collection_that_any_worker_searches_and_answers_over",
        tmp.path(),
    ) else {
        return;
    };
    let url = node.url();
    let examples = copy_examples(tmp.path());
    // Questions whose answers sit in documents of different shards.
    let questions = write(
        &examples,
        "cluster-questions.txt",
        b"What is the per diem for international trips?\nHow long are support tickets kept?\nHow many days do Ridge Club members have to return items?\nWithin how long must a suspected security incident be reported?\n",
    );
    // The lexical leg's average chunk length is fixed for both collections: by default
    // each takes the mean of its first batch, and the first batches of one machine and of
    // two workers differ, which shifts BM25's length normalisation a little.
    let job = |name: &str, collection: &str| -> PathBuf {
        write(
            &examples,
            &format!("{name}.toml"),
            format!(
                r#"version = 1
name = "cluster"
[sources]
paths = ["archive"]
[index]
dir = ".docket/{name}"
qdrant_url = "{url}"
qdrant_collection = "{collection}"
qdrant_avg_terms = 60
[[answer]]
name = "questions"
questions = "{}"
output = "out/{name}/answers.jsonl"
extractive = true
"#,
                questions.display()
            )
            .as_bytes(),
        )
    };
    let jobs = [job("worker0", "cluster"), job("worker1", "cluster")];

    // Two workers at once, one shard each, into one collection.
    let children: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            Command::new(docket_bin())
                .args([
                    "run",
                    &job.display().to_string(),
                    "--shard",
                    &format!("{i}/2"),
                ])
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start worker")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("worker");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "worker failed:\n{stderr}");
        assert!(
            stderr.contains("answer questions skipped") && stderr.contains("--tasks answer"),
            "a sharded run leaves answers to the answer step:\n{stderr}"
        );
    }

    // The same archive by one machine into its own collection, as the reference.
    docket(["run", &job("reference", "reference").display().to_string()]).expect_code(0);
    let reference = examples.join(".docket/reference");
    let expected = chunks_by_doc(&node, "reference");
    let got = chunks_by_doc(&node, "cluster");
    assert!(!expected.is_empty());
    assert_eq!(got, expected, "every chunk exactly once");
    let shards: BTreeSet<u64> = got.keys().map(|d| Shard::of(d, 2)).collect();
    assert_eq!(shards.len(), 2, "both workers wrote documents");

    // Either worker's index searches the whole collection, as the single machine does.
    for worker in [".docket/worker0", ".docket/worker1"] {
        for query in [
            "per diem international travel",
            "support ticket retention",
            "returns without a receipt",
            "report a security incident",
        ] {
            assert_eq!(
                search_ids(&examples.join(worker), query),
                search_ids(&reference, query),
                "{worker}: {query}"
            );
        }
    }

    // The answer step, on one worker once both are done, answers over the whole archive.
    let run = docket([
        "run",
        &jobs[0].display().to_string(),
        "--shard",
        "0/2",
        "--tasks",
        "answer",
    ]);
    run.expect_code(0);
    let answers = examples.join("out/worker0/answers.jsonl");
    let sources = cited_docs(&answers);
    let cited_shards: BTreeSet<u64> = sources.iter().map(|d| Shard::of(d, 2)).collect();
    assert_eq!(
        cited_shards.len(),
        2,
        "answers cite documents of both workers: {sources:?}\n{}",
        std::fs::read_to_string(&answers).unwrap_or_default()
    );
    // A second answer step with nothing changed redoes nothing.
    let again = docket([
        "run",
        &jobs[0].display().to_string(),
        "--shard",
        "0/2",
        "--tasks",
        "answer",
        "--report",
        &tmp.path().join("report.json").display().to_string(),
    ]);
    again.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["tasks"][0]["done"], 0, "{report}");
}

/// An archive big enough for a run to be stopped in the middle.
fn many_documents(dir: &Path, n: usize) -> PathBuf {
    let archive = dir.join("many");
    let words = [
        "invoice", "contract", "warranty", "shipment", "payment", "refund", "audit", "budget",
        "forecast", "supplier", "customer", "policy", "security", "backup", "network", "license",
    ];
    for i in 0..n {
        let mut text = format!("# Document {i}\n\n");
        for p in 0..6 {
            text.push_str(&format!(
                "Paragraph {p} of document {i} is about the {} and the {}, case {}. ",
                words[(i + p) % words.len()],
                words[(i * 7 + p * 3) % words.len()],
                i * 31 + p
            ));
            text.push_str("It repeats enough words to fill a chunk of its own. \n\n");
        }
        write(&archive, &format!("d{i:03}.md"), text.as_bytes());
    }
    archive
}

/// Start `docket ARGS` in the background.
fn spawn(args: &[std::ffi::OsString]) -> std::process::Child {
    Command::new(docket_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docket")
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A clean `docket index` of a many-document archive into collection "reference" (the
/// expected chunks per document), then the same index started into `collection` and
/// caught mid-run: some of its chunks are on the server, not all. Returns the expected
/// counts, the second run's arguments and index dir, and the running process.
fn reference_then_mid_run(
    node: &QdrantNode,
    dir: &Path,
    collection: &str,
) -> (
    BTreeMap<String, u64>,
    Vec<std::ffi::OsString>,
    PathBuf,
    std::process::Child,
) {
    let url = node.url();
    let archive = many_documents(dir, 240);
    docket(index_args(
        &archive,
        &dir.join("reference"),
        &url,
        "reference",
    ))
    .expect_code(0);
    let expected = chunks_by_doc(node, "reference");
    let total: u64 = expected.values().sum();
    let index = dir.join(collection);
    let args = index_args(&archive, &index, &url, collection);
    let child = spawn(&args);
    let landed = wait_for(Duration::from_secs(120), || {
        let n = points(node, collection);
        n > 0 && n < total
    });
    assert!(landed, "the run was not caught mid-run");
    (expected, args, index, child)
}

#[test]
fn kill_9_of_an_index_run_then_a_rerun_leaves_every_chunk_exactly_once() {
    let tmp = temp_dir();
    let Some(node) = server(
        "kill_9_of_an_index_run_then_a_rerun_leaves_every_chunk_exactly_once",
        tmp.path(),
    ) else {
        return;
    };
    let (expected, args, index, mut child) = reference_then_mid_run(&node, tmp.path(), "killed");
    let total: u64 = expected.values().sum();
    child.kill().expect("kill -9");
    let _ = child.wait();
    let before = points(&node, "killed");
    assert!(before < total, "{before} of {total}");

    docket(args).expect_code(0);
    assert_eq!(chunks_by_doc(&node, "killed"), expected);
    let status = docket(["status", "--index", &index.display().to_string(), "--json"]);
    status.expect_code(0);
    let s = status.json();
    assert_eq!(s["chunks"].as_u64(), Some(total), "{s}");
    assert_eq!(s["vector_points"].as_u64(), Some(total), "{s}");
}

#[test]
fn the_server_killed_and_restarted_under_a_run_loses_nothing() {
    let tmp = temp_dir();
    let Some(mut node) = server(
        "the_server_killed_and_restarted_under_a_run_loses_nothing",
        tmp.path(),
    ) else {
        return;
    };
    let (expected, args, index, mut child) = reference_then_mid_run(&node, tmp.path(), "restarted");
    let total: u64 = expected.values().sum();
    node.kill();
    std::thread::sleep(Duration::from_secs(2));
    node.start().expect("restart qdrant");
    // The run retries through the outage or fails cleanly, naming the server.
    let out = {
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "the run hangs after the restart"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let mut stderr = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    if !out.success() {
        assert!(
            stderr.contains("qdrant") || stderr.contains("collection restarted"),
            "a failed run says the server failed:\n{stderr}"
        );
    }
    // The next run completes the index; the counts equal the clean run's.
    docket(args).expect_code(0);
    assert_eq!(chunks_by_doc(&node, "restarted"), expected);
    let status = docket(["status", "--index", &index.display().to_string(), "--json"]);
    status.expect_code(0);
    assert_eq!(status.json()["vector_points"].as_u64(), Some(total));
}
