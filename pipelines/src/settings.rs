//! The settings of each stage, one struct per stage, shared by job files (serde) and the
//! command line (the binary maps its flags onto these structs in one place per stage).
//! Each default is defined once, in a named function that `Default`, serde and the
//! flags all use, and each struct turns itself into the stage library's own options
//! (`IngestOptions`, `SyncConfig`, `VectorStoreConfig`, ...), so a setting means the
//! same whether it came from a flag or from a job file.
//!
//! The library structs whose names fit the job file are embedded as they are
//! (`#[serde(flatten)]` of [`WalkOptions`]); the others are spelt as users write them in
//! a job file (`max_file_mib`, not a byte count) and converted here.

use std::path::PathBuf;

use docket_index::vector::{SparseConfig, WriteOrdering};
use docket_index::{VectorStoreConfig, WriteConfig};
use docket_ingest::redact::PhoneRegion;
use docket_ingest::{IngestOptions, OcrMode, PiiKind, WalkOptions};
use serde::{Deserialize, Serialize};

/// The process's heap ceiling in MiB when neither `--max-memory` nor the job's
/// `max_memory_mib` says otherwise: a 4 GiB machine, less what the system and other
/// programs need. See [`docket_ingest::memory`] for what it bounds.
pub fn default_max_memory_mib() -> u64 {
    3072
}

/// Set the process's heap ceiling to `mib` MiB (0: none).
pub fn apply_max_memory_mib(mib: u64) {
    let bytes = usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    docket_ingest::memory::set_ceiling(bytes);
}

/// The documents a job or a command reads (`[sources]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Files, folders and records files (CSV, TSV, JSON Lines: one document per row).
    pub paths: Vec<PathBuf>,
    /// Which files under the folders are read.
    #[serde(flatten)]
    pub walk: WalkOptions,
    /// How the files are parsed.
    #[serde(flatten)]
    pub parse: ParseSettings,
    /// Delete from the index (and from every task's output) documents whose files are
    /// gone.
    #[serde(default = "Sources::default_prune")]
    pub prune: bool,
}

impl Sources {
    pub fn default_prune() -> bool {
        true
    }
}

/// How files are read and parsed: size and time limits, PDF passwords, and how records
/// files (CSV, TSV, JSON Lines) become documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseSettings {
    /// The password itself (command line or `DOCKET_PDF_PASSWORD`; never in a job file).
    #[serde(skip)]
    pub pdf_password: Option<String>,
    /// Environment variable holding the password of encrypted PDFs (job files name the
    /// variable, never the password: they end up in version control).
    #[serde(default)]
    pub pdf_password_env: Option<String>,
    /// Largest file read, in MiB (default: the ingest crate's limit).
    #[serde(default)]
    pub max_file_mib: Option<u64>,
    /// Longest parse of one document, in seconds (0: no limit).
    #[serde(default)]
    pub parse_timeout_secs: Option<u64>,
    /// Records files: columns holding the text, joined in this order.
    #[serde(default)]
    pub text_columns: Vec<String>,
    /// Records files: the column with each row's unique id.
    #[serde(default)]
    pub id_column: Option<String>,
    /// Records files: the column with each row's title.
    #[serde(default)]
    pub title_column: Option<String>,
    /// Records files: the text columns hold HTML fragments.
    #[serde(default)]
    pub records_html: bool,
    /// When scanned pages, pages in unmapped fonts and image files are read by OCR
    /// (default: auto, when Tesseract is installed).
    #[serde(default)]
    pub ocr: Option<OcrMode>,
    /// Tesseract languages joined by `+` (`eng+rus`); default: English, or the first
    /// language pack installed.
    #[serde(default)]
    pub ocr_lang: Option<String>,
    /// Spreadsheets: the one sheet to read (default: every sheet).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Personal data replaced by typed placeholders before chunking: any of `email`,
    /// `phone`, `iban`, `card`, `ip`, `id` (default: none). Changing it ingests every
    /// document again; while it is on, OCR results are not cached (the cache would keep
    /// the recognised text, values and all).
    #[serde(default)]
    pub redact: Vec<PiiKind>,
    /// Regions (two-letter country codes) whose national phone formats are redacted;
    /// international numbers (`+49 …`) are, whatever their region (default: US, GB).
    #[serde(default)]
    pub redact_phone_regions: Option<Vec<PhoneRegion>>,
    /// The license of these documents (`CC-BY-4.0`, `proprietary`, ...): the `license`
    /// metadata key of every document that does not name its own (front matter, PDF
    /// info), carried to every chunk and output row and usable as a filter
    /// (`license=CC-BY-4.0`). Changing it ingests every document again.
    #[serde(default)]
    pub license: Option<String>,
    /// What these documents may be used for (`internal`, `public`, ...): the `usage`
    /// metadata key, as `license` is (filter with `usage=internal`).
    #[serde(default)]
    pub usage: Option<String>,
}

/// The metadata keys `[sources]` may set on every document.
pub const LICENSE_KEY: &str = "license";
pub const USAGE_KEY: &str = "usage";

/// The environment variable naming the Tesseract program (default: `tesseract` on the
/// `PATH`).
pub const TESSERACT_VAR: &str = "DOCKET_TESSERACT";

/// Where OCR results are cached, shared by every index and command: a page recognised
/// once is never recognised again, whichever index or folder it is read for.
pub fn ocr_cache_dir() -> PathBuf {
    crate::models::docket_home().join("cache").join("ocr")
}

impl ParseSettings {
    /// The ingest crate's options these settings amount to.
    pub fn ingest_options(&self) -> IngestOptions {
        let password = self.pdf_password.clone().or_else(|| {
            self.pdf_password_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
        });
        let mut options = IngestOptions {
            pdf_password: password,
            ..IngestOptions::default()
        };
        if let Some(mib) = self.max_file_mib {
            options.limits.max_file_bytes = mib.saturating_mul(1024 * 1024);
        }
        if let Some(secs) = self.parse_timeout_secs {
            options.limits.parse_timeout_secs = secs;
        }
        options.records.text_columns = self.text_columns.clone();
        options.records.id_column = self.id_column.clone();
        options.records.title_column = self.title_column.clone();
        options.records.html = self.records_html;
        if let Some(mode) = self.ocr {
            options.ocr.mode = mode;
        }
        options.ocr.languages = self.ocr_lang.clone().filter(|l| !l.is_empty());
        options.ocr.tesseract = std::env::var_os(TESSERACT_VAR).map(PathBuf::from);
        options.ocr.cache_dir = Some(ocr_cache_dir());
        options.records.sheet = self.sheet.clone();
        options.redact.kinds = self.redact.clone();
        if let Some(regions) = &self.redact_phone_regions {
            options.redact.phone_regions = regions.clone();
        }
        if !options.redact.kinds.is_empty() {
            // The OCR cache keeps recognised text, values and all, outside the index.
            options.ocr.cache_dir = None;
        }
        for (key, value) in [(LICENSE_KEY, &self.license), (USAGE_KEY, &self.usage)] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                options.metadata.insert(key.to_owned(), v.to_owned());
            }
        }
        options
    }
}

/// Chunk sizes and the embedding model whose tokenizer counts them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkSettings {
    /// Folder of a Hugging Face BERT-family embedding model (default: the default
    /// model, fetched on first use).
    #[serde(default)]
    pub embed_model: Option<PathBuf>,
    /// Largest chunk, in the embedding model's tokens (default: the chunker's).
    #[serde(default)]
    pub chunk_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks (default: the chunker's).
    #[serde(default)]
    pub chunk_overlap: Option<usize>,
}

impl ChunkSettings {
    /// The chunking configuration (sizes only; the tokenizer comes with the model).
    pub fn config(&self) -> docket_ingest::ChunkingConfig {
        let mut config = docket_ingest::ChunkingConfig::default();
        if let Some(n) = self.chunk_tokens {
            config.target_tokens = n;
        }
        if let Some(n) = self.chunk_overlap {
            config.overlap_tokens = n;
        }
        config
    }
}

/// The index a job keeps, or `docket index` writes (`[index]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    /// Index directory (catalog, BM25, embedded vectors, job state).
    #[serde(default = "IndexSpec::default_dir")]
    pub dir: PathBuf,
    /// Embed chunks (false: a BM25-only index, no model needed).
    #[serde(default = "IndexSpec::default_embed")]
    pub embed: bool,
    #[serde(flatten)]
    pub chunking: ChunkSettings,
    /// Commit both stores after every N chunks written.
    #[serde(default = "WriteConfig::default_commit_chunks")]
    pub commit_every: usize,
    #[serde(flatten)]
    pub store: StoreSettings,
    /// Analyse each chunk for BM25 in the language detected for its document (tantivy's
    /// stemmer and stopwords for it) and questions in every language the index holds, so
    /// a German or Russian archive is searchable by its words' other forms. Unset keeps
    /// what the index was made with (off for a new one: on an English archive, short
    /// sentences detected as other languages cost a little BM25 quality).
    #[serde(default)]
    pub bm25_per_language: Option<bool>,
}

impl IndexSpec {
    pub fn default_dir() -> PathBuf {
        PathBuf::from(".docket")
    }
    pub fn default_embed() -> bool {
        true
    }

    /// How the index writes: commit and batch sizes.
    pub fn write_config(&self) -> WriteConfig {
        let commit = self.commit_every.max(1);
        WriteConfig {
            commit_chunks: commit,
            batch_chunks: WriteConfig::default_batch_chunks().min(commit),
            ..WriteConfig::default()
        }
    }
}

impl Default for IndexSpec {
    fn default() -> Self {
        IndexSpec {
            dir: IndexSpec::default_dir(),
            embed: IndexSpec::default_embed(),
            chunking: ChunkSettings::default(),
            commit_every: WriteConfig::default_commit_chunks(),
            store: StoreSettings::default(),
            bm25_per_language: None,
        }
    }
}

/// Where the vectors of a new index go: the embedded store, or a Qdrant server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// gRPC URL of a Qdrant server or cluster for the vectors.
    #[serde(default)]
    pub qdrant_url: Option<String>,
    /// Qdrant collection holding the chunks.
    #[serde(default = "StoreSettings::default_collection")]
    pub qdrant_collection: String,
    /// Shards of a new Qdrant collection.
    #[serde(default = "StoreSettings::default_one")]
    pub qdrant_shards: u32,
    /// Replicas of each shard of a new Qdrant collection.
    #[serde(default = "StoreSettings::default_one")]
    pub qdrant_replicas: u32,
    /// Environment variable holding the Qdrant API key.
    #[serde(default = "StoreSettings::default_api_key_env")]
    pub qdrant_api_key_env: String,
    /// Replicas that must apply a write before it succeeds, in a new collection.
    #[serde(default = "StoreSettings::default_one")]
    pub qdrant_write_consistency: u32,
    /// Order of writes across replicas: weak, medium (default) or strong.
    #[serde(default = "VectorStoreConfig::default_write_ordering")]
    pub qdrant_write_ordering: WriteOrdering,
    /// Keep a lexical (BM25) leg of every chunk in a new collection, so that searches
    /// from any machine cover the whole archive.
    #[serde(default = "SparseConfig::default_enabled")]
    pub qdrant_lexical: bool,
    /// The chunk length, in analysed terms, the collection's BM25 treats as average
    /// (default: the mean of the first chunks written to the collection).
    #[serde(default)]
    pub qdrant_avg_terms: Option<f32>,
}

impl StoreSettings {
    pub fn default_collection() -> String {
        "docket_chunks".into()
    }
    pub fn default_one() -> u32 {
        1
    }
    pub fn default_api_key_env() -> String {
        "QDRANT_API_KEY".into()
    }

    /// The vector store asked for, if not the embedded one.
    pub fn config(&self) -> Option<VectorStoreConfig> {
        let url = self.qdrant_url.as_ref()?;
        Some(VectorStoreConfig {
            qdrant_url: Some(url.clone()),
            collection: self.qdrant_collection.clone(),
            api_key_env: self.qdrant_api_key_env.clone(),
            shard_number: self.qdrant_shards,
            replication_factor: self.qdrant_replicas,
            write_consistency_factor: self.qdrant_write_consistency,
            write_ordering: self.qdrant_write_ordering,
            sparse: SparseConfig {
                enabled: self.qdrant_lexical,
                avg_terms: self.qdrant_avg_terms,
                ..SparseConfig::default()
            },
            ..VectorStoreConfig::default()
        })
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            qdrant_url: None,
            qdrant_collection: StoreSettings::default_collection(),
            qdrant_shards: StoreSettings::default_one(),
            qdrant_replicas: StoreSettings::default_one(),
            qdrant_api_key_env: StoreSettings::default_api_key_env(),
            qdrant_write_consistency: StoreSettings::default_one(),
            qdrant_write_ordering: VectorStoreConfig::default_write_ordering(),
            qdrant_lexical: SparseConfig::default_enabled(),
            qdrant_avg_terms: None,
        }
    }
}

/// The LLM of generating tasks and commands (`[llm]`; default: the default local
/// model).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSpec {
    /// A llama-family GGUF file.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible server.
    #[serde(default)]
    pub url: Option<String>,
    /// The model name the server serves.
    #[serde(default = "LlmSpec::default_name")]
    pub name: String,
    /// Environment variable holding the server's API key.
    #[serde(default = "LlmSpec::default_api_key_env")]
    pub api_key_env: String,
    /// Most tokens an answer may have.
    #[serde(default = "LlmSpec::default_max_tokens")]
    pub max_tokens: usize,
}

impl LlmSpec {
    pub fn default_name() -> String {
        "default".into()
    }
    pub fn default_api_key_env() -> String {
        "DOCKET_LLM_API_KEY".into()
    }
    pub fn default_max_tokens() -> usize {
        256
    }
}

impl Default for LlmSpec {
    fn default() -> Self {
        LlmSpec {
            model: None,
            url: None,
            name: LlmSpec::default_name(),
            api_key_env: LlmSpec::default_api_key_env(),
            max_tokens: LlmSpec::default_max_tokens(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_embed_the_walk_options_and_reject_unknown_keys() {
        let s: Sources = toml::from_str(
            "paths = [\"a\"]\ninclude = [\"*.md\"]\nhidden = true\nmax_file_mib = 2\nrecords_html = true\n",
        )
        .unwrap();
        assert_eq!(s.walk.include, ["*.md"]);
        assert!(s.walk.hidden && s.prune);
        let options = s.parse.ingest_options();
        assert_eq!(options.limits.max_file_bytes, 2 * 1024 * 1024);
        assert!(options.records.html);
        let e = toml::from_str::<Sources>("paths = [\"a\"]\nhiden = true\n").unwrap_err();
        assert!(e.to_string().contains("hiden"), "{e}");
    }

    #[test]
    fn sources_set_ocr_mode_and_languages() {
        let s: Sources =
            toml::from_str("paths = [\"a\"]\nocr = \"never\"\nocr_lang = \"eng+rus\"\n").unwrap();
        let options = s.parse.ingest_options();
        assert_eq!(options.ocr.mode, OcrMode::Never);
        assert_eq!(options.ocr.languages.as_deref(), Some("eng+rus"));
        assert_eq!(options.ocr.cache_dir, Some(ocr_cache_dir()));
        let s: Sources = toml::from_str("paths = [\"a\"]\n").unwrap();
        assert_eq!(s.parse.ingest_options().ocr.mode, OcrMode::Auto);
        let e = toml::from_str::<Sources>("paths = [\"a\"]\nocr = \"sometimes\"\n").unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn index_spec_defaults_are_the_write_configs() {
        let i: IndexSpec =
            toml::from_str("chunk_tokens = 64\nqdrant_url = \"http://q:6334\"\n").unwrap();
        assert_eq!(i.commit_every, WriteConfig::default_commit_chunks());
        assert_eq!(i.chunking.config().target_tokens, 64);
        let store = i.store.config().unwrap();
        assert_eq!(store.collection, "docket_chunks");
        assert!(toml::from_str::<IndexSpec>("chunk_token = 64\n").is_err());
        assert_eq!(
            IndexSpec::default().write_config().commit_chunks,
            i.commit_every
        );
    }
}
