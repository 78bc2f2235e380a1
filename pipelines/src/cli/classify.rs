//! `docket classify`: a label for every document, streamed as CSV or JSON Lines rows
//! (the rows are docket-generate's `PredictionRecord`, as in job outputs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use docket_generate::classify::llm::LlmClassifier;
use docket_generate::classify::{
    Classifier, Decision, LabelSpec, TrainConfig, ZeroShotConfig, load_labels, parse_labels,
    read_examples,
};
use docket_generate::records::{PREDICTION_COLUMNS, PredictionRecord};
use docket_pipelines::documents::{DocItem, DocSource, for_each_document};
use docket_pipelines::explain::{ChunkScore, ExplainLog, Explained, LabelScore};
use docket_pipelines::models::{load_embedder, load_llm};
use docket_pipelines::output::csv_cell;
use docket_pipelines::provenance::{ModelRef, OneOff, PROVENANCE_COLUMNS, provenance_cells};
use docket_pipelines::report::ReporterExt;

use super::flags::{
    EmbedModelArgs, IndexDirArgs, LlmArgs, OutFormat, ParseArgs, WalkArgs, sources,
};
use super::outcome::{Outcome, UsageError};
use super::term::Term;

/// Texts classified per batch: enough to keep the embedder's batches full.
const BATCH: usize = 64;

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Files and folders to classify (records files: one document per row). Without
    /// any, every document of the index is classified.
    pub paths: Vec<PathBuf>,
    /// Zero-shot labels, comma-separated ("billing,bug,feature request").
    #[arg(long, value_name = "LIST")]
    pub labels: Option<String>,
    /// Zero-shot labels with descriptions, one per line: `label: description` (or CSV
    /// `label,description`).
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// Labelled examples (CSV/TSV with a header) to train a classifier on.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Column of the examples holding the text.
    #[arg(long, value_name = "COLUMN", default_value = "text")]
    pub text_col: String,
    /// Column of the examples holding the label.
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label_col: String,
    /// A classifier saved with --save-model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Save the classifier (trained or zero-shot) for reuse with --model.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Multi-label: every label scoring at least this threshold.
    #[arg(long, value_name = "THRESHOLD")]
    pub multi: Option<f32>,
    /// Ask the LLM instead (with --labels/--labels-file): it must answer with exactly
    /// one label; the confidence is its probability among the labels.
    #[arg(long)]
    pub llm: bool,
    /// With --llm: keep paragraphs flagged as instructions to an assistant in what the
    /// model reads (by default they are left out).
    #[arg(long, requires = "llm")]
    pub allow_flagged: bool,
    #[command(flatten)]
    pub llm_args: LlmArgs,
    /// Add to each JSON row, in an `explain` field, what produced it (as `docket
    /// explain` shows it): its label scores and the chunks it was read from.
    #[arg(long)]
    pub explain: bool,
    /// Write the rows to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Row format (default: CSV for a --out FILE ending in .csv, else JSON Lines).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    #[command(flatten)]
    pub index: IndexDirArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
}

impl ClassifyArgs {
    fn labels(&self) -> Result<Option<Vec<LabelSpec>>> {
        match (&self.labels, &self.labels_file) {
            (Some(_), Some(_)) => {
                Err(UsageError("give --labels or --labels-file, not both".into()).into())
            }
            (Some(list), None) => {
                let lines = list
                    .split(',')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(Some(parse_labels(&lines, Path::new("--labels"))?))
            }
            (None, Some(file)) => Ok(Some(load_labels(file)?)),
            (None, None) => Ok(None),
        }
    }

    /// The index the documents come from (none when paths are given).
    fn index_dir(&self) -> Option<&Path> {
        self.paths.is_empty().then_some(self.index.dir.as_path())
    }

    /// Classify the documents of the paths given, or of the index.
    fn each(
        &self,
        term: &Term,
        each: impl FnMut(DocItem) -> docket_pipelines::Result<()>,
    ) -> Result<usize> {
        let sources = sources(&self.paths, &self.walk, &self.parse, false);
        let from = if self.paths.is_empty() {
            DocSource::Index(&self.index.dir)
        } else {
            DocSource::Files(&sources)
        };
        Ok(for_each_document(from, term, each)?)
    }
}

pub fn classify(args: ClassifyArgs, term: Term) -> Result<Outcome> {
    let labels = args.labels()?;
    if args.llm {
        return classify_llm(&args, labels, term);
    }
    let started = Instant::now();
    let classifier = classifier(&args, labels, &term)?;
    if let Some(path) = &args.save_model {
        classifier
            .save(path)
            .with_context(|| format!("cannot save the classifier to {}", path.display()))?;
        term.info(&format!("saved the classifier to {}", path.display()));
    }
    let decision = match args.multi {
        Some(threshold) => Decision::MultiLabel { threshold },
        None => Decision::Single,
    };
    let mut writer = RowWriter::open(&args)?;
    let run = OneOff::new("classify");
    let models: Vec<ModelRef> = classifier
        .embedder_id()
        .map(|id| ModelRef::embedder(&run.hashes, id, args.embed.embed_model.as_deref()))
        .into_iter()
        .collect();
    let mut batch: Vec<DocItem> = Vec::with_capacity(BATCH);
    let flush =
        |batch: &mut Vec<DocItem>, writer: &mut RowWriter| -> docket_pipelines::Result<()> {
            let texts: Vec<&str> = batch.iter().map(|i| i.text.as_str()).collect();
            let predictions = classifier.predict(&texts, None, decision)?;
            for (item, p) in batch.iter().zip(&predictions) {
                let record = PredictionRecord::new(&item.doc_id, &item.source, p);
                writer.write(&record, &run, item, models.clone(), None)?;
            }
            batch.clear();
            Ok(())
        };
    let mut done = 0usize;
    let failed = args.each(&term, |item| {
        done += 1;
        batch.push(item);
        if batch.len() >= BATCH {
            flush(&mut batch, &mut writer)?;
        }
        Ok(())
    })?;
    flush(&mut batch, &mut writer)?;
    writer.finish(args.index_dir(), &run, &term)?;
    let secs = started.elapsed().as_secs_f64();
    let failures = match failed {
        0 => String::new(),
        n => format!("; {n} failed (see the errors above)"),
    };
    term.info(&format!(
        "classified {done} documents in {secs:.1}s ({:.1}/s){failures}",
        done as f64 / secs.max(1e-9),
    ));
    Ok(Outcome::failed_if(failed))
}

/// The classifier the flags ask for: saved, trained on examples, or zero-shot.
fn classifier(
    args: &ClassifyArgs,
    labels: Option<Vec<LabelSpec>>,
    term: &Term,
) -> Result<Classifier> {
    let started = Instant::now();
    let embedder = || load_embedder(args.embed.embed_model.as_deref(), term);
    Ok(match (&args.model, &args.examples, labels) {
        (Some(model), None, None) => Classifier::load(model, Some(embedder()?))
            .with_context(|| format!("cannot load the classifier {}", model.display()))?,
        (None, Some(examples), None) => {
            let ex = read_examples(examples, &args.text_col, &args.label_col)?;
            let (clf, report) = Classifier::train(&ex, &TrainConfig::default(), Some(embedder()?))?;
            term.info(&format!(
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
    })
}

/// `classify --llm`: the LLM picks one label per document (calibrated).
fn classify_llm(
    args: &ClassifyArgs,
    labels: Option<Vec<LabelSpec>>,
    term: Term,
) -> Result<Outcome> {
    let Some(labels) = labels else {
        return Err(UsageError("--llm needs --labels or --labels-file".into()).into());
    };
    if args.multi.is_some() || args.examples.is_some() || args.model.is_some() {
        return Err(UsageError(
            "--llm takes labels only (no --multi, --examples or --model)".into(),
        )
        .into());
    }
    let started = Instant::now();
    let llm = load_llm(&args.llm_args.spec(), &term)?;
    let classifier = LlmClassifier::new(llm.as_ref(), &labels)?.with_flagged(args.allow_flagged);
    let mut writer = RowWriter::open(args)?;
    let run = OneOff::new("classify");
    let models = vec![ModelRef::llm(
        &run.hashes,
        llm.model_id(),
        &args.llm_args.spec(),
    )];
    let prompt = Some(docket_generate::classify::llm::PROMPT_VERSION);
    let mut done = 0usize;
    let failed = args.each(&term, |item| {
        let p = classifier.predict(&item.text)?;
        let record = PredictionRecord::new(&item.doc_id, &item.source, &p);
        writer.write(&record, &run, &item, models.clone(), prompt)?;
        done += 1;
        Ok(())
    })?;
    writer.finish(args.index_dir(), &run, &term)?;
    term.info(&format!(
        "classified {done} documents with {} in {:.1}s",
        llm.model_id(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Outcome::failed_if(failed))
}

/// Writes one row per classified document, as CSV or JSON Lines, each with its
/// provenance, and keeps the rows' explain records for the end (written under the index
/// when the documents came from one).
struct RowWriter {
    format: Format,
    explain: bool,
    explained: Vec<Explained>,
}

enum Format {
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
        if args.explain && format == OutFormat::Csv {
            return Err(UsageError(
                "--explain adds a field to JSON rows; CSV rows have their row_id column for `docket explain`".into(),
            )
            .into());
        }
        let format = match format {
            OutFormat::Csv => {
                let mut w = csv::Writer::from_writer(sink);
                w.write_record(PREDICTION_COLUMNS.iter().chain(PROVENANCE_COLUMNS.iter()))?;
                Format::Csv(Box::new(w))
            }
            OutFormat::Jsonl => Format::Jsonl(sink),
        };
        Ok(RowWriter {
            format,
            explain: args.explain,
            explained: Vec::new(),
        })
    }

    fn write(
        &mut self,
        record: &PredictionRecord,
        run: &OneOff,
        item: &DocItem,
        models: Vec<ModelRef>,
        prompt_version: Option<u32>,
    ) -> docket_pipelines::Result<()> {
        use docket_pipelines::Error;
        let chunks = item.chunk_ids.clone();
        let provenance = run
            .provenance(
                &item.source,
                &[item.doc_ref()],
                chunks.clone(),
                models,
                prompt_version,
            )
            .to_value();
        let row_id = provenance["row_id"].as_str().unwrap_or_default();
        let mut labels: Vec<LabelScore> = record
            .labels
            .iter()
            .map(|l| LabelScore {
                label: l.label.clone(),
                score: l.score,
            })
            .collect();
        if let (Some(label), Some(score)) = (&record.runner_up, record.runner_up_score) {
            labels.push(LabelScore {
                label: label.clone(),
                score,
            });
        }
        let read = chunks
            .into_iter()
            .map(|c| ChunkScore::whole(c, &item.doc_id, &item.source))
            .collect();
        let explained = Explained::chunks(row_id, "classify", read, labels);
        let err = |e: std::io::Error| Error::output("the rows", e);
        match &mut self.format {
            Format::Csv(csv) => {
                let cells = record
                    .csv_row()
                    .into_iter()
                    .chain(provenance_cells(&provenance))
                    .map(|c| csv_cell(&c).into_owned())
                    .collect::<Vec<_>>();
                csv.write_record(cells)
                    .map_err(|e| Error::output("the rows", e))?;
            }
            Format::Jsonl(out) => {
                let mut value = serde_json::to_value(record).unwrap_or_default();
                value["provenance"] = provenance;
                if self.explain {
                    value["explain"] = serde_json::to_value(&explained).unwrap_or_default();
                }
                serde_json::to_writer(&mut *out, &value)
                    .map_err(|e| Error::output("the rows", e))?;
                writeln!(out).map_err(err)?;
            }
        }
        self.explained.push(explained);
        Ok(())
    }

    /// Flush the rows; keep their explain records under the index `dir` they came
    /// from, if they did.
    fn finish(self, dir: Option<&Path>, run: &OneOff, term: &Term) -> Result<()> {
        match self.format {
            Format::Csv(mut csv) => csv.flush()?,
            Format::Jsonl(mut out) => out.flush()?,
        }
        if let Some(dir) = dir
            && let Err(e) = ExplainLog::commands(dir).append(&run.run_id, &self.explained)
        {
            term.notice(&format!("the rows' explain records are not kept: {e}"));
        }
        Ok(())
    }
}
