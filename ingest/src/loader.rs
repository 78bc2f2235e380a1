//! The boundary between file formats and the rest of docket: a [`Loader`] turns the
//! bytes of one source into [`Extracted`] text, under [`Limits`] that treat every file as
//! hostile.
//!
//! Loaders are pure functions of bytes (no paths, no I/O), which keeps them easy to test
//! and to fuzz; the caller attaches the path to any error.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::document::Extracted;
use crate::error::DocError;
use crate::memory::{self, DocScope};

/// Turns the bytes of one source into text and structure.
pub trait Loader: Send + Sync {
    /// Short name of the format, for logs and errors.
    fn name(&self) -> &'static str;

    /// Parse `bytes`. Must return an error, not panic, on malformed input, and must check
    /// `ctx.deadline` in any loop whose length depends on the input.
    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError>;
}

/// Caps on what one document may cost. Every file is treated as hostile: a zip bomb, a
/// PDF with a 10 GB Flate stream or a self-referencing form must fail one document, not
/// the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest source file read, in bytes.
    #[serde(default = "Limits::default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Largest decompressed size of one stream or archive entry (PDF Flate streams,
    /// DOCX zip entries), in bytes.
    #[serde(default = "Limits::default_max_decompressed_bytes")]
    pub max_decompressed_bytes: u64,
    /// Largest total of decoded data one document may cost, in bytes: every stream it
    /// decodes (a PDF's page contents, each time a form is drawn, font programs, CMaps)
    /// and the tables parsed from its CMaps. Bounds the work of a small file that makes
    /// many streams decode, or one stream decode many times.
    #[serde(default = "Limits::default_max_document_decoded_bytes")]
    pub max_document_decoded_bytes: u64,
    /// Largest extracted text of one document, in bytes.
    #[serde(default = "Limits::default_max_text_bytes")]
    pub max_text_bytes: u64,
    /// Deepest nesting followed in PDF objects, form XObjects, HTML or XML.
    #[serde(default = "Limits::default_max_depth")]
    pub max_depth: u32,
    /// Longest time one document's parse may take, in seconds.
    #[serde(default = "Limits::default_parse_timeout_secs")]
    pub parse_timeout_secs: u64,
}

impl Limits {
    pub fn default_max_file_bytes() -> u64 {
        512 * 1024 * 1024
    }
    pub fn default_max_decompressed_bytes() -> u64 {
        256 * 1024 * 1024
    }
    pub fn default_max_document_decoded_bytes() -> u64 {
        512 * 1024 * 1024
    }
    pub fn default_max_text_bytes() -> u64 {
        128 * 1024 * 1024
    }
    pub fn default_max_depth() -> u32 {
        32
    }
    pub fn default_parse_timeout_secs() -> u64 {
        120
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: Self::default_max_file_bytes(),
            max_decompressed_bytes: Self::default_max_decompressed_bytes(),
            max_document_decoded_bytes: Self::default_max_document_decoded_bytes(),
            max_text_bytes: Self::default_max_text_bytes(),
            max_depth: Self::default_max_depth(),
            parse_timeout_secs: Self::default_parse_timeout_secs(),
        }
    }
}

/// A point in time after which a parse gives up with [`DocError::Timeout`], and the
/// document's share of the memory ceiling past which it gives up as too large (see
/// [`crate::memory`]): both are checked at the same points of every loader.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<Instant>,
    secs: u64,
    memory: Option<(DocScope, usize)>,
}

impl Deadline {
    /// A deadline `secs` seconds from now; 0 means none.
    /// The memory budget ([`memory::document_budget`]) counts from here, on this thread.
    pub fn after_secs(secs: u64) -> Self {
        Deadline {
            at: (secs > 0).then(|| Instant::now() + Duration::from_secs(secs)),
            secs,
            memory: memory::document_budget().map(|b| (DocScope::begin(), b)),
        }
    }

    /// No deadline and no memory budget.
    pub fn none() -> Self {
        Deadline {
            at: None,
            secs: 0,
            memory: None,
        }
    }

    /// The same deadline for work moved to the current thread: the memory budget counts
    /// afresh from here, on this thread (a scope only means anything on the thread it
    /// began on).
    pub fn on_this_thread(&self) -> Self {
        Deadline {
            memory: self.memory.map(|(_, budget)| (DocScope::begin(), budget)),
            ..*self
        }
    }

    /// `Err(Timeout)` once the deadline has passed, `Err(TooLarge)` once the document's
    /// work holds more heap than its budget. Cheap enough to call per page or per few
    /// hundred operators.
    pub fn check(&self) -> Result<(), DocError> {
        self.check_more(0)
    }

    /// [`check`](Self::check), and that `more` bytes allocated now would stay within the
    /// memory budget: asked before a step that copies a large input.
    pub fn check_more(&self, more: usize) -> Result<(), DocError> {
        if let Some((scope, budget)) = self.memory {
            let used = scope.used().saturating_add(more);
            if used > budget {
                return Err(DocError::TooLarge {
                    what: "the memory its parse holds (budget: a quarter of --max-memory)",
                    size: used as u64,
                    limit: budget as u64,
                });
            }
        }
        match self.at {
            Some(at) if Instant::now() >= at => Err(DocError::Timeout { secs: self.secs }),
            _ => Ok(()),
        }
    }
}

/// Everything a loader may consult besides the bytes.
#[derive(Debug, Clone)]
pub struct LoadContext<'a> {
    pub limits: &'a Limits,
    pub deadline: Deadline,
    /// Password for encrypted PDFs; the empty user password is always tried first.
    pub pdf_password: Option<&'a str>,
    /// The OCR engine for scanned pages and images; `None`: no OCR.
    pub ocr: Option<&'a crate::ocr::Ocr>,
}

impl<'a> LoadContext<'a> {
    /// A context with the deadline taken from `limits`, starting now.
    pub fn new(limits: &'a Limits) -> Self {
        LoadContext {
            limits,
            deadline: Deadline::after_secs(limits.parse_timeout_secs),
            pdf_password: None,
            ocr: None,
        }
    }

    /// `Err(TooLarge)` when `size` bytes of decompressed data exceed the cap.
    pub fn check_decompressed(&self, size: u64) -> Result<(), DocError> {
        check_cap(
            "decompressed data",
            size,
            self.limits.max_decompressed_bytes,
        )
    }

    /// `Err(TooLarge)` when `size` bytes of extracted text exceed the cap.
    pub fn check_text(&self, size: usize) -> Result<(), DocError> {
        check_cap("extracted text", size as u64, self.limits.max_text_bytes)
    }
}

fn check_cap(what: &'static str, size: u64, limit: u64) -> Result<(), DocError> {
    if size > limit {
        Err(DocError::TooLarge { what, size, limit })
    } else {
        Ok(())
    }
}
