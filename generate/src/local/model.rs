//! A llama-family decoder (Llama, Mistral, SmolLM2, Qwen2, Qwen3, Gemma 3) on the CPU,
//! on docket's own kernels.
//!
//! candle's `quantized_llama` spends most of its time in generic tensor ops and runs
//! its quantized matmuls row by row even for a long prompt. Here each weight matrix is
//! kept quantized, in [`QMatrix`]'s layout (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) or as the
//! file's K-quant super-blocks ([`KMatrix`]), for matrix-vector products (generation,
//! where memory traffic bounds speed) and, for K-quants, prompts too. When the f32
//! copies of the layers fit [`LoadOptions::f32_budget`] they are also made and packed
//! for [`matmul`](docket_kernels::matmul) (prompt processing, where arithmetic bounds
//! speed); above it nothing is held as f32 but the norms. Buffers live in a
//! [`Workspace`] reused across calls, and the KV cache grows by whole chunks.

use std::path::Path;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use super::arch::{Architecture, UnknownArchitecture};
use super::kernels;
use super::kquant::{KKind, KMatrix, Q8K};
use super::quant::{BLOCK, Block, QActs, QKind, QMatrix};
use crate::error::{Error, Result};
use docket_kernels::View;
use docket_kernels::matmul::{PackedB, matmul_rows_strided as matmul_rows, matmul_sub};

/// Below this many rows a linear layer runs as matrix-vector products on the quantized
/// weights; from it on, as one f32 matrix multiply.
const GEMM_MIN_ROWS: usize = 8;
/// Rows of a prompt processed per forward pass: bounds the activation and attention
/// buffers whatever the prompt's length.
pub const MAX_BATCH: usize = 512;
/// The KV cache grows by this many positions at a time.
const KV_CHUNK: usize = 512;
/// Query rows per attention task of a prompt.
const ATT_ROWS: usize = 64;

/// Shape and constants of the model, from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Hparams {
    pub arch: Architecture,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab: usize,
    pub context: usize,
    pub eps: f32,
    pub rope_base: f32,
    /// Positions are divided by this on global layers (linear rope scaling).
    pub rope_scale: f32,
    pub rope_dim: usize,
    /// Positions a sliding-window layer attends to (itself included), on the layers
    /// [`Architecture::sliding_window_pattern`] says.
    pub sliding_window: Option<usize>,
    /// `cap·tanh(logit/cap)` on the output logits (Gemma 2), when the file says so.
    pub final_softcap: Option<f32>,
}

impl Hparams {
    fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }
    fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Whether layer `li` attends only to the last `sliding_window` positions.
    fn is_local(&self, li: usize) -> bool {
        self.sliding_window.is_some()
            && self
                .arch
                .sliding_window_pattern()
                .is_some_and(|n| li % n < n - 1)
    }
}

/// The quantized forms of one activation matrix, made once per linear layer.
#[derive(Debug, Default)]
pub struct Acts {
    q: QActs,
    k: Q8K,
}

/// Rows of a weight matrix in one storage form.
#[derive(Debug)]
enum Part {
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 in the pair layout.
    Q(QMatrix),
    /// Q4_K, Q5_K, Q6_K super-blocks.
    K(KMatrix),
    /// Anything else (F16, BF16, F32...), as f32 rows.
    F32 { rows: usize, data: Vec<f32> },
}

impl Part {
    fn rows(&self) -> usize {
        match self {
            Part::Q(q) => q.rows,
            Part::K(k) => k.rows,
            Part::F32 { rows, .. } => *rows,
        }
    }

    /// Row `r` as f32 (the embedding lookup of tied embeddings).
    fn row(&self, r: usize, out: &mut [f32]) {
        match self {
            Part::Q(q) => q.dequantize_row(r, out),
            Part::K(k) => k.dequantize_row(r, out),
            Part::F32 { data, .. } => {
                let cols = out.len();
                out.copy_from_slice(&data[r * cols..(r + 1) * cols]);
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Part::Q(q) => q.bytes(),
            Part::K(k) => k.bytes(),
            Part::F32 { data, .. } => data.len() * 4,
        }
    }
}

/// A weight matrix `rows × cols` (out × in) with what each product form needs.
#[derive(Debug)]
struct Linear {
    rows: usize,
    cols: usize,
    /// The row blocks in their quantized forms, top to bottom: a fused matrix (Q, K
    /// and V) may mix formats, as Q4_K_M files do.
    parts: Vec<Part>,
    /// For prompt processing, when within the f32 budget.
    packed: Option<PackedB>,
    bias: Vec<f32>,
}

impl Linear {
    /// `c[i] (+)= a[i]·Wᵀ + bias` for `m` rows of `a` (row stride `lda`), `c` dense.
    fn forward(
        &self,
        m: usize,
        a: &[f32],
        lda: usize,
        c: &mut [f32],
        accumulate: bool,
        acts: &mut Acts,
    ) {
        let n = self.rows;
        if let Some(packed) = self.packed.as_ref().filter(|_| m >= GEMM_MIN_ROWS) {
            matmul_rows(m, a, lda, packed, c, accumulate, &self.bias, |_| {});
            return;
        }
        let mut k_ready = false;
        let mut at = 0;
        for part in &self.parts {
            let rows = part.rows();
            match part {
                Part::K(k) => {
                    // All rows at once: each weight row is read once for the prompt.
                    if !k_ready {
                        acts.k.quantize_rows(m, a, lda, self.cols);
                        k_ready = true;
                    }
                    k.gemm(&acts.k, &mut c[at..], n, accumulate);
                }
                Part::Q(q) => {
                    for i in 0..m {
                        acts.q.quantize(&a[i * lda..i * lda + self.cols]);
                        q.gemv(&acts.q, &mut c[i * n + at..i * n + at + rows], accumulate);
                    }
                }
                Part::F32 { data, .. } => {
                    let cols = self.cols;
                    for i in 0..m {
                        let x = &a[i * lda..i * lda + cols];
                        let y = &mut c[i * n + at..i * n + at + rows];
                        let chunk = rows.div_ceil(rayon::current_num_threads() * 4).max(8);
                        y.par_chunks_mut(chunk).enumerate().for_each(|(t, ys)| {
                            for (j, yv) in ys.iter_mut().enumerate() {
                                let r = t * chunk + j;
                                let v = docket_kernels::dot(&data[r * cols..(r + 1) * cols], x);
                                *yv = if accumulate { *yv + v } else { v };
                            }
                        });
                    }
                }
            }
            at += rows;
        }
        if self.bias.iter().any(|b| *b != 0.0) {
            for y in c[..m * n].chunks_exact_mut(n) {
                for (yv, b) in y.iter_mut().zip(&self.bias) {
                    *yv += b;
                }
            }
        }
    }

    /// Row `r` of the weights as f32.
    fn row(&self, r: usize, out: &mut [f32]) {
        let mut r = r;
        for part in &self.parts {
            if r < part.rows() {
                return part.row(r, out);
            }
            r -= part.rows();
        }
        panic!("Linear::row: row out of range");
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(Part::bytes).sum::<usize>()
            + self.packed.as_ref().map_or(0, PackedB::bytes)
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
    /// RMS norms of each query and key head before RoPE (Qwen3, Gemma 3).
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    /// RMS norms of the attention's and the feed-forward's outputs before they join
    /// the residual stream (Gemma 3).
    post_attn_norm: Option<Vec<f32>>,
    post_ffn_norm: Option<Vec<f32>>,
    /// Q, K and V fused: one pass over the input for all three.
    qkv: Linear,
    out: Linear,
    ffn_norm: Vec<f32>,
    /// Gate and up fused: output rows are `[gate | up]`.
    gate_up: Linear,
    down: Linear,
}

/// The loaded weights.
#[derive(Debug)]
pub struct Model {
    pub hp: Hparams,
    /// `None` when the embeddings are tied: the output matrix's rows are read then.
    embed: Option<QOrF32>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Linear,
}

/// The embedding table: quantized rows when the format allows, else f32.
#[derive(Debug)]
enum QOrF32 {
    Q(QMatrix),
    K(KMatrix),
    F32 { cols: usize, data: Vec<f32> },
}

impl QOrF32 {
    fn row(&self, r: usize, out: &mut [f32]) {
        match self {
            QOrF32::Q(q) => q.dequantize_row(r, out),
            QOrF32::K(k) => k.dequantize_row(r, out),
            QOrF32::F32 { cols, data } => out.copy_from_slice(&data[r * cols..(r + 1) * cols]),
        }
    }
}

/// The raw tensor as K-quant super-blocks, if it is one.
fn kmatrix(t: &QTensor, rows: usize, cols: usize) -> candle_core::Result<Option<KMatrix>> {
    let kind = match t.dtype() {
        GgmlDType::Q4K => KKind::Q4K,
        GgmlDType::Q5K => KKind::Q5K,
        GgmlDType::Q6K => KKind::Q6K,
        _ => return Ok(None),
    };
    Ok(KMatrix::new(rows, cols, kind, t.data()?.to_vec()))
}

/// The raw tensor in the `w = d·q + m` block form, if its format has one.
fn qmatrix(t: &QTensor, rows: usize, cols: usize) -> candle_core::Result<Option<QMatrix>> {
    if !cols.is_multiple_of(BLOCK) {
        return Ok(None);
    }
    let data = t.data()?;
    let h = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]);
    let q = match t.dtype() {
        GgmlDType::Q4_1 => QMatrix::from_blocks(
            rows,
            cols,
            QKind::Nibbles,
            data.chunks_exact(20).map(|b| {
                let mut q = [0u8; BLOCK];
                for j in 0..16 {
                    q[j] = b[4 + j] & 0xF;
                    q[j + 16] = b[4 + j] >> 4;
                }
                Block {
                    d: h(&b[0..2]),
                    m: h(&b[2..4]),
                    q,
                }
            }),
        ),
        GgmlDType::Q4_0 => QMatrix::from_blocks(
            rows,
            cols,
            QKind::Nibbles,
            data.chunks_exact(18).map(|b| {
                let mut q = [0u8; BLOCK];
                for j in 0..16 {
                    q[j] = b[2 + j] & 0xF;
                    q[j + 16] = b[2 + j] >> 4;
                }
                let d = h(&b[0..2]);
                Block {
                    d,
                    m: f16::from_f32(-8.0 * d.to_f32()),
                    q,
                }
            }),
        ),
        // 5-bit values are stored as bytes: `q = low nibble | high bit << 4`.
        GgmlDType::Q5_0 => QMatrix::from_blocks(
            rows,
            cols,
            QKind::Bytes,
            data.chunks_exact(22).map(|b| {
                let d = h(&b[0..2]);
                Block {
                    d,
                    m: f16::from_f32(-16.0 * d.to_f32()),
                    q: q5(&b[2..6], &b[6..22]),
                }
            }),
        ),
        GgmlDType::Q5_1 => QMatrix::from_blocks(
            rows,
            cols,
            QKind::Bytes,
            data.chunks_exact(24).map(|b| Block {
                d: h(&b[0..2]),
                m: h(&b[2..4]),
                q: q5(&b[4..8], &b[8..24]),
            }),
        ),
        GgmlDType::Q8_0 => QMatrix::from_blocks(
            rows,
            cols,
            QKind::Bytes,
            data.chunks_exact(34).map(|b| {
                let mut q = [0u8; BLOCK];
                for (j, v) in q.iter_mut().enumerate() {
                    *v = (b[2 + j] as i8 as i16 + 128) as u8;
                }
                let d = h(&b[0..2]);
                Block {
                    d,
                    m: f16::from_f32(-128.0 * d.to_f32()),
                    q,
                }
            }),
        ),
        _ => return Ok(None),
    };
    Ok(Some(q))
}

/// The 32 unsigned 5-bit values of a Q5_0/Q5_1 block: value `j < 16` is the low nibble
/// of byte `j`, value `j + 16` its high nibble, bit 4 of value `j` is bit `j` of `qh`.
fn q5(qh: &[u8], qs: &[u8]) -> [u8; BLOCK] {
    let high = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut q = [0u8; BLOCK];
    for j in 0..16 {
        q[j] = (qs[j] & 0xF) | ((((high >> j) & 1) as u8) << 4);
        q[j + 16] = (qs[j] >> 4) | ((((high >> (j + 16)) & 1) as u8) << 4);
    }
    q
}

/// How the weights are held; see [`Model::load`].
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Most bytes the f32 copies for prompt processing may take; over it, prompts run
    /// on the quantized matrix-vector path (slower but lean).
    pub f32_budget: usize,
}

struct Loader<'a> {
    path: &'a Path,
    content: gguf_file::Content,
    file: std::fs::File,
}

impl Loader<'_> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Gguf {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn tensor(&mut self, name: &str) -> Result<QTensor> {
        let device = candle_core::Device::Cpu;
        self.content
            .tensor(&mut self.file, name, &device)
            .map_err(|e| Error::Gguf {
                path: self.path.to_path_buf(),
                reason: format!("tensor {name}: {e}"),
            })
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.tensor(name)?;
        let v = t
            .dequantize(&candle_core::Device::Cpu)
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| self.err(format!("tensor {name}: {e}")))?;
        if v.len() != len {
            return Err(self.err(format!("tensor {name} has {} values, not {len}", v.len())));
        }
        Ok(v)
    }

    /// The vector `name` if the file has it.
    fn optional_vector(&mut self, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
        if self.has(name) {
            self.vector(name, len).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The matrices `names` stacked by rows into one linear layer of input width `cols`.
    fn linear(&mut self, names: &[String], cols: usize, f32_copy: bool) -> Result<Linear> {
        let mut parts: Vec<Part> = Vec::new();
        let mut f32s = Vec::new();
        let mut biases = Vec::new();
        let mut rows = 0;
        for name in names {
            let t = self.tensor(name)?;
            let dims = t.shape().dims().to_vec();
            let (r, c) = match dims.as_slice() {
                [r, c] => (*r, *c),
                _ => return Err(self.err(format!("tensor {name} has shape {dims:?}"))),
            };
            if c != cols {
                return Err(self.err(format!("tensor {name} has {c} columns, not {cols}")));
            }
            rows += r;
            let e = |e: candle_core::Error| self.err(format!("tensor {name}: {e}"));
            let dequantize = |t: &QTensor| {
                t.dequantize(&candle_core::Device::Cpu)
                    .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            };
            let part = if let Some(q) = qmatrix(&t, r, c).map_err(e)? {
                Part::Q(q)
            } else if let Some(k) = kmatrix(&t, r, c).map_err(e)? {
                Part::K(k)
            } else {
                Part::F32 {
                    rows: r,
                    data: dequantize(&t).map_err(e)?,
                }
            };
            if f32_copy {
                f32s.push(match &part {
                    Part::F32 { data, .. } => data.clone(),
                    _ => dequantize(&t).map_err(e)?,
                });
            }
            // Neighbours of the same format become one part (one pass, one dispatch).
            let merged = match (parts.last_mut(), &part) {
                (Some(Part::Q(a)), Part::Q(b)) => QMatrix::concat_rows(&[a, b]).map(|q| *a = q),
                (Some(Part::K(a)), Part::K(b)) => KMatrix::concat_rows(a, b).map(|k| *a = k),
                _ => None,
            };
            if merged.is_none() {
                parts.push(part);
            }
            let bias_name = name.replace(".weight", ".bias");
            if self.has(&bias_name) {
                biases.push(self.vector(&bias_name, r)?);
            } else {
                biases.push(vec![0.0; r]);
            }
        }
        let packed = f32_copy.then(|| {
            let w: Vec<f32> = f32s.into_iter().flatten().collect();
            PackedB::pack(
                cols,
                rows,
                View {
                    data: &w,
                    rs: 1,
                    cs: cols,
                },
            )
        });
        Ok(Linear {
            rows,
            cols,
            parts,
            packed,
            bias: biases.into_iter().flatten().collect(),
        })
    }
}

impl Model {
    /// Read the hyper-parameters and weights of a llama-family GGUF file.
    pub fn load(
        path: &Path,
        content: gguf_file::Content,
        file: std::fs::File,
        opts: LoadOptions,
    ) -> Result<Model> {
        let mut ld = Loader {
            path,
            content,
            file,
        };
        let hp = hparams(path, &ld.content)?;
        // f32 copies of the layers' matrices, counted as packed f32 (panels of 32).
        let per_layer = [
            hp.q_dim() + 2 * hp.kv_dim(),
            hp.q_dim(),
            2 * hp.n_ff,
            hp.n_embd,
        ];
        let f32_bytes: usize = hp.n_layer
            * per_layer
                .iter()
                .zip([hp.n_embd, hp.q_dim(), hp.n_embd, hp.n_ff])
                .map(|(n, k)| n.next_multiple_of(32) * k * 4)
                .sum::<usize>();
        let f32_copy = f32_bytes <= opts.f32_budget;

        // Tied embeddings (SmolLM2, Qwen2 small, Gemma) have no output.weight: the
        // output matrix is the embedding table, held once.
        let tied = !ld.has("output.weight");
        let embed = if tied {
            None
        } else {
            let t = ld.tensor("token_embd.weight")?;
            let e = |e: candle_core::Error| ld.err(format!("token_embd.weight: {e}"));
            Some(
                if let Some(q) = qmatrix(&t, hp.vocab, hp.n_embd).map_err(e)? {
                    QOrF32::Q(q)
                } else if let Some(k) = kmatrix(&t, hp.vocab, hp.n_embd).map_err(e)? {
                    QOrF32::K(k)
                } else {
                    QOrF32::F32 {
                        cols: hp.n_embd,
                        data: t
                            .dequantize(&candle_core::Device::Cpu)
                            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
                            .map_err(e)?,
                    }
                },
            )
        };
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            layers.push(Layer {
                attn_norm: ld.vector(&n("attn_norm"), hp.n_embd)?,
                q_norm: ld.optional_vector(&n("attn_q_norm"), hp.head_dim)?,
                k_norm: ld.optional_vector(&n("attn_k_norm"), hp.head_dim)?,
                post_attn_norm: ld.optional_vector(&n("post_attention_norm"), hp.n_embd)?,
                post_ffn_norm: ld.optional_vector(&n("post_ffw_norm"), hp.n_embd)?,
                qkv: ld.linear(
                    &[n("attn_q"), n("attn_k"), n("attn_v")],
                    hp.n_embd,
                    f32_copy,
                )?,
                out: ld.linear(&[n("attn_output")], hp.q_dim(), f32_copy)?,
                ffn_norm: ld.vector(&n("ffn_norm"), hp.n_embd)?,
                gate_up: ld.linear(&[n("ffn_gate"), n("ffn_up")], hp.n_embd, f32_copy)?,
                down: ld.linear(&[n("ffn_down")], hp.n_ff, f32_copy)?,
            });
            let l = &layers[i];
            if l.qkv.rows != hp.q_dim() + 2 * hp.kv_dim()
                || l.gate_up.rows != 2 * hp.n_ff
                || l.down.rows != hp.n_embd
                || l.out.rows != hp.n_embd
            {
                return Err(ld.err(format!(
                    "layer {i}: weight shapes do not match the metadata"
                )));
            }
        }
        let norm = ld.vector("output_norm.weight", hp.n_embd)?;
        let out_name = if tied {
            "token_embd.weight"
        } else {
            "output.weight"
        };
        let output = ld.linear(&[out_name.to_string()], hp.n_embd, false)?;
        Ok(Model {
            hp,
            embed,
            layers,
            norm,
            output,
        })
    }

    /// Bytes of weights held in memory (the norms aside).
    pub fn bytes(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.qkv.bytes() + l.out.bytes() + l.gate_up.bytes() + l.down.bytes())
            .sum();
        let embed = match &self.embed {
            Some(QOrF32::Q(q)) => q.bytes(),
            Some(QOrF32::K(k)) => k.bytes(),
            Some(QOrF32::F32 { data, .. }) => data.len() * 4,
            None => 0,
        };
        layers + embed + self.output.bytes()
    }

    /// Run `tokens` at positions `pos..`, whose keys and values are appended to the cache
    /// (which must hold exactly `pos` positions). Logits are written to `ws.logits` for
    /// the last token, or for every token when `all_logits` (row-major, `vocab` each).
    pub fn forward(&self, tokens: &[u32], ws: &mut Workspace, all_logits: bool) {
        let hp = &self.hp;
        let (d, qd, kvd) = (hp.n_embd, hp.q_dim(), hp.kv_dim());
        let qkv_w = qd + 2 * kvd;
        let m = tokens.len();
        let pos = ws.cache_len;
        ws.ensure(hp, m, pos + m);
        let half = hp.rope_dim / 2;
        // Rotary angles per row, shared by every head and layer: the global layers'
        // in the first `m·half` values, the sliding-window layers' (their own base,
        // no scaling) after.
        let local_base = hp.arch.local_rope_base().unwrap_or(hp.rope_base);
        for (table, base, scale) in [(0, hp.rope_base, hp.rope_scale), (1, local_base, 1.0)] {
            let span = table * m * half..(table + 1) * m * half;
            for (i, (c, s)) in ws.cos[span.clone()]
                .chunks_exact_mut(half)
                .zip(ws.sin[span].chunks_exact_mut(half))
                .enumerate()
            {
                let p = (pos + i) as f32 / scale;
                for j in 0..half {
                    let theta = p * base.powf(-((2 * j) as f32) / hp.rope_dim as f32);
                    c[j] = theta.cos();
                    s[j] = theta.sin();
                }
            }
        }
        for (i, &t) in tokens.iter().enumerate() {
            let x = &mut ws.x[i * d..(i + 1) * d];
            match &self.embed {
                Some(e) => e.row(t as usize, x),
                None => self.output.row(t as usize, x),
            }
            if hp.arch.scales_embeddings() {
                let scale = (d as f32).sqrt();
                x.iter_mut().for_each(|v| *v *= scale);
            }
        }
        for (li, layer) in self.layers.iter().enumerate() {
            kernels::rms_norm_rows(&ws.x[..m * d], &layer.attn_norm, hp.eps, &mut ws.h[..m * d]);
            layer
                .qkv
                .forward(m, &ws.h, d, &mut ws.qkv[..m * qkv_w], false, &mut ws.acts);
            // Per-head norms and RoPE on Q and K, then K and V into the cache.
            let cap = ws.cap;
            let table = if hp.is_local(li) { m * half } else { 0 };
            for i in 0..m {
                let row = &mut ws.qkv[i * qkv_w..(i + 1) * qkv_w];
                let at = table + i * half;
                let (c, s) = (&ws.cos[at..at + half], &ws.sin[at..at + half]);
                let (q, k) = row[..qd + kvd].split_at_mut(qd);
                for (heads, norm) in [(q, &layer.q_norm), (k, &layer.k_norm)] {
                    for h in heads.chunks_exact_mut(hp.head_dim) {
                        if let Some(w) = norm {
                            ws.head.copy_from_slice(h);
                            kernels::rms_norm_rows(&ws.head, w, hp.eps, h);
                        }
                        kernels::rope(h, c, s, hp.arch.rope_neox());
                    }
                }
                for g in 0..hp.n_head_kv {
                    let at = ((li * hp.n_head_kv + g) * cap + pos + i) * hp.head_dim;
                    let src = qd + g * hp.head_dim;
                    ws.k[at..at + hp.head_dim].convert_from_f32_slice(&row[src..src + hp.head_dim]);
                    let src = qd + kvd + g * hp.head_dim;
                    ws.v[at..at + hp.head_dim].convert_from_f32_slice(&row[src..src + hp.head_dim]);
                }
            }
            self.attention(li, m, pos, ws);
            residual(
                &layer.out,
                layer.post_attn_norm.as_deref(),
                m,
                &ws.att,
                qd,
                &mut ws.x[..m * d],
                (&mut ws.h, &mut ws.tmp),
                hp.eps,
                &mut ws.acts,
            );
            kernels::rms_norm_rows(&ws.x[..m * d], &layer.ffn_norm, hp.eps, &mut ws.h[..m * d]);
            let ff2 = 2 * hp.n_ff;
            layer
                .gate_up
                .forward(m, &ws.h, d, &mut ws.ff[..m * ff2], false, &mut ws.acts);
            gate_mul(&mut ws.ff[..m * ff2], hp.n_ff, hp.arch.gelu());
            residual(
                &layer.down,
                layer.post_ffn_norm.as_deref(),
                m,
                &ws.ff,
                ff2,
                &mut ws.x[..m * d],
                (&mut ws.h, &mut ws.tmp),
                hp.eps,
                &mut ws.acts,
            );
        }
        ws.cache_len = pos + m;
        let first = if all_logits { 0 } else { m - 1 };
        let rows = m - first;
        kernels::rms_norm_rows(
            &ws.x[first * d..m * d],
            &self.norm,
            hp.eps,
            &mut ws.h[..rows * d],
        );
        ws.logits.resize(rows * hp.vocab, 0.0);
        self.output
            .forward(rows, &ws.h, d, &mut ws.logits, false, &mut ws.acts);
        if let Some(cap) = hp.final_softcap {
            ws.logits
                .iter_mut()
                .for_each(|l| *l = cap * (*l / cap).tanh());
        }
    }

    /// Causal self-attention of the `m` new rows over the cache, into `ws.att`.
    fn attention(&self, li: usize, m: usize, pos: usize, ws: &mut Workspace) {
        let hp = &self.hp;
        let (hd, qd, kvd) = (hp.head_dim, hp.q_dim(), hp.kv_dim());
        let qkv_w = qd + 2 * kvd;
        let group = hp.n_head / hp.n_head_kv;
        // Keys a row at position `p` attends to start at `first(p + 1)`.
        let window = hp.sliding_window.filter(|_| hp.is_local(li));
        let first = |n: usize| window.map_or(0, |w| n.saturating_sub(w));
        let scale = 1.0 / (hd as f32).sqrt();
        let cap = ws.cap;
        let total = pos + m;
        let (k, v, qkv) = (&ws.k, &ws.v, &ws.qkv);
        let span = |g: usize| {
            let at = (li * hp.n_head_kv + g) * cap * hd;
            at..at + total * hd
        };
        // K transposed and V of each key/value head, packed once for the heads that
        // share them and for every row block (prompts only).
        let packs: Vec<(PackedB, PackedB)> = if m < GEMM_MIN_ROWS {
            Vec::new()
        } else {
            (0..hp.n_head_kv)
                .into_par_iter()
                .map(|g| {
                    // The packed copies are f32: the prompt's matrix kernels read them.
                    let widen = |s: &[f16]| {
                        let mut w = vec![0.0f32; s.len()];
                        s.convert_to_f32_slice(&mut w);
                        w
                    };
                    let (kc, vc) = (&widen(&k[span(g)]), &widen(&v[span(g)]));
                    let kt = PackedB::pack(
                        hd,
                        total,
                        View {
                            data: kc,
                            rs: 1,
                            cs: hd,
                        },
                    );
                    let vp = PackedB::pack(
                        total,
                        hd,
                        View {
                            data: vc,
                            rs: hd,
                            cs: 1,
                        },
                    );
                    (kt, vp)
                })
                .collect()
        };
        // Per head, its rows in `att_h` ([head][row][hd]), transposed into `att` after.
        ws.att_h[..hp.n_head * m * hd]
            .par_chunks_mut(m * hd)
            .enumerate()
            .for_each(|(h, out)| {
                let g = h / group;
                if m < GEMM_MIN_ROWS {
                    let (kc, vc) = (&k[span(g)], &v[span(g)]);
                    let mut scores = vec![0.0f32; total];
                    for i in 0..m {
                        let q = &qkv[i * qkv_w + h * hd..i * qkv_w + (h + 1) * hd];
                        let n = pos + i + 1;
                        let lo = first(n);
                        let s = &mut scores[..n - lo];
                        kernels::attention_scores_f16(q, &kc[lo * hd..n * hd], scale, s);
                        docket_kernels::softmax_rows(s, n - lo);
                        let o = &mut out[i * hd..(i + 1) * hd];
                        kernels::attention_mix_f16(s, &vc[lo * hd..n * hd], o);
                    }
                    return;
                }
                let (kt, vp) = &packs[g];
                out.par_chunks_mut(ATT_ROWS * hd)
                    .enumerate()
                    .for_each(|(t, o)| {
                        let r0 = t * ATT_ROWS;
                        let rows = o.len() / hd;
                        // Keys up to the last row's position (causal).
                        let n = pos + r0 + rows;
                        let mut s = vec![0.0f32; rows * n];
                        let q = &qkv[r0 * qkv_w + h * hd..];
                        matmul_sub(rows, q, qkv_w, kt, hd, n, &mut s, n, false, scale);
                        for (i, row) in s.chunks_exact_mut(n).enumerate() {
                            let valid = pos + r0 + i + 1;
                            let lo = first(valid);
                            docket_kernels::softmax_rows(&mut row[lo..valid], valid - lo);
                            row[..lo].fill(0.0);
                            row[valid..].fill(0.0);
                        }
                        matmul_sub(rows, &s, n, vp, n, hd, o, hd, false, 1.0);
                    });
            });
        for h in 0..hp.n_head {
            for i in 0..m {
                let src = &ws.att_h[(h * m + i) * hd..(h * m + i + 1) * hd];
                ws.att[i * qd + h * hd..i * qd + (h + 1) * hd].copy_from_slice(src);
            }
        }
    }
}

/// `x += a·Wᵀ`, or `x += rms_norm(a·Wᵀ)` with a post-norm (Gemma 3); `scratch` holds
/// the product and its norm.
#[allow(clippy::too_many_arguments)]
fn residual(
    w: &Linear,
    post_norm: Option<&[f32]>,
    m: usize,
    a: &[f32],
    lda: usize,
    x: &mut [f32],
    scratch: (&mut [f32], &mut [f32]),
    eps: f32,
    acts: &mut Acts,
) {
    let Some(norm) = post_norm else {
        w.forward(m, a, lda, x, true, acts);
        return;
    };
    let (y, normed) = scratch;
    let n = x.len();
    w.forward(m, a, lda, &mut y[..n], false, acts);
    kernels::rms_norm_rows(&y[..n], norm, eps, &mut normed[..n]);
    x.iter_mut().zip(&normed[..n]).for_each(|(xv, v)| *xv += v);
}

/// Rows `[gate | up]` → `act(gate)·up`, SiLU or GELU.
fn gate_mul(ff: &mut [f32], n_ff: usize, gelu: bool) {
    let rows = ff.len() / (2 * n_ff);
    let per = rows.div_ceil(rayon::current_num_threads() * 2).max(1);
    ff.par_chunks_mut(per * 2 * n_ff).for_each(|c| {
        if gelu {
            kernels::gelu_mul_rows(c, n_ff)
        } else {
            kernels::silu_mul_rows(c, n_ff)
        }
    });
}

fn hparams(path: &Path, ct: &gguf_file::Content) -> Result<Hparams> {
    let err = |reason: String| Error::Gguf {
        path: path.to_path_buf(),
        reason,
    };
    let arch: Architecture = ct
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .ok_or_else(|| err("no general.architecture".into()))?
        .parse()
        .map_err(|e: UnknownArchitecture| Error::Unsupported {
            backend: "local".into(),
            what: format!("{}: {e}", path.display()),
        })?;
    let get = |k: &str| ct.metadata.get(&format!("{arch}.{k}"));
    let int = |k: &str| -> Result<usize> {
        get(k)
            .and_then(|v| {
                v.to_u32()
                    .ok()
                    .or_else(|| v.to_u64().ok().map(|x| x as u32))
            })
            .map(|v| v as usize)
            .ok_or_else(|| err(format!("no {arch}.{k}")))
    };
    let n_embd = int("embedding_length")?;
    let n_head = int("attention.head_count")?;
    let n_head_kv = int("attention.head_count_kv").unwrap_or(n_head);
    let head_dim = int("attention.key_length").unwrap_or(n_embd / n_head.max(1));
    let vocab = match int("vocab_size") {
        Ok(v) => v,
        Err(_) => ct
            .metadata
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .map(Vec::len)
            .ok_or_else(|| err("no vocabulary size".into()))?,
    };
    let hp = Hparams {
        n_layer: int("block_count")?,
        n_embd,
        n_head,
        n_head_kv,
        head_dim,
        n_ff: int("feed_forward_length")?,
        vocab,
        context: int("context_length")?,
        eps: get("attention.layer_norm_rms_epsilon")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(1e-5),
        rope_base: get("rope.freq_base")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(10_000.0),
        rope_dim: int("rope.dimension_count").unwrap_or(head_dim),
        rope_scale: match get("rope.scaling.type").and_then(|v| v.to_string().ok()) {
            Some(t) if t == "linear" => get("rope.scaling.factor")
                .and_then(|v| v.to_f32().ok())
                .filter(|f| *f > 0.0)
                .unwrap_or(1.0),
            _ => 1.0,
        },
        sliding_window: arch
            .sliding_window_pattern()
            .and_then(|_| int("attention.sliding_window").ok()),
        final_softcap: get("final_logit_softcapping")
            .and_then(|v| v.to_f32().ok())
            .filter(|c| *c > 0.0),
        arch,
    };
    if hp.n_head == 0 || hp.n_head_kv == 0 || !hp.n_head.is_multiple_of(hp.n_head_kv) {
        return Err(err(format!(
            "{} heads cannot share {} key/value heads",
            hp.n_head, hp.n_head_kv
        )));
    }
    if !hp.head_dim.is_multiple_of(2)
        || hp.rope_dim > hp.head_dim
        || !hp.n_embd.is_multiple_of(BLOCK)
    {
        return Err(err("unsupported head or embedding size".into()));
    }
    Ok(hp)
}

/// Buffers of the forward pass and the KV cache, reused across calls.
#[derive(Debug, Default)]
pub struct Workspace {
    /// Positions the cache holds.
    pub cache_len: usize,
    /// Positions the cache has room for.
    cap: usize,
    /// `[layer][kv head][position][head dim]`, in f16 as llama.cpp keeps them: half
    /// the bytes that every generated token reads.
    k: Vec<f16>,
    v: Vec<f16>,
    x: Vec<f32>,
    h: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    att_h: Vec<f32>,
    ff: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// One head of Q or K, the input of its norm.
    head: Vec<f32>,
    /// The output of a post-norm layer before its norm (Gemma 3).
    tmp: Vec<f32>,
    acts: Acts,
    pub logits: Vec<f32>,
}

impl Workspace {
    /// Room for `m` rows and a cache of `positions`.
    fn ensure(&mut self, hp: &Hparams, m: usize, positions: usize) {
        let (d, qd, kvd) = (hp.n_embd, hp.q_dim(), hp.kv_dim());
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        grow(&mut self.x, m * d);
        grow(&mut self.h, m * d);
        grow(&mut self.qkv, m * (qd + 2 * kvd));
        grow(&mut self.att, m * qd);
        grow(&mut self.att_h, m * qd);
        grow(&mut self.ff, m * 2 * hp.n_ff);
        grow(&mut self.tmp, m * d);
        grow(&mut self.cos, m * hp.rope_dim);
        grow(&mut self.sin, m * hp.rope_dim);
        self.head.resize(hp.head_dim, 0.0);
        if positions > self.cap {
            let cap = positions.next_multiple_of(KV_CHUNK);
            let slabs = hp.n_layer * hp.n_head_kv;
            let hd = hp.head_dim;
            for buf in [&mut self.k, &mut self.v] {
                let mut new = vec![f16::ZERO; slabs * cap * hd];
                for s in 0..slabs {
                    let n = self.cache_len * hd;
                    new[s * cap * hd..s * cap * hd + n]
                        .copy_from_slice(&buf[s * self.cap * hd..s * self.cap * hd + n]);
                }
                *buf = new;
            }
            self.cap = cap;
        }
    }

    /// Forget cached positions from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.cache_len = self.cache_len.min(len);
    }
}
