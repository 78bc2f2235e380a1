//! K-quant models (Q4_K, Q5_K, Q6_K in their quantized form), Qwen3 and Gemma 3
//! against llama.cpp: greedy generation and the first token's logits on the same file
//! and prompt token ids, the reference written by `fixtures/kquant/llama_cpp_reference.py`
//! (llama-cpp-python) so that these tests need neither.
//!
//! The random-weight llama and qwen3 files (`fixtures/kquant/make_random_gguf.py`, the
//! `gguf` package) are committed; the Gemma 3 270M Q4_K_M file is not (240 MB): its
//! test runs when `DOCKET_GEMMA3_GGUF` names it and says it skipped otherwise.
//!
//! Tolerances: docket and llama.cpp both quantize activations to int8 before the dot
//! products, but not always in the same places (docket's prompt path multiplies f32
//! copies of the weights when they fit its budget, llama.cpp rounds its KV cache and
//! some scales differently), so logits are close, not equal. The first token's logits
//! must agree within 5% of the largest of llama.cpp's in magnitude (over the whole
//! vocabulary of the random models, the 64 best of Gemma's); at every one of 32 greedy
//! steps docket's top token must be llama.cpp's,
//! unless llama.cpp's own best two are within `NEAR_TIE` logits there (then either may
//! win by rounding). Generation is teacher-forced on llama.cpp's tokens, so one near
//! tie does not derail the rest.

#![expect(
    clippy::print_stdout,
    reason = "the tests report how close each model came to llama.cpp"
)]

use std::path::{Path, PathBuf};

use docket_generate::{LocalConfig, LocalLlm};
use serde::Deserialize;

/// A gap between llama.cpp's best two logits below which either may be picked.
const NEAR_TIE: f32 = 0.1;
/// The first token's logits may differ by this share of the largest in magnitude.
const LOGIT_TOLERANCE: f32 = 0.05;

#[derive(Debug, Deserialize)]
struct Reference {
    file: String,
    prompt: Vec<u32>,
    tokens: Vec<u32>,
    gaps: Vec<f32>,
    first_logits: Option<Vec<f32>>,
    first_top_ids: Vec<u32>,
    first_top_logits: Vec<f32>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kquant")
}

fn reference(name: &str) -> Reference {
    let path = fixtures().join(format!("{name}.llama_cpp.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn argmax(v: &[f32]) -> u32 {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0 as u32
}

/// Compare `model` (loaded with an f32 budget of `budget_mib`) with the reference;
/// returns the largest first-token logit difference, as a share of the largest logit.
fn compare(model: &Path, r: &Reference, budget_mib: usize) -> f32 {
    let llm = LocalLlm::load_with(
        model,
        &LocalConfig {
            threads: 2,
            f32_budget_mib: budget_mib,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("load {model:?}: {e}"));
    let mut got = llm.next_logits(&r.prompt).expect("prompt");
    let (ids, want): (Vec<u32>, Vec<f32>) = match &r.first_logits {
        Some(all) => ((0..all.len() as u32).collect(), all.clone()),
        None => (r.first_top_ids.clone(), r.first_top_logits.clone()),
    };
    let largest = want.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    let worst = ids
        .iter()
        .zip(&want)
        .map(|(&i, w)| (got[i as usize] - w).abs())
        .fold(0.0f32, f32::max);
    println!(
        "{} (budget {budget_mib} MiB): first logits differ by at most {worst} (largest {largest}); top token {} (llama.cpp {})",
        r.file,
        argmax(&got),
        r.tokens[0]
    );
    assert!(
        worst <= LOGIT_TOLERANCE * largest,
        "{} (budget {budget_mib} MiB): first logits differ by {worst} (largest {largest})",
        r.file
    );
    let mut seq = r.prompt.clone();
    for (step, (&want, &gap)) in r.tokens.iter().zip(&r.gaps).enumerate() {
        let pick = argmax(&got);
        assert!(
            pick == want || gap <= NEAR_TIE,
            "{} (budget {budget_mib} MiB): step {step} picks {pick}, llama.cpp {want} (by {gap})",
            r.file
        );
        seq.push(want);
        got = llm.next_logits(&seq).expect("generate");
    }
    worst / largest
}

/// Both prompt paths: f32 copies (the default budget, which these models fit) and
/// none (every product on the quantized blocks).
fn compare_both(model: &Path, r: &Reference) {
    for budget in [LocalConfig::default().f32_budget_mib, 0] {
        let share = compare(model, r, budget);
        println!(
            "{}: budget {budget} MiB, first logits within {share:.4} of the largest",
            r.file
        );
    }
}

#[test]
fn random_llama_k_quants_match_llama_cpp() {
    let r = reference("random-llama");
    compare_both(&fixtures().join(&r.file), &r);
}

#[test]
fn random_qwen3_with_tied_embeddings_matches_llama_cpp() {
    let r = reference("random-qwen3");
    compare_both(&fixtures().join(&r.file), &r);
}

/// The real Gemma 3 270M Q4_K_M file (Q5_0, Q8_0, Q4_K and Q6_K tensors; sliding
/// windows of 512 that a 1,200-token prompt exceeds).
#[test]
fn gemma3_270m_matches_llama_cpp() {
    let Some(path) = std::env::var_os("DOCKET_GEMMA3_GGUF") else {
        println!("skipped: DOCKET_GEMMA3_GGUF does not name gemma-3-270m-q4_k_m.gguf");
        return;
    };
    let r = reference("gemma3-270m");
    compare_both(Path::new(&path), &r);
}
