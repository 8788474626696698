//! Contextual word features from a frozen transformer (the feature-based use of BERT in Devlin
//! et al. 2019): every word's pieces are read in context, the hidden states of the chosen
//! layers are mean-pooled over the word's pieces, and the model mixes the layers with learned
//! scalar weights, as ELMo does ([`crate::model`]).
//!
//! Sentences are packed into sequences of at most [`MAX_SEQUENCE`] pieces: one sentence per
//! sequence, or, with document context, consecutive sentences of one document. A sentence
//! longer than that is cut at word boundaries, so any text runs in windows of the
//! transformer's length.

use crate::bert::Bert;
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
        let upto = layers.iter().copied().max().unwrap_or(0);
        Contextual::with_encoder(Bert::load(dir, upto)?, dir, layers)
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
            let pooled = self.pooled(batch)?;
            let words = batch.iter().map(Vec::len).max().unwrap_or(0);
            for (b, seq) in batch.iter().enumerate() {
                for (j, w) in seq.iter().enumerate() {
                    let from = (b * words + j) * width;
                    let to = w.position * width;
                    out[w.sentence][to..to + width].copy_from_slice(&pooled[from..from + width]);
                }
            }
        }
        Ok(out)
    }

    /// Runs a batch of sequences and pools each word's pieces: `[B, W, layers * dim]` flat,
    /// `W` the most words of a sequence.
    fn pooled(&self, batch: &[Vec<Word>]) -> Result<Vec<f32>> {
        let [cls, sep] = self.specials;
        let p_n = batch
            .iter()
            .map(|s| s.iter().map(|w| w.pieces.len()).sum::<usize>())
            .max()
            .unwrap_or(0)
            + 2;
        let w_max = batch.iter().map(Vec::len).max().unwrap_or(0);
        let b_n = batch.len();
        let mut ids = vec![0i64; b_n * p_n];
        let mut mask = vec![false; b_n * p_n];
        for (b, seq) in batch.iter().enumerate() {
            let row = &mut ids[b * p_n..(b + 1) * p_n];
            row[0] = cls;
            let pieces = seq.iter().flat_map(|w| w.pieces);
            let n = row[1..]
                .iter_mut()
                .zip(pieces)
                .map(|(r, &p)| *r = p)
                .count();
            row[n + 1] = sep;
            mask[b * p_n..b * p_n + n + 2]
                .iter_mut()
                .for_each(|m| *m = true);
        }
        let states = self.bert.hidden_states(&ids, &mask, b_n, self.threads)?;
        let (d, width) = (self.dim(), self.layers.len() * self.dim());
        let mut out = vec![0f32; b_n * w_max * width];
        for (b, seq) in batch.iter().enumerate() {
            let mut at = 1;
            for (j, w) in seq.iter().enumerate() {
                let share = 1.0 / w.pieces.len() as f32;
                let dst = &mut out[(b * w_max + j) * width..(b * w_max + j + 1) * width];
                for (slot, &l) in self.layers.iter().enumerate() {
                    let o = &mut dst[slot * d..(slot + 1) * d];
                    for piece in at..at + w.pieces.len() {
                        let src = &states[l][(b * p_n + piece) * d..(b * p_n + piece + 1) * d];
                        o.iter_mut().zip(src).for_each(|(o, s)| *o += share * s);
                    }
                }
                at += w.pieces.len();
            }
        }
        Ok(out)
    }
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
