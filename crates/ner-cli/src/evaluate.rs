//! Tagging a corpus with a model and scoring it the way conlleval does. Shared by `ner train`
//! (dev and test sets) and `ner eval`.

use crate::data::Corpus;
use anyhow::Result;
use ner_core::metrics::{Evaluator, Report};
use ner_model::model::BiLstmCrf;
use ner_model::train::{predict, render_tags};
use ner_model::vocab::Vocab;
use ner_model::Device;

/// The report, and the predicted tags rendered in the corpus's own scheme.
pub fn evaluate(
    model: &BiLstmCrf,
    vocab: &Vocab,
    corpus: &Corpus,
    batch_size: usize,
    device: Device,
) -> Result<(Report, Vec<Vec<String>>)> {
    let encoded: Vec<_> = corpus
        .sentences
        .iter()
        .map(|s| vocab.encode(&s.tokens))
        .collect();
    let paths = predict(model, &encoded, batch_size, device)?;
    let mut ev = Evaluator::new();
    let mut rendered = Vec::with_capacity(paths.len());
    for (s, p) in corpus.sentences.iter().zip(&paths) {
        let pred = render_tags(p, &model.tags, corpus.scheme);
        let pred_refs: Vec<&str> = pred.iter().map(String::as_str).collect();
        // Gold labels the model never saw simply never match: they count as errors.
        ev.add(&s.tag_strs(0), &pred_refs)?;
        rendered.push(pred);
    }
    Ok((ev.report(), rendered))
}
