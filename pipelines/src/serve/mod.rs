//! `docket serve`: the HTTP API and the web page over one index.
//!
//! One process serves many concurrent readers while `docket index` and `docket run`
//! keep writing the index: requests read a private copy of the index that is refreshed
//! after every commit of a writer ([`replica`]), so no request waits for a writer and
//! no lock is held across requests. Search and answers run on tokio's blocking pool;
//! the LLM, the scarce resource, is behind a bounded queue with per-client limits
//! ([`guard`]).
//!
//! The API is JSON under `/v1`, described by the OpenAPI document served at
//! `/v1/openapi.json` (the same file as `openapi.json` beside this module). The web page
//! (`/`) is static: HTML, CSS and JavaScript embedded in the binary, no external fonts
//! or scripts.

mod api;
mod guard;
mod metrics;
pub mod replica;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use docket_generate::LazyLlm;
use docket_generate::answer::AnswerStrategy;
use docket_index::embed::Embedder;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::report::Reporter;
use replica::Replica;

/// The OpenAPI document of the API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every API route, as `(method, path)` with OpenAPI's `{param}` syntax. A unit test
/// checks the OpenAPI document against this list, and the integration test requests
/// every documented path from the real router; a route added to [`router`] belongs
/// here and in `openapi.json`.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/openapi.json"),
    ("post", "/v1/search"),
    ("post", "/v1/ask"),
    ("get", "/v1/documents"),
    ("get", "/v1/documents/{id}"),
    ("get", "/v1/documents/{id}/text"),
    ("get", "/v1/documents/{id}/file"),
    ("post", "/v1/classify"),
    ("post", "/v1/summarize"),
    ("get", "/v1/jobs/{name}/report"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

/// Limits and switches of the server. Every field has a named default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Where to listen. Anything but a loopback address requires a token.
    #[serde(default = "ServeConfig::default_addr")]
    pub addr: SocketAddr,
    /// The bearer token every API request must carry (always required off loopback).
    #[serde(skip)]
    pub token: Option<String>,
    /// Largest request body, in bytes (413 past it).
    #[serde(default = "ServeConfig::default_body_limit")]
    pub body_limit: usize,
    /// Longest query string, in bytes (414 past it).
    #[serde(default = "ServeConfig::default_query_limit")]
    pub query_limit: usize,
    /// Questions the LLM works on at once (each takes the CPU's cores).
    #[serde(default = "ServeConfig::default_llm_slots")]
    pub llm_slots: usize,
    /// Requests that may wait for the LLM; past this, 429.
    #[serde(default = "ServeConfig::default_llm_queue")]
    pub llm_queue: usize,
    /// `/ask`, `/summarize` and `/classify` requests one client may have in flight;
    /// past this, 429.
    #[serde(default = "ServeConfig::default_per_client")]
    pub per_client: usize,
    /// `/ask`, `/summarize` and `/classify` requests one client may start per minute
    /// (a token bucket, so bursts of up to 10 are fine); past this, 429.
    #[serde(default = "ServeConfig::default_per_client_per_minute")]
    pub per_client_per_minute: u32,
    /// Origins allowed to call the API from other pages (CORS); none by default.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    #[serde(default = "ServeConfig::default_shutdown_secs")]
    pub shutdown_secs: u64,
    /// The folders and files the index was built from: `/documents/{id}/file` serves a
    /// document's original only from under these, and only if its content is what was
    /// indexed.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    /// How `/ask` answers when the request does not say.
    #[serde(default = "ServeConfig::default_strategy")]
    pub strategy: AnswerStrategy,
    /// Most tokens an LLM answer may have.
    #[serde(default = "ServeConfig::default_max_tokens")]
    pub max_tokens: usize,
    /// Let chunks flagged at ingest as instructions to an assistant into answer and
    /// summary contexts (left out by default).
    #[serde(default)]
    pub allow_flagged: bool,
}

impl ServeConfig {
    pub fn default_addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn default_body_limit() -> usize {
        1 << 20
    }
    pub fn default_query_limit() -> usize {
        4096
    }
    pub fn default_llm_slots() -> usize {
        1
    }
    pub fn default_llm_queue() -> usize {
        16
    }
    pub fn default_per_client() -> usize {
        4
    }
    pub fn default_per_client_per_minute() -> u32 {
        120
    }
    pub fn default_shutdown_secs() -> u64 {
        10
    }
    pub fn default_strategy() -> AnswerStrategy {
        AnswerStrategy::Extractive
    }
    pub fn default_max_tokens() -> usize {
        256
    }

    /// Refuse settings that cannot work or are unsafe: no token off loopback, zero
    /// limits.
    pub fn validate(&self) -> Result<()> {
        if !is_loopback(self.addr.ip()) && self.token.is_none() {
            return Err(Error::Usage(format!(
                "{} is not a loopback address: set a token (DOCKET_SERVE_TOKEN or --token-file) so that only its holders can read the index",
                self.addr
            )));
        }
        if let Some(t) = &self.token
            && t.trim().len() < 16
        {
            return Err(Error::Usage(
                "the serve token must have at least 16 characters".into(),
            ));
        }
        for (name, v) in [
            ("body_limit", self.body_limit),
            ("query_limit", self.query_limit),
            ("llm_slots", self.llm_slots),
            ("per_client", self.per_client),
        ] {
            if v == 0 {
                return Err(Error::Usage(format!("{name} must be at least 1")));
            }
        }
        if self.per_client_per_minute == 0 {
            return Err(Error::Usage(
                "per_client_per_minute must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: Self::default_addr(),
            token: None,
            body_limit: Self::default_body_limit(),
            query_limit: Self::default_query_limit(),
            llm_slots: Self::default_llm_slots(),
            llm_queue: Self::default_llm_queue(),
            per_client: Self::default_per_client(),
            per_client_per_minute: Self::default_per_client_per_minute(),
            cors_origins: Vec::new(),
            shutdown_secs: Self::default_shutdown_secs(),
            sources: Vec::new(),
            strategy: Self::default_strategy(),
            max_tokens: Self::default_max_tokens(),
            allow_flagged: false,
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// A job whose last report `/v1/jobs/{name}/report` serves.
#[derive(Debug, Clone)]
pub struct JobReport {
    pub name: String,
    pub path: PathBuf,
}

/// What the server serves from: the index copy, the models, the job.
pub struct Served {
    pub replica: Replica,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub llm: LazyLlm,
    /// Where the embedder was loaded from (`None`: the default model's folder) and what
    /// the LLM is loaded from: for the provenance of responses (model file hashes).
    pub embed_dir: Option<PathBuf>,
    pub llm_spec: crate::settings::LlmSpec,
    pub job: Option<JobReport>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("replica", &self.replica)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

/// The state every handler shares.
pub(crate) struct App {
    served: Served,
    config: ServeConfig,
    guard: guard::LlmGuard,
    metrics: metrics::Metrics,
    reporter: Arc<dyn Reporter>,
    /// Canonical forms of `config.sources`, for the file route.
    roots: Vec<PathBuf>,
    file_hashes: FileHashes,
}

/// Content hashes of original files, kept while a file's size and modification time
/// stay the same: the page asks for a document (and so whether its file can be served)
/// at every citation click, and hashing a large PDF each time is wasted work.
#[derive(Debug, Default)]
pub(crate) struct FileHashes {
    known:
        std::sync::Mutex<std::collections::HashMap<PathBuf, (u64, std::time::SystemTime, String)>>,
}

impl FileHashes {
    /// The content hash of `path` as the catalog records hashes, or `None` if it
    /// cannot be read.
    pub(crate) fn hash(&self, path: &std::path::Path) -> Option<String> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.len(), meta.modified().ok()?);
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((len, modified, hash)) = known.get(path)
            && (*len, *modified) == stamp
        {
            return Some(hash.clone());
        }
        drop(known);
        let hash = docket_ingest::document::content_hash(&std::fs::read(path).ok()?);
        known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.insert(path.to_owned(), (stamp.0, stamp.1, hash.clone()));
        Some(hash)
    }
}

/// The router with every route, its limits and its middleware (auth, access log,
/// metrics, CORS).
pub fn router(served: Served, config: ServeConfig, reporter: Arc<dyn Reporter>) -> Router {
    let roots = config
        .sources
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let app = Arc::new(App {
        guard: guard::LlmGuard::new(&config),
        metrics: metrics::Metrics::new(),
        served,
        reporter,
        roots,
        file_hashes: FileHashes::default(),
        config,
    });
    let api = Router::new()
        .route("/v1/openapi.json", get(api::openapi))
        .route("/v1/search", post(api::search))
        .route("/v1/ask", post(api::ask))
        .route("/v1/documents", get(api::documents))
        .route("/v1/documents/{id}", get(api::document))
        .route("/v1/documents/{id}/text", get(api::document_text))
        .route("/v1/documents/{id}/file", get(api::document_file))
        .route("/v1/classify", post(api::classify))
        .route("/v1/summarize", post(api::summarize))
        .route("/v1/jobs/{name}/report", get(api::job_report))
        .route("/metrics", get(api::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            guard::require_token,
        ));
    let open = Router::new()
        .route("/", get(api::page))
        .route("/assets/app.js", get(api::script))
        .route("/assets/app.css", get(api::style))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz));
    let mut router = api
        .merge(open)
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(app.config.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            guard::observe,
        ));
    if !app.config.cors_origins.is_empty() {
        let origins: Vec<axum::http::HeaderValue> = app
            .config
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        router = router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    axum::http::header::ACCEPT,
                ]),
        );
    }
    router.with_state(app)
}

/// Serve until `shutdown` resolves (SIGTERM or Ctrl-C in the binary), then let
/// in-flight requests finish for up to `config.shutdown_secs`.
pub fn run(
    served: Served,
    config: ServeConfig,
    reporter: Arc<dyn Reporter>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("docket-serve")
        .build()
        .map_err(|e| Error::Unavailable(format!("cannot start the server's runtime: {e}")))?;
    let addr = config.addr;
    let grace = Duration::from_secs(config.shutdown_secs);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::Unavailable(format!("cannot listen on {addr}: {e}")))?;
        on_listening(local);
        let app = router(served, config, Arc::clone(&reporter));
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stopping_tx.send(true);
        });
        let mut stopping = stopping_rx.clone();
        let deadline = async move {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = server => served.map_err(|e| Error::Unavailable(format!("server failed: {e}"))),
            () = deadline => {
                reporter.log(
                    crate::report::Level::Warning,
                    &format!("requests still running {}s after the stop signal; stopping anyway", grace.as_secs()),
                );
                Ok(())
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_a_token_is_required() {
        let mut c = ServeConfig {
            addr: "0.0.0.0:8080".parse().unwrap(),
            ..ServeConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("token"));
        c.token = Some("short".into());
        assert!(c.validate().is_err());
        c.token = Some("a-long-enough-secret-token".into());
        c.validate().unwrap();
        let local = ServeConfig {
            addr: "[::1]:0".parse().unwrap(),
            ..ServeConfig::default()
        };
        local.validate().unwrap();
    }

    #[test]
    fn a_file_is_hashed_again_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.md");
        std::fs::write(&file, "one").unwrap();
        let hashes = FileHashes::default();
        let one = docket_ingest::document::content_hash(b"one");
        assert_eq!(hashes.hash(&file), Some(one.clone()));
        assert_eq!(hashes.hash(&file), Some(one));
        // Another length (and time) means other content.
        std::fs::write(&file, "three").unwrap();
        assert_eq!(
            hashes.hash(&file),
            Some(docket_ingest::document::content_hash(b"three"))
        );
        assert_eq!(hashes.hash(&dir.path().join("gone.md")), None);
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.push((method.clone(), path.clone()));
                }
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
