//! Answers the LLM chooses rather than writes: the sources' own sentences, ranked by how
//! likely the model finds each as the answer to the question.
//!
//! A small model writes fluent sentences that the citation check must then drop
//! (recombined terms, wrong figures); reading is what it does well. So the candidates
//! are the retrieved sentences themselves, every one supported by construction, and the
//! model only orders them: the log-probability of a sentence as the reply to a prompt
//! holding the sources and the question, per token (a long sentence is not penalised
//! for its length), minus the same under a content-free question (so that a sentence
//! the model finds likely whatever was asked — a short, generic, or easily copied one —
//! gains nothing). The candidates are first narrowed to those closest to the question
//! by terms and meaning ([`Verifier::extract`]'s score), which bounds the cost to a few
//! dozen tokens each over two prompt prefills.

use super::{Candidates, Claim, NEARLY_AS_GOOD, Source, Verifier, pick, quote_all};
use crate::error::Result;
use crate::{Llm, Message, Prompt};

/// The question that asks nothing, for calibration.
const CONTENT_FREE: &str = "N/A";

/// The selection prompt: the numbered sources and the question, the model's reply to be
/// one of their sentences.
fn selection_prompt(question: &str, sources: &[Source]) -> Prompt {
    let (_, user) = super::prompt(question, sources);
    let user = user.replace(
        "Answer with citations:",
        "Answer with the one sentence of the sources that answers it:",
    );
    Prompt::Chat(vec![
        Message::system(format!(
            "You answer questions by quoting, word for word, the sentence of the numbered \
             sources that answers the question. {}",
            crate::quote::DATA_RULE
        )),
        Message::user(user),
    ])
}

/// Per-token log-probability of each continuation.
fn mean_logprobs(llm: &dyn Llm, prompt: &Prompt, texts: &[&str]) -> Result<Vec<f32>> {
    Ok(llm
        .score(prompt, texts)?
        .iter()
        .map(|s| (s.logprob / s.token_logprobs.len().max(1) as f64) as f32)
        .collect())
}

/// The sentences of `sources` the model finds most likely to answer `question` (at most
/// `config.extractive_sentences`, chosen among the `config.select_candidates` closest of
/// `candidates`), each quoting its source; those not about the question are left out.
/// Empty when no sentence qualifies.
pub(super) fn select(
    verifier: &Verifier<'_>,
    llm: &dyn Llm,
    question: &str,
    sources: &[Source],
    candidates: &Candidates<'_>,
) -> Result<Vec<Claim>> {
    let config = verifier.config;
    let Candidates { spans, closeness } = candidates;
    // The model only decides among sentences that terms and meaning cannot tell apart
    // (nearly as close as the closest): a 135M model's likelihood is a poor judge of
    // relevance on its own, measured, but a fair judge of which of a few close
    // sentences answers.
    let best = candidates.best();
    let mut order: Vec<usize> = (0..spans.len())
        .filter(|&i| closeness[i] > 0.0 && closeness[i] >= NEARLY_AS_GOOD * best)
        .collect();
    order.sort_by(|&a, &b| closeness[b].total_cmp(&closeness[a]).then(a.cmp(&b)));
    order.truncate(config.select_candidates.max(1));
    let shortlist: Vec<_> = order.iter().map(|&i| spans[i].clone()).collect();
    if shortlist.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<&str> = shortlist
        .iter()
        .map(|s| &s.source.chunk.text[s.range.clone()])
        .collect();
    let given = mean_logprobs(llm, &selection_prompt(question, sources), &texts)?;
    let prior = mean_logprobs(llm, &selection_prompt(CONTENT_FREE, sources), &texts)?;
    let gain: Vec<f32> = given.iter().zip(&prior).map(|(g, p)| g - p).collect();
    let floor = gain.iter().copied().fold(f32::INFINITY, f32::min) - 1.0;
    let picked = pick(&shortlist, &gain, config.extractive_sentences, floor);
    Ok(quote_all(picked.iter().map(|&i| &shortlist[i]))
        .into_iter()
        .filter(|c| verifier.on_topic(question, &c.text))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::answer::AnswerConfig;
    use crate::{Completion, ContinuationScore};

    /// Scores a continuation by a fixed log-probability per token for the sentences
    /// that contain a marker word, given the real question; the content-free question
    /// gets a flat score.
    struct Scorer {
        likes: &'static str,
    }

    impl Llm for Scorer {
        fn model_id(&self) -> &str {
            "scorer"
        }
        fn generate(
            &self,
            _: &Prompt,
            _: &crate::GenerateParams,
            _: &mut dyn FnMut(&str) -> ControlFlow<()>,
        ) -> Result<Completion> {
            unreachable!("selection never generates")
        }
        fn score(&self, prompt: &Prompt, texts: &[&str]) -> Result<Vec<ContinuationScore>> {
            let Prompt::Chat(m) = prompt else {
                unreachable!()
            };
            let content_free = m[1].content.contains("Question: N/A");
            Ok(texts
                .iter()
                .map(|t| {
                    let n = t.split_whitespace().count();
                    let per = if content_free {
                        -2.0
                    } else if t.contains(self.likes) {
                        -0.5
                    } else {
                        -3.0
                    };
                    ContinuationScore {
                        token_logprobs: vec![per; n],
                        logprob: f64::from(per) * n as f64,
                    }
                })
                .collect())
        }
    }

    fn source(n: usize, text: &str, file: &str) -> Source {
        let mut chunk = crate::answer::tests::chunk(text, file, 100);
        chunk.id = format!("{file}-0");
        Source { n, chunk }
    }

    #[test]
    fn the_model_picks_the_sentence_and_it_quotes_its_source() {
        let config = AnswerConfig::default();
        let analyze = crate::text::content_terms;
        let v = Verifier {
            config: &config,
            analyze: &analyze,
            embedder: None,
            weights: None,
        };
        let src = [
            source(1, "Domestic trips get 65 USD per day.", "domestic.md"),
            source(2, "International trips get 95 USD per day.", "abroad.md"),
            source(
                3,
                "Invoices are kept for 7 years after the year ends.",
                "keep.md",
            ),
        ];
        // Both per diem sentences are equally close by terms; the model decides.
        let q = "What is the daily allowance for trips?";
        let claims = select(
            &v,
            &Scorer { likes: "Domestic" },
            q,
            &src,
            &v.candidates(q, &src),
        )
        .unwrap();
        let texts: Vec<&str> = claims.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["Domestic trips get 65 USD per day."]);
        let s = claims[0].support.as_ref().unwrap();
        assert_eq!((s.n, s.start, s.end), (1, 100, 134));
        assert!(claims[0].supported);
        let claims = select(
            &v,
            &Scorer {
                likes: "International",
            },
            q,
            &src,
            &v.candidates(q, &src),
        )
        .unwrap();
        let texts: Vec<&str> = claims.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["International trips get 95 USD per day."]);
        assert_eq!(claims[0].cited, [2]);
        // Nothing about the question: nothing selected.
        let rome = "Who founded Rome?";
        let none = select(
            &v,
            &Scorer { likes: "x" },
            rome,
            &src,
            &v.candidates(rome, &src),
        )
        .unwrap();
        assert!(none.is_empty(), "{none:#?}");
    }
}
