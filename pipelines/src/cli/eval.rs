//! `docket eval retrieval`: retrieval quality on a BEIR-format data set.
//!
//! The corpus goes through the same path as user documents (chunker, embedder, both
//! stores, fusion) into a temporary index, so the figures measure what `docket search`
//! does. Rankings are per document: a document ranks where its best chunk does.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use docket_index::eval::{BeirDataset, Metrics, evaluate};
use docket_index::fusion::{fuse, single_leg};
use docket_index::{
    Action, Filter, FusedHit, FusionConfig, FusionMethod, Index, IndexSettings, Legs, Mode,
};
use docket_ingest::document::content_hash;
use docket_ingest::{Document, Format, TextBuilder};
use serde_json::json;

use crate::cli::{EvalRetrievalArgs, ModeArg};
use crate::search_cmd::fusion_override;
use crate::{Outcome, UsageError, log, models};

pub fn retrieval(args: EvalRetrievalArgs) -> Result<Outcome> {
    let data = BeirDataset::load(&args.dir, &args.split)
        .with_context(|| format!("cannot read the data set in {}", args.dir.display()))?;
    if data.queries.is_empty() {
        return Err(UsageError(format!(
            "{}: no query has relevance judgements",
            args.dir.display()
        ))
        .into());
    }
    let modes: Vec<Mode> = if args.mode.is_empty() {
        vec![Mode::Dense, Mode::Bm25, Mode::Hybrid]
    } else {
        let mut m: Vec<Mode> = args.mode.iter().map(|&m: &ModeArg| m.into()).collect();
        m.dedup();
        m
    };
    let fusion = fusion_override(FusionConfig::default(), &args.fusion)?.unwrap_or_default();
    let dense = args.tune || modes.iter().any(|m| *m != Mode::Bm25);
    let chunker = args.chunking.chunker()?;
    let embedder = if dense {
        Some(models::load_embedder(
            args.chunking.embed.embed_model.as_deref(),
        )?)
    } else {
        None
    };

    // Index the corpus into a temporary index.
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("cannot create a temporary index")?;
    let settings = IndexSettings {
        tokenizer: chunker.tokenizer_name().to_owned(),
        chunking: chunker.config().clone(),
        ..IndexSettings::default()
    };
    let mut index = Index::create_or_open(tmp.path(), embedder, &settings)?;
    let mut corpus_id: HashMap<String, String> = HashMap::with_capacity(data.corpus.len());
    let mut chunks = 0;
    for d in &data.corpus {
        let mut b = TextBuilder::new();
        if !d.title.trim().is_empty() {
            b.set_title(d.title.trim());
        }
        b.push_str(&d.text);
        let doc = Document::new(
            d.id.clone(),
            Format::Text,
            content_hash(d.text.as_bytes()),
            b.finish(true),
        );
        corpus_id.insert(doc.id.clone(), d.id.clone());
        let doc_chunks = chunker.chunk(&doc)?;
        chunks += doc_chunks.len();
        index.stage(&doc, doc_chunks, Action::Add)?;
    }
    index.commit()?;
    let index_secs = started.elapsed().as_secs_f64();
    log(&format!(
        "{}: indexed {} documents ({chunks} chunks) in {index_secs:.1}s; {} queries",
        args.dir.display(),
        data.corpus.len(),
        data.queries.len()
    ));

    // Both legs once per query; every mode and fusion setting is computed from them.
    let started = Instant::now();
    let leg_mode = if dense { Mode::Hybrid } else { Mode::Bm25 };
    let mut legs: Vec<(String, Legs)> = Vec::with_capacity(data.queries.len());
    for q in &data.queries {
        // As many hits per leg as `docket search` fuses, so the figures are its figures
        // (and at least 100 for Recall@100).
        let l = index.legs(
            &q.text,
            fusion.candidates.max(100),
            &Filter::default(),
            leg_mode,
        )?;
        legs.push((q.id.clone(), l));
    }
    let query_secs = started.elapsed().as_secs_f64();
    let score = |mode: Mode, fusion: &FusionConfig| -> Metrics {
        let run: HashMap<String, Vec<String>> = legs
            .iter()
            .map(|(qid, l)| (qid.clone(), documents(&rank(mode, fusion, l), &corpus_id)))
            .collect();
        evaluate(&run, &data.qrels)
    };
    let results: Vec<(Mode, Metrics)> = modes.iter().map(|&m| (m, score(m, &fusion))).collect();

    let tuned = if args.tune {
        let mut grid = Vec::new();
        for method in [FusionMethod::Convex, FusionMethod::Rrf] {
            for step in 0..=20 {
                let config = FusionConfig {
                    method,
                    bm25_weight: step as f32 / 20.0,
                    ..FusionConfig::default()
                };
                let m = score(Mode::Hybrid, &config);
                grid.push((config, m));
            }
        }
        // Best nDCG@10; among equals, the weight nearest an even split.
        grid.sort_by(|a, b| {
            b.1.ndcg_at_10.total_cmp(&a.1.ndcg_at_10).then(
                (a.0.bm25_weight - 0.5)
                    .abs()
                    .total_cmp(&(b.0.bm25_weight - 0.5).abs()),
            )
        });
        Some(grid)
    } else {
        None
    };

    let mut out = std::io::stdout().lock();
    if args.json {
        let mut obj = serde_json::Map::new();
        for (mode, m) in &results {
            obj.insert(mode.name().to_owned(), metrics_json(m));
        }
        if let Some(grid) = &tuned {
            let (config, m) = &grid[0];
            let mut t = metrics_json(m);
            t["method"] = json!(config.method);
            t["bm25_weight"] = json!(config.bm25_weight);
            obj.insert("tuned".to_owned(), t);
        }
        serde_json::to_writer(&mut out, &obj)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<8} {:>8} {:>11} {:>8}",
            "mode", "nDCG@10", "Recall@100", "MRR@10"
        )?;
        for (mode, m) in &results {
            let note = match mode {
                Mode::Hybrid => format!(
                    "  ({}, BM25 weight {})",
                    method_name(fusion.method),
                    fusion.bm25_weight
                ),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<8} {:>8.4} {:>11.4} {:>8.4}{note}",
                mode.name(),
                m.ndcg_at_10,
                m.recall_at_100,
                m.mrr_at_10
            )?;
        }
        if let Some(grid) = &tuned {
            writeln!(out, "\nbest fusion settings on this set (nDCG@10):")?;
            for method in [FusionMethod::Convex, FusionMethod::Rrf] {
                let mut curve: Vec<(f32, f64)> = grid
                    .iter()
                    .filter(|(c, _)| {
                        c.method == method && ((c.bm25_weight * 20.0).round() as i32) % 2 == 0
                    })
                    .map(|(c, m)| (c.bm25_weight, m.ndcg_at_10))
                    .collect();
                curve.sort_by(|a, b| a.0.total_cmp(&b.0));
                let points: Vec<String> = curve
                    .iter()
                    .map(|(w, n)| format!("{w:.1}:{n:.3}"))
                    .collect();
                writeln!(
                    out,
                    "  {:<6} by BM25 weight: {}",
                    method_name(method),
                    points.join(" ")
                )?;
            }
            for (config, m) in grid.iter().take(5) {
                writeln!(
                    out,
                    "  {:<6} BM25 weight {:<5} {:>8.4} {:>11.4} {:>8.4}",
                    method_name(config.method),
                    config.bm25_weight,
                    m.ndcg_at_10,
                    m.recall_at_100,
                    m.mrr_at_10
                )?;
            }
        }
    }
    log(&format!(
        "{} queries, both legs, in {query_secs:.1}s ({:.0} queries/s)",
        legs.len(),
        legs.len() as f64 / query_secs.max(1e-9)
    ));
    if let Some(grid) = tuned {
        let best = grid[0].0.clone();
        match &args.index {
            Some(dir) => {
                let mut target = Index::open(dir, None)
                    .with_context(|| format!("cannot open the index {}", dir.display()))?;
                target.set_fusion(best.clone())?;
                log(&format!(
                    "stored fusion {} with BM25 weight {} in {}",
                    method_name(best.method),
                    best.bm25_weight,
                    dir.display()
                ));
            }
            None => log("pass --index DIR to store the tuned fusion in an index"),
        }
    }
    Ok(Outcome::Success)
}

/// One query's ranking in `mode`, from both legs' hits.
fn rank(mode: Mode, fusion: &FusionConfig, legs: &Legs) -> Vec<FusedHit> {
    match mode {
        Mode::Dense => single_leg(&legs.dense, true),
        Mode::Bm25 => single_leg(&legs.bm25, false),
        Mode::Hybrid => fuse(&legs.dense, &legs.bm25, fusion),
    }
}

/// Corpus ids of a chunk ranking, each document once, at its best chunk's place.
fn documents(hits: &[FusedHit], corpus_id: &HashMap<String, String>) -> Vec<String> {
    let mut seen = HashSet::new();
    hits.iter()
        .filter(|h| seen.insert(h.doc_id.as_str()))
        .filter_map(|h| corpus_id.get(&h.doc_id).cloned())
        .collect()
}

fn metrics_json(m: &Metrics) -> serde_json::Value {
    let r = |x: f64| (x * 10000.0).round() / 10000.0;
    json!({
        "ndcg@10": r(m.ndcg_at_10),
        "recall@100": r(m.recall_at_100),
        "mrr@10": r(m.mrr_at_10),
        "queries": m.queries,
    })
}

fn method_name(m: FusionMethod) -> &'static str {
    match m {
        FusionMethod::Convex => "convex",
        FusionMethod::Rrf => "rrf",
    }
}
