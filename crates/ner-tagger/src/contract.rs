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

pub use crate::codec::{Emissions, Piece};
use crate::directory::Meta;
use crate::vocab::Encoded;
use crate::{ModelConfig, Result};
use ner_core::tokenize::Mode;
use ner_core::{TagSet, Tagged};
use std::sync::Arc;

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
