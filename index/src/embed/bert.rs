//! The BERT encoder's forward pass (also RoBERTa's and XLM-RoBERTa's, whose only
//! difference at inference is where position ids start, see
//! [`BertConfig::position_offset`]), written directly on [`kernels`](super::kernels)
//! instead of candle's generic tensor ops. candle loads the weights (safetensors, any
//! float dtype); the forward pass then runs on plain `f32` buffers that are reused for
//! every layer.
//!
//! Sequences are not padded: the tokens of all sequences of a batch are stacked into
//! one matrix of rows, the linear layers run on all rows at once, and attention runs per
//! sequence and head over that sequence's own rows. The result equals a padded forward
//! pass with an attention mask, without computing any padding.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use super::Precision;
use super::config::{BertConfig, Pooling};
use super::kernels;
use crate::error::{Error, Result};
use docket_kernels::View;
use docket_kernels::half::{self, PackedH};
use docket_kernels::matmul::{PackedB, matmul, matmul_rows};

/// A weight matrix packed for one of the matmul kernels.
#[derive(Debug)]
enum Packed {
    F32(PackedB),
    F16(PackedH),
}

/// A linear layer `y = x · w + b`, its weight packed for [`matmul`] or [`half`].
#[derive(Debug)]
struct Linear {
    w: Packed,
    b: Vec<f32>,
}

impl Linear {
    /// `y = (residual ? y : 0) + x · w + b` for `m` rows, then `epilogue` on the rows of
    /// each task (see [`matmul_rows`]).
    fn apply<E>(&self, m: usize, x: &[f32], y: &mut [f32], residual: bool, epilogue: E)
    where
        E: Fn(&mut [f32]) + Sync,
    {
        match &self.w {
            Packed::F32(w) => matmul_rows(m, x, w, y, residual, &self.b, epilogue),
            Packed::F16(w) => half::matmul_rows(m, x, w, y, residual, &self.b, epilogue),
        }
    }
}

#[derive(Debug)]
struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

#[derive(Debug)]
struct Layer {
    /// Query, key and value projections fused into one `[hidden][3·hidden]` matrix.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: LayerNorm,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    GeluErf,
    GeluTanh,
}

/// A BERT encoder ready to run.
#[derive(Debug)]
pub(crate) struct Encoder {
    hidden: usize,
    heads: usize,
    intermediate: usize,
    eps: f32,
    act: Act,
    vocab: usize,
    /// Tokens a sequence may have: the position table's rows from `pos_offset` on.
    max_pos: usize,
    /// The position id of the first token.
    pos_offset: usize,
    type_vocab: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
}

/// The tensors of model.safetensors, looked up with or without a `bert.` / `roberta.`
/// prefix.
struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    fn err(&self, reason: String) -> Error {
        Error::Weights {
            path: self.path.clone(),
            reason,
        }
    }

    /// The tensor `name` as f32, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = ["", "bert.", "roberta.", "model."]
            .iter()
            .find_map(|p| self.tensors.get(&format!("{p}{name}")))
            .ok_or_else(|| self.err(format!("tensor {name} is missing")))?;
        if t.dims() != shape {
            return Err(self.err(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                t.dims()
            )));
        }
        t.to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| self.err(format!("tensor {name}: {e}")))
    }

    fn norm(&self, prefix: &str, n: usize) -> Result<LayerNorm> {
        // Old checkpoints name the parameters gamma/beta.
        let gamma = self
            .get(&format!("{prefix}.weight"), &[n])
            .or_else(|_| self.get(&format!("{prefix}.gamma"), &[n]))?;
        let beta = self
            .get(&format!("{prefix}.bias"), &[n])
            .or_else(|_| self.get(&format!("{prefix}.beta"), &[n]))?;
        Ok(LayerNorm { gamma, beta })
    }

    /// Several PyTorch linear layers (`weight` `[out][in]`) with the same input,
    /// concatenated along their outputs and transposed to `[in][out]`.
    fn linear(
        &self,
        prefixes: &[&str],
        n_in: usize,
        n_out_each: usize,
        precision: Precision,
    ) -> Result<Linear> {
        let n_out = n_out_each * prefixes.len();
        let mut w = vec![0.0; n_in * n_out];
        let mut b = Vec::with_capacity(n_out);
        for (p, prefix) in prefixes.iter().enumerate() {
            let wp = self.get(&format!("{prefix}.weight"), &[n_out_each, n_in])?;
            for o in 0..n_out_each {
                for i in 0..n_in {
                    w[i * n_out + p * n_out_each + o] = wp[o * n_in + i];
                }
            }
            b.extend(self.get(&format!("{prefix}.bias"), &[n_out_each])?);
        }
        let view = View {
            data: &w,
            rs: n_out,
            cs: 1,
        };
        let w = match precision {
            Precision::F32 => Packed::F32(PackedB::pack(n_in, n_out, view)),
            Precision::F16 => Packed::F16(PackedH::pack(n_in, n_out, view)),
        };
        Ok(Linear { w, b })
    }
}

impl Encoder {
    /// Load the weights of `config` from `path` (model.safetensors), packing the linear
    /// layers for `precision` (which the caller has checked the CPU supports).
    pub(crate) fn load(path: &Path, config: &BertConfig, precision: Precision) -> Result<Self> {
        let tensors =
            candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| Error::Weights {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let w = Weights {
            path: path.to_path_buf(),
            tensors,
        };
        let h = config.hidden_size;
        let inter = config.intermediate_size;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            layers.push(Layer {
                qkv: w.linear(
                    &[
                        &format!("{p}.attention.self.query"),
                        &format!("{p}.attention.self.key"),
                        &format!("{p}.attention.self.value"),
                    ],
                    h,
                    h,
                    precision,
                )?,
                attn_out: w.linear(&[&format!("{p}.attention.output.dense")], h, h, precision)?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                ffn_in: w.linear(&[&format!("{p}.intermediate.dense")], h, inter, precision)?,
                ffn_out: w.linear(&[&format!("{p}.output.dense")], inter, h, precision)?,
                ffn_norm: w.norm(&format!("{p}.output.LayerNorm"), h)?,
            });
        }
        Ok(Encoder {
            hidden: h,
            heads: config.num_attention_heads,
            intermediate: inter,
            eps: config.layer_norm_eps as f32,
            act: if config.hidden_act == "gelu" {
                Act::GeluErf
            } else {
                Act::GeluTanh
            },
            vocab: config.vocab_size,
            max_pos: config.max_tokens(),
            pos_offset: config.position_offset(),
            type_vocab: config.type_vocab_size,
            word: w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position: w.get(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            token_type: w.get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?,
            emb_norm: w.norm("embeddings.LayerNorm", h)?,
            layers,
        })
    }

    pub(crate) fn hidden(&self) -> usize {
        self.hidden
    }

    pub(crate) fn max_positions(&self) -> usize {
        self.max_pos
    }
}

/// One input sequence: token ids and token type ids, special tokens included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seq<'a> {
    pub ids: &'a [u32],
    pub types: &'a [u32],
}

/// Buffers of one forward pass, kept between calls so that each batch does not fault in
/// tens of megabytes of fresh pages.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    ffn: Vec<f32>,
}

fn grow(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// A raw pointer that may cross threads; used where parallel tasks write disjoint parts
/// of one buffer that the borrow checker cannot split. Only raw-pointer writes go
/// through it: a `&mut` slice per task would span other tasks' elements (the heads'
/// columns interleave row by row), and two live `&mut` that overlap are undefined
/// behaviour even when their writes do not.
#[derive(Clone, Copy)]
struct SyncPtr(*mut f32);
// SAFETY: only used for writes to disjoint elements, see `attention`.
unsafe impl Send for SyncPtr {}
// SAFETY: as above.
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    /// The pointer; a method so closures capture the whole `SyncPtr`, not the field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Per-thread buffers of the attention tasks.
#[derive(Default)]
struct AttnScratch {
    scores: Vec<f32>,
    keys: PackedB,
    values: PackedB,
    /// One head's output for one sequence, `n × dh` (dense), before it is copied into
    /// its columns of `ctx`.
    out: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<AttnScratch> = std::cell::RefCell::default();
}

impl Encoder {
    /// Run the encoder on `seqs` (ids must be valid, lengths within the position table)
    /// and pool each sequence's token vectors into one vector. Runs on the current rayon
    /// pool.
    pub(crate) fn forward(
        &self,
        seqs: &[Seq<'_>],
        pooling: Pooling,
        ws: &mut Workspace,
    ) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let mut starts = Vec::with_capacity(seqs.len() + 1);
        starts.push(0usize);
        for s in seqs {
            debug_assert!(s.ids.len() <= self.max_pos && s.ids.len() == s.types.len());
            starts.push(starts.last().unwrap() + s.ids.len());
        }
        let total = *starts.last().unwrap();

        let x = grow(&mut ws.x, total * h);
        self.embed_tokens(seqs, &starts, x);
        let qkv = grow(&mut ws.qkv, total * 3 * h);
        let ctx = grow(&mut ws.ctx, total * h);
        let ffn = grow(&mut ws.ffn, total * self.intermediate);
        let eps = self.eps;
        let act: fn(&mut [f32]) = match self.act {
            Act::GeluErf => kernels::gelu_erf,
            Act::GeluTanh => kernels::gelu_tanh,
        };
        for l in &self.layers {
            l.qkv.apply(total, x, qkv, false, |_| {});
            self.attention(&starts, qkv, ctx);
            // x = LN(x + ctx · Wo + bo): the residual is already in x.
            l.attn_out
                .apply(total, ctx, x, true, norm(&l.attn_norm, eps));
            l.ffn_in.apply(total, x, ffn, false, act);
            l.ffn_out.apply(total, ffn, x, true, norm(&l.ffn_norm, eps));
        }
        starts
            .windows(2)
            .map(|w| pool(&x[w[0] * h..w[1] * h], h, pooling))
            .collect()
    }

    /// Word + position + token type embeddings, then layer norm, into `x`.
    fn embed_tokens(&self, seqs: &[Seq<'_>], starts: &[usize], x: &mut [f32]) {
        let h = self.hidden;
        let mut parts = Vec::with_capacity(seqs.len());
        let mut rest = x;
        for w in starts.windows(2) {
            let (head, tail) = rest.split_at_mut((w[1] - w[0]) * h);
            parts.push(head);
            rest = tail;
        }
        parts.into_par_iter().zip(seqs).for_each(|(rows, seq)| {
            for (pos, (row, (&id, &ty))) in rows
                .chunks_exact_mut(h)
                .zip(seq.ids.iter().zip(seq.types))
                .enumerate()
            {
                let id = (id as usize).min(self.vocab - 1);
                let ty = (ty as usize).min(self.type_vocab - 1);
                let word = &self.word[id * h..(id + 1) * h];
                let pos = pos + self.pos_offset;
                let position = &self.position[pos * h..(pos + 1) * h];
                let token_type = &self.token_type[ty * h..(ty + 1) * h];
                for (((o, a), b), c) in row.iter_mut().zip(word).zip(position).zip(token_type) {
                    *o = a + b + c;
                }
            }
            kernels::layer_norm_rows(rows, &self.emb_norm.gamma, &self.emb_norm.beta, self.eps);
        });
    }

    /// Multi-head self-attention of each sequence over its own rows: `qkv` holds
    /// `[q | k | v]` per row, the heads' outputs are written side by side into `ctx`.
    /// One parallel task per (sequence, head) computes its `n × dh` output in its
    /// thread's scratch, where it is dense, then copies each row into `ctx` through a
    /// raw pointer: the task's part of `ctx` is not contiguous, so it cannot be a slice
    /// of its own.
    fn attention(&self, starts: &[usize], qkv: &[f32], ctx: &mut [f32]) {
        let h = self.hidden;
        let dh = h / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let tasks: Vec<(usize, usize)> = (0..starts.len() - 1)
            .flat_map(|s| (0..self.heads).map(move |head| (s, head)))
            .collect();
        let ctx_len = ctx.len();
        let out = SyncPtr(ctx.as_mut_ptr());
        tasks.into_par_iter().for_each(|(s, head)| {
            let (r0, n) = (starts[s], starts[s + 1] - starts[s]);
            if n == 0 {
                return;
            }
            let rows = &qkv[r0 * 3 * h..(r0 + n) * 3 * h];
            let q = &rows[head * dh..];
            // Kᵀ: element (d, j) is key j's component d.
            let kt = View {
                data: &rows[h + head * dh..],
                rs: 1,
                cs: 3 * h,
            };
            let v = View {
                data: &rows[2 * h + head * dh..],
                rs: 3 * h,
                cs: 1,
            };
            let start = r0 * h + head * dh;
            assert!(
                start + (n - 1) * h + dh <= ctx_len,
                "attention: ctx too small"
            );
            SCRATCH.with_borrow_mut(|s| {
                s.keys.repack(dh, n, kt);
                s.values.repack(n, dh, v);
                let scores = grow(&mut s.scores, n * n);
                matmul(n, q, 3 * h, &s.keys, scores, n, false, scale);
                docket_kernels::softmax_rows(scores, n);
                let head_out = grow(&mut s.out, n * dh);
                matmul(n, scores, n, &s.values, head_out, dh, false, 1.0);
                for (i, row) in head_out.chunks_exact(dh).enumerate() {
                    // SAFETY: row i of this (sequence, head) goes to `dh` elements from
                    // `start + i·h`, which lie within `ctx` (asserted above, i < n).
                    // Task (s, head) writes only rows r0..r0+n, columns head·dh..+dh;
                    // no two tasks share a (sequence, head) pair, so no element is
                    // written twice, and `ctx` is not otherwise read or written until
                    // all tasks are done. `row` is this thread's scratch, not `ctx`.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            row.as_ptr(),
                            out.get().add(start + i * h),
                            dh,
                        )
                    };
                }
            });
        });
    }
}

/// An epilogue applying the layer norm `n` to every row.
fn norm(n: &LayerNorm, eps: f32) -> impl Fn(&mut [f32]) + Sync + '_ {
    move |rows| kernels::layer_norm_rows(rows, &n.gamma, &n.beta, eps)
}

/// Pool the token vectors `rows` (`h` wide) of one sequence.
fn pool(rows: &[f32], h: usize, pooling: Pooling) -> Vec<f32> {
    let n = rows.len() / h;
    match pooling {
        Pooling::Cls => rows[..h].to_vec(),
        Pooling::Mean => {
            let mut out = vec![0.0; h];
            for row in rows.chunks_exact(h) {
                for (o, v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
            out.iter_mut().for_each(|o| *o /= n.max(1) as f32);
            out
        }
        Pooling::Max => {
            let mut out = vec![f32::NEG_INFINITY; h];
            for row in rows.chunks_exact(h) {
                for (o, v) in out.iter_mut().zip(row) {
                    *o = o.max(*v);
                }
            }
            out
        }
        Pooling::MeanSqrtLen => {
            let mut out = pool(rows, h, Pooling::Mean);
            let scale = (n.max(1) as f32).sqrt();
            out.iter_mut().for_each(|o| *o *= scale);
            out
        }
        Pooling::LastToken => rows[rows.len().saturating_sub(h)..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values in [-1, 1).
    fn values(len: usize, seed: &mut u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (*seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// A linear layer `[n_in][n_out]` of random weights, packed as the encoder has it,
    /// with the plain weights and bias for the reference.
    fn linear(n_in: usize, n_out: usize, seed: &mut u64) -> (Linear, Vec<f32>, Vec<f32>) {
        let w = values(n_in * n_out, seed);
        let b = values(n_out, seed);
        let view = View {
            data: &w,
            rs: n_out,
            cs: 1,
        };
        let packed = Linear {
            w: Packed::F32(PackedB::pack(n_in, n_out, view)),
            b: b.clone(),
        };
        (packed, w, b)
    }

    fn layer_norm(n: usize, seed: &mut u64) -> LayerNorm {
        LayerNorm {
            gamma: values(n, seed).iter().map(|g| 1.0 + 0.5 * g).collect(),
            beta: values(n, seed),
        }
    }

    /// The plain weights of one layer: (w, b) of qkv, attention output, FFN in and out.
    type PlainLayer = [(Vec<f32>, Vec<f32>); 4];

    /// A random encoder of `layers` layers, `hidden` wide with `heads` heads, and the
    /// plain weights of its layers.
    fn tiny(hidden: usize, heads: usize, layers: usize) -> (Encoder, Vec<PlainLayer>) {
        let (inter, vocab, max_pos, type_vocab) = (2 * hidden, 11, 16, 2);
        let mut seed = 13u64;
        let s = &mut seed;
        let (mut packed, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..layers {
            let (qkv, w0, b0) = linear(hidden, 3 * hidden, s);
            let (attn_out, w1, b1) = linear(hidden, hidden, s);
            let (ffn_in, w2, b2) = linear(hidden, inter, s);
            let (ffn_out, w3, b3) = linear(inter, hidden, s);
            packed.push(Layer {
                qkv,
                attn_out,
                attn_norm: layer_norm(hidden, s),
                ffn_in,
                ffn_out,
                ffn_norm: layer_norm(hidden, s),
            });
            plain.push([(w0, b0), (w1, b1), (w2, b2), (w3, b3)]);
        }
        let encoder = Encoder {
            hidden,
            heads,
            intermediate: inter,
            eps: 1e-12,
            act: Act::GeluTanh,
            vocab,
            max_pos,
            pos_offset: 0,
            type_vocab,
            word: values(vocab * hidden, s),
            position: values(max_pos * hidden, s),
            token_type: values(type_vocab * hidden, s),
            emb_norm: layer_norm(hidden, s),
            layers: packed,
        };
        (encoder, plain)
    }

    /// Attention as the textbook writes it, one sequence, head and query at a time.
    fn naive_attention(h: usize, heads: usize, starts: &[usize], qkv: &[f32]) -> Vec<f32> {
        let dh = h / heads;
        let total = *starts.last().unwrap();
        let mut ctx = vec![0.0f32; total * h];
        let at = |row: usize, part: usize, head: usize, d: usize| {
            qkv[row * 3 * h + part * h + head * dh + d]
        };
        for w in starts.windows(2) {
            for head in 0..heads {
                for i in w[0]..w[1] {
                    let scores: Vec<f32> = (w[0]..w[1])
                        .map(|j| {
                            (0..dh)
                                .map(|d| at(i, 0, head, d) * at(j, 1, head, d))
                                .sum::<f32>()
                                / (dh as f32).sqrt()
                        })
                        .collect();
                    let max = scores.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f32 = e.iter().sum();
                    for d in 0..dh {
                        ctx[i * h + head * dh + d] = (w[0]..w[1])
                            .zip(&e)
                            .map(|(j, p)| p / sum * at(j, 2, head, d))
                            .sum();
                    }
                }
            }
        }
        ctx
    }

    /// `y = x · w + b` for rows of `x`, `w` as `[n_in][n_out]`.
    fn naive_linear(x: &[f32], n_in: usize, (w, b): &(Vec<f32>, Vec<f32>)) -> Vec<f32> {
        let n_out = b.len();
        x.chunks_exact(n_in)
            .flat_map(|row| {
                (0..n_out)
                    .map(move |o| b[o] + (0..n_in).map(|i| row[i] * w[i * n_out + o]).sum::<f32>())
            })
            .collect()
    }

    fn naive_layer_norm(x: &mut [f32], n: &LayerNorm, eps: f32) {
        for row in x.chunks_exact_mut(n.gamma.len()) {
            let len = row.len() as f32;
            let mean = row.iter().sum::<f32>() / len;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / len;
            for ((v, g), b) in row.iter_mut().zip(&n.gamma).zip(&n.beta) {
                *v = (*v - mean) / (var + eps).sqrt() * g + b;
            }
        }
    }

    fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol, "{what} at {i}: {g} vs {w}");
        }
    }

    #[test]
    fn attention_matches_naive_reference() {
        // Two sequences of 3 and 5 tokens, 2 heads of 4: each task's rows interleave with
        // the other head's columns in `ctx`. Every element of `ctx` starts as NaN, so
        // one left unwritten fails the comparison.
        let (encoder, _) = tiny(8, 2, 0);
        let starts = [0, 3, 8];
        let qkv = values(8 * 3 * 8, &mut 5);
        let mut ctx = vec![f32::NAN; 8 * 8];
        encoder.attention(&starts, &qkv, &mut ctx);
        assert_close(&ctx, &naive_attention(8, 2, &starts, &qkv), 1e-5, "ctx");
    }

    #[test]
    fn forward_matches_naive_reference() {
        let (encoder, plain) = tiny(8, 2, 2);
        let (h, eps) = (encoder.hidden, encoder.eps);
        let ids: [&[u32]; 2] = [&[1, 4, 9], &[2, 3, 5, 7, 10]];
        let types: [&[u32]; 2] = [&[0, 0, 1], &[0, 1, 1, 1, 0]];
        let seqs: Vec<Seq<'_>> = ids
            .iter()
            .zip(&types)
            .map(|(ids, types)| Seq { ids, types })
            .collect();
        let got = encoder.forward(&seqs, Pooling::Mean, &mut Workspace::default());

        let starts = [0, 3, 8];
        let mut x = Vec::new();
        for seq in &seqs {
            for (pos, (&id, &ty)) in seq.ids.iter().zip(seq.types).enumerate() {
                x.extend((0..h).map(|d| {
                    encoder.word[id as usize * h + d]
                        + encoder.position[pos * h + d]
                        + encoder.token_type[ty as usize * h + d]
                }));
            }
        }
        naive_layer_norm(&mut x, &encoder.emb_norm, eps);
        for (layer, [qkv, out, ffn_in, ffn_out]) in encoder.layers.iter().zip(&plain) {
            let ctx = naive_attention(h, encoder.heads, &starts, &naive_linear(&x, h, qkv));
            let attn = naive_linear(&ctx, h, out);
            x.iter_mut().zip(&attn).for_each(|(v, a)| *v += a);
            naive_layer_norm(&mut x, &layer.attn_norm, eps);
            let mut f = naive_linear(&x, h, ffn_in);
            for v in &mut f {
                let u = 0.797_884_6 * (*v + 0.044_715 * *v * *v * *v);
                *v = 0.5 * *v * (1.0 + u.tanh());
            }
            let f = naive_linear(&f, encoder.intermediate, ffn_out);
            x.iter_mut().zip(&f).for_each(|(v, a)| *v += a);
            naive_layer_norm(&mut x, &layer.ffn_norm, eps);
        }
        for (s, w) in starts.windows(2).enumerate() {
            let rows = &x[w[0] * h..w[1] * h];
            let want: Vec<f32> = (0..h)
                .map(|d| rows.chunks_exact(h).map(|r| r[d]).sum::<f32>() / (w[1] - w[0]) as f32)
                .collect();
            assert_close(&got[s], &want, 1e-4, "pooled vector");
        }
    }
}
