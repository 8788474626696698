//! Tagging a corpus with a model and scoring it the way conlleval does: the dev set after every
//! epoch, the test set at the end of a run, and `ner eval`. Decoding is the serving Viterbi.

use crate::config::ModelConfig;
use crate::contextual::{self, Contextual};
use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::tagger::Inference;
use crate::vocab::{Encoded, Vocab};
use ner_core::corpus::Corpus;
use ner_core::metrics::Report;

pub use ner_tagger::evaluation::{documents, in_scheme, render_tags, score};

/// The report, and the predicted tags of every sentence in the model's tag indices.
/// `features`: the contextual features of every sentence, when the model has them (see
/// [`corpus_features`]).
pub fn evaluate(
    model: &BiLstmCrf,
    vocab: &Vocab,
    corpus: &Corpus,
    features: Option<Vec<Vec<f32>>>,
    run: Inference<'_>,
) -> Result<(Report, Vec<Vec<usize>>)> {
    evaluate_encoded(model, corpus, &encode(vocab, corpus, features), run)
}

/// The sentences of `corpus` as the model reads them, with their contextual features.
pub fn encode(vocab: &Vocab, corpus: &Corpus, features: Option<Vec<Vec<f32>>>) -> Vec<Encoded> {
    let mut encoded: Vec<_> = corpus
        .sentences
        .iter()
        .map(|s| vocab.encode(&s.tokens))
        .collect();
    if let Some(f) = features {
        contextual::attach(&mut encoded, f);
    }
    encoded
}

/// [`evaluate`] on sentences encoded once (a run's dev set, scored after every epoch).
pub fn evaluate_encoded(
    model: &BiLstmCrf,
    corpus: &Corpus,
    encoded: &[Encoded],
    run: Inference<'_>,
) -> Result<(Report, Vec<Vec<usize>>)> {
    let documents = documents(corpus);
    let paths = run.best_paths(model, encoded, &documents)?;
    Ok((score(corpus, &paths, &model.tags), paths))
}

/// The contextual features of every sentence of `corpus` (read in document windows when the
/// model has document context), or `None` without a transformer.
pub fn corpus_features(
    contextual: Option<&Contextual>,
    config: &ModelConfig,
    corpus: &Corpus,
) -> Result<Option<Vec<Vec<f32>>>> {
    let Some(c) = contextual else {
        return Ok(None);
    };
    let tokens: Vec<&Vec<String>> = corpus.sentences.iter().map(|s| &s.tokens).collect();
    let sentences: Vec<Vec<&str>> = tokens
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    Ok(Some(c.features(
        &sentences,
        &documents(corpus),
        config.context_tokens > 0,
    )?))
}
