//! `docket serve` over HTTP: the real binary on a loopback port, the sample archive
//! indexed by its example job, a real ureq client.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{copy_examples, docket, docket_bin};

/// A running `docket serve`, stopped (SIGTERM) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Start `docket serve ARGS --addr 127.0.0.1:0` and wait for its address.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::try_start(args, env).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(args: &[&str], env: &[(&str, &str)]) -> Result<Server, String> {
        let mut cmd = Command::new(docket_bin());
        cmd.arg("serve").args(args);
        if !args.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docket serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let log2 = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // A text line, or the message of a JSON one (--log-format json).
                let message = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| line.clone());
                if let Some(addr) = message.strip_prefix("docket serve: listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(base) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok(Server {
                    child,
                    base,
                    stderr: log,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                return Err(format!(
                    "docket serve exited with {status}:\n{}",
                    log.lock().unwrap()
                ));
            }
            if Instant::now() > until {
                let _ = child.kill();
                return Err(format!(
                    "docket serve did not start:\n{}",
                    log.lock().unwrap()
                ));
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then wait for the exit status (killed after 30 s).
    pub fn stop(mut self) -> Option<i32> {
        let pid = self.child.id();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns every status instead of failing on 4xx and 5xx.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Status and body of a request.
pub fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let result = match body {
        Some(b) => {
            let mut req = match method {
                "POST" => agent.post(url),
                other => panic!("{other} with a body"),
            };
            req = req.header("content-type", "application/json");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(b.to_string())
        }
        None => {
            let mut req = agent.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let mut text = String::new();
    let _ = response.body_mut().as_reader().read_to_string(&mut text);
    (status, text)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The sample archive indexed by its example job (`run` once), in a temp dir.
pub fn archive_job(dir: &Path) -> PathBuf {
    let examples = copy_examples(dir);
    let job = examples.join("archive.toml");
    docket(["run".to_owned(), job.display().to_string()]).expect_code(0);
    job
}

#[test]
fn every_route_answers_over_http_as_the_openapi_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let job = archive_job(dir.path());
    let server = Server::start(&[job.to_str().unwrap()], &[]);
    let http = client();

    // The OpenAPI document names exactly the routes the server has.
    let (status, text) = call(&http, "GET", &server.url("/v1/openapi.json"), None, &[]);
    assert_eq!(status, 200);
    let openapi = json_of(&text);
    assert_eq!(openapi["openapi"], "3.1.0");
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "0000000000000000")
                .replace("{name}", "archive");
            let (status, _) = if method == "post" {
                call(&http, "POST", &server.url(&concrete), Some(&json!({})), &[])
            } else {
                call(&http, "GET", &server.url(&concrete), None, &[])
            };
            assert!(
                status != 405 && (status != 404 || concrete.contains("0000000000000000")),
                "{method} {path} is documented but answered {status}"
            );
        }
    }

    // Search: hits with source, page, span and snippet; a filter holds.
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": "work from home", "k": 3, "filter": {"source": "policies/**"}})),
        &[],
    );
    assert_eq!(status, 200, "{text}");
    let search = json_of(&text);
    let hits = search["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        assert!(
            h["source"].as_str().unwrap().starts_with("policies/"),
            "{h}"
        );
        assert!(h["end"].as_u64().unwrap() > h["start"].as_u64().unwrap());
        assert!(h["page_start"].as_u64().unwrap() >= 1);
        assert!(!h["snippet"].as_str().unwrap().is_empty());
    }
    assert_eq!(hits[0]["source"], "policies/remote-work.md");
    // The command line's filter terms work too, and a bad term is the client's error.
    let (status, _) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": "travel", "filter": "source=policies/**;format=markdown"})),
        &[],
    );
    assert_eq!(status, 200);
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": "travel", "filter": "nonsense"})),
        &[],
    );
    assert_eq!(status, 400, "{text}");
    assert!(json_of(&text)["error"]["message"].is_string());

    // Ask: the checked answer with the cited span, which the text route returns.
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/ask"),
        Some(&json!({"question": "How many days can staff work from home?"})),
        &[],
    );
    assert_eq!(status, 200, "{text}");
    let answer = json_of(&text);
    assert!(
        answer["answer"].as_str().unwrap().contains("three days"),
        "{answer}"
    );
    let support = &answer["claims"][0]["support"];
    let source = &answer["sources"][0];
    let doc_id = source["doc_id"].as_str().unwrap();
    let (start, end) = (
        support["start"].as_u64().unwrap(),
        support["end"].as_u64().unwrap(),
    );
    let (status, text) = call(
        &http,
        "GET",
        &server.url(&format!(
            "/v1/documents/{doc_id}/text?start={start}&end={end}&context=50"
        )),
        None,
        &[],
    );
    assert_eq!(status, 200, "{text}");
    let span = json_of(&text);
    assert_eq!(span["text"], support["text"]);
    assert_eq!(span["page"], 1);
    assert!(!span["before"].as_str().unwrap().is_empty());
    // An unrelated question is a normal answer that abstains.
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/ask"),
        Some(&json!({"question": "What is the melting point of tungsten?"})),
        &[],
    );
    assert_eq!(status, 200);
    assert!(json_of(&text)["abstained"].is_string(), "{text}");

    // Documents: paged and filtered; one document with its pages and its file.
    let (status, text) = call(
        &http,
        "GET",
        &server.url("/v1/documents?limit=2&source=policies/**"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    let list = json_of(&text);
    assert_eq!(list["documents"].as_array().unwrap().len(), 2);
    assert!(list["total"].as_u64().unwrap() >= 4);
    let (status, text) = call(
        &http,
        "GET",
        &server.url(&format!("/v1/documents/{doc_id}")),
        None,
        &[],
    );
    assert_eq!(status, 200);
    let doc = json_of(&text);
    assert_eq!(doc["source"], "policies/remote-work.md");
    assert_eq!(doc["page_starts"][0]["page"], 1);
    let file_url = doc["file"]
        .as_str()
        .expect("the job's sources make files available");
    let (status, text) = call(&http, "GET", &server.url(file_url), None, &[]);
    assert_eq!(status, 200);
    let original = std::fs::read_to_string(
        job.parent()
            .unwrap()
            .join("archive/policies/remote-work.md"),
    )
    .unwrap();
    assert_eq!(text, original);

    // Classify and summarize, by document id and by posted text.
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/classify"),
        Some(&json!({"doc_id": doc_id, "labels": [
            {"name": "remote work", "description": "working from home or abroad"},
            {"name": "expenses", "description": "travel costs, per diems and receipts"}
        ]})),
        &[],
    );
    assert_eq!(status, 200, "{text}");
    let classified = json_of(&text);
    assert_eq!(classified["prediction"]["label"], "remote work");
    // Both carry their provenance: the document, all its chunks, the embedder, no prompt.
    let served_provenance = |p: &Value, task: &str| {
        assert_eq!(p["doc_ids"], json!([doc_id]), "{p}");
        assert_eq!(p["content_hashes"].as_array().map(Vec::len), Some(1), "{p}");
        let chunks = p["chunk_ids"].as_array().expect("chunk ids");
        assert!(!chunks.is_empty(), "{p}");
        assert!(
            chunks
                .iter()
                .all(|c| c.as_str().unwrap().starts_with(doc_id)),
            "{p}"
        );
        assert_eq!(p["models"].as_array().map(Vec::len), Some(1), "{p}");
        assert!(p["prompt_version"].is_null() && p["job"].is_null(), "{p}");
        let row = p["row_id"].as_str().expect("row id");
        assert!(row.contains(&format!("/{task}/")), "{p}");
    };
    served_provenance(&classified["provenance"], "classify");
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/summarize"),
        Some(&json!({"doc_id": doc_id, "sentences": 2})),
        &[],
    );
    assert_eq!(status, 200, "{text}");
    let summary = json_of(&text);
    served_provenance(&summary["provenance"], "summarize");
    let sentences = summary["sentences"].as_array().unwrap();
    assert!(!sentences.is_empty() && sentences.len() <= 2);
    // Offsets are into the document's ingested text, as the text route returns it.
    for s in sentences {
        let (a, b) = (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap());
        let (status, text) = call(
            &http,
            "GET",
            &server.url(&format!("/v1/documents/{doc_id}/text?start={a}&end={b}")),
            None,
            &[],
        );
        assert_eq!(status, 200);
        assert_eq!(json_of(&text)["text"], s["text"]);
    }
    let (status, _) = call(
        &http,
        "POST",
        &server.url("/v1/summarize"),
        Some(&json!({"text": "One sentence here. Another sentence there is.", "doc_id": doc_id})),
        &[],
    );
    assert_eq!(status, 400, "text and doc_id together are refused");

    // The job's report, health, readiness and metrics.
    let (status, text) = call(
        &http,
        "GET",
        &server.url("/v1/jobs/archive/report"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(json_of(&text)["status"], "success");
    let (status, _) = call(
        &http,
        "GET",
        &server.url("/v1/jobs/other/report"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    assert_eq!(
        call(&http, "GET", &server.url("/healthz"), None, &[]).0,
        200
    );
    let (status, text) = call(&http, "GET", &server.url("/readyz"), None, &[]);
    assert_eq!(status, 200);
    assert_eq!(json_of(&text)["job"], "archive");
    let (status, text) = call(&http, "GET", &server.url("/metrics"), None, &[]);
    assert_eq!(status, 200);
    assert!(
        text.contains(
            "docket_http_requests_total{method=\"POST\",route=\"/v1/ask\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "docket_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"}"
        )
    );
    assert!(text.contains("docket_index_documents 63"), "{text}");

    // The page and its assets, with a policy that forbids anything from elsewhere.
    let (status, page) = call(&http, "GET", &server.url("/"), None, &[]);
    assert_eq!(status, 200);
    assert!(
        page.contains("/assets/app.js") && !page.contains("http://") && !page.contains("https://")
    );
    let (status, _) = call(&http, "GET", &server.url("/assets/app.js"), None, &[]);
    assert_eq!(status, 200);

    // Access log lines for the requests.
    assert_eq!(server.stop(), Some(0), "SIGTERM stops the server cleanly");
}

#[test]
fn hostile_requests_get_401_413_414_429_and_never_reach_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let job = archive_job(dir.path());
    // A secret beside the archive that no route may serve.
    std::fs::write(job.parent().unwrap().join("secret.txt"), "top secret").unwrap();
    let token = "a-test-token-of-enough-length";
    let server = Server::start(
        &[
            job.to_str().unwrap(),
            "--body-limit",
            "4096",
            "--per-client",
            "1",
            "--llm-queue",
            "0",
        ],
        &[("DOCKET_SERVE_TOKEN", token)],
    );
    let http = client();
    let auth = ("Authorization", "Bearer a-test-token-of-enough-length");

    // 401 without the token (or with a wrong one), on every API route; health stays open.
    for path in ["/v1/documents", "/v1/openapi.json", "/metrics"] {
        let (status, _) = call(&http, "GET", &server.url(path), None, &[]);
        assert_eq!(status, 401, "{path}");
        let (status, _) = call(
            &http,
            "GET",
            &server.url(path),
            None,
            &[("Authorization", "Bearer a-test-token-of-enough-lengtX")],
        );
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            call(&http, "GET", &server.url(path), None, &[auth]).0,
            200,
            "{path}"
        );
    }
    let (status, _) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": "travel"})),
        &[],
    );
    assert_eq!(status, 401);
    assert_eq!(
        call(&http, "GET", &server.url("/healthz"), None, &[]).0,
        200
    );

    // 413 past the body limit, 414 past the query limit, 400 on a malformed body.
    let big = "x".repeat(10_000);
    let (status, text) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": big})),
        &[auth],
    );
    assert_eq!(status, 413, "{text}");
    let (status, _) = call(
        &http,
        "GET",
        &server.url(&format!("/v1/documents?source={}", "a".repeat(5000))),
        None,
        &[auth],
    );
    assert_eq!(status, 414);
    let (status, _) = call(
        &http,
        "POST",
        &server.url("/v1/search"),
        Some(&json!({"query": "travel", "unknown": 1})),
        &[auth],
    );
    assert!(status == 400 || status == 422, "{status}");

    // Path traversal on every route that takes an id or a span: never a file, never a
    // path in an error.
    let ids = [
        "..%2F..%2Fsecret.txt",
        "..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "....%2F%2Fsecret.txt",
        "secret.txt",
        "%00",
    ];
    for id in ids {
        for suffix in ["", "/text?start=0&end=10", "/file"] {
            let (status, text) = call(
                &http,
                "GET",
                &server.url(&format!("/v1/documents/{id}{suffix}")),
                None,
                &[auth],
            );
            assert!(
                status == 404 || status == 400,
                "{id}{suffix}: {status} {text}"
            );
            assert!(
                !text.contains("top secret") && !text.contains(dir.path().to_str().unwrap()),
                "{text}"
            );
        }
    }
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/v1/documents/../../secret.txt",
    ] {
        let (status, text) = call(&http, "GET", &server.url(path), None, &[auth]);
        assert!(!text.contains("top secret"), "{path}: {status}");
    }
    // Spans out of range or reversed are the client's errors.
    let (_, text) = call(
        &http,
        "GET",
        &server.url("/v1/documents?limit=1"),
        None,
        &[auth],
    );
    let id = json_of(&text)["documents"][0]["doc_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (query, want) in [
        ("start=10&end=5", 400),
        ("start=0&end=999999999", 416),
        ("start=18446744073709551615&end=18446744073709551615", 416),
        ("start=abc", 400),
    ] {
        let (status, text) = call(
            &http,
            "GET",
            &server.url(&format!("/v1/documents/{id}/text?{query}")),
            None,
            &[auth],
        );
        assert_eq!(status, want, "{query}: {text}");
    }

    // 429: one client may have one request in flight here, and the LLM's queue is 0:
    // a second question while a generated answer is being written is refused.
    let slow = {
        let url = server.url("/v1/ask");
        std::thread::spawn(move || {
            call(
                &client(),
                "POST",
                &url,
                Some(
                    &json!({"question": "What is the per diem for travel?", "strategy": "generate", "max_tokens": 200}),
                ),
                &[("Authorization", "Bearer a-test-token-of-enough-length")],
            )
        })
    };
    // Let the slow question be admitted first.
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = None;
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until && !slow.is_finished() {
        let (status, text) = call(
            &http,
            "POST",
            &server.url("/v1/ask"),
            Some(&json!({"question": "How many days can staff work from home?"})),
            &[auth],
        );
        if status == 429 {
            refused = Some(text);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, text) = slow.join().unwrap();
    assert_eq!(status, 200, "{text}");
    let refused = refused.expect("a second request in flight was refused with 429");
    assert!(json_of(&refused)["error"]["code"] == "too_many_requests");
    drop(server);

    // Off loopback, no token: refused at start (exit 64), nothing served.
    let out = Command::new(docket_bin())
        .args(["serve", job.to_str().unwrap(), "--addr", "0.0.0.0:0"])
        .env_remove("DOCKET_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("token"));
}

#[test]
fn answers_stream_as_server_sent_events_that_end_with_the_checked_answer() {
    let dir = tempfile::tempdir().unwrap();
    let job = archive_job(dir.path());
    let server = Server::start(&[job.to_str().unwrap(), "--log-format", "json"], &[]);
    let http = client();
    let mut response = http
        .post(&server.url("/v1/ask"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .send(
            json!({"question": "What is the per diem for travel?", "strategy": "generate", "max_tokens": 64})
                .to_string(),
        )
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = String::new();
    response
        .body_mut()
        .as_reader()
        .read_to_string(&mut body)
        .unwrap();
    // Well-formed: blocks of `event:` and `data:` lines; data is JSON.
    let mut events = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = Some(n.to_owned());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            } else if !line.starts_with(':') {
                panic!("not an SSE line: {line:?}");
            }
        }
        if name.is_none() && data.is_empty() {
            // Only comments: the keep-alive the server sends while the LLM is slow.
            continue;
        }
        events.push((name.expect("every event is named"), json_of(&data)));
    }
    assert_eq!(events.first().unwrap().0, "start");
    let tokens: String = events
        .iter()
        .filter(|(n, _)| n == "token")
        .map(|(_, d)| d["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(!tokens.is_empty(), "the LLM's text streams: {body}");
    let (last, answer) = events.last().unwrap();
    assert_eq!(last, "answer", "{body}");
    assert_eq!(events.iter().filter(|(n, _)| n == "answer").count(), 1);
    // The checked answer: every kept sentence supported by a span of the travel policy
    // (the LLM's sentences, or the extractive fallback when they are all dropped).
    let claims = answer["claims"].as_array().unwrap();
    assert!(!claims.is_empty(), "{answer}");
    for c in claims {
        assert_eq!(c["supported"], true);
        assert_eq!(
            c["support"]["source"], "policies/travel-and-expenses.md",
            "{answer}"
        );
    }
}

#[test]
fn readers_see_each_run_of_a_concurrent_writer_and_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let job = archive_job(dir.path());
    let server = Server::start(&[job.to_str().unwrap()], &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = {
        let url = server.url("/v1/search");
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let http = client();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (s, _) = call(
                    &http,
                    "POST",
                    &url,
                    Some(&json!({"query": "parking garage permit"})),
                    &[],
                );
                *statuses.entry(s).or_default() += 1;
            }
            statuses
        })
    };
    let archive = job.parent().unwrap().join("archive");
    for n in 0..3 {
        std::fs::write(
            archive.join(format!("policies/parking-{n}.md")),
            format!("# Parking {n}\n\nThe parking permit number {n} costs {} EUR a month in the north garage.\n", 10 + n),
        )
        .unwrap();
        docket(["run".to_owned(), job.display().to_string()]).expect_code(0);
        // The run's commit is served within a few seconds of the run's end.
        let until = Instant::now() + Duration::from_secs(10);
        let want = format!("policies/parking-{n}.md");
        loop {
            let (_, text) = call(
                &client(),
                "GET",
                &server.url("/v1/documents?source=policies/parking-*"),
                None,
                &[],
            );
            let list = json_of(&text);
            if list["documents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["source"] == want.as_str())
            {
                break;
            }
            assert!(
                Instant::now() < until,
                "{want} not served: {text}\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = searcher.join().unwrap();
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{statuses:?}"
    );
    assert!(statuses[&200] > 10, "{statuses:?}");
    // The server's copies are its own: the index has no server files left when it stops.
    let index = job.parent().unwrap().join(".docket/archive");
    assert!(index.join("reader.snapshot").exists());
    assert_eq!(server.stop(), Some(0));
    assert!(!index.join("reader.snapshot").exists());
}
