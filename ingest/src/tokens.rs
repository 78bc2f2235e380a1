//! Counting tokens the way the embedding model does, so that a chunk of "256 tokens"
//! really fits the model's window.
//!
//! A [`TokenCounter`] returns the byte span of every token in a text; the chunker
//! tokenizes each document once ([`TokenCounter::token_starts`], in bounded windows) and
//! then counts any span with a binary search.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Splits text into model tokens and reports their byte spans.
pub trait TokenCounter: Send + Sync {
    /// An identifier of the tokenizer, recorded with the index so that chunks made with
    /// another tokenizer are never mixed in.
    fn name(&self) -> &str;

    /// Byte spans `(start, end)` in `text` of every token, in order, without the
    /// special tokens the model adds around a sequence. Costs memory in proportion to
    /// `text`; long texts go through [`token_starts`](Self::token_starts).
    fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>>;

    /// Byte offsets of every token's start in `text`, tokenized in windows of about
    /// [`WINDOW_BYTES`] cut at whitespace, so a 100 MiB text costs 4 bytes per token
    /// here and one window's worth inside the tokenizer (a Hugging Face `Encoding`
    /// holds some hundred bytes per token: one call on 100 MiB took over 10 GB). Tokens
    /// do not cross whitespace in the pre-tokenizers of the models docket uses, so the
    /// starts equal one call's; a run of over half a window without whitespace is cut at
    /// a character boundary, which may split one token there.
    fn token_starts(&self, text: &str) -> Result<Vec<u32>> {
        if u32::try_from(text.len()).is_err() {
            return Err(Error::Config {
                name: "max_text_bytes",
                reason: format!("a text of {} bytes is over 4 GiB", text.len()),
            });
        }
        let mut out = Vec::new();
        let mut base = 0;
        while base < text.len() {
            let end = window_end(text, base, WINDOW_BYTES);
            let spans = self.token_spans(&text[base..end])?;
            out.extend(spans.into_iter().map(|(s, _)| (base + s) as u32));
            base = end;
        }
        out.shrink_to_fit();
        Ok(out)
    }

    /// Number of tokens in `text`, in the same windows as [`token_starts`](Self::token_starts).
    fn count_tokens(&self, text: &str) -> Result<usize> {
        let mut n = 0;
        let mut base = 0;
        while base < text.len() {
            let end = window_end(text, base, WINDOW_BYTES);
            n += self.token_spans(&text[base..end])?.len();
            base = end;
        }
        Ok(n)
    }
}

/// Bytes of text tokenized in one call by [`TokenCounter::token_starts`].
pub const WINDOW_BYTES: usize = 64 * 1024;

/// End of the window that starts at `start`: just after the last whitespace character in
/// its second half, else at the last character boundary within `max` bytes (at least one
/// character, whatever its size).
fn window_end(text: &str, start: usize, max: usize) -> usize {
    let limit = start + max;
    if limit >= text.len() {
        return text.len();
    }
    let bytes = text.as_bytes();
    let half = start + max / 2;
    // Whitespace that ends a window: ASCII is enough to find a cut, and a cut after an
    // ASCII byte is always a character boundary.
    if let Some(p) = bytes[half..limit].iter().rposition(u8::is_ascii_whitespace) {
        return half + p + 1;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end == start {
        end = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    end
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
    fn windows_give_the_starts_of_one_call() {
        let text = "Ünïcode wörds and 12,345 numbers; ".repeat(8000) + &"x".repeat(70_000) + " end";
        assert!(text.len() > 3 * WINDOW_BYTES);
        let whole: Vec<u32> = ApproxTokenizer
            .token_spans(&text)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s as u32)
            .collect();
        let windowed = ApproxTokenizer.token_starts(&text).unwrap();
        // Every start of one call is found; the only extra ones cut the 70,000-byte word.
        let set: std::collections::HashSet<u32> = windowed.iter().copied().collect();
        assert!(whole.iter().all(|p| set.contains(p)));
        let whole_set: std::collections::HashSet<u32> = whole.iter().copied().collect();
        let extra: Vec<usize> = windowed
            .iter()
            .filter(|p| !whole_set.contains(p))
            .map(|&p| p as usize)
            .collect();
        assert!(!extra.is_empty() && extra.len() <= 2, "{extra:?}");
        for cut in extra {
            assert!(text[..cut].ends_with('x') && text[cut..].starts_with('x'));
        }
        assert!(windowed.is_sorted());
        assert_eq!(ApproxTokenizer.count_tokens(&text).unwrap(), windowed.len());
        // Windows end after whitespace, at char boundaries, and always move on.
        let mut at = 0;
        while at < text.len() {
            let end = window_end(&text, at, WINDOW_BYTES);
            assert!(end > at && text.is_char_boundary(end));
            at = end;
        }
        assert_eq!(window_end("é", 0, 1), 2);
    }

    #[test]
    fn approx_counts_words_and_punctuation() {
        let spans = ApproxTokenizer.token_spans("Héllo, wörld 42!").unwrap();
        let text = "Héllo, wörld 42!";
        let toks: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(toks, ["Héllo", ",", "wörld", "42", "!"]);
    }
}
