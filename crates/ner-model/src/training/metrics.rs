//! `metrics.jsonl`, one line per finished epoch, as one type: training writes [`EpochLine`]s
//! and everything that reads the file (plots, studies, `ner metrics` for the model-card
//! script) reads them back through [`read`], where a line that does not parse is an error
//! naming the file and the line, never a zero.

use crate::error::{Result, TrainError};
use ner_core::metrics::Report;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file's name in a run directory (and in a shipped model's).
pub const METRICS: &str = "metrics.jsonl";

/// Precision, recall and F1 in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Dev scores, overall and per entity type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub per_type: BTreeMap<String, Scores>,
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochLine {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    /// The learning rate the epoch ran at.
    pub lr: f64,
    pub train_seconds: f64,
    pub eval_seconds: f64,
    pub tokens_per_second: f64,
    pub dev: DevScores,
    /// Whether this epoch's model became the best so far.
    pub best: bool,
}

impl EpochLine {
    /// The line of an epoch with its dev report.
    pub fn new(
        epoch: usize,
        stats: &super::EpochStats,
        report: &Report,
        eval_seconds: f64,
        best: bool,
    ) -> Self {
        let scores = |p: &ner_core::metrics::Prf| Scores {
            precision: p.precision,
            recall: p.recall,
            f1: p.f1,
        };
        let o = &report.overall;
        EpochLine {
            epoch,
            train_loss: stats.loss,
            lr: stats.lr,
            train_seconds: stats.seconds,
            eval_seconds,
            tokens_per_second: stats.tokens as f64 / stats.seconds.max(1e-9),
            dev: DevScores {
                precision: o.precision,
                recall: o.recall,
                f1: o.f1,
                per_type: report
                    .per_type
                    .iter()
                    .map(|(k, v)| (k.clone(), scores(&v.prf)))
                    .collect(),
            },
            best,
        }
    }
}

/// Every epoch of the `metrics.jsonl` in `dir` (none when the file does not exist yet).
pub fn read(dir: &Path) -> Result<Vec<EpochLine>> {
    let path = dir.join(METRICS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(&path, e)),
    };
    parse(&path, &text)
}

/// The lines of a `metrics.jsonl` whose text is `text`; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<EpochLine>> {
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    lines
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                TrainError::data(format!(
                    "{}:{}: not an epoch's metrics line ({e}); the file is written by `ner train`",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(epoch: usize) -> EpochLine {
        let scores = Scores {
            precision: 90.0,
            recall: 80.0,
            f1: 84.7,
        };
        EpochLine {
            epoch,
            train_loss: 0.25,
            lr: 0.015,
            train_seconds: 12.5,
            eval_seconds: 1.5,
            tokens_per_second: 1000.0,
            dev: DevScores {
                precision: 90.0,
                recall: 80.0,
                f1: 84.7,
                per_type: [("PER".to_owned(), scores)].into(),
            },
            best: epoch == 2,
        }
    }

    #[test]
    fn lines_round_trip_and_a_bad_line_names_its_file_and_line() {
        let lines = [line(1), line(2)];
        let text: String = lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect();
        let path = Path::new("run/metrics.jsonl");
        assert_eq!(parse(path, &text).unwrap(), lines);
        let broken = text.replace("\"train_loss\"", "\"loss\"");
        let err = parse(path, &broken).unwrap_err().to_string();
        assert!(err.starts_with("run/metrics.jsonl:1: "), "{err}");
        let truncated = format!("{text}{{\"epoch\": 3");
        let err = parse(path, &truncated).unwrap_err().to_string();
        assert!(err.starts_with("run/metrics.jsonl:3: "), "{err}");
    }
}
