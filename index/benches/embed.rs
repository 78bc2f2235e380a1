//! Embedding throughput of [`BertEmbedder`] on the default model (all-MiniLM-L6-v2):
//! chunks per second at batch 16 on 256-token chunks and on short ~32-token texts.
//!
//! `cargo bench -p docket-index --bench embed`; compare with
//! `python index/benches/embed_reference.py MODEL_DIR`, which times
//! sentence-transformers on the same texts. `DOCKET_BENCH_THREADS` sets the thread
//! count (default: all cores), `DOCKET_BENCH_ROUNDS` the rounds (default 5), and
//! `DOCKET_EMBED_PRECISION` (`f32`, `f16`, `auto`) the arithmetic of the linear layers.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use docket_index::embed::{BertEmbedder, Embedder, find_default_model};

/// Same list and generator as embed_reference.py, so both time the same texts.
const WORDS: &[&str] = &[
    "the",
    "index",
    "stage",
    "splits",
    "documents",
    "into",
    "chunks",
    "embeds",
    "each",
    "vector",
    "store",
    "retrieval",
    "ranks",
    "query",
    "answer",
    "model",
    "token",
    "window",
    "search",
    "engine",
    "fast",
    "slow",
    "memory",
    "cache",
    "thread",
    "core",
    "batch",
    "sentence",
    "paragraph",
    "section",
    "title",
    "author",
    "report",
    "invoice",
    "payment",
    "customer",
    "account",
    "password",
    "network",
    "server",
    "client",
    "request",
    "response",
    "error",
    "warning",
    "file",
    "folder",
    "archive",
    "mail",
    "message",
    "calendar",
    "meeting",
    "project",
    "budget",
    "quarter",
    "revenue",
    "growth",
    "market",
    "product",
    "release",
    "version",
    "update",
    "security",
    "policy",
];

struct Lcg(u64);

impl Lcg {
    fn next_word(&mut self) -> &'static str {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        WORDS[((self.0 >> 33) % WORDS.len() as u64) as usize]
    }
}

fn texts(count: usize, words: usize, seed: u64) -> Vec<String> {
    let mut rng = Lcg(seed);
    (0..count)
        .map(|_| {
            (0..words)
                .map(|_| rng.next_word())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// CPU time used by this process so far (user + system), in seconds, from
/// /proc/self/stat; 0 where that is unavailable.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the
    // 12th and 13th, in ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// Chunks per second over `rounds` passes of `texts` in batches of `batch`: best and
/// median pass, and chunks per CPU-second over all passes (a figure that depends less
/// on what else the machine runs).
fn measure(e: &BertEmbedder, texts: &[String], batch: usize, rounds: usize) -> (f64, f64, f64) {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    e.embed(&refs[..batch]).expect("warm-up");
    let cpu = cpu_seconds();
    let mut rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for b in refs.chunks(batch) {
                std::hint::black_box(e.embed(b).expect("embed"));
            }
            refs.len() as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    let per_cpu = (rounds * refs.len()) as f64 / (cpu_seconds() - cpu);
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() - 1], rates[rates.len() / 2], per_cpu)
}

fn main() {
    let dir = find_default_model().unwrap_or_else(|e| panic!("{e}"));
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let threads = env("DOCKET_BENCH_THREADS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rounds = env("DOCKET_BENCH_ROUNDS").unwrap_or(5).max(1);
    let e = BertEmbedder::load_with_threads(&dir, threads).expect("load model");
    let long = texts(64, 300, 1);
    let short = texts(256, 28, 2);
    let long_tokens = e.token_count(&long[0]).unwrap();
    let short_tokens = e.token_count(&short[0]).unwrap();
    println!(
        "model {} ({}), threads {}, precision {:?}",
        e.model_id(),
        dir.display(),
        e.threads(),
        e.precision()
    );
    for (name, items, tokens) in [
        ("chunks", &long, long_tokens),
        ("texts ", &short, short_tokens),
    ] {
        let (best, median, per_cpu) = measure(&e, items, 16, rounds);
        println!(
            "docket  {tokens:>3}-token {name}, batch 16: {best:7.1} chunks/s best, {median:7.1} median, {per_cpu:6.1} per CPU-second ({rounds} rounds of {})",
            items.len()
        );
    }
}
