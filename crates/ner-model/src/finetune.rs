//! Fine-tuning the transformer of contextual features: its top layers are variables of the
//! model ([`Bert::finetune`]), and a training batch runs the transformer with gradients
//! instead of reading features computed once.
//!
//! A batch's sentences are cut into the transformer's sequences exactly as serving cuts a
//! document ([`contextual::layout_of`]), within each window of the batch: a window holds
//! consecutive sentences of one document, so the context a word is read in during training is
//! the one it has when served, up to where the window starts. Dev and test features come from
//! [`crate::contextual::Contextual`], whose transformer shares the variables.

use crate::context::part_ranges;
use crate::contextual::{self, Contextual};
use crate::transformer::Bert;
use crate::vocab::Encoded;
use tch::{nn, Device, Kind, Tensor};

/// The model's handle on the transformer it fine-tunes.
#[derive(Debug)]
pub struct Tuning {
    bert: Bert,
    layers: Vec<usize>,
    specials: [i64; 2],
}

/// A batch's pieces as the transformer reads them, and where each word's pieces go.
#[derive(Debug)]
pub struct Pieces {
    /// `[S, P]` piece ids and their mask.
    ids: Tensor,
    mask: Tensor,
    /// For every piece of every word: its flat row (`s * P + i`), the word's flat batch
    /// position (`b * T + t`), and its share of the word's mean (1 / the word's pieces).
    from: Tensor,
    to: Tensor,
    share: Tensor,
}

impl Tuning {
    /// Makes the top `n` layers of `c`'s transformer variables of `root`; the model keeps a
    /// handle on them, `c` reads the same tensors.
    pub fn new(root: &nn::Path, c: &mut Contextual, n: usize) -> Tuning {
        c.encoder_mut().finetune(root, n);
        Tuning {
            bert: c.encoder().shallow_clone(),
            layers: c.layers().to_vec(),
            specials: c.specials(),
        }
    }

    /// The transformer's input for a batch of `items` padded to `t_max` tokens, when every
    /// item has its words' pieces (`Encoded::transformer`).
    pub fn pieces(&self, items: &[&Encoded], t_max: usize, device: Device) -> Option<Pieces> {
        if items.iter().any(|e| e.transformer.len() != e.len()) {
            return None;
        }
        let mut sentences: Vec<&[Vec<i64>]> = Vec::new();
        let (mut windows, mut starts) = (Vec::new(), Vec::new());
        for (b, e) in items.iter().enumerate() {
            for r in part_ranges(e) {
                starts.push(b * t_max + r.start);
                sentences.push(&e.transformer[r]);
                windows.push(b);
            }
        }
        let layout = contextual::layout_of(&sentences, &windows, true, self.specials);
        let (mut from, mut to, mut share) = (Vec::new(), Vec::new(), Vec::new());
        for w in &layout.words {
            for piece in w.first..w.first + w.count {
                from.push(piece as i64);
                to.push((starts[w.sentence] + w.position) as i64);
                share.push(1.0 / w.count as f32);
            }
        }
        let shape = [layout.sequences as i64, layout.pieces as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).to_device(device);
        Some(Pieces {
            ids: t(&layout.ids).view(shape),
            mask: Tensor::from_slice(&layout.mask)
                .view(shape)
                .to_device(device),
            from: t(&from),
            to: t(&to),
            share: Tensor::from_slice(&share).to_device(device),
        })
    }

    /// The features `[B, T, layers * dim]` of a batch of `b` items of `t` tokens: the kept
    /// layers' hidden states, mean-pooled per word (zeros on padding).
    pub fn features(&self, p: &Pieces, b: i64, t: i64) -> Tensor {
        let states = self.bert.forward(&p.ids, &p.mask);
        let d = self.bert.config.hidden_size;
        let kept: Vec<Tensor> = self
            .layers
            .iter()
            .map(|&l| states[l].reshape([-1, d]))
            .collect();
        let x = Tensor::cat(&kept, 1);
        let picked = x.index_select(0, &p.from) * p.share.unsqueeze(1);
        let width = d * self.layers.len() as i64;
        Tensor::zeros([b * t, width], (Kind::Float, x.device()))
            .index_add(0, &p.to, &picked)
            .view([b, t, width])
    }
}
