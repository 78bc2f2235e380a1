//! Prometheus metrics of the server, in the text exposition format: requests by route
//! and status, latency histograms by route, LLM text pieces, and the served index's
//! size and freshness (filled in at scrape time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// (method, route, status) -> requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// route -> latency.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Pieces of text the LLM generated for streamed answers (about one token each).
    pub(crate) llm_pieces: AtomicU64,
    /// Questions answered, by how (extractive, selected, generated, abstained).
    answers: Mutex<BTreeMap<String, u64>>,
}

/// Figures read at scrape time.
#[derive(Debug)]
pub(crate) struct Gauges {
    pub documents: usize,
    pub chunks: u64,
    pub generation: u64,
    pub snapshot_age_secs: f64,
    pub llm_waiting: usize,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics::default()
    }

    pub(crate) fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(route.to_owned())
            .or_default()
            .observe(seconds);
    }

    pub(crate) fn answered(&self, how: &str) {
        *self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(how.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn add_llm_pieces(&self, n: u64) {
        self.llm_pieces.fetch_add(n, Ordering::Relaxed);
    }

    /// The exposition text.
    pub(crate) fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP docket_http_requests_total HTTP requests by method, route and status.\n# TYPE docket_http_requests_total counter"
        );
        for ((m, r, s), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "docket_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                escape(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP docket_http_request_duration_seconds Time to the response's headers, by route.\n# TYPE docket_http_request_duration_seconds histogram"
        );
        for (r, h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let r = escape(r);
            for (b, c) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(
                    out,
                    "docket_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "docket_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}\ndocket_http_request_duration_seconds_sum{{route=\"{r}\"}} {}\ndocket_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP docket_answers_total Questions answered, by the kind of answer.\n# TYPE docket_answers_total counter"
        );
        for (how, n) in self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "docket_answers_total{{kind=\"{}\"}} {n}", escape(how));
        }
        let pieces = self.llm_pieces.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP docket_llm_tokens_total Text pieces the LLM generated (about one token each).\n# TYPE docket_llm_tokens_total counter\ndocket_llm_tokens_total {pieces}"
        );
        let gauges = [
            (
                "docket_index_documents",
                "Documents in the served index.",
                g.documents as f64,
            ),
            (
                "docket_index_chunks",
                "Chunks in the served index.",
                g.chunks as f64,
            ),
            (
                "docket_index_generation",
                "Commits of the index the served copy holds.",
                g.generation as f64,
            ),
            (
                "docket_index_snapshot_age_seconds",
                "Age of the served copy of the index.",
                g.snapshot_age_secs,
            ),
            (
                "docket_llm_queue",
                "Requests waiting for the LLM.",
                g.llm_waiting as f64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_the_text_is_well_formed() {
        let m = Metrics::new();
        m.observe("POST", "/v1/search", 200, 0.004);
        m.observe("POST", "/v1/search", 200, 0.2);
        m.observe("POST", "/v1/search", 429, 0.001);
        let text = m.render(&Gauges {
            documents: 3,
            chunks: 10,
            generation: 2,
            snapshot_age_secs: 1.5,
            llm_waiting: 0,
        });
        assert!(text.contains(
            "docket_http_requests_total{method=\"POST\",route=\"/v1/search\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "docket_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "docket_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"} 3"
        ));
        assert!(text.contains("docket_index_documents 3"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
