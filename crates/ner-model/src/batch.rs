//! Padding encoded sentences into tensors.

use crate::cells::reverse_index;
use crate::context::part_ranges;
use crate::vocab::{Encoded, Soft, PAD};
use tch::{Device, Tensor};

/// A padded batch. Shapes: `words`, `casing`, `mask`, `tags`: `[B, T]`; `chars`: `[B, T, L]`;
/// `char_lengths`: `[B·T]`; `rev`: `[B, T]` (see [`reverse_index`]).
#[derive(Debug)]
pub struct Batch {
    pub words: Tensor,
    pub chars: Tensor,
    pub char_lengths: Vec<i64>,
    pub casing: Tensor,
    pub mask: Tensor,
    pub lengths: Vec<i64>,
    pub rev: Tensor,
    pub tags: Option<Tensor>,
    /// Word-piece ids `[B, T, P]` and their counts `[B, T]`, when the model uses them.
    pub pieces: Option<(Tensor, Tensor)>,
    /// Bigram ids `[B, T, 2]` (with the left and with the right neighbour), when the model
    /// uses them.
    pub bigrams: Option<Tensor>,
    /// SoftLexicon word ids and weights, `[B, T, 4, K]` each, when the items have them.
    pub lexicon: Option<(Tensor, Tensor)>,
    /// Contextual features `[B, T, layers * dim]`, when the items have them.
    pub contextual: Option<Tensor>,
    /// The transformer's input, when the model fine-tunes it (see [`crate::finetune`]).
    pub transformer: Option<crate::finetune::Pieces>,
    /// When an item is a window of several sentences: where each sentence's tokens lie.
    pub sentences: Option<Sentences>,
    /// A teacher's posterior, when every item has one: marginals `[B, T, K]` (zero at
    /// padding) and expected transition counts `[S, K, K]`, one per sentence in the order of
    /// [`Sentences`] (or of the items, when each is one sentence).
    pub soft: Option<(Tensor, Tensor)>,
}

/// The sentences inside a batch of windows, for scoring each sentence on its own.
#[derive(Debug)]
pub struct Sentences {
    /// Flat positions `b * T + t` of each sentence's tokens, `[S * L]` for the longest
    /// sentence's length `L` (padding points at position 0 and is masked).
    pub index: Tensor,
    /// `[S, L]`.
    pub mask: Tensor,
}

impl Sentences {
    /// `None` when every item is a single sentence.
    fn new(items: &[&Encoded], t_max: usize, device: Device) -> Option<Sentences> {
        if items.iter().all(|e| e.parts.len() <= 1) {
            return None;
        }
        let ranges: Vec<(usize, std::ops::Range<usize>)> = items
            .iter()
            .enumerate()
            .flat_map(|(b, e)| part_ranges(e).into_iter().map(move |r| (b, r)))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let l = ranges.iter().map(|(_, r)| r.len()).max().unwrap_or(1);
        let mut index = vec![0i64; ranges.len() * l];
        let mut mask = vec![false; ranges.len() * l];
        for (s, (b, r)) in ranges.iter().enumerate() {
            for (j, t) in r.clone().enumerate() {
                index[s * l + j] = (b * t_max + t) as i64;
                mask[s * l + j] = true;
            }
        }
        let shape = [ranges.len() as i64, l as i64];
        Some(Sentences {
            index: Tensor::from_slice(&index).to_device(device),
            mask: Tensor::from_slice(&mask).view(shape).to_device(device),
        })
    }

    /// Rows of `x` (`[B, T, ...]`) regrouped per sentence: `[S, L, ...]`.
    pub fn gather(&self, x: &Tensor) -> Tensor {
        let s = x.size();
        let mut flat = vec![s[0] * s[1]];
        flat.extend_from_slice(&s[2..]);
        let mut out = self.mask.size();
        out.extend_from_slice(&s[2..]);
        x.reshape(flat.as_slice())
            .index_select(0, &self.index)
            .reshape(out.as_slice())
    }
}

impl Batch {
    /// Pads `items` (none empty). Gold tags are included when every item has them.
    pub fn new(items: &[&Encoded], device: Device) -> Batch {
        let b = items.len();
        let t_max = items.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let l_max = items
            .iter()
            .flat_map(|e| e.chars.iter().map(Vec::len))
            .max()
            .unwrap_or(0)
            .max(1);
        let mut words = vec![PAD; b * t_max];
        let mut casing = vec![0i64; b * t_max];
        let mut mask = vec![false; b * t_max];
        let mut chars = vec![PAD; b * t_max * l_max];
        let mut char_lengths = vec![0i64; b * t_max];
        let with_tags = items.iter().all(|e| e.tags.is_some());
        let mut tags = vec![0i64; if with_tags { b * t_max } else { 0 }];
        for (i, e) in items.iter().enumerate() {
            for t in 0..e.len() {
                let at = i * t_max + t;
                words[at] = e.words[t];
                casing[at] = e.casing[t];
                mask[at] = true;
                let cs = &e.chars[t];
                char_lengths[at] = cs.len() as i64;
                chars[at * l_max..at * l_max + cs.len()].copy_from_slice(cs);
                if let Some(tg) = &e.tags {
                    tags[at] = tg[t];
                }
            }
        }
        let pieces = pieces(items, t_max, device);
        let bigrams = bigrams(items, t_max, device);
        let sentences = Sentences::new(items, t_max, device);
        let contextual = contextual(items, t_max, device);
        let lexicon = lexicon(items, t_max, device);
        let soft = soft(items, t_max, device);
        let lengths: Vec<i64> = items.iter().map(|e| e.len() as i64).collect();
        let shape = [b as i64, t_max as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        Batch {
            words: t(&words),
            chars: Tensor::from_slice(&chars)
                .view([b as i64, t_max as i64, l_max as i64])
                .to_device(device),
            char_lengths,
            casing: t(&casing),
            mask: Tensor::from_slice(&mask).view(shape).to_device(device),
            rev: reverse_index(&lengths, t_max as i64).to_device(device),
            lengths,
            tags: with_tags.then(|| t(&tags)),
            pieces,
            bigrams,
            lexicon,
            contextual,
            transformer: None,
            sentences,
            soft,
        }
    }

    /// Longest sentence of the batch (its padded length).
    pub fn max_len(&self) -> i64 {
        self.words.size()[1]
    }

    pub fn tokens(&self) -> i64 {
        self.lengths.iter().sum()
    }
}

/// The teacher's marginals `[B, T, K]` and transition counts `[S, K, K]`, when every item has
/// a posterior.
fn soft(items: &[&Encoded], t_max: usize, device: Device) -> Option<(Tensor, Tensor)> {
    let softs: Vec<&Soft> = items
        .iter()
        .map(|e| e.soft.as_ref())
        .collect::<Option<_>>()?;
    let k = softs[0].unary.len() / items[0].len().max(1);
    let mut unary = vec![0f32; items.len() * t_max * k];
    let mut pairs = Vec::new();
    for (i, (e, s)) in items.iter().zip(&softs).enumerate() {
        unary[i * t_max * k..][..e.len() * k].copy_from_slice(&s.unary);
        // One matrix per non-empty sentence, as `Sentences` lists them.
        let ranges = part_ranges(e);
        let kept = ranges.iter().zip(s.pairs.chunks_exact(k * k));
        for (_, m) in kept.filter(|(r, _)| !r.is_empty()) {
            pairs.extend_from_slice(m);
        }
    }
    let (b, t, k) = (items.len() as i64, t_max as i64, k as i64);
    let n = pairs.len() as i64 / (k * k).max(1);
    Some((
        Tensor::from_slice(&unary).view([b, t, k]).to_device(device),
        Tensor::from_slice(&pairs).view([n, k, k]).to_device(device),
    ))
}

/// Word-piece ids `[B, T, P]` and counts `[B, T]`, when any item has pieces.
fn pieces(items: &[&Encoded], t_max: usize, device: Device) -> Option<(Tensor, Tensor)> {
    if items.iter().all(|e| e.pieces.is_empty()) {
        return None;
    }
    let b = items.len();
    let p_max = items
        .iter()
        .flat_map(|e| e.pieces.iter().map(Vec::len))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut ids = vec![0i64; b * t_max * p_max];
    let mut counts = vec![0i64; b * t_max];
    for (i, e) in items.iter().enumerate() {
        for (t, ps) in e.pieces.iter().enumerate() {
            let at = i * t_max + t;
            counts[at] = ps.len() as i64;
            ids[at * p_max..at * p_max + ps.len()].copy_from_slice(ps);
        }
    }
    let (b, t, p) = (b as i64, t_max as i64, p_max as i64);
    Some((
        Tensor::from_slice(&ids).view([b, t, p]).to_device(device),
        Tensor::from_slice(&counts).view([b, t]).to_device(device),
    ))
}

/// SoftLexicon ids and weights `[B, T, 4, K]` (padding: id 0, weight 0), when any item has
/// lexicon sets.
fn lexicon(items: &[&Encoded], t_max: usize, device: Device) -> Option<(Tensor, Tensor)> {
    use crate::lexicon::SETS;
    if items.iter().all(|e| e.lexicon.is_empty()) {
        return None;
    }
    let k = items
        .iter()
        .flat_map(|e| e.lexicon.iter().map(Vec::len))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut ids = vec![0i64; items.len() * t_max * SETS * k];
    let mut weights = vec![0f32; ids.len()];
    for (i, e) in items.iter().enumerate() {
        for (j, set) in e.lexicon.iter().enumerate() {
            let at = (i * t_max * SETS + j) * k;
            for (n, &(id, w)) in set.iter().enumerate() {
                ids[at + n] = id;
                weights[at + n] = w;
            }
        }
    }
    let shape = [items.len() as i64, t_max as i64, SETS as i64, k as i64];
    Some((
        Tensor::from_slice(&ids).view(shape).to_device(device),
        Tensor::from_slice(&weights).view(shape).to_device(device),
    ))
}

/// Contextual features `[B, T, W]` (zeros on padding), when every non-empty item has them.
fn contextual(items: &[&Encoded], t_max: usize, device: Device) -> Option<Tensor> {
    let first = items.iter().find(|e| !e.is_empty())?;
    let width = first.contextual.len() / first.len();
    if width == 0 || items.iter().any(|e| e.contextual.len() != e.len() * width) {
        return None;
    }
    let mut x = vec![0f32; items.len() * t_max * width];
    for (i, e) in items.iter().enumerate() {
        x[i * t_max * width..][..e.contextual.len()].copy_from_slice(&e.contextual);
    }
    Some(
        Tensor::from_slice(&x)
            .view([items.len() as i64, t_max as i64, width as i64])
            .to_device(device),
    )
}

/// Bigram ids `[B, T, 2]` (left and right), when any item has bigrams.
fn bigrams(items: &[&Encoded], t_max: usize, device: Device) -> Option<Tensor> {
    if items.iter().all(|e| e.bigrams.is_empty()) {
        return None;
    }
    let mut ids = vec![PAD; items.len() * t_max * 2];
    for (i, e) in items.iter().enumerate() {
        for (t, pair) in e.bigrams.iter().take(e.len()).enumerate() {
            let at = (i * t_max + t) * 2;
            ids[at..at + 2].copy_from_slice(pair);
        }
    }
    Some(
        Tensor::from_slice(&ids)
            .view([items.len() as i64, t_max as i64, 2])
            .to_device(device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(n: usize, bigrams: Vec<[i64; 2]>) -> Encoded {
        Encoded {
            words: vec![2; n],
            chars: vec![vec![2]; n],
            casing: vec![3; n],
            bigrams,
            ..Encoded::default()
        }
    }

    #[test]
    fn bigrams_pair_each_token_with_its_left_and_right_neighbour() {
        let a = encoded(2, vec![[10, 11], [11, 12]]);
        let b = encoded(1, vec![[20, 21]]);
        let batch = Batch::new(&[&a, &b], Device::Cpu);
        let ids = batch.bigrams.expect("bigram ids");
        assert_eq!(ids.size(), [2, 2, 2]);
        let got: Vec<i64> = Vec::try_from(ids.reshape([-1])).unwrap();
        // Token t of a sentence: (bigram with its left neighbour, with its right neighbour);
        // padding positions hold padding.
        assert_eq!(got, [10, 11, 11, 12, 20, 21, PAD, PAD]);
        // No bigrams in the inputs, none in the batch.
        assert!(Batch::new(&[&encoded(2, Vec::new())], Device::Cpu)
            .bigrams
            .is_none());
    }

    #[test]
    fn sentences_of_windows_are_gathered_at_their_positions() {
        // A window of sentences of 2 and 1 tokens, and a lone sentence of 3 tokens: T = 3.
        let window = crate::context::concat(&[&encoded(2, Vec::new()), &encoded(1, Vec::new())]);
        let lone = encoded(3, Vec::new());
        let batch = Batch::new(&[&window, &lone], Device::Cpu);
        let s = batch.sentences.expect("a window was batched");
        let x = Tensor::arange(6, (tch::Kind::Int64, Device::Cpu)).view([2, 3]);
        let got: Vec<i64> = Vec::try_from(s.gather(&x).reshape([-1])).unwrap();
        // Rows: sentence (0,1) of window 0, sentence (2) of window 0, sentence (3,4,5) of item 1;
        // padding gathers position 0 and is masked.
        assert_eq!(got, [0, 1, 0, 2, 0, 0, 3, 4, 5]);
        let mask: Vec<bool> = Vec::try_from(s.mask.reshape([-1])).unwrap();
        assert_eq!(
            mask,
            [true, true, false, true, false, false, true, true, true]
        );
        assert!(Batch::new(&[&lone], Device::Cpu).sentences.is_none());
    }
}
