//! A llama-family decoder (Llama, Mistral, SmolLM2, Qwen2) on the CPU, on docket's own
//! kernels.
//!
//! candle's `quantized_llama` spends most of its time in generic tensor ops and runs
//! its quantized matmuls row by row even for a long prompt. Here each weight matrix is
//! kept twice: quantized in [`QMatrix`]'s layout for matrix-vector products (generation,
//! where memory traffic bounds speed) and, when the model is small enough, dequantized
//! to f32 and packed for [`matmul`](docket_kernels::matmul) (prompt processing, where arithmetic
//! does). Buffers live in a [`Workspace`] reused across calls, and the KV cache grows by
//! whole chunks.

use std::path::Path;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use super::arch::{Architecture, UnknownArchitecture};
use super::kernels;
use super::quant::{BLOCK, Block, QActs, QKind, QMatrix};
use crate::error::{Error, Result};
use docket_kernels::View;
use docket_kernels::matmul::{PackedB, matmul, matmul_rows_strided as matmul_rows, matmul_sub};

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
    pub rope_dim: usize,
}

impl Hparams {
    fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }
    fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
}

/// A weight matrix `rows × cols` (out × in) with what each product form needs.
#[derive(Debug)]
struct Linear {
    rows: usize,
    cols: usize,
    /// For matrix-vector products: quantized, or f32 rows for block formats the VNNI
    /// kernel does not read (K-quants, Q5, f16...).
    q: Option<QMatrix>,
    f32_rows: Option<Vec<f32>>,
    /// For prompt processing, when within the f32 budget.
    packed: Option<PackedB>,
    bias: Vec<f32>,
}

impl Linear {
    /// `c[i] (+)= a[i]·Wᵀ + bias` for `m` rows of `a` (row stride `lda`), `c` dense.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        m: usize,
        a: &[f32],
        lda: usize,
        c: &mut [f32],
        accumulate: bool,
        qa: &mut QActs,
    ) {
        let n = self.rows;
        if let Some(packed) = self.packed.as_ref().filter(|_| m >= GEMM_MIN_ROWS) {
            matmul_rows(m, a, lda, packed, c, accumulate, &self.bias, |_| {});
            return;
        }
        for i in 0..m {
            let x = &a[i * lda..i * lda + self.cols];
            let y = &mut c[i * n..(i + 1) * n];
            if let Some(q) = &self.q {
                qa.quantize(x);
                q.gemv(qa, y, accumulate);
            } else if let Some(w) = &self.f32_rows {
                let cols = self.cols;
                let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(8);
                y.par_chunks_mut(chunk).enumerate().for_each(|(t, ys)| {
                    for (j, yv) in ys.iter_mut().enumerate() {
                        let r = t * chunk + j;
                        let v = docket_kernels::dot(&w[r * cols..(r + 1) * cols], x);
                        *yv = if accumulate { *yv + v } else { v };
                    }
                });
            } else if let Some(packed) = &self.packed {
                let mut tmp = vec![0.0; n];
                matmul(1, x, self.cols, packed, &mut tmp, n, false, 1.0);
                for (yv, t) in y.iter_mut().zip(tmp) {
                    *yv = if accumulate { *yv + t } else { t };
                }
            }
            if self.bias.iter().any(|b| *b != 0.0) {
                for (yv, b) in y.iter_mut().zip(&self.bias) {
                    *yv += b;
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        self.q.as_ref().map_or(0, QMatrix::bytes)
            + self.f32_rows.as_ref().map_or(0, |v| v.len() * 4)
            + self.packed.as_ref().map_or(0, PackedB::bytes)
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
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
    embed: QOrF32,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Linear,
}

/// The embedding table: quantized rows when the format allows, else f32.
#[derive(Debug)]
enum QOrF32 {
    Q(QMatrix),
    F32 { cols: usize, data: Vec<f32> },
}

impl QOrF32 {
    fn row(&self, r: usize, out: &mut [f32]) {
        match self {
            QOrF32::Q(q) => q.dequantize_row(r, out),
            QOrF32::F32 { cols, data } => out.copy_from_slice(&data[r * cols..(r + 1) * cols]),
        }
    }
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

    /// The matrices `names` stacked by rows into one linear layer of input width `cols`.
    fn linear(&mut self, names: &[String], cols: usize, f32_copy: bool) -> Result<Linear> {
        let mut qs = Vec::new();
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
            let q = qmatrix(&t, r, c).map_err(|e| self.err(format!("tensor {name}: {e}")))?;
            let need_f32 = f32_copy || q.is_none();
            if need_f32 {
                let v = t
                    .dequantize(&candle_core::Device::Cpu)
                    .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
                    .map_err(|e| self.err(format!("tensor {name}: {e}")))?;
                f32s.push(v);
            }
            qs.push(q);
            let bias_name = name.replace(".weight", ".bias");
            if self.has(&bias_name) {
                biases.push(self.vector(&bias_name, r)?);
            } else {
                biases.push(vec![0.0; r]);
            }
        }
        let q = if qs.iter().all(Option::is_some) {
            let parts: Vec<&QMatrix> = qs.iter().flatten().collect();
            QMatrix::concat_rows(&parts)
        } else {
            None
        };
        let all_f32: Option<Vec<f32>> =
            (f32s.len() == names.len()).then(|| f32s.into_iter().flatten().collect());
        let packed = if f32_copy {
            all_f32.as_ref().map(|w| {
                PackedB::pack(
                    cols,
                    rows,
                    View {
                        data: w,
                        rs: 1,
                        cs: cols,
                    },
                )
            })
        } else {
            None
        };
        let f32_rows = if q.is_none() { all_f32 } else { None };
        if q.is_none() && f32_rows.is_none() {
            return Err(self.err(format!("cannot read {}", names.join(", "))));
        }
        Ok(Linear {
            rows,
            cols,
            q,
            f32_rows,
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

        let embed_t = ld.tensor("token_embd.weight")?;
        let embed_q = qmatrix(&embed_t, hp.vocab, hp.n_embd)
            .map_err(|e| ld.err(format!("token_embd.weight: {e}")))?;
        let embed = match embed_q {
            Some(q) => QOrF32::Q(q),
            None => QOrF32::F32 {
                cols: hp.n_embd,
                data: embed_t
                    .dequantize(&candle_core::Device::Cpu)
                    .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
                    .map_err(|e| ld.err(format!("token_embd.weight: {e}")))?,
            },
        };
        drop(embed_t);
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            layers.push(Layer {
                attn_norm: ld.vector(&n("attn_norm"), hp.n_embd)?,
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
        // Tied embeddings (SmolLM2, Qwen2 small) have no output.weight.
        let out_name = if ld.has("output.weight") {
            "output.weight"
        } else {
            "token_embd.weight"
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

    /// Bytes of weights held in memory.
    pub fn bytes(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.qkv.bytes() + l.out.bytes() + l.gate_up.bytes() + l.down.bytes())
            .sum();
        layers + self.output.bytes()
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
        // Rotary angles per row, shared by every head and layer.
        for (i, (c, s)) in ws.cos[..m * half]
            .chunks_exact_mut(half)
            .zip(ws.sin[..m * half].chunks_exact_mut(half))
            .enumerate()
        {
            let p = (pos + i) as f32;
            for j in 0..half {
                let theta = p * hp.rope_base.powf(-((2 * j) as f32) / hp.rope_dim as f32);
                c[j] = theta.cos();
                s[j] = theta.sin();
            }
        }
        for (i, &t) in tokens.iter().enumerate() {
            self.embed.row(t as usize, &mut ws.x[i * d..(i + 1) * d]);
        }
        for (li, layer) in self.layers.iter().enumerate() {
            kernels::rms_norm_rows(&ws.x[..m * d], &layer.attn_norm, hp.eps, &mut ws.h[..m * d]);
            layer
                .qkv
                .forward(m, &ws.h, d, &mut ws.qkv[..m * qkv_w], false, &mut ws.qa);
            // RoPE on Q and K, then K and V into the cache.
            let cap = ws.cap;
            for i in 0..m {
                let row = &mut ws.qkv[i * qkv_w..(i + 1) * qkv_w];
                let (c, s) = (
                    &ws.cos[i * half..(i + 1) * half],
                    &ws.sin[i * half..(i + 1) * half],
                );
                for h in row[..qd + kvd].chunks_exact_mut(hp.head_dim) {
                    kernels::rope(h, c, s, hp.arch.rope_neox());
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
            layer
                .out
                .forward(m, &ws.att, qd, &mut ws.x[..m * d], true, &mut ws.qa);
            kernels::rms_norm_rows(&ws.x[..m * d], &layer.ffn_norm, hp.eps, &mut ws.h[..m * d]);
            let ff2 = 2 * hp.n_ff;
            layer
                .gate_up
                .forward(m, &ws.h, d, &mut ws.ff[..m * ff2], false, &mut ws.qa);
            silu_mul(&mut ws.ff[..m * ff2], hp.n_ff);
            layer
                .down
                .forward(m, &ws.ff, ff2, &mut ws.x[..m * d], true, &mut ws.qa);
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
            .forward(rows, &ws.h, d, &mut ws.logits, false, &mut ws.qa);
    }

    /// Causal self-attention of the `m` new rows over the cache, into `ws.att`.
    fn attention(&self, li: usize, m: usize, pos: usize, ws: &mut Workspace) {
        let hp = &self.hp;
        let (hd, qd, kvd) = (hp.head_dim, hp.q_dim(), hp.kv_dim());
        let qkv_w = qd + 2 * kvd;
        let group = hp.n_head / hp.n_head_kv;
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
                        kernels::attention_scores_f16(q, &kc[..n * hd], scale, &mut scores[..n]);
                        docket_kernels::softmax_rows(&mut scores[..n], n);
                        let o = &mut out[i * hd..(i + 1) * hd];
                        kernels::attention_mix_f16(&scores[..n], &vc[..n * hd], o);
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
                            docket_kernels::softmax_rows(&mut row[..valid], valid);
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

fn silu_mul(ff: &mut [f32], n_ff: usize) {
    let rows = ff.len() / (2 * n_ff);
    let per = rows.div_ceil(rayon::current_num_threads() * 2).max(1);
    ff.par_chunks_mut(per * 2 * n_ff)
        .for_each(|c| kernels::silu_mul_rows(c, n_ff));
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
    qa: QActs,
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
        grow(&mut self.cos, m * hp.rope_dim / 2);
        grow(&mut self.sin, m * hp.rope_dim / 2);
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
