//! `docket summarize --abstractive` on a file of the sample archive with the real
//! default generator: every kept sentence points at the exact bytes of the extracted
//! text that support it, a re-run answers from the cache without calling the model,
//! `--no-cache` calls it again, and a model that cannot be loaded is a clear error.
//!
//! Skipped, with a SKIPPED line, when the default model file is absent.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Run, TIMEOUT, docket, docket_env, sample_archive, temp_dir};

/// The default generator, or `None` (after a SKIPPED line) when it is not provisioned.
fn model() -> Option<PathBuf> {
    match docket_generate::find_default_model() {
        Ok(path) => Some(path),
        Err(e) => {
            skipped(&e.to_string());
            None
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "a skipped test must say so in the test output"
)]
fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// `docket summarize --abstractive --json FILE EXTRA...` with its home (and so its
/// cache) in `home`, on the model file `model`.
fn summarize(home: &Path, model: &Path, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "summarize".to_owned(),
        "--abstractive".into(),
        "--json".into(),
        "--max-tokens".into(),
        "96".into(),
        file.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket_env(
        None,
        args,
        TIMEOUT,
        &[
            ("DOCKET_HOME", home.as_os_str()),
            ("DOCKET_LLM_MODEL", model.as_os_str()),
        ],
    )
}

/// The one JSON row of a run.
#[track_caller]
fn row(run: &Run) -> Value {
    let mut rows = run.expect_code(0).json_lines();
    assert_eq!(rows.len(), 1, "{}", run.describe());
    rows.pop().unwrap()
}

#[test]
fn abstractive_summaries_are_traceable_and_a_rerun_calls_no_model() {
    let Some(model) = model() else { return };
    let tmp = temp_dir();
    let home = tmp.path().join("home");
    let file = sample_archive().join("meetings/2026-10-21-warehouse-planning.txt");
    let text = docket(["extract".as_ref(), file.as_os_str()])
        .expect_code(0)
        .stdout
        .clone();

    let first_run = summarize(&home, &model, &file, &[]);
    let first = row(&first_run);
    assert_eq!(first["mode"], "abstractive");
    assert_eq!(first["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(
        first["verbatim"], false,
        "the notes are longer than the budget"
    );
    assert_eq!(first["llm_calls"], 1, "{first}");
    assert_eq!(first["cache_hits"], 0);
    assert!(
        first_run.stderr.contains("1 LLM calls, 0 cache hits"),
        "{}",
        first_run.describe()
    );
    let sentences = first["sentences"].as_array().unwrap();
    assert!(!sentences.is_empty(), "{first}");
    for s in sentences {
        assert_eq!(s["supported"], true);
        let sup = &s["support"];
        let (start, end) = (
            sup["start"].as_u64().unwrap() as usize,
            sup["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[start..end], sup["text"], "{s}");
    }
    for d in first["dropped"].as_array().unwrap() {
        assert_eq!(d["supported"], false);
        assert!(d["note"].is_string());
    }
    // The cache is in the home given, one file per call.
    assert!(home.join("cache/summaries").is_dir());

    let second_run = summarize(&home, &model, &file, &[]);
    let second = row(&second_run);
    assert_eq!(second["llm_calls"], 0, "{}", second_run.describe());
    assert_eq!(second["cache_hits"], 1);
    assert_eq!(second["summary"], first["summary"]);
    assert_eq!(second["sentences"], first["sentences"]);
    assert!(second_run.stderr.contains("0 LLM calls, 1 cache hits"));

    let uncached = row(&summarize(&home, &model, &file, &["--no-cache"]));
    assert_eq!(
        (&uncached["llm_calls"], &uncached["cache_hits"]),
        (&1.into(), &0.into())
    );
}

#[test]
fn abstractive_without_a_model_is_a_clear_error() {
    let tmp = temp_dir();
    let missing = tmp.path().join("no-such-model.gguf");
    let file = sample_archive().join("meetings/2026-10-21-warehouse-planning.txt");
    let run = docket_env(
        None,
        [
            "summarize".as_ref(),
            "--abstractive".as_ref(),
            "--llm-model".as_ref(),
            missing.as_os_str(),
            file.as_os_str(),
        ],
        TIMEOUT,
        &[("DOCKET_HOME", tmp.path().as_os_str() as &OsStr)],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("--abstractive needs an LLM")
            && run.stderr.contains("no-such-model.gguf"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.is_empty());
}
