//! `[[answer]]`: every question of a questions file answered over the archive, with
//! checked citations (docket-generate's `ask`), redone when any document in scope
//! changes.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use docket_generate::LazyLlm;
use docket_generate::answer::{AnswerConfig, AnswerStrategy, AskOptions, NOT_FOUND_TEXT, ask_lazy};
use serde_json::{Value, json};

use super::{
    Context, Plan, begin, done_row, guarded, hash_hex, out_err, partition, scope, write_output,
};
use crate::error::{Error, Result};
use crate::explain::Explained;
use crate::job::TaskReport;
use crate::job::spec::AnswerTask;
use crate::job::state::{Mark, NewFailure, State};
use crate::provenance::{answer_docs, answer_prompt_version};
use crate::report::ReporterExt;

/// One question of a questions file.
#[derive(Debug)]
struct Question {
    key: String,
    id: Option<String>,
    text: String,
}

pub(super) fn run(
    ctx: &Context<'_>,
    t: &AnswerTask,
    plan: &Plan<'_>,
    report: &mut TaskReport,
) -> Result<()> {
    let name = plan.name;
    let reporter = ctx.env.reporter.as_ref();
    // Answers need the whole archive. A shard's own index holds its part only; a server
    // collection with the lexical leg holds every worker's chunks, but while workers are
    // still writing it is incomplete, so answering waits for an explicit answer step.
    if let Some(shard) = ctx.options.shard {
        let whole =
            ctx.options.tasks.is_some() && ctx.index.as_ref().is_some_and(|i| i.searches_server());
        if !whole {
            reporter.notice(&format!(
                "answer {name} skipped: shard {shard} holds only part of the archive; once every worker is done, run `docket run JOB --shard {shard} --tasks answer` on one of them (it answers over the whole server collection)"
            ));
            return Ok(());
        }
    }
    let questions = read_questions(&t.questions)?;
    report.total = questions.len();
    // An answer can change when any document in scope changes: the fingerprint covers
    // the question, the settings and every (document, content) pair in scope (on a
    // server collection, every document in it).
    let server = match &ctx.index {
        Some(index) => index.server_digest()?,
        None => None,
    };
    let corpus = match server {
        Some(digest) => digest,
        None => {
            let mut h = blake3::Hasher::new();
            for e in scope(ctx, plan.filter)? {
                h.update(e.doc_id.as_bytes());
                h.update(e.content_hash.as_bytes());
            }
            h.finalize().to_hex().to_string()
        }
    };
    let fingerprint = |q: &Question| {
        hash_hex(&[
            q.text.as_bytes(),
            plan.settings.as_bytes(),
            corpus.as_bytes(),
        ])
    };
    let todo = partition(ctx, name, &questions, |q| &q.key, fingerprint, report)?;
    if ctx.options.dry_run {
        // A sync that changes documents changes every answer's fingerprint.
        report.done = if ctx.planned.is_empty() {
            todo.len()
        } else {
            report.unchanged = 0;
            questions.len() - report.quarantined
        };
        reporter.info(&format!(
            "would answer {name}: {} questions ({} unchanged, {} quarantined)",
            report.done, report.unchanged, report.quarantined
        ));
        return Ok(());
    }
    let keep = questions.iter().map(|q| q.key.clone());
    let (state, _) = begin(ctx, name, keep, report)?;
    answer_all(ctx, t, plan, &todo, state, report)?;
    let markdown = t.output.extension().is_some_and(|e| e == "md");
    write_output(state, name, &t.output, |w| {
        write_answers(ctx, state, name, &questions, markdown, w)
    })?;
    Ok(())
}

/// Answer the questions to do, committing each answer (or failure) as it comes.
fn answer_all(
    ctx: &Context<'_>,
    t: &AnswerTask,
    plan: &Plan<'_>,
    todo: &[(&Question, String, bool)],
    state: &State,
    report: &mut TaskReport,
) -> Result<()> {
    let index = ctx
        .index
        .as_ref()
        .ok_or_else(|| Error::Usage("no index".into()))?;
    let strategy = t.strategy();
    // The LLM under the clock of the question being answered (loaded only when there
    // is a question to answer with it).
    let wants_llm = strategy != AnswerStrategy::Extractive && !todo.is_empty();
    let llm = match wants_llm.then(|| ctx.task_llm_arc()).flatten() {
        Some(timed) => LazyLlm::loaded(timed.clone()),
        None => LazyLlm::disabled(),
    };
    let options = AskOptions {
        filter: plan.filter.clone(),
        max_tokens: ctx.job.spec.llm.max_tokens,
        config: AnswerConfig {
            k: t.k,
            ..AnswerConfig::default()
        },
        strategy,
        allow_flagged: t.allow_flagged,
    };
    let progress =
        ctx.env
            .reporter
            .progress(&format!("answer {}", plan.name), todo.len(), "questions");
    // Each question is noted running before it is answered (see `run_noted`).
    let mark = |(q, fp, _): &(&Question, String, bool)| {
        vec![Mark {
            key: q.key.clone(),
            doc_id: String::new(),
            fingerprint: fp.clone(),
        }]
    };
    let answer = |(q, fp, _): &(&Question, String, bool)| {
        let answered = guarded(&ctx.clock, &[*q], |_| {
            vec![ask_lazy(index, &q.text, &options, &llm).map_err(|e| e.to_string())]
        });
        match answered
            .into_iter()
            .next()
            .unwrap_or(Err("no answer".into()))
        {
            Ok(a) => {
                let mut row = serde_json::to_value(&a).unwrap_or_default();
                row["id"] = json!(q.id);
                let (docs, chunks) = answer_docs(index, &a);
                let used = (a.model.is_some(), answer_prompt_version(&a));
                let p = ctx.provenance(plan.name, &q.key, &docs, chunks, used);
                let row_id = p["row_id"].as_str().unwrap_or_default().to_owned();
                ctx.explain(&[Explained::answer(&row_id, &a)]);
                row["provenance"] = p;
                (vec![(q.key.clone(), done_row("", fp, row))], vec![])
            }
            Err(e) => {
                let failure = NewFailure {
                    key: q.key.clone(),
                    doc_id: String::new(),
                    fingerprint: fp.clone(),
                    reason: format!("{:?}: {e}", q.text),
                };
                (vec![], vec![failure])
            }
        }
    };
    super::run_noted(
        ctx,
        state,
        plan.name,
        todo,
        mark,
        answer,
        report,
        progress.as_ref(),
    )?;
    progress.finish();
    if wants_llm && let Some(e) = ctx.llm.load_error() {
        ctx.env
            .reporter
            .notice(&format!("{e}; answering extractively"));
    }
    Ok(())
}

/// The answers in the questions file's order, as JSON Lines or Markdown.
fn write_answers(
    ctx: &Context<'_>,
    state: &State,
    name: &str,
    questions: &[Question],
    markdown: bool,
    w: &mut dyn Write,
) -> Result<()> {
    let err = out_err(name);
    if markdown {
        writeln!(w, "# {}: {name}\n", ctx.job.name).map_err(&err)?;
    }
    for q in questions {
        let Some(d) = state.done(name, &q.key)? else {
            continue;
        };
        if !markdown {
            serde_json::to_writer(&mut *w, &d.row).map_err(|e| Error::output(name, e))?;
            writeln!(w).map_err(&err)?;
            continue;
        }
        writeln!(w, "## {}\n", q.text).map_err(&err)?;
        super::write_provenance_comment(w, &d.row).map_err(&err)?;
        match d.row["answer"].as_str() {
            Some(a) => writeln!(w, "{a}\n"),
            None => writeln!(w, "_{NOT_FOUND_TEXT}_\n"),
        }
        .map_err(&err)?;
        for s in d.row["sources"].as_array().into_iter().flatten() {
            writeln!(
                w,
                "- [{}] {} (pages {}-{})",
                s["n"],
                s["source"].as_str().unwrap_or(""),
                s["page_start"],
                s["page_end"]
            )
            .map_err(&err)?;
        }
        writeln!(w).map_err(&err)?;
    }
    Ok(())
}

/// Questions from a text file (one per line, `#` comments), JSON Lines or CSV/TSV
/// (`question`, optional `id`); duplicates (same key) are dropped.
fn read_questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "jsonl" | "ndjson" => jsonl_questions(path, &text)?,
        "csv" | "tsv" => csv_questions(path, &text, if ext == "tsv" { b'\t' } else { b',' })?,
        _ => text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| (None, l.to_owned()))
            .collect(),
    };
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(id, q)| {
            let q = q.trim();
            (!q.is_empty()).then(|| Question {
                key: id.clone().unwrap_or_else(|| q.to_owned()),
                id,
                text: q.to_owned(),
            })
        })
        .filter(|q| seen.insert(q.key.clone()))
        .collect())
}

fn parse_error(path: &Path, line: usize, reason: &str) -> Error {
    Error::Parse {
        path: path.to_owned(),
        line,
        reason: reason.to_owned(),
    }
}

fn jsonl_questions(path: &Path, text: &str) -> Result<Vec<(Option<String>, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).map_err(|_| parse_error(path, n + 1, "not JSON"))?;
        let q = v["question"]
            .as_str()
            .ok_or_else(|| parse_error(path, n + 1, "no \"question\" field"))?;
        let id = match &v["id"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(x) => Some(x.to_string()),
            _ => None,
        };
        out.push((id, q.to_owned()));
    }
    Ok(out)
}

fn csv_questions(path: &Path, text: &str, delimiter: u8) -> Result<Vec<(Option<String>, String)>> {
    let bad = |e: csv::Error| {
        parse_error(
            path,
            e.position().map_or(0, |p| p.line() as usize),
            &e.to_string(),
        )
    };
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers = r.headers().map_err(bad)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let q = col("question").ok_or_else(|| parse_error(path, 1, "no \"question\" column"))?;
    let id = col("id");
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(bad)?;
        let id = id.and_then(|i| row.get(i)).map(str::to_owned);
        out.push((id, row.get(q).unwrap_or("").to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_come_from_text_jsonl_and_csv_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("q.txt");
        std::fs::write(&txt, "# morning questions\nWhat is the per diem?\n\nWhat is the per diem?\nWho approves travel?\n").unwrap();
        let q = read_questions(&txt).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].key, "What is the per diem?");
        let jsonl = dir.path().join("q.jsonl");
        std::fs::write(
            &jsonl,
            "{\"id\": 7, \"question\": \"A?\"}\n{\"question\": \"B?\"}\n",
        )
        .unwrap();
        let q = read_questions(&jsonl).unwrap();
        assert_eq!((q[0].key.as_str(), q[1].key.as_str()), ("7", "B?"));
        let csv = dir.path().join("q.csv");
        std::fs::write(&csv, "id,question\nq1,\"A, really?\"\n").unwrap();
        assert_eq!(read_questions(&csv).unwrap()[0].text, "A, really?");
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{\"q\": 1}\n").unwrap();
        assert!(
            read_questions(&bad)
                .unwrap_err()
                .to_string()
                .contains("bad.jsonl:1")
        );
    }
}
