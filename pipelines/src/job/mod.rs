//! Declarative batch jobs: what `docket run`, `validate`, `report` and `schedule` do.
//!
//! A run takes the index lock, brings the index up to date with the sources (exactly
//! as `docket index`, through [`crate::sync`]), then runs each task on the documents
//! that are new or changed since the task last succeeded on them. Results go to the
//! job's state database first ([`state`]) and the outputs are rewritten from it
//! atomically, so a run killed at any moment is finished by the next one without a
//! duplicated or lost row.
//!
//! Nothing here is global: the caller hands in a [`RunEnv`] with the reporter that
//! shows progress and the flag a signal handler sets to stop between documents.

pub mod lock;
pub mod report;
pub mod schedule;
pub mod spec;
pub mod state;
mod tasks;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use docket_index::embed::Embedder;
use docket_index::shard::Shard;
use docket_index::sync::{Marks, SyncFailure};
use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::output::write_atomic;
use crate::report::{Reporter, ReporterExt};
use crate::sync::{SyncRequest, summary_line, sync_index};
use lock::RunLock;
pub use report::{IndexReport, Models, RunReport, Status, TaskFailure, TaskReport};
pub use spec::{Job, Kind, Task};
use state::{INDEX_STAGE, State};

/// How a job is run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Say what would be done; change nothing.
    pub dry_run: bool,
    /// Redo every task on every document, quarantined ones included.
    pub force: bool,
    /// Only the documents of this shard.
    pub shard: Option<Shard>,
    /// Also write the report here.
    pub report: Option<PathBuf>,
    /// Run only these tasks (by name or kind), on the index as it is: no index stage.
    /// What a sharded run's answer step uses once every worker is done (see
    /// `tasks::answer`).
    pub tasks: Option<Vec<String>>,
}

impl RunOptions {
    /// Whether this run runs `task`.
    pub fn selects(&self, task: &Task) -> bool {
        self.tasks.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|n| n == task.name() || n == task.kind().as_str())
        })
    }
}

/// What a run reports to, and the flag that stops it between documents.
#[derive(Clone)]
pub struct RunEnv {
    pub reporter: Arc<dyn Reporter>,
    /// Set (by a signal handler) to stop between documents; what is done is saved.
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl RunEnv {
    pub fn new(reporter: Arc<dyn Reporter>) -> RunEnv {
        RunEnv {
            reporter,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Run a job: sync its index, run its tasks, write its report and log a summary. A
/// fatal error is returned after the report that records it is written.
pub fn run(job: &Job, options: &RunOptions, env: &RunEnv) -> Result<RunReport> {
    let started = Instant::now();
    let mut report = RunReport {
        job: job.name.clone(),
        run_id: crate::provenance::run_id(),
        job_file: job.file.clone(),
        started: now_rfc3339(),
        finished: String::new(),
        seconds: 0.0,
        status: Status::Success,
        exit_code: 0,
        dry_run: options.dry_run,
        force: options.force,
        shard: options.shard.map(|s| s.to_string()),
        index: IndexReport {
            dir: job.spec.index.dir.clone(),
            ..IndexReport::default()
        },
        tasks: Vec::new(),
        models: Models::default(),
        error: None,
    };
    let result = run_stages(job, options, env, &mut report);
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    report.finished = now_rfc3339();
    report.status = match &result {
        Err(e) => {
            report.error = Some(e.to_string());
            Status::Failed
        }
        Ok(()) if env.stopping() => Status::Interrupted,
        Ok(()) if report.failed() > 0 => Status::Partial,
        Ok(()) => Status::Success,
    };
    report.exit_code = report.status.exit_code();
    // A run that never got the lock writes no report: the report of the run that holds
    // the lock is the one that counts.
    let locked_out = result
        .as_ref()
        .err()
        .is_some_and(|e| e.lock_held().is_some());
    if !options.dry_run && !locked_out {
        write_report(job, options, &report)?;
    }
    env.reporter.info(&report.summary_line());
    result.map(|()| report)
}

fn write_report(job: &Job, options: &RunOptions, report: &RunReport) -> Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| Error::output("the report", e))?;
    let mut paths = vec![job.report_path()];
    paths.extend(options.report.clone());
    for path in paths {
        write_atomic(&path, |w| {
            w.write_all(&json).map_err(|e| Error::io(&path, e))
        })
        .context(|| format!("cannot write the report {}", path.display()))?;
    }
    Ok(())
}

fn run_stages(job: &Job, options: &RunOptions, env: &RunEnv, report: &mut RunReport) -> Result<()> {
    // A dry run reads; it takes no lock and creates nothing.
    let _lock = if options.dry_run {
        None
    } else {
        Some(take_lock(job, env.reporter.as_ref())?)
    };
    let mut state = open_state(job, options)?;
    let synced = match &options.tasks {
        Some(names) => open_stage(job, names, options, env)?,
        None => sync_stage(job, options, env, state.as_ref(), report)?,
    };
    // The rows of pruned documents go from this job's state, bytes and all, once the
    // tasks have dropped (and counted) theirs.
    let pruned: HashSet<String> = synced.deleted.iter().cloned().collect();
    if env.stopping() {
        return forget_pruned(state.as_mut(), &pruned);
    }
    let ctx = tasks::Context {
        job,
        options,
        env,
        state: state.as_ref(),
        index: synced.index,
        planned: synced.planned,
        embedder: synced
            .embedder
            .map(std::sync::OnceLock::from)
            .unwrap_or_default(),
        llm: crate::models::lazy_llm(&job.spec.llm, false, env.reporter.clone()),
        clock: tasks::TaskClock::new(job.spec.task_timeout_secs),
        timed_llm: std::sync::OnceLock::new(),
        run_id: report.run_id.clone(),
        hashes: crate::provenance::FileHashes::in_home(),
    };
    for task in job.tasks.iter().filter(|t| options.selects(t)) {
        if env.stopping() {
            break;
        }
        report.tasks.push(tasks::run_task(&ctx, task)?);
    }
    report.models.llm = ctx.llm.model_id().map(str::to_owned);
    // The embedder a task loaded (a BM25-only index's classifiers) counts too.
    report.models.embedder = ctx.embedder.get().map(|e| e.model_id().to_owned());
    drop(ctx);
    forget_pruned(state.as_mut(), &pruned)
}

/// Drop what is left of pruned documents in the job's state (rows of tasks this run
/// did not run, answers citing them) and compact it, so none of their bytes stay.
fn forget_pruned(state: Option<&mut State>, pruned: &HashSet<String>) -> Result<()> {
    match state {
        Some(state) if !pruned.is_empty() => {
            crate::forget::forget_in_state(state, pruned)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn take_lock(job: &Job, reporter: &dyn Reporter) -> Result<RunLock> {
    let lock = RunLock::acquire(&job.spec.index.dir.join("run.lock"), &job.name)?;
    if let Some(h) = &lock.taken_over {
        reporter.notice(&format!(
            "taking over after run of job {} (pid {}, started {}) that did not finish",
            h.job, h.pid, h.started
        ));
    }
    Ok(lock)
}

/// The job's state (none in a dry run of a job that never ran), checked to be made for
/// the same shard.
fn open_state(job: &Job, options: &RunOptions) -> Result<Option<State>> {
    let dir = job.state_dir();
    if options.dry_run && !dir.join("state.redb").exists() {
        return Ok(None);
    }
    let state = State::open(&dir)?;
    let wanted = options.shard.map_or("all".to_owned(), |s| s.to_string());
    match state.meta("shard")? {
        Some(had) if had != wanted => Err(Error::Usage(format!(
            "the job's state in {} was made for shard {had}, not {wanted}: give each shard its own index dir",
            dir.display()
        ))),
        None if !options.dry_run => {
            state.set_meta("shard", &wanted)?;
            Ok(Some(state))
        }
        _ => Ok(Some(state)),
    }
}

/// What the index stage hands on to the tasks.
struct Synced {
    index: Option<docket_index::Index>,
    planned: Vec<(String, String)>,
    embedder: Option<Arc<dyn Embedder>>,
    /// Documents the sync deleted (pruned), whose rows leave the job's state.
    deleted: Vec<String>,
}

/// Instead of the index stage, for a run of some tasks only: the index as it is.
fn open_stage(job: &Job, names: &[String], options: &RunOptions, env: &RunEnv) -> Result<Synced> {
    for name in names {
        if !job
            .tasks
            .iter()
            .any(|t| t.name() == name || t.kind().as_str() == name)
        {
            let known: Vec<&str> = job.tasks.iter().map(|t| t.name()).collect();
            return Err(Error::Usage(format!(
                "--tasks {name}: the job has no task of that name or kind (its tasks: {})",
                known.join(", ")
            )));
        }
    }
    let spec = &job.spec;
    let dir = &spec.index.dir;
    env.reporter.info(&format!(
        "run {}: tasks {} only, on the index {} as it is (not synced)",
        job.name,
        names.join(", "),
        dir.display()
    ));
    if docket_index::Manifest::load(dir)?.is_none() {
        if options.dry_run {
            return Ok(Synced {
                deleted: Vec::new(),
                index: None,
                planned: Vec::new(),
                embedder: None,
            });
        }
        return Err(Error::Usage(format!(
            "--tasks: there is no index at {} yet; run the job (or its workers) first",
            dir.display()
        )));
    }
    let embedder = if spec.index.embed {
        Some(crate::models::load_embedder(
            spec.index.chunking.embed_model.as_deref(),
            env.reporter.as_ref(),
        )?)
    } else {
        None
    };
    let index = docket_index::Index::open(dir, embedder.clone())?;
    Ok(Synced {
        deleted: Vec::new(),
        index: Some(index),
        planned: Vec::new(),
        embedder,
    })
}

/// The index stage: sync the index with the sources, leaving quarantined files unread,
/// and count the files that failed against the quarantine.
fn sync_stage(
    job: &Job,
    options: &RunOptions,
    env: &RunEnv,
    state: Option<&State>,
    report: &mut RunReport,
) -> Result<Synced> {
    let reporter = env.reporter.as_ref();
    let max_attempts = job.spec.max_attempts;
    // Files a run that died was reading count that as a failed attempt.
    let crashed = match state {
        Some(s) if !options.dry_run => s.take_crashed(INDEX_STAGE, max_attempts)?,
        _ => Vec::new(),
    };
    let all_failures = match state {
        Some(s) => s.failures(INDEX_STAGE)?,
        None => HashMap::new(),
    };
    let index_failures = if options.force {
        HashMap::new()
    } else {
        all_failures.clone()
    };
    // The quarantined files left unread this run (a changed one is read again).
    let unread = std::cell::RefCell::new(HashSet::new());
    let skip = |file: &docket_ingest::SourceFile| {
        let quarantined = index_failures
            .get(&file.source)
            .is_some_and(|f| f.quarantined && f.fingerprint == file_fingerprint(&file.path));
        if quarantined {
            unread.borrow_mut().insert(file.source.clone());
        }
        quarantined
    };
    // A file suspected of killing a run is read alone, so that a second death is its own.
    let alone = |file: &docket_ingest::SourceFile| {
        all_failures
            .get(&file.source)
            .is_some_and(|f| f.crashes > 0 && f.fingerprint == file_fingerprint(&file.path))
    };
    let record = |files: &[docket_ingest::SourceFile]| {
        let Some(state) = state else { return Ok(()) };
        let marks: Vec<state::Mark> = files
            .iter()
            .map(|f| state::Mark {
                key: f.source.clone(),
                doc_id: docket_ingest::document::document_id(&f.source),
                fingerprint: file_fingerprint(&f.path),
            })
            .collect();
        state.mark(INDEX_STAGE, &marks).map_err(|e| e.to_string())
    };
    let marks = (state.is_some() && !options.dry_run).then_some(Marks {
        record: &record,
        alone: &alone,
        batch: MARK_BATCH,
    });
    let spec = &job.spec;
    let embedder = if spec.index.embed && !options.dry_run {
        let e = crate::models::load_embedder(spec.index.chunking.embed_model.as_deref(), reporter)?;
        report.models.embedder = Some(e.model_id().to_owned());
        Some(e)
    } else {
        None
    };
    reporter.info(&format!(
        "run {}: syncing the index {}",
        job.name,
        spec.index.dir.display()
    ));
    let request = SyncRequest {
        dry_run: options.dry_run,
        shard: options.shard,
        embedder: embedder.clone(),
        skip: Some(&skip),
        stop: Some(env.stop.as_ref()),
        marks,
        open_job: Some(&job.name),
    };
    let synced = sync_index(&spec.sources, &spec.index, request, reporter)?;
    reporter.info(&summary_line(&spec.index.dir, options.dry_run, &synced));
    let ix = &mut report.index;
    ix.counts = synced.counts.clone();
    for (source, f) in &crashed {
        if f.quarantined {
            reporter.error(&format!(
                "quarantined after {} failed attempts: {source} ({})",
                f.attempts, f.reason
            ));
            ix.counts.failed += 1;
            ix.failures.push(SyncFailure {
                source: source.clone(),
                path: None,
                doc_id: f.doc_id.clone(),
                reason: format!("{source}: {}; quarantined", f.reason),
            });
        } else {
            reporter.warn(&format!(
                "{source} was being read when a run died (attempt {} of {max_attempts}); read alone this run",
                f.attempts
            ));
        }
    }
    ix.chunks_embedded = synced.stats.chunks_embedded;
    ix.chunks_written = synced.stats.chunks_written;
    ix.redacted = synced.redacted.clone();
    ix.quarantined = synced.skipped;
    ix.failures.extend(synced.failures.iter().cloned());
    ix.seconds = (synced.seconds * 1000.0).round() / 1000.0;
    if let Some(index) = &synced.index {
        ix.flagged = index.flagged_chunks(docket_index::Index::STATUS_FLAGGED)?;
        if !ix.flagged.is_empty() {
            reporter.warn(&format!(
                "{} chunks give instructions to an assistant and are left out of answers and summaries (allow_flagged keeps them); the report lists them",
                ix.flagged.len()
            ));
        }
    }
    if let Some(state) = state
        && !options.dry_run
    {
        let unread = unread.take();
        let before = (&index_failures, &unread, synced.interrupted);
        record_index_failures(job, state, &synced.failures, before, reporter)?;
    }
    Ok(Synced {
        index: synced.index,
        planned: synced.planned,
        embedder,
        deleted: synced.deleted,
    })
}

/// Files per note of the files being read (see [`Marks`]): one small commit to the
/// job's state per this many files parsed, against the work of parsing, chunking and
/// embedding them.
const MARK_BATCH: usize = 32;

/// A file's identity for quarantine: size and modification time (reading and hashing a
/// file only to decide not to read it would defeat the purpose).
fn file_fingerprint(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        }
        Err(_) => "missing".into(),
    }
}

/// The index stage's failures before the run, the quarantined files it did not read,
/// and whether it was stopped.
type Before<'a> = (
    &'a HashMap<String, state::Failed>,
    &'a HashSet<String>,
    bool,
);

/// Count the index stage's failures against their files (quarantining the ones that
/// keep failing) and forget the files that no longer fail.
fn record_index_failures(
    job: &Job,
    state: &State,
    failures: &[SyncFailure],
    before: Before<'_>,
    reporter: &dyn Reporter,
) -> Result<()> {
    let (before, unread, interrupted) = before;
    let mut keep = HashSet::new();
    let mut failed = Vec::new();
    for f in failures {
        let Some(path) = &f.path else { continue };
        if !keep.insert(f.source.clone()) {
            continue;
        }
        failed.push(state::NewFailure {
            key: f.source.clone(),
            doc_id: f.doc_id.clone(),
            fingerprint: file_fingerprint(path),
            reason: f.reason.clone(),
        });
    }
    // Quarantined files not read this run stay quarantined (a changed one was read, and
    // failed again or not), and a file suspected of a crash keeps its count if the run
    // stopped before reading it.
    for (source, f) in before {
        if (f.quarantined && unread.contains(source)) || (interrupted && f.crashes > 0) {
            keep.insert(source.clone());
        }
    }
    for f in state.record(INDEX_STAGE, Vec::new(), failed, job.spec.max_attempts)? {
        if f.quarantined {
            reporter.warn(&format!(
                "quarantined after {} failed attempts: {} ({})",
                f.attempts, f.doc_id, f.reason
            ));
        }
    }
    state.retain(INDEX_STAGE, &keep)?;
    Ok(())
}

/// Check that what a job reads exists (sources, task inputs, the LLM file): a missing
/// input is the job file's problem, found before any work.
pub fn check_inputs(job: &Job) -> Result<()> {
    let mut problems = Vec::new();
    for p in &job.spec.sources.paths {
        if !p.exists() {
            problems.push(format!("source {} does not exist", p.display()));
        }
    }
    for t in &job.tasks {
        for input in t.inputs() {
            if !input.is_file() {
                problems.push(format!(
                    "task {}: {} does not exist",
                    t.name(),
                    input.display()
                ));
            }
        }
    }
    if let Some(m) = &job.spec.llm.model
        && !m.is_file()
    {
        problems.push(format!("[llm] model {} does not exist", m.display()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::JobFile {
            path: job.file.clone(),
            reason: problems.join("; "),
        })
    }
}

/// A failing or quarantined key of a job, as `docket report` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FailureRow {
    pub task: String,
    pub key: String,
    pub doc_id: String,
    /// "failing" or "quarantined".
    pub state: &'static str,
    pub attempts: u32,
    pub reason: String,
    pub at: u64,
}

/// Every failing and quarantined key of the job's index stage and tasks, in task order
/// and then key order.
pub fn failures(job: &Job) -> Result<Vec<FailureRow>> {
    let dir = job.state_dir();
    if !dir.join("state.redb").exists() {
        return Ok(Vec::new());
    }
    let state = State::open(&dir).context(|| {
        format!(
            "cannot read the job state in {} (is a run in progress?)",
            dir.display()
        )
    })?;
    let mut names = vec![INDEX_STAGE.to_owned()];
    names.extend(job.tasks.iter().map(|t| t.name().to_owned()));
    let mut rows = Vec::new();
    for task in names {
        let mut failures: Vec<(String, state::Failed)> =
            state.failures(&task)?.into_iter().collect();
        failures.sort_by(|a, b| a.0.cmp(&b.0));
        rows.extend(failures.into_iter().map(|(key, f)| FailureRow {
            task: task.clone(),
            key,
            doc_id: f.doc_id,
            state: if f.quarantined {
                "quarantined"
            } else {
                "failing"
            },
            attempts: f.attempts,
            reason: f.reason,
            at: f.at,
        }));
    }
    Ok(rows)
}

/// The report of the job's last run, as written (None before the first run).
pub fn last_report(job: &Job) -> Option<serde_json::Value> {
    std::fs::read(job.report_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}
