//! Inference without libtorch's dispatcher: the trained BiLSTM-CRF's forward pass in plain Rust
//! over packed weights, with matrix products by the `gemm` crate. Embeddings and the casing,
//! bigram and subword lookups are gathers; the character encoders and every recurrent layer run
//! as described in the `chars` and `recurrent` modules; the two directions of a layer run on two
//! threads when the tagger has two. The first layer's projection of a known word's own features
//! is memoised (the `first` module). Buffers live in a [`Workspace`] that grows to the largest
//! batch seen and is reused, and the memo has a fixed size, so memory stays flat under varied
//! lengths.
//!
//! libtorch stays the training engine and the reference: a differential test checks that the
//! emissions agree within 1e-4 for every cell, both character encoders and every feature.

mod chars;
mod first;
mod gemm;
mod memo;
mod pack;
mod packing;
mod recurrent;

use self::chars::{CharNative, CharScratch};
use self::first::{FirstLayer, FirstScratch};
use self::gemm::{matmul, Matrix};
use self::pack::{direction, values, Table};
use self::packing::Packing;
use self::recurrent::{Direction, Scratch};
use crate::error::Result;
use crate::model::{BiLstmCrf, CharEncoder};
use crate::vocab::Encoded;

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

impl NativeModel {
    /// Packs `model`'s weights (read once from its libtorch variables).
    pub fn new(model: &BiLstmCrf) -> Result<NativeModel> {
        let layers = model
            .encoder
            .layers
            .iter()
            .map(|l| Ok((direction(&l.fwd)?, direction(&l.bwd)?)))
            .collect::<Result<Vec<_>>>()?;
        let k = model.tags.len();
        let h2 = 2 * model.config.hidden as usize;
        let first = layers
            .first()
            .and_then(|l| FirstLayer::new(l, &model.config));
        let table = |e: &Option<tch::nn::Embedding>| {
            e.as_ref().map(|e| Table::from_tensor(&e.ws)).transpose()
        };
        Ok(NativeModel {
            word: Table::from_tensor(&model.word_emb.ws)?,
            chars: model.char_enc.as_ref().map(char_native).transpose()?,
            casing: table(&model.casing_emb)?,
            bigram: table(&model.bigram_emb)?,
            lexicon: table(&model.lexicon_emb)?,
            subword: model
                .subword_table
                .as_ref()
                .map(Table::from_tensor)
                .transpose()?,
            mix: model
                .mix
                .as_ref()
                .map(|m| values(&(m.weights.softmax(0, tch::Kind::Float) * &m.gamma)))
                .transpose()?,
            contextual_dim: if model.mix.is_some() {
                model.config.contextual_dim as usize
            } else {
                0
            },
            layers,
            first,
            proj: Matrix::from_torch(&values(&model.proj.ws)?, k, h2),
            proj_bias: model
                .proj
                .bs
                .as_ref()
                .map(values)
                .transpose()?
                .unwrap_or_else(|| vec![0.0; k]),
            input_dim: model.config.input_dim() as usize,
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

fn char_native(enc: &CharEncoder) -> Result<CharNative> {
    Ok(match enc {
        CharEncoder::Cnn { emb, conv } => {
            let w = values(&conv.ws)?;
            let s = conv.ws.size();
            let (f, d, kernel) = (s[0] as usize, s[1] as usize, s[2] as usize);
            let mut data = vec![0.0; kernel * d * f];
            for o in 0..f {
                for i in 0..d {
                    for j in 0..kernel {
                        data[(j * d + i) * f + o] = w[(o * d + i) * kernel + j];
                    }
                }
            }
            CharNative::Cnn {
                emb: Table::from_tensor(&emb.ws)?,
                conv: Matrix {
                    k: kernel * d,
                    n: f,
                    data,
                },
                bias: conv
                    .bs
                    .as_ref()
                    .map(values)
                    .transpose()?
                    .unwrap_or_else(|| vec![0.0; f]),
                kernel,
            }
        }
        CharEncoder::Lstm { emb, lstm } => CharNative::Lstm {
            emb: Table::from_tensor(&emb.ws)?,
            dirs: Box::new((direction(&lstm.fwd)?, direction(&lstm.bwd)?)),
        },
    })
}

mod layer;
