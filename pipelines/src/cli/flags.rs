//! Flag groups that several commands share, and the one place where flags become the
//! settings structs of [`docket_pipelines::settings`] (the same structs job files
//! deserialize into), so a flag and a job-file key mean the same thing. Defaults come
//! from those structs' named default functions.

use std::path::PathBuf;

use clap::Args;
use docket_index::{Filter, FusionConfig, FusionMethod, Mode};
use docket_ingest::redact::PhoneRegion;
use docket_ingest::{PiiKind, WalkOptions};
use docket_pipelines::settings::{
    ChunkSettings, IndexSpec, LlmSpec, ParseSettings, Sources, StoreSettings,
};

use super::outcome::UsageError;

/// Flags that choose which files under the given folders are read.
#[derive(Debug, Args)]
pub struct WalkArgs {
    /// Only files whose path (relative to the folder given) matches one of these globs.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out files whose path matches one of these globs.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Also walk hidden files and folders.
    #[arg(long)]
    pub hidden: bool,
    /// Do not honour .gitignore, .ignore and .docketignore files.
    #[arg(long)]
    pub no_ignore: bool,
    /// Follow symbolic links whose target stays inside the folder given (links are
    /// otherwise listed and not read).
    #[arg(short = 'L', long)]
    pub follow: bool,
}

impl WalkArgs {
    pub fn options(&self) -> WalkOptions {
        WalkOptions {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            hidden: self.hidden,
            no_ignore: self.no_ignore,
            follow: self.follow,
        }
    }
}

/// Flags that shape parsing.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Password for encrypted PDFs that do not open with the empty password.
    #[arg(
        long,
        env = "DOCKET_PDF_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub pdf_password: Option<String>,
    /// Largest file read, in MiB.
    #[arg(long, value_name = "MIB")]
    pub max_file_mib: Option<u64>,
    /// Longest parse of one document, in seconds (0: no limit).
    #[arg(long, value_name = "SECS")]
    pub parse_timeout: Option<u64>,
    /// Records files (CSV, TSV, JSON Lines): columns that hold the text, joined in this
    /// order (default: the first column named text, body, message, review, ...).
    #[arg(long = "text-col", value_name = "COLUMN", value_delimiter = ',')]
    pub text_columns: Vec<String>,
    /// Records files: the column with each row's unique id (default: a column named id,
    /// else the row number).
    #[arg(long = "id-col", value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// Records files: the column with each row's title.
    #[arg(long = "title-col", value_name = "COLUMN")]
    pub title_column: Option<String>,
    /// Records files: the text columns hold HTML fragments.
    #[arg(long)]
    pub records_html: bool,
    /// When to read text by OCR (Tesseract): auto (scanned pages, pages whose fonts
    /// have no Unicode mapping, image files), always (every page), never.
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"])]
    pub ocr: Option<String>,
    /// OCR languages, Tesseract's names joined by + (eng+rus); default: eng.
    #[arg(long, value_name = "LANGS")]
    pub ocr_lang: Option<String>,
    /// Spreadsheets (XLSX, ODS): read only the sheet of this name (default: every sheet).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Replace personal data by typed placeholders ([EMAIL], [PHONE], ...) before
    /// chunking: --redact alone for every kind, or --redact=email,phone,iban,card,ip,id.
    #[arg(
        long,
        value_name = "KINDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "all",
        value_parser = parse_redact
    )]
    pub redact: Option<RedactKinds>,
    /// With --redact: regions (two-letter country codes) whose national phone formats
    /// are recognised; international numbers (+49 ...) always are. Default: US,GB.
    #[arg(long, value_name = "CC", value_delimiter = ',')]
    pub redact_phone_regions: Vec<PhoneRegion>,
    /// The license of the documents read (their `license` metadata unless a document
    /// names its own); carried to every output row, filter with --filter license=...
    #[arg(long, value_name = "LICENSE")]
    pub license: Option<String>,
    /// What the documents read may be used for (`internal`, `public`, ...): their
    /// `usage` metadata unless a document names its own; filter with --filter usage=...
    #[arg(long, value_name = "USAGE")]
    pub usage: Option<String>,
}

/// The kinds of personal data `--redact` names.
#[derive(Debug, Clone)]
pub struct RedactKinds(pub Vec<PiiKind>);

/// `all`, or kinds joined by commas.
fn parse_redact(s: &str) -> Result<RedactKinds, String> {
    if s.trim() == "all" {
        return Ok(RedactKinds(PiiKind::ALL.to_vec()));
    }
    s.split(',')
        .map(str::parse)
        .collect::<Result<Vec<PiiKind>, String>>()
        .map(RedactKinds)
}

impl ParseArgs {
    pub fn settings(&self) -> ParseSettings {
        ParseSettings {
            pdf_password: self.pdf_password.clone(),
            pdf_password_env: None,
            max_file_mib: self.max_file_mib,
            parse_timeout_secs: self.parse_timeout,
            text_columns: self.text_columns.clone(),
            id_column: self.id_column.clone(),
            title_column: self.title_column.clone(),
            records_html: self.records_html,
            ocr: self.ocr.as_deref().and_then(|m| m.parse().ok()),
            ocr_lang: self.ocr_lang.clone(),
            sheet: self.sheet.clone(),
            redact: self.redact.clone().map(|k| k.0).unwrap_or_default(),
            redact_phone_regions: (!self.redact_phone_regions.is_empty())
                .then(|| self.redact_phone_regions.clone()),
            license: self.license.clone(),
            usage: self.usage.clone(),
        }
    }
}

/// The sources of a command: paths, walk and parse flags.
pub fn sources(paths: &[PathBuf], walk: &WalkArgs, parse: &ParseArgs, prune: bool) -> Sources {
    Sources {
        paths: paths.to_vec(),
        walk: walk.options(),
        parse: parse.settings(),
        prune,
    }
}

/// The index directory a command works on.
#[derive(Debug, Args)]
pub struct IndexDirArgs {
    /// Index directory (created by `docket index`).
    #[arg(
        long = "index",
        value_name = "DIR",
        env = "DOCKET_INDEX",
        default_value_os_t = IndexSpec::default_dir()
    )]
    pub dir: PathBuf,
}

/// The embedding model a command uses.
#[derive(Debug, Args)]
pub struct EmbedModelArgs {
    /// Folder of a Hugging Face BERT-family embedding model (config.json,
    /// tokenizer.json, model.safetensors); default: the default model, fetched on first
    /// use. An index keeps the model it was made with: searching it needs the same one.
    #[arg(long, value_name = "DIR", env = "DOCKET_EMBED_MODEL")]
    pub embed_model: Option<PathBuf>,
}

/// Flags that shape chunking.
#[derive(Debug, Args)]
pub struct ChunkArgs {
    /// Largest chunk, in the embedding model's tokens.
    #[arg(long, value_name = "N")]
    pub chunk_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks.
    #[arg(long, value_name = "N")]
    pub chunk_overlap: Option<usize>,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

impl ChunkArgs {
    pub fn settings(&self) -> ChunkSettings {
        ChunkSettings {
            embed_model: self.embed.embed_model.clone(),
            chunk_tokens: self.chunk_tokens,
            chunk_overlap: self.chunk_overlap,
        }
    }
}

/// Where the vectors of a new index go.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// gRPC URL of a Qdrant server or cluster to keep the vectors in, instead of the
    /// embedded store (recorded in the index; later commands need not repeat it).
    #[arg(long, value_name = "URL", env = "DOCKET_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// Qdrant collection holding the chunks.
    #[arg(long, value_name = "NAME", default_value_t = StoreSettings::default_collection())]
    pub qdrant_collection: String,
    /// Shards of a new Qdrant collection.
    #[arg(long, value_name = "N", default_value_t = StoreSettings::default_one())]
    pub qdrant_shards: u32,
    /// Replicas of each shard of a new Qdrant collection.
    #[arg(long, value_name = "N", default_value_t = StoreSettings::default_one())]
    pub qdrant_replicas: u32,
    /// Environment variable holding the Qdrant API key.
    #[arg(long, value_name = "VAR", default_value_t = StoreSettings::default_api_key_env())]
    pub qdrant_api_key_env: String,
}

impl StoreArgs {
    pub fn settings(&self) -> StoreSettings {
        StoreSettings {
            qdrant_url: self.qdrant_url.clone(),
            qdrant_collection: self.qdrant_collection.clone(),
            qdrant_shards: self.qdrant_shards,
            qdrant_replicas: self.qdrant_replicas,
            qdrant_api_key_env: self.qdrant_api_key_env.clone(),
            ..StoreSettings::default()
        }
    }
}

/// Which LLM generates: a GGUF file run locally (default: the default model), or an
/// OpenAI-compatible server.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// A llama-family GGUF model file to run locally.
    #[arg(long, value_name = "FILE.gguf", env = "DOCKET_LLM_MODEL")]
    pub llm_model: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible server (llama.cpp, vLLM, Ollama, a hosted
    /// service) instead of a local model.
    #[arg(long, value_name = "URL", env = "DOCKET_LLM_URL")]
    pub llm_url: Option<String>,
    /// The model name the server serves.
    #[arg(long, value_name = "NAME", default_value_t = LlmSpec::default_name())]
    pub llm_name: String,
    /// Environment variable holding the server's API key.
    #[arg(long, value_name = "VAR", default_value_t = LlmSpec::default_api_key_env())]
    pub llm_api_key_env: String,
    /// Most tokens an answer may have.
    #[arg(long, value_name = "N", default_value_t = LlmSpec::default_max_tokens())]
    pub max_tokens: usize,
}

impl LlmArgs {
    pub fn spec(&self) -> LlmSpec {
        LlmSpec {
            model: self.llm_model.clone(),
            url: self.llm_url.clone(),
            name: self.llm_name.clone(),
            api_key_env: self.llm_api_key_env.clone(),
            max_tokens: self.max_tokens,
        }
    }
}

/// Retrieval mode flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Hybrid,
    Dense,
    Bm25,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Hybrid => Mode::Hybrid,
            ModeArg::Dense => Mode::Dense,
            ModeArg::Bm25 => Mode::Bm25,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FusionArg {
    Convex,
    Rrf,
}

/// How hybrid results are fused, over the index's tuned (or the default) setting.
#[derive(Debug, Args)]
pub struct FusionArgs {
    /// Fusion method of the hybrid results.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub fusion: Option<FusionArg>,
    /// Weight of BM25 in hybrid results, 0 to 1 (the dense leg gets the rest).
    #[arg(long, value_name = "W")]
    pub bm25_weight: Option<f32>,
}

impl FusionArgs {
    /// A fusion override from the flags, on top of `base`; None without flags.
    pub fn over(&self, base: FusionConfig) -> Result<Option<FusionConfig>, UsageError> {
        if self.fusion.is_none() && self.bm25_weight.is_none() {
            return Ok(None);
        }
        let mut fusion = base;
        if let Some(m) = self.fusion {
            fusion.method = match m {
                FusionArg::Convex => FusionMethod::Convex,
                FusionArg::Rrf => FusionMethod::Rrf,
            };
        }
        if let Some(w) = self.bm25_weight {
            fusion.bm25_weight = w;
        }
        fusion
            .validate()
            .map_err(|e| UsageError(format!("fusion: {e}")))?;
        Ok(Some(fusion))
    }
}

/// `--filter KEY=VALUE` flags (repeatable) as one [`Filter`].
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Keep only chunks matching KEY=VALUE: `source=GLOB` (path glob), `format=pdf`,
    /// `doc=ID`, or any ingest metadata field (`priority=high`). Repeat to combine.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<docket_index::FilterTerm>,
}

impl FilterArgs {
    pub fn filter(&self) -> Result<Filter, UsageError> {
        Filter::from_terms(self.filters.iter().cloned())
            .map_err(|e| UsageError(format!("--filter: {e}")))
    }
}

/// Row format of classified documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Csv,
    Jsonl,
}
