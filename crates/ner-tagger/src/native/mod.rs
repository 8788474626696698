//! Inference without libtorch's dispatcher: the trained BiLSTM-CRF's forward pass in plain Rust
//! over packed weights, with matrix products by the `gemm` crate. Embeddings and the casing,
//! bigram and subword lookups are gathers; the character encoders and every recurrent layer run
//! as described in the `chars` and `recurrent` modules; the two directions of a layer run on two
//! threads when the tagger has two. The first layer's projection of a known word's own features
//! is memoised (the `first` module). Buffers live in a [`Workspace`] that grows to the largest
//! batch seen and is reused, and the memo has a fixed size, so memory stays flat under varied
//! lengths.
//!
//! libtorch stays the training engine and the reference: a differential test (ner-model's
//! `tests/native.rs`) checks that the emissions agree within 1e-4 for every cell, both
//! character encoders and every feature.

mod chars;
mod first;
pub(crate) mod gemm;
mod memo;
mod pack;
mod packing;
mod recurrent;

use self::chars::{CharNative, CharScratch};
use self::first::{FirstLayer, FirstScratch};
use self::gemm::{matmul, Matrix};
use self::pack::direction;
use self::packing::Packing;
use self::recurrent::{Direction, Scratch};
use crate::config::{CellKind, CharEncoderKind, ModelConfig};
use crate::error::Result;
use crate::vocab::{Encoded, CASING_CLASSES};
pub use crate::weights::Table;
use crate::weights::Weights;

/// A trained model's weights, packed for the native kernels.
#[derive(Debug, Clone)]
pub struct NativeModel {
    word: Table,
    chars: Option<CharNative>,
    casing: Option<Table>,
    bigram: Option<Table>,
    lexicon: Option<Table>,
    subword: Option<Table>,
    /// The contextual layers' mixing weights, softmax-normalised and scaled by gamma.
    mix: Option<Vec<f32>>,
    contextual_dim: usize,
    layers: Vec<(Direction, Direction)>,
    /// The first layer's weights split for the memo (`None`: no memoisable feature).
    first: Option<FirstLayer>,
    proj: Matrix,
    proj_bias: Vec<f32>,
    input_dim: usize,
}

/// Buffers of the forward pass, grown to the largest batch and reused.
#[derive(Debug, Default)]
pub struct Workspace {
    x: Vec<f32>,
    xr: Vec<f32>,
    fwd: Vec<f32>,
    bwd: Vec<f32>,
    em: Vec<f32>,
    char_out: Vec<f32>,
    packing: Packing,
    scratch: [Scratch; 2],
    chars: CharScratch,
    first: FirstScratch,
}

impl Workspace {
    /// A workspace whose first-layer memo has `slots` slots (0: no memo) rather than the
    /// default (32 MiB at most).
    pub fn with_memo_slots(slots: usize) -> Workspace {
        let mut ws = Workspace::default();
        ws.first.slots = Some(slots);
        ws
    }

    /// Lookups of the first-layer memo that found their row, and those that did not.
    pub fn memo_counts(&self) -> (u64, u64) {
        self.first.counts()
    }
}

/// The sizes of a model's tables, from its vocabulary and tag set.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Words in the vocabulary.
    pub words: usize,
    /// Characters.
    pub chars: usize,
    /// Bigrams.
    pub bigrams: usize,
    /// Lexicon sets.
    pub lexicon: usize,
    /// Tags.
    pub tags: usize,
}

impl NativeModel {
    /// Packs the weights of a model configured as `config` (the names and shapes of
    /// `model.safetensors`), taking them from `w`; `subword` is the frozen subword table of
    /// `subword.safetensors`, when the model has one.
    pub fn new(
        w: &mut Weights,
        config: &ModelConfig,
        sizes: Sizes,
        subword: Option<Table>,
    ) -> Result<NativeModel> {
        let dim = |d: i64| usize::try_from(d).unwrap_or(0);
        let (hidden, k) = (dim(config.hidden), sizes.tags);
        let mut layers = Vec::new();
        let mut input = dim(config.input_dim());
        for l in 0..dim(config.layers) {
            let mut side =
                |s: &str| direction(w, &format!("encoder.l{l}.{s}"), config.cell, input, hidden);
            layers.push((side("fwd")?, side("bwd")?));
            input = 2 * hidden;
        }
        let first = layers.first().and_then(|l| FirstLayer::new(l, config));
        let table = |w: &mut Weights, name: &str, rows: usize, d: i64| {
            (d > 0)
                .then(|| Table::take(w, name, rows, dim(d)))
                .transpose()
        };
        Ok(NativeModel {
            word: Table::take(w, "word_emb.weight", sizes.words, dim(config.word_dim))?,
            chars: char_native(w, config, sizes.chars)?,
            casing: table(
                w,
                "casing.weight",
                CASING_CLASSES as usize,
                config.casing_dim,
            )?,
            bigram: table(
                w,
                "bigram_emb.weight",
                sizes.bigrams.max(2),
                config.bigram_dim,
            )?,
            lexicon: table(
                w,
                "lexicon_emb.weight",
                sizes.lexicon.max(2),
                config.lexicon_dim,
            )?,
            subword,
            mix: mix(w, config)?,
            contextual_dim: dim(config.contextual_features()),
            layers,
            first,
            proj: Matrix::from_torch(
                &w.take("proj.weight", &[k, 2 * hidden])?.data,
                k,
                2 * hidden,
            ),
            proj_bias: w.take("proj.bias", &[k])?.data,
            input_dim: dim(config.input_dim()),
        })
    }

    /// The emissions `[len][K]` of each sentence of `batch` (which must be sorted by length,
    /// longest first, none empty), into `out`; the two directions run on two threads when
    /// `parallel`.
    pub fn emissions(
        &self,
        batch: &[&Encoded],
        parallel: bool,
        ws: &mut Workspace,
        out: &mut [Vec<f32>],
    ) {
        ws.packing.set(batch.iter().map(|e| e.len()));
        if ws.packing.total() == 0 {
            return;
        }
        // The memo first: a token it has needs no character encoding.
        let skip_hits = match &self.first {
            Some(first) => {
                first.find(batch, &mut ws.first);
                first.memoises_chars()
            }
            None => false,
        };
        self.features(batch, parallel, skip_hits, ws);
        let mut width = self.input_dim;
        for (i, layer) in self.layers.iter().enumerate() {
            match (&self.first, i) {
                (Some(first), 0) => self.first_layer(first, batch, width, parallel, ws),
                _ => self.layer(layer, width, parallel, ws),
            }
            width = 2 * layer.0.hidden;
        }
        let (k, p) = (self.proj.n, &ws.packing);
        packing::grow(&mut ws.em, p.total() * k);
        matmul(&ws.x, p.total(), &self.proj, &mut ws.em, 0.0);
        for (b, o) in out.iter_mut().enumerate().take(p.sequences()) {
            o.clear();
            for t in 0..p.len_of(b) {
                let row = &ws.em[p.row(t, b) * k..(p.row(t, b) + 1) * k];
                o.extend(row.iter().zip(&self.proj_bias).map(|(v, bias)| v + bias));
            }
        }
    }
}

/// The contextual layers' mixing weights (`mix.weights`, `mix.gamma`): softmax-normalised and
/// scaled, as the network applies them.
fn mix(w: &mut Weights, config: &ModelConfig) -> Result<Option<Vec<f32>>> {
    let layers = config.contextual_layers.len();
    if layers == 0 {
        return Ok(None);
    }
    let weights = w.take("mix.weights", &[layers])?.data;
    let gamma = w.take("mix.gamma", &[1])?.data[0];
    let top = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = weights.iter().map(|v| (v - top).exp()).collect();
    let sum: f32 = exp.iter().sum();
    Ok(Some(exp.iter().map(|e| e / sum * gamma).collect()))
}

/// The character encoder under `char.`, when the model has one.
fn char_native(w: &mut Weights, config: &ModelConfig, chars: usize) -> Result<Option<CharNative>> {
    let dim = |d: i64| usize::try_from(d).unwrap_or(0);
    let d = dim(config.char_dim);
    Ok(match config.char_encoder {
        CharEncoderKind::None => None,
        CharEncoderKind::Cnn => {
            let (f, kernel) = (dim(config.char_filters), dim(config.char_kernel));
            let emb = Table::take(w, "char.emb.weight", chars, d)?;
            let c = w.take("char.conv.weight", &[f, d, kernel])?.data;
            let mut data = vec![0.0; kernel * d * f];
            for o in 0..f {
                for i in 0..d {
                    for j in 0..kernel {
                        data[(j * d + i) * f + o] = c[(o * d + i) * kernel + j];
                    }
                }
            }
            let conv = Matrix {
                k: kernel * d,
                n: f,
                data,
            };
            let bias = w.take("char.conv.bias", &[f])?.data;
            Some(CharNative::Cnn {
                emb,
                conv,
                bias,
                kernel,
            })
        }
        CharEncoderKind::Lstm => {
            let h = dim(config.char_hidden);
            let emb = Table::take(w, "char.emb.weight", chars, d)?;
            let mut side = |s: &str| direction(w, &format!("char.lstm.{s}"), CellKind::Lstm, d, h);
            let dirs = Box::new((side("fwd")?, side("bwd")?));
            Some(CharNative::Lstm { emb, dirs })
        }
    })
}

mod layer;
