//! What keeps one document from taking a task's run down: a panic in its work is that
//! document's failure, and its work has a time limit (`task_timeout_secs`).
//!
//! The work runs in the caller's thread with models it borrows, so it cannot be
//! abandoned the way a stuck parse is; it is stopped where it can be asked to stop. The
//! task's LLM and embedder are handed out wrapped ([`TimedLlm`], [`TimedEmbedder`]): a
//! generation under way breaks from its streaming callback once the document's time is
//! up, and no new model call starts after it. Whatever the work returns then, the
//! document failed for taking too long (a cancelled generation's partial text is no
//! result).

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docket_generate::{Completion, ContinuationScore, GenerateParams, Llm, Prompt};
use docket_index::embed::Embedder;

/// The time limit of the document (or batch) being worked on, shared with the wrapped
/// models.
#[derive(Debug, Clone)]
pub struct TaskClock {
    secs: u64,
    deadline: Arc<Mutex<Option<Instant>>>,
}

impl TaskClock {
    /// A clock giving each document `secs` seconds (0: no limit).
    pub fn new(secs: u64) -> TaskClock {
        TaskClock {
            secs,
            deadline: Arc::new(Mutex::new(None)),
        }
    }

    /// Start the time of `documents` documents worked on together.
    pub fn start(&self, documents: usize) {
        let limit = (self.secs > 0).then(|| {
            let n = u32::try_from(documents.max(1)).unwrap_or(u32::MAX);
            Instant::now() + Duration::from_secs(self.secs).saturating_mul(n)
        });
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = limit;
    }

    /// No time limit until the next [`start`](Self::start): work outside a document's
    /// (loading or training a model) is not held to the last document's time.
    pub fn stop(&self) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the time started last has run out.
    pub fn expired(&self) -> bool {
        let deadline = *self.deadline.lock().unwrap_or_else(|p| p.into_inner());
        deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Why a document whose time ran out failed.
    pub fn reason(&self) -> String {
        format!(
            "took longer than the task time limit of {} s per document (task_timeout_secs)",
            self.secs
        )
    }
}

/// Run `work` on a batch of items, one outcome per item. A panic, or a batch whose time
/// ran out, is retried one item at a time, so that only the item at fault fails.
pub fn guarded<T, R>(
    clock: &TaskClock,
    items: &[T],
    mut work: impl FnMut(&[T]) -> Vec<Result<R, String>>,
) -> Vec<Result<R, String>> {
    let mut once = |items: &[T]| -> Result<Vec<Result<R, String>>, String> {
        clock.start(items.len());
        let out = catch_unwind(AssertUnwindSafe(|| work(items)));
        let expired = clock.expired();
        clock.stop();
        let out = out.map_err(|payload| {
            format!(
                "internal error (a bug, please report it): {}",
                docket_ingest::pipeline::panic_message(&*payload)
            )
        })?;
        if expired {
            return Err(clock.reason());
        }
        Ok(out)
    };
    match once(items) {
        Ok(out) => out,
        Err(reason) if items.len() == 1 => vec![Err(reason)],
        Err(_) => items
            .iter()
            .map(|item| match once(std::slice::from_ref(item)) {
                Ok(mut out) if out.len() == 1 => out.remove(0),
                Ok(_) => Err("no result".into()),
                Err(reason) => Err(reason),
            })
            .collect(),
    }
}

/// The task's LLM, stopped when the document's time is up.
pub struct TimedLlm {
    pub inner: Arc<dyn Llm>,
    pub clock: TaskClock,
}

impl TimedLlm {
    fn refuse(&self) -> docket_generate::Result<()> {
        if self.clock.expired() {
            return Err(docket_generate::Error::Runtime {
                reason: self.clock.reason(),
            });
        }
        Ok(())
    }
}

impl Llm for TimedLlm {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn generate(
        &self,
        prompt: &Prompt,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> docket_generate::Result<Completion> {
        self.refuse()?;
        self.inner.generate(prompt, params, &mut |text| {
            if self.clock.expired() {
                return ControlFlow::Break(());
            }
            on_text(text)
        })
    }

    fn score(
        &self,
        prompt: &Prompt,
        continuations: &[&str],
    ) -> docket_generate::Result<Vec<ContinuationScore>> {
        self.refuse()?;
        self.inner.score(prompt, continuations)
    }
}

/// The task's embedder, refusing new calls when the document's time is up.
pub struct TimedEmbedder {
    pub inner: Arc<dyn Embedder>,
    pub clock: TaskClock,
}

impl Embedder for TimedEmbedder {
    fn embed(&self, texts: &[&str]) -> docket_index::Result<Vec<Vec<f32>>> {
        if self.clock.expired() {
            return Err(docket_index::Error::Runtime {
                model: self.inner.model_id().to_owned(),
                reason: self.clock.reason(),
            });
        }
        self.inner.embed(texts)
    }

    fn embed_queries(&self, texts: &[&str]) -> docket_index::Result<Vec<Vec<f32>>> {
        if self.clock.expired() {
            return Err(docket_index::Error::Runtime {
                model: self.inner.model_id().to_owned(),
                reason: self.clock.reason(),
            });
        }
        self.inner.embed_queries(texts)
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn max_tokens(&self) -> usize {
        self.inner.max_tokens()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An LLM that never stops generating unless its callback says so.
    struct Endless {
        pieces: AtomicUsize,
    }

    impl Llm for Endless {
        fn model_id(&self) -> &str {
            "endless"
        }

        fn generate(
            &self,
            _: &Prompt,
            _: &GenerateParams,
            on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
        ) -> docket_generate::Result<Completion> {
            loop {
                self.pieces.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                if on_text("more ").is_break() {
                    return Ok(Completion {
                        text: "more more".into(),
                        finish: docket_generate::FinishReason::Cancelled,
                        prompt_tokens: 1,
                        completion_tokens: 2,
                    });
                }
            }
        }

        fn score(&self, _: &Prompt, _: &[&str]) -> docket_generate::Result<Vec<ContinuationScore>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_panic_fails_only_the_document_that_panicked() {
        let clock = TaskClock::new(60);
        let docs = ["a", "boom", "c"];
        let out = guarded(&clock, &docs, |items| {
            items
                .iter()
                .map(|d| {
                    assert!(*d != "boom", "the model choked on {d}");
                    Ok(d.to_uppercase())
                })
                .collect()
        });
        assert_eq!(out[0].as_deref(), Ok("A"));
        assert_eq!(out[2].as_deref(), Ok("C"));
        let e = out[1].as_ref().unwrap_err();
        assert!(
            e.contains("internal error") && e.contains("the model choked on boom"),
            "{e}"
        );
    }

    #[test]
    fn a_generation_that_never_ends_is_stopped_at_the_time_limit() {
        let clock = TaskClock::new(1);
        let endless = Arc::new(Endless {
            pieces: AtomicUsize::new(0),
        });
        let llm = TimedLlm {
            inner: endless.clone(),
            clock: clock.clone(),
        };
        let started = Instant::now();
        let out = guarded(&clock, &["doc"], |items| {
            items
                .iter()
                .map(|_| {
                    let c = llm.complete(&Prompt::user("summarize"), &GenerateParams::default());
                    // A second call after the time is up does not start.
                    assert!(
                        llm.complete(&Prompt::user("again"), &GenerateParams::default())
                            .is_err()
                    );
                    c.map(|c| c.text).map_err(|e| e.to_string())
                })
                .collect()
        });
        assert!(started.elapsed() < Duration::from_secs(10));
        let e = out[0].as_ref().unwrap_err();
        assert!(e.contains("task time limit of 1 s"), "{e}");
        assert!(endless.pieces.load(Ordering::SeqCst) > 10);
        // Work between documents (loading, training) is not held to the last one's time.
        assert!(!clock.expired());
        // The next document starts with its own time.
        let out = guarded(&clock, &["next"], |items| {
            items.iter().map(|d| Ok(*d)).collect()
        });
        assert_eq!(out, [Ok("next")]);
    }
}
