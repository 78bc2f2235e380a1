//! An LLM loaded on first use and shared by every caller.
//!
//! Loading a model costs seconds and memory, so a job or a server that may have nothing
//! to generate should not pay for it up front: [`LazyLlm`] runs the caller's loader the
//! first time someone asks for the model, once, however many threads ask at the same
//! time. Where the model comes from (a GGUF file, a server, a download) stays the
//! caller's business. When loading fails, every caller gets `None` and falls back to
//! extractive work; the reason is kept, so a front end can report it once.

use std::sync::{Arc, OnceLock};

use crate::Llm;

/// Makes the LLM; its error is the message to show (formatted by the caller, who
/// knows its error type and how much of the cause chain to say).
pub type LlmLoader = Box<dyn Fn() -> Result<Box<dyn Llm>, String> + Send + Sync>;

/// An LLM loaded on first use; `Send + Sync`, so one can be shared by threads through
/// an `Arc`. See the module docs.
pub struct LazyLlm {
    /// None: disabled (extractive mode), nothing is ever loaded.
    loader: Option<LlmLoader>,
    loaded: OnceLock<Result<Arc<dyn Llm>, String>>,
}

impl std::fmt::Debug for LazyLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyLlm")
            .field("disabled", &self.loader.is_none())
            .field("model", &self.model_id())
            .field("load_error", &self.load_error())
            .finish()
    }
}

impl LazyLlm {
    /// An LLM that `loader` makes when it is first needed.
    pub fn new(
        loader: impl Fn() -> Result<Box<dyn Llm>, String> + Send + Sync + 'static,
    ) -> LazyLlm {
        LazyLlm {
            loader: Some(Box::new(loader)),
            loaded: OnceLock::new(),
        }
    }

    /// No LLM at all (extractive mode): [`LazyLlm::get`] is always `None`, and there is
    /// no load error to report.
    pub fn disabled() -> LazyLlm {
        LazyLlm {
            loader: None,
            loaded: OnceLock::new(),
        }
    }

    /// An LLM already loaded (e.g. a test's, or one the caller had to load anyway).
    pub fn loaded(llm: Arc<dyn Llm>) -> LazyLlm {
        LazyLlm {
            loader: None,
            loaded: OnceLock::from(Ok(llm)),
        }
    }

    /// Whether this never loads a model.
    pub fn is_disabled(&self) -> bool {
        self.loader.is_none() && self.loaded.get().is_none()
    }

    /// The LLM, loading it on the first call (callers arriving meanwhile wait for that
    /// load rather than start their own); `None` when disabled or it could not be
    /// loaded (see [`LazyLlm::load_error`]).
    pub fn get(&self) -> Option<Arc<dyn Llm>> {
        self.load().map(Arc::clone)
    }

    /// Like [`LazyLlm::get`], borrowed: for a call that needs the model only while it
    /// runs.
    pub fn get_ref(&self) -> Option<&dyn Llm> {
        self.load().map(|llm| llm.as_ref())
    }

    fn load(&self) -> Option<&Arc<dyn Llm>> {
        let loaded = match &self.loader {
            Some(load) => self.loaded.get_or_init(|| load().map(Arc::from)),
            // Disabled, or given loaded.
            None => self.loaded.get()?,
        };
        loaded.as_ref().ok()
    }

    /// Why the LLM could not be loaded, once a load was tried and failed.
    pub fn load_error(&self) -> Option<&str> {
        match self.loaded.get() {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// The model's id, once it is loaded (no load is started to find it).
    pub fn model_id(&self) -> Option<&str> {
        match self.loaded.get() {
            Some(Ok(llm)) => Some(llm.model_id()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Completion, ContinuationScore, GenerateParams, Prompt, Result};

    #[derive(Debug)]
    struct Named;

    impl Llm for Named {
        fn model_id(&self) -> &str {
            "named"
        }
        fn generate(
            &self,
            _: &Prompt,
            _: &GenerateParams,
            _: &mut dyn FnMut(&str) -> ControlFlow<()>,
        ) -> Result<Completion> {
            unreachable!("not generated in these tests")
        }
        fn score(&self, _: &Prompt, _: &[&str]) -> Result<Vec<ContinuationScore>> {
            unreachable!("not scored in these tests")
        }
    }

    #[test]
    fn the_loader_runs_once_across_threads() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let lazy = Arc::new(LazyLlm::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(Box::new(Named) as Box<dyn Llm>)
        }));
        assert_eq!(lazy.model_id(), None, "nothing is loaded before use");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lazy = Arc::clone(&lazy);
                std::thread::spawn(move || lazy.get().map(|l| l.model_id().to_owned()))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().as_deref(), Some("named"));
        }
        assert!(lazy.get_ref().is_some());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(lazy.model_id(), Some("named"));
        assert_eq!(lazy.load_error(), None);
    }

    #[test]
    fn a_failing_loader_gives_none_and_its_message_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let lazy = LazyLlm::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Err("cannot load the LLM x.gguf: no such file".to_owned())
        });
        assert_eq!(lazy.load_error(), None, "no load was tried yet");
        assert!(lazy.get().is_none());
        assert!(lazy.get_ref().is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a failure is not retried");
        assert_eq!(
            lazy.load_error(),
            Some("cannot load the LLM x.gguf: no such file")
        );
        assert_eq!(lazy.model_id(), None);
    }

    #[test]
    fn disabled_never_loads_and_preloaded_needs_no_loader() {
        let off = LazyLlm::disabled();
        assert!(off.is_disabled());
        assert!(off.get().is_none());
        assert_eq!(off.load_error(), None);
        let on = LazyLlm::loaded(Arc::new(Named));
        assert!(!on.is_disabled());
        assert_eq!(on.get().unwrap().model_id(), "named");
        assert_eq!(on.model_id(), Some("named"));
    }
}
