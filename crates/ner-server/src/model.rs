//! What the server needs from a model, as a small trait: the real BiLSTM-CRF implements it in
//! the `ner` binary (this crate does not link libtorch), tests implement it with a fake.

use ner_core::tokenize::Mode;
use serde::Serialize;

/// Static facts about the loaded model, for `/info` and responses.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub labels: Vec<String>,
    /// The model's tag scheme (`bio` or `bioes`).
    pub scheme: String,
    pub tokenization: Mode,
    /// The model's configuration, as stored with it.
    pub config: serde_json::Value,
    pub metrics: serde_json::Value,
}

/// What to compute for a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagOptions {
    /// The k best labelings per sentence (0: none).
    pub nbest: usize,
}

/// An entity over token positions `[start, end)` of its sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceEntity {
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub score: f64,
}

/// The model's answer for one sentence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SentenceTags {
    /// One tag name per token, such as `B-PER`.
    pub tags: Vec<String>,
    /// The marginal probability of each token's tag.
    pub token_scores: Vec<f64>,
    pub entities: Vec<SentenceEntity>,
    /// The k best labelings with their probabilities.
    pub nbest: Vec<(Vec<String>, f64)>,
}

/// A model that tags sentences. It lives on one thread (it need not be `Send` once built; the
/// factory that builds it is).
pub trait NerModel {
    fn info(&self) -> ModelInfo;
    fn tag(
        &mut self,
        sentences: &[Vec<String>],
        options: TagOptions,
    ) -> Result<Vec<SentenceTags>, String>;
}

/// Builds the model inside the worker thread.
pub type ModelFactory = Box<dyn FnOnce() -> Result<Box<dyn NerModel>, String> + Send>;
