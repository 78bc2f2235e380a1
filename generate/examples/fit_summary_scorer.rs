//! Fit the extractive summarizer's sentence scorer ([`FEATURES`] → ROUGE of the
//! sentence against the reference summary, ridge regression) with k-fold
//! cross-validation over documents, and report only the held-out folds' ROUGE, next to
//! the lead baseline and the hand-set default weights.
//!
//! `cargo run --release -p docket-generate --example fit_summary_scorer -- DIR [CHECK_DIR...]`
//!
//! DIR holds corpus.jsonl (`_id`, `text`) and summaries.jsonl (`_id`, `summary`). The
//! weights fitted on all of DIR are printed last (to paste into `DEFAULT_WEIGHTS` only
//! if the held-out figures beat the defaults), and then scored on each CHECK_DIR, a set
//! they never saw.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use docket_generate::eval::{SummaryExample, read_summary_set};
use docket_generate::summarize::rouge::{self, Rouge};
use docket_generate::summarize::{
    DEFAULT_WEIGHTS, FEATURE_NAMES, FEATURES, Prepared, Summarizer, SummaryConfig, lead,
};
use docket_index::embed::{BertEmbedder, Embedder};

const FOLDS: usize = 5;
const RIDGE: f64 = 1.0;

/// The regression target of a sentence: mean of its ROUGE-1 and ROUGE-2 F1 against the
/// reference.
fn target(reference: &str, sentence: &str) -> f64 {
    let r = rouge::rouge(reference, sentence, true);
    (r.rouge1.f1 + r.rouge2.f1) / 2.0
}

/// Ridge regression by the normal equations (Gaussian elimination; FEATURES is small).
fn ridge(rows: &[([f32; FEATURES], f64)]) -> [f32; FEATURES] {
    let n = FEATURES;
    let mut a = vec![vec![0.0f64; n + 1]; n];
    for (x, y) in rows {
        for i in 0..n {
            for j in 0..n {
                a[i][j] += x[i] as f64 * x[j] as f64;
            }
            a[i][n] += x[i] as f64 * y;
        }
    }
    // The bias (feature 0) is not shrunk.
    for (i, row) in a.iter_mut().enumerate().skip(1) {
        row[i] += RIDGE;
    }
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / d;
                row.iter_mut()
                    .zip(&pivot)
                    .skip(c)
                    .for_each(|(x, p)| *x -= f * p);
            }
        }
    }
    let mut w = [0.0f32; FEATURES];
    for i in 0..n {
        w[i] = if a[i][i].abs() < 1e-12 {
            0.0
        } else {
            (a[i][n] / a[i][i]) as f32
        };
    }
    w
}

struct Doc {
    ex: SummaryExample,
    prepared: Prepared,
    targets: Vec<f64>,
}

fn prepare(s: &Summarizer, set: Vec<SummaryExample>) -> Result<Vec<Doc>> {
    set.into_iter()
        .map(|ex| {
            let prepared = s.prepare(&ex.text)?;
            let targets = prepared
                .candidates
                .iter()
                .map(|c| target(&ex.reference, &ex.text[c.span.clone()]))
                .collect();
            Ok(Doc {
                ex,
                prepared,
                targets,
            })
        })
        .collect()
}

fn score(s: &Summarizer, doc: &Doc, w: &[f32; FEATURES]) -> Rouge {
    let summary = s.select(&doc.ex.text, &doc.prepared, w);
    rouge::rouge(&doc.ex.reference, &summary.text(), true)
}

fn line(name: &str, scores: &[Rouge]) {
    let m = rouge::mean(scores);
    println!(
        "{name:<34} {:.4}  {:.4}  {:.4}",
        m.rouge1.f1, m.rouge2.f1, m.rouge_l.f1
    );
}

fn rows(docs: &[&Doc]) -> Vec<([f32; FEATURES], f64)> {
    docs.iter()
        .flat_map(|d| {
            d.prepared
                .features
                .iter()
                .copied()
                .zip(d.targets.iter().copied())
        })
        .collect()
}

/// Lead, default weights and the given weights on `docs`.
fn compare(s: &Summarizer, docs: &[Doc], fitted: &dyn Fn(usize) -> [f32; FEATURES], label: &str) {
    let leads: Vec<Rouge> = docs
        .iter()
        .map(|d| rouge::rouge(&d.ex.reference, &lead(&d.ex.text, s.config()).text(), true))
        .collect();
    line("lead-3", &leads);
    let defaults: Vec<Rouge> = docs.iter().map(|d| score(s, d, &DEFAULT_WEIGHTS)).collect();
    line("default weights", &defaults);
    let fit: Vec<Rouge> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| score(s, d, &fitted(i)))
        .collect();
    line(label, &fit);
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let dir = args
        .next()
        .expect("usage: fit_summary_scorer DIR [CHECK_DIR...]");
    let embedder: Arc<dyn Embedder> = Arc::new(BertEmbedder::load_default()?);
    let s = Summarizer::new(embedder, SummaryConfig::default())?;
    let docs = prepare(&s, read_summary_set(&dir, None)?)?;
    println!(
        "{}: {} documents, {FOLDS}-fold CV over documents",
        dir.display(),
        docs.len()
    );
    let fold_weights: Vec<[f32; FEATURES]> = (0..FOLDS)
        .map(|k| {
            let train: Vec<&Doc> = docs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % FOLDS != k)
                .map(|(_, d)| d)
                .collect();
            ridge(&rows(&train))
        })
        .collect();
    compare(
        &s,
        &docs,
        &|i| fold_weights[i % FOLDS],
        "fitted (held-out folds)",
    );
    let all: Vec<&Doc> = docs.iter().collect();
    let w = ridge(&rows(&all));
    println!("weights fitted on all documents:");
    for (name, x) in FEATURE_NAMES.iter().zip(w) {
        println!("  {name:<16} {x:.3}");
    }
    // A check document that is also in DIR (the same paper, other text or reference)
    // is scored with the weights of the fold that held it out, so it stays unseen.
    let fold_of: std::collections::HashMap<&str, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.ex.id.as_str(), i % FOLDS))
        .collect();
    for check in args {
        let set = prepare(&s, read_summary_set(&check, None)?)?;
        println!(
            "{}: {} documents, never seen in fitting",
            check.display(),
            set.len()
        );
        let weights = |i: usize| {
            fold_of
                .get(set[i].ex.id.as_str())
                .map_or(w, |k| fold_weights[*k])
        };
        compare(&s, &set, &weights, "fitted on DIR (held out)");
    }
    Ok(())
}
