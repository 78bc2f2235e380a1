//! Abstractive summaries of whole documents: an LLM map-reduce over pieces of the
//! document, cached by content hash, every sentence checked against the document.
//!
//! Why it is shaped so:
//!
//! - **Pieces, not chunks.** The index's chunks are sized for the embedder (a few
//!   hundred tokens); a generator reads more at once and is paid per call, so the
//!   document is cut anew into pieces of up to [`AbstractiveConfig::piece_tokens`] at
//!   sentence boundaries ([`pieces`]). A document that fits one piece takes one call.
//! - **Content-defined cuts.** A piece ends at a sentence whose hash marks it as an
//!   anchor, once the piece is long enough, rather than wherever the budget runs out. An
//!   edit then moves no cut but its own piece's (a cut after it lands on the same anchor
//!   sentence), so the pieces after it, and their cached summaries, stay the same.
//! - **Map, then reduce in groups.** Each piece gets a short partial summary; the
//!   partials are combined into the summary of the requested [`Budget`], first in
//!   groups of consecutive partials ([`groups`]) if together they do not fit a piece.
//! - **A cache keyed by content.** Every call (map, group, final) is looked up by the
//!   blake3 hash of the model, [`PROMPT_VERSION`], the generation parameters and the
//!   full prompt, which holds the text summarized ([`cache_key`]). Re-running on an
//!   unchanged document makes no call; changing one piece redoes that piece and the
//!   reduce steps above it. The cache stores the model's raw answer, so that cleaning
//!   and checking can change without throwing it away.
//! - **Traceable or dropped.** The final answer is cleaned of chatter and incomplete
//!   sentences ([`clean`]), then each sentence is checked against the document with the
//!   term rules of [`crate::answer`]: its numbers must occur in the document, and most
//!   of its content terms in one or two consecutive sentences of it. A kept sentence
//!   carries the byte span that supports it, an unsupported one is reported in
//!   [`AbstractiveSummary::dropped`]. Unlike answers, closeness in meaning (an
//!   embedder's cosine) does not count as support here: on the sample archive every
//!   sentence of the default model that passed by cosine but not by terms added a claim
//!   the document does not make ("a popular camping stove that has been recalled" from
//!   "is the Ember Mini one of them?").
//! - **Nothing to shorten.** A document no longer than the budget is its own summary:
//!   its sentences are returned as they are, without a call (a small model asked to
//!   summarize two sentences in three rewrites or embroiders them).
//!
//! Generation is greedy (temperature 0): a summary is reproducible, which is what makes
//! caching it honest.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use docket_ingest::Chunk;
use serde::{Deserialize, Serialize};

use super::Budget;
use crate::answer::{AnswerConfig, Source, Verifier, numbers, sentences};
use crate::error::{Error, Result};
use crate::text::{content_terms, sentence_spans, word_count};
use crate::{GenerateParams, Llm, Message, Prompt, quote};

/// Version of the prompts and of how a call is keyed. Bump it whenever a change makes
/// the model's earlier answers wrong to reuse (the wording of the prompts is hashed
/// anyway; this is for changes the prompt text does not show).
pub const PROMPT_VERSION: u32 = 2;

/// What the model is told in every call.
const SYSTEM: &str = "You summarize documents accurately, using only facts stated in the text.";

/// A piece may end at an anchor sentence once it is this share of the largest piece.
const MIN_PIECE_SHARE: f64 = 0.7;
/// One sentence in this many is an anchor (by hash): past the minimum, a piece ends
/// within a few sentences.
const ANCHOR_EVERY: u8 = 4;
/// Levels of grouped reduce before giving up: each level at least halves the partials
/// (see [`AbstractiveSummarizer::new`]), so this is never reached in practice.
const MAX_REDUCE_LEVELS: usize = 16;

/// Settings of the abstractive summarizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbstractiveConfig {
    /// Length of the final summary.
    #[serde(default = "AbstractiveConfig::default_budget")]
    pub budget: Budget,
    /// Largest piece of the document summarized in one call, in model tokens. Also the
    /// most partial summaries combined in one reduce call.
    #[serde(default = "AbstractiveConfig::default_piece_tokens")]
    pub piece_tokens: usize,
    /// Characters per model token, to turn token budgets into text lengths without a
    /// tokenizer (the HTTP backend has none).
    #[serde(default = "AbstractiveConfig::default_chars_per_token")]
    pub chars_per_token: f32,
    /// Sentences of each partial summary (of a piece, or of a group of partials).
    #[serde(default = "AbstractiveConfig::default_partial_sentences")]
    pub partial_sentences: usize,
    /// Most pieces of one document summarized: a longer document is summarized from
    /// this many pieces spread evenly over it (first and last included), so its calls
    /// stay bounded (pieces plus about a fifth as many reduce calls) however long it is.
    #[serde(default = "AbstractiveConfig::default_max_pieces")]
    pub max_pieces: usize,
    /// Most tokens generated for a partial summary.
    #[serde(default = "AbstractiveConfig::default_partial_max_tokens")]
    pub partial_max_tokens: usize,
    /// Most tokens generated for the final summary.
    #[serde(default = "AbstractiveConfig::default_final_max_tokens")]
    pub final_max_tokens: usize,
    /// Share of a summary sentence's content terms that must occur in its supporting
    /// span of the document.
    #[serde(default = "AbstractiveConfig::default_min_term_support")]
    pub min_term_support: f32,
    /// Keep paragraphs flagged as instructions to an assistant in what the model
    /// reads (see [`super::summary_context`]). Off by default.
    #[serde(default)]
    pub allow_flagged: bool,
}

impl AbstractiveConfig {
    pub fn default_budget() -> Budget {
        Budget::Sentences(3)
    }
    /// About 4,000 characters of English: the default 135M model reads that in a few
    /// seconds, and a paper's abstract, introduction and conclusion take two pieces.
    pub fn default_piece_tokens() -> usize {
        1024
    }
    /// SmolLM2's tokenizer gives 3.4 (notes with figures) to 4.7 (paper prose) characters
    /// per token; the low side keeps pieces within their budget.
    pub fn default_chars_per_token() -> f32 {
        3.5
    }
    pub fn default_partial_sentences() -> usize {
        3
    }
    /// About 110,000 characters, a 40-page report read whole; with the default model a
    /// few minutes per document at most.
    pub fn default_max_pieces() -> usize {
        32
    }
    pub fn default_partial_max_tokens() -> usize {
        160
    }
    pub fn default_final_max_tokens() -> usize {
        200
    }
    /// As for answers ([`AnswerConfig::default_min_term_support`]): a small model
    /// recombines the document's words into new claims, a faithful sentence copies most
    /// of its terms.
    pub fn default_min_term_support() -> f32 {
        AnswerConfig::default_min_term_support()
    }

    /// Largest piece, in bytes of text.
    pub fn piece_chars(&self) -> usize {
        (self.piece_tokens as f64 * f64::from(self.chars_per_token)) as usize
    }
}

impl Default for AbstractiveConfig {
    fn default() -> Self {
        AbstractiveConfig {
            budget: Self::default_budget(),
            piece_tokens: Self::default_piece_tokens(),
            chars_per_token: Self::default_chars_per_token(),
            partial_sentences: Self::default_partial_sentences(),
            max_pieces: Self::default_max_pieces(),
            partial_max_tokens: Self::default_partial_max_tokens(),
            final_max_tokens: Self::default_final_max_tokens(),
            min_term_support: Self::default_min_term_support(),
            allow_flagged: false,
        }
    }
}

/// The key of one LLM call in a [`SummaryCache`]: 64 hex digits of a blake3 hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The cache key of asking `model_id` to continue `prompt` with `params`: a hash of the
/// model, [`PROMPT_VERSION`], every parameter that changes the answer and the whole
/// prompt (roles and texts), each field length-prefixed so that no two different calls
/// hash the same bytes.
pub fn cache_key(model_id: &str, params: &GenerateParams, prompt: &Prompt) -> CacheKey {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"docket-summary");
    field(&PROMPT_VERSION.to_le_bytes());
    field(model_id.as_bytes());
    field(&(params.max_tokens as u64).to_le_bytes());
    field(&params.temperature.to_le_bytes());
    field(&params.top_p.to_le_bytes());
    field(&params.seed.to_le_bytes());
    field(&(params.stop.len() as u64).to_le_bytes());
    for s in &params.stop {
        field(s.as_bytes());
    }
    match prompt {
        Prompt::Chat(messages) => {
            field(b"chat");
            for m in messages {
                field(m.role.as_str().as_bytes());
                field(m.content.as_bytes());
            }
        }
        Prompt::Raw(text) => {
            field(b"raw");
            field(text.as_bytes());
        }
    }
    CacheKey(h.finalize().to_hex().to_string())
}

/// Where the model's answers are kept between runs, by [`CacheKey`].
pub trait SummaryCache: Send + Sync {
    /// The answer stored under `key`, if any.
    fn get(&self, key: &CacheKey) -> Result<Option<String>>;
    /// Store `text` under `key`, replacing what was there.
    fn put(&self, key: &CacheKey, text: &str) -> Result<()>;
}

/// A cache in a directory: one file per key (`ab/abcdef….txt`, fanned out by the first
/// two hex digits), written to a temporary file in the same directory and renamed into
/// place, so that a reader never sees half an answer and a killed run leaves none.
#[derive(Debug, Clone)]
pub struct DirCache {
    dir: PathBuf,
}

impl DirCache {
    /// A cache in `dir`, created on the first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        let k = key.as_str();
        self.dir.join(&k[..2]).join(format!("{k}.txt"))
    }
}

impl SummaryCache for DirCache {
    fn get(&self, key: &CacheKey) -> Result<Option<String>> {
        let path = self.path(key);
        match std::fs::read(&path) {
            // Not UTF-8 means not written by docket: a miss, overwritten by the next put.
            Ok(bytes) => Ok(String::from_utf8(bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn put(&self, key: &CacheKey, text: &str) -> Result<()> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        tmp.write_all(text.as_bytes())
            .map_err(|e| Error::io(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        Ok(())
    }
}

/// Folder of a [`DirCache`] that lists, per document id, the keys its summaries used.
const BY_DOCUMENT: &str = "by-document";

impl DirCache {
    /// This cache, noting under `doc_id` every key looked up or stored through it, so
    /// that [`DirCache::forget_document`] can drop the document's entries later: the
    /// keys are hashes of prompts, which cannot be traced back to a document otherwise.
    pub fn for_document(&self, doc_id: &str) -> DocumentCache<'_> {
        DocumentCache {
            cache: self,
            doc_id: doc_id.to_owned(),
        }
    }

    fn keys_file(&self, doc_id: &str) -> PathBuf {
        // Document ids are hex digests; anything else is hashed to stay one file name.
        let name = if doc_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            doc_id.to_owned()
        } else {
            blake3::hash(doc_id.as_bytes()).to_hex().to_string()
        };
        self.dir.join(BY_DOCUMENT).join(name)
    }

    /// Delete the entries a document's summaries used (noted by
    /// [`DirCache::for_document`]) and the list of them. An entry another document used
    /// too goes as well; that only costs asking the model again. Returns how many
    /// entries were deleted.
    pub fn forget_document(&self, doc_id: &str) -> Result<usize> {
        let list = self.keys_file(doc_id);
        let text = match std::fs::read_to_string(&list) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(list, e)),
        };
        let mut removed = 0;
        let keys: std::collections::BTreeSet<&str> = text.lines().collect();
        for k in keys {
            // Only what `cache_key` makes: 64 hex digits, so no line names another path.
            if k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let path = self.path(&CacheKey(k.to_owned()));
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        std::fs::remove_file(&list).map_err(|e| Error::io(&list, e))?;
        Ok(removed)
    }

    fn note(&self, doc_id: &str, key: &CacheKey) -> Result<()> {
        let list = self.keys_file(doc_id);
        let dir = list.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&list)
            .map_err(|e| Error::io(&list, e))?;
        writeln!(f, "{}", key.as_str()).map_err(|e| Error::io(&list, e))
    }
}

/// A [`DirCache`] seen from one document's summary: see [`DirCache::for_document`].
#[derive(Debug)]
pub struct DocumentCache<'a> {
    cache: &'a DirCache,
    doc_id: String,
}

impl SummaryCache for DocumentCache<'_> {
    fn get(&self, key: &CacheKey) -> Result<Option<String>> {
        let found = self.cache.get(key)?;
        if found.is_some() {
            self.cache.note(&self.doc_id, key)?;
        }
        Ok(found)
    }

    fn put(&self, key: &CacheKey, text: &str) -> Result<()> {
        // Noted before the entry exists: a crash between leaves a key to skip, never an
        // entry nobody can find to forget.
        self.cache.note(&self.doc_id, key)?;
        self.cache.put(key, text)
    }
}

/// A cache in memory, for one process (tests, or callers that keep their own store).
#[derive(Debug, Default)]
pub struct MemoryCache {
    map: Mutex<HashMap<CacheKey, String>>,
}

impl MemoryCache {
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, String>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SummaryCache for MemoryCache {
    fn get(&self, key: &CacheKey) -> Result<Option<String>> {
        Ok(self.lock().get(key).cloned())
    }

    fn put(&self, key: &CacheKey, text: &str) -> Result<()> {
        self.lock().insert(key.clone(), text.to_owned());
        Ok(())
    }
}

/// Whether a sentence may end a piece (once the piece is long enough): one in
/// [`ANCHOR_EVERY`], by a hash of its text, so the same sentence decides the same way
/// wherever it moves.
fn is_anchor(sentence: &str) -> bool {
    blake3::hash(sentence.as_bytes()).as_bytes()[0].is_multiple_of(ANCHOR_EVERY)
}

/// The sentences of `text` (byte ranges), with a sentence longer than `max` cut at the
/// last whitespace before `max` bytes (or at a character boundary if it has none).
fn units(text: &str, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for span in sentence_spans(text) {
        let mut start = span.start;
        while start < span.end && span.end - start > max {
            let mut cut = start + max;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let cut = match text[start..cut].rfind(char::is_whitespace) {
                Some(ws) if ws > 0 => start + ws,
                _ => cut.max(start + text[start..].chars().next().map_or(1, char::len_utf8)),
            };
            out.push(start..start + text[start..cut].trim_end().len());
            // Skip the whitespace after the cut, but never past the sentence's end.
            let rest = &text[cut..span.end];
            start = cut + rest.len() - rest.trim_start().len();
        }
        if start < span.end {
            out.push(start..span.end);
        }
    }
    out
}

/// Byte ranges of the pieces of `text`, in order: whole sentences (a sentence longer
/// than a piece is cut at whitespace), each piece at most `max_chars` bytes. A piece
/// ends at the first anchor sentence ([`is_anchor`]) after it reaches 70% of
/// `max_chars`, or where the next sentence would not fit; the last piece joins the one
/// before if both fit together. Text between sentences (blank lines) stays inside a
/// piece; whitespace before the first and after the last is left out.
pub fn pieces(text: &str, max_chars: usize) -> Vec<Range<usize>> {
    let max_chars = max_chars.max(1);
    let min_chars = (max_chars as f64 * MIN_PIECE_SHARE) as usize;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    for u in units(text, max_chars) {
        if let Some(s) = start
            && u.end - s > max_chars
        {
            out.push(s..end);
            start = None;
        }
        let s = *start.get_or_insert(u.start);
        end = u.end;
        if end - s >= min_chars && is_anchor(&text[u]) {
            out.push(s..end);
            start = None;
        }
    }
    if let Some(s) = start {
        out.push(s..end);
    }
    // A short tail that fits with the piece before it joins it: this only looks at the
    // end, so it moves no other cut, and a document that fits one piece is one piece.
    if let [.., prev, last] = out.as_slice()
        && last.end - prev.start <= max_chars
    {
        let merged = prev.start..last.end;
        out.pop();
        *out.last_mut().expect("two pieces") = merged;
    }
    out
}

/// Consecutive groups of items of byte lengths `lens` for reduce calls: each group's
/// items, joined by a blank line, fit `max_chars`, except that a group takes at least
/// two items even if two do not fit (so every level of reduce at least halves the
/// items). Only the last group may hold a single item.
pub fn groups(lens: &[usize], max_chars: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, &len) in lens.iter().enumerate() {
        let add = if i == start { len } else { len + 2 };
        if i - start >= 2 && used + add > max_chars {
            out.push(start..i);
            start = i;
            used = len;
        } else {
            used += add;
        }
    }
    if start < lens.len() {
        out.push(start..lens.len());
    }
    out
}

/// Openings of chatter a small model puts around its answer, as lowercase prefixes of a
/// sentence: the sentence is dropped.
const CHATTER: &[&str] = &[
    "the original text",
    "here is",
    "here's",
    "here are",
    "sure",
    "certainly",
    "of course",
    "i hope",
    "let me know",
    "i have summarized",
    "i've summarized",
    "note:",
];

/// Lead-ins of a summary sentence that are not part of the claim, as lowercase
/// prefixes: they are cut off and the rest kept.
const LEAD_INS: &[&str] = &[
    "summary:",
    "in summary,",
    "to summarize,",
    "to sum up,",
    "in conclusion,",
    "overall,",
];

/// Phrases of docket's own prompts, as lowercase: a sentence holding one repeats the
/// instructions instead of summarizing.
const ECHOES: &[&str] = &[
    "the text above",
    "the paragraphs above",
    "consecutive parts of one document",
];

/// Word stems of talk about the summary or about rewording the text ("This summary
/// has...", "The revised version is..."), as lowercase: a sentence holding one is about
/// the writing, not the document, unless the document uses the word itself.
const META: &[&str] = &["summar", "rephras", "rewrit", "revised", "reorganiz"];

/// Two sentences sharing this share of their content terms (Jaccard) say the same
/// thing: small models restate their first sentence with a new opening.
const REPEAT_JACCARD: f32 = 0.7;

/// Whether a sentence ends as a sentence does: with `.`, `!` or `?`, maybe followed by
/// a closing quote or bracket.
fn is_complete(s: &str) -> bool {
    s.trim_end_matches(['"', '\'', ')', ']', '”', '’'])
        .ends_with(['.', '!', '?'])
}

/// Words of a sentence lowercased, for telling repeats apart.
fn fingerprint(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sentences of a model's answer worth keeping: list markers and lead-ins ("In
/// summary,") cut off; chatter ("Here is a summary:"), headings and labels (ending in a
/// colon or with no final punctuation, which also drops a sentence cut off by the token
/// limit), fragments of fewer than three words and repeats dropped. Sentences that talk
/// about the summary or the rewording ([`META`]: "This summary has three sentences.")
/// are dropped unless `source` itself uses the word, and so are echoes of the prompt's
/// instructions and restatements of an earlier sentence (most of the same content
/// terms).
pub fn clean(answer: &str, source: &str) -> Vec<String> {
    let source_lower = source.to_lowercase();
    let meta: Vec<&str> = META
        .iter()
        .copied()
        .filter(|m| !source_lower.contains(m))
        .collect();
    let mut seen = HashSet::new();
    let mut kept_terms: Vec<HashSet<String>> = Vec::new();
    let mut out = Vec::new();
    for (_, raw) in sentences(answer) {
        let mut s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        // List markers: "-", "*", "•", "1.", "2)".
        loop {
            let t = s.trim_start_matches(['-', '*', '•', '#', ' ']);
            let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let t = if digits > 0 && t[digits..].starts_with(['.', ')']) {
                t[digits + 1..].trim_start()
            } else {
                t
            };
            if t.len() == s.len() {
                break;
            }
            s = t.to_owned();
        }
        let lower = s.to_lowercase();
        if CHATTER.iter().any(|c| lower.starts_with(c)) {
            continue;
        }
        if let Some(lead) = LEAD_INS.iter().find(|l| lower.starts_with(*l)) {
            s = s[lead.len()..].trim_start().to_owned();
            if let Some(first) = s.chars().next() {
                s = first.to_uppercase().chain(s.chars().skip(1)).collect();
            }
        }
        if s.ends_with(':') || !is_complete(&s) || word_count(&s) < 3 {
            continue;
        }
        let lower = s.to_lowercase();
        if meta.iter().any(|m| lower.contains(m)) || ECHOES.iter().any(|e| lower.contains(e)) {
            continue;
        }
        if !seen.insert(fingerprint(&s)) {
            continue;
        }
        let terms: HashSet<String> = content_terms(&s).into_iter().collect();
        let repeat = kept_terms.iter().any(|k| {
            let union = k.union(&terms).count().max(1);
            k.intersection(&terms).count() as f32 / union as f32 >= REPEAT_JACCARD
        });
        if !repeat {
            kept_terms.push(terms);
            out.push(s);
        }
    }
    out
}

/// The span of the document that supports a summary sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Byte range in the document text: `&text[start..end] == self.text`.
    pub start: usize,
    pub end: usize,
    /// Page of `start` (1-based; pages are separated by form feeds in the text).
    pub page: u32,
    pub text: String,
    /// Share of the sentence's content terms found in the span.
    pub term_support: f32,
}

/// One sentence of an abstractive summary, checked against the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryClaim {
    pub text: String,
    pub supported: bool,
    /// The best supporting span (also for an unsupported sentence: the closest one).
    pub support: Option<Evidence>,
    /// Why it is not supported.
    pub note: Option<String>,
}

/// An abstractive summary and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbstractiveSummary {
    /// The kept sentences, in the model's order, within the budget.
    pub sentences: Vec<SummaryClaim>,
    /// Sentences the document does not support, left out.
    pub dropped: Vec<SummaryClaim>,
    /// The model's final answer as cleaned, before the check: what the summary would
    /// be if nothing were dropped (to measure what checking costs).
    pub draft: Vec<String>,
    /// The model that wrote it.
    pub model: String,
    /// Pieces the document was cut into (1: one call summarized it whole; 0: none,
    /// see `verbatim`).
    pub pieces: usize,
    /// Pieces summarized: all of them, or [`AbstractiveConfig::max_pieces`] spread over
    /// a longer document.
    pub pieces_read: usize,
    /// The document is no longer than the budget, so its own sentences are the summary
    /// and the model was not asked.
    pub verbatim: bool,
    /// Calls made to the model.
    pub llm_calls: usize,
    /// Calls answered from the cache instead.
    pub cache_hits: usize,
}

impl AbstractiveSummary {
    /// The kept sentences joined by spaces.
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self.sentences.iter().map(|s| s.text.as_str()).collect();
        parts.join(" ")
    }
}

/// Calls and cache hits of one summary.
#[derive(Debug, Default)]
struct Tally {
    calls: usize,
    hits: usize,
}

/// Map-reduce summarizer over an [`Llm`]; see the module docs.
pub struct AbstractiveSummarizer<'a> {
    llm: &'a dyn Llm,
    config: AbstractiveConfig,
    cache: Option<&'a dyn SummaryCache>,
}

impl std::fmt::Debug for AbstractiveSummarizer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbstractiveSummarizer")
            .field("llm", &self.llm.model_id())
            .field("config", &self.config)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

impl<'a> AbstractiveSummarizer<'a> {
    /// A summarizer without a cache; the settings are checked here once.
    pub fn new(llm: &'a dyn Llm, config: AbstractiveConfig) -> Result<Self> {
        let bad = |name, reason: String| Err(Error::Setting { name, reason });
        if matches!(config.budget, Budget::Sentences(0) | Budget::Words(0)) {
            return bad("budget", "must allow at least one sentence or word".into());
        }
        if config.partial_sentences == 0 || config.partial_max_tokens == 0 {
            return bad(
                "partial_sentences",
                "partial summaries need at least one sentence and one token".into(),
            );
        }
        if config.final_max_tokens == 0 {
            return bad("final_max_tokens", "must be at least 1".into());
        }
        if config.max_pieces == 0 {
            return bad("max_pieces", "must be at least 1".into());
        }
        if !(config.chars_per_token > 0.0 && config.chars_per_token.is_finite()) {
            return bad(
                "chars_per_token",
                format!("{} is not a positive number", config.chars_per_token),
            );
        }
        // Two of the longest partials must fit one reduce call, or grouping would not
        // shrink the partials level by level.
        if config.piece_tokens < 2 * config.partial_max_tokens + 16 {
            return bad(
                "piece_tokens",
                format!(
                    "{} is too small for two partial summaries of {} tokens (at least {})",
                    config.piece_tokens,
                    config.partial_max_tokens,
                    2 * config.partial_max_tokens + 16
                ),
            );
        }
        if !(0.0..=1.0).contains(&config.min_term_support) {
            return bad(
                "min_term_support",
                format!("{} is outside 0..=1", config.min_term_support),
            );
        }
        Ok(AbstractiveSummarizer {
            llm,
            config,
            cache: None,
        })
    }

    /// Look calls up in `cache` first, and store what the model answers.
    pub fn with_cache(mut self, cache: &'a dyn SummaryCache) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn config(&self) -> &AbstractiveConfig {
        &self.config
    }

    /// The model that writes the summaries.
    pub fn model_id(&self) -> &str {
        self.llm.model_id()
    }

    /// Summarize `text`. A document without a sentence gets an empty summary, and one
    /// within the budget itself (see [`AbstractiveSummary::verbatim`]), without a call.
    pub fn summarize(&self, text: &str) -> Result<AbstractiveSummary> {
        let context = super::summary_context(text, self.config.allow_flagged);
        let text = &*context;
        if let Some(own) = self.verbatim(text) {
            return Ok(own);
        }
        let mut tally = Tally::default();
        let pieces = pieces(text, self.config.piece_chars());
        let total = pieces.len();
        let pieces = super::spread(pieces, self.config.max_pieces);
        let draft = match pieces.as_slice() {
            [] => String::new(),
            [one] => self.ask(
                &text[one.clone()],
                self.config.budget,
                self.config.final_max_tokens,
                false,
                &mut tally,
            )?,
            many => {
                let mut partials = Vec::with_capacity(many.len());
                for r in many {
                    let piece = &text[r.clone()];
                    let answer = self.ask(
                        piece,
                        Budget::Sentences(self.config.partial_sentences),
                        self.config.partial_max_tokens,
                        false,
                        &mut tally,
                    )?;
                    partials.push(clean(&answer, piece).join(" "));
                }
                self.reduce(partials, text, &mut tally)?
            }
        };
        let draft = clean(&draft, text);
        let (sentences, dropped) = self.check(&draft, text);
        Ok(AbstractiveSummary {
            sentences,
            dropped,
            draft,
            model: self.llm.model_id().to_owned(),
            pieces: total,
            pieces_read: pieces.len(),
            verbatim: false,
            llm_calls: tally.calls,
            cache_hits: tally.hits,
        })
    }

    /// The document as its own summary, if it is no longer than the budget.
    fn verbatim(&self, text: &str) -> Option<AbstractiveSummary> {
        let own = sentences(text);
        let short = match self.config.budget {
            Budget::Sentences(k) => own.len() <= k,
            Budget::Words(w) => word_count(text) <= w,
        };
        short.then(|| AbstractiveSummary {
            draft: own
                .iter()
                .map(|(_, s)| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect(),
            sentences: own
                .into_iter()
                .map(|(r, s)| SummaryClaim {
                    text: s.split_whitespace().collect::<Vec<_>>().join(" "),
                    supported: true,
                    support: Some(Evidence {
                        start: r.start,
                        end: r.end,
                        page: page_of(text, r.start),
                        text: s.to_owned(),
                        term_support: 1.0,
                    }),
                    note: None,
                })
                .collect(),
            dropped: Vec::new(),
            model: self.llm.model_id().to_owned(),
            pieces: 0,
            pieces_read: 0,
            verbatim: true,
            llm_calls: 0,
            cache_hits: 0,
        })
    }

    /// Combine partial summaries into the final answer, in groups while they do not fit
    /// one call.
    fn reduce(&self, partials: Vec<String>, text: &str, tally: &mut Tally) -> Result<String> {
        let max = self.config.piece_chars();
        let mut level: Vec<String> = partials.into_iter().filter(|p| !p.is_empty()).collect();
        for _ in 0..MAX_REDUCE_LEVELS {
            if level.is_empty() {
                return Ok(String::new());
            }
            let joined = level.join("\n\n");
            if level.len() == 1 || joined.len() <= max {
                return self.ask(
                    &joined,
                    self.config.budget,
                    self.config.final_max_tokens,
                    level.len() > 1,
                    tally,
                );
            }
            let lens: Vec<usize> = level.iter().map(String::len).collect();
            let mut next = Vec::new();
            for g in groups(&lens, max) {
                // A group of one (the last) goes up a level as it is.
                if g.len() == 1 {
                    next.push(level[g.start].clone());
                    continue;
                }
                let input = level[g].join("\n\n");
                let answer = self.ask(
                    &input,
                    Budget::Sentences(self.config.partial_sentences),
                    self.config.partial_max_tokens,
                    true,
                    tally,
                )?;
                let cleaned = clean(&answer, text).join(" ");
                if !cleaned.is_empty() {
                    next.push(cleaned);
                }
            }
            level = next;
        }
        Err(Error::Internal {
            reason: format!("reduce did not converge in {MAX_REDUCE_LEVELS} levels"),
        })
    }

    /// One call: summarize `input` (a piece of the document, or partial summaries of
    /// consecutive parts when `combine`) to `budget`, from the cache if it is there.
    fn ask(
        &self,
        input: &str,
        budget: Budget,
        max_tokens: usize,
        combine: bool,
        tally: &mut Tally,
    ) -> Result<String> {
        let prompt = prompt(input, budget, combine);
        let params = GenerateParams {
            max_tokens,
            ..GenerateParams::default()
        };
        let key = cache_key(self.llm.model_id(), &params, &prompt);
        if let Some(cache) = self.cache
            && let Some(text) = cache.get(&key)?
        {
            tally.hits += 1;
            return Ok(text);
        }
        let completion = self.llm.complete(&prompt, &params)?;
        tally.calls += 1;
        if let Some(cache) = self.cache {
            cache.put(&key, &completion.text)?;
        }
        Ok(completion.text)
    }

    /// Check each sentence against the document: (kept within the budget, dropped).
    fn check(&self, draft: &[String], text: &str) -> (Vec<SummaryClaim>, Vec<SummaryClaim>) {
        let config = AnswerConfig {
            min_term_support: self.config.min_term_support,
            ..AnswerConfig::default()
        };
        let verifier = Verifier {
            config: &config,
            analyze: &content_terms,
            embedder: None,
            weights: None,
        };
        let source = [Source {
            n: 1,
            chunk: whole_document(text),
        }];
        let doc_numbers = numbers(text);
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut words = 0;
        for sentence in draft {
            // A sentence of fewer than two content terms states nothing to check.
            if content_terms(sentence).len() < 2 {
                continue;
            }
            let found = verifier.support(sentence, &source);
            let supported = found.as_ref().is_some_and(|(_, ok)| *ok);
            let support = found.map(|(s, _)| Evidence {
                start: s.start,
                end: s.end,
                page: s.page,
                text: s.text,
                term_support: s.term_support,
            });
            let note = (!supported).then(|| {
                let missing: Vec<String> = numbers(sentence)
                    .into_iter()
                    .filter(|n| !doc_numbers.contains(n))
                    .collect();
                if missing.is_empty() {
                    format!(
                        "not supported by the document (the closest span has {:.0}% of its terms)",
                        100.0 * support.as_ref().map_or(0.0, |s| s.term_support)
                    )
                } else {
                    format!(
                        "states numbers the document does not: {}",
                        missing.join(", ")
                    )
                }
            });
            let claim = SummaryClaim {
                text: sentence.clone(),
                supported,
                support,
                note,
            };
            if !supported {
                dropped.push(claim);
                continue;
            }
            let fits = match self.config.budget {
                Budget::Sentences(k) => kept.len() < k,
                Budget::Words(w) => kept.is_empty() || words + word_count(sentence) <= w,
            };
            if fits {
                words += word_count(sentence);
                kept.push(claim);
            }
        }
        (kept, dropped)
    }
}

/// The prompt asking for a summary of `input` to `budget`: of a text, or (`combine`) of
/// summaries of consecutive parts of one document.
fn prompt(input: &str, budget: Budget, combine: bool) -> Prompt {
    let length = match budget {
        Budget::Sentences(1) => "one sentence".to_owned(),
        Budget::Sentences(k) => format!("{k} sentences"),
        Budget::Words(w) => format!("at most {w} words"),
    };
    // Quoted, so that the document (or what the model made of it) cannot speak as the
    // prompt's author (see `crate::quote`).
    let user = if combine {
        format!(
            "{}\n\nThe quoted paragraphs summarize consecutive parts of one document. \
             Summarize the whole document in {length}.",
            quote::quoted("summaries", input)
        )
    } else {
        format!(
            "{}\n\nSummarize the quoted text in {length}.",
            quote::quoted("document", input)
        )
    };
    let system = format!("{SYSTEM} {}", quote::DATA_RULE);
    Prompt::Chat(vec![Message::system(system), Message::user(user)])
}

/// The page (1-based) of byte `offset` of `text`, counting form feeds.
fn page_of(text: &str, offset: usize) -> u32 {
    1 + text[..offset]
        .matches(docket_ingest::document::PAGE_BREAK)
        .count() as u32
}

/// The whole document as one source for the [`Verifier`]: offsets into it are offsets
/// into the document, and its form feeds count pages.
fn whole_document(text: &str) -> Chunk {
    let pages = 1 + text.matches(docket_ingest::document::PAGE_BREAK).count() as u32;
    Chunk {
        id: "document".into(),
        doc_id: "document".into(),
        ordinal: 0,
        text: text.to_owned(),
        start: 0,
        end: text.len(),
        page_start: 1,
        page_end: pages,
        heading_path: Vec::new(),
        token_count: 0,
        source: "document".into(),
        title: None,
        format: docket_ingest::Format::Text,
        metadata: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Completion, ContinuationScore, FinishReason};
    use std::ops::ControlFlow;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A document of `n` distinct sentences about numbered widgets.
    fn doc(n: usize) -> String {
        (0..n)
            .map(|i| format!("Widget number {i} is made of steel and painted blue by the team."))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn pieces_cover_the_text_in_order_within_the_budget() {
        let text = format!("{}\n\nA heading\n{}", doc(40), doc(30));
        for max in [200, 500, 1000, 5000] {
            let ps = pieces(&text, max);
            assert!(!ps.is_empty());
            let mut last = 0;
            for p in &ps {
                assert!(p.start >= last, "in order");
                assert!(p.len() <= max, "{} > {max}", p.len());
                // Between pieces there is only whitespace.
                assert!(text[last..p.start].trim().is_empty());
                last = p.end;
                // Pieces end where sentences end.
                assert!(sentence_spans(&text).iter().any(|s| s.end == p.end));
            }
            assert_eq!(text[last..].trim(), "");
            assert_eq!(ps[0].start, 0);
        }
        assert_eq!(pieces(&text, 1_000_000).len(), 1);
        assert_eq!(pieces(&text, text.len()), vec![0..text.trim_end().len()]);
        assert!(pieces("  \n ", 100).is_empty());
    }

    #[test]
    fn an_over_long_sentence_is_cut_at_whitespace() {
        let text = "word ".repeat(100);
        let ps = pieces(text.trim(), 64);
        assert!(ps.len() > 5);
        for p in &ps {
            assert!(p.len() <= 64);
            let s = &text[p.clone()];
            assert!(s.starts_with("word") && s.ends_with("word"), "{s:?}");
        }
        // Multibyte text without spaces is cut at character boundaries.
        let text = "é".repeat(100);
        for p in pieces(&text, 33) {
            assert!(text.is_char_boundary(p.start) && text.is_char_boundary(p.end));
            assert!(p.len() <= 33);
        }
    }

    #[test]
    fn an_edit_moves_no_cut_but_its_own_pieces() {
        let text = doc(120);
        let before = pieces(&text, 600);
        assert!(before.len() >= 6, "{}", before.len());
        // Lengthen a sentence in the middle of the third piece.
        let at = text[before[2].clone()].find("Widget number").unwrap() + before[2].start;
        let mut edited = text.clone();
        edited.insert_str(at, "The new ");
        let after = pieces(&edited, 600);
        let slices = |t: &str, ps: &[Range<usize>]| -> Vec<String> {
            ps.iter().map(|p| t[p.clone()].to_owned()).collect()
        };
        let (a, b) = (slices(&text, &before), slices(&edited, &after));
        let changed: Vec<usize> = (0..b.len()).filter(|i| !a.contains(&b[*i])).collect();
        assert_eq!(a.len(), b.len());
        assert_eq!(changed, [2], "only the edited piece differs");
    }

    #[test]
    fn groups_fit_the_budget_and_always_make_progress() {
        assert_eq!(groups(&[10, 10, 10, 10], 100), vec![0..4]);
        assert_eq!(groups(&[40, 40, 40, 40], 100), [0..2, 2..4]);
        // Only the last group may be a single item.
        assert_eq!(groups(&[40, 40, 40], 100), [0..2, 2..3]);
        // Items too long to pair within the budget are still paired.
        assert_eq!(groups(&[90, 90, 90, 90], 100), [0..2, 2..4]);
        assert_eq!(groups(&[5], 100), vec![0..1]);
        for lens in [vec![30; 17], vec![70, 10, 10, 60, 60, 5, 90, 1]] {
            let g = groups(&lens, 100);
            assert!(g.len() * 2 <= lens.len() + 1, "{g:?}");
            assert_eq!(g.first().unwrap().start, 0);
            assert_eq!(g.last().unwrap().end, lens.len());
            assert!(g.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn a_documents_cache_entries_are_forgotten_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DirCache::new(dir.path());
        let params = GenerateParams::default();
        let key = |t: &str| cache_key("m", &params, &Prompt::Raw(t.into()));
        let (a, b) = (cache.for_document("aaaa"), cache.for_document("bbbb"));
        a.put(&key("secret"), "the secret summary").unwrap();
        b.put(&key("public"), "the public summary").unwrap();
        assert_eq!(cache.forget_document("aaaa").unwrap(), 1);
        assert_eq!(cache.get(&key("secret")).unwrap(), None);
        assert_eq!(
            cache.get(&key("public")).unwrap().as_deref(),
            Some("the public summary")
        );
        assert_eq!(cache.forget_document("aaaa").unwrap(), 0);
        // A hit through another document notes the key under it too.
        a.put(&key("shared"), "shared").unwrap();
        assert!(b.get(&key("shared")).unwrap().is_some());
        assert_eq!(cache.forget_document("bbbb").unwrap(), 2);
        assert_eq!(cache.get(&key("shared")).unwrap(), None);
    }

    #[test]
    fn cache_keys_change_with_every_input_and_are_stable() {
        let p = Prompt::Chat(vec![Message::system("S"), Message::user("text")]);
        let params = GenerateParams::default();
        let k = cache_key("m", &params, &p);
        // Pinned: a change here must come with a PROMPT_VERSION bump.
        assert_eq!(
            k.as_str(),
            "0001358d93b74550ae4e869dffb9ba5cb6eb1a5d3ca33a37249a693e2da325d5"
        );
        assert_eq!(k, cache_key("m", &params, &p));
        let others = [
            cache_key("m2", &params, &p),
            cache_key(
                "m",
                &GenerateParams {
                    max_tokens: 7,
                    ..params.clone()
                },
                &p,
            ),
            cache_key(
                "m",
                &GenerateParams {
                    seed: 1,
                    ..params.clone()
                },
                &p,
            ),
            cache_key(
                "m",
                &params,
                &Prompt::Chat(vec![Message::system("S"), Message::user("text!")]),
            ),
            cache_key(
                "m",
                &params,
                &Prompt::Chat(vec![Message::user("S"), Message::user("text")]),
            ),
            // Field boundaries count: "Ste" + "xt" is not "S" + "text".
            cache_key(
                "m",
                &params,
                &Prompt::Chat(vec![Message::system("Ste"), Message::user("xt")]),
            ),
            cache_key("m", &params, &Prompt::Raw("Stext".into())),
        ];
        for o in &others {
            assert_ne!(&k, o);
        }
    }

    #[test]
    fn dir_cache_round_trips_and_leaves_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = DirCache::new(tmp.path().join("c"));
        let k = cache_key("m", &GenerateParams::default(), &Prompt::user("x"));
        assert_eq!(cache.get(&k).unwrap(), None);
        cache.put(&k, "first").unwrap();
        cache.put(&k, "second ✓").unwrap();
        assert_eq!(cache.get(&k).unwrap().as_deref(), Some("second ✓"));
        let sub = tmp.path().join("c").join(&k.as_str()[..2]);
        let files: Vec<_> = std::fs::read_dir(&sub).unwrap().collect();
        assert_eq!(files.len(), 1, "one file per key, no temporary left");
        // A damaged file is a miss, not an error.
        std::fs::write(sub.join(format!("{}.txt", k.as_str())), [0xff, 0xfe]).unwrap();
        assert_eq!(cache.get(&k).unwrap(), None);
    }

    #[test]
    fn clean_keeps_complete_sentences_without_chatter_or_repeats() {
        let answer = "Here is a summary of the text:\n\n\
            - The plant makes 3,400 orders a day.\n\
            - The plant makes 3,400 orders a day.\n\
            2. In summary, weekend shifts run until December.\n\
            Peak season plan\n\n\
            The paragraphs above summarize the whole document in 3 sentences. \
            Also, weekend shifts run until December. \
            This summary has three sentences. The last one is cut";
        assert_eq!(
            clean(answer, "document text"),
            [
                "The plant makes 3,400 orders a day.",
                "Weekend shifts run until December."
            ]
        );
    }

    /// A deterministic stand-in model: answers with the first sentence of the user
    /// message, and counts its calls.
    #[derive(Debug, Default)]
    struct FirstSentence {
        calls: AtomicUsize,
    }

    impl Llm for FirstSentence {
        fn model_id(&self) -> &str {
            "first-sentence"
        }
        fn generate(
            &self,
            prompt: &Prompt,
            _: &GenerateParams,
            _: &mut dyn FnMut(&str) -> ControlFlow<()>,
        ) -> Result<Completion> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let Prompt::Chat(m) = prompt else {
                unreachable!()
            };
            let user = &m.last().unwrap().content;
            // The quoted text, after its opening marker.
            let body = user.split_once(">>>\n").map_or(user.as_str(), |(_, b)| b);
            let first = sentences(body).first().map_or("", |(_, s)| *s).to_owned();
            Ok(Completion {
                text: format!("Sure! Here is the summary:\n{first}"),
                finish: FinishReason::Stop,
                prompt_tokens: 0,
                completion_tokens: 0,
            })
        }
        fn score(&self, _: &Prompt, _: &[&str]) -> Result<Vec<ContinuationScore>> {
            unreachable!()
        }
    }

    fn small() -> AbstractiveConfig {
        AbstractiveConfig {
            piece_tokens: 150,
            chars_per_token: 4.0,
            partial_max_tokens: 60,
            ..AbstractiveConfig::default()
        }
    }

    #[test]
    fn a_long_document_reads_at_most_max_pieces_spread_over_it() {
        let llm = FirstSentence::default();
        let cfg = AbstractiveConfig {
            max_pieces: 3,
            ..small()
        };
        let s = AbstractiveSummarizer::new(&llm, cfg).unwrap();
        let text = doc(200);
        let n = pieces(&text, small().piece_chars()).len();
        assert!(n > 10, "{n}");
        let out = s.summarize(&text).unwrap();
        assert_eq!((out.pieces, out.pieces_read), (n, 3));
        // Three piece calls and one reduce, whatever the length.
        assert_eq!(out.llm_calls, 4);
        let zero = AbstractiveConfig {
            max_pieces: 0,
            ..small()
        };
        assert!(AbstractiveSummarizer::new(&llm, zero).is_err());
    }

    #[test]
    fn map_reduce_calls_once_per_piece_and_the_cache_saves_every_call() {
        let llm = FirstSentence::default();
        let cache = MemoryCache::default();
        let s = AbstractiveSummarizer::new(&llm, small())
            .unwrap()
            .with_cache(&cache);
        let text = doc(40);
        let n = pieces(&text, small().piece_chars()).len();
        assert!(n >= 4, "{n}");
        let first = s.summarize(&text).unwrap();
        assert_eq!(first.pieces, n);
        // One call per piece, one final reduce (the partials are short enough).
        assert_eq!(first.llm_calls, n + 1);
        assert_eq!(first.cache_hits, 0);
        assert_eq!(first.sentences.len(), 1, "{first:#?}");
        let kept = &first.sentences[0];
        assert!(kept.supported);
        let ev = kept.support.as_ref().unwrap();
        assert_eq!(&text[ev.start..ev.end], ev.text);
        assert_eq!(
            kept.text,
            "Widget number 0 is made of steel and painted blue by the team."
        );

        let again = s.summarize(&text).unwrap();
        assert_eq!((again.llm_calls, again.cache_hits), (0, n + 1));
        assert_eq!(again.sentences, first.sentences);
        assert_eq!(llm.calls.load(Ordering::SeqCst), n + 1);
    }

    #[test]
    fn a_changed_piece_redoes_that_piece_and_the_reduce() {
        let llm = FirstSentence::default();
        let cache = MemoryCache::default();
        let s = AbstractiveSummarizer::new(&llm, small())
            .unwrap()
            .with_cache(&cache);
        let text = doc(40);
        let ps = pieces(&text, small().piece_chars());
        s.summarize(&text).unwrap();
        // Change the first sentence of the second piece, which its summary quotes.
        let edited = format!(
            "{}{}",
            &text[..ps[1].start],
            text[ps[1].start..].replacen("steel", "bronze", 1)
        );
        let again = s.summarize(&edited).unwrap();
        assert_eq!(again.pieces, ps.len());
        assert_eq!(again.llm_calls, 2, "the piece and the final reduce");
        assert_eq!(again.cache_hits, ps.len() - 1);
    }

    #[test]
    fn unsupported_sentences_are_dropped_with_a_reason() {
        let text = doc(5);
        // An LLM that answers with one true and two false sentences.
        let s = AbstractiveSummarizer::new(
            &crate::testing::FixedReply(
                "Widget number 3 is made of steel and painted blue by the team. \
                 Widget number 77 is made of steel. \
                 The widgets are loved by penguins in Antarctica.",
            ),
            AbstractiveConfig::default(),
        )
        .unwrap();
        let out = s.summarize(&text).unwrap();
        assert_eq!(out.pieces, 1);
        assert_eq!(out.llm_calls, 1);
        assert_eq!(out.sentences.len(), 1);
        let ev = out.sentences[0].support.as_ref().unwrap();
        assert_eq!(
            ev.text,
            "Widget number 3 is made of steel and painted blue by the team."
        );
        assert_eq!(&text[ev.start..ev.end], ev.text);
        assert_eq!(out.dropped.len(), 2);
        assert!(out.dropped[0].note.as_deref().unwrap().contains("77"));
        assert!(
            out.dropped[1]
                .note
                .as_deref()
                .unwrap()
                .contains("not supported")
        );
    }

    #[test]
    fn a_document_within_the_budget_is_its_own_summary() {
        let llm = FirstSentence::default();
        let text = "Widget number 1 is blue.\nIt ships\nin May.";
        let s = AbstractiveSummarizer::new(&llm, AbstractiveConfig::default()).unwrap();
        let out = s.summarize(text).unwrap();
        assert!(out.verbatim);
        assert_eq!((out.llm_calls, out.pieces), (0, 0));
        assert_eq!(llm.calls.load(Ordering::SeqCst), 0);
        let got: Vec<&str> = out.sentences.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(got, ["Widget number 1 is blue.", "It ships in May."]);
        let ev = out.sentences[1].support.as_ref().unwrap();
        assert_eq!(&text[ev.start..ev.end], "It ships\nin May.");
        // One sentence more than the budget, and the model is asked.
        let longer = format!("{text} {}", doc(2));
        assert!(!s.summarize(&longer).unwrap().verbatim);
        assert_eq!(llm.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let llm = FirstSentence::default();
        for bad in [
            AbstractiveConfig {
                budget: Budget::Words(0),
                ..AbstractiveConfig::default()
            },
            AbstractiveConfig {
                piece_tokens: 100,
                partial_max_tokens: 60,
                ..AbstractiveConfig::default()
            },
            AbstractiveConfig {
                chars_per_token: 0.0,
                ..AbstractiveConfig::default()
            },
        ] {
            assert!(matches!(
                AbstractiveSummarizer::new(&llm, bad),
                Err(Error::Setting { .. })
            ));
        }
        let json = r#"{"budget": {"words": 40}, "piece_tokens": 512}"#;
        let c: AbstractiveConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.budget, Budget::Words(40));
        assert_eq!(c.partial_sentences, 3);
        assert!(serde_json::from_str::<AbstractiveConfig>(r#"{"piece_token": 5}"#).is_err());
    }
}
