//! Contextual word features from a frozen transformer (the feature-based use of BERT in Devlin
//! et al. 2019): every word's pieces are read in context, the hidden states of the chosen
//! layers are mean-pooled over the word's pieces, and the model mixes the layers with learned
//! scalar weights, as ELMo does ([`crate::model`]).
//!
//! Sentences are packed into sequences of at most [`MAX_SEQUENCE`] pieces: one sentence per
//! sequence, or, with document context, consecutive sentences of one document. A sentence
//! longer than that is cut at word boundaries, so any text runs in windows of the
//! transformer's length.

use crate::bert::{Bert, Tuned};
use crate::error::{Error, Result};
use crate::subword::{self, TOKENIZER_FILE};
use crate::vocab::Encoded;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Pieces per sequence, `[CLS]` and `[SEP]` excluded.
pub const MAX_SEQUENCE: usize = 254;
/// Sequences per forward pass.
const BATCH: usize = 16;

/// What runs the transformer: the native [`Bert`] here, libtorch's in ner-model (the
/// reference it is compared with).
pub trait Encoder {
    /// The width of a hidden state.
    fn hidden_size(&self) -> usize;
    /// The hidden states of `b` sequences of `ids.len() / b` pieces (`mask` true on real
    /// pieces): the embedding output and every layer's, each `[b][p][D]`.
    fn hidden_states(
        &self,
        ids: &[i64],
        mask: &[bool],
        b: usize,
        threads: usize,
    ) -> Result<Vec<Vec<f32>>>;
}

impl<E: Encoder + ?Sized> Encoder for Box<E> {
    fn hidden_size(&self) -> usize {
        (**self).hidden_size()
    }
    fn hidden_states(
        &self,
        ids: &[i64],
        mask: &[bool],
        b: usize,
        threads: usize,
    ) -> Result<Vec<Vec<f32>>> {
        (**self).hidden_states(ids, mask, b, threads)
    }
}

impl Encoder for Bert {
    fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
    fn hidden_states(
        &self,
        ids: &[i64],
        mask: &[bool],
        b: usize,
        threads: usize,
    ) -> Result<Vec<Vec<f32>>> {
        Ok(self.forward(ids, mask, b, threads))
    }
}

/// The transformer, its word pieces and the hidden states kept (0: the embedding output).
pub struct Contextual<E = Bert> {
    bert: E,
    pieces: WordPieces,
    layers: Vec<usize>,
    /// `[CLS]` and `[SEP]`.
    specials: [i64; 2],
    /// Threads of the transformer's matrix products.
    threads: usize,
}

/// A transformer's tokenizer as words' pieces: what the request side computes, so that the
/// model thread runs the transformer on ids alone.
#[derive(Clone)]
pub struct WordPieces {
    tokenizer: Tokenizer,
    unk: i64,
}

impl std::fmt::Debug for WordPieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordPieces").finish_non_exhaustive()
    }
}

impl WordPieces {
    /// A word's pieces (at most [`subword::MAX_PIECES`]); `[UNK]` when it has none.
    pub fn of(&self, word: &str) -> Vec<i64> {
        let p = subword::pieces(&self.tokenizer, word);
        if p.is_empty() {
            vec![self.unk]
        } else {
            p
        }
    }

    /// The pieces of every word of a sentence.
    pub fn sentence<S: AsRef<str>>(&self, words: &[S]) -> Vec<Vec<i64>> {
        words.iter().map(|w| self.of(w.as_ref())).collect()
    }
}

impl<E> std::fmt::Debug for Contextual<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contextual")
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

/// One word of a sequence: its sentence, its position there, and its pieces.
struct Word<'a> {
    sentence: usize,
    position: usize,
    pieces: &'a [i64],
}

/// Where a model's transformer is: `source` itself when it is a directory, else the folder
/// of that name under `$NER_CACHE_DIR/transformers` (default `~/.cache/ner/transformers`),
/// where `scripts/setup.sh` installs the shipped models' transformer.
pub fn locate(source: &str) -> Result<PathBuf> {
    let direct = PathBuf::from(source);
    if direct.join("config.json").is_file() {
        return Ok(direct);
    }
    let cache = std::env::var_os("NER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ner")))
        .unwrap_or_else(|| PathBuf::from(".cache/ner"));
    let cached = cache.join(TRANSFORMERS).join(source);
    if cached.join("config.json").is_file() {
        return Ok(cached);
    }
    Err(Error::Data(format!(
        "the transformer {source:?} of this model is neither a directory nor installed in {}: run scripts/setup.sh, or set NER_CACHE_DIR to the cache that holds it",
        cache.join(TRANSFORMERS).display()
    )))
}

/// The cache folder that holds transformers by name.
pub const TRANSFORMERS: &str = "transformers";

/// Gives each encoded sentence its features (as computed by [`Contextual::features`]).
pub fn attach(encoded: &mut [Encoded], features: Vec<Vec<f32>>) {
    for (e, f) in encoded.iter_mut().zip(features) {
        e.contextual = f;
    }
}

impl Contextual {
    /// Loads the transformer of `dir` up to the highest of `layers`.
    pub fn load(dir: &Path, layers: &[usize]) -> Result<Contextual> {
        Self::load_tuned(dir, layers, Tuned::default())
    }

    /// [`Contextual::load`] with a fine-tuned model's layers over the transformer's.
    pub fn load_tuned(dir: &Path, layers: &[usize], tuned: Tuned) -> Result<Contextual> {
        let upto = layers.iter().copied().max().unwrap_or(0);
        Contextual::with_encoder(Bert::load_tuned(dir, upto, tuned)?, dir, layers)
    }
}

impl<E: Encoder> Contextual<E> {
    /// `bert`, loaded from `dir`, with the tokenizer of `dir`.
    pub fn with_encoder(bert: E, dir: &Path, layers: &[usize]) -> Result<Contextual<E>> {
        let tokenizer = subword::load_tokenizer(&dir.join(TOKENIZER_FILE))?;
        let id = |t: &str, default: i64| tokenizer.token_to_id(t).map_or(default, i64::from);
        let specials = [id("[CLS]", 101), id("[SEP]", 102)];
        let unk = id("[UNK]", 100);
        Ok(Contextual {
            bert,
            pieces: WordPieces { tokenizer, unk },
            layers: layers.to_vec(),
            specials,
            threads: 1,
        })
    }

    /// The same features from the transformer behind a box (see [`crate::Tagger::boxed`]).
    pub fn boxed(self) -> Contextual<Box<dyn Encoder>>
    where
        E: 'static,
    {
        Contextual {
            bert: Box::new(self.bert),
            pieces: self.pieces,
            layers: self.layers,
            specials: self.specials,
            threads: self.threads,
        }
    }

    /// Runs the transformer's matrix products on `threads` threads.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Width of one layer's features.
    pub fn dim(&self) -> usize {
        self.bert.hidden_size()
    }

    /// The tokenizer of the transformer, as words' pieces.
    pub fn word_pieces(&self) -> &WordPieces {
        &self.pieces
    }

    /// The transformer itself.
    pub fn encoder(&self) -> &E {
        &self.bert
    }

    /// The transformer itself, to change its weights (fine-tuning).
    pub fn encoder_mut(&mut self) -> &mut E {
        &mut self.bert
    }

    /// The hidden states kept, in the order of the features (0: the embedding output).
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// The features of every word: per sentence, `[len, layers, dim]` row-major. `documents`
    /// as for [`crate::batching::for_each_in_context`]; with `in_context` false every
    /// sentence is read alone.
    pub fn features<S: AsRef<str>>(
        &self,
        sentences: &[Vec<S>],
        documents: &[usize],
        in_context: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let pieces: Vec<Vec<Vec<i64>>> =
            sentences.iter().map(|s| self.pieces.sentence(s)).collect();
        let refs: Vec<&[Vec<i64>]> = pieces.iter().map(Vec::as_slice).collect();
        self.features_of(&refs, documents, in_context)
    }

    /// [`Contextual::features`] of sentences given as their words' pieces
    /// ([`WordPieces::sentence`]).
    pub fn features_of(
        &self,
        sentences: &[&[Vec<i64>]],
        documents: &[usize],
        in_context: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let width = self.layers.len() * self.dim();
        let mut out: Vec<Vec<f32>> = sentences
            .iter()
            .map(|s| vec![0.0; s.len() * width])
            .collect();
        let mut sequences = sequences(sentences, documents, in_context);
        sequences
            .sort_by_key(|s| std::cmp::Reverse(s.iter().map(|w| w.pieces.len()).sum::<usize>()));
        for batch in sequences.chunks(BATCH) {
            let layout = self.layout(batch);
            let states = self.bert.hidden_states(
                &layout.ids,
                &layout.mask,
                layout.sequences,
                self.threads,
            )?;
            self.pool(&layout, &states, &mut out);
        }
        Ok(out)
    }

    /// Each word's pieces' hidden states (of the kept layers) averaged into its row of `out`.
    fn pool(&self, layout: &Layout, states: &[Vec<f32>], out: &mut [Vec<f32>]) {
        let (d, width) = (self.dim(), self.layers.len() * self.dim());
        for w in &layout.words {
            let share = 1.0 / w.count as f32;
            let dst = &mut out[w.sentence][w.position * width..(w.position + 1) * width];
            for (slot, &l) in self.layers.iter().enumerate() {
                let o = &mut dst[slot * d..(slot + 1) * d];
                for piece in w.first..w.first + w.count {
                    let src = &states[l][piece * d..(piece + 1) * d];
                    o.iter_mut().zip(src).for_each(|(o, s)| *o += share * s);
                }
            }
        }
    }

    /// `[CLS]` and `[SEP]`.
    pub fn specials(&self) -> [i64; 2] {
        self.specials
    }

    fn layout(&self, batch: &[Vec<Word>]) -> Layout {
        lay_out(batch, self.specials)
    }
}

/// The sequences the transformer reads for `sentences` (as [`Contextual::features_of`] cuts
/// them), in order, laid out as one batch with `specials` (`[CLS]`, `[SEP]`): what a
/// fine-tuned model runs with gradients in training.
pub fn layout_of(
    sentences: &[&[Vec<i64>]],
    documents: &[usize],
    in_context: bool,
    specials: [i64; 2],
) -> Layout {
    lay_out(&sequences(sentences, documents, in_context), specials)
}

/// A batch of sequences as piece ids: `[CLS]`, the words' pieces, `[SEP]`, padding.
fn lay_out(batch: &[Vec<Word>], [cls, sep]: [i64; 2]) -> Layout {
    let p_n = batch
        .iter()
        .map(|s| s.iter().map(|w| w.pieces.len()).sum::<usize>())
        .max()
        .unwrap_or(0)
        + 2;
    let b_n = batch.len();
    let mut layout = Layout {
        ids: vec![0i64; b_n * p_n],
        mask: vec![false; b_n * p_n],
        sequences: b_n,
        pieces: p_n,
        words: Vec::new(),
    };
    for (b, seq) in batch.iter().enumerate() {
        let row = b * p_n;
        layout.ids[row] = cls;
        let mut at = row + 1;
        for w in seq {
            layout.ids[at..at + w.pieces.len()].copy_from_slice(w.pieces);
            layout.words.push(Placed {
                sentence: w.sentence,
                position: w.position,
                first: at,
                count: w.pieces.len(),
            });
            at += w.pieces.len();
        }
        layout.ids[at] = sep;
        layout.mask[row..=at].iter_mut().for_each(|m| *m = true);
    }
    layout
}

/// Sequences laid out for one pass of the transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Piece ids `[sequences][pieces]`: `[CLS]`, the words' pieces, `[SEP]`, then 0.
    pub ids: Vec<i64>,
    /// True on `[CLS]`, the pieces and `[SEP]`.
    pub mask: Vec<bool>,
    /// Sequences in the batch.
    pub sequences: usize,
    /// Pieces per sequence, the longest's (with `[CLS]` and `[SEP]`).
    pub pieces: usize,
    /// Every word read, in order.
    pub words: Vec<Placed>,
}

/// Where a word's pieces lie in a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The word's sentence (its index among those laid out) and its position there.
    pub sentence: usize,
    /// The word's position in its sentence.
    pub position: usize,
    /// The flat index (`sequence * pieces + i`) of its first piece, and how many it has.
    pub first: usize,
    /// Its pieces.
    pub count: usize,
}

/// The words of `sentences` cut into sequences of at most [`MAX_SEQUENCE`] pieces.
fn sequences<'a>(
    sentences: &[&'a [Vec<i64>]],
    documents: &[usize],
    in_context: bool,
) -> Vec<Vec<Word<'a>>> {
    let mut out: Vec<Vec<Word>> = Vec::new();
    let mut pieces_in_last = 0;
    for (i, sentence) in sentences.iter().enumerate() {
        let n: usize = sentence.iter().map(Vec::len).sum();
        let joins = in_context
            && i > 0
            && documents.get(i) == documents.get(i - 1)
            && pieces_in_last + n <= MAX_SEQUENCE
            && !out.is_empty();
        if !joins {
            out.push(Vec::new());
            pieces_in_last = 0;
        }
        for (position, pieces) in sentence.iter().enumerate() {
            if pieces_in_last + pieces.len() > MAX_SEQUENCE
                && !out.last().is_some_and(Vec::is_empty)
            {
                out.push(Vec::new());
                pieces_in_last = 0;
            }
            pieces_in_last += pieces.len();
            if let Some(seq) = out.last_mut() {
                seq.push(Word {
                    sentence: i,
                    position,
                    pieces,
                });
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}
