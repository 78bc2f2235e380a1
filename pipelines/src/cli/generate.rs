//! `docket classify`, `docket summarize`, `docket eval classify` and `docket eval
//! summarize`: the generate stage's bulk commands.
//!
//! Inputs are streamed: documents come from the walk (or the index) one at a time,
//! are classified in small batches and written at once, so a million rows never sit in
//! memory.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use docket_generate::classify::{
    Classifier, Decision, Examples, Features, LabelSpec, Prediction, TrainConfig, ZeroShotConfig,
    evaluate, gold_indices, load_labels, parse_labels, read_examples, train_test_split,
};
use docket_generate::summarize::abstractive::{AbstractiveConfig, AbstractiveSummarizer, DirCache};
use docket_generate::summarize::rouge::{self, Rouge};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig, lead};
use docket_index::{DocEntry, Index};
use docket_ingest::{Document, Ingestor};
use serde_json::json;

use crate::cli::{
    ClassifyArgs, ClassifyMode, EvalClassifyArgs, EvalSummarizeArgs, OutFormat, SummarizeArgs,
};
use crate::{Outcome, UsageError, log, models};

/// Texts classified per batch: enough to keep the embedder's batches full.
const BATCH: usize = 64;

/// One document to classify or summarize.
struct Item {
    doc_id: String,
    source: String,
    text: String,
}

/// Feed `each` every document under `paths` (or, with none, every document of the
/// index), in a stable order. Returns the number of documents that failed to load.
fn for_each_document(
    paths: &[std::path::PathBuf],
    walk: &crate::cli::WalkArgs,
    parse: &crate::cli::ParseArgs,
    index_dir: &Path,
    mut each: impl FnMut(Item) -> Result<()>,
) -> Result<usize> {
    let mut failed = 0;
    if paths.is_empty() {
        let index = Index::open(index_dir, None)
            .with_context(|| format!("cannot open the index {}", index_dir.display()))?;
        let mut entries: Vec<DocEntry> = index.catalog().entries()?;
        entries.sort_by(|a, b| a.source.cmp(&b.source));
        for e in entries {
            let text = index.document_text(&e)?;
            each(Item {
                doc_id: e.doc_id,
                source: e.source,
                text,
            })?;
        }
        return Ok(0);
    }
    let walk_result = docket_ingest::walk(paths, &walk.options())?;
    for e in &walk_result.errors {
        log(&format!("error: {e}"));
        failed += 1;
    }
    let ingestor = Ingestor::new(parse.ingest_options());
    for file in &walk_result.files {
        for doc in ingestor.documents(file) {
            match doc {
                Ok(Document {
                    id, source, text, ..
                }) => each(Item {
                    doc_id: id,
                    source,
                    text,
                })?,
                Err(e) => {
                    log(&format!("error: {e}"));
                    failed += 1;
                }
            }
        }
    }
    Ok(failed)
}

fn labels_of(args: &ClassifyArgs) -> Result<Option<Vec<LabelSpec>>> {
    match (&args.labels, &args.labels_file) {
        (Some(_), Some(_)) => {
            Err(UsageError("give --labels or --labels-file, not both".into()).into())
        }
        (Some(list), None) => Ok(Some(parse_labels(
            &list
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n"),
            Path::new("--labels"),
        )?)),
        (None, Some(file)) => Ok(Some(load_labels(file)?)),
        (None, None) => Ok(None),
    }
}

/// The LLM's probability of each label as its whole answer about `text`, renormalised
/// over the labels (constrained decoding by scoring, so the answer is always exactly
/// one label).
pub(crate) fn llm_probabilities(
    llm: &dyn docket_generate::Llm,
    labels: &[LabelSpec],
    text: &str,
) -> Result<Vec<f64>> {
    use docket_generate::{Message, Prompt};
    let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
    let mut listing = String::new();
    for l in labels {
        match &l.description {
            Some(d) => listing.push_str(&format!("- {}: {d}\n", l.name)),
            None => listing.push_str(&format!("- {}\n", l.name)),
        }
    }
    // Long documents are cut: the label rests on the opening, and the prompt must fit
    // a small model's context.
    let cut = text.char_indices().nth(1500).map_or(text.len(), |(i, _)| i);
    let prompt = Prompt::Chat(vec![
        Message::system("You classify texts. Answer with exactly one of the labels, nothing else."),
        Message::user(format!(
            "Labels:\n{listing}\nText:\n{}\n\nWhich label fits the text best?",
            &text[..cut]
        )),
    ]);
    Ok(docket_generate::choose(llm, &prompt, &names)?.probabilities)
}

/// The LLM's label for a text. `prior` holds the label probabilities for a
/// content-free text ("N/A"); dividing by it removes the model's bias towards some
/// labels whatever the text (contextual calibration, Zhao et al. 2021): small models
/// otherwise give every text the first label.
pub(crate) fn llm_predict(
    llm: &dyn docket_generate::Llm,
    labels: &[LabelSpec],
    text: &str,
    prior: &[f64],
) -> Result<Prediction> {
    use docket_generate::classify::LabelScore;
    let p = calibrate(&llm_probabilities(llm, labels, text)?, prior);
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let score = |i: usize| LabelScore {
        label: labels[i].name.clone(),
        score: p[i] as f32,
    };
    Ok(Prediction {
        label: labels[order[0]].name.clone(),
        confidence: p[order[0]] as f32,
        runner_up: order.get(1).map(|&i| score(i)),
        labels: vec![score(order[0])],
    })
}

/// Label probabilities divided by the content-free `prior` and renormalised (see
/// [`llm_predict`]).
fn calibrate(p: &[f64], prior: &[f64]) -> Vec<f64> {
    let mut p: Vec<f64> = p.iter().zip(prior).map(|(x, q)| x / q.max(1e-9)).collect();
    let sum: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// Index of the largest value (the first on a tie).
fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |best, (i, x)| if *x > p[best] { i } else { best })
}

pub fn classify(args: ClassifyArgs) -> Result<Outcome> {
    let labels = labels_of(&args)?;
    let started = Instant::now();
    if args.llm {
        let Some(labels) = labels else {
            return Err(UsageError("--llm needs --labels or --labels-file".into()).into());
        };
        if args.multi.is_some() || args.examples.is_some() || args.model.is_some() {
            return Err(UsageError(
                "--llm takes labels only (no --multi, --examples or --model)".into(),
            )
            .into());
        }
        let llm = models::load_llm(&args.llm_args)?;
        let mut writer = RowWriter::open(&args)?;
        let prior = llm_probabilities(llm.as_ref(), &labels, "N/A")?;
        let mut done = 0usize;
        let failed = for_each_document(
            &args.paths,
            &args.walk,
            &args.parse,
            &args.index.dir,
            |item| {
                let p = llm_predict(llm.as_ref(), &labels, &item.text, &prior)?;
                writer.write(&item, &p)?;
                done += 1;
                Ok(())
            },
        )?;
        writer.finish()?;
        log(&format!(
            "classified {done} documents with {} in {:.1}s",
            llm.model_id(),
            started.elapsed().as_secs_f64()
        ));
        return Ok(if failed > 0 {
            Outcome::Partial
        } else {
            Outcome::Success
        });
    }
    let embedder = || models::load_embedder(args.embed.embed_model.as_deref());
    let classifier = match (&args.model, &args.examples, labels) {
        (Some(model), None, None) => Classifier::load(model, Some(embedder()?))
            .with_context(|| format!("cannot load the classifier {}", model.display()))?,
        (None, Some(examples), None) => {
            let ex = read_examples(examples, &args.text_col, &args.label_col)?;
            let (clf, report) = Classifier::train(&ex, &TrainConfig::default(), Some(embedder()?))?;
            log(&format!(
                "trained on {} examples in {:.1}s: TF-IDF weight {:.1} chosen by {}-fold cross-validation{}",
                report.examples,
                started.elapsed().as_secs_f64(),
                report.tfidf_weight,
                report.folds,
                report
                    .cv_accuracy
                    .map_or(String::new(), |a| format!(" (accuracy {a:.3})"))
            ));
            clf
        }
        (None, None, Some(labels)) => {
            Classifier::zero_shot(&labels, &ZeroShotConfig::default(), embedder()?)?
        }
        _ => {
            return Err(UsageError(
                "give exactly one of --labels/--labels-file (zero-shot), --examples FILE (trained) or --model FILE (saved)".into(),
            )
            .into());
        }
    };
    if let Some(path) = &args.save_model {
        classifier
            .save(path)
            .with_context(|| format!("cannot save the classifier to {}", path.display()))?;
        log(&format!("saved the classifier to {}", path.display()));
    }
    let decision = match args.multi {
        Some(threshold) => Decision::MultiLabel { threshold },
        None => Decision::Single,
    };
    let mut writer = RowWriter::open(&args)?;
    let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
    let mut done = 0usize;
    let mut flush = |batch: &mut Vec<Item>, writer: &mut RowWriter| -> Result<()> {
        let texts: Vec<&str> = batch.iter().map(|i| i.text.as_str()).collect();
        let predictions = classifier.predict(&texts, None, decision)?;
        for (item, p) in batch.iter().zip(&predictions) {
            writer.write(item, p)?;
        }
        done += batch.len();
        batch.clear();
        Ok(())
    };
    let failed = for_each_document(
        &args.paths,
        &args.walk,
        &args.parse,
        &args.index.dir,
        |item| {
            batch.push(item);
            if batch.len() >= BATCH {
                flush(&mut batch, &mut writer)?;
            }
            Ok(())
        },
    )?;
    flush(&mut batch, &mut writer)?;
    writer.finish()?;
    let secs = started.elapsed().as_secs_f64();
    log(&format!(
        "classified {done} documents in {secs:.1}s ({:.1}/s){}",
        done as f64 / secs.max(1e-9),
        if failed > 0 {
            format!("; {failed} failed (see the errors above)")
        } else {
            String::new()
        }
    ));
    Ok(if failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// One classified document as a JSON row (`docket classify`, job outputs).
pub fn prediction_json(doc_id: &str, source: &str, p: &Prediction) -> serde_json::Value {
    json!({
        "doc_id": doc_id,
        "source": source,
        "label": p.label,
        "confidence": p.confidence,
        "runner_up": p.runner_up.as_ref().map(|r| &r.label),
        "runner_up_score": p.runner_up.as_ref().map(|r| r.score),
        "labels": p.labels,
    })
}

/// The columns of a CSV of classified documents (`docket classify`, job outputs).
pub const CLASSIFY_COLUMNS: [&str; 7] = [
    "doc_id",
    "source",
    "label",
    "confidence",
    "runner_up",
    "runner_up_score",
    "labels",
];

/// Writes one row per classified document, as CSV or JSON Lines.
enum RowWriter {
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Jsonl(Box<dyn Write>),
}

impl RowWriter {
    /// The rows' destination (`--out FILE` or stdout) in the format asked for, or the
    /// one the file name implies (CSV for `.csv`, else JSON Lines).
    fn open(args: &ClassifyArgs) -> Result<RowWriter> {
        let sink: Box<dyn Write> = match &args.out {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let format = args.format.unwrap_or(match &args.out {
            Some(p) if p.extension().is_some_and(|e| e == "csv") => OutFormat::Csv,
            _ => OutFormat::Jsonl,
        });
        RowWriter::new(sink, format)
    }

    fn new(out: Box<dyn Write>, format: OutFormat) -> Result<RowWriter> {
        Ok(match format {
            OutFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(CLASSIFY_COLUMNS)?;
                RowWriter::Csv(Box::new(w))
            }
            OutFormat::Jsonl => RowWriter::Jsonl(out),
        })
    }

    fn write(&mut self, item: &Item, p: &Prediction) -> Result<()> {
        let labels: Vec<&str> = p.labels.iter().map(|l| l.label.as_str()).collect();
        match self {
            RowWriter::Csv(csv) => csv.write_record([
                item.doc_id.as_str(),
                item.source.as_str(),
                p.label.as_str(),
                &format!("{:.4}", p.confidence),
                p.runner_up.as_ref().map_or("", |r| r.label.as_str()),
                &p.runner_up
                    .as_ref()
                    .map_or(String::new(), |r| format!("{:.4}", r.score)),
                &labels.join("|"),
            ])?,
            RowWriter::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &prediction_json(&item.doc_id, &item.source, p))?;
                writeln!(out)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            RowWriter::Csv(mut csv) => csv.flush()?,
            RowWriter::Jsonl(mut out) => out.flush()?,
        }
        Ok(())
    }
}

/// How `summarize` writes summaries.
enum Engine<'a> {
    Extractive(Summarizer),
    Abstractive(AbstractiveSummarizer<'a>),
}

/// The LLM of `--abstractive` (none without it); it is required.
fn abstractive_llm(
    on: bool,
    args: &crate::cli::LlmArgs,
) -> Result<Option<Box<dyn docket_generate::Llm>>> {
    if !on {
        return Ok(None);
    }
    let llm =
        models::load_llm(args).context("--abstractive needs an LLM, and none could be loaded")?;
    Ok(Some(llm))
}

/// Where abstractive summaries are cached: with the index they were read from, else in
/// docket's home (shared by every folder summarized).
fn summary_cache_dir(from_index: Option<&Path>) -> std::path::PathBuf {
    match from_index {
        Some(index) => index.join("cache").join("summaries"),
        None => models::docket_home().join("cache").join("summaries"),
    }
}

pub fn summarize(args: SummarizeArgs) -> Result<Outcome> {
    if args.paths.is_empty() && !args.all && args.doc.is_empty() {
        return Err(UsageError(
            "give files or folders to summarize, --doc SOURCE|ID for documents of the index, or --all".into(),
        )
        .into());
    }
    let budget = match args.words {
        Some(w) => Budget::Words(w),
        None => Budget::Sentences(args.length),
    };
    let llm = abstractive_llm(args.abstractive, &args.llm)?;
    // Abstractive sentences are checked by their terms alone: no embedder.
    let embedder = match &llm {
        Some(_) => None,
        None => Some(models::load_embedder(args.embed.embed_model.as_deref())?),
    };
    let cache = (args.abstractive && !args.no_cache).then(|| {
        DirCache::new(summary_cache_dir(
            args.paths.is_empty().then_some(args.index.dir.as_path()),
        ))
    });
    let (engine, model) = match (&llm, &embedder) {
        (Some(llm), _) => {
            let config = AbstractiveConfig {
                budget,
                final_max_tokens: args.llm.max_tokens,
                ..AbstractiveConfig::default()
            };
            let mut s = AbstractiveSummarizer::new(llm.as_ref(), config)?;
            if let Some(cache) = &cache {
                s = s.with_cache(cache);
            }
            (Engine::Abstractive(s), llm.model_id().to_owned())
        }
        (None, Some(embedder)) => {
            let config = SummaryConfig {
                budget,
                ..SummaryConfig::default()
            };
            let model = embedder.model_id().to_owned();
            (
                Engine::Extractive(Summarizer::new(embedder.clone(), config)?),
                model,
            )
        }
        (None, None) => unreachable!("the extractive path loads its embedder or fails"),
    };
    let started = Instant::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut done = 0usize;
    let (mut calls, mut hits) = (0usize, 0usize);
    let wanted: Vec<&str> = args.doc.iter().map(String::as_str).collect();
    let failed = for_each_document(
        &args.paths,
        &args.walk,
        &args.parse,
        &args.index.dir,
        |item| {
            if args.paths.is_empty()
                && !args.all
                && !wanted
                    .iter()
                    .any(|w| *w == item.source || *w == item.doc_id)
            {
                return Ok(());
            }
            done += 1;
            match &engine {
                Engine::Extractive(summarizer) => {
                    let summary = summarizer.summarize(&item.text)?;
                    if args.json {
                        serde_json::to_writer(
                            &mut out,
                            &json!({
                                "doc_id": item.doc_id,
                                "source": item.source,
                                "mode": "extractive",
                                "model": model,
                                "summary": summary.text(),
                                "sentences": summary.sentences,
                                "dropped": [],
                                "llm_calls": 0,
                                "cache_hits": 0,
                            }),
                        )?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "== {}", item.source)?;
                        writeln!(out, "{}\n", summary.text())?;
                    }
                }
                Engine::Abstractive(summarizer) => {
                    let summary = summarizer
                        .summarize(&item.text)
                        .with_context(|| format!("cannot summarize {}", item.source))?;
                    calls += summary.llm_calls;
                    hits += summary.cache_hits;
                    if args.json {
                        serde_json::to_writer(
                            &mut out,
                            &json!({
                                "doc_id": item.doc_id,
                                "source": item.source,
                                "mode": "abstractive",
                                "model": summary.model,
                                "summary": summary.text(),
                                "sentences": summary.sentences,
                                "dropped": summary.dropped,
                                "pieces": summary.pieces,
                                "verbatim": summary.verbatim,
                                "llm_calls": summary.llm_calls,
                                "cache_hits": summary.cache_hits,
                            }),
                        )?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "== {}", item.source)?;
                        if summary.sentences.is_empty() && !summary.dropped.is_empty() {
                            writeln!(
                                out,
                                "(no sentence of the model's summary is supported by the document; the dropped ones are on stderr)"
                            )?;
                        }
                        writeln!(out, "{}", summary.text())?;
                        for (i, c) in summary.sentences.iter().enumerate() {
                            if let Some(e) = &c.support {
                                writeln!(
                                    out,
                                    "  [{}] bytes {}-{}, page {}: \"{}\"",
                                    i + 1,
                                    e.start,
                                    e.end,
                                    e.page,
                                    e.text.split_whitespace().collect::<Vec<_>>().join(" ")
                                )?;
                            }
                        }
                        writeln!(out)?;
                    }
                    for c in &summary.dropped {
                        log(&format!(
                            "dropped from {}: \"{}\" ({})",
                            item.source,
                            c.text,
                            c.note.as_deref().unwrap_or("unsupported")
                        ));
                    }
                }
            }
            Ok(())
        },
    )?;
    out.flush()?;
    if done == 0 && !wanted.is_empty() {
        bail!("no document of the index matches {wanted:?}");
    }
    let secs = started.elapsed().as_secs_f64();
    match &engine {
        Engine::Extractive(_) => log(&format!("summarized {done} documents in {secs:.1}s")),
        Engine::Abstractive(_) => log(&format!(
            "summarized {done} documents with {model} in {secs:.1}s: {calls} LLM calls, {hits} cache hits{}",
            match &cache {
                Some(c) => format!(" (cache {})", c.dir().display()),
                None => " (no cache)".to_owned(),
            }
        )),
    }
    Ok(if failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

pub fn eval_classify(args: EvalClassifyArgs) -> Result<Outcome> {
    let all = read_examples(&args.train, &args.text_col, &args.label_col)?;
    let (train, test): (Examples, Examples) = match &args.test {
        Some(test) => (all, read_examples(test, &args.text_col, &args.label_col)?),
        None => {
            let (tr, te) = train_test_split(all.len(), args.test_fraction, args.seed);
            (all.subset(&tr), all.subset(&te))
        }
    };
    let test = match args.limit {
        Some(n) if n < test.len() => test.subset(&(0..n).collect::<Vec<_>>()),
        _ => test,
    };
    if train.is_empty() || test.is_empty() {
        return Err(UsageError("the training and test sets must both have rows".into()).into());
    }
    if args.mode == ClassifyMode::Llm {
        return eval_classify_llm(&args, &train, &test);
    }
    if args.labels_from_train {
        return Err(UsageError("--labels-from-train is for --mode llm".into()).into());
    }
    let embedder = if args.mode == ClassifyMode::Tfidf {
        None
    } else {
        Some(models::load_embedder(args.embed.embed_model.as_deref())?)
    };
    let started = Instant::now();
    let classifier = match args.mode {
        ClassifyMode::ZeroShot => {
            let mut names: Vec<String> = train.labels.clone();
            names.sort();
            names.dedup();
            let specs: Vec<LabelSpec> = match &args.labels_file {
                Some(f) => load_labels(f)?,
                None => names
                    .iter()
                    .map(|n| LabelSpec::new(n.clone(), None))
                    .collect(),
            };
            let e: Arc<_> = embedder.clone().context("zero-shot needs the embedder")?;
            Classifier::zero_shot(&specs, &ZeroShotConfig::default(), e)?
        }
        mode => {
            let features = match mode {
                ClassifyMode::Tfidf => Features::Tfidf,
                ClassifyMode::Embedding => Features::Embedding,
                _ => Features::Auto,
            };
            let config = TrainConfig {
                features,
                ..TrainConfig::default()
            };
            Classifier::train(&train, &config, embedder.clone())?.0
        }
    };
    let train_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let texts: Vec<&str> = test.texts.iter().map(String::as_str).collect();
    let predicted = classifier.predict_indices(&texts, None)?;
    let secs = started.elapsed().as_secs_f64();
    let labels = classifier.labels().to_vec();
    let gold = gold_indices(&labels, &test.labels);
    let e = evaluate(&labels, &gold, &predicted);
    print_evaluation(
        &args,
        &e,
        train.len(),
        test.len(),
        train_secs,
        test.len() as f64 / secs.max(1e-9),
    )?;
    Ok(Outcome::Success)
}

/// `eval classify --mode llm`: the LLM labels each test text with calibrated
/// constrained scoring, as `classify --llm` does; the uncalibrated accuracy is logged
/// next to it, to show what the calibration is worth.
fn eval_classify_llm(
    args: &EvalClassifyArgs,
    train: &Examples,
    test: &Examples,
) -> Result<Outcome> {
    let labels: Vec<LabelSpec> = match (&args.labels_file, args.labels_from_train) {
        (Some(f), _) => load_labels(f)?,
        (None, true) => {
            let mut names = train.labels.clone();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| LabelSpec::new(n, None)).collect()
        }
        (None, false) => {
            return Err(UsageError(
                "--mode llm needs --labels-file FILE or --labels-from-train".into(),
            )
            .into());
        }
    };
    let names: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
    let gold: Vec<usize> = test
        .labels
        .iter()
        .map(|l| {
            names.iter().position(|n| n == l).ok_or_else(|| {
                UsageError(format!(
                    "the test label {l:?} is not among the labels {names:?}"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let llm =
        models::load_llm(&args.llm).context("--mode llm needs an LLM, and none could be loaded")?;
    let started = Instant::now();
    let prior = llm_probabilities(llm.as_ref(), &labels, "N/A")?;
    let mut predicted = Vec::with_capacity(test.len());
    let mut raw = Vec::with_capacity(test.len());
    for (i, text) in test.texts.iter().enumerate() {
        let p = llm_probabilities(llm.as_ref(), &labels, text)?;
        raw.push(argmax(&p));
        predicted.push(argmax(&calibrate(&p, &prior)));
        if (i + 1) % 25 == 0 {
            log(&format!(
                "[{}/{}] {:.1}s",
                i + 1,
                test.len(),
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let uncalibrated = evaluate(&names, &gold, &raw);
    log(&format!(
        "{} on {} test texts in {secs:.1}s; content-free prior {:?}; without calibration: accuracy {:.4}, macro-F1 {:.4}",
        llm.model_id(),
        test.len(),
        prior
            .iter()
            .map(|p| (p * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        uncalibrated.accuracy,
        uncalibrated.macro_f1
    ));
    let e = evaluate(&names, &gold, &predicted);
    print_evaluation(
        args,
        &e,
        0,
        test.len(),
        0.0,
        test.len() as f64 / secs.max(1e-9),
    )?;
    Ok(Outcome::Success)
}

/// Print an evaluation as a table (or one JSON object with --json).
fn print_evaluation(
    args: &EvalClassifyArgs,
    e: &docket_generate::classify::Evaluation,
    train: usize,
    test: usize,
    train_secs: f64,
    docs_per_second: f64,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(
            &mut out,
            &json!({
                "accuracy": e.accuracy,
                "macro_f1": e.macro_f1,
                "labels": e.labels,
                "confusion": e.confusion,
                "per_class": e.per_class,
                "train": train,
                "test": test,
                "train_seconds": train_secs,
                "docs_per_second": docs_per_second,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "accuracy {:.4}  macro-F1 {:.4}  ({} train, {} test; trained in {train_secs:.1}s, {:.0} docs/s)",
            e.accuracy, e.macro_f1, train, test, docs_per_second
        )?;
        writeln!(out, "\nconfusion (rows: true, columns: predicted)")?;
        let width = e.labels.iter().map(String::len).max().unwrap_or(5).max(5);
        write!(out, "{:width$}", "")?;
        for l in &e.labels {
            write!(out, " {l:>width$}")?;
        }
        writeln!(out)?;
        for (l, row) in e.labels.iter().zip(&e.confusion) {
            write!(out, "{l:width$}")?;
            for n in row {
                write!(out, " {n:>width$}")?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        for c in &e.per_class {
            writeln!(
                out,
                "{:width$} P {:.3} R {:.3} F1 {:.3} ({} examples)",
                c.label, c.precision, c.recall, c.f1, c.support
            )?;
        }
    }
    Ok(())
}

fn read_jsonl_field(path: &Path, field: &str) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
            let get = |k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("{}:{}: no string field {k:?}", path.display(), i + 1))
            };
            Ok((get("_id")?, get(field)?))
        })
        .collect()
}

pub fn eval_summarize(args: EvalSummarizeArgs) -> Result<Outcome> {
    let docs = read_jsonl_field(&args.dir.join("corpus.jsonl"), "text")?;
    let refs: HashMap<String, String> =
        read_jsonl_field(&args.dir.join("summaries.jsonl"), "summary")?
            .into_iter()
            .collect();
    let mut docs: Vec<(String, String)> = docs
        .into_iter()
        .filter(|(id, _)| refs.contains_key(id))
        .collect();
    if let Some(n) = args.limit {
        docs.truncate(n);
    }
    if docs.is_empty() {
        return Err(UsageError(format!(
            "{}: no document has a reference summary",
            args.dir.display()
        ))
        .into());
    }
    let config = SummaryConfig {
        budget: Budget::Sentences(args.length),
        ..SummaryConfig::default()
    };
    let summarizer = Summarizer::new(
        models::load_embedder(args.embed.embed_model.as_deref())?,
        config.clone(),
    )?;
    let llm = abstractive_llm(args.abstractive, &args.llm)?;
    let cache = (!args.no_cache).then(|| DirCache::new(summary_cache_dir(None)));
    let abstractive = match &llm {
        Some(llm) => {
            let config = AbstractiveConfig {
                budget: Budget::Sentences(args.length),
                final_max_tokens: args.llm.max_tokens,
                ..AbstractiveConfig::default()
            };
            let mut s = AbstractiveSummarizer::new(llm.as_ref(), config)?;
            if let Some(cache) = &cache {
                s = s.with_cache(cache);
            }
            Some(s)
        }
        None => None,
    };
    let started = Instant::now();
    let mut ours = Vec::with_capacity(docs.len());
    let mut leads = Vec::with_capacity(docs.len());
    for (id, text) in &docs {
        ours.push(rouge::rouge(
            &refs[id],
            &summarizer.summarize(text)?.text(),
            true,
        ));
        leads.push(rouge::rouge(&refs[id], &lead(text, &config).text(), true));
    }
    let secs = started.elapsed().as_secs_f64();
    let mut abs_scores = Vec::new();
    let mut draft_scores = Vec::new();
    let mut tally = AbstractiveTally::default();
    if let Some(s) = &abstractive {
        let started = Instant::now();
        for (i, (id, text)) in docs.iter().enumerate() {
            let t = Instant::now();
            let summary = s
                .summarize(text)
                .with_context(|| format!("cannot summarize {id}"))?;
            tally.add(&summary);
            abs_scores.push(rouge::rouge(&refs[id], &summary.text(), true));
            let draft: Vec<&str> = summary
                .draft
                .iter()
                .take(args.length)
                .map(String::as_str)
                .collect();
            draft_scores.push(rouge::rouge(&refs[id], &draft.join(" "), true));
            log(&format!(
                "[{}/{}] {id}: {} pieces, {} LLM calls, {} cache hits, {} sentences kept, {} dropped, {:.1}s",
                i + 1,
                docs.len(),
                summary.pieces,
                summary.llm_calls,
                summary.cache_hits,
                summary.sentences.len(),
                summary.dropped.len(),
                t.elapsed().as_secs_f64()
            ));
        }
        tally.seconds = started.elapsed().as_secs_f64();
    }
    let (m, l) = (rouge::mean(&ours), rouge::mean(&leads));
    let a = (!abs_scores.is_empty()).then(|| rouge::mean(&abs_scores));
    let unchecked = (!draft_scores.is_empty()).then(|| rouge::mean(&draft_scores));
    let lead_name = format!("lead-{}", args.length);
    let scores =
        |r: &Rouge| json!({"rouge1": r.rouge1.f1, "rouge2": r.rouge2.f1, "rougeL": r.rouge_l.f1});
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value =
            json!({"docket": scores(&m), lead_name.clone(): scores(&l), "documents": docs.len()});
        if let (Some(a), Some(u), Some(llm)) = (&a, &unchecked, &llm) {
            value["abstractive"] = scores(a);
            value["abstractive_unchecked"] = scores(u);
            value["abstractive_run"] = json!({
                "model": llm.model_id(),
                "llm_calls": tally.calls,
                "cache_hits": tally.hits,
                "sentences_kept": tally.kept,
                "sentences_dropped": tally.dropped,
                "empty_summaries": tally.empty,
                "seconds": tally.seconds,
            });
        }
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<12} {:>8} {:>8} {:>8}",
            "system", "ROUGE-1", "ROUGE-2", "ROUGE-L"
        )?;
        let mut rows = vec![("docket".to_owned(), &m)];
        if let (Some(a), Some(u)) = (&a, &unchecked) {
            rows.push(("abstractive".to_owned(), a));
            // The model's sentences before the check drops unsupported ones.
            rows.push(("(unchecked)".to_owned(), u));
        }
        rows.push((lead_name, &l));
        for (name, r) in rows {
            writeln!(
                out,
                "{name:<12} {:>8.4} {:>8.4} {:>8.4}",
                r.rouge1.f1, r.rouge2.f1, r.rouge_l.f1
            )?;
        }
    }
    log(&format!(
        "{} documents; extractive and lead in {secs:.1}s",
        docs.len()
    ));
    if let Some(llm) = &llm {
        log(&format!(
            "abstractive with {} in {:.1}s: {} LLM calls, {} cache hits; {} sentences kept, {} dropped as unsupported; {} empty summaries",
            llm.model_id(),
            tally.seconds,
            tally.calls,
            tally.hits,
            tally.kept,
            tally.dropped,
            tally.empty
        ));
    }
    Ok(Outcome::Success)
}

/// What the abstractive summaries of an evaluation cost and kept.
#[derive(Debug, Default)]
struct AbstractiveTally {
    calls: usize,
    hits: usize,
    kept: usize,
    dropped: usize,
    empty: usize,
    seconds: f64,
}

impl AbstractiveTally {
    fn add(&mut self, s: &docket_generate::summarize::abstractive::AbstractiveSummary) {
        self.calls += s.llm_calls;
        self.hits += s.cache_hits;
        self.kept += s.sentences.len();
        self.dropped += s.dropped.len();
        self.empty += usize::from(s.sentences.is_empty());
    }
}
