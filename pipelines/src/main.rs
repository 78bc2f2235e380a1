//! The `docket` command line: a thin layer over the library crates that parses flags,
//! prints results (stdout) and progress or errors (stderr), and maps outcomes to exit
//! codes.
//!
//! Exit codes: 0 success; 1 fatal error (nothing could be done); 2 partial failure (some
//! documents failed, the rest were processed); 64 usage error (bad flags or settings).

mod ask_cmd;
mod cli;
mod eval_cmd;
mod gen_cmd;
mod index_cmd;
mod ingest_cmd;
mod models;
mod par;
mod search_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// How a command ended, beyond plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Some documents failed; the rest were processed.
    Partial,
}

pub const EXIT_FATAL: u8 = 1;
pub const EXIT_PARTIAL: u8 = 2;
pub const EXIT_USAGE: u8 = 64;

/// An error that is the user's to fix (bad flag values, bad settings): exit code 64.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Write one line to stderr (progress, warnings, errors). Ignores a closed stderr.
pub fn log(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.run() {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(EXIT_PARTIAL),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("error: {e:#}"));
            let usage = e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<docket_ingest::Error>(),
                    Some(docket_ingest::Error::Config { .. })
                )
                || matches!(
                    e.downcast_ref::<docket_index::Error>(),
                    Some(
                        docket_index::Error::ManifestMismatch { .. }
                            | docket_index::Error::NotAnIndex { .. }
                            | docket_index::Error::Setting { .. }
                            | docket_index::Error::Glob { .. }
                    )
                );
            ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FATAL })
        }
    }
}

/// `docket ... | head` closes stdout early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}
