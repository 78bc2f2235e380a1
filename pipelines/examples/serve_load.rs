//! Load generator for `docket serve` (loopback only): N concurrent clients send search
//! or ask requests for a fixed time; prints throughput and latency percentiles per
//! client count. `scripts/bench-serve` runs it against the sample archive and a
//! 10k-document index while a concurrent `docket run` keeps updating the index.
//!
//!     cargo run --release -p docket --example serve_load -- \
//!         --url http://127.0.0.1:8080 --kind search --clients 1,8,32 --seconds 10

#![allow(clippy::print_stdout)]

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    kind: String,
    clients: Vec<usize>,
    seconds: u64,
    queries: Vec<String>,
    strategy: Option<String>,
    mode: Option<String>,
}

fn parse() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        kind: "search".into(),
        clients: vec![1, 8, 32],
        seconds: 10,
        queries: Vec::new(),
        strategy: None,
        mode: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value(),
            "--kind" => a.kind = value(),
            "--clients" => {
                a.clients = value()
                    .split(',')
                    .map(|c| c.parse().expect("client count"))
                    .collect();
            }
            "--seconds" => a.seconds = value().parse().expect("seconds"),
            "--queries" => {
                a.queries = std::fs::read_to_string(value())
                    .expect("queries file")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--strategy" => a.strategy = Some(value()),
            "--mode" => a.mode = Some(value()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        a.url.starts_with("http://127.0.0.1") || a.url.starts_with("http://localhost"),
        "loopback only"
    );
    if a.queries.is_empty() {
        a.queries = [
            "How many days can staff work from home?",
            "What is the per diem for travel?",
            "Who approves expense claims?",
            "How long are invoices kept?",
            "What happens after a security incident is reported?",
            "Can items be returned without a receipt?",
            "parking permit",
            "quarterly planning meeting decisions",
        ]
        .map(str::to_owned)
        .to_vec();
    }
    a
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let args = parse();
    println!(
        "{:>6} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  statuses",
        args.kind, "clients", "requests", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for &clients in &args.clients {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let stop = Arc::clone(&stop);
                let url = format!("{}/v1/{}", args.url, args.kind);
                let queries = args.queries.clone();
                let kind = args.kind.clone();
                let strategy = args.strategy.clone();
                let mode = args.mode.clone();
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(300)))
                        .build()
                        .into();
                    let mut latencies = Vec::new();
                    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        let q = &queries[i % queries.len()];
                        i += 1;
                        let mut body = if kind == "ask" {
                            serde_json::json!({"question": q})
                        } else {
                            serde_json::json!({"query": q, "k": 10})
                        };
                        if let Some(s) = &strategy {
                            body["strategy"] = serde_json::json!(s);
                        }
                        if let Some(m) = &mode {
                            body["mode"] = serde_json::json!(m);
                        }
                        let t = Instant::now();
                        let status = match agent
                            .post(&url)
                            .header("content-type", "application/json")
                            .send(body.to_string())
                        {
                            Ok(mut r) => {
                                let mut sink = Vec::new();
                                let _ = r.body_mut().as_reader().read_to_end(&mut sink);
                                r.status().as_u16()
                            }
                            Err(_) => 0,
                        };
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        *statuses.entry(status).or_default() += 1;
                    }
                    (latencies, statuses)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(args.seconds));
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for t in threads {
            let (l, s) = t.join().expect("client thread");
            all.extend(l);
            for (k, v) in s {
                *statuses.entry(k).or_default() += v;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_by(f64::total_cmp);
        println!(
            "{:>6} {:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {:?}",
            args.kind,
            clients,
            all.len(),
            all.len() as f64 / elapsed,
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            all.last().copied().unwrap_or(f64::NAN),
            statuses
        );
    }
}
