//! What the server needs from a model, in its two halves: the [`Codec`] encodes a request's
//! words into ids and decodes emissions into results, on the request's own task (it is shared
//! by all of them); the [`Network`] runs on the model's own thread and does nothing else. The
//! real BiLSTM-CRF implements both in the `ner` binary (on the native or the libtorch
//! network); tests implement them with fakes.
//!
//! Between the two travel ner-tagger's [`Piece`] (a request's sentences as ids, with their
//! documents) and [`Emissions`] (one buffer, cut by sentence). Results are ner-core's
//! [`Tagged`]: tag indices and spans of label ids, named from the model's [`TagSet`] when the
//! answer is built.

use ner_core::tokenize::Mode;
use ner_core::{TagSet, Tagged};
pub use ner_tagger::{Emissions, Piece};
use std::sync::Arc;

/// Static facts about the loaded model, for `/info` and responses.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    /// The model's tags (scheme and labels), which name its results.
    pub tags: TagSet,
    pub tokenization: Mode,
    /// The model's configuration, as stored with it.
    pub config: serde_json::Value,
    pub metrics: serde_json::Value,
    /// A content hash of the weights (changes when the model does).
    pub version: String,
}

/// What to compute when decoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagOptions {
    /// The k best labelings per sentence (0: none).
    pub nbest: usize,
}

/// Why a model did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the model could not be loaded: {0}")]
    Load(String),
    #[error("tagging failed: {0}")]
    Tagging(String),
    #[error("the model panicked")]
    Panicked,
    #[error("the model returned {got} results for {expected} sentences")]
    WrongCount { expected: usize, got: usize },
}

/// The request side of a model: encoding and decoding, shared by every request task.
pub trait Codec: Send + Sync {
    fn info(&self) -> &ModelInfo;
    /// A request's sentences as network input; `documents[i]` names the document (text) of
    /// sentence `i`, and a document's sentences are consecutive.
    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece;
    /// One result per sentence of the piece the emissions came from, in order.
    fn decode(&self, emissions: &Emissions, options: TagOptions) -> Vec<Tagged>;
}

/// The network side of a model, on its own thread (it need not be `Send` once built).
pub trait Network {
    /// The emissions of each piece, in order: pieces of several requests run as one batch.
    fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>, ModelError>;

    /// Lookups of the model's first-layer memo since the last call, as `(hits, misses)`;
    /// `None` for a network without one.
    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        None
    }
}

/// A loaded model: its two halves.
pub struct Loaded {
    pub codec: Arc<dyn Codec>,
    pub network: Box<dyn Network>,
}

/// Builds the model inside its own thread.
pub type ModelFactory = Box<dyn FnOnce() -> Result<Loaded, ModelError> + Send>;
