//! Tagging a corpus with a model and scoring it the way conlleval does: the dev set after every
//! epoch, the test set at the end of a run, and `ner eval`. Decoding is the serving Viterbi.

use crate::config::ModelConfig;
use crate::contextual::{self, Contextual};
use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::tagger::Inference;
use crate::vocab::{Encoded, Vocab};
use ner_core::corpus::Corpus;
use ner_core::metrics::{Evaluator, Report};
use ner_core::scheme::{convert, Tag};
use ner_core::{TagScheme, TagSet};

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
    let mut ev = Evaluator::new();
    for (s, p) in corpus.sentences.iter().zip(&paths) {
        let gold: Vec<Tag<&str>> = s
            .tags
            .first()
            .map(|g| {
                g.iter()
                    .map(|t| named(*t, |l| corpus.labels.name(l)))
                    .collect()
            })
            .unwrap_or_default();
        let pred = in_scheme(p, &model.tags, corpus.scheme);
        let pred: Vec<Tag<&str>> = pred
            .into_iter()
            .map(|t| named(t, |l| model.tags.labels().name(l)))
            .collect();
        // Gold labels the model never saw simply never match: they count as errors.
        ev.add_tags(&gold, &pred);
    }
    Ok((ev.report(), paths))
}

/// The document of every sentence: as the file's `-DOCSTART-` lines divide them; in a file
/// without document boundaries (every sentence in document 0) each sentence is a document of
/// its own, since neighbouring sentences there need not be related (WikiANN's are not).
pub fn documents(corpus: &Corpus) -> Vec<usize> {
    if corpus.sentences.iter().all(|s| s.document == 0) {
        return (0..corpus.sentences.len()).collect();
    }
    corpus.sentences.iter().map(|s| s.document).collect()
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
    c.features(&sentences, &documents(corpus), config.context_tokens > 0)
        .map(Some)
}

/// Predicted tag indices as typed tags of `scheme` (the scheme of the file they are compared
/// with or written to).
pub fn in_scheme(pred: &[usize], tags: &TagSet, scheme: TagScheme) -> Vec<Tag> {
    let typed: Vec<Tag> = pred.iter().map(|&i| tags.tag(i)).collect();
    convert(&typed, scheme)
}

/// Predicted tag indices as strings of `scheme`.
pub fn render_tags(pred: &[usize], tags: &TagSet, scheme: TagScheme) -> Vec<String> {
    in_scheme(pred, tags, scheme)
        .into_iter()
        .map(|t| scheme.render(t, |l| tags.labels().name(*l).to_owned()))
        .collect()
}

fn named<'a>(t: Tag, name: impl Fn(ner_core::LabelId) -> &'a str) -> Tag<&'a str> {
    match t.label {
        Some(l) => Tag::new(t.prefix, name(l)),
        None => Tag::O,
    }
}
