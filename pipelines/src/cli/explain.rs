//! `docket explain ROW_ID`: what produced one output row (its explain record).

use std::io::Write;

use anyhow::Result;
use clap::Args;
use docket_pipelines::explain::ExplainLog;

use super::flags::IndexDirArgs;
use super::outcome::{Outcome, UsageError};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The row's id: `row_id` in its provenance (`RUN_ID/TASK/KEY`).
    pub row_id: String,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Print the record as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn explain(args: ExplainArgs) -> Result<Outcome> {
    let Some(record) = ExplainLog::find_in(&args.index.dir, &args.row_id)? else {
        return Err(UsageError(format!(
            "{}: no explain record for {:?} (its run may have been pruned, its documents forgotten, or it came from `docket serve`, which keeps none)",
            args.index.dir.display(),
            args.row_id
        ))
        .into());
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &record)?;
        writeln!(out)?;
    } else {
        write!(out, "{record}")?;
    }
    Ok(Outcome::Success)
}
