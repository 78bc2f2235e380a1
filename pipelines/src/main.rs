//! The `docket` command line: a thin layer over the library crates that parses flags,
//! prints results (stdout) and progress or errors (stderr), and maps outcomes to exit
//! codes.
//!
//! Exit codes: 0 success; 1 fatal error (nothing could be done); 2 partial failure (some
//! documents failed, the rest were processed); 64 usage error (bad flags or settings);
//! 70 internal error (a bug in docket); 75 temporary failure (another run holds the
//! lock, a server is busy: try again later); 78 bad job file; 130 stopped by a signal
//! (work done so far is saved).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::outcome::UsageError;
use docket_pipelines::Fault;
use docket_pipelines::report::Level;

/// Counts heap use, for the memory ceiling (`--max-memory`, see `docket_ingest::memory`).
#[global_allocator]
static ALLOC: docket_ingest::memory::CountingAlloc = docket_ingest::memory::CountingAlloc;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 64 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let term = cli::term::Term::new(cli.log_format());
    match cli.run() {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let hint = e.chain().find_map(cli::outcome::flag_hint);
            let message = match hint {
                Some(hint) => format!("{e:#} ({hint})"),
                None => format!("{e:#}"),
            };
            term.line(Level::Error, &message);
            ExitCode::from(exit_code(fault(&e)))
        }
    }
}

/// Whose fault an error is, from the first typed error in its chain.
fn fault(e: &anyhow::Error) -> Fault {
    for cause in e.chain() {
        if let Some(e) = cause.downcast_ref::<docket_pipelines::Error>() {
            return e.fault();
        }
        if let Some(e) = cause.downcast_ref::<docket_generate::Error>() {
            return e.fault();
        }
        if let Some(e) = cause.downcast_ref::<docket_index::Error>() {
            return e.fault();
        }
        if let Some(e) = cause.downcast_ref::<docket_ingest::Error>() {
            return e.fault();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return Fault::Usage;
        }
    }
    Fault::Environment
}

/// The exit code of a fault (sysexits.h where one fits).
fn exit_code(fault: Fault) -> u8 {
    match fault {
        Fault::Input | Fault::Environment => 1,
        Fault::Usage => 64,
        Fault::Bug => 70,
        Fault::Transient => 75,
        Fault::Config => 78,
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
