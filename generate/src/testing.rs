//! Test doubles shared by the crate's unit tests.

use std::ops::ControlFlow;

use crate::{
    Completion, ContinuationScore, Error, FinishReason, GenerateParams, Llm, Prompt, Result,
};

/// An LLM that always writes the same reply, streamed in one piece, and cannot score.
#[derive(Debug)]
pub(crate) struct FixedReply(pub &'static str);

impl Llm for FixedReply {
    fn model_id(&self) -> &str {
        "fixed"
    }

    fn generate(
        &self,
        _: &Prompt,
        _: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        let _ = on_text(self.0);
        Ok(Completion {
            text: self.0.to_owned(),
            finish: FinishReason::Stop,
            prompt_tokens: 0,
            completion_tokens: 0,
        })
    }

    fn score(&self, _: &Prompt, _: &[&str]) -> Result<Vec<ContinuationScore>> {
        Err(Error::Unsupported {
            backend: "fixed reply".into(),
            what: "scoring".into(),
        })
    }
}
