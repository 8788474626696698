//! A BERT encoder (MiniLM and its kin) in plain Rust, for contextual word features: the
//! embeddings (word, position, segment 0, LayerNorm) and the first `upto` transformer layers
//! (self-attention, exact-erf GELU feed-forward, post-LayerNorm), read from a Hugging Face
//! directory's `config.json` and `*.safetensors`. Layers above the highest one used are never
//! packed.
//!
//! The linear layers are matrix products over every piece of the batch at once, on the same
//! `gemm` kernels as the BiLSTM (query, key and value fused into one `[D][3D]` product); each
//! sequence's attention runs head by head on its own rayon task.

use crate::error::{Error, Result};
use crate::native::gemm::{matmul, matmul_on, Matrix};
use crate::weights::{Tensor, Weights};
use rayon::prelude::*;
use serde::Deserialize;
use std::path::Path;

/// The fields of a BERT `config.json` that the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// Width of a hidden state.
    pub hidden_size: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Longest sequence, in pieces.
    pub max_position_embeddings: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    #[serde(default = "default_eps")]
    /// Layer normalisation's epsilon.
    pub layer_norm_eps: f64,
}

fn default_eps() -> f64 {
    1e-12
}

#[derive(Debug, Clone)]
struct Linear {
    w: Matrix,
    b: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Layer {
    /// Query, key and value side by side: `[D][3D]`.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
}

/// The encoder, in fp32.
#[derive(Debug, Clone)]
pub struct Bert {
    /// The transformer's configuration.
    pub config: BertConfig,
    word: Vec<f32>,
    vocab: usize,
    /// Position embeddings with segment 0's row added: `[max_positions][D]`.
    position: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
}

/// What a fine-tuned model's own transformer tensors are named by in its weights file.
pub const TUNED_PREFIX: &str = "transformer.";

/// The parts of a transformer layer that have weights, under `encoder.layer.{i}.`.
pub const LAYER_PARTS: [&str; 8] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
];

/// The Hugging Face names of layer `i`'s tensors (a weight and a bias per part).
pub fn layer_tensor_names(i: usize) -> Vec<String> {
    LAYER_PARTS
        .iter()
        .flat_map(|p| ["weight", "bias"].map(|k| format!("encoder.layer.{i}.{p}.{k}")))
        .collect()
}

/// The layers (0-based, as Hugging Face numbers them) that fine-tuning changes: the top
/// `finetune` of the first `upto`.
pub fn tuned_layers(upto: usize, finetune: usize) -> std::ops::Range<usize> {
    upto.saturating_sub(finetune)..upto
}

/// A fine-tuned model's transformer tensors (Hugging Face names, without a `bert.` prefix),
/// and the file they came from.
#[derive(Debug, Default)]
pub struct Tuned {
    /// The file the tuned layers came from (for messages).
    pub origin: Option<std::path::PathBuf>,
    /// The tuned layers' tensors, by name.
    pub tensors: std::collections::HashMap<String, Tensor>,
}

/// `bert.` when the checkpoint names its tensors so (a `BertModel` inside a larger one).
fn prefix_of(w: &Weights) -> &'static str {
    if w.has("bert.embeddings.word_embeddings.weight") {
        "bert."
    } else {
        ""
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Data(format!("{}: {why}", path.display()))
}

impl Bert {
    /// Loads `dir` (`config.json` and one `*.safetensors` file) with its first `upto` layers.
    pub fn load(dir: &Path, upto: usize) -> Result<Bert> {
        Self::load_tuned(dir, upto, Tuned::default())
    }

    /// [`Bert::load`] with some of the tensors replaced by a fine-tuned model's.
    pub fn load_tuned(dir: &Path, upto: usize, tuned: Tuned) -> Result<Bert> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: BertConfig = serde_json::from_str(&text)
            .map_err(|e| bad(&config_path, format!("not a BERT config: {e}")))?;
        if upto > config.num_hidden_layers {
            return Err(bad(
                &config_path,
                format!(
                    "layer {upto} asked for, the model has {}",
                    config.num_hidden_layers
                ),
            ));
        }
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            return Err(bad(
                &config_path,
                "the hidden size is not a multiple of the heads",
            ));
        }
        let path = crate::subword::safetensors_in(dir)?;
        let mut w = Weights::read(&path)?;
        if let Some(origin) = &tuned.origin {
            let prefix = prefix_of(&w);
            let named = tuned
                .tensors
                .into_iter()
                .map(|(n, t)| (format!("{prefix}{n}"), t));
            w.overlay(named.collect(), origin)?;
        }
        Self::from_weights(&mut w, config, upto)
    }

    /// Packs the tensors of `w` (names as Hugging Face's, with or without a `bert.` prefix).
    pub fn from_weights(w: &mut Weights, config: BertConfig, upto: usize) -> Result<Bert> {
        let prefix = prefix_of(w);
        let mut p = Packer {
            w,
            prefix,
            d: config.hidden_size,
        };
        let word = p.take("embeddings.word_embeddings.weight")?;
        let vocab = word.shape.first().copied().unwrap_or(0);
        let mut position = p.take("embeddings.position_embeddings.weight")?;
        let segment = p.take("embeddings.token_type_embeddings.weight")?;
        let d = config.hidden_size;
        if word.shape.get(1) != Some(&d)
            || position.shape.get(1) != Some(&d)
            || segment.data.len() < d
        {
            return Err(p.w.bad(format!("embedding tables are not {d} wide")));
        }
        for row in position.data.chunks_mut(d) {
            row.iter_mut()
                .zip(&segment.data[..d])
                .for_each(|(a, s)| *a += s);
        }
        let norm = p.norm("embeddings.LayerNorm")?;
        let layers = (0..upto)
            .map(|i| p.layer(&format!("encoder.layer.{i}"), config.intermediate_size))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word: word.data,
            vocab,
            position: position.data,
            norm,
            layers,
            config,
        })
    }

    /// The number of layers loaded.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// The hidden states of a batch of `b` sequences of `p` pieces (`ids` `[b][p]`, `mask`
    /// true on real pieces): the embedding output (state 0) and the output of every loaded
    /// layer, each `[b][p][D]`. Padding keys are left out of the attention; padding rows get
    /// states too, as in PyTorch. Ids outside the vocabulary read as zeros.
    ///
    /// On two or more threads a batch of several sequences is cut in two halves that run side
    /// by side, each on one thread: a split of the whole pass scales where splitting each
    /// product (and waiting for both halves after each) did not; a single sequence splits its
    /// products.
    pub fn forward(&self, ids: &[i64], mask: &[bool], b: usize, threads: usize) -> Vec<Vec<f32>> {
        let p = ids.len().checked_div(b).unwrap_or(0);
        if threads < 2 || b < 2 {
            return self.forward_on(ids, mask, b, threads);
        }
        let half = b / 2;
        let (ids_a, ids_b) = ids.split_at(half * p);
        let (mask_a, mask_b) = mask.split_at(half * p);
        let (mut a, b_states) = rayon::join(
            || self.forward_on(ids_a, mask_a, half, 1),
            || self.forward_on(ids_b, mask_b, b - half, 1),
        );
        for (x, y) in a.iter_mut().zip(b_states) {
            x.extend(y);
        }
        a
    }

    /// [`Bert::forward`] with each product split over `threads`.
    fn forward_on(&self, ids: &[i64], mask: &[bool], b: usize, threads: usize) -> Vec<Vec<f32>> {
        let d = self.config.hidden_size;
        let p = ids.len().checked_div(b).unwrap_or(0);
        let mut x = vec![0.0f32; b * p * d];
        for (i, (row, &id)) in x.chunks_mut(d).zip(ids).enumerate() {
            let pos = (i % p.max(1)).min(self.config.max_position_embeddings.saturating_sub(1));
            let word = usize::try_from(id)
                .ok()
                .filter(|&id| id < self.vocab)
                .map(|id| &self.word[id * d..(id + 1) * d]);
            let position = &self.position[pos * d..(pos + 1) * d];
            for (j, v) in row.iter_mut().enumerate() {
                *v = word.map_or(0.0, |w| w[j]) + position[j];
            }
        }
        self.layer_norm(&mut x, &self.norm);
        let lens: Vec<usize> = mask
            .chunks(p.max(1))
            .map(|m| m.iter().filter(|&&v| v).count())
            .collect();
        let mut states = vec![x.clone()];
        for layer in &self.layers {
            x = self.layer(layer, &x, &lens, p, threads);
            states.push(x.clone());
        }
        states
    }

    /// One transformer layer over `x` (`[b][p][D]`); `lens[s]` pieces of sequence `s` are
    /// real (the mask's leading run: `[CLS] … [SEP]` then padding).
    fn layer(&self, l: &Layer, x: &[f32], lens: &[usize], p: usize, threads: usize) -> Vec<f32> {
        let d = self.config.hidden_size;
        let rows = x.len() / d;
        let qkv = linear(x, rows, &l.qkv, threads);
        let mut ctx = vec![0.0f32; rows * d];
        let heads = self.config.num_attention_heads;
        let attend = |(s, out): (usize, &mut [f32])| {
            let seq = &qkv[s * p * 3 * d..(s + 1) * p * 3 * d];
            attention(seq, p, lens[s].max(1).min(p), d, heads, out);
        };
        if threads > 1 {
            ctx.par_chunks_mut(p * d).enumerate().for_each(attend);
        } else {
            ctx.chunks_mut(p * d).enumerate().for_each(attend);
        }
        let mut h = linear(&ctx, rows, &l.attn_out, threads);
        h.iter_mut().zip(x).for_each(|(a, b)| *a += b);
        self.layer_norm(&mut h, &l.attn_norm);
        let mut inner = linear(&h, rows, &l.inter, threads);
        for v in inner.iter_mut() {
            *v = gelu(*v);
        }
        let mut y = linear(&inner, rows, &l.out, threads);
        y.iter_mut().zip(&h).for_each(|(a, b)| *a += b);
        self.layer_norm(&mut y, &l.out_norm);
        y
    }

    fn layer_norm(&self, x: &mut [f32], n: &Norm) {
        let d = self.config.hidden_size;
        let eps = self.config.layer_norm_eps as f32;
        for row in x.chunks_mut(d) {
            let mean = lanes_sum(row, |v| v) / d as f32;
            let var = lanes_sum(row, |v| (v - mean) * (v - mean)) / d as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&n.w).zip(&n.b) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

/// The sum of `f(v)` over `row`, in eight interleaved partial sums (a loop the compiler turns
/// into vector instructions; one running sum fixes the order and stays scalar).
fn lanes_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `x · W + b` for `rows` rows.
fn linear(x: &[f32], rows: usize, l: &Linear, threads: usize) -> Vec<f32> {
    let n = l.w.n;
    let mut y = vec![0.0f32; rows * n];
    for row in y.chunks_exact_mut(n) {
        row.copy_from_slice(&l.b);
    }
    matmul_on(x, rows, &l.w, &mut y, 1.0, threads);
    y
}

/// GELU with the error function, as BERT's `gelu` (not the tanh approximation).
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The error function as a rational function of `x` on [-4, 4] (outside, ±1 to single
/// precision): the approximation that Eigen and XLA use. Only multiplications, additions and
/// one division, so a loop over it vectorises, where `libm::erff` branches per value and took
/// a fifth of the forward pass; within 1e-6 of it (a test checks).
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    for c in [
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = x2 * p + c;
    }
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    for c in [-1.682_827e-3, -7.373_329e-3, -1.426_474e-2] {
        q = x2 * q + c;
    }
    x * p / q
}

/// Self-attention of one sequence: `qkv` `[p][3D]` (query, key, value side by side), of
/// which the first `len` keys are real; the heads' outputs side by side into `out` `[p][D]`.
fn attention(qkv: &[f32], p: usize, len: usize, d: usize, heads: usize, out: &mut [f32]) {
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let mut q = vec![0.0f32; p * dh];
    let mut kt = Matrix {
        k: dh,
        n: len,
        data: vec![0.0; dh * len],
    };
    let mut v = Matrix {
        k: len,
        n: dh,
        data: vec![0.0; len * dh],
    };
    let mut scores = vec![0.0f32; p * len];
    let mut ctx = vec![0.0f32; p * dh];
    for h in 0..heads {
        for i in 0..p {
            let row = &qkv[i * 3 * d..(i + 1) * 3 * d];
            q[i * dh..(i + 1) * dh].copy_from_slice(&row[h * dh..(h + 1) * dh]);
            if i < len {
                for j in 0..dh {
                    kt.data[j * len + i] = row[d + h * dh + j];
                }
                v.data[i * dh..(i + 1) * dh]
                    .copy_from_slice(&row[2 * d + h * dh..2 * d + (h + 1) * dh]);
            }
        }
        matmul(&q, p, &kt, &mut scores, 0.0);
        for row in scores.chunks_mut(len) {
            softmax(row, scale);
        }
        matmul(&scores, p, &v, &mut ctx, 0.0);
        for i in 0..p {
            out[i * d + h * dh..i * d + (h + 1) * dh].copy_from_slice(&ctx[i * dh..(i + 1) * dh]);
        }
    }
}

/// `row` scaled by `scale`, then softmax-normalised in place.
fn softmax(row: &mut [f32], scale: f32) {
    let top = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * scale));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v * scale - top).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

/// Takes a BERT's tensors, with their prefix, into packed layers.
struct Packer<'a> {
    w: &'a mut Weights,
    prefix: &'static str,
    d: usize,
}

impl Packer<'_> {
    fn take(&mut self, name: &str) -> Result<Tensor> {
        self.w.take_any(&format!("{}{name}", self.prefix))
    }

    /// A linear layer `n` out, `k` in.
    fn linear(&mut self, name: &str, n: usize, k: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let w = self
            .w
            .take(&format!("{}{name}.weight", self.prefix), &[n, k])?;
        let b = self.w.take(&format!("{}{name}.bias", self.prefix), &[n])?;
        Ok((w.data, b.data))
    }

    fn packed(&mut self, name: &str, n: usize, k: usize) -> Result<Linear> {
        let (w, b) = self.linear(name, n, k)?;
        Ok(Linear {
            w: Matrix::from_torch(&w, n, k),
            b,
        })
    }

    fn norm(&mut self, name: &str) -> Result<Norm> {
        let d = self.d;
        let w = self
            .w
            .take(&format!("{}{name}.weight", self.prefix), &[d])?;
        let b = self.w.take(&format!("{}{name}.bias", self.prefix), &[d])?;
        Ok(Norm {
            w: w.data,
            b: b.data,
        })
    }

    fn layer(&mut self, p: &str, inner: usize) -> Result<Layer> {
        let d = self.d;
        let (mut w, mut b) = (Vec::with_capacity(3 * d * d), Vec::with_capacity(3 * d));
        for part in ["query", "key", "value"] {
            let (pw, pb) = self.linear(&format!("{p}.attention.self.{part}"), d, d)?;
            w.extend(pw);
            b.extend(pb);
        }
        Ok(Layer {
            qkv: Linear {
                w: Matrix::from_torch(&w, 3 * d, d),
                b,
            },
            attn_out: self.packed(&format!("{p}.attention.output.dense"), d, d)?,
            attn_norm: self.norm(&format!("{p}.attention.output.LayerNorm"))?,
            inter: self.packed(&format!("{p}.intermediate.dense"), inner, d)?,
            out: self.packed(&format!("{p}.output.dense"), d, inner)?,
            out_norm: self.norm(&format!("{p}.output.LayerNorm"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rational_erf_is_within_1e_6_of_libm() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (super::erf(x) - libm::erff(x)).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{worst}");
    }
}
