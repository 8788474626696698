//! What a resumed run may change: its epoch limit and its patience, so that a finished run
//! can be continued further (or an unfinished one ended sooner) without editing `run.json`.
//! Everything else stays as the run was started, so that the continued run is the one a
//! longer run would have been (the learning rate depends on the epoch alone).

use super::config::RunConfig;
use super::files::{read_config, write_config, RUN_CONFIG};
use super::observer::Observer;
use crate::error::{Result, TrainError};
use std::path::Path;

/// The changes to a run's stored configuration; `None` keeps the stored value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Continuation {
    pub epochs: Option<usize>,
    pub patience: Option<usize>,
}

impl Continuation {
    /// The configuration stored in `out`, with the changes applied and written back to
    /// `run.json` (atomically) when there are any. `done` is the number of completed epochs:
    /// the new limit may not fall below it.
    pub fn apply(&self, out: &Path, done: usize, obs: &mut dyn Observer) -> Result<RunConfig> {
        let mut config = read_config(out)?;
        let train = &mut config.train;
        let before = (train.epochs, train.patience);
        train.epochs = self.epochs.unwrap_or(train.epochs);
        train.patience = self.patience.unwrap_or(train.patience);
        if (train.epochs, train.patience) == before {
            return Ok(config);
        }
        if train.epochs < done {
            return Err(TrainError::Config(format!(
                "the run in {} has completed {done} epochs: the epoch limit must be at least {done} (got {})",
                out.display(),
                train.epochs
            )));
        }
        config.validate().map_err(TrainError::Config)?;
        write_config(out, &config)?;
        obs.info(&format!(
            "{}: epochs {} -> {}, patience {} -> {}",
            out.join(RUN_CONFIG).display(),
            before.0,
            config.train.epochs,
            before.1,
            config.train.patience
        ));
        Ok(config)
    }
}
