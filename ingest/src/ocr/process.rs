//! Running an OCR helper program under the document's deadline: its output is read on
//! a thread (so a full pipe never blocks it), and it is killed when the deadline
//! passes, so a process stuck on a hostile image costs one document, not the run.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::DocError;
use crate::loader::Deadline;

/// Why a program did not give its output.
#[derive(Debug)]
pub(super) enum Failure {
    /// Not installed (not found on the `PATH`, or the path given does not exist).
    Missing,
    /// It ran and failed: its exit status and the end of what it said.
    Failed(String),
}

/// How often a running program is checked against the deadline.
const POLL: Duration = Duration::from_millis(10);

/// Run `cmd`; its standard output when it exits successfully. `Err` when the deadline
/// (or the document's memory budget) passed while it ran: the program has been killed.
pub(super) fn run(
    mut cmd: Command,
    deadline: &Deadline,
) -> Result<Result<Vec<u8>, Failure>, DocError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err(Failure::Missing)),
        Err(e) => return Ok(Err(Failure::Failed(format!("cannot start it: {e}")))),
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            // Only the end is reported; a chatty program must not fill memory.
            let _ = s.take(1 << 20).read_to_end(&mut buf);
        }
        buf
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Err(Failure::Failed(e.to_string())));
            }
        }
        if let Err(e) = deadline.check() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        std::thread::sleep(POLL);
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        return Ok(Ok(stdout));
    }
    let said = String::from_utf8_lossy(&stderr);
    let tail: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(2)..].join("; ");
    Ok(Err(Failure::Failed(format!("{status}: {tail}"))))
}
