//! `docket index`, `search` and `status` on real files with the real default embedder,
//! embedded Qdrant and tantivy: incremental runs, pruning, dry runs, filters in every
//! mode, the BM25 fallback, and kill -9 in the middle of indexing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{Run, ask_json, docket, sample_archive, temp_dir, write};

/// Copy the sample archive into `dir` (so tests may change it).
fn copy_archive(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read archive") {
            let e = e.expect("entry");
            let target = to.join(e.file_name());
            if e.file_type().expect("type").is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).expect("copy");
            }
        }
    }
    copy(&sample_archive(), dir);
}

fn index(docs: &Path, ix: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "index".to_owned(),
        docs.display().to_string(),
        "--index".into(),
        ix.display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(args)
}

fn status(ix: &Path) -> Value {
    docket(["status", "--json", "--index", &ix.display().to_string()])
        .expect_code(0)
        .json()
}

fn search(ix: &Path, query: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "search".to_owned(),
        query.to_owned(),
        "--index".into(),
        ix.display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(args).expect_code(0).json_lines()
}

/// The last JSON line of a run's stdout (the summary of `docket index --json`).
fn summary(run: &Run) -> Value {
    run.json_lines().pop().expect("a summary line")
}

#[test]
fn incremental_runs_embed_only_what_changed_and_prune_what_is_gone() {
    let tmp = temp_dir();
    let docs = tmp.path().join("archive");
    let ix = tmp.path().join("ix");
    copy_archive(&docs);

    let first = index(&docs, &ix, &[]);
    let s = summary(first.expect_code(0));
    assert_eq!(s["added"], 63, "{}", first.describe());
    assert_eq!(s["failed"], 0);
    let chunks = s["chunks_embedded"].as_u64().unwrap();
    assert!(chunks >= 63, "{s}");
    let st = status(&ix);
    assert_eq!(st["documents"], 63);
    assert_eq!(st["pending"], 0);
    assert_eq!(st["bm25_chunks"].as_u64(), Some(chunks));
    assert_eq!(st["vector_points"].as_u64(), Some(chunks));
    assert_eq!(st["embedder"], "all-minilm-l6-v2");

    // Nothing changed: nothing embedded.
    let again = index(&docs, &ix, &[]);
    let s = summary(again.expect_code(0));
    assert_eq!(
        (s["added"].as_u64(), s["updated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(s["kept"], 63);
    assert_eq!(s["chunks_embedded"], 0);

    // One file changed, one row of a CSV changed, one file gone, one new.
    let travel = docs.join("policies/travel-and-expenses.md");
    let text = std::fs::read_to_string(&travel).unwrap();
    std::fs::write(&travel, text.replace("95 USD", "105 USD")).unwrap();
    let tickets = docs.join("support/tickets.csv");
    let csv = std::fs::read_to_string(&tickets).unwrap();
    let changed_csv = csv.replacen("refund still isn't on my card", "refund never arrived", 1);
    assert_ne!(
        csv, changed_csv,
        "the ticket text to change is in the sample CSV"
    );
    std::fs::write(&tickets, changed_csv).unwrap();
    let gone = docs.join("policies/data-retention.md");
    std::fs::remove_file(&gone).unwrap();
    write(
        &docs,
        "policies/pets.md",
        b"# Pets policy\n\nDogs are welcome in the Portland office on Fridays.\n",
    );

    // The dry run says so and changes nothing.
    let plan = index(&docs, &ix, &["--dry-run", "--prune"]);
    let lines = plan.expect_code(0).json_lines();
    let action_of = |source: &str| {
        lines
            .iter()
            .find(|l| l["source"] == source)
            .map(|l| l["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        action_of("policies/travel-and-expenses.md").as_deref(),
        Some("update")
    );
    assert_eq!(
        action_of("support/tickets.csv#T-10238").as_deref(),
        Some("update")
    );
    assert_eq!(
        action_of("support/tickets.csv#T-10231").as_deref(),
        Some("keep")
    );
    assert_eq!(
        action_of("policies/data-retention.md").as_deref(),
        Some("delete")
    );
    assert_eq!(action_of("policies/pets.md").as_deref(), Some("add"));
    assert_eq!(status(&ix)["documents"], 63, "a dry run changed the index");

    // Without --prune the gone file stays searchable; with it, it goes.
    let s = summary(index(&docs, &ix, &[]).expect_code(0));
    assert_eq!(
        (s["added"].as_u64(), s["updated"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(s["deleted"], 0);
    assert_eq!(status(&ix)["documents"], 64);
    let s = summary(index(&docs, &ix, &["--prune"]).expect_code(0));
    assert_eq!(s["deleted"], 1);
    assert_eq!(s["chunks_embedded"], 0);
    let st = status(&ix);
    assert_eq!(st["documents"], 63);
    assert_eq!(st["bm25_chunks"], st["chunks"]);
    assert_eq!(st["vector_points"], st["chunks"]);

    // Search sees the new content and not the old, in every mode.
    for mode in ["hybrid", "dense", "bm25"] {
        let hits = search(&ix, "international per diem", &["--mode", mode, "-k", "3"]);
        let top = hits
            .iter()
            .find(|h| h["source"] == "policies/travel-and-expenses.md")
            .unwrap_or_else(|| panic!("{mode}: travel policy not in the top 3: {hits:?}"));
        let all_text: String = hits.iter().map(|h| h["text"].as_str().unwrap()).collect();
        assert!(all_text.contains("105 USD"), "{mode}: {top}");
        assert!(
            !all_text.contains("95 USD per day"),
            "{mode}: old chunk still there"
        );
        let retention = search(&ix, "how long are invoices kept", &["--mode", mode]);
        assert!(
            retention
                .iter()
                .all(|h| h["source"] != "policies/data-retention.md"),
            "{mode}: pruned document still found"
        );
    }
}

#[test]
fn search_shows_source_page_score_snippet_and_filters_hold_in_every_mode() {
    let tmp = temp_dir();
    let ix = tmp.path().join("ix");
    index(&sample_archive(), &ix, &[]).expect_code(0);

    let hits = search(&ix, "How much is the per diem abroad?", &["-k", "5"]);
    assert_eq!(hits.len(), 5);
    let top = &hits[0];
    assert_eq!(top["source"], "policies/travel-and-expenses.md", "{hits:?}");
    assert_eq!(top["mode"], "hybrid");
    assert!(top["text"].as_str().unwrap().contains("95 USD"));
    assert!(
        top["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("diem")
    );
    assert!(!top["highlights"].as_array().unwrap().is_empty());
    assert!(
        top["dense_rank"].is_u64() && top["bm25_rank"].is_u64(),
        "{top}"
    );
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // The handbook PDF answers with its page.
    let pdf = search(&ix, "handbook", &["--filter", "format=pdf", "-k", "3"]);
    assert!(!pdf.is_empty());
    assert!(pdf.iter().all(|h| h["format"] == "pdf"));
    assert!(pdf[0]["page_start"].as_u64().unwrap() >= 1);

    for mode in ["hybrid", "dense", "bm25"] {
        let csv = search(&ix, "refund", &["--mode", mode, "--filter", "format=csv"]);
        assert!(!csv.is_empty(), "{mode}");
        assert!(csv.iter().all(|h| h["format"] == "csv"), "{mode}: {csv:?}");
        let glob = search(
            &ix,
            "refund",
            &["--mode", mode, "--filter", "source=policies/**"],
        );
        assert!(!glob.is_empty(), "{mode}");
        assert!(
            glob.iter()
                .all(|h| h["source"].as_str().unwrap().starts_with("policies/")),
            "{mode}: {glob:?}"
        );
        let none = search(
            &ix,
            "refund",
            &["--mode", mode, "--filter", "source=*.nothing"],
        );
        assert!(none.is_empty(), "{mode}: {none:?}");
    }

    // Human output names the file and the legs.
    let human = docket([
        "search",
        "per diem",
        "--index",
        &ix.display().to_string(),
        "-k",
        "1",
    ]);
    let out = &human.expect_code(0).stdout;
    assert!(out.contains("policies/travel-and-expenses.md"), "{out}");
    assert!(out.contains("**"), "snippet highlights: {out}");
}

#[test]
fn bm25_only_index_searches_with_a_notice_and_mismatches_are_usage_errors() {
    let tmp = temp_dir();
    let ix = tmp.path().join("ix");
    let docs = tmp.path().join("docs");
    write(&docs, "a.md", b"# Alpha\n\nThe vault code is 7741.\n");
    write(&docs, "b.md", b"# Beta\n\nLunch is served at noon.\n");
    let s = summary(index(&docs, &ix, &["--no-embed"]).expect_code(0));
    assert_eq!(s["added"], 2);
    assert_eq!(s["chunks_embedded"], 0);
    let st = status(&ix);
    assert!(st["embedder"].is_null());
    assert!(st["vector_points"].is_null());

    let run = docket([
        "search",
        "vault code",
        "--index",
        &ix.display().to_string(),
        "--json",
    ]);
    let hits = run.expect_code(0).json_lines();
    assert_eq!(hits[0]["source"], "a.md");
    assert_eq!(hits[0]["mode"], "bm25");
    assert!(run.stderr.contains("BM25 only"), "{}", run.describe());
    let dense = docket([
        "search",
        "vault code",
        "--mode",
        "dense",
        "--index",
        &ix.display().to_string(),
    ]);
    assert_ne!(dense.code, Some(0), "{}", dense.describe());

    // Other chunking than the index was made with: a clear usage error.
    let other = index(&docs, &ix, &["--chunk-tokens", "64", "--no-embed"]);
    other.expect_code(64);
    assert!(other.stderr.contains("chunking"), "{}", other.describe());
    let missing = docket([
        "status",
        "--index",
        &tmp.path().join("none").display().to_string(),
    ]);
    missing.expect_code(64);
    assert!(
        missing.stderr.contains("not a docket index"),
        "{}",
        missing.describe()
    );
}

/// Documents of the kill test: distinct words per document, so each can be found.
fn write_corpus(dir: &Path, n: usize) {
    for i in 0..n {
        let body: String = (0..60)
            .map(|w| format!("word{} ", (i * 7 + w * 13) % 500))
            .collect();
        write(
            dir,
            &format!("d{i:03}.txt"),
            format!("Document marker{i} about topic{}.\n\n{body}\n", i % 9).as_bytes(),
        );
    }
}

#[test]
fn kill_9_during_indexing_then_rerun_leaves_a_complete_index_without_duplicates() {
    let tmp = temp_dir();
    let docs = tmp.path().join("docs");
    let ix = tmp.path().join("ix");
    let n = 240;
    write_corpus(&docs, n);

    // Kill runs at growing delays; commits every 8 chunks so each kill lands between,
    // during or after commits. At least one kill must leave a partial index behind.
    let mut partial_seen = false;
    for delay_ms in [300u64, 900, 1600, 2500, 3500] {
        let mut child = Command::new(crate::util::docket_bin())
            .args(["index", &docs.display().to_string(), "--index"])
            .arg(&ix)
            .args(["--commit-every", "8"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docket");
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SIGKILL: no destructor, no flush, no commit.
        let _ = child.kill();
        let finished = child.wait().expect("wait").success();
        if !ix.join("manifest.json").exists() {
            continue;
        }
        let st = status(&ix);
        let docs_now = st["documents"].as_u64().unwrap() as usize;
        if !finished && docs_now > 0 && docs_now < n {
            partial_seen = true;
        }
    }
    assert!(
        partial_seen,
        "no kill landed in the middle of a run; the test proves nothing"
    );

    let s = summary(index(&docs, &ix, &[]).expect_code(0));
    assert_eq!(s["failed"], 0);
    let st = status(&ix);
    assert_eq!(st["documents"].as_u64(), Some(n as u64), "{st}");
    assert_eq!(st["pending"], 0);
    // No duplicates, nothing lost: every store holds exactly the catalog's chunks, and
    // as many as a clean index of the same files.
    assert_eq!(st["bm25_chunks"], st["chunks"], "{st}");
    assert_eq!(st["vector_points"], st["chunks"], "{st}");
    let clean = tmp.path().join("clean");
    index(&docs, &clean, &[]).expect_code(0);
    assert_eq!(status(&clean)["chunks"], st["chunks"]);
    // A final run has nothing left to do, and every document is findable.
    let s = summary(index(&docs, &ix, &[]).expect_code(0));
    assert_eq!(s["kept"].as_u64(), Some(n as u64));
    assert_eq!(s["chunks_embedded"], 0);
    for i in [0, n / 2, n - 1] {
        let hits = search(&ix, &format!("marker{i}"), &["--mode", "bm25", "-k", "1"]);
        assert_eq!(hits[0]["source"], format!("d{i:03}.txt"));
    }
}

#[test]
fn ask_cites_file_page_and_span_or_abstains_on_an_unrelated_question() {
    let tmp = temp_dir();
    let ix = tmp.path().join("ix");
    index(&sample_archive(), &ix, &[]).expect_code(0);
    let ask = |q: &str| ask_json(&ix, q, &["--extractive"]);
    let a = ask("How long are customer invoices kept?");
    let answer = a["answer"]
        .as_str()
        .unwrap_or_else(|| panic!("abstained: {a}"));
    assert!(answer.contains("7 years"), "{a}");
    let sources = a["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    let src = &sources[0];
    assert_eq!(src["source"], "policies/data-retention.md", "{a}");
    // The span is the document's own text at those byte offsets.
    let span = &src["spans"][0];
    let extracted = docket([
        "extract",
        &sample_archive()
            .join("policies/data-retention.md")
            .display()
            .to_string(),
    ])
    .expect_code(0)
    .stdout
    .clone();
    let (start, end) = (
        span["start"].as_u64().unwrap() as usize,
        span["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&extracted[start..end], span["text"].as_str().unwrap());

    for q in [
        "What is the capital of Mongolia?",
        "Who won the football world cup in 2014?",
    ] {
        let a = ask(q);
        assert!(a["answer"].is_null(), "{q}: {a}");
        assert_eq!(a["abstained"], "nothing_relevant", "{q}: {a}");
    }
}

#[test]
fn generated_answers_keep_only_sentences_whose_cited_span_is_in_the_document() {
    // The default local LLM writes the answer; the program checks it. Whatever the
    // model says, what comes out is either an abstention or sentences each backed by
    // an exact span of the cited document.
    let tmp = temp_dir();
    let ix = tmp.path().join("ix");
    index(&sample_archive(), &ix, &[]).expect_code(0);
    let ask = |q: &str| ask_json(&ix, q, &["--strategy", "generate", "--max-tokens", "96"]);
    let mut answered = 0;
    for q in [
        "How many days do customers have to return unused items?",
        "How long are customer invoices kept?",
        "What is the per diem for international trips?",
    ] {
        let a = ask(q);
        // Relevant sources were found: when the model's sentences are all dropped,
        // the extractive answer stands in, marked as a fallback.
        assert!(!a["answer"].is_null(), "{q}: {a}");
        answered += 1;
        match a["mode"].as_str() {
            Some("generated") => assert!(a["fallback"].is_null(), "{a}"),
            Some("extractive") => assert!(a["fallback"].is_string(), "{a}"),
            _ => panic!("{a}"),
        }
        assert!(a["model"].as_str().unwrap().contains("SmolLM2"), "{a}");
        for claim in a["claims"].as_array().unwrap() {
            let support = &claim["support"];
            let file = sample_archive().join(support["source"].as_str().unwrap());
            let text = docket(["extract", &file.display().to_string()])
                .expect_code(0)
                .stdout
                .clone();
            let (start, end) = (
                support["start"].as_u64().unwrap() as usize,
                support["end"].as_u64().unwrap() as usize,
            );
            assert_eq!(&text[start..end], support["text"].as_str().unwrap(), "{a}");
        }
        for dropped in a["dropped"].as_array().unwrap() {
            assert_eq!(dropped["supported"], false, "{a}");
        }
    }
    assert!(answered > 0, "the model answered nothing");
    let a = ask("What is the capital of Mongolia?");
    assert!(a["answer"].is_null(), "{a}");
}

#[test]
fn the_default_answer_quotes_the_sources_and_finds_the_remote_work_rule() {
    // The default strategy quotes the sources' own sentences (so every kept sentence
    // is an exact span), and a question whose answer is plainly in the documents is
    // answered rather than abstained on; so does the LLM's selection among them.
    let tmp = temp_dir();
    let ix = tmp.path().join("ix");
    index(&sample_archive(), &ix, &[]).expect_code(0);
    let a = ask_json(&ix, "How many days can staff work from home?", &[]);
    let answer = a["answer"]
        .as_str()
        .unwrap_or_else(|| panic!("abstained: {a}"));
    assert!(answer.contains("three days a week"), "{a}");
    assert_eq!(a["mode"], "extractive", "{a}");
    let q = "How many days can staff work from home?";
    let s = ask_json(&ix, q, &["--strategy", "select"]);
    assert!(s["answer"].is_string(), "{s}");
    assert!(
        matches!(s["mode"].as_str(), Some("selected" | "extractive")),
        "{s}"
    );
    assert_eq!(a["sources"][0]["source"], "policies/remote-work.md", "{a}");
    for claim in a["claims"].as_array().unwrap() {
        assert_eq!(claim["supported"], true, "{a}");
    }
}

#[test]
fn classify_streams_one_row_per_document_and_summaries_slice_back_into_the_text() {
    let tmp = temp_dir();
    let examples = write(
        tmp.path(),
        "examples.csv",
        b"text,label\n\
I was charged twice for my order,billing\n\
Please refund the double charge on my card,billing\n\
My invoice shows the wrong amount,billing\n\
The package has not arrived after two weeks,shipping\n\
Where is my parcel? Tracking has not moved,shipping\n\
Do you ship to Canada,shipping\n\
The zipper broke on the first day,defect\n\
The tent pole snapped when I set it up,defect\n\
The stove leaks gas at the valve,defect\n",
    );
    let tickets = sample_archive().join("support/tickets.csv");
    let out = tmp.path().join("labels.csv");
    let run = docket([
        "classify".as_ref(),
        tickets.as_os_str(),
        "--examples".as_ref(),
        examples.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    run.expect_code(0);
    let csv = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "doc_id,source,label,confidence,runner_up,runner_up_score,labels,\
         content_hash,chunk_ids,models,prompt_version,license,usage,job,row_id,run_id,at"
    );
    assert_eq!(rows.len(), 41, "one row per ticket: {csv}");
    let double_charge = rows
        .iter()
        .find(|r| r.contains("#T-10231"))
        .expect("ticket T-10231");
    assert!(double_charge.contains(",billing,"), "{double_charge}");

    let zero = docket([
        "classify".as_ref(),
        tickets.as_os_str(),
        "--labels".as_ref(),
        "billing,shipping,product defect".as_ref(),
    ]);
    let lines = zero.expect_code(0).json_lines();
    assert_eq!(lines.len(), 40);
    for l in &lines {
        let c = l["confidence"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&c) && l["runner_up"].is_string(),
            "{l}"
        );
        assert!(c >= l["runner_up_score"].as_f64().unwrap(), "{l}");
    }

    // The LLM answers with exactly one of the labels, with a probability among them.
    let few = write(
        tmp.path(),
        "few.csv",
        b"id,text\n1,My card was charged twice for one order\n2,The parcel never arrived\n3,The zipper broke\n",
    );
    let llm = docket([
        "classify".as_ref(),
        few.as_os_str(),
        "--llm".as_ref(),
        "--labels".as_ref(),
        "billing,shipping,product defect".as_ref(),
    ]);
    let rows = llm.expect_code(0).json_lines();
    assert_eq!(rows.len(), 3, "{}", llm.describe());
    for r in &rows {
        assert!(
            ["billing", "shipping", "product defect"].contains(&r["label"].as_str().unwrap()),
            "{r}"
        );
        let (c, ru) = (
            r["confidence"].as_f64().unwrap(),
            r["runner_up_score"].as_f64().unwrap(),
        );
        assert!(c <= 1.0 && c >= ru && c + ru <= 1.0 + 1e-6, "{r}");
    }

    let policy = sample_archive().join("policies/travel-and-expenses.md");
    let text = docket(["extract", &policy.display().to_string()])
        .expect_code(0)
        .stdout
        .clone();
    let s = docket([
        "summarize",
        &policy.display().to_string(),
        "--json",
        "--length",
        "2",
    ]);
    let summary = &s.expect_code(0).json_lines()[0];
    let sentences = summary["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 2, "{summary}");
    let mut last = 0;
    for x in sentences {
        let (a, b) = (
            x["start"].as_u64().unwrap() as usize,
            x["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[a..b], x["text"].as_str().unwrap());
        assert!(a >= last, "sentences in document order");
        last = b;
    }
}
