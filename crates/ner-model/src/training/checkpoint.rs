//! A run's checkpoint: one atomic unit holding everything a resumed run needs to continue
//! exactly where an uninterrupted one would be: the raw weights (with the vocabulary and
//! configuration, as a model directory), the weight average, the optimiser state (momentum or
//! Adam's moments), and the [`RunState`] (epoch, best score, patience, step counts; the random
//! generators are re-seeded from the seed and the epoch, so they need no state).
//!
//! Layout: `OUT/.checkpoint/epoch-N/` and `OUT/.checkpoint/latest`, a file naming the current
//! `epoch-N`. A checkpoint is written into `epoch-N.partial/`, synced, renamed to `epoch-N/`,
//! and only then named in `latest` (written to a temporary file and renamed); older epochs are
//! removed after that. A crash at any instant leaves `latest` naming a complete checkpoint.

use super::options::TrainOptions;
use super::trainer::Trainer;
use crate::checkpoint::{self as model_dir, Meta};
use crate::error::{Result, TrainError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DIR: &str = ".checkpoint";
const LATEST: &str = "latest";
const STATE: &str = "state.json";
const AVERAGE: &str = "average.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";

/// Where a run is after its last completed epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub epoch: usize,
    pub best_f1: f64,
    pub best_epoch: usize,
    /// Epochs since the last improvement.
    pub stale: usize,
    pub optimizer_steps: u64,
    pub average_steps: u64,
    // Whether the run is finished is not stored: it follows from this state and the run's
    // limits ([`RunState::is_done`]), which `--resume --epochs` may raise. Checkpoints written
    // before stored a `finished` field, which reading ignores.
}

impl RunState {
    /// Whether early stopping ends the run: `patience` epochs without a better dev F1, and at
    /// least `min_steps` steps done.
    pub fn gives_up(&self, o: &TrainOptions) -> bool {
        o.patience > 0 && self.stale >= o.patience && self.optimizer_steps >= o.min_steps
    }

    /// Whether no epoch is left: the last one ran, or early stopping ends the run.
    pub fn is_done(&self, o: &TrainOptions) -> bool {
        self.epoch >= o.epochs || self.gives_up(o)
    }

    /// The state before the first epoch.
    pub fn fresh() -> Self {
        RunState {
            epoch: 0,
            best_f1: -1.0,
            best_epoch: 0,
            stale: 0,
            optimizer_steps: 0,
            average_steps: 0,
        }
    }
}

/// Whether `out` holds a checkpoint to resume from.
pub fn exists(out: &Path) -> bool {
    out.join(DIR).join(LATEST).is_file()
}

/// Writes the trainer and `state` as the run's new checkpoint.
pub fn save(out: &Path, trainer: &Trainer, state: &RunState) -> Result<()> {
    let root = out.join(DIR);
    let name = format!("epoch-{}", state.epoch);
    let partial = root.join(format!("{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let written = (|| -> Result<()> {
        model_dir::save_as(
            &partial,
            &trainer.vs,
            &trainer.model,
            &trainer.vocab,
            &Meta::new("checkpoint"),
            model_dir::Precision::Exact,
        )?;
        trainer.average.save(&partial.join(AVERAGE))?;
        trainer.optimizer.save(&partial.join(OPTIMIZER))?;
        write_synced(&partial.join(STATE), &json(state)?)?;
        sync_all_files(&partial)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(TrainError::Save {
            what: "the checkpoint",
            dir: root,
            cause: Box::new(e),
        });
    }
    let done = root.join(&name);
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&partial, &done).map_err(|e| TrainError::io(&done, e))?;
    let tmp = root.join(format!("{LATEST}.tmp"));
    write_synced(&tmp, &name)?;
    std::fs::rename(&tmp, root.join(LATEST)).map_err(|e| TrainError::io(root.join(LATEST), e))?;
    sync_dir(&root);
    remove_other_epochs(&root, &name);
    Ok(())
}

/// The directory of the current checkpoint and its state.
pub fn load_state(out: &Path) -> Result<(PathBuf, RunState)> {
    let root = out.join(DIR);
    let latest = root.join(LATEST);
    let name = std::fs::read_to_string(&latest).map_err(|e| {
        TrainError::checkpoint(
            latest.clone(),
            format!("no checkpoint to resume from ({e}); was the run started with this --out?"),
        )
    })?;
    let dir = root.join(name.trim());
    let state_path = dir.join(STATE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state = serde_json::from_str(&text)
        .map_err(|source| TrainError::json(state_path, "the run state", source))?;
    Ok((dir, state))
}

/// Restores the optimiser and the weight average of the checkpoint in `dir` into `trainer`
/// (whose variables already hold the checkpoint's weights).
pub fn restore(dir: &Path, trainer: &mut Trainer, state: &RunState) -> Result<()> {
    trainer
        .optimizer
        .load(&dir.join(OPTIMIZER), state.optimizer_steps)?;
    trainer.restart_average();
    if trainer.average.is_on() {
        trainer
            .average
            .load(&dir.join(AVERAGE), state.average_steps)?;
    }
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| TrainError::data(format!("cannot serialise: {e}")))
}

/// Writes a file and syncs it to disk.
pub(crate) fn write_synced(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let io = |e| TrainError::io(path, e);
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

fn sync_all_files(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))? {
        let p = e.map_err(|e| TrainError::io(dir, e))?.path();
        if p.is_file() {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| TrainError::io(&p, e))?;
        }
    }
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn remove_other_epochs(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("epoch-") && name != keep {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunState;

    #[test]
    fn a_state_written_with_the_old_finished_field_still_reads() {
        let old = r#"{"epoch": 3, "best_f1": 0.5, "best_epoch": 2, "stale": 1,
            "optimizer_steps": 30, "average_steps": 30, "finished": true}"#;
        let state: RunState = serde_json::from_str(old).expect("old state.json");
        let expected = RunState {
            epoch: 3,
            best_f1: 0.5,
            best_epoch: 2,
            stale: 1,
            optimizer_steps: 30,
            average_steps: 30,
        };
        assert_eq!(state, expected);
        assert!(!serde_json::to_string(&state).unwrap().contains("finished"));
    }

    fn state(stale: usize, steps: u64) -> RunState {
        RunState {
            stale,
            optimizer_steps: steps,
            ..RunState::fresh()
        }
    }

    #[test]
    fn early_stopping_waits_for_both_patience_and_steps() {
        let o = super::TrainOptions {
            patience: 3,
            min_steps: 500,
            ..Default::default()
        };
        assert!(!state(2, 10_000).gives_up(&o), "patience not used up");
        assert!(!state(5, 499).gives_up(&o), "too few steps");
        assert!(state(3, 500).gives_up(&o));
        let never = super::TrainOptions {
            patience: 0,
            ..o.clone()
        };
        assert!(!state(100, 1_000_000).gives_up(&never), "patience 0: never");
    }
}
