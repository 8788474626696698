//! The model contract: what anything that runs a model needs from it, in two halves.
//!
//! - The request half ([`RequestHalf`]) encodes a request's words into ids and decodes
//!   emissions into results. It is shared (`Send + Sync`): the server runs it on each request's
//!   own task. [`crate::Codec`] is its one implementation.
//! - The network half ([`NetworkHalf`]) turns encoded pieces into emissions on the thread that
//!   owns the network, and does nothing else. [`crate::Runner`] is its one implementation, over
//!   any [`Network`]: the native forward pass ([`crate::tagger::Native`]) or libtorch's
//!   (ner-model's `TorchNet`).
//!
//! Between the two travel [`Piece`] (sentences as ids, with their documents) and [`Emissions`]
//! (one buffer, cut by sentence). The [`crate::Tagger`] holds both halves for callers that tag
//! in one go; the server keeps them apart, and its tests implement them with fakes.

use crate::directory::Meta;
use crate::vocab::Encoded;
use crate::{ModelConfig, Result};
use ner_core::tokenize::Mode;
use ner_core::{TagSet, Tagged};
use std::ops::Range;
use std::sync::Arc;

/// Sentences as network input: ids only. `documents[i]` names the document of sentence `i`
/// (consecutive sentences of one document share it); a model with document context reads a
/// document's sentences together, never across documents.
#[derive(Debug, Clone, Default)]
pub struct Piece {
    /// Each sentence's ids.
    pub sentences: Vec<Encoded>,
    /// Each sentence's document.
    pub documents: Vec<usize>,
}

impl Piece {
    /// Tokens in all.
    pub fn tokens(&self) -> usize {
        self.sentences.iter().map(Encoded::len).sum()
    }
}

/// The emissions of a piece's sentences in one buffer: sentence `i` has rows
/// `offsets[i]..offsets[i + 1]`, each `tags` wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Emissions {
    /// Width of a row (the number of tags).
    pub tags: usize,
    /// The rows of every sentence, one after another.
    pub data: Vec<f32>,
    /// Where each sentence's rows start, and the end.
    pub offsets: Vec<usize>,
}

impl Emissions {
    /// Zeroed emissions for sentences of these lengths.
    pub fn zeroed(tags: usize, lens: impl IntoIterator<Item = usize>) -> Emissions {
        let mut offsets = vec![0];
        for n in lens {
            offsets.push(offsets[offsets.len() - 1] + n);
        }
        let rows = offsets[offsets.len() - 1];
        Emissions {
            tags,
            data: vec![0.0; rows * tags],
            offsets,
        }
    }

    /// Sentences.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there is no sentence.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn rows(&self, i: usize) -> Range<usize> {
        self.offsets[i] * self.tags..self.offsets[i + 1] * self.tags
    }

    /// Sentence `i`'s emissions `[len][tags]`.
    pub fn sentence(&self, i: usize) -> &[f32] {
        &self.data[self.rows(i)]
    }

    /// Sentence `i`'s emissions, to fill.
    pub fn sentence_mut(&mut self, i: usize) -> &mut [f32] {
        let rows = self.rows(i);
        &mut self.data[rows]
    }
}

/// What to compute when decoding, besides the best tags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Per-token and per-entity probabilities (forward-backward).
    pub probabilities: bool,
    /// The k best labelings with their probabilities (0: none).
    pub nbest: usize,
}

impl DecodeOptions {
    /// Probabilities, and the `nbest` best labelings: what an answer to a user needs.
    pub fn scored(nbest: usize) -> Self {
        DecodeOptions {
            probabilities: true,
            nbest,
        }
    }
}

/// Static facts about a loaded model, for `/info` and answers.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The model's name (`meta.json`).
    pub name: String,
    /// The model's tags (scheme and labels), which name its results.
    pub tags: TagSet,
    /// How raw text is cut into the model's tokens.
    pub tokenization: Mode,
    /// The model's configuration, as stored with it.
    pub config: serde_json::Value,
    /// The evaluation results stored with it.
    pub metrics: serde_json::Value,
    /// A content hash of the weights (changes when the model does).
    pub version: String,
}

impl ModelInfo {
    /// The facts of a model read from its files.
    pub fn new(meta: &Meta, config: &ModelConfig, tags: TagSet, version: String) -> Self {
        ModelInfo {
            name: meta.name.clone(),
            tags,
            tokenization: config.tokenization,
            config: serde_json::to_value(config).unwrap_or_default(),
            metrics: meta.metrics.clone(),
            version,
        }
    }
}

/// What runs a network over one batch: the native forward pass, or libtorch's.
pub trait Network {
    /// The number of tags (the width of an emission row).
    fn tags(&self) -> usize;
    /// The emissions `[len][K]` of each sentence of `batch` (sorted by length, longest first,
    /// none empty) into `out[i]`.
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()>;
    /// The first-layer memo's hits and misses so far; `None` for a network without one.
    fn memo_counts(&self) -> Option<(u64, u64)> {
        None
    }
}

impl<N: Network + ?Sized> Network for Box<N> {
    fn tags(&self) -> usize {
        (**self).tags()
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
        (**self).emissions(batch, out)
    }
    fn memo_counts(&self) -> Option<(u64, u64)> {
        (**self).memo_counts()
    }
}

/// The request half of a model: encoding and decoding, shared by every request task.
pub trait RequestHalf: Send + Sync {
    /// The model's static facts.
    fn info(&self) -> &ModelInfo;
    /// A request's sentences as network input; `documents[i]` names the document (text) of
    /// sentence `i`, and a document's sentences are consecutive.
    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece;
    /// One result per sentence of the piece the emissions came from, in order.
    fn decode(&self, emissions: &Emissions, options: DecodeOptions) -> Vec<Tagged>;
}

/// The network half of a model, on its own thread (it need not be `Send` once built).
pub trait NetworkHalf {
    /// The emissions of each piece, in order: pieces of several requests run as one batch.
    fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>>;
    /// Lookups of the model's first-layer memo since the last call, as `(hits, misses)`;
    /// `None` for a network without one.
    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        None
    }
}

/// A loaded model taken apart: the shared request half and the network half.
pub struct Halves {
    /// Shared by every request task.
    pub codec: Arc<dyn RequestHalf>,
    /// Owned by the model's thread.
    pub network: Box<dyn NetworkHalf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emissions_cut_one_buffer_by_sentence() {
        let mut em = Emissions::zeroed(2, [2, 0, 1]);
        assert_eq!((em.len(), em.data.len()), (3, 6));
        em.sentence_mut(2).copy_from_slice(&[7.0, 8.0]);
        em.sentence_mut(0)[3] = 1.0;
        assert_eq!(em.sentence(0), [0.0, 0.0, 0.0, 1.0]);
        assert!(em.sentence(1).is_empty());
        assert_eq!(em.sentence(2), [7.0, 8.0]);
        assert!(Emissions::zeroed(3, []).is_empty());
    }
}
