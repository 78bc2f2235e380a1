//! Test builds only (feature `test-hooks`, which `cargo test` turns on through the
//! package's dev-dependency on itself, and which `cargo build` and `cargo install` never
//! do): a way to make the process die on one document as an out-of-memory abort or a
//! stack overflow would, which no `catch_unwind` stops.
//!
//! `DOCKET_TEST_ABORT_ON=<stage>:<text>` aborts the process when `<stage>` works on a
//! document whose text contains `<text>`: `index` when the document is chunked (its
//! tokens counted), `task` when a job's task starts on it.

use std::sync::Arc;

use docket_ingest::TokenCounter;

/// Abort the process if `DOCKET_TEST_ABORT_ON` names this stage and the text holds its
/// marker.
pub fn abort_on(stage: &str, text: &str) {
    let Ok(wanted) = std::env::var("DOCKET_TEST_ABORT_ON") else {
        return;
    };
    let Some((at, marker)) = wanted.split_once(':') else {
        return;
    };
    if at == stage && !marker.is_empty() && text.contains(marker) {
        #[allow(clippy::print_stderr, reason = "the test reads why the process died")]
        {
            eprintln!("DOCKET_TEST_ABORT_ON: aborting in {stage} on a text with {marker:?}");
        }
        std::process::abort();
    }
}

/// The chunker's token counter, aborting on a text with the `index` marker.
pub fn counter(inner: Arc<dyn TokenCounter>) -> Arc<dyn TokenCounter> {
    Arc::new(Aborting { inner })
}

struct Aborting {
    inner: Arc<dyn TokenCounter>,
}

impl TokenCounter for Aborting {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn token_spans(&self, text: &str) -> docket_ingest::Result<Vec<(usize, usize)>> {
        abort_on("index", text);
        self.inner.token_spans(text)
    }
}
