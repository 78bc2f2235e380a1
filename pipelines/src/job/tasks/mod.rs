//! The tasks of a job: classify, summarize and answer, each run only on what is new or
//! changed since it last succeeded, with results committed to the job state before the
//! output is rewritten from it.
//!
//! The machinery every per-document task shares lives here (scope, fingerprints,
//! partition into done / to do / quarantined, batched commits, the output rewrite); the
//! task modules only say how a batch of documents becomes rows.

mod answer;
mod classify;
mod guard;
mod summarize;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use docket_generate::{LazyLlm, Llm};
use docket_index::catalog::{Catalog, DocState};
use docket_index::embed::Embedder;
use docket_index::filter::SourceMatcher;
use docket_index::{DocEntry, Filter, Index};
use serde_json::Value;

use super::spec::{Job, Task};
use super::state::{Done, Mark, NewFailure, State, Written};
use super::{RunEnv, RunOptions, TaskFailure, TaskReport};
use crate::error::{Error, Result};
use crate::explain::{ChunkScore, ExplainLog, Explained, LabelScore};
use crate::output::{file_hash, write_atomic_hashed};
use crate::provenance::{DocRef, FileHashes, ModelRef, Provenance};
use crate::report::{Level, Progress, ReporterExt};
pub use guard::TaskClock;
use guard::{TimedEmbedder, TimedLlm, guarded};

/// What the tasks of one run share.
pub struct Context<'a> {
    pub job: &'a Job,
    pub options: &'a RunOptions,
    pub env: &'a RunEnv,
    /// None only in a dry run of a job that never ran.
    pub state: Option<&'a State>,
    /// The synced index (None in a dry run).
    pub index: Option<Index>,
    /// Documents a dry run's sync would add or update: (source, doc id).
    pub planned: Vec<(String, String)>,
    /// The index's embedder, or the configured model loaded by the first task that
    /// needs it and shared by the rest (see [`Context::embedder`]).
    pub embedder: OnceLock<Arc<dyn Embedder>>,
    /// The job's LLM, loaded by the first task that needs it.
    pub llm: LazyLlm,
    /// The time limit of the document being worked on (`task_timeout_secs`).
    pub clock: TaskClock,
    /// The LLM as tasks get it: under the clock (see [`Context::task_llm`]).
    pub timed_llm: OnceLock<Option<Arc<dyn Llm>>>,
    /// This run's id, for the rows' provenance.
    pub run_id: String,
    /// Model file hashes, for the rows' provenance.
    pub hashes: FileHashes,
}

impl Context<'_> {
    /// The job's embedding model, loaded once for all tasks, as tasks use it: under
    /// the clock of the document being worked on.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>> {
        let e = match self.embedder.get() {
            Some(e) => e.clone(),
            None => {
                let model = self.job.spec.index.chunking.embed_model.as_deref();
                let e = crate::models::load_embedder(model, self.env.reporter.as_ref())?;
                self.embedder.get_or_init(|| e).clone()
            }
        };
        Ok(Arc::new(TimedEmbedder {
            inner: e,
            clock: self.clock.clone(),
        }))
    }

    /// The job's LLM (loaded on the first call) under the clock of the document being
    /// worked on; `None` when it is disabled or could not be loaded. Tasks use this, never
    /// [`Context::llm`] directly.
    pub fn task_llm(&self) -> Option<&dyn Llm> {
        self.task_llm_arc().map(|llm| llm.as_ref())
    }

    /// The models a row of this run was made with: the embedder if it was loaded, and
    /// the LLM if `llm_used` and it was loaded, each with the hash of its file (`None`
    /// for a server's model, or a file that cannot be read any more).
    pub fn models(&self, llm_used: bool) -> Vec<ModelRef> {
        let mut out = Vec::new();
        if let Some(e) = self.embedder.get() {
            let dir = self.job.spec.index.chunking.embed_model.as_deref();
            out.push(ModelRef::embedder(&self.hashes, e.model_id(), dir));
        }
        if llm_used && let Some(id) = self.llm.model_id() {
            out.push(ModelRef::llm(&self.hashes, id, &self.job.spec.llm));
        }
        out
    }

    /// The provenance of the row `key` of the task `task`, made from `docs` (and of
    /// them, the chunks `chunk_ids`).
    pub fn provenance(
        &self,
        task: &str,
        key: &str,
        docs: &[DocRef],
        chunk_ids: Vec<String>,
        (llm_used, prompt_version): (bool, Option<u32>),
    ) -> Value {
        Provenance::new(
            &self.run_id,
            task,
            key,
            docs,
            chunk_ids,
            self.models(llm_used),
            prompt_version,
            Some(&self.job.name),
        )
        .to_value()
    }

    /// Keep the explain records of this run's rows; a failure to is a warning (the
    /// rows matter more than their explanations).
    pub fn explain(&self, records: &[Explained]) {
        let log = ExplainLog::jobs(&self.job.spec.index.dir);
        if let Err(e) = log.append(&self.run_id, records) {
            self.env
                .reporter
                .warn(&format!("cannot keep the rows' explain records: {e}"));
        }
    }

    pub(super) fn task_llm_arc(&self) -> Option<&Arc<dyn Llm>> {
        self.timed_llm
            .get_or_init(|| {
                let inner = self.llm.get()?;
                let timed: Arc<dyn Llm> = Arc::new(TimedLlm {
                    inner,
                    clock: self.clock.clone(),
                });
                Some(timed)
            })
            .as_ref()
    }
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
    for input in task.inputs() {
        let bytes = std::fs::read(&input).map_err(|e| Error::io(&input, e))?;
        parts.push(blake3::hash(&bytes).as_bytes().to_vec());
    }
    let uses_llm = match task {
        Task::Classify(t) => t.llm,
        Task::Summarize(t) => t.abstractive,
        Task::Answer(t) => t.strategy() != docket_generate::answer::AnswerStrategy::Extractive,
    };
    if uses_llm {
        parts.push(serde_json::to_vec(&ctx.job.spec.llm).unwrap_or_default());
    }
    let embed_model = ctx.job.spec.index.chunking.embed_model.as_ref();
    parts.push(
        embed_model
            .map_or("default".into(), |p| p.display().to_string())
            .into_bytes(),
    );
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(hash_hex(&refs))
}

/// The catalog's documents: from the synced index, or read-only in a dry run.
fn entries(ctx: &Context<'_>) -> Result<Vec<DocEntry>> {
    if let Some(index) = &ctx.index {
        return Ok(index.catalog().entries()?);
    }
    let path = ctx
        .job
        .spec
        .index
        .dir
        .join(docket_index::index::CATALOG_FILE);
    if path.exists() {
        Ok(Catalog::open(&path)?.entries()?)
    } else {
        Ok(Vec::new())
    }
}

/// The documents in a task's scope (indexed, in the shard, matching the filter), by
/// source.
fn scope(ctx: &Context<'_>, filter: &Filter) -> Result<Vec<DocEntry>> {
    let matcher = filter
        .source_glob
        .as_deref()
        .map(SourceMatcher::new)
        .transpose()?;
    let mut out = Vec::new();
    for e in entries(ctx)? {
        let by_catalog = e.state == DocState::Indexed
            && ctx.options.shard.is_none_or(|s| s.contains(&e.doc_id))
            && matcher.as_ref().is_none_or(|m| m.is_match(&e.source))
            && (filter.formats.is_empty() || filter.formats.iter().any(|f| f == e.format.name()))
            && (filter.doc_ids.is_empty() || filter.doc_ids.contains(&e.doc_id));
        if by_catalog && metadata_matches(ctx, filter, &e)? {
            out.push(e);
        }
    }
    out.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(out)
}

/// Whether a document's metadata matches the filter's (which lives on the chunks: the
/// catalog keeps one line per document).
fn metadata_matches(ctx: &Context<'_>, filter: &Filter, e: &DocEntry) -> Result<bool> {
    if filter.metadata.is_empty() {
        return Ok(true);
    }
    let Some(index) = &ctx.index else {
        return Ok(false);
    };
    let chunks = index.document_chunks(e)?;
    Ok(chunks.first().is_some_and(|first| {
        filter
            .metadata
            .iter()
            .all(|(k, v)| first.metadata.get(k) == Some(v))
    }))
}

/// Run one task and report what it did.
pub fn run_task(ctx: &Context<'_>, task: &Task) -> Result<TaskReport> {
    let started = Instant::now();
    let mut report = TaskReport {
        name: task.name().to_owned(),
        kind: task.kind().as_str(),
        output: task.output().to_owned(),
        ..TaskReport::default()
    };
    let filter = task.filter().clone();
    let settings = settings_fingerprint(ctx, task)?;
    let plan = Plan {
        name: task.name(),
        filter: &filter,
        settings: &settings,
        output: task.output(),
    };
    match task {
        Task::Classify(t) => classify::run(ctx, t, &plan, &mut report)?,
        Task::Summarize(t) => summarize::run(ctx, t, &plan, &mut report)?,
        Task::Answer(t) => answer::run(ctx, t, &plan, &mut report)?,
    }
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(report)
}

/// What a task works on: its name, its filter, the fingerprint of its settings and
/// where its output goes.
struct Plan<'t> {
    name: &'t str,
    filter: &'t Filter,
    settings: &'t str,
    output: &'t Path,
}

/// One document's result: its output row, or why it failed.
type Outcome = std::result::Result<Value, String>;

/// What a per-document task does with its documents.
trait Worker {
    /// Load models, train: only called when there is work, so that a run with nothing
    /// to do loads no model and embeds nothing.
    fn prepare(&mut self) -> Result<()>;
    /// One result per item, in order. A panic fails the items (the loop retries them
    /// one by one to find the one at fault), and so does running past the clock.
    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome>;
    /// Documents per batch (and per state commit).
    fn batch(&self) -> usize {
        1
    }
    /// Whether the rows are made with the job's LLM, and the version of its prompt
    /// (for the rows' provenance).
    fn uses_llm(&self) -> (bool, Option<u32>) {
        (false, None)
    }
}

/// A task's keys to do: the item, its fingerprint, and whether it is worked on alone
/// (it was under way when a run died, see [`State::take_crashed`]).
type Todo<'x, T> = Vec<(&'x T, String, bool)>;

/// Split a task's keys into those to do (with their fingerprints), counting the ones
/// whose result is current (same fingerprint) and the quarantined ones (failed too
/// often on the same fingerprint). `--force` does them all. Keys a run that died had
/// under way count a failed attempt first; the ones that reach the limit by it are
/// this run's failures.
fn partition<'x, T>(
    ctx: &Context<'_>,
    name: &str,
    items: &'x [T],
    key: impl Fn(&T) -> &str,
    fingerprint: impl Fn(&T) -> String,
    report: &mut TaskReport,
) -> Result<Todo<'x, T>> {
    if let Some(s) = ctx.state
        && !ctx.options.dry_run
    {
        report_crashed(
            ctx,
            name,
            s.take_crashed(name, ctx.job.spec.max_attempts)?,
            report,
        );
    }
    let (done, failures) = match ctx.state {
        Some(s) => (s.fingerprints(name)?, s.failures(name)?),
        None => Default::default(),
    };
    let force = ctx.options.force;
    let mut todo = Vec::new();
    for item in items {
        let fp = fingerprint(item);
        let k = key(item);
        let failed = failures.get(k).filter(|f| f.fingerprint == fp);
        let quarantined = failed.is_some_and(|f| f.quarantined);
        if !force && done.get(k) == Some(&fp) {
            report.unchanged += 1;
        } else if !force && quarantined {
            report.quarantined += 1;
        } else {
            todo.push((item, fp, failed.is_some_and(|f| f.crashes > 0)));
        }
    }
    Ok(todo)
}

/// Say what the keys a dead run had under way became: the ones now quarantined are
/// this run's failures, the others are tried again, alone.
fn report_crashed(
    ctx: &Context<'_>,
    name: &str,
    crashed: Vec<(String, super::state::Failed)>,
    report: &mut TaskReport,
) {
    let reporter = ctx.env.reporter.as_ref();
    for (key, f) in crashed {
        if f.quarantined {
            reporter.error(&format!(
                "{} {name}: {key}: {} (attempt {}, quarantined)",
                report.kind, f.reason, f.attempts
            ));
            report.failed += 1;
            report.failures.push(TaskFailure {
                reason: format!("{key}: {}", f.reason),
                key,
                doc_id: f.doc_id,
                attempts: f.attempts,
                quarantined: true,
            });
        } else {
            reporter.warn(&format!(
                "{} {name}: {key} was under way when a run died (attempt {} of {}); tried alone this run",
                report.kind, f.attempts, ctx.job.spec.max_attempts
            ));
        }
    }
}

/// The batches of a task's work: keys worked on alone each make one, the others go
/// `size` at a time.
fn batches<'t, 'x, T>(todo: &'t Todo<'x, T>, size: usize) -> Vec<Vec<&'t (&'x T, String, bool)>> {
    let mut out: Vec<Vec<&(&T, String, bool)>> = Vec::new();
    let mut open = Vec::new();
    for item in todo {
        if item.2 {
            out.push(vec![item]);
        } else {
            open.push(item);
            if open.len() >= size.max(1) {
                out.push(std::mem::take(&mut open));
            }
        }
    }
    if !open.is_empty() {
        out.push(open);
    }
    out
}

/// The marks of a batch of documents about to be worked on.
fn doc_marks(group: &[(&DocEntry, String)]) -> Vec<Mark> {
    group
        .iter()
        .map(|(e, fp)| Mark {
            key: e.source.clone(),
            doc_id: e.doc_id.clone(),
            fingerprint: fp.clone(),
        })
        .collect()
}

/// Start a task's real work: with `--force` forget its failures (quarantine included);
/// forget the results of keys no longer in scope (`keep`).
fn begin<'a>(
    ctx: &'a Context<'_>,
    name: &str,
    keep: impl Iterator<Item = String>,
    report: &mut TaskReport,
) -> Result<(&'a State, &'a Index)> {
    let missing = |what: &str| Error::Usage(format!("task {name}: no {what} (a dry run?)"));
    let state = ctx.state.ok_or_else(|| missing("job state"))?;
    let index = ctx.index.as_ref().ok_or_else(|| missing("index"))?;
    if ctx.options.force {
        state.clear_failures(name)?;
    }
    let keep: HashSet<String> = keep.collect();
    report.removed = state.retain(name, &keep)?;
    Ok((state, index))
}

/// Commit one batch's results and failures, with the next batch's keys noted as
/// running (`next`) in the same transaction; log the failures and count them all.
fn commit(
    ctx: &Context<'_>,
    state: &State,
    name: &str,
    batch: (Vec<(String, Done)>, Vec<NewFailure>),
    next: &[Mark],
    report: &mut TaskReport,
    progress: &dyn Progress,
) -> Result<()> {
    let (done, failed) = batch;
    report.done += done.len();
    let max = ctx.job.spec.max_attempts;
    let recorded = state.record_then_mark(name, done, failed.clone(), max, next)?;
    for (new, f) in failed.into_iter().zip(recorded) {
        progress.log(
            Level::Error,
            &format!(
                "{} {name}: {} (attempt {}{})",
                report.kind,
                f.reason,
                f.attempts,
                if f.quarantined { ", quarantined" } else { "" }
            ),
        );
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

/// A dry run's count: the documents to do now, plus the ones the sync would add to the
/// scope.
fn dry_run_count(
    ctx: &Context<'_>,
    plan: &Plan<'_>,
    docs: &[DocEntry],
    todo: usize,
) -> Result<usize> {
    let matcher = plan
        .filter
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
    Ok(todo + planned)
}

/// The loop every per-document task shares: skip what is current, leave quarantined
/// documents alone, process the rest in batches (each batch's results and failures
/// committed in one transaction), forget results of documents gone from the scope,
/// then rewrite the output from the state.
fn per_document(
    ctx: &Context<'_>,
    plan: &Plan<'_>,
    report: &mut TaskReport,
    worker: &mut dyn Worker,
    write: impl Fn(&State, &mut dyn Write) -> Result<()>,
) -> Result<()> {
    let docs = scope(ctx, plan.filter)?;
    report.total = docs.len();
    let fingerprint =
        |e: &DocEntry| hash_hex(&[e.content_hash.as_bytes(), plan.settings.as_bytes()]);
    let todo = partition(ctx, plan.name, &docs, |e| &e.source, fingerprint, report)?;
    let todo = batches(&todo, worker.batch());
    if ctx.options.dry_run {
        let count = todo.iter().map(Vec::len).sum();
        report.done = dry_run_count(ctx, plan, &docs, count)?;
        ctx.env.reporter.info(&format!(
            "would {} {}: {} documents ({} unchanged, {} quarantined)",
            report.kind, plan.name, report.done, report.unchanged, report.quarantined
        ));
        return Ok(());
    }
    let keep = docs.iter().map(|e| e.source.clone());
    let (state, index) = begin(ctx, plan.name, keep, report)?;
    if !todo.is_empty() {
        worker.prepare()?;
    }
    let label = format!("{} {}", report.kind, plan.name);
    let report_kind = report.kind;
    let count = todo.iter().map(Vec::len).sum();
    let progress = ctx.env.reporter.progress(&label, count, "documents");
    let groups: Vec<Vec<(&DocEntry, String)>> = todo
        .iter()
        .map(|g| g.iter().map(|(e, fp, _)| (*e, fp.clone())).collect())
        .collect();
    run_noted(
        ctx,
        state,
        plan.name,
        &groups,
        |g| doc_marks(g),
        |g| {
            let (mut done, failed) = run_batch(index, g, worker, &ctx.clock);
            let llm = worker.uses_llm();
            // A document's row is made from its whole text: every chunk of it.
            let mut explained = Vec::new();
            for (_, d) in &mut done {
                if let Some((e, _)) = g.iter().find(|(e, _)| e.doc_id == d.doc_id) {
                    let chunks: Vec<String> =
                        (0..e.chunks).map(|i| format!("{}-{i}", e.doc_id)).collect();
                    let metadata = index.document_metadata(e).unwrap_or_default();
                    let doc = DocRef::new(e, &metadata);
                    let p = ctx.provenance(plan.name, &e.source, &[doc], chunks.clone(), llm);
                    let scores = chunks
                        .into_iter()
                        .map(|c| ChunkScore::whole(c, &e.doc_id, &e.source))
                        .collect();
                    let row_id = p["row_id"].as_str().unwrap_or_default().to_owned();
                    explained.push(Explained::chunks(
                        &row_id,
                        report_kind,
                        scores,
                        label_scores(&d.row),
                    ));
                    d.row["provenance"] = p;
                }
            }
            ctx.explain(&explained);
            (done, failed)
        },
        report,
        progress.as_ref(),
    )?;
    progress.finish();
    write_output(state, plan.name, plan.output, |w| write(state, w))?;
    Ok(())
}

/// A classification row's label scores, for its explain record: the labels given, then
/// the runner-up (none for other rows).
fn label_scores(row: &Value) -> Vec<LabelScore> {
    let mut out: Vec<LabelScore> = row["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(LabelScore {
                label: l["label"].as_str()?.to_owned(),
                score: l["score"].as_f64()? as f32,
            })
        })
        .collect();
    if let (Some(label), Some(score)) = (row["runner_up"].as_str(), row["runner_up_score"].as_f64())
    {
        out.push(LabelScore {
            label: label.to_owned(),
            score: score as f32,
        });
    }
    out
}

/// Work through `batches` in order, each noted running in the state before its work
/// starts: the first in a commit of its own, every next one in the commit of the batch
/// before, and the note cleared at the end. A death leaves the batch it was in noted,
/// which the next run counts as a crash, at no extra commit per batch.
#[allow(clippy::too_many_arguments)]
fn run_noted<B>(
    ctx: &Context<'_>,
    state: &State,
    name: &str,
    batches: &[B],
    marks: impl Fn(&B) -> Vec<Mark>,
    mut work: impl FnMut(&B) -> (Vec<(String, Done)>, Vec<NewFailure>),
    report: &mut TaskReport,
    progress: &dyn Progress,
) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let mut noted = marks(first);
    state.mark(name, &noted)?;
    for (i, b) in batches.iter().enumerate() {
        if ctx.env.stopping() {
            report.interrupted = true;
            break;
        }
        let batch = work(b);
        let next = batches.get(i + 1).map(&marks).unwrap_or_default();
        commit(ctx, state, name, batch, &next, report, progress)?;
        progress.advance(noted.len());
        noted = next;
    }
    if !noted.is_empty() {
        state.mark(name, &[])?;
    }
    Ok(())
}

/// Rewrite a task's output from the state unless the file on disk is the one written
/// from the latest generation of its results. A run killed between its last commit and
/// the output's rename leaves an older file behind, and a file may have been truncated,
/// edited or deleted since; both are rewritten by the next run, even one with nothing
/// else to do. Returns whether the file was written.
fn write_output(
    state: &State,
    name: &str,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<bool> {
    let generation = state.generation(name)?;
    let current = state.written(name)?.is_some_and(|w| {
        w.generation == generation && w.path == path && file_hash(path).as_ref() == Some(&w.hash)
    });
    if current {
        return Ok(false);
    }
    let hash = write_atomic_hashed(path, fill)?;
    let written = Written {
        generation,
        path: path.to_owned(),
        hash,
    };
    state.set_written(name, &written)?;
    Ok(true)
}

/// Read a batch's documents and run the worker on them: the results to commit and the
/// failures to count.
fn run_batch(
    index: &Index,
    group: &[(&DocEntry, String)],
    worker: &mut dyn Worker,
    clock: &TaskClock,
) -> (Vec<(String, Done)>, Vec<NewFailure>) {
    let failure = |e: &DocEntry, fp: &str, reason: String| NewFailure {
        key: e.source.clone(),
        doc_id: e.doc_id.clone(),
        fingerprint: fp.to_owned(),
        reason: format!("{}: {reason}", e.source),
    };
    let mut failed = Vec::new();
    let mut items: Vec<(DocEntry, String)> = Vec::new();
    let mut fps: Vec<&str> = Vec::new();
    for (e, fp) in group {
        match index.document_text(e) {
            Ok(text) if text.trim().is_empty() => {
                failed.push(failure(e, fp, "the document has no text".into()))
            }
            Ok(text) => {
                #[cfg(feature = "test-hooks")]
                crate::test_hooks::abort_on("task", &text);
                items.push(((*e).clone(), text));
                fps.push(fp);
            }
            Err(err) => failed.push(failure(e, fp, err.to_string())),
        }
    }
    let results = if items.is_empty() {
        Vec::new()
    } else {
        guarded(clock, &items, |items| worker.work(items))
    };
    let mut done = Vec::new();
    for (((e, _), fp), result) in items.iter().zip(fps).zip(results) {
        match result {
            Ok(row) => done.push((e.source.clone(), done_row(&e.doc_id, fp, row))),
            Err(reason) => failed.push(failure(e, fp, reason)),
        }
    }
    (done, failed)
}

fn done_row(doc_id: &str, fingerprint: &str, row: Value) -> Done {
    Done {
        doc_id: doc_id.to_owned(),
        fingerprint: fingerprint.to_owned(),
        row,
        at: docket_index::catalog::unix_now(),
    }
}

/// Every result of a task as JSON Lines, in key order.
fn write_jsonl(state: &State, task: &str, w: &mut dyn Write) -> Result<()> {
    state.for_each_done(task, |_, d| {
        serde_json::to_writer(&mut *w, &d.row).map_err(|e| Error::output(task, e))?;
        writeln!(w).map_err(|e| Error::output(task, e))
    })
}

/// A row's provenance in a Markdown output: one HTML comment line under the row's
/// heading (unseen when rendered, one `grep` away), holding the same JSON object as the
/// JSON Lines outputs' `provenance` field.
fn write_provenance_comment(w: &mut dyn Write, row: &Value) -> std::io::Result<()> {
    match row.get("provenance") {
        // `--` cannot occur in JSON outside strings, and is escaped inside them, so
        // the comment cannot end early.
        Some(p) => writeln!(
            w,
            "<!-- provenance: {} -->\n",
            p.to_string().replace("--", "-\\u002d")
        ),
        None => Ok(()),
    }
}

/// An output write error, named after the task.
fn out_err(task: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::output(task, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::spec::Job;
    use crate::report::Collect;
    use docket_index::sync::{SyncConfig, SyncHooks, sync};
    use docket_ingest::{ApproxTokenizer, Chunker, ChunkingConfig};
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;

    /// A task whose row for a document is its source.
    struct Echo;

    impl Worker for Echo {
        fn prepare(&mut self) -> Result<()> {
            Ok(())
        }

        fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome> {
            items
                .iter()
                .map(|(e, _)| Ok(serde_json::json!({ "source": e.source })))
                .collect()
        }
    }

    /// A job over `docs/` with a BM25-only index, and the path of its output.
    fn job(dir: &Path) -> (Job, PathBuf) {
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        for (name, text) in [("a.md", "# A\n\nalpha"), ("b.md", "# B\n\nbeta")] {
            std::fs::write(dir.join("docs").join(name), text).unwrap();
        }
        let file = dir.join("job.toml");
        std::fs::write(
            &file,
            "version = 1\n[sources]\npaths = [\"docs\"]\n[index]\ndir = \"ix\"\nembed = false\n\
             [[summarize]]\nname = \"s\"\noutput = \"out/s.jsonl\"\n",
        )
        .unwrap();
        let job = Job::load(&file).unwrap();
        let output = job.tasks[0].output().to_owned();
        (job, output)
    }

    /// Sync the index, then run the task's loop; `killed` makes the output's write
    /// fail, as a run killed after its last commit and before the rename.
    fn run(job: &Job, killed: bool) -> Result<TaskReport> {
        let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer)).unwrap();
        let config = SyncConfig {
            paths: job.spec.sources.paths.clone(),
            prune: true,
            embed: false,
            ..SyncConfig::default()
        };
        let index = sync(
            &job.spec.index.dir,
            &config,
            &chunker,
            None,
            SyncHooks::default(),
        )
        .unwrap()
        .index;
        let state = State::open(&job.state_dir())?;
        let options = RunOptions::default();
        let env = RunEnv::new(Arc::new(Collect::default()));
        let ctx = Context {
            job,
            options: &options,
            env: &env,
            state: Some(&state),
            index,
            planned: Vec::new(),
            embedder: OnceLock::new(),
            llm: LazyLlm::disabled(),
            clock: TaskClock::new(0),
            timed_llm: OnceLock::new(),
            run_id: crate::provenance::run_id(),
            hashes: FileHashes::at(job.spec.index.dir.join("hashes.json")),
        };
        let filter = Filter::default();
        let plan = Plan {
            name: "s",
            filter: &filter,
            settings: "v1",
            output: job.tasks[0].output(),
        };
        let mut report = TaskReport::default();
        per_document(&ctx, &plan, &mut report, &mut Echo, |state, w| {
            if killed {
                return Err(Error::Usage("killed before the rename".into()));
            }
            write_jsonl(state, "s", w)
        })?;
        Ok(report)
    }

    fn lines(path: &Path) -> usize {
        std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
    }

    /// Regression (issue 13): a run killed after its last batch committed and before
    /// the output's rename left the file short, and the next run, finding nothing to
    /// do, never rewrote it.
    #[test]
    fn an_output_that_is_not_the_latest_is_rewritten_even_with_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let (job, out) = job(dir.path());
        assert_eq!(run(&job, false).unwrap().done, 2);
        assert_eq!(lines(&out), 2);
        // Nothing changed: the file is current and left alone.
        let inode = std::fs::metadata(&out).unwrap().ino();
        assert_eq!(run(&job, false).unwrap().done, 0);
        assert_eq!(std::fs::metadata(&out).unwrap().ino(), inode);
        // Truncated, then deleted: rewritten though there is nothing to do.
        std::fs::write(&out, "").unwrap();
        assert_eq!(run(&job, false).unwrap().unchanged, 2);
        assert_eq!(lines(&out), 2);
        std::fs::remove_file(&out).unwrap();
        run(&job, false).unwrap();
        assert_eq!(lines(&out), 2);
        // A third document committed, and the run killed before the rename.
        std::fs::write(dir.path().join("docs/c.md"), "# C\n\ngamma").unwrap();
        assert!(run(&job, true).is_err());
        assert_eq!(lines(&out), 2);
        let report = run(&job, false).unwrap();
        assert_eq!((report.done, report.unchanged), (0, 3));
        assert_eq!(lines(&out), 3, "the next run rewrites the short output");
    }
}
