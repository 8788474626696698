//! Training, owned by the library: a [`Run`] takes a resolved [`RunConfig`] and owns the epoch
//! loop, dev evaluation with the serving Viterbi, model selection, weight averaging, early
//! stopping, atomic checkpoints, resume and the final test evaluation. It reports to an
//! [`Observer`], so the CLI draws progress and plots, a study collects its table, and tests
//! record the events.
//!
//! - [`options`] — optimisation settings; [`config`] — the whole run's configuration;
//! - [`optimizer`] — SGD with momentum, Adam and Nadam, whose state is saved;
//! - [`average`] — the weights' moving average;
//! - [`trainer`] — one model's epoch loop; [`batching`] — its batches;
//! - [`recipe`] — the tuned starting configurations for a user's corpus;
//! - [`corpora`] — the data a run reads; [`inputs`] — vocabulary and pretrained inputs of a
//!   fresh run;
//! - [`init_from`] — starting from a trained model; [`keep_labels`] — its pseudo-labels;
//! - [`teacher`] — distillation from a trained model's posteriors;
//! - [`evaluate`] — tagging and scoring a corpus;
//! - [`checkpoint`] — the run's atomic checkpoint; [`files`] — `run.json` and `metrics.jsonl`,
//!   whose lines are [`metrics::EpochLine`];
//! - [`run`] — the run itself.

pub mod average;
pub mod batching;
pub mod checkpoint;
pub mod config;
pub mod continuation;
pub mod corpora;
pub mod evaluate;
mod examples;
pub mod files;
pub mod init_from;
pub mod inputs;
pub mod keep_labels;
pub mod metrics;
pub mod observer;
pub mod optimizer;
pub mod options;
pub mod recipe;
pub mod run;
mod saved;
pub mod teacher;
pub mod trainer;

pub use config::{Columns, DataConfig, InputConfig, RunConfig};
pub use continuation::Continuation;
pub use observer::{EpochReport, Observer, Silent};
pub use options::{OptimizerKind, TrainOptions};
pub use run::{Corpora, Run, RunResult};
pub use trainer::{BatchProgress, EpochStats, Trainer};
