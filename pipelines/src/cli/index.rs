//! `docket index`: ingest documents and bring an index up to date with them (the
//! incremental, crash-safe sync of docket-index, driven by docket-pipelines).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use docket_index::WriteConfig;
use docket_pipelines::report::ReporterExt;
use docket_pipelines::settings::IndexSpec;
use docket_pipelines::sync::{SyncRequest, SyncSummary, summary_line, sync_index};

use super::flags::{ChunkArgs, IndexDirArgs, ParseArgs, StoreArgs, WalkArgs, sources};
use super::outcome::Outcome;
use super::term::Term;

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Files and folders to index (folders recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Delete from the index the documents whose files are no longer under the paths.
    #[arg(long)]
    pub prune: bool,
    /// Print what would be added, updated, deleted and kept, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a one-line JSON summary at the end (with --dry-run: one JSON line per
    /// document).
    #[arg(long)]
    pub json: bool,
    /// Commit both stores after every N chunks written: a killed run redoes at most the
    /// chunks since the last commit.
    #[arg(long, value_name = "N", default_value_t = WriteConfig::default_commit_chunks())]
    pub commit_every: usize,
    /// Build a BM25-only index, without embeddings (no model needed; no dense or
    /// hybrid search).
    #[arg(long)]
    pub no_embed: bool,
    /// Analyse each chunk for BM25 in its document's detected language, and questions in
    /// every language the index holds (`true`/`false`; unset keeps the index's choice,
    /// off for a new index).
    #[arg(long, value_name = "BOOL")]
    pub bm25_per_language: Option<bool>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
}

impl IndexArgs {
    fn spec(&self) -> IndexSpec {
        IndexSpec {
            dir: self.index.dir.clone(),
            embed: !self.no_embed,
            chunking: self.chunking.settings(),
            commit_every: self.commit_every,
            store: self.store.settings(),
            bm25_per_language: self.bm25_per_language,
        }
    }
}

pub fn index(args: IndexArgs, mut term: Term) -> Result<Outcome> {
    term.plan_json = args.json;
    let sources = sources(&args.paths, &args.walk, &args.parse, args.prune);
    let spec = args.spec();
    let request = SyncRequest {
        dry_run: args.dry_run,
        ..SyncRequest::default()
    };
    let report = sync_index(&sources, &spec, request, &term)?;
    if args.json && !args.dry_run {
        let line = serde_json::to_string(&SyncSummary::new(&spec.dir, &report))?;
        writeln!(std::io::stdout().lock(), "{line}")?;
    }
    term.info(&summary_line(&spec.dir, args.dry_run, &report));
    Ok(Outcome::failed_if(report.counts.failed))
}
