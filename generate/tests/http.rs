//! The OpenAI-compatible backend against a small server started by the test on
//! localhost, which answers with real completions of the local backend (the default
//! model), and can be told to fail first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use docket_generate::{
    Error, FinishReason, GenerateParams, HttpConfig, HttpLlm, Llm, LocalLlm, Message, Prompt,
};
use serde_json::{Value, json};

fn local() -> &'static LocalLlm {
    static LLM: OnceLock<LocalLlm> = OnceLock::new();
    LLM.get_or_init(|| {
        LocalLlm::load_default().expect("the default generator; run `docket models fetch` first")
    })
}

/// What the server does with a request: the first `fail_first` requests get
/// `fail_status`, the rest a real completion.
struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
    last_auth: Arc<Mutex<Option<String>>>,
}

fn start(fail_first: usize, fail_status: u16, fail_body: &'static str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let last_auth = Arc::new(Mutex::new(None));
    let (count, auth) = (requests.clone(), last_auth.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let _ = serve(stream, n < fail_first, fail_status, fail_body, &auth);
        }
    });
    Server {
        url,
        requests,
        last_auth,
    }
}

fn serve(
    stream: TcpStream,
    fail: bool,
    fail_status: u16,
    fail_body: &str,
    auth: &Mutex<Option<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().unwrap_or(0),
            "authorization" => *auth.lock().unwrap() = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut out = stream;
    if fail {
        let reason = if fail_status == 401 {
            "Unauthorized"
        } else {
            "Error"
        };
        write!(
            out,
            "HTTP/1.1 {fail_status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{fail_body}",
            fail_body.len()
        )?;
        return out.flush();
    }
    let req: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        request_line.starts_with("POST /v1/chat/completions"),
        "{request_line}"
    );
    let messages: Vec<Message> = serde_json::from_value(req["messages"].clone()).unwrap();
    let params = GenerateParams {
        max_tokens: req["max_tokens"].as_u64().unwrap_or(64) as usize,
        temperature: req["temperature"].as_f64().unwrap_or(0.0) as f32,
        seed: req["seed"].as_u64().unwrap_or(0),
        stop: serde_json::from_value(req["stop"].clone()).unwrap_or_default(),
        ..Default::default()
    };
    let prompt = Prompt::Chat(messages);
    if req["stream"].as_bool() == Some(true) {
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        )?;
        out.flush()?;
        let mut io_error = None;
        let c = local()
            .generate(&prompt, &params, &mut |piece| {
                let event = json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
                if let Err(e) = write!(out, "data: {event}\n\n").and_then(|_| out.flush()) {
                    io_error = Some(e);
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        if let Some(e) = io_error {
            return Err(e);
        }
        let finish = if c.finish == FinishReason::Length {
            "length"
        } else {
            "stop"
        };
        let last = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
            "usage": {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens}});
        write!(out, "data: {last}\n\ndata: [DONE]\n\n")?;
    } else {
        let c = local().complete(&prompt, &params).unwrap();
        let finish = if c.finish == FinishReason::Length {
            "length"
        } else {
            "stop"
        };
        let answer = json!({
            "id": "cmpl-1", "object": "chat.completion", "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens},
        })
        .to_string();
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )?;
    }
    out.flush()
}

fn client(url: &str) -> HttpLlm {
    let mut config = HttpConfig::new(url, "smollm2");
    config.api_key_env = None;
    config.initial_backoff_ms = 20;
    config.max_retries = 2;
    HttpLlm::new(config).unwrap()
}

fn question() -> Prompt {
    Prompt::user("What is the capital of France? Answer in one sentence.")
}

fn params() -> GenerateParams {
    GenerateParams {
        max_tokens: 48,
        ..Default::default()
    }
}

#[test]
fn completions_and_streams_are_the_local_models_answers() {
    let server = start(0, 0, "");
    let want = local().complete(&question(), &params()).unwrap();
    let http = client(&server.url);

    let got = http.complete(&question(), &params()).unwrap();
    assert_eq!(got.text, want.text);
    assert_eq!(got.finish, want.finish);
    assert_eq!(got.completion_tokens, want.completion_tokens);
    assert!(got.text.contains("Paris"), "{got:?}");

    let mut pieces = Vec::new();
    let streamed = http
        .generate(&question(), &params(), &mut |p| {
            pieces.push(p.to_string());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(streamed.text, want.text);
    assert_eq!(pieces.concat(), want.text);
    assert!(pieces.len() > 3, "not streamed: {pieces:?}");
    assert_eq!(streamed.prompt_tokens, want.prompt_tokens);

    // Stop sequences are applied (by the server here, and again by the client).
    let word = want.text.split_whitespace().nth(2).unwrap().to_string();
    let stop = GenerateParams {
        stop: vec![word.clone()],
        ..params()
    };
    let cut = http
        .generate(&question(), &stop, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(cut.text, want.text[..want.text.find(&word).unwrap()]);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);

    assert!(matches!(
        http.score(&question(), &["yes"]),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn a_503_is_retried() {
    let server = start(1, 503, r#"{"error": {"message": "model is loading"}}"#);
    let want = local().complete(&question(), &params()).unwrap();
    let got = client(&server.url)
        .generate(&question(), &params(), &mut |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(got.text, want.text);
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[test]
fn a_401_is_reported_once_with_the_servers_message() {
    let server = start(
        usize::MAX,
        401,
        r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}"#,
    );
    let err = client(&server.url)
        .complete(&question(), &params())
        .unwrap_err();
    match &err {
        Error::Rejected {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "Incorrect API key provided");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn failures_that_persist_end_as_transient_after_the_retries() {
    let server = start(usize::MAX, 500, "internal trouble");
    let err = client(&server.url)
        .complete(&question(), &params())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transient { attempts: 3, reason, .. } if reason.contains("internal trouble")),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);

    // Nobody listening: connection refused, retried, then transient.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client(&format!("http://127.0.0.1:{port}/v1"))
        .complete(&question(), &params())
        .unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn the_api_key_comes_from_the_named_variable() {
    let server = start(0, 0, "");
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("DOCKET_TEST_HTTP_LLM_KEY", "sk-test-123") };
    let mut config = HttpConfig::new(server.url.clone(), "smollm2");
    config.api_key_env = Some("DOCKET_TEST_HTTP_LLM_KEY".into());
    let http = HttpLlm::new(config).unwrap();
    let short = GenerateParams {
        max_tokens: 2,
        ..Default::default()
    };
    http.complete(&question(), &short).unwrap();
    assert_eq!(
        server.last_auth.lock().unwrap().as_deref(),
        Some("Bearer sk-test-123")
    );

    // A remote server without its key fails before any request.
    let mut config = HttpConfig::new("https://llm.invalid/v1", "m");
    config.api_key_env = Some("DOCKET_TEST_HTTP_LLM_KEY_UNSET".into());
    assert!(matches!(
        HttpLlm::new(config),
        Err(Error::MissingApiKey { .. })
    ));
}
