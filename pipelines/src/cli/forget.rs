//! `docket forget`: remove every trace of documents from an index and its jobs.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;

use super::flags::IndexDirArgs;
use super::outcome::{Outcome, UsageError};

#[derive(Debug, Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Documents to forget: a document id, a source as `docket status`/search show it
    /// (path relative to the indexed folder), or a records file's source for all its
    /// rows. Their chunks leave both stores and the catalog, their rows every job's
    /// state (outputs are rewritten without them by the next run) and their cached
    /// summaries are deleted, with the files rewritten so no byte of them is left; a
    /// forgotten document is not indexed again while its file is there.
    #[arg(value_name = "DOC", required = true)]
    pub docs: Vec<String>,
    /// Undo: let these forgotten documents (by id) be indexed again.
    #[arg(long)]
    pub restore: bool,
    /// Print what was forgotten as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn forget(args: ForgetArgs) -> Result<Outcome> {
    let dir = &args.index.dir;
    let mut out = std::io::stdout().lock();
    if args.restore {
        let n = docket_pipelines::forget::unforget(dir, &args.docs)
            .with_context(|| format!("cannot restore documents in {}", dir.display()))?;
        if n == 0 {
            return Err(UsageError("none of these document ids was forgotten".into()).into());
        }
        writeln!(
            out,
            "{n} document(s) will be indexed again by the next sync"
        )?;
        return Ok(Outcome::Success);
    }
    let done = docket_pipelines::forget::forget(dir, &args.docs)
        .with_context(|| format!("cannot forget documents in {}", dir.display()))?;
    if args.json {
        serde_json::to_writer(&mut out, &done)?;
        writeln!(out)?;
    } else {
        for d in &done.documents {
            writeln!(out, "forgot {} ({})", d.source, d.doc_id)?;
        }
        writeln!(
            out,
            "{} document(s) forgotten; {} job result(s), {} cached summary call(s) and {} explain record(s) dropped",
            done.documents.len(),
            done.job_results,
            done.cache_entries,
            done.explain_records
        )?;
    }
    Ok(Outcome::Success)
}
