//! Chunk sizes are counted with the default embedding model's real tokenizer.

use std::path::PathBuf;

use docket_ingest::{HfTokenizer, TokenCounter};

use crate::util::docket;

/// Where `docket models fetch` puts the default embedder, as the binary itself reports
/// it (`docket models list`), so the test follows the binary's rules.
fn default_embedder_dir() -> PathBuf {
    let run = docket(["models", "list"]);
    run.expect_code(0);
    let home = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("home: "))
        .unwrap_or_else(|| panic!("no home line\n{}", run.describe()));
    PathBuf::from(home).join("models").join("all-minilm-l6-v2")
}

#[test]
fn chunks_fit_the_default_models_token_budget() {
    let archive = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/archive/policies");
    // Fetches the default model on first use if `docket models fetch` has not run.
    let run = docket([
        "ingest",
        archive,
        "--json",
        "--chunk-tokens",
        "64",
        "--chunk-overlap",
        "8",
    ]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("all-minilm-l6-v2 tokens"),
        "{}",
        run.describe()
    );

    let path = default_embedder_dir().join("tokenizer.json");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo run --release -- models fetch`",
        path.display()
    );
    let tokenizer = HfTokenizer::from_file(&path).unwrap();
    let chunks = run.json_lines();
    assert!(chunks.len() > 10, "{}", run.describe());
    let mut multi = 0;
    for c in &chunks {
        let text = c["text"].as_str().unwrap();
        let count = tokenizer.token_spans(text).unwrap().len() as u64;
        assert_eq!(c["token_count"].as_u64(), Some(count), "{c}");
        assert!(count <= 64, "{count} tokens: {text}");
        multi += usize::from(c["ordinal"].as_u64() > Some(0));
    }
    assert!(
        multi > 0,
        "some policy needs more than one chunk of 64 tokens"
    );
}
