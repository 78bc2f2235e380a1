//! What stands between a request and the index: the token, the size limits, the LLM's
//! queue and per-client limits, and the access log with the metrics.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api::ApiError;
use super::{App, ServeConfig};

/// Every API route needs the bearer token when one is configured. The comparison is
/// of blake3 digests in constant time, so neither the token's bytes nor its length
/// leak through timing.
pub(crate) async fn require_token(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &app.config.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let want = blake3::hash(token.trim().as_bytes());
    let got = blake3::hash(given.trim().as_bytes());
    if bool::from(want.as_bytes().ct_eq(got.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid bearer token is required",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"docket\""),
    );
    response
}

/// The outermost layer: refuse long query strings, time the request, count it, log it
/// and set the headers every response gets.
pub(crate) async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let client = client_ip(&request);
    let too_long = request
        .uri()
        .query()
        .is_some_and(|q| q.len() > app.config.query_limit);
    let mut response = if too_long {
        ApiError::new(
            StatusCode::URI_TOO_LONG,
            "query_too_long",
            &format!(
                "the query string is longer than {} bytes",
                app.config.query_limit
            ),
        )
        .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    app.metrics
        .observe(method.as_str(), &route, status, seconds);
    // Streamed answers are logged when their headers go out; their length shows in
    // the ask latency histogram of the stream's own events.
    app.reporter.access(&serde_json::json!({
        "method": method.as_str(),
        "path": path,
        "route": route,
        "status": status,
        "ms": (seconds * 1e5).round() / 100.0,
        "client": client.map(|c| c.to_string()),
    }));
    response
}

fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The LLM's admission control: a fixed number of slots, a bounded queue in front of
/// them, and per-client limits on requests in flight and started per minute.
pub(crate) struct LlmGuard {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    per_client: usize,
    per_minute: f64,
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
}

#[derive(Debug)]
struct Client {
    in_flight: usize,
    /// Token bucket: requests that may start now (refilled at `per_minute`).
    tokens: f64,
    refilled: Instant,
}

/// Admission to the LLM (or to an LLM-guarded request); released when dropped.
pub(crate) struct Admitted {
    _slot: Option<OwnedSemaphorePermit>,
    client: Option<IpAddr>,
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(ip) = self.client {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = clients.get_mut(&ip) {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
        }
    }
}

impl LlmGuard {
    pub(crate) fn new(config: &ServeConfig) -> LlmGuard {
        LlmGuard {
            slots: Arc::new(Semaphore::new(config.llm_slots)),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue: config.llm_queue,
            per_client: config.per_client,
            per_minute: f64::from(config.per_client_per_minute),
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Requests waiting for an LLM slot now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Admit a request of `client`: 429 when the client is over its limits or the
    /// queue is full. `needs_llm` requests also wait for one of the LLM's slots.
    pub(crate) async fn admit(
        &self,
        client: Option<IpAddr>,
        needs_llm: bool,
    ) -> Result<Admitted, ApiError> {
        if let Some(ip) = client {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            // Forget idle clients so the table stays small.
            if clients.len() > 10_000 {
                clients.retain(|_, c| c.in_flight > 0);
            }
            let c = clients.entry(ip).or_insert_with(|| Client {
                in_flight: 0,
                tokens: self.per_minute.clamp(1.0, 10.0),
                refilled: Instant::now(),
            });
            let now = Instant::now();
            let refill = now.duration_since(c.refilled).as_secs_f64() * self.per_minute / 60.0;
            c.tokens = (c.tokens + refill).min(self.per_minute.clamp(1.0, 10.0));
            c.refilled = now;
            if c.in_flight >= self.per_client {
                return Err(too_many(&format!(
                    "this client already has {} requests in flight",
                    c.in_flight
                )));
            }
            if c.tokens < 1.0 {
                return Err(too_many("this client is over its request rate; slow down"));
            }
            c.tokens -= 1.0;
            c.in_flight += 1;
        }
        let mut admitted = Admitted {
            _slot: None,
            client,
            clients: Arc::clone(&self.clients),
        };
        if !needs_llm {
            return Ok(admitted);
        }
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            admitted._slot = Some(permit);
            return Ok(admitted);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(too_many("the LLM's queue is full; try again shortly"));
        }
        let permit = Arc::clone(&self.slots).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        admitted._slot = Some(permit.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "the server is stopping",
            )
        })?);
        Ok(admitted)
    }
}

fn too_many(message: &str) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message).retry_after(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(queue: usize, per_client: usize, per_minute: u32) -> LlmGuard {
        LlmGuard::new(&ServeConfig {
            llm_slots: 1,
            llm_queue: queue,
            per_client,
            per_client_per_minute: per_minute,
            ..ServeConfig::default()
        })
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn past_the_queue_requests_are_refused_not_queued() {
        block_on(async {
            let g = guard(0, 10, 600);
            let a: IpAddr = "10.0.0.1".parse().unwrap();
            let b: IpAddr = "10.0.0.2".parse().unwrap();
            let first = g.admit(Some(a), true).await.unwrap();
            let refused = g.admit(Some(b), true).await.err().unwrap();
            assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
            drop(first);
            g.admit(Some(b), true).await.unwrap();
        });
    }

    #[test]
    fn one_client_cannot_take_every_slot_or_exceed_its_rate() {
        block_on(async {
            let g = guard(100, 2, 600);
            let a: IpAddr = "10.0.0.1".parse().unwrap();
            let one = g.admit(Some(a), false).await.unwrap();
            let _two = g.admit(Some(a), false).await.unwrap();
            assert_eq!(
                g.admit(Some(a), false).await.err().unwrap().status,
                StatusCode::TOO_MANY_REQUESTS
            );
            drop(one);
            g.admit(Some(a), false).await.unwrap();
            // The bucket holds at most 10 starts: a burst past it is refused.
            let c: IpAddr = "10.0.0.3".parse().unwrap();
            let mut refused = 0;
            for _ in 0..20 {
                if g.admit(Some(c), false).await.is_err() {
                    refused += 1;
                }
            }
            assert!(refused >= 9, "{refused}");
        });
    }
}
