// docket's page: no framework, no external resources. Everything from the server is
// put on the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
};

function token() { return sessionStorage.getItem("docket-token") || ""; }

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}

function status(text) { $("status").textContent = text || ""; }

async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = headers(o.headers);
  const r = await fetch(path, o);
  if (r.status === 401) {
    $("token-section").hidden = false;
    $("token").focus();
    throw new Error("this server needs an access token");
  }
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { const b = await r.json(); if (b.error) message = b.error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return r;
}

function postJson(path, body, accept) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": accept || "application/json" },
    body: JSON.stringify(body),
  });
}

// --- Ask -------------------------------------------------------------------------

// Server-sent events from a POST: read the body as it arrives and split it into events.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

function showAnswer(answer) {
  const box = $("answer");
  box.replaceChildren();
  $("stream").hidden = true;
  if (answer.abstained) {
    box.append(el("p", "Not found in the documents.", "abstained"));
  } else {
    const sources = new Map((answer.sources || []).map((s) => [s.n, s]));
    const p = el("p");
    p.id = "answer-text";
    for (const claim of answer.claims) {
      const support = claim.support;
      const sentence = el("span", claim.text.trim() + " ", "claim");
      p.append(sentence);
      if (support) {
        const source = sources.get(support.n);
        const b = el("button", "[" + support.n + "]", "cite");
        b.type = "button";
        b.title = support.source + ", page " + support.page;
        b.setAttribute("aria-label", "Show source " + support.n + ": " + support.source + ", page " + support.page);
        b.dataset.docId = source ? source.doc_id : "";
        b.dataset.start = support.start;
        b.dataset.end = support.end;
        b.dataset.text = support.text;
        b.addEventListener("click", () => openPassage(b.dataset.docId, +b.dataset.start, +b.dataset.end, support));
        p.append(b, " ");
      }
    }
    box.append(p);
    const how = answer.fallback ? "quoted from the sources (" + answer.fallback + ")"
      : answer.mode === "extractive" ? "quoted from the sources"
      : answer.mode === "selected" ? "sentences chosen by " + answer.model
      : "written by " + answer.model + ", every sentence checked";
    box.append(el("p", how + (answer.notice ? "; " + answer.notice : ""), "meta"));
  }
  const dropped = answer.dropped || [];
  $("dropped-box").hidden = dropped.length === 0;
  $("dropped").replaceChildren(...dropped.map((c) => el("li", c.text + " — " + (c.note || "unsupported"))));
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const body = { question };
  if ($("strategy").value) body.strategy = $("strategy").value;
  $("ask").disabled = true;
  $("answer").replaceChildren(el("p", "Looking through the documents…", "meta"));
  $("dropped-box").hidden = true;
  const stream = $("stream");
  stream.textContent = "";
  stream.hidden = true;
  status("");
  try {
    const r = await postJson("/v1/ask", body, "text/event-stream");
    await readEvents(r, (name, data) => {
      if (name === "token") { stream.hidden = false; stream.textContent += data.text; }
      else if (name === "answer") showAnswer(data);
      else if (name === "error") throw new Error(data.message);
    });
  } catch (e) {
    $("answer").replaceChildren(el("p", "Error: " + e.message, "abstained"));
  } finally {
    $("ask").disabled = false;
  }
}

async function openPassage(docId, start, end, support) {
  const box = $("passage-box");
  box.hidden = false;
  $("passage").replaceChildren(el("span", "Loading…", "meta"));
  try {
    const [span, doc] = await Promise.all([
      api("/v1/documents/" + encodeURIComponent(docId) + "/text?start=" + start + "&end=" + end + "&context=600").then((r) => r.json()),
      api("/v1/documents/" + encodeURIComponent(docId)).then((r) => r.json()),
    ]);
    const mark = el("mark", span.text);
    mark.id = "passage-mark";
    $("passage").replaceChildren(
      document.createTextNode((span.before.length < span.start ? "…" : "") + span.before),
      mark,
      document.createTextNode(span.after + (span.end + span.after.length < span.length ? "…" : "")));
    $("passage-meta").textContent = span.source + (span.page ? ", page " + span.page : "") +
      (doc.title ? " — " + doc.title : "") + " (bytes " + span.start + "–" + span.end + ")";
    const link = $("passage-file");
    if (doc.file) {
      link.href = doc.file + (doc.format === "pdf" && span.page ? "#page=" + span.page : "");
      link.hidden = false;
    } else {
      link.hidden = true;
    }
    box.focus();
    mark.scrollIntoView({ block: "center" });
  } catch (e) {
    $("passage").replaceChildren(el("span", "Error: " + e.message, "abstained"));
  }
}

// --- Search ----------------------------------------------------------------------

function searchFilter() {
  const filter = {};
  const source = $("search-source").value.trim();
  if (source) filter.source = source;
  if ($("search-format").value) filter.format = $("search-format").value;
  for (const term of $("search-meta").value.split(";")) {
    const at = term.indexOf("=");
    if (at > 0) filter[term.slice(0, at).trim()] = term.slice(at + 1).trim();
  }
  return filter;
}

async function search(event) {
  event.preventDefault();
  const query = $("search-q").value.trim();
  if (!query) return;
  const list = $("results");
  list.replaceChildren();
  $("search-btn").disabled = true;
  try {
    const r = await postJson("/v1/search", { query, k: 10, mode: $("search-mode").value, filter: searchFilter() });
    const body = await r.json();
    if (body.fallback) status(body.fallback);
    if (!body.hits.length) list.append(el("li", "No results.", "meta"));
    for (const hit of body.hits) {
      const li = el("li");
      li.className = "hit";
      const title = el("button", hit.source + (hit.page_start ? ", page " + hit.page_start : ""), "cite");
      title.type = "button";
      title.addEventListener("click", () => openPassage(hit.doc_id, hit.start, hit.end));
      const snippet = el("div");
      let at = 0;
      for (const [s, e] of hit.highlights) {
        snippet.append(document.createTextNode(hit.snippet.slice(at, s)), el("mark", hit.snippet.slice(s, e)));
        at = e;
      }
      snippet.append(document.createTextNode(hit.snippet.slice(at)));
      li.append(title, el("span", " score " + hit.score.toFixed(3), "meta"), snippet);
      list.append(li);
    }
  } catch (e) {
    list.append(el("li", "Error: " + e.message, "abstained"));
  } finally {
    $("search-btn").disabled = false;
  }
}

// --- Documents and the last run ---------------------------------------------------

let docsOffset = 0;
const DOCS_PAGE = 25;

async function listDocuments(event) {
  if (event) { event.preventDefault(); docsOffset = 0; }
  const params = new URLSearchParams({ offset: docsOffset, limit: DOCS_PAGE });
  const source = $("docs-source").value.trim();
  if (source) params.set("source", source);
  try {
    const body = await (await api("/v1/documents?" + params)).json();
    const rows = body.documents.map((d) => {
      const tr = el("tr");
      const cell = el("td");
      const open = el("button", d.source, "cite");
      open.type = "button";
      open.addEventListener("click", () => openPassage(d.doc_id, 0, 0));
      cell.append(open);
      tr.append(cell, el("td", d.title || ""), el("td", d.format), el("td", d.pages));
      return tr;
    });
    $("documents").tBodies[0].replaceChildren(...rows);
    const last = Math.min(body.offset + body.documents.length, body.total);
    $("docs-count").textContent = body.total + " documents" + (body.total ? " (" + (body.offset + 1) + "–" + last + ")" : "");
    $("docs-prev").disabled = body.offset === 0;
    $("docs-next").disabled = last >= body.total;
  } catch (e) {
    $("docs-count").textContent = "Error: " + e.message;
  }
}

async function loadReport() {
  let name = null;
  try {
    const ready = await (await fetch("/readyz")).json();
    status("index generation " + ready.generation);
    name = ready.job;
  } catch (_) { /* the status line is a nicety */ }
  if (!name) return;
  try {
    const report = await (await api("/v1/jobs/" + encodeURIComponent(name) + "/report")).json();
    const box = $("report");
    box.replaceChildren();
    const dl = el("dl");
    for (const key of ["status", "started", "finished", "exit_code"]) {
      if (report[key] !== undefined) dl.append(el("dt", key), el("dd", report[key]));
    }
    box.append(dl);
    const pre = el("pre", JSON.stringify(report, null, 2));
    const details = el("details");
    details.append(el("summary", "Whole report"), pre);
    box.append(details);
  } catch (e) {
    $("report").replaceChildren(el("p", e.message, "meta"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("search-form").addEventListener("submit", search);
  $("docs-form").addEventListener("submit", listDocuments);
  $("docs-prev").addEventListener("click", () => { docsOffset = Math.max(0, docsOffset - DOCS_PAGE); listDocuments(); });
  $("docs-next").addEventListener("click", () => { docsOffset += DOCS_PAGE; listDocuments(); });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("docket-token", $("token").value);
    $("token-section").hidden = true;
    listDocuments();
    loadReport();
  });
  listDocuments();
  loadReport();
});
