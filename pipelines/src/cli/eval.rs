//! `docket eval retrieval|answer|classify|summarize|ocr`: run the libraries' evaluation harnesses
//! and print their reports (a table, or one JSON object with `--json`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use docket_generate::answer::{AnswerConfig, AnswerStrategy, AskOptions};
use docket_generate::classify::{
    Evaluation, Examples, Features, LabelSpec, load_labels, read_examples,
};
use docket_generate::eval::answer::{eval_answers, read_qa_set};
use docket_generate::eval::{
    ClassifyMethod, ClassifyReport, SummarizeReport, eval_classify, eval_classify_llm, eval_sets,
    eval_summarize, example_labels, read_summary_set,
};
use docket_generate::summarize::Budget;
use docket_generate::summarize::abstractive::{AbstractiveConfig, AbstractiveSummarizer, DirCache};
use docket_generate::summarize::rouge::Rouge;
use docket_index::eval::{
    BeirDataset, Metrics, RetrievalConfig, RetrievalReport, retrieval as eval_retrieval,
};
use docket_index::{FusionConfig, FusionMethod, Mode, VectorStoreConfig};
use docket_pipelines::documents::summary_cache_dir;
use docket_pipelines::models::{chunker, load_embedder, load_llm, open_for_search};
use docket_pipelines::report::ReporterExt;
use serde_json::json;

use super::flags::{ChunkArgs, EmbedModelArgs, FusionArgs, IndexDirArgs, LlmArgs, ModeArg};
use super::outcome::{Outcome, UsageError};
use super::term::Term;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Retrieval quality on a BEIR-format data set (corpus.jsonl, queries.jsonl,
    /// qrels.tsv): nDCG@10, Recall@100 and MRR@10 per mode.
    Retrieval(EvalRetrievalArgs),
    /// Answer quality on a QA set (JSON Lines: id, question, answers, sources) over an
    /// index: accuracy, citation precision, abstention precision and recall, kept
    /// unsupported sentences and seconds per question, per answer strategy.
    Answer(EvalAnswerArgs),
    /// Classification quality: accuracy, macro-F1 and the confusion matrix on a test
    /// set (or a seeded split of the training file).
    Classify(EvalClassifyArgs),
    /// Summary quality: ROUGE-1/2/L F1 against reference summaries (corpus.jsonl and
    /// summaries.jsonl), next to the lead-N baseline.
    Summarize(EvalSummarizeArgs),
    /// OCR quality: character error rate against hand-written references (DIR holds
    /// documents, each with <stem>.txt, pages separated by form feeds), next to
    /// Tesseract run directly on the same pages; pages per second and peak memory.
    Ocr(EvalOcrArgs),
}

#[derive(Debug, Args)]
pub struct EvalOcrArgs {
    /// Folder of documents (PDFs, images) with a reference <stem>.txt beside each.
    pub dir: PathBuf,
    /// OCR languages, Tesseract's names joined by + (default: eng).
    #[arg(long, value_name = "LANGS")]
    pub ocr_lang: Option<String>,
    /// Do not run Tesseract directly for comparison.
    #[arg(long)]
    pub no_baseline: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalAnswerArgs {
    /// The QA set: one JSON object a line, {"id", "question", "answers": [phrases],
    /// "sources": [file names]}; no answers: the documents do not answer it.
    pub qa: PathBuf,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Strategies to evaluate (default: all three).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mode: Vec<AnswerModeArg>,
    /// Chunks retrieved per question.
    #[arg(short, long, value_name = "N", default_value_t = AnswerConfig::default_k())]
    pub k: usize,
    /// Print the report (figures and every question's outcome) as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

/// An answer strategy as `docket eval answer --mode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnswerModeArg {
    Generated,
    Select,
    Extractive,
}

impl From<AnswerModeArg> for AnswerStrategy {
    fn from(m: AnswerModeArg) -> Self {
        match m {
            AnswerModeArg::Generated => AnswerStrategy::Generate,
            AnswerModeArg::Select => AnswerStrategy::Select,
            AnswerModeArg::Extractive => AnswerStrategy::Extractive,
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalRetrievalArgs {
    /// Folder of the data set.
    pub dir: PathBuf,
    /// Modes to evaluate (default: dense, bm25 and hybrid).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mode: Vec<ModeArg>,
    /// Print one JSON line: {"dense": {"ndcg@10": ..}, "bm25": {..}, "hybrid": {..}}.
    #[arg(long)]
    pub json: bool,
    /// Search the fusion weights that maximise nDCG@10 on this set; with --index, store
    /// them in that index for its hybrid searches.
    #[arg(long)]
    pub tune: bool,
    /// With --tune: the index to store the tuned fusion in.
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// The qrels split to read when there is no qrels.tsv (qrels/SPLIT.tsv).
    #[arg(long, value_name = "SPLIT", default_value = "test")]
    pub split: String,
    /// Index into a temporary collection of this Qdrant server (dropped afterwards)
    /// instead of an embedded store: its sparse leg is the BM25 leg scored, and its own
    /// fusions (RRF, DBSF) are scored too.
    #[arg(long, value_name = "URL")]
    pub qdrant_url: Option<String>,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifyMode {
    /// TF-IDF, embeddings or a mix, chosen by cross-validation on the training set.
    Auto,
    Tfidf,
    Embedding,
    /// Embedding similarity to the label names (or --labels-file descriptions).
    ZeroShot,
    /// The LLM picks one label per text (`classify --llm`: constrained scoring with
    /// contextual calibration); nothing is trained.
    Llm,
}

#[derive(Debug, Args)]
pub struct EvalClassifyArgs {
    /// Labelled training examples (CSV/TSV with a header).
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,
    /// Labelled test examples; without it the training file is split.
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    #[arg(long, value_name = "COLUMN", default_value = "text")]
    pub text_col: String,
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label_col: String,
    #[arg(long, value_enum, default_value_t = ClassifyMode::Auto)]
    pub mode: ClassifyMode,
    /// Zero-shot and LLM: label descriptions.
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// LLM: the labels are the training file's label names (without descriptions).
    #[arg(long, conflicts_with = "labels_file")]
    pub labels_from_train: bool,
    /// Only the first N test examples (the LLM is slow).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Share of the training file held out for testing when there is no --test.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of that split.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object: {"accuracy": .., "macro_f1": .., "confusion": ..}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

#[derive(Debug, Args)]
pub struct EvalSummarizeArgs {
    /// Folder with corpus.jsonl (_id, text) and summaries.jsonl (_id, summary).
    pub dir: PathBuf,
    /// Sentences per summary (for docket and the lead baseline).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub length: usize,
    #[arg(long)]
    pub json: bool,
    /// Also measure the LLM's abstractive summaries (cached in
    /// $DOCKET_HOME/cache/summaries, so a re-run is quick).
    #[arg(long)]
    pub abstractive: bool,
    /// Only the first N documents with a reference summary (the LLM is slow).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// With --abstractive: neither read nor write the cache.
    #[arg(long, requires = "abstractive")]
    pub no_cache: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

pub fn eval(command: EvalCommand, term: Term) -> Result<Outcome> {
    match command {
        EvalCommand::Retrieval(args) => retrieval(args, term),
        EvalCommand::Answer(args) => answer(args, term),
        EvalCommand::Classify(args) => classify(args, term),
        EvalCommand::Summarize(args) => summarize(args, term),
        EvalCommand::Ocr(args) => ocr(args, term),
    }
}

fn ocr(args: EvalOcrArgs, _term: Term) -> Result<Outcome> {
    let settings = docket_pipelines::settings::ParseSettings {
        ocr: Some(docket_ingest::OcrMode::Auto),
        ocr_lang: args.ocr_lang.clone(),
        ..Default::default()
    };
    let mut options = settings.ingest_options();
    // Every page is recognised afresh: a cached page would time nothing.
    options.ocr.cache_dir = None;
    let ingestor = docket_ingest::Ingestor::new(options);
    if let Err(why) = ingestor.ocr().check() {
        anyhow::bail!("{why}");
    }
    let report = docket_ingest::ocr::eval::evaluate(&args.dir, &ingestor, !args.no_baseline)
        .with_context(|| format!("evaluating OCR on {}", args.dir.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.2}%", v * 100.0));
    writeln!(
        out,
        "{:<40} {:>5} {:>7} {:>9} {:>11} {:>8} {:>10}",
        "document", "pages", "chars", "CER", "tesseract", "seconds", "tesseract"
    )?;
    for i in &report.items {
        writeln!(
            out,
            "{:<40} {:>5} {:>7} {:>9} {:>11} {:>8.2} {:>10}",
            i.source,
            i.pages,
            i.reference_chars,
            pct(Some(i.cer)),
            pct(i.baseline_cer),
            i.seconds,
            i.baseline_seconds
                .map_or("-".to_owned(), |s| format!("{s:.2}"))
        )?;
    }
    writeln!(
        out,
        "CER {} (tesseract directly: {}); {:.2} OCR pages/s (tesseract directly: {}); peak heap {} MiB, peak child RSS {} MiB",
        pct(Some(report.cer)),
        pct(report.baseline_cer),
        report.pages_per_second,
        report
            .baseline_pages_per_second
            .map_or("-".to_owned(), |p| format!("{p:.2}")),
        report.peak_heap_bytes >> 20,
        report.peak_child_rss_kib >> 10
    )?;
    Ok(Outcome::Success)
}

fn retrieval(args: EvalRetrievalArgs, term: Term) -> Result<Outcome> {
    let data = BeirDataset::load(&args.dir, &args.split)
        .with_context(|| format!("cannot read the data set in {}", args.dir.display()))?;
    if data.queries.is_empty() {
        let dir = args.dir.display();
        return Err(UsageError(format!("{dir}: no query has relevance judgements")).into());
    }
    let config = RetrievalConfig {
        modes: args.mode.iter().map(|&m| m.into()).collect(),
        fusion: args
            .fusion
            .over(FusionConfig::default())?
            .unwrap_or_default(),
        tune: args.tune,
        store_tuned: args.index.clone().filter(|_| args.tune),
        vectors: args.qdrant_url.as_ref().map(|url| VectorStoreConfig {
            collection: format!("docket_eval_{}", std::process::id()),
            ..VectorStoreConfig::server(url.clone())
        }),
    };
    let chunker = chunker(&args.chunking.settings(), &term)?;
    let embedder = match config.needs_embedder() {
        true => Some(load_embedder(
            args.chunking.embed.embed_model.as_deref(),
            &term,
        )?),
        false => None,
    };
    let report = eval_retrieval(&data, &config, &chunker, embedder)?;
    term.info(&format!(
        "{}: indexed {} documents ({} chunks) in {:.1}s; {} queries",
        args.dir.display(),
        report.documents,
        report.chunks,
        report.index_seconds,
        report.queries
    ));
    let mut out = std::io::stdout().lock();
    match args.json {
        true => writeln!(out, "{}", retrieval_json(&report))?,
        false => write_retrieval(&mut out, &report)?,
    }
    term.info(&format!(
        "{} queries, both legs, in {:.1}s ({:.0} queries/s)",
        report.queries,
        report.query_seconds,
        report.queries as f64 / report.query_seconds.max(1e-9)
    ));
    match (
        &report.stored_in,
        report.tuned.as_ref().and_then(|t| t.first()),
    ) {
        (Some(dir), Some(best)) => term.info(&format!(
            "stored fusion {} with BM25 weight {} in {}",
            method_name(best.fusion.method),
            best.fusion.bm25_weight,
            dir.display()
        )),
        (None, Some(_)) => term.info("pass --index DIR to store the tuned fusion in an index"),
        _ => {}
    }
    Ok(Outcome::Success)
}

fn answer(args: EvalAnswerArgs, term: Term) -> Result<Outcome> {
    let items = read_qa_set(&args.qa)?;
    if items.is_empty() {
        return Err(UsageError(format!("{}: no questions", args.qa.display())).into());
    }
    let strategies: Vec<AnswerStrategy> = match args.mode.is_empty() {
        true => vec![
            AnswerStrategy::Generate,
            AnswerStrategy::Select,
            AnswerStrategy::Extractive,
        ],
        false => args.mode.iter().map(|&m| m.into()).collect(),
    };
    let index = open_for_search(
        &args.index.dir,
        Mode::Hybrid,
        args.embed.embed_model.as_deref(),
        &term,
    )?;
    let llm = match strategies.iter().any(|&s| s != AnswerStrategy::Extractive) {
        true => Some(load_llm(&args.llm.spec(), &term)?),
        false => None,
    };
    let options = AskOptions {
        config: AnswerConfig {
            k: args.k,
            ..AnswerConfig::default()
        },
        max_tokens: args.llm.max_tokens,
        ..AskOptions::default()
    };
    let total = items.len();
    let mut progress = |s: AnswerStrategy, done: usize| {
        if done == total || done.is_multiple_of(10) {
            term.info(&format!("{s:?}: {done}/{total} questions"));
        }
    };
    let report = eval_answers(
        &index,
        &items,
        &strategies,
        &options,
        llm.as_deref(),
        &mut progress,
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    let pct = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{:.1}%", 100.0 * x));
    writeln!(
        out,
        "{:<11} {:>8} {:>10} {:>10} {:>10} {:>12} {:>9} {:>7}",
        "mode", "accuracy", "cite-prec", "abst-prec", "abst-rec", "unsupported", "fallback", "s/q"
    )?;
    for r in &report.runs {
        let m = &r.metrics;
        writeln!(
            out,
            "{:<11} {:>8} {:>10} {:>10} {:>10} {:>12} {:>9} {:>7.2}",
            format!("{:?}", r.strategy).to_lowercase(),
            pct(Some(m.accuracy)),
            pct(m.citation_precision),
            pct(m.abstention_precision),
            pct(m.abstention_recall),
            m.unsupported_kept,
            m.fallbacks,
            m.seconds_per_question
        )?;
    }
    let m = &report.runs[0].metrics;
    term.info(&format!(
        "{} questions, {} answerable",
        m.questions, m.answerable
    ));
    Ok(Outcome::Success)
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

fn retrieval_json(report: &RetrievalReport) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    for m in &report.modes {
        obj.insert(m.mode.name().to_owned(), metrics_json(&m.metrics));
    }
    if let Some(best) = report.tuned.as_ref().and_then(|t| t.first()) {
        let mut t = metrics_json(&best.metrics);
        t["method"] = json!(best.fusion.method);
        t["bm25_weight"] = json!(best.fusion.bm25_weight);
        obj.insert("tuned".to_owned(), t);
    }
    for (name, m) in &report.server_fusions {
        obj.insert(name.clone(), metrics_json(m));
    }
    serde_json::Value::Object(obj)
}

fn write_retrieval(out: &mut dyn Write, report: &RetrievalReport) -> Result<()> {
    writeln!(
        out,
        "{:<8} {:>8} {:>11} {:>8}",
        "mode", "nDCG@10", "Recall@100", "MRR@10"
    )?;
    for m in &report.modes {
        let note = match m.mode {
            Mode::Hybrid => format!(
                "  ({}, BM25 weight {})",
                method_name(report.fusion.method),
                report.fusion.bm25_weight
            ),
            _ => String::new(),
        };
        let x = &m.metrics;
        writeln!(
            out,
            "{:<8} {:>8.4} {:>11.4} {:>8.4}{note}",
            m.mode.name(),
            x.ndcg_at_10,
            x.recall_at_100,
            x.mrr_at_10
        )?;
    }
    for (name, x) in &report.server_fusions {
        writeln!(
            out,
            "{name:<8} {:>8.4} {:>11.4} {:>8.4}  (the server's own fusion)",
            x.ndcg_at_10, x.recall_at_100, x.mrr_at_10
        )?;
    }
    let Some(grid) = &report.tuned else {
        return Ok(());
    };
    writeln!(out, "\nbest fusion settings on this set (nDCG@10):")?;
    for method in [FusionMethod::Convex, FusionMethod::Rrf] {
        let mut curve: Vec<(f32, f64)> = grid
            .iter()
            .filter(|t| {
                t.fusion.method == method && ((t.fusion.bm25_weight * 20.0).round() as i32) % 2 == 0
            })
            .map(|t| (t.fusion.bm25_weight, t.metrics.ndcg_at_10))
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
    for t in grid.iter().take(5) {
        let x = &t.metrics;
        writeln!(
            out,
            "  {:<6} BM25 weight {:<5} {:>8.4} {:>11.4} {:>8.4}",
            method_name(t.fusion.method),
            t.fusion.bm25_weight,
            x.ndcg_at_10,
            x.recall_at_100,
            x.mrr_at_10
        )?;
    }
    Ok(())
}

fn method_name(m: FusionMethod) -> &'static str {
    match m {
        FusionMethod::Convex => "convex",
        FusionMethod::Rrf => "rrf",
    }
}

fn classify(args: EvalClassifyArgs, term: Term) -> Result<Outcome> {
    let all = read_examples(&args.train, &args.text_col, &args.label_col)?;
    let test = match &args.test {
        Some(test) => Some(read_examples(test, &args.text_col, &args.label_col)?),
        None => None,
    };
    let (train, test) = eval_sets(all, test, args.test_fraction, args.seed, args.limit);
    if train.is_empty() || test.is_empty() {
        return Err(UsageError("the training and test sets must both have rows".into()).into());
    }
    let report = match args.mode {
        ClassifyMode::Llm => classify_llm(&args, &train, &test, &term)?,
        _ if args.labels_from_train => {
            return Err(UsageError("--labels-from-train is for --mode llm".into()).into());
        }
        mode => {
            let method = match mode {
                ClassifyMode::ZeroShot => ClassifyMethod::ZeroShot {
                    labels: match &args.labels_file {
                        Some(f) => load_labels(f)?,
                        None => example_labels(&train),
                    },
                },
                ClassifyMode::Tfidf => ClassifyMethod::Trained {
                    features: Features::Tfidf,
                },
                ClassifyMode::Embedding => ClassifyMethod::Trained {
                    features: Features::Embedding,
                },
                _ => ClassifyMethod::Trained {
                    features: Features::Auto,
                },
            };
            let embedder = match mode {
                ClassifyMode::Tfidf => None,
                _ => Some(load_embedder(args.embed.embed_model.as_deref(), &term)?),
            };
            eval_classify(&train, &test, &method, embedder)?
        }
    };
    print_evaluation(args.json, &report)?;
    Ok(Outcome::Success)
}

/// `eval classify --mode llm`: the LLM labels each test text with calibrated
/// constrained scoring, as `classify --llm` does; the uncalibrated accuracy is logged
/// next to it, to show what the calibration is worth.
fn classify_llm(
    args: &EvalClassifyArgs,
    train: &Examples,
    test: &Examples,
    term: &Term,
) -> Result<ClassifyReport> {
    let labels: Vec<LabelSpec> = match (&args.labels_file, args.labels_from_train) {
        (Some(f), _) => load_labels(f)?,
        (None, true) => example_labels(train),
        (None, false) => {
            return Err(UsageError(
                "--mode llm needs --labels-file FILE or --labels-from-train".into(),
            )
            .into());
        }
    };
    if let Some(l) = test
        .labels
        .iter()
        .find(|l| !labels.iter().any(|s| &s.name == *l))
    {
        let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
        return Err(UsageError(format!(
            "the test label {l:?} is not among the labels {names:?}"
        ))
        .into());
    }
    let llm = load_llm(&args.llm.spec(), term)
        .context("--mode llm needs an LLM, and none could be loaded")?;
    let mut progress = |p: &docket_generate::eval::ClassifyProgress| {
        if p.done.is_multiple_of(25) {
            term.info(&format!("[{}/{}] {:.1}s", p.done, p.total, p.seconds));
        }
    };
    let report = eval_classify_llm(llm.as_ref(), &labels, test, &mut progress)?;
    if let Some(run) = &report.llm {
        let prior: Vec<f64> = run
            .prior
            .iter()
            .map(|p| (p * 1000.0).round() / 1000.0)
            .collect();
        term.info(&format!(
            "{} on {} test texts in {:.1}s; content-free prior {prior:?}; without calibration: accuracy {:.4}, macro-F1 {:.4}",
            run.model,
            test.len(),
            run.seconds,
            run.uncalibrated.accuracy,
            run.uncalibrated.macro_f1
        ));
    }
    Ok(report)
}

/// Print an evaluation as a table (or one JSON object with --json).
fn print_evaluation(json: bool, r: &ClassifyReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, r)?;
        writeln!(out)?;
        return Ok(());
    }
    let e: &Evaluation = &r.evaluation;
    writeln!(
        out,
        "accuracy {:.4}  macro-F1 {:.4}  ({} train, {} test; trained in {:.1}s, {:.0} docs/s)",
        e.accuracy, e.macro_f1, r.train, r.test, r.train_seconds, r.docs_per_second
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
    Ok(())
}

fn summarize(args: EvalSummarizeArgs, term: Term) -> Result<Outcome> {
    let set = read_summary_set(&args.dir, args.limit)?;
    if set.is_empty() {
        let dir = args.dir.display();
        return Err(UsageError(format!("{dir}: no document has a reference summary")).into());
    }
    let embedder = load_embedder(args.embed.embed_model.as_deref(), &term)?;
    let llm = match args.abstractive {
        true => Some(
            load_llm(&args.llm.spec(), &term)
                .context("--abstractive needs an LLM, and none could be loaded")?,
        ),
        false => None,
    };
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
    let mut progress = |p: &docket_generate::eval::SummarizeProgress| {
        term.info(&format!(
            "[{}/{}] {}: {} pieces, {} LLM calls, {} cache hits, {} sentences kept, {} dropped, {:.1}s",
            p.done, p.total, p.id, p.pieces, p.llm_calls, p.cache_hits, p.kept, p.dropped, p.seconds
        ));
    };
    let report = eval_summarize(
        &set,
        args.length,
        embedder,
        abstractive.as_ref(),
        &mut progress,
    )?;
    print_summaries(args.json, &report)?;
    term.info(&format!(
        "{} documents; extractive and lead in {:.1}s",
        report.documents, report.extractive_seconds
    ));
    if let Some(a) = &report.abstractive {
        let r = &a.run;
        term.info(&format!(
            "abstractive with {} in {:.1}s: {} LLM calls, {} cache hits; {} sentences kept, {} dropped as unsupported; {} empty summaries",
            r.model, r.seconds, r.llm_calls, r.cache_hits, r.sentences_kept, r.sentences_dropped, r.empty_summaries
        ));
    }
    Ok(Outcome::Success)
}

fn print_summaries(json: bool, report: &SummarizeReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<12} {:>8} {:>8} {:>8}",
        "system", "ROUGE-1", "ROUGE-2", "ROUGE-L"
    )?;
    let mut rows: Vec<(String, &Rouge)> = vec![("docket".to_owned(), &report.docket)];
    if let Some(a) = &report.abstractive {
        rows.push(("abstractive".to_owned(), &a.checked));
        // The model's sentences before the check drops unsupported ones.
        rows.push(("(unchecked)".to_owned(), &a.unchecked));
    }
    rows.push((report.lead_name(), &report.lead));
    for (name, r) in rows {
        writeln!(
            out,
            "{name:<12} {:>8.4} {:>8.4} {:>8.4}",
            r.rouge1.f1, r.rouge2.f1, r.rouge_l.f1
        )?;
    }
    Ok(())
}
