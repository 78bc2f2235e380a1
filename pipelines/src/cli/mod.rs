//! The command line: the subcommands and their dispatch. Each command lives in its own
//! module with its flags and its printing; the modules share only the flag groups
//! ([`flags`]), the terminal reporter ([`term`]) and the outcome types ([`outcome`]),
//! and never call each other.

mod ask;
mod classify;
mod eval;
mod explain;
pub mod flags;
mod forget;
mod index;
mod ingest;
mod jobs;
mod models;
pub mod outcome;
mod search;
mod serve;
mod summarize;
pub mod term;

use anyhow::Result;
use clap::{Parser, Subcommand};

use outcome::Outcome;
use term::LogFormat;

/// docket: labels, summaries and cited answers for piles of documents.
#[derive(Debug, Parser)]
#[command(name = "docket", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Heap ceiling of the process, in MiB (0: none). A document whose parse holds more
    /// than a quarter of it fails as too large; past the ceiling itself the process
    /// stops. Default: the job's max_memory_mib, else 3072.
    #[arg(long, global = true, value_name = "MIB", env = "DOCKET_MAX_MEMORY")]
    max_memory: Option<u64>,
}

/// Whether `--max-memory` (or its variable) was given: then a job's `max_memory_mib`
/// does not apply.
static MEMORY_GIVEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A job's `max_memory_mib`, unless the command line set the ceiling.
pub(crate) fn apply_job_memory(job_mib: Option<u64>) {
    if let Some(mib) = job_mib
        && !MEMORY_GIVEN.load(std::sync::atomic::Ordering::SeqCst)
    {
        docket_pipelines::settings::apply_max_memory_mib(mib);
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the text docket extracts from one document, page by page (form feed
    /// between pages).
    Extract(ingest::ExtractArgs),
    /// Parse and chunk documents under the given paths and print the chunks.
    Ingest(ingest::IngestArgs),
    /// Ingest documents and index them for search, incrementally: only new or changed
    /// documents are embedded.
    Index(index::IndexArgs),
    /// Search an index.
    Search(search::SearchArgs),
    /// Answer a question from an index, citing file, page and the supporting span of
    /// every sentence, or say that the documents do not hold the answer.
    Ask(ask::AskArgs),
    /// Label every document: zero-shot (--labels), trained on examples (--examples) or
    /// with a saved classifier (--model). One row per document, streamed.
    Classify(classify::ClassifyArgs),
    /// Summaries of whole documents: extractive (central sentences, no repeats, in
    /// document order, with byte offsets) or written by the LLM (--abstractive, every
    /// sentence checked against the document).
    Summarize(summarize::SummarizeArgs),
    /// Show what produced an output row (a label, summary, answer or search hit): the
    /// chunks with their scores from each retrieval leg and fused, the verifier's
    /// support for each answer sentence, the classifier's label scores.
    Explain(explain::ExplainArgs),
    /// Show what an index holds: documents, chunks, model, store, size.
    Status(search::StatusArgs),
    /// Remove every trace of documents from an index: both stores, the catalog, job
    /// states, cached summaries and explain records, files rewritten so that none of
    /// their text is left.
    Forget(forget::ForgetArgs),
    /// Run a job file: sync its index, then run its tasks on what is new or changed.
    Run(jobs::RunArgs),
    /// Check a job file without running it.
    Validate(jobs::ValidateArgs),
    /// Show a job's failing and quarantined documents and its last run.
    Report(jobs::ReportArgs),
    /// Keep running and start a job on a cron schedule (never overlapping runs).
    Schedule(jobs::ScheduleArgs),
    /// Measure quality on labelled data.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Provision or list the default models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Serve an index over HTTP: a JSON API (/v1, described at /v1/openapi.json) and a
    /// web page to search, ask with citations, and browse documents.
    Serve(serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(serve::CompletionsArgs),
    /// Print the man page, or write one per command with --out-dir.
    Man(serve::ManArgs),
}

impl Cli {
    /// How log lines look (`--log-format`, for the commands that have it).
    pub fn log_format(&self) -> LogFormat {
        match &self.command {
            Command::Run(a) => a.log_format,
            Command::Schedule(a) => a.log_format,
            Command::Serve(a) => a.log_format,
            _ => LogFormat::Text,
        }
    }

    pub fn run(self) -> Result<Outcome> {
        let term = term::Term::new(self.log_format());
        MEMORY_GIVEN.store(
            self.max_memory.is_some(),
            std::sync::atomic::Ordering::SeqCst,
        );
        docket_pipelines::settings::apply_max_memory_mib(
            self.max_memory
                .unwrap_or_else(docket_pipelines::settings::default_max_memory_mib),
        );
        match self.command {
            Command::Extract(args) => ingest::extract(args, term),
            Command::Ingest(args) => ingest::ingest(args, term),
            Command::Index(args) => index::index(args, term),
            Command::Search(args) => search::search(args, term),
            Command::Status(args) => search::status(args),
            Command::Explain(args) => explain::explain(args),
            Command::Forget(args) => forget::forget(args),
            Command::Run(args) => jobs::run(args, term),
            Command::Validate(args) => jobs::validate(args),
            Command::Report(args) => jobs::report(args),
            Command::Schedule(args) => jobs::schedule(args, term),
            Command::Ask(args) => ask::ask(args, term),
            Command::Classify(args) => classify::classify(args, term),
            Command::Summarize(args) => summarize::summarize(args, term),
            Command::Eval(command) => eval::eval(command, term),
            Command::Models(command) => models::models(command, term),
            Command::Serve(args) => serve::serve(args, term),
            Command::Completions(args) => serve::completions(args),
            Command::Man(args) => serve::man(args),
        }
    }
}
