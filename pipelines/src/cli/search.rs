//! `docket search` and `docket status`: printing what docket-index finds and holds.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use clap::Args;
use docket_index::{Fallback, HitRecord, Index, Mode, Status};
use docket_pipelines::explain::{ChunkScore, ExplainLog, Explained};
use docket_pipelines::models::open_for_search;
use docket_pipelines::provenance::OneOff;
use docket_pipelines::report::ReporterExt;

use super::flags::{EmbedModelArgs, FilterArgs, FusionArgs, IndexDirArgs, ModeArg};
use super::outcome::{Outcome, UsageError};
use super::term::Term;

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
    #[command(flatten)]
    pub filter: FilterArgs,
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

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn search(args: SearchArgs, term: Term) -> Result<Outcome> {
    let mode: Mode = args.mode.into();
    let filter = args.filter.filter()?;
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    let index = open_for_search(
        &args.index.dir,
        mode,
        args.embed.embed_model.as_deref(),
        &term,
    )?;
    let fusion = args.fusion.over(index.fusion())?;
    let results = index.search(&args.query, args.k, mode, &filter, fusion.as_ref())?;
    if let Some(fallback) = &results.fallback {
        term.notice(&format!(
            "{}; searching with BM25 only",
            match fallback {
                Fallback::NoVectors => "this index has no vectors (built with --no-embed)",
                Fallback::NoEmbedder => "no embedding model to embed the query",
            }
        ));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let color = !args.json && std::io::stdout().is_terminal();
    if results.hits.is_empty() && !args.json {
        term.info(&format!("no results for {:?}", args.query));
    }
    // Each hit's provenance (in --json), and its scores kept for `docket explain`.
    let run = OneOff::new("search");
    let models = match results.mode {
        Mode::Bm25 => Vec::new(),
        _ => run.embedder(&index, args.embed.embed_model.as_deref()),
    };
    let mut explained = Vec::new();
    for (i, hit) in results.hits.iter().enumerate() {
        let snippet = index.snippet(&args.query, &hit.chunk, args.snippet_chars)?;
        let record = HitRecord::new(i + 1, hit, &snippet, results.mode);
        let provenance = run.hit(&index, &(i + 1).to_string(), hit, models.clone())?;
        let c = &hit.chunk;
        let score =
            ChunkScore::retrieved(&c.id, &c.doc_id, &c.source, hit.score, hit.dense, hit.bm25);
        explained.push(Explained::chunks(
            &provenance.row_id,
            "search",
            vec![score],
            Vec::new(),
        ));
        if args.json {
            let mut value = serde_json::to_value(&record)?;
            value["provenance"] = provenance.to_value();
            serde_json::to_writer(&mut out, &value)?;
            writeln!(out)?;
        } else {
            let marked = if color {
                snippet.marked("\x1b[1;33m", "\x1b[0m")
            } else {
                snippet.marked("**", "**")
            };
            write_hit(&mut out, &record, &marked, color)?;
        }
    }
    out.flush()?;
    if let Err(e) = ExplainLog::commands(&args.index.dir).append(&run.run_id, &explained) {
        term.notice(&format!("the hits' explain records are not kept: {e}"));
    }
    Ok(Outcome::Success)
}

fn write_hit(out: &mut dyn Write, hit: &HitRecord<'_>, marked: &str, color: bool) -> Result<()> {
    let (bold, plain) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let legs: Vec<String> = [("dense", hit.dense_rank), ("bm25", hit.bm25_rank)]
        .iter()
        .filter_map(|(name, rank)| rank.map(|r| format!("{name} #{r}")))
        .collect();
    let loc = hit.location();
    write!(out, "{:>2}. {bold}{}{plain}", hit.rank, hit.source)?;
    if !loc.is_empty() {
        write!(out, "  ({loc})")?;
    }
    writeln!(out, "  score {:.3} [{}]", hit.score, legs.join(", "))?;
    let one_line: String = marked.split_whitespace().collect::<Vec<_>>().join(" ");
    writeln!(out, "    {one_line}")?;
    Ok(())
}

pub fn status(args: StatusArgs) -> Result<Outcome> {
    let index = Index::open(&args.index.dir, None)
        .with_context(|| format!("cannot open the index {}", args.index.dir.display()))?;
    let s = index.status()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &s)?;
        writeln!(out)?;
    } else {
        write_status(&mut out, &s)?;
    }
    Ok(Outcome::Success)
}

fn write_status(out: &mut dyn Write, s: &Status) -> Result<()> {
    writeln!(out, "index       {}", s.path.display())?;
    let formats: Vec<String> = s
        .documents_by_format
        .iter()
        .map(|(f, n)| format!("{n} {f}"))
        .collect();
    let pending = if s.pending > 0 {
        format!(
            "; {} pending from an interrupted run (the next `docket index` redoes them)",
            s.pending
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "documents   {} ({}){pending}",
        s.documents,
        formats.join(", ")
    )?;
    writeln!(out, "pages       {}", s.pages)?;
    let vectors = s
        .vector_points
        .map_or_else(|| "none".to_owned(), |n| n.to_string());
    writeln!(
        out,
        "chunks      {} (BM25 {}, vectors {vectors})",
        s.chunks, s.bm25_chunks
    )?;
    let model = match (&s.embedder, s.dimension) {
        (Some(m), Some(d)) => format!("{m} ({d} dimensions)"),
        _ => "none (BM25 only)".to_owned(),
    };
    writeln!(out, "model       {model}")?;
    writeln!(out, "vectors     {}", s.backend)?;
    writeln!(out, "lexical     {}", s.lexical)?;
    writeln!(
        out,
        "chunking    up to {} {} tokens, overlap {}",
        s.chunking.target_tokens, s.tokenizer, s.chunking.overlap_tokens
    )?;
    writeln!(
        out,
        "fusion      {:?}, BM25 weight {}",
        s.fusion.method, s.fusion.bm25_weight
    )?;
    writeln!(
        out,
        "on disk     {:.1} MiB",
        s.bytes_on_disk as f64 / 1048576.0
    )?;
    if !s.flagged.is_empty() {
        let more = if s.flagged.len() >= Index::STATUS_FLAGGED {
            " (the first ones)"
        } else {
            ""
        };
        writeln!(
            out,
            "flagged     {} chunks{more} give instructions to an assistant; answers and summaries leave them out (--allow-flagged keeps them):",
            s.flagged.len()
        )?;
        for f in &s.flagged {
            writeln!(
                out,
                "  {} (page {}, {}): {}",
                f.source, f.page, f.chunk_id, f.reason
            )?;
        }
    }
    Ok(())
}
