//! The tasks of a job: classify, summarize and answer, each run only on what is new or
//! changed since it last succeeded, with results committed to the job state before the
//! output is rewritten from it.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use docket_generate::classify::{
    Classifier, Decision, LabelSpec, Prediction, TrainConfig, ZeroShotConfig, load_labels,
    read_examples,
};
use docket_generate::summarize::abstractive::{AbstractiveConfig, AbstractiveSummarizer, DirCache};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig};
use docket_index::embed::Embedder;
use docket_index::filter::SourceMatcher;
use docket_index::{DocEntry, Filter, Index, catalog::Catalog};
use serde_json::{Value, json};

use super::spec::{AnswerTask, ClassifyTask, Job, SummarizeTask, Task, filter_flags};
use super::state::{Done, NewFailure, State};
use super::{RunOptions, STOP, TaskFailure, TaskReport};
use crate::log;
use crate::models::LazyLlm;
use crate::progress::Progress;

/// Documents classified per batch (and per state commit).
const CLASSIFY_BATCH: usize = 64;

/// What the tasks of one run share.
pub struct Context<'a> {
    pub job: &'a Job,
    pub options: &'a RunOptions,
    /// None only in a dry run of a job that never ran.
    pub state: Option<&'a State>,
    /// The synced index (None in a dry run).
    pub index: Option<Index>,
    /// Documents a dry run's sync would add or update: (source, doc id).
    pub planned: Vec<(String, String)>,
    /// The index's embedder, or the configured model loaded by the first task that
    /// needs it and shared by the rest (see [`Context::embedder`]).
    pub embedder: std::cell::OnceCell<Arc<dyn Embedder>>,
}

impl Context<'_> {
    /// The job's embedding model, loaded once for all tasks.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>> {
        if let Some(e) = self.embedder.get() {
            return Ok(e.clone());
        }
        let e = crate::models::load_embedder(self.job.spec.index.embed_model.as_deref())?;
        Ok(self.embedder.get_or_init(|| e).clone())
    }
}

/// Files a task reads besides the index.
pub fn inputs(task: &Task) -> Vec<PathBuf> {
    match task {
        Task::Classify(t) => [&t.labels_file, &t.examples, &t.model]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        Task::Summarize(_) => Vec::new(),
        Task::Answer(t) => vec![t.questions.clone()],
    }
}

/// Write a file atomically: a temporary file beside it, synced, then renamed over it.
/// Readers see the old file or the new one, never a half-written one.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        fill(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn hash_hex(parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex()[..32].to_owned()
}

/// The fingerprint of a task's settings and of the files it reads: a result made under
/// another fingerprint is redone.
fn settings_fingerprint(ctx: &Context<'_>, task: &Task) -> Result<String> {
    let mut parts: Vec<Vec<u8>> = vec![task.settings_json().into_bytes()];
    for input in inputs(task) {
        let bytes =
            std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
        parts.push(blake3::hash(&bytes).as_bytes().to_vec());
    }
    let uses_llm = match task {
        Task::Classify(t) => t.llm,
        Task::Summarize(t) => t.abstractive,
        Task::Answer(t) => !t.extractive,
    };
    if uses_llm {
        parts.push(serde_json::to_vec(&ctx.job.spec.llm)?);
    }
    parts.push(
        ctx.job
            .spec
            .index
            .embed_model
            .as_ref()
            .map_or("default".into(), |p| p.display().to_string())
            .into_bytes(),
    );
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(hash_hex(&refs))
}

/// The documents in a task's scope (indexed, in the shard, matching the filter), by
/// source.
fn scope(ctx: &Context<'_>, filter: &Filter) -> Result<Vec<DocEntry>> {
    let entries = match &ctx.index {
        Some(index) => index.catalog().entries()?,
        None => {
            let path = ctx
                .job
                .spec
                .index
                .dir
                .join(docket_index::index::CATALOG_FILE);
            if path.exists() {
                Catalog::open(&path)?.entries()?
            } else {
                Vec::new()
            }
        }
    };
    let matcher = filter
        .source_glob
        .as_deref()
        .map(SourceMatcher::new)
        .transpose()?;
    let mut out = Vec::new();
    for e in entries {
        if e.state != docket_index::catalog::DocState::Indexed {
            continue;
        }
        if ctx.options.shard.is_some_and(|s| !s.contains(&e.doc_id)) {
            continue;
        }
        if matcher.as_ref().is_some_and(|m| !m.is_match(&e.source))
            || (!filter.formats.is_empty() && !filter.formats.iter().any(|f| f == e.format.name()))
            || (!filter.doc_ids.is_empty() && !filter.doc_ids.contains(&e.doc_id))
        {
            continue;
        }
        if !filter.metadata.is_empty() {
            // Metadata lives on the chunks (the catalog keeps one line per document).
            let Some(index) = &ctx.index else { continue };
            let chunks = index.document_chunks(&e)?;
            let Some(first) = chunks.first() else {
                continue;
            };
            if !filter
                .metadata
                .iter()
                .all(|(k, v)| first.metadata.get(k) == Some(v))
            {
                continue;
            }
        }
        out.push(e);
    }
    out.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(out)
}

/// Run one task and report what it did.
pub fn run_task(ctx: &Context<'_>, task: &Task, llm: &mut LazyLlm) -> Result<TaskReport> {
    let started = Instant::now();
    let mut report = TaskReport {
        name: task.name().to_owned(),
        kind: task.kind().as_str(),
        output: task.output().to_owned(),
        ..TaskReport::default()
    };
    let filter = crate::search_cmd::parse_filters(&filter_flags(task.filter()))?;
    let settings = settings_fingerprint(ctx, task)?;
    match task {
        Task::Classify(t) => classify(ctx, t, &filter, &settings, llm, &mut report)?,
        Task::Summarize(t) => summarize(ctx, t, &filter, &settings, llm, &mut report)?,
        Task::Answer(t) => answer(ctx, t, &filter, &settings, llm, &mut report)?,
    }
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(report)
}

/// One document's result: its output row, or why it failed.
type Outcome = std::result::Result<Value, String>;

/// What a per-document task does with its documents.
trait Worker {
    /// Load models, train: only called when there is work, so that a run with nothing
    /// to do loads no model and embeds nothing.
    fn prepare(&mut self) -> Result<()>;
    /// One result per item, in order.
    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome>;
}

/// Split a task's keys into those to do (with their fingerprints), counting the ones
/// whose result is current (same fingerprint) and the quarantined ones (failed too
/// often on the same fingerprint). `--force` does them all.
fn partition<'x, T>(
    ctx: &Context<'_>,
    name: &str,
    items: &'x [T],
    key: impl Fn(&T) -> &str,
    fingerprint: impl Fn(&T) -> String,
    report: &mut TaskReport,
) -> Result<Vec<(&'x T, String)>> {
    let (done, failures) = match ctx.state {
        Some(s) => (s.fingerprints(name)?, s.failures(name)?),
        None => Default::default(),
    };
    let mut todo = Vec::new();
    for item in items {
        let fp = fingerprint(item);
        let k = key(item);
        if !ctx.options.force && done.get(k) == Some(&fp) {
            report.unchanged += 1;
        } else if !ctx.options.force
            && failures
                .get(k)
                .is_some_and(|f| f.quarantined && f.fingerprint == fp)
        {
            report.quarantined += 1;
        } else {
            todo.push((item, fp));
        }
    }
    Ok(todo)
}

/// Start a task's real work: with `--force` forget its failures (quarantine included);
/// forget the results of keys no longer in scope (`keep`).
fn begin<'a>(
    ctx: &'a Context<'_>,
    name: &str,
    keep: impl Iterator<Item = String>,
    report: &mut TaskReport,
) -> Result<(&'a State, &'a Index)> {
    let state = ctx.state.context("no job state")?;
    let index = ctx.index.as_ref().context("no index")?;
    if ctx.options.force {
        state.clear_failures(name)?;
    }
    let keep: HashSet<String> = keep.collect();
    report.removed = state.retain(name, &keep)?;
    Ok((state, index))
}

/// Commit one batch's results and failures, log the failures and count them all.
fn commit(
    ctx: &Context<'_>,
    state: &State,
    name: &str,
    done: Vec<(String, Done)>,
    failed: Vec<NewFailure>,
    report: &mut TaskReport,
    progress: &Progress,
) -> Result<()> {
    report.done += done.len();
    let recorded = state.record(name, done, failed.clone(), ctx.job.spec.max_attempts)?;
    for (new, f) in failed.into_iter().zip(recorded) {
        progress.log(&format!(
            "error: {} {name}: {} (attempt {}{})",
            report.kind,
            f.reason,
            f.attempts,
            if f.quarantined { ", quarantined" } else { "" }
        ));
        report.failed += 1;
        report.failures.push(TaskFailure {
            key: new.key,
            doc_id: f.doc_id,
            attempts: f.attempts,
            quarantined: f.quarantined,
            reason: f.reason,
        });
    }
    Ok(())
}

/// The loop every per-document task shares: skip what is current, leave quarantined
/// documents alone, process the rest in batches (each batch's results and failures
/// committed in one transaction), forget results of documents gone from the scope,
/// then rewrite the output from the state.
#[allow(clippy::too_many_arguments)]
fn per_document(
    ctx: &Context<'_>,
    name: &str,
    filter: &Filter,
    settings: &str,
    batch: usize,
    report: &mut TaskReport,
    worker: &mut dyn Worker,
    write: impl Fn(&State, &mut dyn Write) -> Result<()>,
    output: &Path,
) -> Result<()> {
    let docs = scope(ctx, filter)?;
    report.total = docs.len();
    let todo = partition(
        ctx,
        name,
        &docs,
        |e| &e.source,
        |e| hash_hex(&[e.content_hash.as_bytes(), settings.as_bytes()]),
        report,
    )?;
    if ctx.options.dry_run {
        let matcher = filter
            .source_glob
            .as_deref()
            .map(SourceMatcher::new)
            .transpose()?;
        let in_scope: HashSet<&str> = docs.iter().map(|e| e.source.as_str()).collect();
        let planned = ctx
            .planned
            .iter()
            .filter(|(source, _)| !in_scope.contains(source.as_str()))
            .filter(|(source, _)| matcher.as_ref().is_none_or(|m| m.is_match(source)))
            .count();
        report.done = todo.len() + planned;
        log(&format!(
            "would {} {}: {} documents ({} unchanged, {} quarantined)",
            report.kind, name, report.done, report.unchanged, report.quarantined
        ));
        return Ok(());
    }
    let (state, index) = begin(ctx, name, docs.iter().map(|e| e.source.clone()), report)?;
    if !todo.is_empty() {
        worker.prepare()?;
    }
    let progress = Progress::new(format!("{} {name}", report.kind), todo.len(), "documents");
    for group in todo.chunks(batch.max(1)) {
        if STOP.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let mut failed: Vec<NewFailure> = Vec::new();
        let failure = |e: &DocEntry, fp: &str, reason: String| NewFailure {
            key: e.source.clone(),
            doc_id: e.doc_id.clone(),
            fingerprint: fp.to_owned(),
            reason: format!("{}: {reason}", e.source),
        };
        let mut items: Vec<(DocEntry, String)> = Vec::new();
        let mut fps: Vec<String> = Vec::new();
        for (e, fp) in group {
            match index.document_text(e) {
                Ok(text) if text.trim().is_empty() => {
                    failed.push(failure(e, fp, "the document has no text".into()))
                }
                Ok(text) => {
                    items.push(((*e).clone(), text));
                    fps.push(fp.clone());
                }
                Err(err) => failed.push(failure(e, fp, err.to_string())),
            }
        }
        let results = if items.is_empty() {
            Vec::new()
        } else {
            worker.work(&items)
        };
        let mut done = Vec::new();
        for (((e, _), fp), result) in items.iter().zip(&fps).zip(results) {
            match result {
                Ok(row) => done.push((
                    e.source.clone(),
                    Done {
                        doc_id: e.doc_id.clone(),
                        fingerprint: fp.clone(),
                        row,
                        at: docket_index::catalog::unix_now(),
                    },
                )),
                Err(reason) => failed.push(failure(e, fp, reason)),
            }
        }
        commit(ctx, state, name, done, failed, report, &progress)?;
        progress.advance(group.len());
    }
    progress.finish();
    if report.done > 0 || report.removed > 0 || !output.exists() {
        write_atomic(output, |w| write(state, w))?;
    }
    Ok(())
}

fn classify(
    ctx: &Context<'_>,
    t: &ClassifyTask,
    filter: &Filter,
    settings: &str,
    llm: &mut LazyLlm,
    report: &mut TaskReport,
) -> Result<()> {
    let name = t.name.as_deref().unwrap_or("classify");
    let mut worker = Classify {
        ctx,
        task: t,
        name,
        llm,
        model: None,
    };
    let csv = t.output.extension().is_some_and(|e| e == "csv");
    let write = |state: &State, w: &mut dyn Write| -> Result<()> {
        if !csv {
            return write_jsonl(state, name, w);
        }
        let mut out = csv::Writer::from_writer(w);
        out.write_record(crate::gen_cmd::CLASSIFY_COLUMNS)?;
        state.for_each_done(name, |_, d| {
            let r = &d.row;
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            let num = |k: &str| r[k].as_f64().map_or(String::new(), |x| format!("{x:.4}"));
            let labels: Vec<&str> = r["labels"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["label"].as_str()).collect())
                .unwrap_or_default();
            out.write_record([
                s("doc_id"),
                s("source"),
                s("label"),
                num("confidence"),
                s("runner_up"),
                num("runner_up_score"),
                labels.join("|"),
            ])?;
            Ok(())
        })?;
        out.flush()?;
        Ok(())
    };
    per_document(
        ctx,
        name,
        filter,
        settings,
        CLASSIFY_BATCH,
        report,
        &mut worker,
        write,
        &t.output,
    )
}

/// The classifier of a classify task, made when there is something to classify.
enum Model {
    Trained(Box<Classifier>),
    /// The LLM picks among the labels; `prior` is its label distribution for a
    /// content-free text (contextual calibration, as `docket classify --llm`).
    Llm {
        labels: Vec<LabelSpec>,
        prior: Vec<f64>,
    },
}

struct Classify<'a, 'c> {
    ctx: &'a Context<'c>,
    task: &'a ClassifyTask,
    name: &'a str,
    llm: &'a mut LazyLlm,
    model: Option<Model>,
}

impl Classify<'_, '_> {
    fn labels(&self) -> Result<Vec<LabelSpec>> {
        let t = self.task;
        // Labels listed in the job file are names as written (commas included); a
        // labels file may add descriptions.
        Ok(match &t.labels_file {
            Some(f) => load_labels(f)?,
            None => t
                .labels
                .iter()
                .map(|name| LabelSpec {
                    name: name.trim().to_owned(),
                    description: None,
                })
                .collect(),
        })
    }
}

impl Worker for Classify<'_, '_> {
    fn prepare(&mut self) -> Result<()> {
        let t = self.task;
        self.model = Some(if t.llm {
            let labels = self.labels()?;
            let Some(l) = self.llm.get() else {
                bail!("task {}: llm = true but no LLM could be loaded", self.name);
            };
            let prior = crate::gen_cmd::llm_probabilities(l, &labels, "N/A")?;
            Model::Llm { labels, prior }
        } else if let Some(path) = &t.model {
            Model::Trained(Box::new(
                Classifier::load(path, Some(self.ctx.embedder()?))
                    .with_context(|| format!("cannot load the classifier {}", path.display()))?,
            ))
        } else if let Some(path) = &t.examples {
            let ex = read_examples(path, &t.text_col, &t.label_col)?;
            let (clf, r) =
                Classifier::train(&ex, &TrainConfig::default(), Some(self.ctx.embedder()?))?;
            log(&format!(
                "classify {}: trained on {} examples (TF-IDF weight {:.1})",
                self.name, r.examples, r.tfidf_weight
            ));
            Model::Trained(Box::new(clf))
        } else {
            Model::Trained(Box::new(Classifier::zero_shot(
                &self.labels()?,
                &ZeroShotConfig::default(),
                self.ctx.embedder()?,
            )?))
        });
        Ok(())
    }

    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome> {
        let row =
            |e: &DocEntry, p: &Prediction| crate::gen_cmd::prediction_json(&e.doc_id, &e.source, p);
        let decision = match self.task.multi {
            Some(threshold) => Decision::MultiLabel { threshold },
            None => Decision::Single,
        };
        match &self.model {
            Some(Model::Trained(clf)) => {
                let texts: Vec<&str> = items.iter().map(|(_, t)| t.as_str()).collect();
                match clf.predict(&texts, None, decision) {
                    Ok(preds) => items
                        .iter()
                        .zip(&preds)
                        .map(|((e, _), p)| Ok(row(e, p)))
                        .collect(),
                    // The batch failed: find the documents that fail on their own.
                    Err(_) => items
                        .iter()
                        .map(
                            |(e, text)| match clf.predict(&[text.as_str()], None, decision) {
                                Ok(p) => p.first().map(|p| row(e, p)).ok_or("no prediction".into()),
                                Err(err) => Err(err.to_string()),
                            },
                        )
                        .collect(),
                }
            }
            Some(Model::Llm { labels, prior }) => {
                let Some(l) = self.llm.get() else {
                    return items.iter().map(|_| Err("no LLM".into())).collect();
                };
                items
                    .iter()
                    .map(|(e, text)| {
                        crate::gen_cmd::llm_predict(l, labels, text, prior)
                            .map(|p| row(e, &p))
                            .map_err(|err| format!("{err:#}"))
                    })
                    .collect()
            }
            None => items.iter().map(|_| Err("no classifier".into())).collect(),
        }
    }
}

fn write_jsonl(state: &State, task: &str, w: &mut dyn Write) -> Result<()> {
    state.for_each_done(task, |_, d| {
        serde_json::to_writer(&mut *w, &d.row)?;
        writeln!(w)?;
        Ok(())
    })
}

fn summarize(
    ctx: &Context<'_>,
    t: &SummarizeTask,
    filter: &Filter,
    settings: &str,
    llm: &mut LazyLlm,
    report: &mut TaskReport,
) -> Result<()> {
    let name = t.name.as_deref().unwrap_or("summarize");
    let mut worker = Summarize {
        ctx,
        task: t,
        summarizer: None,
        llm,
        cache: DirCache::new(ctx.job.spec.index.dir.join("cache").join("summaries")),
    };
    let markdown = t.output.extension().is_some_and(|e| e == "md");
    let job_name = ctx.job.name.clone();
    let write = |state: &State, w: &mut dyn Write| -> Result<()> {
        if !markdown {
            return write_jsonl(state, name, w);
        }
        writeln!(w, "# {job_name}: {name}\n")?;
        state.for_each_done(name, |_, d| {
            let r = &d.row;
            writeln!(w, "## {}\n", r["source"].as_str().unwrap_or(""))?;
            match r["summary"].as_str() {
                // One paragraph: the sentences keep the line breaks of their source.
                Some(text) if !text.is_empty() => writeln!(
                    w,
                    "{}\n",
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                )?,
                _ => writeln!(
                    w,
                    "_(no sentence of the summary is supported by the document)_\n"
                )?,
            }
            Ok(())
        })
    };
    per_document(
        ctx,
        name,
        filter,
        settings,
        1,
        report,
        &mut worker,
        write,
        &t.output,
    )
}

struct Summarize<'a, 'c> {
    ctx: &'a Context<'c>,
    task: &'a SummarizeTask,
    /// The extractive summarizer (abstractive summaries are made per call, since they
    /// borrow the LLM).
    summarizer: Option<Summarizer>,
    llm: &'a mut LazyLlm,
    cache: DirCache,
}

impl Summarize<'_, '_> {
    fn budget(&self) -> Budget {
        match self.task.words {
            Some(w) => Budget::Words(w),
            None => Budget::Sentences(self.task.length),
        }
    }

    fn abstractive(&mut self, e: &DocEntry, text: &str) -> Outcome {
        let config = AbstractiveConfig {
            budget: self.budget(),
            final_max_tokens: self.llm.max_tokens(),
            ..AbstractiveConfig::default()
        };
        let Some(llm) = self.llm.get() else {
            return Err("no LLM could be loaded for an abstractive summary".into());
        };
        let summary = AbstractiveSummarizer::new(llm, config)
            .map(|s| s.with_cache(&self.cache))
            .and_then(|s| s.summarize(text))
            .map_err(|err| err.to_string())?;
        // An empty summary (nothing the model wrote is supported) is a result, not a
        // failure: asking again would give the same answer from the cache.
        Ok(json!({
            "doc_id": e.doc_id,
            "source": e.source,
            "title": e.title,
            "mode": "abstractive",
            "model": summary.model,
            "summary": summary.text(),
            "sentences": summary.sentences,
            "dropped": summary.dropped,
            "verbatim": summary.verbatim,
        }))
    }
}

impl Worker for Summarize<'_, '_> {
    fn prepare(&mut self) -> Result<()> {
        if self.task.abstractive {
            if self.llm.get().is_none() {
                bail!("abstractive summaries need an LLM, and none could be loaded");
            }
            return Ok(());
        }
        let embedder = self.ctx.embedder()?;
        let config = SummaryConfig {
            budget: self.budget(),
            ..SummaryConfig::default()
        };
        self.summarizer = Some(Summarizer::new(embedder, config)?);
        Ok(())
    }

    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome> {
        if self.task.abstractive {
            return items.iter().map(|(e, t)| self.abstractive(e, t)).collect();
        }
        items
            .iter()
            .map(|(e, text)| {
                let s = self.summarizer.as_ref().ok_or("no summarizer")?;
                let summary = s.summarize(text).map_err(|err| err.to_string())?;
                if summary.sentences.is_empty() {
                    return Err("no sentence to summarize".into());
                }
                Ok(json!({
                    "doc_id": e.doc_id,
                    "source": e.source,
                    "title": e.title,
                    "summary": summary.text(),
                    "sentences": summary.sentences,
                }))
            })
            .collect()
    }
}

/// One question of a questions file.
#[derive(Debug)]
struct Question {
    key: String,
    id: Option<String>,
    text: String,
}

/// Questions from a text file (one per line, `#` comments), JSON Lines or CSV/TSV
/// (`question`, optional `id`).
fn read_questions(path: &Path) -> Result<Vec<Question>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut out: Vec<Question> = Vec::new();
    let mut push = |id: Option<String>, q: &str| {
        let q = q.trim();
        if !q.is_empty() {
            out.push(Question {
                key: id.clone().unwrap_or_else(|| q.to_owned()),
                id,
                text: q.to_owned(),
            });
        }
    };
    match ext.as_str() {
        "jsonl" | "ndjson" => {
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
                let q = v["question"].as_str().with_context(|| {
                    format!("{}:{}: no \"question\" field", path.display(), n + 1)
                })?;
                let id = match &v["id"] {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(x) => Some(x.to_string()),
                    _ => None,
                };
                push(id, q);
            }
        }
        "csv" | "tsv" => {
            let mut r = csv::ReaderBuilder::new()
                .delimiter(if ext == "tsv" { b'\t' } else { b',' })
                .from_reader(text.as_bytes());
            let headers = r.headers()?.clone();
            let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
            let q = col("question")
                .with_context(|| format!("{}: no \"question\" column", path.display()))?;
            let id = col("id");
            for row in r.records() {
                let row = row?;
                push(
                    id.and_then(|i| row.get(i)).map(str::to_owned),
                    row.get(q).unwrap_or(""),
                );
            }
        }
        _ => {
            for line in text.lines() {
                if !line.trim_start().starts_with('#') {
                    push(None, line);
                }
            }
        }
    }
    let mut seen = HashSet::new();
    out.retain(|q| seen.insert(q.key.clone()));
    Ok(out)
}

fn answer(
    ctx: &Context<'_>,
    t: &AnswerTask,
    filter: &Filter,
    settings: &str,
    llm: &mut LazyLlm,
    report: &mut TaskReport,
) -> Result<()> {
    let name = t.name.as_deref().unwrap_or("answer");
    if ctx.options.shard.is_some() {
        log(&format!(
            "notice: answer {name} skipped: a shard holds only part of the archive"
        ));
        return Ok(());
    }
    let questions = read_questions(&t.questions)?;
    report.total = questions.len();
    // An answer can change when any document in scope changes: the fingerprint covers
    // the question, the settings and every (document, content) pair in scope.
    let docs = scope(ctx, filter)?;
    let mut h = blake3::Hasher::new();
    for e in &docs {
        h.update(e.doc_id.as_bytes());
        h.update(e.content_hash.as_bytes());
    }
    let corpus = h.finalize().to_hex().to_string();
    let todo = partition(
        ctx,
        name,
        &questions,
        |q| &q.key,
        |q| hash_hex(&[q.text.as_bytes(), settings.as_bytes(), corpus.as_bytes()]),
        report,
    )?;
    if ctx.options.dry_run {
        // A sync that changes documents changes every answer's fingerprint.
        if !ctx.planned.is_empty() {
            report.unchanged = 0;
            report.done = questions.len() - report.quarantined;
        } else {
            report.done = todo.len();
        }
        log(&format!(
            "would answer {name}: {} questions ({} unchanged, {} quarantined)",
            report.done, report.unchanged, report.quarantined
        ));
        return Ok(());
    }
    let (state, index) = begin(ctx, name, questions.iter().map(|q| q.key.clone()), report)?;
    let mut lazy;
    let llm = if t.extractive {
        lazy = LazyLlm::new(crate::job::llm_args(ctx.job), true);
        &mut lazy
    } else {
        llm
    };
    let progress = Progress::new(format!("answer {name}"), todo.len(), "questions");
    for (q, fp) in todo {
        if STOP.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let (done, failed) = match crate::ask_cmd::answer(index, &q.text, t.k, filter, llm) {
            Ok(a) => {
                let mut row = a.json();
                row["id"] = json!(q.id);
                let done = Done {
                    doc_id: String::new(),
                    fingerprint: fp,
                    row,
                    at: docket_index::catalog::unix_now(),
                };
                (vec![(q.key.clone(), done)], vec![])
            }
            Err(e) => {
                let failure = NewFailure {
                    key: q.key.clone(),
                    doc_id: String::new(),
                    fingerprint: fp,
                    reason: format!("{:?}: {e:#}", q.text),
                };
                (vec![], vec![failure])
            }
        };
        commit(ctx, state, name, done, failed, report, &progress)?;
        progress.advance(1);
    }
    progress.finish();
    if report.done > 0 || report.removed > 0 || !t.output.exists() {
        let markdown = t.output.extension().is_some_and(|e| e == "md");
        write_atomic(&t.output, |w| {
            // In the questions file's order.
            if markdown {
                writeln!(w, "# {}: {name}\n", ctx.job.name)?;
            }
            for q in &questions {
                let Some(d) = state.done(name, &q.key)? else {
                    continue;
                };
                if !markdown {
                    serde_json::to_writer(&mut *w, &d.row)?;
                    writeln!(w)?;
                    continue;
                }
                writeln!(w, "## {}\n", q.text)?;
                match d.row["answer"].as_str() {
                    Some(a) => writeln!(w, "{a}\n")?,
                    None => writeln!(w, "_{}_\n", crate::ask_cmd::NOT_FOUND)?,
                }
                for s in d.row["sources"].as_array().into_iter().flatten() {
                    writeln!(
                        w,
                        "- [{}] {} (pages {}-{})",
                        s["n"],
                        s["source"].as_str().unwrap_or(""),
                        s["page_start"],
                        s["page_end"]
                    )?;
                }
                writeln!(w)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_come_from_text_jsonl_and_csv_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("q.txt");
        std::fs::write(&txt, "# morning questions\nWhat is the per diem?\n\nWhat is the per diem?\nWho approves travel?\n").unwrap();
        let q = read_questions(&txt).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].key, "What is the per diem?");
        let jsonl = dir.path().join("q.jsonl");
        std::fs::write(
            &jsonl,
            "{\"id\": 7, \"question\": \"A?\"}\n{\"question\": \"B?\"}\n",
        )
        .unwrap();
        let q = read_questions(&jsonl).unwrap();
        assert_eq!((q[0].key.as_str(), q[1].key.as_str()), ("7", "B?"));
        let csv = dir.path().join("q.csv");
        std::fs::write(&csv, "id,question\nq1,\"A, really?\"\n").unwrap();
        assert_eq!(read_questions(&csv).unwrap()[0].text, "A, really?");
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{\"q\": 1}\n").unwrap();
        assert!(
            read_questions(&bad)
                .unwrap_err()
                .to_string()
                .contains("bad.jsonl:1")
        );
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/out.jsonl");
        write_atomic(&out, |w| Ok(w.write_all(b"one\n")?)).unwrap();
        write_atomic(&out, |w| Ok(w.write_all(b"two\n")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two\n");
        // A failing writer leaves the old file as it was.
        assert!(write_atomic(&out, |_| bail!("boom")).is_err());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            1
        );
    }
}
