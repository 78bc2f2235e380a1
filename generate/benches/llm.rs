//! Prompt-processing and generation speed of the local backend on the default model
//! (SmolLM2-135M-Instruct Q4_1), on the chat prompt in `llm_prompt.txt` (~1,200
//! tokens). `llm_reference.py` beside this file measures llama.cpp on the same file
//! and prompt, so that the two can be compared side by side.
//!
//! `cargo bench -p docket-generate --bench llm [-- --threads N --gen N --runs N
//! --f32-budget-mib N]`; `DOCKET_LLM_MODEL=FILE.gguf` runs another model (for Gemma,
//! `llm_reference.py --chat gemma` renders the same prompt).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use docket_generate::{LocalConfig, LocalLlm, Prompt};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn argmax(v: &[f32]) -> u32 {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0 as u32
}

fn main() {
    let threads = arg("--threads", 2);
    let gen_tokens = arg("--gen", 128);
    let runs = arg("--runs", 3);
    let f32_budget_mib = arg("--f32-budget-mib", LocalConfig::default().f32_budget_mib);
    let path = match docket_generate::find_default_model() {
        Ok(p) => p,
        Err(e) => {
            println!("skipping the LLM benchmark: {e}");
            return;
        }
    };
    let t = Instant::now();
    let llm = LocalLlm::load_with(
        &path,
        &LocalConfig {
            threads,
            f32_budget_mib,
            ..Default::default()
        },
    )
    .expect("load the model");
    println!(
        "model {} ({} threads), loaded in {:.2} s, {:.0} MB of weights in memory",
        path.display(),
        llm.threads(),
        t.elapsed().as_secs_f64(),
        llm.weight_bytes() as f64 / 1e6
    );
    let text = include_str!("llm_prompt.txt");
    let tokens = llm.prompt_tokens(&Prompt::user(text)).expect("tokenize");
    println!("prompt: {} tokens (chat template applied)", tokens.len());

    let mut best_pp = f64::INFINITY;
    let mut best_tg = f64::INFINITY;
    let mut first_run = Vec::new();
    for run in 0..runs {
        llm.clear_cache();
        let t = Instant::now();
        let mut logits = llm.next_logits(&tokens).expect("prompt");
        let pp = t.elapsed().as_secs_f64();
        // Greedy generation of a fixed number of tokens (end markers ignored, as in
        // the reference script), one forward pass each.
        let mut seq = tokens.clone();
        let t = Instant::now();
        for _ in 0..gen_tokens {
            let next = argmax(&logits);
            seq.push(next);
            logits = llm.next_logits(&seq).expect("generate");
        }
        let tg = t.elapsed().as_secs_f64();
        println!(
            "run {run}: prompt {:.0} tokens/s ({:.2} s), generation {:.1} tokens/s ({gen_tokens} tokens in {:.2} s)",
            tokens.len() as f64 / pp,
            pp,
            gen_tokens as f64 / tg,
            tg
        );
        if run == 0 {
            first_run = seq[tokens.len()..].to_vec();
        }
        best_pp = best_pp.min(pp);
        best_tg = best_tg.min(tg);
    }
    println!(
        "best: prompt {:.0} tokens/s, generation {:.1} tokens/s",
        tokens.len() as f64 / best_pp,
        gen_tokens as f64 / best_tg
    );
    let head: Vec<u32> = first_run.iter().take(16).copied().collect();
    println!(
        "first greedy tokens: {head:?} = {:?}",
        llm.detokenize(&head).unwrap_or_default()
    );
}
