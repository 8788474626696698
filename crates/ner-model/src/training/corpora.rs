//! The corpora of a run: train, dev and test read before any work, and with `--unlabelled` the
//! teacher's sentences joined to train.

use super::config::RunConfig;
use super::teacher::{self, Teacher};
use crate::error::Result;
use ner_core::conll::ReaderOptions;
use ner_core::corpus::Corpus;
use std::path::Path;

/// The corpora of a run.
#[derive(Debug)]
pub struct Corpora {
    pub train: Corpus,
    pub dev: Corpus,
    pub test: Option<Corpus>,
    /// The teacher's scores of each of `train`'s last sentences that came from
    /// `--unlabelled`, kept from tagging them so that their posteriors need no second pass
    /// (see [`Teacher::posteriors`]).
    pub unlabelled_scores: Vec<Vec<f32>>,
}

impl Corpora {
    /// Reads every file first, so that bad data stops the run before any work.
    pub fn read(config: &RunConfig) -> Result<Corpora> {
        let d = &config.data;
        let read = |p: &Path| Corpus::read(p, d.columns.reader_options(), d.columns.scheme);
        let mut train = read(&d.train)?;
        let (dev, test) = (read(&d.dev)?, d.test.as_deref().map(read).transpose()?);
        let mut unlabelled_scores = Vec::new();
        if let (Some(path), Some(dir)) = (&config.inputs.unlabelled, &config.inputs.teacher) {
            let mut teacher = Teacher::load(dir)?;
            let tokens = ReaderOptions {
                tag_columns: Vec::new(),
                ..d.columns.reader_options()
            };
            let sentences = Corpus::read(path, tokens, d.columns.scheme)?;
            unlabelled_scores = teacher::join_unlabelled(&mut train, sentences, &mut teacher)?;
        }
        Ok(Corpora {
            train,
            dev,
            test,
            unlabelled_scores,
        })
    }

    /// How many of `train`'s sentences, at its end, came from `--unlabelled`.
    pub fn unlabelled(&self) -> usize {
        self.unlabelled_scores.len()
    }
}
