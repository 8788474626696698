//! `--keep-labels`: pseudo-labels against forgetting. When a run starts from a trained model
//! (`--init-from`) on a corpus that does not annotate some of the model's labels, the tokens
//! the corpus marks `O` take the old model's confident predictions of those labels as training
//! targets, so the new model keeps recognising them (the remedy spaCy users apply by hand,
//! spaCy #1496 and #3677).
//!
//! Only labels the corpus lacks are added: an `O` in a corpus that annotates `PER` says the
//! token is not a person. A predicted entity is kept when its probability (forward-backward
//! over the span) reaches the threshold and it overlaps no gold entity.

use super::evaluate::documents;
use crate::error::Result;
use crate::tagger;
use ner_core::corpus::Corpus;
use ner_core::scheme::{decode_spans, encode_spans};
use ner_core::{LabelSet, Span};
use ner_tagger::DecodeOptions;
use std::path::Path;

/// What pseudo-labelling added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// Entities added, over all sentences.
    pub entities: usize,
    /// Sentences that gained at least one.
    pub sentences: usize,
    /// The base model's labels that the corpus lacked (the ones pseudo-labelled).
    pub labels: Vec<String>,
}

/// Adds to `train` the base model's predictions (probability at least `threshold`) of the
/// labels `train` lacks, on tokens it marks `O`.
pub fn apply(train: &mut Corpus, base: &Path, threshold: f64) -> Result<Added> {
    let mut tagger = tagger::load(base, Default::default())?;
    let base_labels = tagger.tag_set().labels().clone();
    let lacking: Vec<String> = base_labels
        .names()
        .iter()
        .filter(|n| train.labels.get(n).is_none())
        .cloned()
        .collect();
    let mut added = Added {
        labels: lacking.clone(),
        ..Added::default()
    };
    if lacking.is_empty() {
        return Ok(added);
    }
    let labels = extended(&train.labels, &lacking);
    let tokens: Vec<Vec<&str>> = train
        .sentences
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let tagged = tagger.tag_documents(&tokens, &documents(train), DecodeOptions::scored(0))?;
    for (sentence, t) in train.sentences.iter_mut().zip(&tagged) {
        let Some(gold) = sentence.tags.first_mut() else {
            continue;
        };
        let mut spans = decode_spans(gold);
        let before = spans.len();
        for e in &t.entities {
            let name = base_labels.name(*e.span.label());
            let overlaps = spans
                .iter()
                .any(|g| g.start() < e.span.end() && e.span.start() < g.end());
            let lacked = labels
                .get(name)
                .filter(|_| lacking.iter().any(|l| l == name));
            if let (Some(label), true) = (lacked, e.probability >= threshold && !overlaps) {
                spans.extend(Span::new(e.span.start(), e.span.end(), label));
            }
        }
        if spans.len() > before {
            added.entities += spans.len() - before;
            added.sentences += 1;
            spans.sort_by_key(Span::start);
            *gold = encode_spans(&spans, gold.len(), train.scheme);
            render_raw(sentence, &labels, train.scheme);
        }
    }
    train.labels = labels;
    Ok(added)
}

/// `labels` followed by `more`: every id of `labels` stays what it was.
fn extended(labels: &LabelSet, more: &[String]) -> LabelSet {
    let mut set = LabelSet::new();
    for n in labels.names().iter().chain(more) {
        set.intern(n);
    }
    set.freeze();
    set
}

/// Rewrites the sentence's written first tag column from its typed tags.
fn render_raw(
    sentence: &mut ner_core::conll::Sentence,
    labels: &LabelSet,
    scheme: ner_core::TagScheme,
) {
    let (Some(typed), Some(raw)) = (sentence.tags.first(), sentence.raw_tags.first_mut()) else {
        return;
    };
    *raw = typed
        .iter()
        .map(|t| scheme.render(*t, |l| labels.name(*l).to_owned()))
        .collect();
}
