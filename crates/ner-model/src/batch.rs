//! Padding encoded sentences into tensors.

use crate::cells::reverse_index;
use crate::vocab::{Encoded, PAD};
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

/// Bigram ids `[B, T, 2]` (left and right), when any item has bigrams.
fn bigrams(items: &[&Encoded], t_max: usize, device: Device) -> Option<Tensor> {
    if items.iter().all(|e| e.bigrams.is_empty()) {
        return None;
    }
    let mut ids = vec![PAD; items.len() * t_max * 2];
    for (i, e) in items.iter().enumerate() {
        for t in 0..e.len().min(e.bigrams.len().saturating_sub(1)) {
            let at = (i * t_max + t) * 2;
            ids[at] = e.bigrams[t];
            ids[at + 1] = e.bigrams[t + 1];
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

    fn encoded(n: usize, bigrams: Vec<i64>) -> Encoded {
        Encoded {
            words: vec![2; n],
            chars: vec![vec![2]; n],
            casing: vec![3; n],
            pieces: Vec::new(),
            bigrams,
            tags: None,
        }
    }

    #[test]
    fn bigrams_pair_each_token_with_its_left_and_right_neighbour() {
        let a = encoded(2, vec![10, 11, 12]);
        let b = encoded(1, vec![20, 21]);
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
}
