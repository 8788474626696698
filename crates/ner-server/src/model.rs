//! What the server needs from a model, as a small trait: the real BiLSTM-CRF implements it in
//! the `ner` binary (this crate does not link libtorch), tests implement it with a fake.
//!
//! Results travel in ner-core's types ([`Tagged`]: tag indices, [`Span`](ner_core::Span)s of
//! label ids); the server renders names from the model's [`TagSet`] once, when it builds JSON.

use ner_core::tokenize::Mode;
use ner_core::{TagSet, Tagged};

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

/// What to compute for a batch.
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

/// A model that tags sentences. It lives on one thread (it need not be `Send` once built; the
/// factory that builds it is).
pub trait NerModel {
    fn info(&self) -> ModelInfo;
    /// One [`Tagged`] per sentence, in order. `documents[i]` names the document (request) of
    /// sentence `i`; a document's sentences are consecutive, and a model with document
    /// context reads them together.
    fn tag(
        &mut self,
        sentences: &[Vec<String>],
        documents: &[usize],
        options: TagOptions,
    ) -> Result<Vec<Tagged>, ModelError>;

    /// Lookups of the model's first-layer memo since the last call, as `(hits, misses)`;
    /// `None` for a model without one.
    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        None
    }
}

/// Builds the model inside its own thread.
pub type ModelFactory = Box<dyn FnOnce() -> Result<Box<dyn NerModel>, ModelError> + Send>;
