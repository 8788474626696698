//! What a run trains on: the model's label set from the training corpus, and the training
//! sentences encoded with their gold tags (joined into document windows with context).

use super::config::RunConfig;
use super::corpora::Corpora;
use super::observer::Observer;
use super::trainer::Trainer;
use crate::context;
use crate::contextual::{self, WordPieces};
use crate::error::{Result, TrainError};
use crate::vocab::{Encoded, Soft};
use ner_core::corpus::{Corpus, LabelMap};
use ner_core::{LabelSet, TagSet};

/// The model's label set: the entity types of the training data (sorted), with a warning for
/// types that only dev or test have.
pub(crate) fn label_set(
    data: &Corpora,
    config: &RunConfig,
    obs: &mut dyn Observer,
) -> Result<TagSet> {
    let train = &data.train;
    if train.labels.is_empty() {
        return Err(TrainError::data(format!(
            "{}: the training data has no entities",
            train.path.display()
        )));
    }
    for c in std::iter::once(&data.dev).chain(data.test.as_ref()) {
        let unseen: Vec<&str> = c
            .labels
            .names()
            .iter()
            .filter(|n| train.labels.get(n).is_none())
            .map(String::as_str)
            .collect();
        if !unseen.is_empty() {
            obs.warning(&format!(
                "{} has labels the training data lacks ({}); they will count as errors",
                c.path.display(),
                unseen.join(", ")
            ));
        }
    }
    let labels: LabelSet = train.labels.sorted_frozen();
    let tags = TagSet::new(config.model.scheme, labels);
    obs.info(&format!(
        "train {} sentences / {} tokens ({} scheme), dev {} sentences, labels {}; model scheme {}, cell {}",
        train.sentences.len(),
        train.tokens(),
        train.scheme,
        data.dev.sentences.len(),
        tags.labels().names().join(" "),
        tags.scheme(),
        config.model.cell
    ));
    Ok(tags)
}

/// The training sentences with their gold tags as the model's tag indices; with document
/// context, joined into the windows the model reads (each sentence still scored alone).
pub(crate) fn encode_examples(
    train: &Corpus,
    trainer: &Trainer,
    features: Option<Vec<Vec<f32>>>,
    soft: Option<Vec<Soft>>,
    pieces: Option<&WordPieces>,
) -> Result<Vec<Encoded>> {
    let tags = &trainer.model.tags;
    let map = LabelMap::new(&train.labels, tags.labels());
    let mut sentences = train
        .sentences
        .iter()
        .map(|s| {
            let mut e = trainer.vocab.encode(&s.tokens);
            let gold = train.gold_indices(s, tags, &map)?;
            e.tags = Some(gold.into_iter().map(|i| i as i64).collect());
            Ok(e)
        })
        .collect::<Result<Vec<Encoded>>>()?;
    if let Some(f) = features {
        contextual::attach(&mut sentences, f);
    }
    if let Some(p) = pieces {
        for (e, s) in sentences.iter_mut().zip(&train.sentences) {
            e.transformer = p.sentence(&s.tokens);
        }
    }
    for (e, s) in sentences.iter_mut().zip(soft.into_iter().flatten()) {
        e.soft = Some(s);
    }
    let budget = trainer.model.config.context_tokens;
    if budget == 0 {
        return Ok(sentences);
    }
    let lens: Vec<usize> = sentences.iter().map(Encoded::len).collect();
    let documents = super::evaluate::documents(train);
    Ok(context::windows(&lens, &documents, budget)
        .into_iter()
        .map(|w| context::concat(&sentences[w].iter().collect::<Vec<_>>()))
        .collect())
}
