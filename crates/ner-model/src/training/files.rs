//! The files of a run directory besides the model: `run.json` (the resolved configuration,
//! written once when the run starts) and `metrics.jsonl` (one line per finished epoch).

use super::checkpoint::write_synced;
use super::config::RunConfig;
use super::trainer::EpochStats;
use crate::error::{ModelError, Result};
use ner_core::metrics::Report;
use std::io::Write;
use std::path::Path;

/// The resolved configuration, in the run directory.
pub const RUN_CONFIG: &str = "run.json";
const METRICS: &str = "metrics.jsonl";

pub(super) fn write_config(out: &Path, config: &RunConfig) -> Result<()> {
    let text = serde_json::to_string_pretty(config)
        .map_err(|e| ModelError::data(format!("cannot serialise the run configuration: {e}")))?;
    let tmp = out.join(format!("{RUN_CONFIG}.tmp"));
    write_synced(&tmp, &(text + "\n"))?;
    std::fs::rename(&tmp, out.join(RUN_CONFIG)).map_err(|e| ModelError::io(out.join(RUN_CONFIG), e))
}

/// The configuration a run in `out` was started with.
pub fn read_config(out: &Path) -> Result<RunConfig> {
    let path = out.join(RUN_CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ModelError::checkpoint(
            path.clone(),
            format!(
                "cannot read the run's configuration ({e}); was the run started with this --out?"
            ),
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|source| ModelError::json(path, "a run configuration", source))
}

pub(super) fn append_metrics(
    out: &Path,
    epoch: usize,
    stats: &EpochStats,
    report: &Report,
    eval_seconds: f64,
    improved: bool,
) -> Result<()> {
    let per_type: serde_json::Map<String, serde_json::Value> = report
        .per_type
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!({"precision": v.prf.precision, "recall": v.prf.recall, "f1": v.prf.f1})))
        .collect();
    let o = &report.overall;
    let line = serde_json::json!({
        "epoch": epoch, "train_loss": stats.loss, "lr": stats.lr,
        "train_seconds": stats.seconds, "eval_seconds": eval_seconds,
        "tokens_per_second": stats.tokens as f64 / stats.seconds.max(1e-9),
        "dev": {"precision": o.precision, "recall": o.recall, "f1": o.f1, "per_type": per_type},
        "best": improved,
    });
    let path = out.join(METRICS);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| ModelError::io(&path, e))?;
    writeln!(f, "{line}").map_err(|e| ModelError::io(&path, e))
}

/// Drops metric lines of epochs after `epoch` (written by an epoch whose checkpoint a crash
/// prevented), so that a resumed run does not list an epoch twice.
pub(super) fn truncate_metrics(out: &Path, epoch: usize) -> Result<()> {
    let path = out.join(METRICS);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let keep: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["epoch"].as_u64())
                .is_some_and(|e| e as usize <= epoch)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if keep.len() == text.len() {
        return Ok(());
    }
    let tmp = out.join(format!("{METRICS}.tmp"));
    write_synced(&tmp, &keep)?;
    std::fs::rename(&tmp, &path).map_err(|e| ModelError::io(&path, e))
}
