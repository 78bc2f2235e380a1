//! Provenance, `docket explain` and license/usage metadata, on the real binary and the
//! default embedding model: search hits and answers carry the fields (content hashes
//! equal to the files' blake3, the embedder's file hash equal to its weights file's),
//! the usage filter leaves documents out, an answer's explain record lists the chunks
//! it cites with their scores, job rows carry the job file's license, and forgetting a
//! document removes the explain records that name it.

use std::path::Path;

use serde_json::Value;

use crate::util::{ask_json, docket, temp_dir, write};

fn blake3_of(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file");
    blake3::hash(&bytes).to_hex().to_string()
}

/// The blake3 of the default embedding model's weights, where `docket` finds it.
fn embedder_hash() -> String {
    let file = docket_index::home::docket_home()
        .join("models")
        .join("all-minilm-l6-v2")
        .join("model.safetensors");
    blake3_of(&file)
}

const POLICY: &str = "---\nusage: internal\nlicense: proprietary\n---\n# Travel policy\n\n\
    The per diem for business travel is 45 euros a day.\n\n\
    Hotel bookings need the approval of a manager before the trip.\n";

const PRESS: &str = "---\nusage: public\n---\n# Festival press release\n\n\
    The per diem for festival volunteers is 30 euros a day.\n\n\
    Volunteers get a free ticket for the closing concert.\n";

#[test]
fn search_and_ask_rows_carry_provenance_and_the_usage_filter_leaves_documents_out() {
    let tmp = temp_dir();
    let dir = tmp.path();
    write(dir, "docs/policy.md", POLICY.as_bytes());
    write(dir, "docs/press.md", PRESS.as_bytes());
    let ix = dir.join("ix");
    let ix_arg = ix.display().to_string();
    let docs = dir.join("docs").display().to_string();
    docket(["index", docs.as_str(), "--index", ix_arg.as_str()]).expect_code(0);

    let search = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "search",
            "--json",
            "--index",
            ix_arg.as_str(),
            "per diem a day",
        ];
        args.extend_from_slice(extra);
        docket(args).expect_code(0).json_lines()
    };
    let hits = search(&[]);
    assert!(hits.len() >= 2, "{hits:?}");
    let run = hits[0]["provenance"]["run_id"].as_str().expect("run id");
    let weights = embedder_hash();
    for (i, hit) in hits.iter().enumerate() {
        let p = &hit["provenance"];
        let source = hit["source"].as_str().expect("source");
        assert_eq!(p["run_id"], run, "one run per command: {p}");
        assert_eq!(p["row_id"], format!("{run}/search/{}", i + 1), "{p}");
        assert!(p["job"].is_null(), "{p}");
        assert!(p["prompt_version"].is_null(), "{p}");
        assert_eq!(p["doc_ids"], serde_json::json!([hit["doc_id"]]), "{p}");
        assert_eq!(p["sources"], serde_json::json!([source]), "{p}");
        assert_eq!(p["chunk_ids"], serde_json::json!([hit["chunk_id"]]), "{p}");
        let file = dir.join("docs").join(source);
        assert_eq!(p["content_hashes"][0], blake3_of(&file), "{p}");
        assert_eq!(p["models"][0]["id"], "all-minilm-l6-v2", "{p}");
        assert_eq!(p["models"][0]["file_hash"], weights.as_str(), "{p}");
        let (usage, license) = match source {
            "policy.md" => ("internal", Value::from("proprietary")),
            _ => ("public", Value::Null),
        };
        assert_eq!(p["usages"], serde_json::json!([usage]), "{p}");
        assert_eq!(p["licenses"], serde_json::json!([license]), "{p}");
    }
    assert!(hits.iter().any(|h| h["source"] == "press.md"), "{hits:?}");

    // The usage filter leaves the public document out.
    let internal = search(&["--filter", "usage=internal"]);
    assert!(!internal.is_empty());
    assert!(
        internal.iter().all(|h| h["source"] == "policy.md"),
        "{internal:?}"
    );

    // An answer: its provenance names the document it cites, and its explain record
    // (inline and through `docket explain`) lists the cited chunk with its scores.
    let a = ask_json(
        &ix,
        "What is the per diem for business travel?",
        &["--explain", "--filter", "usage=internal"],
    );
    let p = &a["provenance"];
    assert!(
        a["answer"].as_str().is_some_and(|t| t.contains("45")),
        "{a:#}"
    );
    let policy_id = a["sources"][0]["doc_id"].clone();
    assert_eq!(p["doc_ids"], serde_json::json!([policy_id]), "{a:#}");
    assert_eq!(
        p["content_hashes"][0],
        blake3_of(&dir.join("docs/policy.md"))
    );
    assert!(p["prompt_version"].is_null(), "extractive: no prompt: {p}");
    let explain = &a["explain"];
    let cited = a["sources"][0]["chunk_id"].as_str().expect("cited chunk");
    let chunk = explain["chunks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["chunk_id"] == cited))
        .unwrap_or_else(|| panic!("the cited chunk is in the record: {explain:#}"));
    assert_eq!(chunk["cited"], true, "{explain:#}");
    assert!(chunk["score"].as_f64().is_some(), "{chunk}");
    assert!(
        chunk["bm25_rank"].as_u64().is_some() || chunk["dense_rank"].as_u64().is_some(),
        "{chunk}"
    );
    assert!(
        explain["chunks"]
            .as_array()
            .is_some_and(|cs| cs.iter().all(|c| c["source"] == "policy.md")),
        "the filter held: {explain:#}"
    );
    assert!(
        explain["claims"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["supported"] == true)),
        "{explain:#}"
    );
    let row = p["row_id"].as_str().expect("row id");
    let shown = docket(["explain", row, "--index", ix_arg.as_str(), "--json"]);
    let shown = shown.expect_code(0).json();
    // The same record (scores compared as f32: the inline copy went through f64).
    for key in ["row_id", "kind", "doc_ids"] {
        assert_eq!(shown[key], explain[key], "{key}: {shown:#}");
    }
    let texts = |r: &Value| -> Vec<Value> {
        r["claims"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["text"].clone())
            .collect()
    };
    assert_eq!(texts(&shown), texts(explain), "{shown:#}");
    let scores = |r: &Value| -> Vec<(String, f32)> {
        r["chunks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let id = c["chunk_id"].as_str().unwrap_or_default().to_owned();
                (id, c["score"].as_f64().unwrap_or(f64::NAN) as f32)
            })
            .collect()
    };
    assert_eq!(scores(&shown), scores(explain), "{shown:#}");
    let text = docket(["explain", row, "--index", ix_arg.as_str()]);
    assert!(
        text.expect_code(0).stdout.contains(cited),
        "{}",
        text.describe()
    );
    // A row id that was never made is a usage error.
    docket([
        "explain",
        &format!("{run}/ask/9"),
        "--index",
        ix_arg.as_str(),
    ])
    .expect_code(64);
}

#[test]
fn job_rows_carry_the_sources_license_and_forget_drops_their_explain_records() {
    let tmp = temp_dir();
    let dir = tmp.path();
    write(
        dir,
        "docs/cats.md",
        b"# Cats\n\nCats sleep most of the day and hunt mice at dusk.\n",
    );
    write(
        dir,
        "docs/weather.md",
        b"---\nusage: public\n---\n# Weather\n\nRain is expected on Monday, then sun all week.\n",
    );
    write(dir, "questions.txt", b"When do cats hunt mice?\n");
    let job = write(
        dir,
        "job.toml",
        b"version = 1\nname = \"pets\"\n[sources]\npaths = [\"docs\"]\nlicense = \"CC-BY-4.0\"\nusage = \"internal\"\n\
          [index]\ndir = \"ix\"\n\
          [[classify]]\nname = \"kind\"\nlabels = [\"animals\", \"weather\"]\noutput = \"out/kind.csv\"\n\
          [[answer]]\nname = \"qa\"\nquestions = \"questions.txt\"\noutput = \"out/answers.jsonl\"\nextractive = true\n",
    );
    docket(["run".to_owned(), job.display().to_string()]).expect_code(0);
    let ix = dir.join("ix").display().to_string();

    // The CSV: the license of the job file on both rows, the usage of the job file
    // where the document names none.
    let csv = std::fs::read_to_string(dir.join("out/kind.csv")).expect("csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} column: {header:?}"))
    };
    let (source, license, usage, row_id) =
        (col("source"), col("license"), col("usage"), col("row_id"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for r in &rows {
        assert_eq!(r[license], "CC-BY-4.0", "{csv}");
        let expected = if r[source] == "weather.md" {
            "public"
        } else {
            "internal"
        };
        assert_eq!(r[usage], expected, "{csv}");
        assert!(r[row_id].contains("/kind/"), "{csv}");
    }
    // A classification's explain record has its label scores.
    let label_row = rows[0][row_id];
    let shown = docket(["explain", label_row, "--index", ix.as_str(), "--json"]);
    let record = shown.expect_code(0).json();
    assert_eq!(record["kind"], "classify", "{record:#}");
    assert!(
        record["labels"].as_array().is_some_and(|l| !l.is_empty()),
        "{record:#}"
    );

    // The answer row: provenance of the job, an explain record listing the cited chunk.
    let answers = std::fs::read_to_string(dir.join("out/answers.jsonl")).expect("answers");
    let answer: Value = serde_json::from_str(answers.lines().next().expect("a row")).expect("json");
    let p = &answer["provenance"];
    assert_eq!(p["job"], "pets", "{p}");
    assert_eq!(p["licenses"], serde_json::json!(["CC-BY-4.0"]), "{p}");
    let row = p["row_id"].as_str().expect("row id").to_owned();
    assert_eq!(
        row,
        format!(
            "{}/qa/When do cats hunt mice?",
            p["run_id"].as_str().unwrap()
        )
    );
    let record = docket(["explain", row.as_str(), "--index", ix.as_str(), "--json"])
        .expect_code(0)
        .json();
    let cited = answer["sources"][0]["chunk_id"].clone();
    assert!(
        record["chunks"].as_array().is_some_and(|cs| cs
            .iter()
            .any(|c| c["chunk_id"] == cited && c["cited"] == true)),
        "{record:#}"
    );

    // Forgetting the cats drops the records that name it: no sentence of it is left
    // under the index's explain folder, and the answer's row has no explanation.
    let forgot = docket(["forget", "--json", "--index", ix.as_str(), "cats.md"]);
    let report = forgot.expect_code(0).json();
    assert!(
        report["explain_records"].as_u64().unwrap_or(0) >= 2,
        "{report:#}"
    );
    docket(["explain", row.as_str(), "--index", ix.as_str()]).expect_code(64);
    let explain_dir = dir.join("ix").join("explain");
    let mut todo = vec![explain_dir];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(!text.contains("hunt mice"), "{}: {text}", path.display());
            }
        }
    }
}
