//! Counting tokens the way the embedding model does, so that a chunk of "256 tokens"
//! really fits the model's window.
//!
//! A [`TokenCounter`] returns the byte span of every token in a text; the chunker
//! tokenizes each document once and then counts any span with a binary search.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Splits text into model tokens and reports their byte spans.
pub trait TokenCounter: Send + Sync {
    /// An identifier of the tokenizer, recorded with the index so that chunks made with
    /// another tokenizer are never mixed in.
    fn name(&self) -> &str;

    /// Byte spans `(start, end)` in `text` of every token, in order, without the
    /// special tokens the model adds around a sequence.
    fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>>;
}

/// The tokenizer of a Hugging Face model (`tokenizer.json`), e.g. the embedder's.
#[derive(Debug)]
pub struct HfTokenizer {
    name: String,
    path: PathBuf,
    inner: tokenizers::Tokenizer,
}

impl HfTokenizer {
    /// Load `tokenizer.json`. Truncation and padding stored in the file are switched
    /// off: the chunker must see every token of a document, not the first 128.
    pub fn from_file(path: &Path) -> Result<Self> {
        let err = |reason: String| Error::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let mut inner = tokenizers::Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        inner
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        let name = path.parent().and_then(|p| p.file_name()).map_or_else(
            || "tokenizer".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(HfTokenizer {
            name,
            path: path.to_path_buf(),
            inner,
        })
    }
}

impl TokenCounter for HfTokenizer {
    fn name(&self) -> &str {
        &self.name
    }

    fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        Ok(enc.get_offsets().to_vec())
    }
}

/// An approximation used when no model tokenizer is available: every run of letters or
/// digits and every other non-space character is one token. WordPiece splits rare words
/// further, so real counts are somewhat higher; callers warn when they fall back to it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ApproxTokenizer;

impl TokenCounter for ApproxTokenizer {
    fn name(&self) -> &str {
        "approx-words"
    }

    fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let mut spans = Vec::new();
        let mut word_start: Option<usize> = None;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                word_start.get_or_insert(i);
                continue;
            }
            if let Some(s) = word_start.take() {
                spans.push((s, i));
            }
            if !c.is_whitespace() && !c.is_control() {
                spans.push((i, i + c.len_utf8()));
            }
        }
        if let Some(s) = word_start {
            spans.push((s, text.len()));
        }
        Ok(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_counts_words_and_punctuation() {
        let spans = ApproxTokenizer.token_spans("Héllo, wörld 42!").unwrap();
        let text = "Héllo, wörld 42!";
        let toks: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(toks, ["Héllo", ",", "wörld", "42", "!"]);
    }
}
