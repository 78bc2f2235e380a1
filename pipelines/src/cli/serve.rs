//! `docket serve`, `docket completions` and `docket man`: flags in, the library's server
//! (docket_pipelines::serve) or clap's generators out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};
use docket_index::Manifest;
use docket_index::embed::{BatchingEmbedder, DEFAULT_MAX_BATCH};
use docket_pipelines::job::Job;
use docket_pipelines::models::{lazy_llm, query_embedder};
use docket_pipelines::report::{Reporter, ReporterExt};
use docket_pipelines::serve::replica::Replica;
use docket_pipelines::serve::{self, JobReport, ServeConfig, Served};

use super::ask::Strategy;
use super::flags::{EmbedModelArgs, LlmArgs};
use super::outcome::{Outcome, UsageError};
use super::term::{LogFormat, Term};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A job file: serve its index, let the page show its last report, and serve
    /// original files from its sources. Without it, give --index.
    #[arg(value_name = "JOB.toml", conflicts_with = "index")]
    pub job: Option<PathBuf>,
    /// Index directory to serve.
    #[arg(long, value_name = "DIR", env = "DOCKET_INDEX")]
    pub index: Option<PathBuf>,
    /// Address to listen on. Anything but loopback requires a token.
    #[arg(long, value_name = "HOST:PORT", default_value_t = ServeConfig::default_addr())]
    pub addr: SocketAddr,
    /// File holding the bearer token API requests must carry (else DOCKET_SERVE_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Folders (or files) the index was built from, so the page can open original files
    /// (a job file's sources are used by default).
    #[arg(long = "source", value_name = "PATH")]
    pub sources: Vec<PathBuf>,
    /// How questions are answered unless a request says otherwise.
    #[arg(long, value_enum, default_value_t = Strategy::Extractive)]
    pub strategy: Strategy,
    /// Let chunks flagged at ingest as instructions to an assistant into answer and
    /// summary contexts (left out by default).
    #[arg(long)]
    pub allow_flagged: bool,
    /// Questions the LLM works on at once.
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default_llm_slots())]
    pub llm_slots: usize,
    /// Requests that may wait for the LLM (429 past this).
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default_llm_queue())]
    pub llm_queue: usize,
    /// Answer and summary requests one client may have in flight (429 past this).
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default_per_client())]
    pub per_client: usize,
    /// Answer and summary requests one client may start per minute.
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default_per_client_per_minute())]
    pub per_client_per_minute: u32,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ServeConfig::default_body_limit())]
    pub body_limit: usize,
    /// An origin allowed to call the API from its pages (CORS); repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, value_name = "SECS", default_value_t = ServeConfig::default_shutdown_secs())]
    pub shutdown_secs: u64,
    /// Where the server keeps its copies of the index (default: the system's temporary
    /// folder; on the index's file system they are cheaper).
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Log lines (and the access log) as text or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

pub fn serve(args: ServeArgs, term: Term) -> Result<Outcome> {
    let reporter: Arc<dyn Reporter> = Arc::new(term);
    let job = args
        .job
        .as_deref()
        .map(Job::load)
        .transpose()
        .context("cannot serve the job")?;
    let dir = match (&job, &args.index) {
        (Some(job), _) => job.spec.index.dir.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => {
            return Err(UsageError("give a job file or --index DIR".into()).into());
        }
    };
    let mut sources = args.sources.clone();
    if sources.is_empty()
        && let Some(job) = &job
    {
        sources = job.spec.sources.paths.clone();
    }
    let token = match &args.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the token file {}", f.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("DOCKET_SERVE_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
    };
    let config = ServeConfig {
        addr: args.addr,
        token,
        body_limit: args.body_limit,
        llm_slots: args.llm_slots,
        llm_queue: args.llm_queue,
        per_client: args.per_client,
        per_client_per_minute: args.per_client_per_minute,
        cors_origins: args.cors_origins.clone(),
        shutdown_secs: args.shutdown_secs,
        sources,
        strategy: args.strategy.library(),
        max_tokens: args.llm.max_tokens,
        allow_flagged: args.allow_flagged,
        ..ServeConfig::default()
    };
    config.validate()?;
    let manifest = Manifest::load(&dir)?
        .ok_or_else(|| docket_index::Error::NotAnIndex { path: dir.clone() })?;
    let embedder = match &manifest.embedder {
        Some(model) => {
            match query_embedder(model, args.embed.embed_model.as_deref(), reporter.as_ref()) {
                // Concurrent requests' queries are embedded together.
                Ok(e) => Some(Arc::new(BatchingEmbedder::new(e, DEFAULT_MAX_BATCH))
                    as Arc<dyn docket_index::embed::Embedder>),
                Err(e) => {
                    reporter.notice(&format!("{e}; searching with BM25 only"));
                    None
                }
            }
        }
        None => None,
    };
    let llm_spec = match &job {
        Some(job) if args.llm.llm_model.is_none() && args.llm.llm_url.is_none() => {
            job.spec.llm.clone()
        }
        _ => args.llm.spec(),
    };
    let llm = lazy_llm(&llm_spec, false, Arc::clone(&reporter));
    let work = match &args.snapshot_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            tempfile::Builder::new()
                .prefix("docket-serve-")
                .tempdir_in(d)
        }
        None => tempfile::Builder::new().prefix("docket-serve-").tempdir(),
    }
    .context("cannot create the server's working folder")?;
    let replica = Replica::start(
        &dir,
        work.path(),
        embedder.clone(),
        Duration::from_secs(60),
        Arc::clone(&reporter),
    )
    .with_context(|| format!("cannot serve the index {}", dir.display()))?;
    let served = Served {
        replica,
        embedder,
        llm,
        embed_dir: args.embed.embed_model.clone(),
        llm_spec,
        job: job.as_ref().map(|j| JobReport {
            name: j.name.clone(),
            path: j.report_path(),
        }),
    };
    let listening = Arc::clone(&reporter);
    serve::run(served, config, Arc::clone(&reporter), move |addr| {
        listening.info(&format!("docket serve: listening on http://{addr}"));
    })?;
    drop(work);
    reporter.info("docket serve: stopped");
    Ok(Outcome::Success)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Print the completion script of `shell` for the whole command line.
pub fn completions(args: CompletionsArgs) -> Result<Outcome> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    let mut command = super::Cli::command();
    // Into a buffer first: clap_complete panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "docket", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(Outcome::Success)
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write docket.1 and one docket-COMMAND.1 per subcommand into this folder, instead
    /// of printing docket.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The man page (roff) of docket, and with `--out-dir` one page per subcommand.
pub fn man(args: ManArgs) -> Result<Outcome> {
    let command = super::Cli::command();
    let Some(dir) = args.out_dir else {
        clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?;
        return Ok(Outcome::Success);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, page: clap::Command| -> Result<()> {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page).render(&mut bytes)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write("docket", command.clone())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("docket-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("docket {}", sub.get_name()));
        write(&name, page)?;
    }
    Ok(Outcome::Success)
}
