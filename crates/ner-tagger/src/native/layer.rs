//! The per-batch steps of the native forward pass: word features, and one bidirectional layer.

use super::packing::{grow, Packing};
use super::recurrent::Direction;
use super::{NativeModel, Workspace};
use crate::lexicon::SETS;
use crate::vocab::Encoded;

impl NativeModel {
    /// The word features of every token into `ws.x`, packed as `ws.packing`
    /// (`[rows][input_dim]`): word embedding, characters, casing, bigrams (left, right), subword
    /// mean, in the order of [`crate::model::BiLstmCrf::features`].
    /// The character encoder runs beside the lookups, on a second thread when `parallel`. With
    /// `skip_hits`, the tokens the first layer's memo has (see
    /// [`super::first::FirstScratch::had`]) keep zeros for characters: the memo has their
    /// product.
    pub(super) fn features(
        &self,
        batch: &[&Encoded],
        parallel: bool,
        skip_hits: bool,
        ws: &mut Workspace,
    ) {
        let dim = self.input_dim;
        // Cleared: a feature that a token lacks stays zero.
        ws.x.clear();
        ws.x.resize(ws.packing.total() * dim, 0.0);
        let char_dim = self.chars.as_ref().map_or(0, |c| c.dim());
        let had = if skip_hits { ws.first.had() } else { &[] };
        let encoded = |i: usize| !had.get(i).copied().unwrap_or(false);
        let (x, p, char_out, scratch) = (&mut ws.x, &ws.packing, &mut ws.char_out, &mut ws.chars);
        let encode_chars = || {
            if let Some(c) = &self.chars {
                let words: Vec<&[i64]> = batch
                    .iter()
                    .flat_map(|e| e.chars.iter().map(Vec::as_slice))
                    .enumerate()
                    .filter_map(|(i, w)| encoded(i).then_some(w))
                    .collect();
                char_out.clear();
                char_out.resize(words.len() * char_dim, 0.0);
                c.encode(&words, char_out, scratch);
            }
        };
        let look_up = || {
            for (b, e) in batch.iter().enumerate() {
                for t in 0..e.len() {
                    let at = p.row(t, b) * dim;
                    self.token_features(e, t, char_dim, &mut x[at..at + dim]);
                }
            }
        };
        both(parallel, encode_chars, look_up);
        // The characters' block follows the word embedding.
        let (start, mut i, mut word_index) = (self.word.dim, 0, 0);
        for (b, e) in batch.iter().enumerate() {
            for t in 0..e.len() {
                i += 1;
                if !encoded(i - 1) {
                    continue;
                }
                let at = p.row(t, b) * dim + start;
                let chars = &ws.char_out[word_index * char_dim..(word_index + 1) * char_dim];
                x[at..at + char_dim].copy_from_slice(chars);
                word_index += 1;
            }
        }
    }

    /// One token's features but its characters' (`char_dim` wide, left as they are) into `row`
    /// (zeroed).
    fn token_features(&self, e: &Encoded, t: usize, char_dim: usize, row: &mut [f32]) {
        let mut at = 0;
        let mut put = |v: Option<&[f32]>, width: usize| {
            if let Some(v) = v {
                row[at..at + width].copy_from_slice(v);
            }
            at += width;
        };
        put(self.word.row(e.words[t]), self.word.dim);
        put(None, char_dim);
        if let Some(c) = &self.casing {
            put(c.row(e.casing[t]), c.dim);
        }
        if let Some(bg) = &self.bigram {
            // Encoded without a bigram vocabulary: both bigrams unknown, as in training.
            let [left, right] = e.bigrams.get(t).copied().unwrap_or([crate::vocab::UNK; 2]);
            put(bg.row(left), bg.dim);
            put(bg.row(right), bg.dim);
        }
        // The lexicon sets, the subword mean and the contextual mix come last, in this order.
        let ctx = self.contextual_dim;
        let sw_dim = self.subword.as_ref().map_or(0, |s| s.dim);
        if let Some(lx) = &self.lexicon {
            let start = row.len() - ctx - sw_dim - SETS * lx.dim;
            let sets = e.lexicon.get(t * SETS..(t + 1) * SETS).unwrap_or(&[]);
            for (s, set) in sets.iter().enumerate() {
                let out = &mut row[start + s * lx.dim..start + (s + 1) * lx.dim];
                for &(id, w) in set {
                    if let Some(v) = lx.row(id) {
                        out.iter_mut().zip(v).for_each(|(o, x)| *o += w * x);
                    }
                }
            }
        }
        if let Some(sw) = &self.subword {
            let start = row.len() - ctx - sw.dim;
            let pieces = e.pieces.get(t).map(Vec::as_slice).unwrap_or(&[]);
            let out = &mut row[start..start + sw.dim];
            for &p in pieces {
                if let Some(v) = sw.row(p) {
                    out.iter_mut().zip(v).for_each(|(o, x)| *o += x);
                }
            }
            let n = pieces.len().max(1) as f32;
            out.iter_mut().for_each(|o| *o /= n);
        }
        if let Some(mix) = &self.mix {
            // Missing features are zeros, as on libtorch.
            let width = mix.len() * ctx;
            let feats = e.contextual.get(t * width..(t + 1) * width).unwrap_or(&[]);
            let n = row.len();
            let out = &mut row[n - ctx..];
            for (w, layer) in mix.iter().zip(feats.chunks(ctx.max(1))) {
                out.iter_mut().zip(layer).for_each(|(o, x)| *o += w * x);
            }
        }
    }

    /// One bidirectional layer over `ws.x` (`width` wide); its output `[rows][2H]` (packed the
    /// same way) replaces `ws.x`.
    pub(super) fn layer(
        &self,
        (fwd, bwd): &(Direction, Direction),
        width: usize,
        parallel: bool,
        ws: &mut Workspace,
    ) {
        let (h, p) = (fwd.hidden, &ws.packing);
        let total = p.total();
        reverse_into(&ws.x, &mut ws.xr, p, width);
        // Every row of a direction's output is written by its run.
        grow(&mut ws.fwd, total * h);
        grow(&mut ws.bwd, total * h);
        let [sf, sb] = &mut ws.scratch;
        let (x, xr, of, ob) = (&ws.x, &ws.xr, &mut ws.fwd, &mut ws.bwd);
        both(
            parallel,
            || fwd.run(x, p, of, sf),
            || bwd.run(xr, p, ob, sb),
        );
        ws.join_directions(h);
    }
}

impl Workspace {
    /// The two directions' outputs (`H` wide each, the backward one packed reversed) side by
    /// side into `x`: the next layer's input.
    pub(super) fn join_directions(&mut self, h: usize) {
        let p = &self.packing;
        // Not cleared: every row is written below.
        grow(&mut self.x, p.total() * 2 * h);
        for b in 0..p.sequences() {
            for t in 0..p.len_of(b) {
                let (f, r) = (p.row(t, b), p.mirror(t, b));
                let dst = &mut self.x[f * 2 * h..(f + 1) * 2 * h];
                dst[..h].copy_from_slice(&self.fwd[f * h..(f + 1) * h]);
                dst[h..].copy_from_slice(&self.bwd[r * h..(r + 1) * h]);
            }
        }
    }
}

/// Runs `a` and `b`, on two threads when `parallel`.
pub(super) fn both(parallel: bool, a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    if parallel {
        rayon::join(a, b);
    } else {
        a();
        b();
    }
}

/// Each sequence read backwards, packed the same way (the lengths do not change).
pub(super) fn reverse_into(x: &[f32], out: &mut Vec<f32>, p: &Packing, width: usize) {
    grow(out, p.total() * width);
    for b in 0..p.sequences() {
        for t in 0..p.len_of(b) {
            let (src, dst) = (p.mirror(t, b) * width, p.row(t, b) * width);
            out[dst..dst + width].copy_from_slice(&x[src..src + width]);
        }
    }
}
