//! The `docket` command line: a thin layer over the library crates that parses flags,
//! prints results (stdout) and progress or errors (stderr), and maps outcomes to exit
//! codes.
//!
//! Exit codes: 0 success; 1 fatal error (nothing could be done); 2 partial failure (some
//! documents failed, the rest were processed); 64 usage error (bad flags or settings);
//! 75 another run holds the lock (try again later); 78 bad job file; 130 stopped by a
//! signal (work done so far is saved).

mod ask_cmd;
mod cli;
mod eval_cmd;
mod gen_cmd;
mod index_cmd;
mod ingest_cmd;
mod job;
mod models;
mod par;
mod progress;
mod search_cmd;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

/// How a command ended, beyond plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Some documents failed; the rest were processed.
    Partial,
    /// Stopped by a signal before the end; what was done is saved.
    Interrupted,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Partial => EXIT_PARTIAL,
            Outcome::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

pub const EXIT_FATAL: u8 = 1;
pub const EXIT_PARTIAL: u8 = 2;
pub const EXIT_USAGE: u8 = 64;
/// EX_TEMPFAIL: another run holds the lock; cron may simply try again next time.
pub const EXIT_LOCKED: u8 = 75;
/// EX_CONFIG: the job file is invalid.
pub const EXIT_JOB_FILE: u8 = 78;
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error that is the user's to fix (bad flag values, bad settings): exit code 64.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

static LOG_JSON: AtomicBool = AtomicBool::new(false);

/// Log lines as JSON objects (`--log-format json`), for log collectors.
pub fn set_log_json(on: bool) {
    LOG_JSON.store(on, Ordering::SeqCst);
}

pub fn log_json() -> bool {
    LOG_JSON.load(Ordering::SeqCst)
}

/// Write one line to stderr (progress, warnings, errors). Ignores a closed stderr.
/// With `--log-format json`: `{"ts", "level", "message"}`, the level taken from the
/// line's `error:`/`warning:`/`notice:` prefix.
pub fn log(line: &str) {
    let mut err = std::io::stderr().lock();
    if !log_json() {
        let _ = writeln!(err, "{line}");
        return;
    }
    let (level, message) = ["error", "warning", "notice"]
        .iter()
        .find_map(|l| {
            line.strip_prefix(l)
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| (*l, r.trim_start()))
        })
        .unwrap_or(("info", line));
    let value = serde_json::json!({
        "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": level,
        "message": message,
    });
    let _ = writeln!(err, "{value}");
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
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("error: {e:#}"));
            if e.downcast_ref::<job::lock::LockHeld>().is_some() {
                return ExitCode::from(EXIT_LOCKED);
            }
            if e.downcast_ref::<job::spec::JobFileError>().is_some() {
                return ExitCode::from(EXIT_JOB_FILE);
            }
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
