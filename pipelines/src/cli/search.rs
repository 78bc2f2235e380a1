//! `docket search` and `docket status`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, Result};
use docket_index::embed::Embedder;
use docket_index::{
    Fallback, Filter, FusionConfig, FusionMethod, Index, Manifest, Mode, SearchHit, Snippet,
};
use serde_json::json;

use crate::cli::{FusionArg, FusionArgs, SearchArgs, StatusArgs};
use crate::{Outcome, UsageError, log, models};

/// `--filter KEY=VALUE` flags as a [`Filter`]: `source` is a path glob, `format` a
/// document format (repeatable: any of them), `doc` a document id (repeatable), and any
/// other key an exact match on an ingest metadata field.
pub fn parse_filters(flags: &[String]) -> Result<Filter, UsageError> {
    let mut filter = Filter::default();
    for flag in flags {
        let Some((key, value)) = flag.split_once('=') else {
            return Err(UsageError(format!(
                "--filter {flag:?}: expected KEY=VALUE (source=GLOB, format=pdf, doc=ID or a metadata field)"
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(UsageError(format!("--filter {flag:?}: the key is empty")));
        }
        match key {
            "source" | "path" => {
                if filter.source_glob.replace(value.to_owned()).is_some() {
                    return Err(UsageError("--filter source= given twice".into()));
                }
            }
            "format" => filter.formats.push(value.to_lowercase()),
            "doc" | "doc_id" => filter.doc_ids.push(value.to_owned()),
            _ => {
                if filter
                    .metadata
                    .insert(key.to_owned(), value.to_owned())
                    .is_some()
                {
                    return Err(UsageError(format!("--filter {key}= given twice")));
                }
            }
        }
    }
    Ok(filter)
}

/// A fusion override from `--fusion` / `--bm25-weight`, on top of `base`.
pub fn fusion_override(
    base: FusionConfig,
    args: &FusionArgs,
) -> Result<Option<FusionConfig>, UsageError> {
    if args.fusion.is_none() && args.bm25_weight.is_none() {
        return Ok(None);
    }
    let mut fusion = base;
    if let Some(m) = args.fusion {
        fusion.method = match m {
            FusionArg::Convex => FusionMethod::Convex,
            FusionArg::Rrf => FusionMethod::Rrf,
        };
    }
    if let Some(w) = args.bm25_weight {
        fusion.bm25_weight = w;
    }
    fusion
        .validate()
        .map_err(|e| UsageError(format!("fusion: {e}")))?;
    Ok(Some(fusion))
}

/// Open an existing index for searching, with the embedder that embeds its queries when
/// `mode` needs one. If that model cannot be had, hybrid search falls back to BM25 (the
/// index says so in its results); dense search fails.
pub fn open_for_search(
    dir: &std::path::Path,
    mode: Mode,
    embed_model: Option<&std::path::Path>,
) -> Result<Index> {
    let manifest = Manifest::load(dir)?.ok_or_else(|| docket_index::Error::NotAnIndex {
        path: dir.to_owned(),
    })?;
    let embedder: Option<Arc<dyn Embedder>> = match (&manifest.embedder, mode) {
        (Some(model), Mode::Hybrid | Mode::Dense) => {
            match models::query_embedder(model, embed_model) {
                Ok(e) => Some(e),
                Err(e) if mode == Mode::Hybrid => {
                    log(&format!("notice: {e:#}"));
                    None
                }
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    Index::open(dir, embedder).with_context(|| format!("cannot open the index {}", dir.display()))
}

pub fn search(args: SearchArgs) -> Result<Outcome> {
    let mode: Mode = args.mode.into();
    let filter = parse_filters(&args.filters)?;
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    let index = open_for_search(&args.index.dir, mode, args.embed.embed_model.as_deref())?;
    let fusion = fusion_override(index.fusion(), &args.fusion)?;
    let results = index.search(&args.query, args.k, mode, &filter, fusion.as_ref())?;
    if let Some(fallback) = &results.fallback {
        log(&format!(
            "notice: {}; searching with BM25 only",
            match fallback {
                Fallback::NoVectors => "this index has no vectors (built with --no-embed)",
                Fallback::NoEmbedder => "no embedding model to embed the query",
            }
        ));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let color = !args.json && std::io::stdout().is_terminal();
    if results.hits.is_empty() && !args.json {
        log(&format!("no results for {:?}", args.query));
    }
    for (i, hit) in results.hits.iter().enumerate() {
        let snippet = index.snippet(&args.query, &hit.chunk, args.snippet_chars)?;
        if args.json {
            serde_json::to_writer(&mut out, &hit_json(i + 1, hit, &snippet, results.mode))?;
            writeln!(out)?;
        } else {
            write_hit(&mut out, i + 1, hit, &snippet, color)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// Where in its document a hit is: `page 3` / `pages 3-4`, and the heading path.
fn location(hit: &SearchHit) -> String {
    let c = &hit.chunk;
    let mut parts = Vec::new();
    // Pages mean something for paged formats, or once a document has more than one.
    if c.format == docket_ingest::Format::Pdf || c.page_end > 1 {
        if c.page_start == c.page_end {
            parts.push(format!("page {}", c.page_start));
        } else {
            parts.push(format!("pages {}-{}", c.page_start, c.page_end));
        }
    }
    if !c.heading_path.is_empty() {
        parts.push(c.heading_path.join(" > "));
    }
    parts.join(", ")
}

fn write_hit(
    out: &mut dyn Write,
    rank: usize,
    hit: &SearchHit,
    snippet: &Snippet,
    color: bool,
) -> Result<()> {
    let (bold, plain) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let legs: Vec<String> = [("dense", hit.dense), ("bm25", hit.bm25)]
        .iter()
        .filter_map(|(name, leg)| leg.map(|l| format!("{name} #{}", l.rank)))
        .collect();
    let loc = location(hit);
    write!(out, "{rank:>2}. {bold}{}{plain}", hit.chunk.source)?;
    if !loc.is_empty() {
        write!(out, "  ({loc})")?;
    }
    writeln!(out, "  score {:.3} [{}]", hit.score, legs.join(", "))?;
    let marked = if color {
        snippet.marked("\x1b[1;33m", "\x1b[0m")
    } else {
        snippet.marked("**", "**")
    };
    let one_line: String = marked.split_whitespace().collect::<Vec<_>>().join(" ");
    writeln!(out, "    {one_line}")?;
    Ok(())
}

fn hit_json(rank: usize, hit: &SearchHit, snippet: &Snippet, mode: Mode) -> serde_json::Value {
    let c = &hit.chunk;
    json!({
        "rank": rank,
        "score": hit.score,
        "mode": mode,
        "chunk_id": c.id,
        "doc_id": c.doc_id,
        "source": c.source,
        "title": c.title,
        "format": c.format,
        "page_start": c.page_start,
        "page_end": c.page_end,
        "heading_path": c.heading_path,
        "start": c.start,
        "end": c.end,
        "metadata": c.metadata,
        "dense_rank": hit.dense.map(|l| l.rank),
        "bm25_rank": hit.bm25.map(|l| l.rank),
        "snippet": snippet.fragment,
        "highlights": snippet.highlighted.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>(),
        "text": c.text,
    })
}

pub fn status(args: StatusArgs) -> Result<Outcome> {
    let index = Index::open(&args.index.dir, None)
        .with_context(|| format!("cannot open the index {}", args.index.dir.display()))?;
    let s = index.status()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &s)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    writeln!(out, "index       {}", s.path.display())?;
    let formats: Vec<String> = s
        .documents_by_format
        .iter()
        .map(|(f, n)| format!("{n} {f}"))
        .collect();
    writeln!(
        out,
        "documents   {} ({}){}",
        s.documents,
        formats.join(", "),
        if s.pending > 0 {
            format!(
                "; {} pending from an interrupted run (the next `docket index` redoes them)",
                s.pending
            )
        } else {
            String::new()
        }
    )?;
    writeln!(out, "pages       {}", s.pages)?;
    writeln!(
        out,
        "chunks      {} (BM25 {}, vectors {})",
        s.chunks,
        s.bm25_chunks,
        s.vector_points
            .map_or_else(|| "none".to_owned(), |n| n.to_string())
    )?;
    writeln!(
        out,
        "model       {}",
        match (&s.embedder, s.dimension) {
            (Some(m), Some(d)) => format!("{m} ({d} dimensions)"),
            _ => "none (BM25 only)".to_owned(),
        }
    )?;
    writeln!(out, "vectors     {}", s.backend)?;
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
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_into_fields_and_bad_ones_are_usage_errors() {
        let f = parse_filters(&[
            "source=policies/**".into(),
            "format=PDF".into(),
            "format=markdown".into(),
            "priority = high".into(),
        ])
        .unwrap();
        assert_eq!(f.source_glob.as_deref(), Some("policies/**"));
        assert_eq!(f.formats, ["pdf", "markdown"]);
        assert_eq!(f.metadata["priority"], "high");
        assert!(parse_filters(&["nokey".into()]).is_err());
        assert!(parse_filters(&["=x".into()]).is_err());
        assert!(parse_filters(&["a=1".into(), "a=2".into()]).is_err());
    }
}
