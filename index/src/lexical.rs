//! The BM25 leg of retrieval: a lexical index of chunks on tantivy, persisted in a
//! directory (by convention [`DIR_NAME`] under an index directory).
//!
//! Chunk text, title and heading path are analyzed with one configurable analyzer
//! (English Snowball stemming and Lucene's English stopwords by default) and scored as
//! one field, `body` (title, headings, then text), the "flat" layout of the standard BM25
//! baselines; title and headings also have fields of their own for an optional extra
//! boost. Chunk id, doc
//! id, source and format are indexed raw so deletes and filters match them exactly, and
//! ingest metadata goes into a JSON field so a filter on any metadata key is an exact
//! term lookup. Every field of the chunk is stored, so a hit can be shown (and
//! highlighted) without another store.
//!
//! Each chunk's body is analysed in the chunk's own language (the `lang` ingest detected,
//! see [`Analyzers`]) when [`AnalyzerConfig::per_language`] is on: German chunks with
//! the German stemmer and stop words, Russian ones with the Russian, and chunks of no
//! known language with the configured one. One body field holds every language, so BM25
//! statistics stay those of the whole index, and a query is analysed in every language
//! the index holds, its terms being the union (a term made by two languages' analyzers
//! counts once): a Russian question finds the Russian chunks whatever its inflection,
//! and an index of English chunks only analyses queries exactly as before.
//!
//! Queries are plain text, never query syntax: the text is run through the same analyzer
//! and every resulting term is an optional clause, so user input cannot fail to parse
//! and a term repeated in the query weighs more, as in BM25's bag-of-words definition.
//! Filters are required, zero-scoring clauses of the same query, so they restrict the
//! candidates before the top `k` are taken (no post-filtering shortfall).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use docket_ingest::{Chunk, Format};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::directory::error::LockError;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, OwnedValue, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, PreTokenizedString, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term,
};

use crate::error::{Error, Result};
use crate::filter::{Filter, Hit, SourceMatcher};

/// Conventional name of the BM25 directory inside an index directory.
pub const DIR_NAME: &str = "bm25";

/// File in the BM25 directory that records the analyzer the index was built with.
const SETTINGS_FILE: &str = "docket-bm25.json";

/// Name under which the analyzer is registered with tantivy (recorded in the schema).
const ANALYZER: &str = "docket_text";

/// Tokens longer than this many bytes (base64 blobs, URLs glued to text) are dropped:
/// they are never typed in a query and only bloat the term dictionary.
const MAX_TOKEN_BYTES: usize = 40;

const F_CHUNK_ID: &str = "chunk_id";
const F_DOC_ID: &str = "doc_id";
const F_TEXT: &str = "text";
const F_BODY: &str = "body";
const F_TITLE: &str = "title";
const F_HEADING: &str = "heading";
const F_SOURCE: &str = "source";
const F_FORMAT: &str = "format";
const F_METADATA: &str = "metadata";
const F_ORDINAL: &str = "ordinal";
const F_START: &str = "start";
const F_END: &str = "end";
const F_PAGE_START: &str = "page_start";
const F_PAGE_END: &str = "page_end";
const F_TOKEN_COUNT: &str = "token_count";

/// A lexical (BM25) index of chunks. Writes become visible to searches only after
/// [`commit`](LexicalIndex::commit); a crash before it loses them, never half of them.
pub trait LexicalIndex: Send + Sync {
    /// Queue chunks for indexing.
    fn add(&self, chunks: &[Chunk]) -> Result<()>;

    /// Queue the removal of every chunk of a document. Chunks of that document added
    /// after this call (before or after the next commit) are kept, so delete then add is
    /// a replacement.
    fn delete_document(&self, doc_id: &str) -> Result<()>;

    /// Replace all chunks of `doc_id` by `chunks` (at the next commit).
    fn replace_document(&self, doc_id: &str, chunks: &[Chunk]) -> Result<()> {
        self.delete_document(doc_id)?;
        self.add(chunks)
    }

    /// Make every queued change durable and visible, atomically; also makes visible what
    /// other writers (processes) committed since.
    fn commit(&self) -> Result<()>;

    /// Drop every change queued since the last commit.
    fn rollback(&self) -> Result<()>;

    /// The `k` best chunks for a plain-text query among those matching `filter`, best
    /// first. A query without any searchable term (only stopwords, punctuation) has no
    /// hits.
    fn search(&self, query: &str, k: usize, filter: &Filter) -> Result<Vec<Hit>>;

    /// The best fragment (about `max_chars` long) of a chunk's text for a query, with the
    /// query's terms marked; `None` if the chunk is not in the index.
    fn snippet(&self, query: &str, chunk_id: &str, max_chars: usize) -> Result<Option<Snippet>>;

    /// The stored chunk with this id, if indexed.
    fn chunk(&self, chunk_id: &str) -> Result<Option<Chunk>>;

    /// Number of committed chunks.
    fn count(&self) -> Result<u64>;
}

/// Languages the text analyzer can stem (Snowball) and, for most, remove stopwords of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Language {
    Arabic,
    Danish,
    Dutch,
    English,
    Finnish,
    French,
    German,
    Greek,
    Hungarian,
    Italian,
    Norwegian,
    Portuguese,
    Romanian,
    Russian,
    Spanish,
    Swedish,
    Tamil,
    Turkish,
}

impl Language {
    /// Every language, in declaration order.
    pub const ALL: [Language; 18] = [
        Language::Arabic,
        Language::Danish,
        Language::Dutch,
        Language::English,
        Language::Finnish,
        Language::French,
        Language::German,
        Language::Greek,
        Language::Hungarian,
        Language::Italian,
        Language::Norwegian,
        Language::Portuguese,
        Language::Romanian,
        Language::Russian,
        Language::Spanish,
        Language::Swedish,
        Language::Tamil,
        Language::Turkish,
    ];

    /// The ISO 639-3 code ingest records in a chunk's `lang` (whatlang's codes).
    pub fn code(self) -> &'static str {
        match self {
            Language::Arabic => "ara",
            Language::Danish => "dan",
            Language::Dutch => "nld",
            Language::English => "eng",
            Language::Finnish => "fin",
            Language::French => "fra",
            Language::German => "deu",
            Language::Greek => "ell",
            Language::Hungarian => "hun",
            Language::Italian => "ita",
            Language::Norwegian => "nob",
            Language::Portuguese => "por",
            Language::Romanian => "ron",
            Language::Russian => "rus",
            Language::Spanish => "spa",
            Language::Swedish => "swe",
            Language::Tamil => "tam",
            Language::Turkish => "tur",
        }
    }

    /// The language of an ISO 639-3 code; `None` for the languages tantivy has no
    /// stemmer for.
    pub fn from_code(code: &str) -> Option<Language> {
        match code {
            "nno" | "nor" => Some(Language::Norwegian),
            _ => Self::ALL.into_iter().find(|l| l.code() == code),
        }
    }

    fn tantivy(self) -> tantivy::tokenizer::Language {
        use tantivy::tokenizer::Language as T;
        match self {
            Language::Arabic => T::Arabic,
            Language::Danish => T::Danish,
            Language::Dutch => T::Dutch,
            Language::English => T::English,
            Language::Finnish => T::Finnish,
            Language::French => T::French,
            Language::German => T::German,
            Language::Greek => T::Greek,
            Language::Hungarian => T::Hungarian,
            Language::Italian => T::Italian,
            Language::Norwegian => T::Norwegian,
            Language::Portuguese => T::Portuguese,
            Language::Romanian => T::Romanian,
            Language::Russian => T::Russian,
            Language::Spanish => T::Spanish,
            Language::Swedish => T::Swedish,
            Language::Tamil => T::Tamil,
            Language::Turkish => T::Turkish,
        }
    }
}

/// How text is cut into terms. Persisted with the index: opening an index with other
/// analyzer settings is an error, since its terms would no longer match queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzerConfig {
    /// Language of the stemmer and stopword list.
    #[serde(default = "AnalyzerConfig::default_language")]
    pub language: Language,
    /// Reduce words to their Snowball stem (`models` and `modeling` match `model`).
    #[serde(default = "AnalyzerConfig::default_stemming")]
    pub stemming: bool,
    /// Drop the language's stopwords (for English, Lucene's list of 33 words), which
    /// carry no topical signal and slow down every query that contains them.
    #[serde(default = "AnalyzerConfig::default_stopwords")]
    pub stopwords: bool,
    /// Fold accented Latin letters to ASCII (`café` matches `cafe`). Off by default:
    /// it merges distinct words in languages other than English.
    #[serde(default)]
    pub ascii_folding: bool,
    /// Analyse each chunk in the language ingest detected for its document (its `lang`
    /// metadata) rather than in `language`, and queries in every language the index
    /// holds. Chunks of no detected language, or of one without a stemmer, use
    /// `language`.
    #[serde(default = "AnalyzerConfig::default_per_language")]
    pub per_language: bool,
}

impl AnalyzerConfig {
    pub fn default_language() -> Language {
        Language::English
    }
    pub fn default_stemming() -> bool {
        true
    }
    pub fn default_stopwords() -> bool {
        true
    }
    /// Off by default: on aclsum-passages-dev (English sentences) per-language analysis
    /// lowered BM25 nDCG@10 from 0.6665 to 0.6619, since some short English sentences
    /// are detected as other languages and queries then gain those languages' terms.
    pub fn default_per_language() -> bool {
        false
    }

    /// The analyzer of these settings for chunks in `language` (the configured one or
    /// a detected one): the same filters, without stop words where tantivy has no list
    /// for it.
    fn build_for(&self, language: Language) -> TextAnalyzer {
        let mut builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .dynamic();
        if self.ascii_folding {
            builder = builder.filter_dynamic(AsciiFoldingFilter);
        }
        if self.stopwords
            && let Some(filter) = StopWordFilter::new(language.tantivy())
        {
            builder = builder.filter_dynamic(filter);
        }
        if self.stemming {
            builder = builder.filter_dynamic(Stemmer::new(language.tantivy()));
        }
        builder.build()
    }

    /// The tantivy analyzer these settings describe: [`Self::build_for`] the configured
    /// language, which must have a stopword list when stopwords are asked for.
    pub(crate) fn build(&self) -> Result<TextAnalyzer> {
        if self.stopwords && StopWordFilter::new(self.language.tantivy()).is_none() {
            return Err(Error::Setting {
                name: "analyzer.stopwords",
                reason: format!("no stopword list for {:?}", self.language),
            });
        }
        Ok(self.build_for(self.language))
    }
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            language: Self::default_language(),
            stemming: Self::default_stemming(),
            stopwords: Self::default_stopwords(),
            ascii_folding: false,
            per_language: Self::default_per_language(),
        }
    }
}

/// The analyzers of an index: the configured language's, and with
/// [`AnalyzerConfig::per_language`] one for each other language, picked by a chunk's
/// `lang` metadata. The BM25 index and the sparse vectors of a server collection both
/// analyse through this, so their terms (and term ids) are the same.
#[derive(Clone)]
pub struct Analyzers {
    config: AnalyzerConfig,
    default: TextAnalyzer,
    others: Vec<(Language, TextAnalyzer)>,
}

impl std::fmt::Debug for Analyzers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzers")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Metadata key of a chunk's language (as docket_ingest::language records it).
const LANG_KEY: &str = docket_ingest::language::LANG_KEY;

impl Analyzers {
    pub fn new(config: &AnalyzerConfig) -> Result<Self> {
        let others = if config.per_language {
            Language::ALL
                .into_iter()
                .filter(|&l| l != config.language)
                .map(|l| (l, config.build_for(l)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Analyzers {
            config: config.clone(),
            default: config.build()?,
            others,
        })
    }

    /// The language a chunk with `metadata` is analysed in.
    pub fn language_of(&self, metadata: &BTreeMap<String, String>) -> Language {
        metadata
            .get(LANG_KEY)
            .and_then(|code| Language::from_code(code))
            .filter(|l| self.others.iter().any(|(o, _)| o == l))
            .unwrap_or(self.config.language)
    }

    fn analyzer(&self, language: Language) -> TextAnalyzer {
        self.others
            .iter()
            .find(|(l, _)| *l == language)
            .map_or(&self.default, |(_, a)| a)
            .clone()
    }

    /// The tokens of `text` in `language`.
    pub fn tokens(&self, language: Language, text: &str) -> Vec<tantivy::tokenizer::Token> {
        let mut analyzer = self.analyzer(language);
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        stream.process(&mut |t| tokens.push(t.clone()));
        tokens
    }

    /// The terms of `text` in `language`.
    pub fn terms(&self, language: Language, text: &str) -> Vec<String> {
        self.tokens(language, text)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    /// The terms of a query over chunks in the configured language and `languages`:
    /// the union of its analyses, each term as often as the analysis that has it most
    /// often. With no other language, exactly the configured analyzer's terms.
    pub fn query_terms(&self, text: &str, languages: &[Language]) -> Vec<String> {
        let base = self.terms(self.config.language, text);
        let others: Vec<Language> = languages
            .iter()
            .copied()
            .filter(|&l| l != self.config.language && self.others.iter().any(|(o, _)| *o == l))
            .collect();
        if others.is_empty() {
            return base;
        }
        let count = |terms: Vec<String>| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for t in terms {
                *counts.entry(t).or_default() += 1;
            }
            counts
        };
        let mut union = count(base);
        for l in others {
            for (term, n) in count(self.terms(l, text)) {
                let e = union.entry(term).or_default();
                *e = (*e).max(n);
            }
        }
        union
            .into_iter()
            .flat_map(|(t, n)| std::iter::repeat_n(t, n))
            .collect()
    }

    /// The languages a query is analysed in when searching everywhere: all of them
    /// with per-language analysis, else none besides the configured one.
    pub fn all_languages(&self) -> Vec<Language> {
        self.others.iter().map(|(l, _)| *l).collect()
    }
}

/// Settings of the BM25 index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexicalConfig {
    #[serde(default)]
    pub analyzer: AnalyzerConfig,
    /// Extra weight of a match in the document title, scored as a field of its own on
    /// top of the body (which already holds the title). 0 by default: a short field's
    /// BM25 saturates at once and its term statistics make common words look rare, so
    /// a separate title field adds noise (aclsum-docs-dev, nDCG@10: 0.9871 at 0, the
    /// same as bm25s with title and text concatenated; 0.9804 at 0.5).
    #[serde(default = "LexicalConfig::default_title_boost")]
    pub title_boost: f32,
    /// Extra weight of a match in the enclosing headings, like `title_boost`.
    #[serde(default = "LexicalConfig::default_heading_boost")]
    pub heading_boost: f32,
    /// Indexing memory, in MiB, shared by the writer threads (at least 15 per thread);
    /// a segment is flushed when it is used up.
    #[serde(default = "LexicalConfig::default_writer_memory_mib")]
    pub writer_memory_mib: usize,
    /// Indexing threads. One by default: indexing is cheap next to embedding, which
    /// should get the other cores.
    #[serde(default = "LexicalConfig::default_writer_threads")]
    pub writer_threads: usize,
}

impl LexicalConfig {
    pub fn default_title_boost() -> f32 {
        0.0
    }
    pub fn default_heading_boost() -> f32 {
        0.0
    }
    pub fn default_writer_memory_mib() -> usize {
        64
    }
    pub fn default_writer_threads() -> usize {
        1
    }

    /// Reject settings tantivy would refuse or that make no sense.
    pub fn validate(&self) -> Result<()> {
        for (name, boost) in [
            ("title_boost", self.title_boost),
            ("heading_boost", self.heading_boost),
        ] {
            if !(boost.is_finite() && boost >= 0.0) {
                return Err(Error::Setting {
                    name,
                    reason: format!("{boost} is not a non-negative number"),
                });
            }
        }
        if self.writer_threads == 0 || self.writer_threads > 8 {
            return Err(Error::Setting {
                name: "writer_threads",
                reason: format!("{} is not between 1 and 8", self.writer_threads),
            });
        }
        let min = 15 * self.writer_threads;
        if self.writer_memory_mib < min || self.writer_memory_mib > 4000 {
            return Err(Error::Setting {
                name: "writer_memory_mib",
                reason: format!(
                    "{} is not between {min} (15 per thread) and 4000",
                    self.writer_memory_mib
                ),
            });
        }
        Ok(())
    }
}

impl Default for LexicalConfig {
    fn default() -> Self {
        LexicalConfig {
            analyzer: AnalyzerConfig::default(),
            title_boost: Self::default_title_boost(),
            heading_boost: Self::default_heading_boost(),
            writer_memory_mib: Self::default_writer_memory_mib(),
            writer_threads: Self::default_writer_threads(),
        }
    }
}

/// What is persisted next to the tantivy files.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    analyzer: AnalyzerConfig,
}

/// A fragment of a chunk's text with the query's terms located in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub fragment: String,
    /// Byte ranges of `fragment` that matched a query term, in order, not overlapping.
    pub highlighted: Vec<Range<usize>>,
}

impl Snippet {
    /// The fragment with each highlighted range wrapped in `open` and `close` (e.g.
    /// ANSI bold for a terminal, `**` for Markdown).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.fragment.len() + 8 * self.highlighted.len());
        let mut at = 0;
        for r in &self.highlighted {
            // Ranges come from the analyzer's token offsets, so they are in bounds and on
            // char boundaries; `get` keeps a bad one from panicking all the same.
            let (Some(before), Some(word)) =
                (self.fragment.get(at..r.start), self.fragment.get(r.clone()))
            else {
                continue;
            };
            out.push_str(before);
            out.push_str(open);
            out.push_str(word);
            out.push_str(close);
            at = r.end;
        }
        out.push_str(self.fragment.get(at..).unwrap_or_default());
        out
    }
}

/// Document frequencies of some terms ([`Bm25Index::doc_freqs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFreqs {
    /// Chunks in the index.
    pub chunks: u64,
    /// Chunks holding each term, in the order asked.
    pub freqs: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    chunk_id: Field,
    doc_id: Field,
    text: Field,
    body: Field,
    title: Field,
    heading: Field,
    source: Field,
    format: Field,
    metadata: Field,
    ordinal: Field,
    start: Field,
    end: Field,
    page_start: Field,
    page_end: Field,
    token_count: Field,
}

impl Fields {
    fn schema() -> Schema {
        let mut b = Schema::builder();
        let analyzed = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            )
            .set_stored();
        b.add_text_field(F_CHUNK_ID, STRING | STORED);
        b.add_text_field(F_DOC_ID, STRING | STORED);
        // Indexed as well as stored: the snippet generator weighs terms by their
        // document frequency in the field it highlights.
        b.add_text_field(F_TEXT, analyzed.clone());
        b.add_text_field(
            F_BODY,
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
        b.add_text_field(F_TITLE, analyzed.clone());
        b.add_text_field(F_HEADING, analyzed);
        b.add_text_field(F_SOURCE, STRING | STORED);
        b.add_text_field(F_FORMAT, STRING | STORED);
        // Raw: metadata filters are exact matches on whole values. Dots in keys are kept
        // as part of the key (no nesting), so any ingest key can be filtered on.
        b.add_json_field(
            F_METADATA,
            JsonObjectOptions::default()
                .set_stored()
                .set_indexing_options(TextFieldIndexing::default().set_tokenizer("raw")),
        );
        for f in [
            F_ORDINAL,
            F_START,
            F_END,
            F_PAGE_START,
            F_PAGE_END,
            F_TOKEN_COUNT,
        ] {
            b.add_u64_field(f, STORED);
        }
        b.build()
    }

    fn from_schema(schema: &Schema, path: &Path) -> Result<Fields> {
        let get = |name: &str| {
            schema.get_field(name).map_err(|_| Error::Corrupt {
                path: path.to_owned(),
                reason: format!("the schema has no field {name:?} (built by another version?)"),
            })
        };
        Ok(Fields {
            chunk_id: get(F_CHUNK_ID)?,
            doc_id: get(F_DOC_ID)?,
            text: get(F_TEXT)?,
            body: get(F_BODY)?,
            title: get(F_TITLE)?,
            heading: get(F_HEADING)?,
            source: get(F_SOURCE)?,
            format: get(F_FORMAT)?,
            metadata: get(F_METADATA)?,
            ordinal: get(F_ORDINAL)?,
            start: get(F_START)?,
            end: get(F_END)?,
            page_start: get(F_PAGE_START)?,
            page_end: get(F_PAGE_END)?,
            token_count: get(F_TOKEN_COUNT)?,
        })
    }
}

/// The tantivy implementation of [`LexicalIndex`].
///
/// The writer is opened on the first write, so a process that only searches does not
/// take the index's write lock and can run while another one indexes.
pub struct Bm25Index {
    path: PathBuf,
    config: LexicalConfig,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    analyzers: Analyzers,
    fields: Fields,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("path", &self.path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bm25Index {
    /// Open the BM25 index in `dir`, creating it (and `dir`) if there is none. An
    /// existing index must have been built with the same analyzer settings.
    pub fn open(dir: &Path, config: LexicalConfig) -> Result<Bm25Index> {
        config.validate()?;
        // Before touching the disk, so settings that cannot work leave nothing behind.
        let analyzer = config.analyzer.build()?;
        let analyzers = Analyzers::new(&config.analyzer)?;
        let path = dir.to_owned();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let lexical = |source| Error::Lexical {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let settings_path = dir.join(SETTINGS_FILE);
        let exists = dir.join("meta.json").exists();
        let index = if exists {
            let found = read_settings(&settings_path)?;
            if found.analyzer != config.analyzer {
                return Err(Error::AnalyzerMismatch {
                    path,
                    found: describe(&found.analyzer),
                    wanted: describe(&config.analyzer),
                });
            }
            Index::open_in_dir(dir).map_err(lexical)?
        } else {
            // Settings first: an index whose settings are unknown could not be opened.
            write_settings(
                &settings_path,
                &Settings {
                    analyzer: config.analyzer.clone(),
                },
            )?;
            Index::create_in_dir(dir, Fields::schema()).map_err(lexical)?
        };
        let fields = Fields::from_schema(&index.schema(), dir)?;
        index.tokenizers().register(ANALYZER, analyzer.clone());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(lexical)?;
        Ok(Bm25Index {
            path,
            config,
            index,
            reader,
            writer: Mutex::new(None),
            analyzers,
            fields,
        })
    }

    /// Directory the index lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &LexicalConfig {
        &self.config
    }

    /// The analyzed terms of a text as a query: in the configured language and every
    /// other language the index holds chunks in (see [`Analyzers::query_terms`]).
    pub fn analyze(&self, text: &str) -> Vec<String> {
        self.analyzers.query_terms(text, &self.languages())
    }

    /// The languages other than the configured one that chunks in the index are
    /// analysed in: those of [`Language::ALL`] with a chunk whose `lang` names them (one
    /// term lookup each).
    pub fn languages(&self) -> Vec<Language> {
        let searcher = self.reader.searcher();
        self.analyzers
            .all_languages()
            .into_iter()
            .filter(|l| {
                let term = metadata_term(self.fields.metadata, LANG_KEY, l.code());
                searcher.doc_freq(&term).is_ok_and(|n| n > 0)
            })
            .collect()
    }

    /// The analyzers chunks and queries go through.
    pub fn analyzers(&self) -> &Analyzers {
        &self.analyzers
    }

    /// How many chunks hold each of `terms` (analyzed terms, as
    /// [`analyze`](Self::analyze) gives them) in their text, title or headings, and how
    /// many chunks there are: the figures BM25 weighs a term by, for telling a specific
    /// term ("cafeteria") from one that half the chunks hold ("use"). Chunks deleted but
    /// not yet merged away still count, as they do in BM25's own weights.
    pub fn doc_freqs(&self, terms: &[String]) -> Result<DocFreqs> {
        let searcher = self.reader.searcher();
        let freqs = terms
            .iter()
            .map(|t| {
                searcher
                    .doc_freq(&Term::from_field_text(self.fields.body, t))
                    .map_err(|e| self.lexical_error(e))
            })
            .collect::<Result<_>>()?;
        let chunks = searcher
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.max_doc()))
            .sum();
        Ok(DocFreqs { chunks, freqs })
    }

    /// Rewrite the index without its deleted chunks, and delete the files that held
    /// them. tantivy's deletes are tombstones: a deleted chunk's stored text and its
    /// terms (in the term dictionary and postings) stay in its segment's files until a
    /// merge rewrites that segment. Merging every segment into one drops them (a term no
    /// live chunk holds is not written) and the garbage collection removes the old
    /// segment files. This costs a rewrite of the whole index, so it is for forgetting
    /// (`docket forget`, pruning), not for every commit. Anything queued must be
    /// committed before.
    pub fn purge_deleted(&self) -> Result<()> {
        let mut guard = self.writer()?;
        // Let merges the merge policy started finish first: a segment being merged
        // cannot be merged again, and their result must be in the set merged below.
        if let Some(writer) = guard.take() {
            writer
                .wait_merging_threads()
                .map_err(|e| self.lexical_error(e))?;
        }
        drop(guard);
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        let segments = self
            .index
            .searchable_segment_ids()
            .map_err(|e| self.lexical_error(e))?;
        if !segments.is_empty() {
            writer
                .merge(&segments)
                .wait()
                .map_err(|e| self.lexical_error(e))?;
        }
        drop(guard);
        // The reader lets go of the old segments before their files are collected.
        self.reader.reload().map_err(|e| self.lexical_error(e))?;
        let guard = self.writer()?;
        if let Some(writer) = guard.as_ref() {
            writer
                .garbage_collect_files()
                .wait()
                .map_err(|e| self.lexical_error(e))?;
        }
        Ok(())
    }

    fn lexical_error(&self, source: TantivyError) -> Error {
        Error::Lexical {
            path: self.path.clone(),
            source,
        }
    }

    /// The writer, opened (and the write lock taken) on first use.
    fn writer(&self) -> Result<MutexGuard<'_, Option<IndexWriter<TantivyDocument>>>> {
        // A panic while holding the lock leaves tantivy's writer consistent (uncommitted
        // work is at worst lost at the next rollback), so a poisoned lock is usable.
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let budget = self.config.writer_memory_mib * 1024 * 1024;
            let writer = self
                .index
                .writer_with_num_threads(self.config.writer_threads, budget)
                .map_err(|e| match e {
                    TantivyError::LockFailure(LockError::LockBusy, _) => Error::LexicalLocked {
                        path: self.path.clone(),
                    },
                    e => self.lexical_error(e),
                })?;
            *guard = Some(writer);
        }
        Ok(guard)
    }

    fn document(&self, chunk: &Chunk) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.chunk_id, &chunk.id);
        doc.add_text(f.doc_id, &chunk.doc_id);
        doc.add_text(f.text, &chunk.text);
        // The body, which BM25 scores, is analysed here in the chunk's language (the
        // field's registered analyzer knows only the configured one).
        let lang = self.analyzers.language_of(&chunk.metadata);
        let mut body = |text: &str| {
            doc.add_pre_tokenized_text(
                f.body,
                PreTokenizedString {
                    text: String::new(),
                    tokens: self.analyzers.tokens(lang, text),
                },
            );
        };
        if let Some(title) = &chunk.title {
            body(title);
        }
        for heading in &chunk.heading_path {
            body(heading);
        }
        body(&chunk.text);
        if let Some(title) = &chunk.title {
            doc.add_text(f.title, title);
        }
        for heading in &chunk.heading_path {
            doc.add_text(f.heading, heading);
        }
        doc.add_text(f.source, &chunk.source);
        doc.add_text(f.format, chunk.format.name());
        let metadata: BTreeMap<String, OwnedValue> = chunk
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), OwnedValue::Str(v.clone())))
            .collect();
        doc.add_object(f.metadata, metadata);
        doc.add_u64(f.ordinal, u64::from(chunk.ordinal));
        doc.add_u64(f.start, chunk.start as u64);
        doc.add_u64(f.end, chunk.end as u64);
        doc.add_u64(f.page_start, u64::from(chunk.page_start));
        doc.add_u64(f.page_end, u64::from(chunk.page_end));
        doc.add_u64(f.token_count, u64::from(chunk.token_count));
        doc
    }

    /// The scoring part of a query: every analyzed term of `query`, in the body and the
    /// boosted fields, weighted by its count in the query. `None` if there is no term.
    fn scoring_query(&self, query: &str) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        self.terms_query(
            query,
            &[
                (f.body, 1.0),
                (f.title, self.config.title_boost),
                (f.heading, self.config.heading_boost),
            ],
        )
    }

    fn terms_query(&self, query: &str, fields: &[(Field, f32)]) -> Option<Box<dyn Query>> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for term in self.analyze(query) {
            *counts.entry(term).or_default() += 1;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, count) in &counts {
            for &(field, boost) in fields {
                if boost <= 0.0 {
                    continue;
                }
                let q = TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                );
                let weight = boost * *count as f32;
                let q: Box<dyn Query> = if weight == 1.0 {
                    Box::new(q)
                } else {
                    Box::new(BoostQuery::new(Box::new(q), weight))
                };
                clauses.push((Occur::Should, q));
            }
        }
        if clauses.is_empty() {
            None
        } else {
            Some(Box::new(BooleanQuery::new(clauses)))
        }
    }

    /// Required, zero-scoring clauses for a filter; `None` if no chunk can match it.
    fn filter_clauses(
        &self,
        searcher: &Searcher,
        filter: &Filter,
    ) -> Result<Option<Vec<Box<dyn Query>>>> {
        let f = &self.fields;
        let mut clauses: Vec<Box<dyn Query>> = Vec::new();
        let raw_set = |field: Field, values: &[String]| -> Box<dyn Query> {
            Box::new(TermSetQuery::new(
                values.iter().map(|v| Term::from_field_text(field, v)),
            ))
        };
        if !filter.doc_ids.is_empty() {
            clauses.push(raw_set(f.doc_id, &filter.doc_ids));
        }
        if !filter.formats.is_empty() {
            clauses.push(raw_set(f.format, &filter.formats));
        }
        for (key, value) in &filter.metadata {
            clauses.push(Box::new(TermQuery::new(
                metadata_term(f.metadata, key, value),
                IndexRecordOption::Basic,
            )));
        }
        if let Some(glob) = &filter.source_glob {
            // Exact, not approximate: the glob is matched against every distinct source
            // in the index (there is one per document, so this is cheap), and the
            // matching ones become a term set.
            let matcher = SourceMatcher::new(glob)?;
            let sources = self.sources(searcher)?;
            let matching: Vec<String> = sources
                .into_iter()
                .filter(|s| matcher.is_match(s))
                .collect();
            if matching.is_empty() {
                return Ok(None);
            }
            clauses.push(raw_set(f.source, &matching));
        }
        Ok(Some(
            clauses
                .into_iter()
                .map(|q| Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)
                .collect(),
        ))
    }

    /// Every distinct source path in the committed index (possibly including those of
    /// deleted chunks until segments are merged; they match no live chunk).
    fn sources(&self, searcher: &Searcher) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment
                .inverted_index(self.fields.source)
                .map_err(|e| self.lexical_error(e))?;
            let mut stream = inverted
                .terms()
                .stream()
                .map_err(|e| self.lexical_error(e.into()))?;
            while stream.advance() {
                if let Ok(s) = std::str::from_utf8(stream.key()) {
                    out.insert(s.to_owned());
                }
            }
        }
        Ok(out)
    }

    fn stored(&self, searcher: &Searcher, chunk_id: &str) -> Result<Option<TantivyDocument>> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.chunk_id, chunk_id),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .map_err(|source| Error::Search {
                query: format!("chunk_id:{chunk_id}"),
                source,
            })?;
        match top.first() {
            None => Ok(None),
            Some((_, addr)) => searcher
                .doc(*addr)
                .map(Some)
                .map_err(|e| self.lexical_error(e)),
        }
    }

    fn str_field<'a>(&self, doc: &'a TantivyDocument, field: Field, name: &str) -> Result<&'a str> {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.corrupt(format!("no {name}")))
    }

    fn u64_field(&self, doc: &TantivyDocument, field: Field, name: &str) -> Result<u64> {
        doc.get_first(field)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| self.corrupt(format!("no {name}")))
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// Up to `limit` stored chunks whose metadata field `key` is `value`, in index
    /// order (no query: the term of the pair alone), e.g. the chunks ingest flagged.
    pub fn chunks_with_metadata(&self, key: &str, value: &str, limit: usize) -> Result<Vec<Chunk>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            metadata_term(self.fields.metadata, key, value),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(limit).order_by_score())
            .map_err(|source| Error::Search {
                query: format!("{key}={value}"),
                source,
            })?;
        let mut out = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.lexical_error(e))?;
            out.push(self.to_chunk(&doc)?);
        }
        out.sort_by(|a, b| (&a.source, a.ordinal).cmp(&(&b.source, b.ordinal)));
        Ok(out)
    }

    fn to_chunk(&self, doc: &TantivyDocument) -> Result<Chunk> {
        let f = &self.fields;
        let id = self.str_field(doc, f.chunk_id, F_CHUNK_ID)?.to_owned();
        let narrow = |v: u64, name: &str| {
            u32::try_from(v).map_err(|_| self.corrupt(format!("{name} {v} of {id} is too large")))
        };
        let wide = |v: u64, name: &str| {
            usize::try_from(v).map_err(|_| self.corrupt(format!("{name} {v} of {id} is too large")))
        };
        let format_name = self.str_field(doc, f.format, F_FORMAT)?;
        let format: Format =
            serde_json::from_value(serde_json::Value::String(format_name.to_owned()))
                .map_err(|_| self.corrupt(format!("unknown format {format_name:?} of {id}")))?;
        let mut metadata = BTreeMap::new();
        if let Some(obj) = doc.get_first(f.metadata).and_then(|v| v.as_object()) {
            for (k, v) in obj {
                if let Some(v) = v.as_str() {
                    metadata.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Ok(Chunk {
            doc_id: self.str_field(doc, f.doc_id, F_DOC_ID)?.to_owned(),
            ordinal: narrow(self.u64_field(doc, f.ordinal, F_ORDINAL)?, F_ORDINAL)?,
            text: self.str_field(doc, f.text, F_TEXT)?.to_owned(),
            start: wide(self.u64_field(doc, f.start, F_START)?, F_START)?,
            end: wide(self.u64_field(doc, f.end, F_END)?, F_END)?,
            page_start: narrow(
                self.u64_field(doc, f.page_start, F_PAGE_START)?,
                F_PAGE_START,
            )?,
            page_end: narrow(self.u64_field(doc, f.page_end, F_PAGE_END)?, F_PAGE_END)?,
            heading_path: doc
                .get_all(f.heading)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            token_count: narrow(
                self.u64_field(doc, f.token_count, F_TOKEN_COUNT)?,
                F_TOKEN_COUNT,
            )?,
            source: self.str_field(doc, f.source, F_SOURCE)?.to_owned(),
            title: doc
                .get_first(f.title)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            format,
            metadata,
            id,
        })
    }
}

impl LexicalIndex for Bm25Index {
    fn add(&self, chunks: &[Chunk]) -> Result<()> {
        let guard = self.writer()?;
        let Some(writer) = guard.as_ref() else {
            return Ok(());
        };
        for chunk in chunks {
            writer
                .add_document(self.document(chunk))
                .map_err(|e| self.lexical_error(e))?;
        }
        Ok(())
    }

    fn delete_document(&self, doc_id: &str) -> Result<()> {
        let guard = self.writer()?;
        if let Some(writer) = guard.as_ref() {
            writer.delete_term(Term::from_field_text(self.fields.doc_id, doc_id));
        }
        Ok(())
    }

    fn commit(&self) -> Result<()> {
        // No writer means nothing queued: do not take the write lock just to reload.
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = guard.as_mut() {
            writer.commit().map_err(|e| self.lexical_error(e))?;
        }
        drop(guard);
        self.reader.reload().map_err(|e| self.lexical_error(e))
    }

    fn rollback(&self) -> Result<()> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = guard.as_mut() {
            writer.rollback().map_err(|e| self.lexical_error(e))?;
        }
        Ok(())
    }

    fn search(&self, query: &str, k: usize, filter: &Filter) -> Result<Vec<Hit>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(scoring) = self.scoring_query(query) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let q: Box<dyn Query> = if filter.is_empty() {
            scoring
        } else {
            let Some(filters) = self.filter_clauses(&searcher, filter)? else {
                return Ok(Vec::new());
            };
            let mut clauses = vec![(Occur::Must, scoring)];
            clauses.extend(filters.into_iter().map(|q| (Occur::Must, q)));
            Box::new(BooleanQuery::new(clauses))
        };
        let top = searcher
            .search(&q, &TopDocs::with_limit(k).order_by_score())
            .map_err(|source| Error::Search {
                query: query.to_owned(),
                source,
            })?;
        let f = &self.fields;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.lexical_error(e))?;
            hits.push(Hit {
                chunk_id: self.str_field(&doc, f.chunk_id, F_CHUNK_ID)?.to_owned(),
                doc_id: self.str_field(&doc, f.doc_id, F_DOC_ID)?.to_owned(),
                score,
            });
        }
        Ok(hits)
    }

    fn snippet(&self, query: &str, chunk_id: &str, max_chars: usize) -> Result<Option<Snippet>> {
        let searcher = self.reader.searcher();
        let Some(doc) = self.stored(&searcher, chunk_id)? else {
            return Ok(None);
        };
        let text = self.str_field(&doc, self.fields.text, F_TEXT)?;
        let Some(q) = self.terms_query(query, &[(self.fields.text, 1.0)]) else {
            // Nothing to highlight: the start of the text, cut at a char boundary.
            let end = text
                .char_indices()
                .nth(max_chars)
                .map_or(text.len(), |(i, _)| i);
            return Ok(Some(Snippet {
                fragment: text[..end].to_owned(),
                highlighted: Vec::new(),
            }));
        };
        let mut generator = SnippetGenerator::create(&searcher, q.as_ref(), self.fields.text)
            .map_err(|source| Error::Search {
                query: query.to_owned(),
                source,
            })?;
        generator.set_max_num_chars(max_chars);
        let snippet = generator.snippet(text);
        Ok(Some(Snippet {
            fragment: snippet.fragment().to_owned(),
            highlighted: snippet.highlighted().to_vec(),
        }))
    }

    fn chunk(&self, chunk_id: &str) -> Result<Option<Chunk>> {
        let searcher = self.reader.searcher();
        match self.stored(&searcher, chunk_id)? {
            None => Ok(None),
            Some(doc) => self.to_chunk(&doc).map(Some),
        }
    }

    fn count(&self) -> Result<u64> {
        // Live documents per segment, from the segment metadata: no query needed.
        Ok(self.reader.searcher().num_docs())
    }
}

/// The term of a metadata key/value pair. Keys are literal: `.` and `\` are escaped so
/// tantivy does not read them as path separators.
fn metadata_term(field: Field, key: &str, value: &str) -> Term {
    let escaped = key.replace('\\', "\\\\").replace('.', "\\.");
    let mut term = Term::from_field_json_path(field, &escaped, false);
    term.append_type_and_str(value);
    term
}

fn describe(a: &AnalyzerConfig) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| format!("{a:?}"))
}

/// The analyzer settings an existing BM25 index in `dir` was built with (the default for
/// a directory that holds no index yet), so that it can be reopened as it was made.
pub fn read_analyzer(dir: &Path) -> Result<AnalyzerConfig> {
    if !dir.join("meta.json").exists() {
        return Ok(AnalyzerConfig::default());
    }
    Ok(read_settings(&dir.join(SETTINGS_FILE))?.analyzer)
}

fn read_settings(path: &Path) -> Result<Settings> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
        path: path.to_owned(),
        line: e.line(),
        reason: e.to_string(),
    })
}

/// Write the settings file atomically (temporary file, fsync, rename, folder fsync), so
/// a crash or a power cut leaves the old file or the new one, whole.
fn write_settings(path: &Path, settings: &Settings) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(settings).map_err(|e| Error::Setting {
        name: "analyzer",
        reason: e.to_string(),
    })?;
    let tmp = path.with_extension("json.tmp");
    let mut file = fs::File::create(&tmp).map_err(io)?;
    std::io::Write::write_all(&mut file, &json).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    // The rename itself must reach the disk too.
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_wraps_each_range_and_keeps_the_rest() {
        let s = Snippet {
            fragment: "über budget, budgets".to_string(),
            highlighted: vec![0..5, 6..12],
        };
        assert_eq!(s.marked("<", ">"), "<über> <budget>, budgets");
        let none = Snippet {
            fragment: "plain".into(),
            highlighted: Vec::new(),
        };
        assert_eq!(none.marked("<", ">"), "plain");
    }

    fn chunk(doc: &str, ordinal: u32, text: &str) -> Chunk {
        Chunk {
            id: format!("{doc}-{ordinal}"),
            doc_id: doc.into(),
            ordinal,
            text: text.into(),
            start: 0,
            end: text.len(),
            page_start: 1,
            page_end: 1,
            heading_path: vec!["Canteen".into()],
            token_count: 0,
            source: format!("{doc}.md"),
            title: None,
            format: Format::Markdown,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn doc_freq_counts_the_chunks_that_hold_an_analyzed_term() {
        let dir = tempfile::tempdir().unwrap();
        let index = Bm25Index::open(dir.path(), LexicalConfig::default()).unwrap();
        index
            .add(&[
                chunk("a", 0, "Staff may work from home."),
                chunk("a", 1, "Working hours are flexible."),
                chunk("b", 0, "The office has parking."),
            ])
            .unwrap();
        index.commit().unwrap();
        let df = |word: &str| {
            let d = index.doc_freqs(&index.analyze(word)).unwrap();
            (d.freqs[0], d.chunks)
        };
        // Stemmed as indexed: "work" and "working" are one term.
        assert_eq!(df("works"), (2, 3));
        assert_eq!(df("parking"), (1, 3));
        assert_eq!(df("cafeteria"), (0, 3));
        // Headings count: they are part of what BM25 matches.
        assert_eq!(df("canteen"), (3, 3));
    }

    #[test]
    fn purging_removes_a_deleted_documents_terms_and_text_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let index = Bm25Index::open(dir.path(), LexicalConfig::default()).unwrap();
        index
            .add(&[chunk("a", 0, "Staff may work from home.")])
            .unwrap();
        index.commit().unwrap();
        // In a segment with a chunk that stays: tantivy drops a segment whose every
        // chunk is deleted at the commit, but keeps one that still holds a live chunk.
        index
            .add(&[
                chunk("b", 0, "The zanzibarian quokkas parade on Tuesdays."),
                chunk("c", 0, "Working hours are flexible."),
            ])
            .unwrap();
        index.commit().unwrap();
        let term = index.analyze("quokkas");
        assert_eq!(index.doc_freqs(&term).unwrap().freqs, vec![1]);
        let holding = |needle: &str| -> Vec<PathBuf> {
            fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let bytes = fs::read(p).unwrap();
                    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                })
                .collect()
        };
        // The files hold the text before (so the check below can fail).
        assert!(!holding("zanzibarian").is_empty());
        index.delete_document("b").unwrap();
        index.commit().unwrap();
        // A tombstone only: the term is still in the dictionary.
        assert_eq!(index.doc_freqs(&term).unwrap().freqs, vec![1]);
        index.purge_deleted().unwrap();
        assert_eq!(index.doc_freqs(&term).unwrap().freqs, vec![0]);
        assert_eq!(index.count().unwrap(), 2);
        assert_eq!(
            index.search("work", 5, &Filter::default()).unwrap().len(),
            2
        );
        for needle in ["zanzibarian", "quokka", "parade"] {
            assert_eq!(holding(needle), Vec::<PathBuf>::new(), "{needle} left");
        }
        // Reopened, the index is the one the purge left.
        drop(index);
        let index = Bm25Index::open(dir.path(), LexicalConfig::default()).unwrap();
        assert_eq!(index.count().unwrap(), 2);
    }

    #[test]
    fn metadata_keys_are_escaped_literally() {
        let schema = Fields::schema();
        let f = schema.get_field(F_METADATA).expect("field");
        // Unescaped, "a.b" would be the path a -> b of a nested object.
        let mut nested = Term::from_field_json_path(f, "a.b", false);
        nested.append_type_and_str("v");
        assert_ne!(metadata_term(f, "a.b", "v"), nested);
        let mut literal = Term::from_field_json_path(f, "a\\.b", false);
        literal.append_type_and_str("v");
        assert_eq!(metadata_term(f, "a.b", "v"), literal);
        assert_ne!(metadata_term(f, "a\\", "v"), metadata_term(f, "a", "v"));
    }
}
