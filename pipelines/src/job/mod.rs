//! Declarative batch jobs: `docket run`, `docket validate`, `docket report` and
//! `docket schedule`.
//!
//! A run takes the index lock, brings the index up to date with the sources (exactly
//! as `docket index`), then runs each task on the documents that are new or changed
//! since the task last succeeded on them. Results go to the job's state database first
//! ([`state`]) and the outputs are rewritten from it atomically, so a run killed at any
//! moment is finished by the next one without a duplicated or lost row.

pub mod lock;
pub mod schedule;
pub mod shard;
pub mod spec;
pub mod state;
mod tasks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{
    ChunkArgs, EmbedModelArgs, IndexArgs, IndexDirArgs, LlmArgs, ParseArgs, StoreArgs, WalkArgs,
};
use crate::index_cmd::{Counts, SyncFailure, SyncHooks};
use crate::{Outcome, log};
use lock::RunLock;
use shard::Shard;
use spec::Job;
use state::{INDEX_STAGE, State};

/// Set by SIGINT/SIGTERM: runs stop between documents.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// First signal: stop between documents. Second: exit at once (state stays consistent:
/// every write is a committed transaction or an atomic rename).
pub fn install_signal_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(crate::EXIT_INTERRUPTED));
        }
        log("signal received: stopping after the current document (again to exit now)");
    });
}

/// How `docket run` runs a job.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub force: bool,
    pub shard: Option<Shard>,
    /// Also write the report here.
    pub report: Option<PathBuf>,
}

/// The report of one run, written as JSON beside the outputs.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub job: String,
    pub job_file: PathBuf,
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    /// success, partial (some documents failed), interrupted, or failed.
    pub status: &'static str,
    pub exit_code: u8,
    pub dry_run: bool,
    pub force: bool,
    pub shard: Option<String>,
    pub index: IndexReport,
    pub tasks: Vec<TaskReport>,
    pub models: Models,
    /// A fatal error, if the run ended on one.
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct IndexReport {
    pub dir: PathBuf,
    #[serde(flatten)]
    pub counts: Counts,
    pub chunks_embedded: usize,
    pub chunks_written: usize,
    /// Files not read because their failures reached the limit.
    pub quarantined: usize,
    pub failures: Vec<SyncFailure>,
    pub seconds: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Models {
    pub embedder: Option<String>,
    pub llm: Option<String>,
}

/// What one task did.
#[derive(Debug, Default, Serialize)]
pub struct TaskReport {
    pub name: String,
    pub kind: &'static str,
    pub output: PathBuf,
    /// Documents (or questions) in the task's scope.
    pub total: usize,
    /// Done by this run (in a dry run: would be done).
    pub done: usize,
    /// Skipped: already done on the same content with the same settings.
    pub unchanged: usize,
    pub failed: usize,
    /// Not tried: failed too often on this content (see `docket report`).
    pub quarantined: usize,
    /// Results dropped because their document left the index or the task's filter.
    pub removed: usize,
    pub failures: Vec<TaskFailure>,
    pub seconds: f64,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskFailure {
    pub key: String,
    pub doc_id: String,
    pub attempts: u32,
    pub quarantined: bool,
    pub reason: String,
}

/// Load a job file; errors are [`spec::JobFileError`]s (exit code 78).
pub fn load(file: &Path) -> Result<Job> {
    Ok(Job::load(file)?)
}

/// Where a job keeps its state: beside the index it writes.
pub fn state_dir(job: &Job) -> PathBuf {
    job.spec.index.dir.join("jobs").join(&job.name)
}

/// The `docket index` flags a job's sources and index settings amount to.
fn index_args(job: &Job, dry_run: bool) -> IndexArgs {
    let s = &job.spec.sources;
    let i = &job.spec.index;
    IndexArgs {
        paths: s.paths.clone(),
        index: IndexDirArgs { dir: i.dir.clone() },
        prune: s.prune,
        dry_run,
        json: false,
        commit_every: i.commit_every.max(1),
        no_embed: !i.embed,
        store: StoreArgs {
            qdrant_url: i.qdrant_url.clone(),
            qdrant_collection: i.qdrant_collection.clone(),
            qdrant_shards: i.qdrant_shards,
            qdrant_replicas: i.qdrant_replicas,
            qdrant_api_key_env: i.qdrant_api_key_env.clone(),
        },
        walk: WalkArgs {
            include: s.include.clone(),
            exclude: s.exclude.clone(),
            hidden: s.hidden,
            no_ignore: s.no_ignore,
        },
        parse: ParseArgs {
            pdf_password: s
                .pdf_password_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok()),
            max_file_mib: s.max_file_mib,
            parse_timeout: s.parse_timeout_secs,
            text_columns: s.text_columns.clone(),
            id_column: s.id_column.clone(),
            title_column: s.title_column.clone(),
            records_html: s.records_html,
        },
        chunking: ChunkArgs {
            chunk_tokens: i.chunk_tokens,
            chunk_overlap: i.chunk_overlap,
            embed: EmbedModelArgs {
                embed_model: i.embed_model.clone(),
            },
        },
    }
}

/// The LLM flags a job's `[llm]` table amounts to.
pub fn llm_args(job: &Job) -> LlmArgs {
    let l = &job.spec.llm;
    LlmArgs {
        llm_model: l.model.clone(),
        llm_url: l.url.clone(),
        llm_name: l.name.clone(),
        llm_api_key_env: l.api_key_env.clone(),
        max_tokens: l.max_tokens,
    }
}

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

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Run a job, write its report and log a summary; the outcome maps to the exit code.
pub fn run_and_report(job: &Job, options: &RunOptions) -> Result<Outcome> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    let mut report = RunReport {
        job: job.name.clone(),
        job_file: job.file.clone(),
        started: started_at,
        finished: String::new(),
        seconds: 0.0,
        status: "success",
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
    let result = run(job, options, &mut report);
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    report.finished = now_rfc3339();
    let outcome = match &result {
        Err(e) => {
            report.status = "failed";
            report.error = Some(format!("{e:#}"));
            None
        }
        Ok(()) if STOP.load(Ordering::SeqCst) => {
            report.status = "interrupted";
            Some(Outcome::Interrupted)
        }
        Ok(()) => {
            let failed =
                report.index.counts.failed + report.tasks.iter().map(|t| t.failed).sum::<usize>();
            if failed > 0 {
                report.status = "partial";
                Some(Outcome::Partial)
            } else {
                Some(Outcome::Success)
            }
        }
    };
    report.exit_code = match outcome {
        Some(o) => o.code(),
        None => crate::EXIT_FATAL,
    };
    // A run that never got the lock or the job's state writes no report: the report
    // of the run that holds them is the one that counts.
    let locked_out = result
        .as_ref()
        .err()
        .is_some_and(|e| e.downcast_ref::<lock::LockHeld>().is_some());
    if !options.dry_run && !locked_out {
        let json = serde_json::to_vec_pretty(&report)?;
        let mut paths = vec![job.report_path()];
        paths.extend(options.report.clone());
        for path in paths {
            tasks::write_atomic(&path, |w| Ok(w.write_all(&json)?))
                .with_context(|| format!("cannot write the report {}", path.display()))?;
        }
    }
    let summary = summary_line(&report);
    log(&summary);
    match result {
        Err(e) => Err(e),
        Ok(()) => Ok(outcome.unwrap_or(Outcome::Success)),
    }
}

fn summary_line(report: &RunReport) -> String {
    let ix = &report.index;
    let mut line = format!(
        "{} {}{}: index +{} ~{} -{} ={} ({} failed, {} chunks embedded)",
        if report.dry_run { "dry run" } else { "run" },
        report.job,
        report
            .shard
            .as_ref()
            .map_or(String::new(), |s| format!(" [shard {s}]")),
        ix.counts.added,
        ix.counts.updated,
        ix.counts.deleted,
        ix.counts.kept,
        ix.counts.failed,
        ix.chunks_embedded
    );
    for t in &report.tasks {
        line.push_str(&format!(
            "; {} {}: {} done, {} unchanged, {} failed, {} quarantined",
            t.kind, t.name, t.done, t.unchanged, t.failed, t.quarantined
        ));
    }
    let nothing = !report.dry_run
        && ix.counts.added + ix.counts.updated + ix.counts.deleted == 0
        && ix.chunks_embedded == 0
        && report.tasks.iter().all(|t| t.done == 0 && t.removed == 0);
    if nothing && report.error.is_none() {
        line.push_str("; nothing changed: no embedding, no generation");
    }
    line.push_str(&format!("; {} in {:.1}s", report.status, report.seconds));
    line
}

fn run(job: &Job, options: &RunOptions, report: &mut RunReport) -> Result<()> {
    let index_dir = &job.spec.index.dir;
    let state_dir = state_dir(job);
    // A dry run reads; it takes no lock and creates nothing.
    let _lock = if options.dry_run {
        None
    } else {
        let lock = RunLock::acquire(&index_dir.join("run.lock"), &job.name)?;
        if let Some(h) = &lock.taken_over {
            log(&format!(
                "notice: taking over after run of job {} (pid {}, started {}) that did not finish",
                h.job, h.pid, h.started
            ));
        }
        Some(lock)
    };
    let state = if options.dry_run && !state_dir.join("state.redb").exists() {
        None
    } else {
        Some(State::open(&state_dir)?)
    };
    if let Some(state) = &state {
        let wanted = options.shard.map_or("all".to_owned(), |s| s.to_string());
        match state.meta("shard")? {
            Some(had) if had != wanted => {
                return Err(crate::UsageError(format!(
                    "the job's state in {} was made for shard {had}, not {wanted}: give each shard its own index dir",
                    state_dir.display()
                ))
                .into());
            }
            Some(_) => {}
            None if !options.dry_run => state.set_meta("shard", &wanted)?,
            None => {}
        }
    }

    // The index stage.
    let args = index_args(job, options.dry_run);
    let index_failures = match &state {
        Some(s) if !options.force => s.failures(INDEX_STAGE)?,
        _ => Default::default(),
    };
    let skip = |file: &docket_ingest::SourceFile| {
        index_failures
            .get(&file.source)
            .is_some_and(|f| f.quarantined && f.fingerprint == file_fingerprint(&file.path))
    };
    let embedder = if job.spec.index.embed && !options.dry_run {
        let e = crate::models::load_embedder(job.spec.index.embed_model.as_deref())?;
        report.models.embedder = Some(e.model_id().to_owned());
        Some(e)
    } else {
        None
    };
    log(&format!(
        "run {}: syncing the index {}",
        job.name,
        index_dir.display()
    ));
    let synced = crate::index_cmd::sync(
        &args,
        SyncHooks {
            shard: options.shard,
            stop: Some(&STOP),
            embedder: embedder.clone(),
            skip: Some(&skip),
        },
    )?;
    log(&crate::index_cmd::summary_line(index_dir, &args, &synced));
    report.index.counts = synced.counts.clone();
    report.index.chunks_embedded = synced.stats.chunks_embedded;
    report.index.chunks_written = synced.stats.chunks_written;
    report.index.quarantined = synced.skipped;
    report.index.failures = synced.failures.clone();
    report.index.seconds = (synced.seconds * 1000.0).round() / 1000.0;
    if let Some(state) = &state
        && !options.dry_run
    {
        record_index_failures(job, state, &synced.failures, &index_failures)?;
    }
    if STOP.load(Ordering::SeqCst) {
        return Ok(());
    }

    let ctx = tasks::Context {
        job,
        options,
        state: state.as_ref(),
        index: synced.index,
        planned: synced.planned,
        embedder: embedder.map(std::cell::OnceCell::from).unwrap_or_default(),
    };
    let mut llm = crate::models::LazyLlm::new(llm_args(job), false);
    for task in &job.tasks {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let task_report = tasks::run_task(&ctx, task, &mut llm)?;
        report.tasks.push(task_report);
    }
    report.models.llm = llm.model_id();
    // The embedder a task loaded (a BM25-only index's classifiers) counts too.
    report.models.embedder = ctx.embedder.get().map(|e| e.model_id().to_owned());
    Ok(())
}

/// Count the index stage's failures against their files (quarantining the ones that
/// keep failing) and forget the files that no longer fail.
fn record_index_failures(
    job: &Job,
    state: &State,
    failures: &[SyncFailure],
    before: &std::collections::HashMap<String, state::Failed>,
) -> Result<()> {
    let mut keep = std::collections::HashSet::new();
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
    // Quarantined files were not read this run: they stay quarantined.
    for (source, f) in before {
        if f.quarantined && !keep.contains(source) {
            keep.insert(source.clone());
        }
    }
    for f in state.record(INDEX_STAGE, Vec::new(), failed, job.spec.max_attempts)? {
        if f.quarantined {
            log(&format!(
                "warning: quarantined after {} failed attempts: {} ({})",
                f.attempts, f.doc_id, f.reason
            ));
        }
    }
    state.retain(INDEX_STAGE, &keep)?;
    Ok(())
}

/// `docket run`.
pub fn run_command(file: &Path, options: &RunOptions) -> Result<Outcome> {
    let job = load(file)?;
    // A missing input is the job file's problem (exit 78), found before any work.
    missing_inputs(&job)?;
    install_signal_handler();
    run_and_report(&job, options)
}

/// What is missing for a job to run: sources, task inputs, the LLM file.
fn missing_inputs(job: &Job) -> Result<(), spec::JobFileError> {
    let mut problems = Vec::new();
    for p in &job.spec.sources.paths {
        if !p.exists() {
            problems.push(format!("source {} does not exist", p.display()));
        }
    }
    for t in &job.tasks {
        for input in tasks::inputs(t) {
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
        Err(spec::JobFileError {
            path: job.file.clone(),
            reason: problems.join("; "),
        })
    }
}

/// `docket validate`: everything `run` checks before it starts, without running.
pub fn validate(file: &Path) -> Result<Outcome> {
    let job = load(file)?;
    missing_inputs(&job)?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(
        out,
        "{}: job {} is valid: {} source path(s), index {}, {} task(s){}",
        job.file.display(),
        job.name,
        job.spec.sources.paths.len(),
        job.spec.index.dir.display(),
        job.tasks.len(),
        job.spec
            .schedule
            .as_ref()
            .map_or(String::new(), |s| format!(", schedule {s:?}"))
    )?;
    for t in &job.tasks {
        writeln!(
            out,
            "  {} {} -> {}",
            t.kind().as_str(),
            t.name(),
            t.output().display()
        )?;
    }
    Ok(Outcome::Success)
}

/// `docket report`: the failing and quarantined documents of every task, and the last
/// run's summary.
pub fn report_command(file: &Path, json: bool) -> Result<Outcome> {
    use std::io::Write;
    let job = load(file)?;
    let dir = state_dir(&job);
    let mut rows = Vec::new();
    if dir.join("state.redb").exists() {
        let state = State::open(&dir).with_context(|| {
            format!(
                "cannot read the job state in {} (is a run in progress?)",
                dir.display()
            )
        })?;
        let mut names = vec![INDEX_STAGE.to_owned()];
        names.extend(job.tasks.iter().map(|t| t.name().to_owned()));
        for task in names {
            let mut failures: Vec<(String, state::Failed)> =
                state.failures(&task)?.into_iter().collect();
            failures.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, f) in failures {
                rows.push(serde_json::json!({
                    "task": task,
                    "key": key,
                    "doc_id": f.doc_id,
                    "state": if f.quarantined { "quarantined" } else { "failing" },
                    "attempts": f.attempts,
                    "reason": f.reason,
                    "at": f.at,
                }));
            }
        }
    }
    let last: Option<serde_json::Value> = std::fs::read(job.report_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"job": job.name, "failures": rows, "last_run": last}),
        )?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    match &last {
        Some(r) => writeln!(
            out,
            "last run of {}: {} at {} ({}s), report {}",
            job.name,
            r["status"].as_str().unwrap_or("?"),
            r["finished"].as_str().unwrap_or("?"),
            r["seconds"],
            job.report_path().display()
        )?,
        None => writeln!(out, "job {} has no run report yet", job.name)?,
    }
    if rows.is_empty() {
        writeln!(out, "no failing or quarantined documents")?;
    }
    for r in &rows {
        writeln!(
            out,
            "{:<11} {:<12} {} (attempts {}): {}",
            r["state"].as_str().unwrap_or(""),
            r["task"].as_str().unwrap_or(""),
            r["key"].as_str().unwrap_or(""),
            r["attempts"],
            r["reason"].as_str().unwrap_or("")
        )?;
    }
    Ok(Outcome::Success)
}
