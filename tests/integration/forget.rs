//! `docket forget` and pruning leave nothing of a document under the index directory:
//! a job (classify, summarize, answer) runs on a folder holding a document with marker
//! sentences, the document is forgotten (or its file deleted and pruned), and then no
//! file under the index directory (stores, catalog, job state, caches) holds a marker,
//! lowercased or as the BM25 index's stemmed terms; the next run's outputs hold no row
//! of it, and a forgotten document whose file is still there is not indexed again.

use std::path::{Path, PathBuf};

use docket_index::lexical::{Bm25Index, LexicalConfig};

use crate::util::{Run, docket, temp_dir, write};

/// Sentences of words no other document (nor English) uses.
const SECRET: &str = "# Vexillarium protocol\n\n\
    The Vexillarium protocol requires quintuple glimmerstone audits every Thursday.\n\n\
    Captain Orlundra Fazzbeck countersigned the glimmerstone ledgers in Tromsvikhavn.\n\n\
    Zephyrquill budgets were frozen at 48213 crowns by the Brakkenmoor council.\n";

const OTHER: &str = "# Retired\n\n\
    The Quorlith archive notes that Drumvellian moths migrate every spring.\n\n\
    Its keeper, Ysolde Marrowjack, counted moths near the Pelvarrin lighthouse.\n";

/// The markers: distinctive phrases and words of `text`, lowercased too, and the
/// BM25 index's analyzed terms of its unusual words.
fn markers(text: &str, words: &[&str]) -> Vec<String> {
    let dir = temp_dir();
    let analyzer = Bm25Index::open(dir.path(), LexicalConfig::default()).expect("analyzer");
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| l.len() > 30)
        .map(|l| l[..30].to_owned())
        .collect();
    for w in words {
        out.push((*w).to_owned());
        out.push(w.to_lowercase());
        out.extend(analyzer.analyze(w));
    }
    out.sort();
    out.dedup();
    out
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// (marker, file) for every marker some file under `dir` holds.
fn found(dir: &Path, markers: &[String]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for f in files(dir) {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        for m in markers {
            if bytes.windows(m.len()).any(|w| w == m.as_bytes()) {
                out.push((m.clone(), f.clone()));
            }
        }
    }
    out
}

fn job(dir: &Path) -> PathBuf {
    write(
        dir,
        "questions.txt",
        b"Who countersigned the ledgers?\nWhere do the moths migrate?\n",
    );
    write(
        dir,
        "job.toml",
        b"version = 1\nname = \"trust\"\n[sources]\npaths = [\"docs\"]\n[index]\ndir = \"ix\"\n\
          [[classify]]\nname = \"kind\"\nlabels = [\"animals\", \"money\", \"rules\"]\noutput = \"out/kind.csv\"\n\
          [[summarize]]\nname = \"gist\"\nlength = 2\noutput = \"out/gist.jsonl\"\n\
          [[answer]]\nname = \"qa\"\nquestions = \"questions.txt\"\noutput = \"out/answers.jsonl\"\nextractive = true\n",
    )
}

fn run(job: &Path) -> Run {
    let r = docket(["run".to_owned(), job.display().to_string()]);
    r.expect_code(0);
    r
}

/// The outputs' text, to look for a document's rows in.
fn outputs(dir: &Path) -> String {
    ["kind.csv", "gist.jsonl", "answers.jsonl"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join("out").join(f)).expect("output written"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn status_documents(ix: &Path) -> u64 {
    let r = docket(["status", "--json", "--index", &ix.display().to_string()]);
    r.expect_code(0);
    r.json()["documents"].as_u64().expect("documents")
}

#[test]
fn forget_and_prune_leave_no_byte_of_a_document_under_the_index() {
    let tmp = temp_dir();
    let dir = tmp.path();
    write(
        dir,
        "docs/weather.md",
        b"# Weather\n\nRain is expected on Monday, then sun all week.\n",
    );
    write(
        dir,
        "docs/cats.md",
        b"# Cats\n\nCats sleep most of the day and hunt at dusk.\n",
    );
    write(dir, "docs/secret.md", SECRET.as_bytes());
    write(dir, "docs/other.md", OTHER.as_bytes());
    let job = job(dir);
    let ix = dir.join("ix");
    let secret = markers(
        SECRET,
        &[
            "Vexillarium",
            "glimmerstone",
            "Orlundra",
            "Fazzbeck",
            "Tromsvikhavn",
            "Zephyrquill",
            "Brakkenmoor",
        ],
    );
    let other = markers(
        OTHER,
        &["Quorlith", "Drumvellian", "Marrowjack", "Pelvarrin"],
    );

    run(&job);
    let out = outputs(dir);
    assert!(
        out.contains("secret.md") && out.contains("other.md"),
        "{out}"
    );
    // The files hold the markers before (so the checks below can fail).
    let before = found(&ix, &secret);
    assert!(before.iter().any(|(m, _)| m == "Vexillarium"), "{before:?}");
    assert!(
        before.iter().any(|(_, f)| f.ends_with("state.redb")),
        "{before:?}"
    );

    let forgot = docket([
        "forget",
        "--json",
        "--index",
        &ix.display().to_string(),
        "secret.md",
    ]);
    forgot.expect_code(0);
    let report = forgot.json();
    assert_eq!(report["documents"][0]["source"], "secret.md", "{report:#}");
    assert!(
        report["job_results"].as_u64().unwrap_or(0) >= 2,
        "{report:#}"
    );
    assert_eq!(found(&ix, &secret), Vec::new());
    // The other documents are still there and searchable.
    assert_eq!(status_documents(&ix), 3);
    let hits = docket([
        "search",
        "--json",
        "--index",
        &ix.display().to_string(),
        "Drumvellian moths",
    ]);
    hits.expect_code(0);
    assert!(hits.stdout.contains("other.md"), "{}", hits.describe());

    // The next run rewrites the outputs without the document and does not index it
    // again, though its file is there.
    run(&job);
    let out = outputs(dir);
    assert!(!out.contains("secret.md"), "{out}");
    assert!(!out.contains("Fazzbeck"), "{out}");
    assert_eq!(status_documents(&ix), 3);
    assert_eq!(found(&ix, &secret), Vec::new());

    // Pruning a deleted file reaches the same state.
    assert!(!found(&ix, &other).is_empty());
    std::fs::remove_file(dir.join("docs/other.md")).expect("remove");
    run(&job);
    assert_eq!(found(&ix, &other), Vec::new());
    let out = outputs(dir);
    assert!(
        !out.contains("other.md") && !out.contains("Marrowjack"),
        "{out}"
    );
    assert_eq!(status_documents(&ix), 2);

    // Unknown names are a usage error; --restore lets a forgotten document back in.
    docket(["forget", "--index", &ix.display().to_string(), "nowhere.md"]).expect_code(64);
    let id = report["documents"][0]["doc_id"]
        .as_str()
        .expect("doc id")
        .to_owned();
    docket([
        "forget",
        "--restore",
        "--index",
        &ix.display().to_string(),
        &id,
    ])
    .expect_code(0);
    run(&job);
    assert_eq!(status_documents(&ix), 3);
    assert!(outputs(dir).contains("secret.md"));
}
