//! What a training run reports as it goes. The CLI draws progress bars and plots from it, a
//! study collects its table, tests record the events; every method has a do-nothing default.

use super::trainer::{BatchProgress, EpochStats};
use ner_core::metrics::Report;

/// One finished epoch.
#[derive(Debug)]
pub struct EpochReport<'a> {
    pub epoch: usize,
    pub epochs: usize,
    pub stats: EpochStats,
    pub dev: &'a Report,
    pub eval_seconds: f64,
    /// The dev F1 is the best so far (the model was saved).
    pub improved: bool,
}

pub trait Observer {
    /// A line of information (data sizes, what was initialised, why the run stopped).
    fn info(&mut self, _message: &str) {}
    /// Something the user should look at; the run goes on.
    fn warning(&mut self, _message: &str) {}
    fn epoch_started(&mut self, _epoch: usize, _epochs: usize, _sentences: usize) {}
    fn batch_done(&mut self, _progress: &BatchProgress) {}
    fn epoch_finished(&mut self, _report: &EpochReport<'_>) {}
    fn test_evaluated(&mut self, _report: &Report) {}
    /// Checked after every batch: `true` ends the run there (the last checkpoint stays).
    fn should_stop(&self) -> bool {
        false
    }
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {}
