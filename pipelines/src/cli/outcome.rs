//! How a command ended: the outcomes that are not plain errors, and the one error kind
//! the binary itself raises (flags that do not go together).

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
            Outcome::Partial => 2,
            Outcome::Interrupted => 130,
        }
    }

    /// Partial when anything failed.
    pub fn failed_if(failed: usize) -> Outcome {
        if failed > 0 {
            Outcome::Partial
        } else {
            Outcome::Success
        }
    }
}

/// An error that is the user's to fix (bad flag values, flags that do not go
/// together): exit code 64.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The flag that fixes an error, for the errors a flag fixes: library messages say
/// what is wrong without naming flags (a server or a job file has none), and the
/// command line adds its own.
pub fn flag_hint(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use docket_ingest::{DocError, Error as IngestError};
    if let Some(IngestError::Document {
        reason: DocError::PasswordRequired,
        ..
    }) = e.downcast_ref::<IngestError>()
    {
        return Some("pass it with --pdf-password");
    }
    match e.downcast_ref::<docket_index::Error>() {
        Some(docket_index::Error::EmbedderRequired { .. }) => Some("see --embed-model"),
        Some(docket_index::Error::ManifestMismatch { .. }) => Some("see --index"),
        _ => None,
    }
}

/// An error's message with the flag that fixes it, if there is one.
pub fn with_hint(message: String, e: &(dyn std::error::Error + 'static)) -> String {
    match flag_hint(e) {
        Some(hint) => format!("{message} ({hint})"),
        None => message,
    }
}
