//! ROUGE-1/2/L F1 of docket's extractive summaries against reference summaries, next to
//! the lead baseline scored the same way.
//!
//! `cargo run --release -p docket-generate --example eval_summarize -- [DIR] [BUDGET]`
//! DIR holds corpus.jsonl (`_id`, `text`) and summaries.jsonl (`_id`, `summary`), by
//! default ../shared/data/aclsum-docs-dev; BUDGET is `N` sentences (default 3) or `Nw`
//! words, for the lead baseline and docket alike. ROUGE is
//! computed with stemming (as rouge-score's `use_stemmer=True`, see
//! [`docket_generate::text::rouge_tokens`]) and averaged over documents.
//!
//! Measured on aclsum-docs-dev (150 papers, budget 3 sentences), R1 / R2 / RL F1:
//! lead 0.401 / 0.140 / 0.247; docket centroid+MMR 0.388 / 0.108 / 0.215; LexRank+MMR
//! 0.386 / 0.107 / 0.214; centroid without MMR 0.374 / 0.109 / 0.217; centroid+MMR with
//! `position_weight` 0.3 0.407 / 0.141 / 0.252. Papers open with their abstract, so
//! the lead is hard to beat there without a lead prior. (Figures of the scorer before
//! the structure features; with them the default summarizer scores 0.414 / 0.146 /
//! 0.261, see `fit_summary_scorer.rs`.)
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use docket_generate::summarize::rouge::{self, Rouge};
use docket_generate::summarize::{Budget, Ranking, Summarizer, SummaryConfig, lead};
use docket_index::embed::{BertEmbedder, Embedder};

fn read_jsonl(path: &PathBuf, field: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let get = |k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .context(format!("no {k} in {path:?}"))
            };
            Ok((get("_id")?, get(field)?))
        })
        .collect()
}

fn print(name: &str, scores: &[Rouge], words: f64, secs: Option<f64>) {
    let m = rouge::mean(scores);
    let speed = secs.map_or(String::new(), |s| {
        format!("  {:.2} docs/s", scores.len() as f64 / s)
    });
    println!(
        "{name:<28} {:>7.4} {:>7.4} {:>7.4}  {words:>5.1} words{speed}",
        m.rouge1.f1, m.rouge2.f1, m.rouge_l.f1
    );
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/aclsum-docs-dev"),
        PathBuf::from,
    );
    // "3": three sentences; "70w": seventy words.
    let spec = args.next().unwrap_or_else(|| "3".into());
    let budget = match spec.strip_suffix('w') {
        Some(w) => Budget::Words(w.parse()?),
        None => Budget::Sentences(spec.parse()?),
    };
    let docs = read_jsonl(&dir.join("corpus.jsonl"), "text")?;
    let refs: HashMap<String, String> = read_jsonl(&dir.join("summaries.jsonl"), "summary")?
        .into_iter()
        .collect();
    let docs: Vec<(String, String)> = docs
        .into_iter()
        .filter(|(id, _)| refs.contains_key(id))
        .collect();
    let ref_words: f64 = docs
        .iter()
        .map(|(id, _)| refs[id].split_whitespace().count() as f64)
        .sum::<f64>()
        / docs.len() as f64;
    println!(
        "{} documents with reference summaries ({ref_words:.1} words on average); budget {budget:?}",
        docs.len()
    );
    println!("{:<28} {:>7} {:>7} {:>7}", "system", "R1", "R2", "RL");

    let base = SummaryConfig {
        budget,
        ..SummaryConfig::default()
    };
    let score = |summaries: &[String]| -> Vec<Rouge> {
        docs.iter()
            .zip(summaries)
            .map(|((id, _), s)| rouge::rouge(&refs[id], s, true))
            .collect()
    };
    let avg_words = |summaries: &[String]| {
        summaries
            .iter()
            .map(|s| s.split_whitespace().count() as f64)
            .sum::<f64>()
            / summaries.len() as f64
    };

    let leads: Vec<String> = docs.iter().map(|(_, t)| lead(t, &base).text()).collect();
    print("lead", &score(&leads), avg_words(&leads), None);

    let embedder: Arc<dyn Embedder> = Arc::new(BertEmbedder::load_default()?);
    for (name, ranking, lambda, position_weight) in [
        ("docket centroid+MMR 0.7", Ranking::Centroid, 0.7, 0.0),
        ("docket lexrank+MMR 0.7", Ranking::LexRank, 0.7, 0.0),
        ("docket centroid, no MMR", Ranking::Centroid, 1.0, 0.0),
        ("docket centroid+MMR+lead 0.3", Ranking::Centroid, 0.7, 0.3),
    ] {
        let summarizer = Summarizer::new(
            embedder.clone(),
            SummaryConfig {
                ranking,
                mmr_lambda: lambda,
                position_weight,
                ..base.clone()
            },
        )?;
        let t = Instant::now();
        let mut out = Vec::with_capacity(docs.len());
        for (_, text) in &docs {
            let s = summarizer.summarize(text)?;
            for x in &s.sentences {
                assert_eq!(
                    &text[x.start..x.end],
                    x.text,
                    "offsets must slice the sentence back"
                );
            }
            out.push(s.text());
        }
        let secs = t.elapsed().as_secs_f64();
        print(name, &score(&out), avg_words(&out), Some(secs));
    }
    Ok(())
}
