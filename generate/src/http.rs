//! [`HttpLlm`]: any server speaking OpenAI's API (`/v1/chat/completions`, and
//! `/v1/completions` for raw prompts): llama.cpp's server, vLLM, Ollama, hosted APIs.
//!
//! Failures that may pass (connection errors, timeouts, 408, 429, 5xx) are retried with
//! exponential backoff (or the server's Retry-After); a refusal (another 4xx) is
//! reported at once with the server's own message. A stream that breaks after text was
//! passed on is not retried, since the text cannot be taken back.

use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::stream::StopFilter;
use crate::{Completion, ContinuationScore, FinishReason, GenerateParams, Llm, Prompt};

/// Settings of [`HttpLlm`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpConfig {
    /// The server's base URL, with or without the trailing `/v1`
    /// (`http://127.0.0.1:8080`, `https://api.example.com/v1`).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// Environment variable holding the API key, sent as a bearer token; `None` sends
    /// none (local servers).
    #[serde(default = "default_api_key_env")]
    pub api_key_env: Option<String>,
    /// Stream tokens as the server generates them (server-sent events).
    #[serde(default = "default_stream")]
    pub stream: bool,
    /// Seconds to wait for a connection.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Seconds to wait for the server's answer to start (a non-streamed answer only
    /// starts once it is complete).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after the first attempt, for transient failures.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each next one.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest wait between attempts, Retry-After included.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Send the API key over plain `http://` to a host that is not this machine. Off by
    /// default: anyone on the path could read the key.
    #[serde(default = "default_allow_plain_http_key")]
    pub allow_plain_http_key: bool,
}

fn default_allow_plain_http_key() -> bool {
    false
}

fn default_api_key_env() -> Option<String> {
    Some("DOCKET_LLM_API_KEY".into())
}
fn default_stream() -> bool {
    true
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_timeout_secs() -> u64 {
    300
}
fn default_max_retries() -> u32 {
    4
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}

impl HttpConfig {
    /// Settings for `base_url` and `model`, the rest defaults.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        HttpConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: default_api_key_env(),
            stream: default_stream(),
            connect_timeout_secs: default_connect_timeout_secs(),
            timeout_secs: default_timeout_secs(),
            max_retries: default_max_retries(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            allow_plain_http_key: default_allow_plain_http_key(),
        }
    }
}

/// An OpenAI-compatible server.
pub struct HttpLlm {
    config: HttpConfig,
    /// `base_url` ending in `/v1`.
    api: String,
    api_key: Option<String>,
    agent: ureq::Agent,
}

/// The key never shows in logs or panics: `Debug` says only whether there is one.
impl std::fmt::Debug for HttpLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLlm")
            .field("api", &redact_url(&self.api))
            .field("model", &self.config.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// `url` without the password (or token) of a `user:password@` part, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// How one attempt failed.
enum Failure {
    /// Worth another attempt (after the given wait, if the server named one).
    Transient(String, Option<Duration>),
    /// Final.
    Fatal(Error),
}

impl HttpLlm {
    /// A client for the server in `config`. The API key is read from its variable now,
    /// so that a missing key fails here rather than at the first request.
    pub fn new(config: HttpConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config {
                setting: "base_url",
                reason: format!("`{}` is not an http:// or https:// URL", redact_url(base)),
            });
        }
        let api = if base.ends_with("/v1") {
            base.to_string()
        } else {
            format!("{base}/v1")
        };
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Some(k),
                _ if is_loopback(base) => None,
                _ => return Err(Error::MissingApiKey { var: var.clone() }),
            },
        };
        if api_key.is_some()
            && base.starts_with("http://")
            && !is_loopback(base)
            && !config.allow_plain_http_key
        {
            return Err(Error::Config {
                setting: "base_url",
                reason: format!(
                    "{} is plain http to another host: the API key would travel unencrypted; use https (or allow it explicitly)",
                    redact_url(base)
                ),
            });
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(config.connect_timeout_secs)))
            .timeout_recv_response(Some(Duration::from_secs(config.timeout_secs)))
            .build()
            .into();
        Ok(HttpLlm {
            config,
            api,
            api_key,
            agent,
        })
    }

    fn request(&self, prompt: &Prompt, params: &GenerateParams, stream: bool) -> (String, Value) {
        let mut body = json!({
            "model": self.config.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stream": stream,
        });
        if !params.stop.is_empty() {
            body["stop"] = json!(params.stop);
        }
        let url = match prompt {
            Prompt::Chat(messages) => {
                body["messages"] = json!(messages);
                format!("{}/chat/completions", self.api)
            }
            Prompt::Raw(text) => {
                body["prompt"] = json!(text);
                format!("{}/completions", self.api)
            }
        };
        (url, body)
    }

    /// One attempt: send, check the status, and hand the body to `read`.
    fn attempt<T>(
        &self,
        url: &str,
        body: &Value,
        read: &mut dyn FnMut(ureq::Body) -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        let resp = match req.send(body.to_string()) {
            Ok(r) => r,
            Err(e @ (ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_))) => {
                return Err(Failure::Fatal(Error::Config {
                    setting: "base_url",
                    reason: e.to_string(),
                }));
            }
            Err(e) => return Err(Failure::Transient(e.to_string(), None)),
        };
        let status = resp.status().as_u16();
        if status == 200 {
            return read(resp.into_body());
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let message = server_message(&text);
        if status == 408 || status == 429 || status >= 500 {
            Err(Failure::Transient(
                format!("{status}: {message}"),
                retry_after,
            ))
        } else {
            Err(Failure::Fatal(Error::Rejected {
                url: redact_url(url),
                status,
                message,
            }))
        }
    }

    /// Run `read` on a successful answer, retrying transient failures. `retryable`
    /// is asked before each retry (false once streamed text went out).
    fn with_retries<T>(
        &self,
        url: &str,
        body: &Value,
        retryable: &dyn Fn() -> bool,
        read: &mut dyn FnMut(ureq::Body) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(url, body, read) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(reason, wait)) => {
                    if attempts > self.config.max_retries || !retryable() {
                        return Err(Error::Transient {
                            url: redact_url(url),
                            attempts,
                            reason,
                        });
                    }
                    let backoff = self
                        .config
                        .initial_backoff_ms
                        .saturating_mul(1 << (attempts - 1).min(20));
                    let wait = wait
                        .unwrap_or(Duration::from_millis(backoff))
                        .min(Duration::from_millis(self.config.max_backoff_ms));
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn protocol(&self, url: &str, reason: impl Into<String>) -> Failure {
        Failure::Fatal(Error::Protocol {
            url: redact_url(url),
            reason: reason.into(),
        })
    }

    fn complete_once(&self, prompt: &Prompt, params: &GenerateParams) -> Result<Completion> {
        let (url, body) = self.request(prompt, params, false);
        let answer: Value = self.with_retries(&url, &body, &|| true, &mut |mut b| {
            let text = b
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| Failure::Transient(format!("reading the answer: {e}"), None))?;
            serde_json::from_str(&text).map_err(|e| self.protocol(&url, format!("{e}")))
        })?;
        let choice = &answer["choices"][0];
        let text = choice["message"]["content"]
            .as_str()
            .or_else(|| choice["text"].as_str())
            .ok_or_else(|| Error::Protocol {
                url: redact_url(&url),
                reason: "no choices[0].message.content".into(),
            })?;
        // Servers may ignore or cap `stop`; cut here too.
        let mut stop = StopFilter::new(&params.stop);
        let (_, stopped) = stop.push(text);
        if !stopped {
            stop.finish();
        }
        Ok(Completion {
            text: stop.text,
            finish: if stopped {
                FinishReason::Stop
            } else {
                finish_reason(choice)
            },
            prompt_tokens: answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
            completion_tokens: answer["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize,
        })
    }
}

fn finish_reason(choice: &Value) -> FinishReason {
    match choice["finish_reason"].as_str() {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// `{"error": {"message": ...}}` as OpenAI sends it, else the body itself (shortened).
fn server_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if let Some(v) = parsed {
        if let Some(m) = v["error"]["message"].as_str() {
            return m.to_string();
        }
        if let Some(m) = v["error"].as_str().or_else(|| v["message"].as_str()) {
            return m.to_string();
        }
    }
    let t = body.trim();
    if t.is_empty() {
        return "(no message)".into();
    }
    t.chars().take(500).collect()
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.") || url.contains("://[::1]")
}

impl Llm for HttpLlm {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn generate(
        &self,
        prompt: &Prompt,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        if !self.config.stream {
            let c = self.complete_once(prompt, params)?;
            if !c.text.is_empty() {
                let _ = on_text(&c.text);
            }
            return Ok(c);
        }
        let (url, body) = self.request(prompt, params, true);
        let sent_any = std::cell::Cell::new(false);
        let mut result = None;
        self.with_retries(&url, &body, &|| !sent_any.get(), &mut |b| {
            let mut stop = StopFilter::new(&params.stop);
            let mut finish = FinishReason::Length;
            let mut usage = (0, 0);
            let mut pieces = 0;
            let mut done = false;
            let reader = BufReader::new(b.into_reader());
            for line in reader.lines() {
                let line =
                    line.map_err(|e| Failure::Transient(format!("stream broke: {e}"), None))?;
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break;
                }
                let event: Value = serde_json::from_str(data)
                    .map_err(|e| self.protocol(&url, format!("bad event `{data}`: {e}")))?;
                if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                    usage = (
                        u["prompt_tokens"].as_u64().unwrap_or(0) as usize,
                        u["completion_tokens"].as_u64().unwrap_or(0) as usize,
                    );
                }
                let Some(choice) = event["choices"].get(0) else {
                    continue;
                };
                let piece = choice["delta"]["content"]
                    .as_str()
                    .or_else(|| choice["text"].as_str())
                    .unwrap_or("");
                if !piece.is_empty() {
                    pieces += 1;
                    let (out, stopped) = stop.push(piece);
                    let flow = if out.is_empty() {
                        ControlFlow::Continue(())
                    } else {
                        sent_any.set(true);
                        on_text(&out)
                    };
                    if stopped {
                        finish = FinishReason::Stop;
                        done = true;
                        break;
                    }
                    if flow.is_break() {
                        finish = FinishReason::Cancelled;
                        done = true;
                        break;
                    }
                }
                if !choice["finish_reason"].is_null() {
                    finish = finish_reason(choice);
                }
            }
            if !done {
                let rest = stop.finish();
                if !rest.is_empty() {
                    sent_any.set(true);
                    let _ = on_text(&rest);
                }
            }
            result = Some(Completion {
                text: std::mem::take(&mut stop.text),
                finish,
                prompt_tokens: usage.0,
                completion_tokens: if usage.1 > 0 { usage.1 } else { pieces },
            });
            Ok(())
        })?;
        result.ok_or_else(|| Error::Internal {
            reason: "streamed generation ended without a result".into(),
        })
    }

    fn complete(&self, prompt: &Prompt, params: &GenerateParams) -> Result<Completion> {
        self.complete_once(prompt, params)
    }

    fn score(&self, _prompt: &Prompt, _continuations: &[&str]) -> Result<Vec<ContinuationScore>> {
        Err(Error::Unsupported {
            backend: "http".into(),
            what: "scoring continuations (OpenAI's API gives log-probabilities of sampled tokens only)"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://bob:s3cret@llm.example.com:8443/v1"),
            "https://***@llm.example.com:8443/v1"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        // An @ in the path is not a credential.
        assert_eq!(redact_url("https://h/v1/a@b"), "https://h/v1/a@b");
    }

    #[test]
    fn the_key_is_not_printed_nor_sent_over_plain_http_to_another_host() {
        // A variable every process has stands in for the key (setting one would race
        // with the other tests' reads of the environment).
        let var = "PATH";
        let key = std::env::var(var).unwrap();
        let config = |url: &str| HttpConfig {
            api_key_env: Some(var.into()),
            ..HttpConfig::new(url, "m")
        };
        let local = HttpLlm::new(config("http://127.0.0.1:9/v1")).unwrap();
        let shown = format!("{local:?}");
        assert!(
            !shown.contains(&key) && shown.contains("<redacted>"),
            "{shown}"
        );
        let e = HttpLlm::new(config("http://llm.internal:8080")).unwrap_err();
        assert!(e.to_string().contains("unencrypted"), "{e}");
        assert!(HttpLlm::new(config("https://llm.internal")).is_ok());
        let allowed = HttpConfig {
            allow_plain_http_key: true,
            ..config("http://llm.internal:8080")
        };
        assert!(HttpLlm::new(allowed).is_ok());
    }
}
