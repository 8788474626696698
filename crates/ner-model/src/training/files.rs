//! The files of a run directory besides the model: `run.json` (the resolved configuration,
//! written once when the run starts) and `metrics.jsonl` (one [`EpochLine`] per finished epoch).

use super::checkpoint::write_synced;
use super::config::RunConfig;
use super::metrics::{self, EpochLine, METRICS};
use crate::error::{Result, TrainError};
use std::io::Write;
use std::path::Path;

/// The resolved configuration, in the run directory.
pub const RUN_CONFIG: &str = "run.json";

pub(super) fn write_config(out: &Path, config: &RunConfig) -> Result<()> {
    let text = serde_json::to_string_pretty(config)
        .map_err(|e| TrainError::data(format!("cannot serialise the run configuration: {e}")))?;
    let tmp = out.join(format!("{RUN_CONFIG}.tmp"));
    write_synced(&tmp, &(text + "\n"))?;
    std::fs::rename(&tmp, out.join(RUN_CONFIG)).map_err(|e| TrainError::io(out.join(RUN_CONFIG), e))
}

/// The configuration a run in `out` was started with.
pub fn read_config(out: &Path) -> Result<RunConfig> {
    let path = out.join(RUN_CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        TrainError::checkpoint(
            path.clone(),
            format!(
                "cannot read the run's configuration ({e}); was the run started with this --out?"
            ),
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|source| TrainError::json(path, "a run configuration", source))
}

pub(super) fn append_metrics(out: &Path, line: &EpochLine) -> Result<()> {
    let path = out.join(METRICS);
    let text = serde_json::to_string(line)
        .map_err(|e| TrainError::data(format!("cannot serialise an epoch's metrics: {e}")))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| TrainError::io(&path, e))?;
    writeln!(f, "{text}").map_err(|e| TrainError::io(&path, e))
}

/// Drops metric lines of epochs after `epoch` (written by an epoch whose checkpoint a crash
/// prevented), so that a resumed run does not list an epoch twice.
pub(super) fn truncate_metrics(out: &Path, epoch: usize) -> Result<()> {
    let path = out.join(METRICS);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let lines = metrics::parse(&path, &text)?;
    let keep: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .zip(&lines)
        .filter(|(_, m)| m.epoch <= epoch)
        .map(|(l, _)| format!("{l}\n"))
        .collect();
    if keep.len() == text.len() {
        return Ok(());
    }
    let tmp = out.join(format!("{METRICS}.tmp"));
    write_synced(&tmp, &keep)?;
    std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))
}
