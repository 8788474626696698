//! The first recurrent layer, with its input projection split in two. A token's word, casing
//! and subword features depend on the token alone, so their product with both directions'
//! `W_ih` (the bias included) is looked up in a [`Memo`] for known words and multiplied only
//! on a miss; the character, bigram, lexicon and contextual features, which depend on the
//! spelling or the neighbours, are multiplied for every token. With the shipped English model
//! the memoised columns are 264 of 314, so a hit saves five sixths of the projection, which was
//! half of the forward pass. Chen & Manning (2014) precompute the same products for the
//! frequent words of a parser.

use std::ops::Range;

use super::gemm::{matmul, Matrix};
use super::layer::{both, reverse_into};
use super::memo::{Key, Memo};
use super::packing::{grow, Packing};
use super::recurrent::Direction;
use super::{NativeModel, Workspace};
use crate::config::ModelConfig;
use crate::lexicon::SETS;
use crate::vocab::Encoded;

/// The first layer's `W_ih` split by feature columns.
#[derive(Debug, Clone)]
pub struct FirstLayer {
    /// Columns of a token's features that depend on the token alone, and the others.
    token: Vec<Range<usize>>,
    rest: Vec<Range<usize>>,
    /// The token columns' rows of both directions' `W_ih^T`, side by side: `[token][2·G·H]`.
    w_token: Matrix,
    /// Both directions' input biases, side by side.
    b_token: Vec<f32>,
    /// The other columns' rows, per direction: `[rest][G·H]`.
    w_rest: [Matrix; 2],
}

/// Buffers of the first layer, reused.
#[derive(Debug, Default)]
pub struct FirstScratch {
    memo: Option<Memo>,
    /// Slots of the memo when it is made (`None`: its default size).
    pub(super) slots: Option<usize>,
    /// `(sequence, position)` of the tokens the memo did not have.
    misses: Vec<(usize, usize)>,
    x_token: Vec<f32>,
    y_token: Vec<f32>,
    rest: Vec<f32>,
    rest_r: Vec<f32>,
}

impl FirstScratch {
    /// The memo's hits and misses so far.
    pub fn counts(&self) -> (u64, u64) {
        self.memo.as_ref().map_or((0, 0), Memo::counts)
    }
}

impl FirstLayer {
    /// The split of the input weights of the first layer `(fwd, bwd)` of a model configured as
    /// `config`; `None` when no column is memoisable.
    pub fn new((fwd, bwd): &(Direction, Direction), config: &ModelConfig) -> Option<FirstLayer> {
        let (token, rest) = columns(config);
        if token.is_empty() {
            return None;
        }
        Some(FirstLayer {
            w_token: side_by_side(&rows_of(&fwd.w_ih, &token), &rows_of(&bwd.w_ih, &token)),
            b_token: fwd.b_x.iter().chain(&bwd.b_x).copied().collect(),
            w_rest: [rows_of(&fwd.w_ih, &rest), rows_of(&bwd.w_ih, &rest)],
            token,
            rest,
        })
    }
}

impl NativeModel {
    /// The first layer over the features in `ws.x` (`width` wide); its output replaces them,
    /// as [`NativeModel::layer`]'s does.
    pub(super) fn first_layer(
        &self,
        first: &FirstLayer,
        batch: &[&Encoded],
        width: usize,
        parallel: bool,
        ws: &mut Workspace,
    ) {
        let (fwd, bwd) = &self.layers[0];
        let (h, p, total) = (fwd.hidden, &ws.packing, ws.packing.total());
        let [sf, sb] = &mut ws.scratch;
        let fs = &mut ws.first;
        first.token_parts(
            batch,
            &ws.x,
            width,
            p,
            fs,
            [fwd.inputs(p, sf), bwd.inputs(p, sb)],
        );
        let rest_dim = gather(&ws.x, width, 0..total, &first.rest, &mut fs.rest);
        reverse_into(&fs.rest, &mut fs.rest_r, p, rest_dim);
        grow(&mut ws.fwd, total * h);
        grow(&mut ws.bwd, total * h);
        let (of, ob) = (&mut ws.fwd, &mut ws.bwd);
        let (rest, rest_r) = (&fs.rest, &fs.rest_r);
        let [wf, wb] = &first.w_rest;
        both(
            parallel,
            || {
                matmul(rest, total, wf, fwd.inputs(p, sf), 1.0);
                fwd.recur(p, of, sf);
            },
            || {
                matmul(rest_r, total, wb, bwd.inputs(p, sb), 1.0);
                bwd.recur(p, ob, sb);
            },
        );
        ws.join_directions(h);
    }
}

impl FirstLayer {
    /// Writes every token's memoised part (bias included) into both directions' input
    /// projections `xw` (the backward one packed reversed), multiplying the memo's misses.
    fn token_parts(
        &self,
        batch: &[&Encoded],
        x: &[f32],
        width: usize,
        p: &Packing,
        fs: &mut FirstScratch,
        [xwf, xwb]: [&mut [f32]; 2],
    ) {
        let gh = self.b_token.len() / 2;
        let memo = fs.memo.get_or_insert_with(|| Memo::new(fs.slots, 2 * gh));
        fs.misses.clear();
        for (b, e) in batch.iter().enumerate() {
            for t in 0..e.len() {
                let Some(row) = memo.get(&key(e, t)) else {
                    fs.misses.push((b, t));
                    continue;
                };
                let (f, r) = (p.row(t, b), p.mirror(t, b));
                xwf[f * gh..(f + 1) * gh].copy_from_slice(&row[..gh]);
                xwb[r * gh..(r + 1) * gh].copy_from_slice(&row[gh..]);
            }
        }
        let n = fs.misses.len();
        let rows = fs.misses.iter().map(|&(b, t)| p.row(t, b));
        gather(x, width, rows, &self.token, &mut fs.x_token);
        grow(&mut fs.y_token, n * 2 * gh);
        let y = &mut fs.y_token[..n * 2 * gh];
        matmul(&fs.x_token, n, &self.w_token, y, 0.0);
        for (row, &(b, t)) in y.chunks_exact_mut(2 * gh).zip(&fs.misses) {
            row.iter_mut().zip(&self.b_token).for_each(|(v, b)| *v += b);
            let (f, r) = (p.row(t, b), p.mirror(t, b));
            xwf[f * gh..(f + 1) * gh].copy_from_slice(&row[..gh]);
            xwb[r * gh..(r + 1) * gh].copy_from_slice(&row[gh..]);
            memo.put(&key(batch[b], t), row);
        }
    }
}

/// The columns of the first layer's input that depend on the token alone (word, casing,
/// subword) and the others (characters, bigrams and lexicon sets, contextual features), none
/// empty, in the order of [`crate::model::BiLstmCrf::features`].
fn columns(c: &ModelConfig) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let widths = [
        (c.word_dim, true),
        (c.char_features(), false),
        (c.casing_dim, true),
        (2 * c.bigram_dim + SETS as i64 * c.lexicon_dim, false),
        (c.subword_dim, true),
        (c.contextual_features(), false),
    ];
    let (mut token, mut rest, mut at) = (Vec::new(), Vec::new(), 0);
    for (width, memoised) in widths {
        let r = at..at + width.max(0) as usize;
        at = r.end;
        match (r.is_empty(), memoised) {
            (true, _) => {}
            (false, true) => token.push(r),
            (false, false) => rest.push(r),
        }
    }
    (token, rest)
}

/// What token `t`'s memoised features depend on.
fn key(e: &Encoded, t: usize) -> Key<'_> {
    Key {
        word: e.words[t],
        casing: e.casing.get(t).copied().unwrap_or(0),
        pieces: e.pieces.get(t).map(Vec::as_slice).unwrap_or(&[]),
    }
}

/// The `columns` of the given rows of `x` (`width` wide), one row after another, into `out`;
/// returns the width of a gathered row.
fn gather(
    x: &[f32],
    width: usize,
    rows: impl Iterator<Item = usize>,
    columns: &[Range<usize>],
    out: &mut Vec<f32>,
) -> usize {
    out.clear();
    for r in rows {
        for c in columns {
            out.extend_from_slice(&x[r * width + c.start..r * width + c.end]);
        }
    }
    columns.iter().map(|c| c.len()).sum()
}

/// The rows `ranges` of `w`, stacked.
fn rows_of(w: &Matrix, ranges: &[Range<usize>]) -> Matrix {
    let data: Vec<f32> = ranges
        .iter()
        .flat_map(|r| &w.data[r.start * w.n..r.end * w.n])
        .copied()
        .collect();
    Matrix {
        k: ranges.iter().map(|r| r.len()).sum(),
        n: w.n,
        data,
    }
}

/// `[a | b]`: the columns of `b` after those of `a` (both `k` rows).
fn side_by_side(a: &Matrix, b: &Matrix) -> Matrix {
    let data = a
        .data
        .chunks_exact(a.n.max(1))
        .zip(b.data.chunks_exact(b.n.max(1)))
        .flat_map(|(x, y)| x.iter().chain(y))
        .copied()
        .collect();
    Matrix {
        k: a.k,
        n: a.n + b.n,
        data,
    }
}
