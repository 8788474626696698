//! What the server needs from a model: ner-tagger's model contract ([`RequestHalf`] on the
//! request side, [`NetworkHalf`] on the model thread), re-exported here, and how a model is
//! built and fails. The real BiLSTM-CRF implements the contract in ner-tagger (on the native or
//! the libtorch network); tests implement it with fakes.
//!
//! Results are ner-core's [`Tagged`](ner_core::Tagged): tag indices and spans of label ids,
//! named from the model's tag set when the answer is built.

pub use ner_tagger::contract::{
    DecodeOptions, Emissions, Halves, ModelInfo, NetworkHalf, Piece, RequestHalf,
};
use std::sync::Arc;

/// An error of any kind, kept whole as a source.
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Why a model's worker did not answer. Cloned to every request of a failed batch; each
/// variant keeps its cause as its source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    #[error("the model could not be loaded")]
    Load(#[source] Source),
    #[error("tagging failed")]
    Tagging(#[source] Arc<ner_tagger::Error>),
    #[error("the model panicked")]
    Panicked,
    #[error("the model returned {got} results for {expected} sentences")]
    WrongCount { expected: usize, got: usize },
}

impl WorkerError {
    /// A load failure caused by `e`.
    pub fn load(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        WorkerError::Load(Arc::from(e.into()))
    }
}

impl From<ner_tagger::Error> for WorkerError {
    fn from(e: ner_tagger::Error) -> Self {
        WorkerError::Tagging(Arc::new(e))
    }
}

/// An error with its chain of sources, as one line: `what: why: why`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Builds the model inside its own thread.
pub type ModelFactory = Box<dyn FnOnce() -> Result<Halves, WorkerError> + Send>;
