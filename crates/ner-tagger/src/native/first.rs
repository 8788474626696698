//! The first recurrent layer, with its input projection split in two. A token's word,
//! character, casing and subword features depend on the token alone, so their product with
//! both directions' `W_ih` (the bias included) is looked up in a [`Memo`] for known words and
//! multiplied only on a miss; the bigram, lexicon and contextual features, which depend on the
//! neighbours, are multiplied for every token (and so are the character BiLSTM's, see
//! [`chars_memoised`]). With the shipped English model every column is memoised, so a hit
//! costs a copy where the projection was half of the forward pass; with the accurate one the
//! contextual columns are still multiplied. Chen & Manning (2014) precompute the same products
//! for the frequent words of a parser.

use std::ops::Range;

use super::gemm::{matmul, Matrix};
use super::layer::{both, reverse_into};
use super::memo::{Key, Memo};
use super::packing::{grow, Packing};
use super::recurrent::Direction;
use super::{NativeModel, Workspace};
use crate::config::{CharEncoderKind, ModelConfig};
use crate::lexicon::SETS;
use crate::vocab::Encoded;

/// The first layer's `W_ih` split by feature columns.
#[derive(Debug, Clone)]
pub(crate) struct FirstLayer {
    /// Columns of a token's features that depend on the token alone, and the others.
    token: Vec<Range<usize>>,
    /// Whether the characters' columns are among `token` (then a hit needs no character
    /// encoding).
    chars: bool,
    rest: Vec<Range<usize>>,
    /// Forward, backward.
    dirs: [Split; 2],
}

/// One direction's share of the split.
#[derive(Debug, Clone)]
struct Split {
    /// The token columns' rows of `W_ih^T`: `[token][G·H]`.
    w_token: Matrix,
    /// The input bias, added to the memoised part.
    b: Vec<f32>,
    /// The other columns' rows: `[rest][G·H]`.
    w_rest: Matrix,
}

/// Buffers of the first layer, reused.
#[derive(Debug, Default)]
pub(crate) struct FirstScratch {
    memo: Option<Memo>,
    /// Slots of the memo when it is made (`None`: its default size).
    pub(super) slots: Option<usize>,
    /// `(sequence, position, slot)` of the tokens the memo had.
    found: Vec<(usize, usize, usize)>,
    /// `(sequence, position)` of the tokens it had not.
    misses: Vec<(usize, usize)>,
    /// Whether the memo had each token, sequence after sequence.
    had: Vec<bool>,
    x_token: Vec<f32>,
    rest: Vec<f32>,
    rest_r: Vec<f32>,
    /// Per direction, the misses' memoised part: `[misses][G·H]`.
    y: [Vec<f32>; 2],
}

impl FirstScratch {
    /// The memo's hits and misses so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        self.memo.as_ref().map_or((0, 0), Memo::counts)
    }

    /// Whether the memo had each token of the batch last looked up, sequence after sequence.
    pub(super) fn had(&self) -> &[bool] {
        &self.had
    }
}

/// What both directions read while they run side by side.
struct Shared<'a> {
    memo: Option<&'a Memo>,
    found: &'a [(usize, usize, usize)],
    misses: &'a [(usize, usize)],
    x_token: &'a [f32],
    p: &'a Packing,
}

impl FirstLayer {
    /// The split of the input weights of the first layer `(fwd, bwd)` of a model configured as
    /// `config`; `None` when no column is memoisable.
    pub(crate) fn new(
        (fwd, bwd): &(Direction, Direction),
        config: &ModelConfig,
    ) -> Option<FirstLayer> {
        let (token, rest) = columns(config);
        if token.is_empty() {
            return None;
        }
        let chars = chars_memoised(config) && config.char_features() > 0;
        let split = |d: &Direction| Split {
            w_token: rows_of(&d.w_ih, &token),
            b: d.b_x.clone(),
            w_rest: rows_of(&d.w_ih, &rest),
        };
        Some(FirstLayer {
            dirs: [split(fwd), split(bwd)],
            token,
            chars,
            rest,
        })
    }

    /// Whether a token the memo has needs its characters encoded.
    pub(super) fn memoises_chars(&self) -> bool {
        self.chars
    }
}

impl NativeModel {
    /// The first layer over the features in `ws.x` (`width` wide), whose tokens
    /// [`FirstLayer::find`] looked up; its output replaces them, as [`NativeModel::layer`]'s
    /// does. The memo is read before the two directions start and written after they end; in
    /// between each direction assembles its own projection.
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
        let fs = &mut ws.first;
        first.gather(&ws.x, width, p, fs);
        grow(&mut ws.fwd, total * h);
        grow(&mut ws.bwd, total * h);
        let [sf, sb] = &mut ws.scratch;
        let (of, ob) = (&mut ws.fwd, &mut ws.bwd);
        let [yf, yb] = &mut fs.y;
        let s = Shared {
            memo: fs.memo.as_ref(),
            found: &fs.found,
            misses: &fs.misses,
            x_token: &fs.x_token,
            p,
        };
        let [df, db] = &first.dirs;
        let (rest, rest_r) = (&fs.rest, &fs.rest_r);
        both(
            parallel,
            || {
                df.project(&s, false, rest, yf, fwd.inputs(p, sf));
                fwd.recur(p, of, sf);
            },
            || {
                db.project(&s, true, rest_r, yb, bwd.inputs(p, sb));
                bwd.recur(p, ob, sb);
            },
        );
        first.remember(batch, fs);
        ws.join_directions(h);
    }
}

impl FirstLayer {
    /// Looks every token of `batch` up in the memo (made on first use), before the features
    /// are computed, so that a hit's need not be.
    pub(super) fn find(&self, batch: &[&Encoded], fs: &mut FirstScratch) {
        let row_width = self.dirs.iter().map(|d| d.b.len()).sum();
        let memo = fs
            .memo
            .get_or_insert_with(|| Memo::new(fs.slots, row_width));
        fs.found.clear();
        fs.misses.clear();
        fs.had.clear();
        for (b, e) in batch.iter().enumerate() {
            for t in 0..e.len() {
                let slot = memo.find(&key(e, t));
                match slot {
                    Some(slot) => fs.found.push((b, t, slot)),
                    None => fs.misses.push((b, t)),
                }
                fs.had.push(slot.is_some());
            }
        }
    }

    /// Gathers the token columns of the misses and the other columns of every token (also
    /// read backwards).
    fn gather(&self, x: &[f32], width: usize, p: &Packing, fs: &mut FirstScratch) {
        let rows = fs.misses.iter().map(|&(b, t)| p.row(t, b));
        gather(x, width, rows, &self.token, &mut fs.x_token);
        let rest_dim = gather(x, width, 0..p.total(), &self.rest, &mut fs.rest);
        reverse_into(&fs.rest, &mut fs.rest_r, p, rest_dim);
    }

    /// Stores the misses' rows (both directions' parts) in the memo.
    fn remember(&self, batch: &[&Encoded], fs: &mut FirstScratch) {
        let Some(memo) = fs.memo.as_mut() else {
            return;
        };
        let [gf, gb] = [self.dirs[0].b.len(), self.dirs[1].b.len()];
        for (i, &(b, t)) in fs.misses.iter().enumerate() {
            let parts = [
                &fs.y[0][i * gf..(i + 1) * gf],
                &fs.y[1][i * gb..(i + 1) * gb],
            ];
            memo.put(&key(batch[b], t), &parts);
        }
    }
}

impl Split {
    /// This direction's input projection `xw` (packed reversed when `backward`): the memo's
    /// rows of the tokens it had, the misses' token columns multiplied (into `y`, for the memo),
    /// then every token's other columns (`rest`, packed as `xw`) multiplied and added.
    fn project(&self, s: &Shared, backward: bool, rest: &[f32], y: &mut Vec<f32>, xw: &mut [f32]) {
        let gh = self.b.len();
        let at = |b: usize, t: usize| match backward {
            false => s.p.row(t, b),
            true => s.p.mirror(t, b),
        };
        // The backward direction's part follows the forward one's in a memo row.
        let half = if backward { gh..2 * gh } else { 0..gh };
        if let Some(memo) = s.memo {
            for &(b, t, slot) in s.found {
                let r = at(b, t);
                xw[r * gh..(r + 1) * gh].copy_from_slice(&memo.row(slot)[half.clone()]);
            }
        }
        let n = s.misses.len();
        grow(y, n * gh);
        let y = &mut y[..n * gh];
        matmul(s.x_token, n, &self.w_token, y, 0.0);
        for (row, &(b, t)) in y.chunks_exact_mut(gh).zip(s.misses) {
            row.iter_mut().zip(&self.b).for_each(|(v, b)| *v += b);
            let r = at(b, t);
            xw[r * gh..(r + 1) * gh].copy_from_slice(row);
        }
        matmul(rest, s.p.total(), &self.w_rest, xw, 1.0);
    }
}

/// Whether the character encoder's columns are memoised: the CNN's are the same in any batch,
/// but the character BiLSTM's recurrence runs over the batch's words together and its
/// products round differently with the batch's size (by an ulp), so a memoised row would not
/// be the one this batch computes.
fn chars_memoised(c: &ModelConfig) -> bool {
    c.char_encoder == CharEncoderKind::Cnn
}

/// The columns of the first layer's input that depend on the token alone (word, characters
/// unless [`chars_memoised`] says not, casing, subword) and the others (bigrams and lexicon
/// sets, contextual features), none empty, in the order of
/// [`crate::model::BiLstmCrf::features`].
fn columns(c: &ModelConfig) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let widths = [
        (c.word_dim, true),
        (c.char_features(), chars_memoised(c)),
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
        chars: e.chars.get(t).map(Vec::as_slice).unwrap_or(&[]),
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
