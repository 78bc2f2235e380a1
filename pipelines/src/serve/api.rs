//! The handlers of the HTTP API and the page's static files.
//!
//! Every handler reads the current snapshot of the index and does its work on tokio's
//! blocking pool. Errors are JSON (`{"error": {"code", "message"}}`); the user's own
//! mistakes say what was wrong, and the server's failures say only that they happened
//! (the detail, which may hold file-system paths, goes to the server's log).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use docket_generate::answer::{AnswerConfig, AnswerStrategy, AskOptions, ask_lazy_streaming};
use docket_generate::classify::{Classifier, Decision, LabelSpec, ZeroShotConfig};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig};
use docket_index::catalog::DocEntry;
use docket_index::{Fallback, Filter, HitRecord, Mode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::metrics::Gauges;
use super::replica::Snapshot;
use crate::provenance::{DocRef, OneOff};
use crate::report::Level;

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

/// Longest question or query, in bytes.
const MAX_QUERY_BYTES: usize = 2000;
/// Most hits one search returns.
const MAX_K: usize = 100;
/// Longest span `/documents/{id}/text` returns, in bytes.
const MAX_SPAN_BYTES: usize = 64 * 1024;
/// Most context on each side of a span, in bytes.
const MAX_CONTEXT_BYTES: usize = 4096;
/// Largest page of `/documents`.
const MAX_PAGE: usize = 500;
/// Longest posted text to classify or summarize, in bytes (the body limit caps it too).
const MAX_TEXT_BYTES: usize = 512 * 1024;

/// An error as the API reports it.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: message.to_owned(),
            retry_after: None,
        }
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    fn bad_request(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure of the server: logged in full, reported without detail.
    fn internal(app: &App, what: &str, e: &dyn std::fmt::Display) -> ApiError {
        app.reporter.log(Level::Error, &format!("{what}: {e}"));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &format!("{what} failed; the server's log says why"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// A JSON body the API could not take: its status (400, 413, 415, 422) and reason.
fn rejected(r: &JsonRejection) -> ApiError {
    let code = match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    };
    ApiError::new(r.status(), code, &r.body_text())
}

fn rejected_query(r: &QueryRejection) -> ApiError {
    ApiError::bad_request(&r.body_text())
}

/// Run `work` on the blocking pool with the current snapshot.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&App, &Snapshot) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app2 = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        let snapshot = app2.served.replica.current();
        work(&app2, &snapshot)
    })
    .await
    .map_err(|e| ApiError::internal(app, "the request", &e))?
}

/// A filter as the API takes it: the job file's table (`{"source": "policies/**",
/// "format": "pdf", "priority": "high"}`) or the command line's terms
/// (`"source=policies/**;format=pdf"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FilterArg {
    Terms(String),
    Table(Filter),
}

fn filter_of(arg: Option<FilterArg>) -> Result<Filter, ApiError> {
    match arg {
        None => Ok(Filter::default()),
        Some(FilterArg::Table(f)) => Ok(f),
        Some(FilterArg::Terms(s)) => s
            .parse()
            .map_err(|e: docket_index::Error| ApiError::bad_request(&e.to_string())),
    }
}

fn check_text(name: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(&format!("{name} is empty")));
    }
    if text.len() > max {
        return Err(ApiError::bad_request(&format!(
            "{name} is longer than {max} bytes"
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequest {
    query: String,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    filter: Option<FilterArg>,
    #[serde(default)]
    snippet_chars: Option<usize>,
}

pub(crate) async fn search(
    State(app): State<Arc<App>>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|r| rejected(&r))?;
    check_text("query", &req.query, MAX_QUERY_BYTES)?;
    let k = req.k.unwrap_or(10);
    if k == 0 || k > MAX_K {
        return Err(ApiError::bad_request(&format!("k must be 1 to {MAX_K}")));
    }
    let filter = filter_of(req.filter)?;
    let mode = req.mode.unwrap_or(Mode::Hybrid);
    let snippet_chars = req.snippet_chars.unwrap_or(240).clamp(20, 2000);
    let value = blocking(&app, move |app, snap| {
        let index = snap.index();
        if mode == Mode::Dense && index.embedder().is_none() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_embedder",
                "dense search needs the index's embedding model, which the server has not loaded",
            ));
        }
        let results = index
            .search(&req.query, k, mode, &filter, None)
            .map_err(|e| ApiError::internal(app, "search", &e))?;
        let mut hits = Vec::with_capacity(results.hits.len());
        let run = OneOff::new("search");
        let models = match results.mode {
            Mode::Bm25 => Vec::new(),
            _ => run.embedder(index, app.served.embed_dir.as_deref()),
        };
        for (i, hit) in results.hits.iter().enumerate() {
            let snippet = index
                .snippet(&req.query, &hit.chunk, snippet_chars)
                .map_err(|e| ApiError::internal(app, "snippet", &e))?;
            let record = HitRecord::new(i + 1, hit, &snippet, results.mode);
            let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
            let provenance = run
                .hit(index, &(i + 1).to_string(), hit, models.clone())
                .map_err(|e| ApiError::internal(app, "provenance", &e))?;
            value["provenance"] = provenance.to_value();
            hits.push(value);
        }
        let fallback = results.fallback.map(|f| match f {
            Fallback::NoVectors => "this index has no vectors; BM25 only",
            Fallback::NoEmbedder => "no embedding model for the query; BM25 only",
        });
        Ok(json!({
            "query": req.query,
            "mode": results.mode,
            "fallback": fallback,
            "generation": snap.generation(),
            "hits": hits,
        }))
    })
    .await?;
    Ok(Json(value))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AskRequest {
    question: String,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    filter: Option<FilterArg>,
    #[serde(default)]
    strategy: Option<AnswerStrategy>,
    #[serde(default)]
    max_tokens: Option<usize>,
}

/// One event of a streamed answer.
enum AskEvent {
    Start(Value),
    Token(String),
    Answer(Value),
    Error(Value),
}

impl AskEvent {
    fn into_sse(self) -> Event {
        let (name, data) = match self {
            AskEvent::Start(v) => ("start", v),
            AskEvent::Token(t) => ("token", json!({ "text": t })),
            AskEvent::Answer(v) => ("answer", v),
            AskEvent::Error(v) => ("error", v),
        };
        Event::default().event(name).data(data.to_string())
    }
}

pub(crate) async fn ask(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<AskRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|r| rejected(&r))?;
    check_text("question", &req.question, MAX_QUERY_BYTES)?;
    let k = req.k.unwrap_or_else(AnswerConfig::default_k);
    if k == 0 || k > MAX_K {
        return Err(ApiError::bad_request(&format!("k must be 1 to {MAX_K}")));
    }
    let filter = filter_of(req.filter)?;
    let strategy = req.strategy.unwrap_or(app.config.strategy);
    let max_tokens = req
        .max_tokens
        .unwrap_or(app.config.max_tokens)
        .clamp(1, 4 * app.config.max_tokens.max(1));
    let options = AskOptions {
        config: AnswerConfig {
            k,
            ..AnswerConfig::default()
        },
        filter,
        max_tokens,
        strategy,
        allow_flagged: app.config.allow_flagged,
    };
    let admitted = app
        .guard
        .admit(Some(peer.ip()), strategy != AnswerStrategy::Extractive)
        .await?;
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let question = req.question;
    if !streaming {
        let value = blocking(&app, move |app, snap| {
            let _admitted = admitted;
            answer(app, snap, &question, &options, &mut |_| {
                ControlFlow::Continue(())
            })
        })
        .await?;
        return Ok(Json(value).into_response());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<AskEvent>(512);
    let worker = Arc::clone(&app);
    tokio::task::spawn_blocking(move || {
        let _admitted = admitted;
        let snap = worker.served.replica.current();
        let _ = tx.blocking_send(AskEvent::Start(json!({
            "strategy": options.strategy,
            "generation": snap.generation(),
        })));
        let mut on_text = |t: &str| {
            worker.metrics.add_llm_pieces(1);
            match tx.blocking_send(AskEvent::Token(t.to_owned())) {
                Ok(()) => ControlFlow::Continue(()),
                // The client has gone: stop generating.
                Err(_) => ControlFlow::Break(()),
            }
        };
        let event = match answer(&worker, &snap, &question, &options, &mut on_text) {
            Ok(v) => AskEvent::Answer(v),
            Err(e) => AskEvent::Error(json!({"code": e.code, "message": e.message})),
        };
        let _ = tx.blocking_send(event);
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|e| e.map(|e| Ok::<Event, Infallible>(e.into_sse())))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The checked answer as JSON, with a notice when the LLM could not be loaded.
fn answer(
    app: &App,
    snap: &Snapshot,
    question: &str,
    options: &AskOptions,
    on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> Result<Value, ApiError> {
    let answered = ask_lazy_streaming(snap.index(), question, options, &app.served.llm, on_text)
        .map_err(|e| ApiError::internal(app, "answering", &e))?;
    let kind = match (&answered.abstained, &answered.mode) {
        (Some(_), _) => "abstained".to_owned(),
        (None, mode) => serde_json::to_value(mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "answered".into()),
    };
    app.metrics.answered(&kind);
    let mut value =
        serde_json::to_value(&answered).map_err(|e| ApiError::internal(app, "answering", &e))?;
    if let Some(o) = value.as_object_mut() {
        let notice = app
            .served
            .llm
            .load_error()
            .filter(|_| options.strategy != AnswerStrategy::Extractive)
            .map(|_| "the LLM could not be loaded; the answer is extractive");
        o.insert("notice".into(), json!(notice));
        o.insert("generation".into(), json!(snap.generation()));
        let run = OneOff::new("ask");
        let index = snap.index();
        let models = run.embedder(index, app.served.embed_dir.as_deref());
        let provenance = run.answer(index, "1", &answered, models, Some(&app.served.llm_spec));
        o.insert("provenance".into(), provenance.to_value());
    }
    Ok(value)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentsQuery {
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
    /// Glob on the document's source path.
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

fn entry_json(e: &DocEntry) -> Value {
    json!({
        "doc_id": e.doc_id,
        "source": e.source,
        "format": e.format,
        "title": e.title,
        "state": e.state,
        "chunks": e.chunks,
        "pages": e.pages,
        "updated_at": e.updated_at,
        "content_hash": e.content_hash,
    })
}

pub(crate) async fn documents(
    State(app): State<Arc<App>>,
    query: Result<Query<DocumentsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|r| rejected_query(&r))?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(&format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let glob = match &q.source {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| ApiError::bad_request(&format!("source glob: {e}")))?
                .compile_matcher(),
        ),
        None => None,
    };
    let format = q.format.map(|f| f.to_lowercase());
    let value = blocking(&app, move |app, snap| {
        let mut entries = snap
            .index()
            .catalog()
            .entries()
            .map_err(|e| ApiError::internal(app, "listing documents", &e))?;
        entries.retain(|e| {
            glob.as_ref().is_none_or(|g| g.is_match(&e.source))
                && format.as_ref().is_none_or(|f| e.format.name() == f)
        });
        entries.sort_by(|a, b| a.source.cmp(&b.source));
        let total = entries.len();
        let page: Vec<Value> = entries
            .iter()
            .skip(q.offset)
            .take(limit)
            .map(entry_json)
            .collect();
        Ok(json!({
            "total": total,
            "offset": q.offset,
            "limit": limit,
            "generation": snap.generation(),
            "documents": page,
        }))
    })
    .await?;
    Ok(Json(value))
}

/// The catalog entry of `id`, or 404. Ids are only ever looked up, never used as paths.
fn entry_of(app: &App, snap: &Snapshot, id: &str) -> Result<DocEntry, ApiError> {
    if id.len() > 256 {
        return Err(ApiError::not_found("no such document"));
    }
    snap.index()
        .catalog()
        .get(id)
        .map_err(|e| ApiError::internal(app, "reading the catalog", &e))?
        .ok_or_else(|| ApiError::not_found("no such document"))
}

pub(crate) async fn document(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let value = blocking(&app, move |app, snap| {
        let entry = entry_of(app, snap, &id)?;
        let chunks = snap
            .index()
            .document_chunks(&entry)
            .map_err(|e| ApiError::internal(app, "reading the document", &e))?;
        // Where each page starts in the text, from the chunks that start on it.
        let mut pages: std::collections::BTreeMap<u32, usize> = Default::default();
        let mut headings: Vec<Vec<String>> = Vec::new();
        for c in &chunks {
            let at = pages.entry(c.page_start).or_insert(c.start);
            *at = (*at).min(c.start);
            if !c.heading_path.is_empty()
                && headings.last() != Some(&c.heading_path)
                && headings.len() < 500
            {
                headings.push(c.heading_path.clone());
            }
        }
        let mut value = entry_json(&entry);
        if let Some(o) = value.as_object_mut() {
            o.insert(
                "metadata".into(),
                json!(chunks.first().map(|c| &c.metadata)),
            );
            o.insert("length".into(), json!(chunks.iter().map(|c| c.end).max()));
            o.insert(
                "page_starts".into(),
                json!(
                    pages
                        .iter()
                        .map(|(p, s)| json!({"page": p, "start": s}))
                        .collect::<Vec<_>>()
                ),
            );
            o.insert("headings".into(), json!(headings));
            o.insert(
                "file".into(),
                json!(
                    source_file(app, &entry)
                        .map(|_| format!("/v1/documents/{}/file", entry.doc_id))
                ),
            );
        }
        Ok(value)
    })
    .await?;
    Ok(Json(value))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextQuery {
    #[serde(default)]
    start: Option<usize>,
    #[serde(default)]
    end: Option<usize>,
    /// Bytes of text to return on each side of the span.
    #[serde(default)]
    context: Option<usize>,
}

fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

pub(crate) async fn document_text(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    query: Result<Query<TextQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|r| rejected_query(&r))?;
    let context = q.context.unwrap_or(400).min(MAX_CONTEXT_BYTES);
    let value = blocking(&app, move |app, snap| {
        let entry = entry_of(app, snap, &id)?;
        let chunks = snap
            .index()
            .document_chunks(&entry)
            .map_err(|e| ApiError::internal(app, "reading the document", &e))?;
        let text = docket_index::index::text_of_chunks(&chunks);
        let start = q.start.unwrap_or(0);
        let end = q
            .end
            .unwrap_or_else(|| text.len().min(start.saturating_add(4096)));
        if start > end {
            return Err(ApiError::bad_request("start is after end"));
        }
        if end > text.len() {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "out_of_range",
                &format!("the document's text has {} bytes", text.len()),
            ));
        }
        if end - start > MAX_SPAN_BYTES {
            return Err(ApiError::bad_request(&format!(
                "a span may have at most {MAX_SPAN_BYTES} bytes"
            )));
        }
        let (s, e) = (floor_char(&text, start), ceil_char(&text, end));
        let before = floor_char(&text, s.saturating_sub(context));
        let after = ceil_char(&text, e.saturating_add(context));
        let page = chunks
            .iter()
            .find(|c| c.start <= s && s < c.end.max(c.start + 1))
            .map(|c| c.page_start);
        Ok(json!({
            "doc_id": entry.doc_id,
            "source": entry.source,
            "start": s,
            "end": e,
            "page": page,
            "length": text.len(),
            "before": &text[before..s],
            "text": &text[s..e],
            "after": &text[e..after],
        }))
    })
    .await?;
    Ok(Json(value))
}

/// The original file of `entry`, if it lies under one of the configured sources and
/// (for a whole-file document) still has the content that was indexed.
fn source_file(app: &App, entry: &DocEntry) -> Option<PathBuf> {
    let (relative, whole) = match entry.source.split_once('#') {
        Some((file, _)) => (file, false),
        None => (entry.source.as_str(), true),
    };
    let relative = Path::new(relative);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    for root in &app.roots {
        let candidate = if root.is_file() {
            if root.file_name() != relative.file_name() || relative.components().count() != 1 {
                continue;
            }
            root.clone()
        } else {
            root.join(relative)
        };
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        if !real.starts_with(root) || !real.is_file() {
            continue;
        }
        if whole && app.file_hashes.hash(&real).as_deref() != Some(entry.content_hash.as_str()) {
            continue;
        }
        return Some(real);
    }
    None
}

pub(crate) async fn document_file(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let (path, name) = blocking(&app, move |app, snap| {
        let entry = entry_of(app, snap, &id)?;
        let path = source_file(app, &entry).ok_or_else(|| {
            ApiError::not_found(
                "the original file is not available (the server was not given the index's sources, or the file has changed)",
            )
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((path, name))
    })
    .await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(&app, "reading the file", &e))?;
    let ext = Path::new(&name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // Never served as HTML or script: a document of the archive must not run in the
    // page's origin.
    let content_type = match ext.as_str() {
        "pdf" => "application/pdf",
        "md" | "markdown" | "txt" | "text" | "csv" | "tsv" | "jsonl" | "eml" | "html" | "htm" => {
            "text/plain; charset=utf-8"
        }
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    };
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{safe_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Nothing served may run script in the page's origin; PDFs are exempt because the
    // browser's PDF viewer refuses to open in a sandbox (and runs apart from the page).
    if content_type != "application/pdf" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
    }
    Ok(response)
}

/// A label as the API takes it: a name, or a name with a description.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LabelArg {
    Name(String),
    Spec(LabelSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClassifyRequest {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    doc_id: Option<String>,
    labels: Vec<LabelArg>,
    /// Every label scoring at least this (multi-label); the best one alone otherwise.
    #[serde(default)]
    threshold: Option<f32>,
}

/// The text of a request that names a document or posts its text (exactly one).
fn request_text(
    app: &App,
    snap: &Snapshot,
    text: Option<String>,
    doc_id: Option<&str>,
) -> Result<String, ApiError> {
    match (text, doc_id) {
        (Some(t), None) => {
            check_text("text", &t, MAX_TEXT_BYTES)?;
            Ok(t)
        }
        (None, Some(id)) => {
            let entry = entry_of(app, snap, id)?;
            snap.index()
                .document_text(&entry)
                .map_err(|e| ApiError::internal(app, "reading the document", &e))
        }
        _ => Err(ApiError::bad_request("give either text or doc_id")),
    }
}

pub(crate) async fn classify(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<ClassifyRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|r| rejected(&r))?;
    if req.labels.len() < 2 || req.labels.len() > 100 {
        return Err(ApiError::bad_request("give 2 to 100 labels"));
    }
    let labels: Vec<LabelSpec> = req
        .labels
        .into_iter()
        .map(|l| match l {
            LabelArg::Name(n) => LabelSpec::new(n, None),
            LabelArg::Spec(s) => s,
        })
        .collect();
    let decision = match req.threshold {
        Some(t) if (0.0..=1.0).contains(&t) => Decision::MultiLabel { threshold: t },
        Some(_) => return Err(ApiError::bad_request("threshold must be in 0..=1")),
        None => Decision::Single,
    };
    let admitted = app.guard.admit(Some(peer.ip()), false).await?;
    let value = blocking(&app, move |app, snap| {
        let _admitted = admitted;
        let embedder = app.served.embedder.clone().ok_or_else(no_embedder)?;
        let text = request_text(app, snap, req.text, req.doc_id.as_deref())?;
        let clf = Classifier::zero_shot(&labels, &ZeroShotConfig::default(), embedder)
            .map_err(|e| ApiError::bad_request(&e.to_string()))?;
        let prediction = clf
            .predict(&[text.as_str()], None, decision)
            .map_err(|e| ApiError::internal(app, "classifying", &e))?
            .remove(0);
        let provenance = request_provenance(app, snap, "classify", req.doc_id.as_deref())?;
        Ok(json!({"doc_id": req.doc_id, "prediction": prediction, "provenance": provenance}))
    })
    .await?;
    Ok(Json(value))
}

/// The provenance of a classification or summary made by the server's embedder from
/// the document `doc_id` (all its chunks) or from posted text (no document, no chunks).
/// No prompt is involved: both are made without the LLM.
fn request_provenance(
    app: &App,
    snap: &Snapshot,
    task: &'static str,
    doc_id: Option<&str>,
) -> Result<Value, ApiError> {
    let index = snap.index();
    let run = OneOff::new(task);
    let (docs, chunks) = match doc_id {
        Some(id) => {
            let entry = entry_of(app, snap, id)?;
            let metadata = index
                .document_metadata(&entry)
                .map_err(|e| ApiError::internal(app, "provenance", &e))?;
            let chunks = (0..entry.chunks).map(|i| format!("{id}-{i}")).collect();
            (vec![DocRef::new(&entry, &metadata)], chunks)
        }
        None => (Vec::new(), Vec::new()),
    };
    let models = run.embedder(index, app.served.embed_dir.as_deref());
    let key = doc_id.unwrap_or("text");
    Ok(run.provenance(key, &docs, chunks, models, None).to_value())
}

fn no_embedder() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_embedder",
        "this needs an embedding model, and the server has none loaded",
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SummarizeRequest {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    doc_id: Option<String>,
    /// At most this many sentences (default 5).
    #[serde(default)]
    sentences: Option<usize>,
}

pub(crate) async fn summarize(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SummarizeRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|r| rejected(&r))?;
    let sentences = req.sentences.unwrap_or(5);
    if sentences == 0 || sentences > 50 {
        return Err(ApiError::bad_request("sentences must be 1 to 50"));
    }
    let admitted = app.guard.admit(Some(peer.ip()), false).await?;
    let value = blocking(&app, move |app, snap| {
        let _admitted = admitted;
        let embedder = app.served.embedder.clone().ok_or_else(no_embedder)?;
        let text = request_text(app, snap, req.text, req.doc_id.as_deref())?;
        let config = SummaryConfig {
            budget: Budget::Sentences(sentences),
            allow_flagged: app.config.allow_flagged,
            ..SummaryConfig::default()
        };
        let summary = Summarizer::new(embedder, config)
            .and_then(|s| s.summarize(&text))
            .map_err(|e| ApiError::internal(app, "summarizing", &e))?;
        let provenance = request_provenance(app, snap, "summarize", req.doc_id.as_deref())?;
        Ok(json!({
            "doc_id": req.doc_id,
            "summary": summary.text(),
            "sentences": summary.sentences,
            "provenance": provenance,
        }))
    })
    .await?;
    Ok(Json(value))
}

pub(crate) async fn job_report(
    State(app): State<Arc<App>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let Some(job) = app.served.job.as_ref().filter(|j| j.name == name) else {
        return Err(ApiError::not_found("no such job on this server"));
    };
    match tokio::fs::read(&job.path).await {
        Ok(bytes) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::not_found("the job has not run yet"))
        }
        Err(e) => Err(ApiError::internal(&app, "reading the job report", &e)),
    }
}

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Json<Value> {
    let snap = app.served.replica.current();
    Json(json!({
        "ready": true,
        "job": app.served.job.as_ref().map(|j| &j.name),
        "generation": snap.generation(),
        "snapshot_age_secs": snap.age().as_secs_f64(),
    }))
}

pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let text = blocking(&app, |app, snap| {
        let entries = snap.index().catalog().entries().unwrap_or_default();
        Ok(app.metrics.render(&Gauges {
            documents: entries.len(),
            chunks: entries.iter().map(|e| u64::from(e.chunks)).sum(),
            generation: snap.generation(),
            snapshot_age_secs: snap.age().as_secs_f64(),
            llm_waiting: app.guard.waiting(),
        }))
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        super::OPENAPI,
    )
        .into_response()
}

/// The page's own files only; no inline script or style, so the policy can forbid both.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'none'";

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn page() -> Response {
    static_file("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) async fn style() -> Response {
    static_file("text/css; charset=utf-8", STYLE)
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
