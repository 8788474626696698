//! The character encoders natively: the CNN (Ma & Hovy) as one matrix product over every
//! character of the batch (im2col), max-pooled over each word's characters; the BiLSTM (Lample
//! et al.) as the shared recurrence over all the batch's words, its final states concatenated.

use super::gemm::{matmul, Matrix};
use super::packing::{grow, Packing};
use super::recurrent::{Direction, Scratch};
use crate::weights::Table;

#[derive(Debug, Clone)]
pub(crate) enum CharNative {
    Cnn {
        emb: Table,
        /// `[kernel · char_dim][filters]`: row `j · char_dim + d` holds tap `j` of input `d`.
        conv: Matrix,
        bias: Vec<f32>,
        kernel: usize,
    },
    Lstm {
        emb: Table,
        /// Boxed: two directions are several times the size of the CNN variant.
        dirs: Box<(Direction, Direction)>,
    },
}

impl CharNative {
    /// The encoder's output size.
    pub(crate) fn dim(&self) -> usize {
        match self {
            CharNative::Cnn { conv, .. } => conv.n,
            CharNative::Lstm { dirs, .. } => 2 * dirs.0.hidden,
        }
    }

    /// Features of each word (`words[i]` its character ids) into `out[i · dim ..]`.
    pub(crate) fn encode(&self, words: &[&[i64]], out: &mut [f32], s: &mut CharScratch) {
        match self {
            CharNative::Cnn {
                emb,
                conv,
                bias,
                kernel,
            } => cnn_words(emb, conv, bias, *kernel, words, out, s),
            CharNative::Lstm { emb, dirs } => lstm_words(emb, &dirs.0, &dirs.1, words, out, s),
        }
    }
}

/// Reusable buffers of the character encoders.
#[derive(Debug, Default)]
pub(crate) struct CharScratch {
    cols: Vec<f32>,
    conv: Vec<f32>,
    x: Vec<f32>,
    xr: Vec<f32>,
    hf: Vec<f32>,
    hb: Vec<f32>,
    order: Vec<usize>,
    packing: Packing,
    dir: Scratch,
}

/// Every word through the CNN, as one product over all their characters' windows: zero padding
/// of `kernel / 2` on both sides of each word, as the convolution's own; a word without
/// characters gets zeros.
fn cnn_words(
    emb: &Table,
    conv: &Matrix,
    bias: &[f32],
    kernel: usize,
    words: &[&[i64]],
    out: &mut [f32],
    s: &mut CharScratch,
) {
    let (d, f) = (emb.dim, conv.n);
    let total: usize = words.iter().map(|w| w.len()).sum();
    // Cleared: the padding taps and unknown characters are zeros.
    s.cols.clear();
    s.cols.resize(total * kernel * d, 0.0);
    let mut at = 0;
    for w in words {
        im2col(
            emb,
            kernel,
            w,
            &mut s.cols[at * kernel * d..(at + w.len()) * kernel * d],
        );
        at += w.len();
    }
    grow(&mut s.conv, total * f);
    matmul(&s.cols, total, conv, &mut s.conv, 0.0);
    let mut at = 0;
    for (i, w) in words.iter().enumerate() {
        let o = &mut out[i * f..(i + 1) * f];
        if w.is_empty() {
            o.fill(0.0);
            continue;
        }
        o.fill(f32::NEG_INFINITY);
        for row in s.conv[at * f..(at + w.len()) * f].chunks_exact(f) {
            o.iter_mut().zip(row).for_each(|(o, v)| *o = o.max(*v));
        }
        o.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
        at += w.len();
    }
}

/// The convolution windows of one word's characters into `cols` (`[len][kernel · dim]`,
/// zeroed).
fn im2col(emb: &Table, kernel: usize, word: &[i64], cols: &mut [f32]) {
    let (d, len, pad) = (emb.dim, word.len(), kernel / 2);
    for l in 0..len {
        for j in 0..kernel {
            let Some(src) = (l + j).checked_sub(pad).filter(|&p| p < len) else {
                continue;
            };
            if let Some(row) = emb.row(word[src]) {
                let at = (l * kernel + j) * d;
                cols[at..at + d].copy_from_slice(row);
            }
        }
    }
}

/// All words through the character BiLSTM at once: the forward direction's output at the last
/// character and the backward one's at the first.
fn lstm_words(
    emb: &Table,
    fwd: &Direction,
    bwd: &Direction,
    words: &[&[i64]],
    out: &mut [f32],
    s: &mut CharScratch,
) {
    let (d, h) = (emb.dim, fwd.hidden);
    out[..words.len() * 2 * h].fill(0.0);
    s.order.clear();
    s.order
        .extend((0..words.len()).filter(|&i| !words[i].is_empty()));
    s.order.sort_by_key(|&i| std::cmp::Reverse(words[i].len()));
    if s.order.is_empty() {
        return;
    }
    s.packing.set(s.order.iter().map(|&i| words[i].len()));
    let p = &s.packing;
    for (buf, reverse) in [(&mut s.x, false), (&mut s.xr, true)] {
        // Cleared: an unknown character id embeds as zeros.
        buf.clear();
        buf.resize(p.total() * d, 0.0);
        for (b, &i) in s.order.iter().enumerate() {
            let w = words[i];
            for t in 0..w.len() {
                let c = if reverse { w[w.len() - 1 - t] } else { w[t] };
                if let Some(row) = emb.row(c) {
                    let at = p.row(t, b) * d;
                    buf[at..at + d].copy_from_slice(row);
                }
            }
        }
    }
    for (buf, dir, x) in [(&mut s.hf, fwd, &s.x), (&mut s.hb, bwd, &s.xr)] {
        grow(buf, p.total() * h);
        dir.run(x, p, buf, &mut s.dir);
    }
    for (b, &i) in s.order.iter().enumerate() {
        let last = p.row(p.len_of(b) - 1, b);
        out[i * 2 * h..i * 2 * h + h].copy_from_slice(&s.hf[last * h..(last + 1) * h]);
        out[i * 2 * h + h..(i + 1) * 2 * h].copy_from_slice(&s.hb[last * h..(last + 1) * h]);
    }
}
