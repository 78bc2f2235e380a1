//! `docket run`, `validate`, `report` and `schedule`: job files, run by the job engine
//! of docket-pipelines. This module adds only what a process needs: the signal handler
//! that sets the engine's stop flag, and printing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Result;
use clap::Args;
use docket_index::shard::Shard;
use docket_pipelines::job::{self, Job, RunEnv, RunOptions, Status};

use super::outcome::Outcome;
use super::term::{LogFormat, Term};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Redo every task on every document (after a model or prompt change), quarantined
    /// ones included.
    #[arg(long)]
    pub force: bool,
    /// Process only the documents of shard I of N (0 <= I < N), by document id.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Run only these tasks (names or kinds, comma-separated) on the index as it is,
    /// without syncing it: a sharded job's answer step once every worker is done.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub tasks: Option<Vec<String>>,
    /// Also write the run report (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Log lines on stderr as text or JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (TOML).
    pub job: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Cron expression (`min hour day month weekday`, local time); default: the job
    /// file's `schedule`.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Process only shard I of N on every run.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The engine's environment, with SIGINT/SIGTERM wired to its stop flag. First signal:
/// stop between documents. Second: exit at once (the state stays consistent: every write
/// is a committed transaction or an atomic rename).
fn env_with_signals(term: Term) -> RunEnv {
    let env = RunEnv::new(Arc::new(term));
    let stop = env.stop.clone();
    let _ = ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(Outcome::Interrupted.code()));
        }
        term.line(
            docket_pipelines::report::Level::Info,
            "signal received: stopping after the current document (again to exit now)",
        );
    });
    env
}

pub fn run(args: RunArgs, term: Term) -> Result<Outcome> {
    let job = Job::load(&args.job)?;
    job::check_inputs(&job)?;
    super::apply_job_memory(job.spec.max_memory_mib);
    let env = env_with_signals(term);
    let options = RunOptions {
        dry_run: args.dry_run,
        force: args.force,
        shard: args.shard,
        report: args.report,
        tasks: args.tasks,
    };
    let report = job::run(&job, &options, &env)?;
    match report.status {
        Status::Success => Ok(Outcome::Success),
        Status::Partial => Ok(Outcome::Partial),
        Status::Interrupted => Ok(Outcome::Interrupted),
        // `job::run` returns a failed run's error, not its report; never a success.
        Status::Failed => Err(anyhow::anyhow!(
            "run failed: {}",
            report.error.unwrap_or_default()
        )),
    }
}

pub fn schedule(args: ScheduleArgs, term: Term) -> Result<Outcome> {
    // The ceiling is set once, from the job file as it is when the schedule starts.
    super::apply_job_memory(Job::load(&args.job)?.spec.max_memory_mib);
    let env = env_with_signals(term);
    let options = RunOptions {
        shard: args.shard,
        ..RunOptions::default()
    };
    job::schedule::schedule(&args.job, args.cron.as_deref(), &options, &env)?;
    Ok(Outcome::Success)
}

/// `docket validate`: everything `run` checks before it starts, without running.
pub fn validate(args: ValidateArgs) -> Result<Outcome> {
    let job = Job::load(&args.job)?;
    job::check_inputs(&job)?;
    let mut out = std::io::stdout().lock();
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
pub fn report(args: ReportArgs) -> Result<Outcome> {
    let job = Job::load(&args.job)?;
    let rows = job::failures(&job)?;
    let last = job::last_report(&job);
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({"job": job.name, "failures": rows, "last_run": last});
        writeln!(out, "{value}")?;
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
            r.state, r.task, r.key, r.attempts, r.reason
        )?;
    }
    Ok(Outcome::Success)
}
