//! A training run from start to finish: reading the corpora, building the model, the epoch
//! loop, dev evaluation with the serving Viterbi, model selection, weight averaging, early
//! stopping, checkpoints, resume and the final test evaluation.
//!
//! A run directory holds `run.json` (the resolved [`RunConfig`]), the best model so far (a
//! model directory), `metrics.jsonl` (one line per epoch) and `.checkpoint/` (see
//! [`super::checkpoint`]).

use super::checkpoint::{self as run_checkpoint, RunState};
use super::config::RunConfig;
use super::continuation::Continuation;
pub use super::corpora::Corpora;
use super::evaluate::{self, corpus_features, evaluate, evaluate_encoded};
use super::examples::{encode_examples, label_set};
use super::init_from;
use super::inputs;
use super::keep_labels;
use super::observer::{EpochReport, Observer};
use super::teacher::Teacher;
use super::trainer::{EpochStats, Trainer};
use crate::checkpoint::{self as model_dir, Meta};
use crate::contextual::Contextual;
use crate::error::{Result, TrainError};
use crate::tagger::Inference;
use crate::vocab::Encoded;
use ner_core::corpus::Corpus;
use ner_core::metrics::Report;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Device;

use super::files::{append_metrics, truncate_metrics, write_config};
pub use super::files::{read_config, RUN_CONFIG};
use super::metrics::EpochLine;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub dev_f1: f64,
    pub best_epoch: usize,
    pub epochs_done: usize,
    pub test: Option<Report>,
    /// Stopped by the observer before the last epoch; `--resume` continues it.
    pub interrupted: bool,
}

pub struct Run {
    config: RunConfig,
    out: PathBuf,
    device: Device,
    data: Corpora,
    trainer: Trainer,
    examples: Vec<Encoded>,
    /// The first example made of `--unlabelled` sentences (batched by tokens).
    packed_from: usize,
    state: RunState,
    /// The dev sentences as the model reads them (with their contextual features), encoded
    /// once: the vocabulary does not change during a run.
    dev: Vec<Encoded>,
    /// The transformer, when the model fine-tunes it: the dev features are computed again
    /// after every epoch.
    tuned: Option<Contextual>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("out", &self.out)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// A new run into `out`, which must not hold a model or a run yet; writes `run.json`.
    pub fn start(
        config: RunConfig,
        out: &Path,
        device: Device,
        obs: &mut dyn Observer,
    ) -> Result<Run> {
        if model_dir::is_model_dir(out) || out.join(run_checkpoint::DIR).exists() {
            return Err(TrainError::Config(format!(
                "{} already holds a model or a run; choose a new --out, or continue it with --resume {}",
                out.display(),
                out.display()
            )));
        }
        let config = config.absolute_paths();
        config.validate().map_err(TrainError::Config)?;
        let data = Corpora::read(&config)?;
        let run = Run::prepare(config, data, out, device, obs)?;
        std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
        write_config(out, &run.config)?;
        Ok(run)
    }

    /// A new run on corpora already in memory; nothing is written until [`Run::fit`].
    pub fn prepare(
        config: RunConfig,
        data: Corpora,
        out: &Path,
        device: Device,
        obs: &mut dyn Observer,
    ) -> Result<Run> {
        config.validate().map_err(TrainError::Config)?;
        if let Some(dir) = config.inputs.init_from.clone() {
            return Run::prepare_from(config, data, out, device, &dir, obs);
        }
        let tags = label_set(&data, &config, obs)?;
        let mut model_config = config.model.clone();
        let built = inputs::build(&data.train, &mut model_config, &config.inputs, obs)?;
        let mut contextual = inputs::contextual(&mut model_config, &config.inputs, device, obs)?;
        let mut trainer = Trainer::new(
            &model_config,
            built.vocab,
            &tags,
            config.train.clone(),
            device,
        )?;
        if let Some(c) = contextual.as_mut() {
            trainer.finetune(c);
        }
        inputs::initialise(
            &mut trainer,
            built.vectors.as_ref(),
            built.subword_table,
            &config.inputs,
            device,
            obs,
        )?;
        trainer.restart_average();
        let config = RunConfig {
            model: model_config,
            ..config
        };
        Run::assemble(
            config,
            data,
            out,
            device,
            trainer,
            contextual,
            RunState::fresh(),
        )
    }

    /// A new run that starts from the trained model in `dir` (see [`init_from`]); its
    /// architecture replaces `config.model`.
    fn prepare_from(
        config: RunConfig,
        mut data: Corpora,
        out: &Path,
        device: Device,
        dir: &Path,
        obs: &mut dyn Observer,
    ) -> Result<Run> {
        pseudo_label(&config, &mut data, obs)?;
        let mut base = model_dir::load(dir, Device::Cpu)?;
        let config = base_architecture(config, &base.model.config, dir)?;
        let tags = label_set(&data, &config, obs)?;
        let (mut vocab, added) = init_from::extend_vocab(&base.vocab, &data.train);
        let vectors = match &config.inputs.pretrained {
            Some(p) => Some(init_from::read_vectors(p, &config.inputs, &mut vocab)?),
            None => None,
        };
        let mut trainer = Trainer::new(&config.model, vocab, &tags, config.train.clone(), device)?;
        if let Some(t) = &base.model.subword_table {
            trainer.model.set_subword_table(t.shallow_clone(), device);
        }
        let mut contextual = base.contextual.take();
        if let Some(c) = contextual.as_mut() {
            trainer.finetune(c);
        }
        let copied = init_from::copy_weights(&base, &mut trainer)?;
        if let Some(v) = &vectors {
            init_from::new_word_vectors(&mut trainer, v, base.vocab.num_words(), obs)?;
        }
        obs.info(&format!(
            "starting from {}: {copied} variables copied, {added} new words, labels {} (were {})",
            dir.display(),
            tags.labels().names().join(" "),
            base.model.tags.labels().names().join(" ")
        ));
        trainer.restart_average();
        Run::assemble(
            config,
            data,
            out,
            device,
            trainer,
            contextual,
            RunState::fresh(),
        )
    }

    /// A run from its parts; encodes the training sentences for `trainer`'s model and
    /// computes the contextual features of training and dev sentences once.
    fn assemble(
        config: RunConfig,
        data: Corpora,
        out: &Path,
        device: Device,
        trainer: Trainer,
        contextual: Option<Contextual>,
        state: RunState,
    ) -> Result<Run> {
        let features = |c: &Corpus| corpus_features(contextual.as_ref(), &trainer.model.config, c);
        let soft = match &config.inputs.teacher {
            Some(dir) => Some(Teacher::load(dir)?.posteriors(
                &data.train,
                &trainer.model.tags,
                config.train.teacher_temperature,
                &data.unlabelled_scores,
            )?),
            None => None,
        };
        // A fine-tuned transformer runs inside each training step, on the words' pieces.
        let tuned = trainer.model.tuning.is_some();
        let (train_features, pieces) = match (&contextual, tuned) {
            (Some(c), true) => (None, Some(c.word_pieces())),
            _ => (features(&data.train)?, None),
        };
        let examples = encode_examples(&data.train, &trainer, train_features, soft, pieces)?;
        let packed_from = first_unlabelled(&examples, &data);
        let dev = evaluate::encode(&trainer.vocab, &data.dev, features(&data.dev)?);
        Ok(Run {
            config,
            out: out.to_owned(),
            device,
            data,
            trainer,
            examples,
            packed_from,
            state,
            dev,
            tuned: contextual.filter(|_| tuned),
        })
    }

    /// Continues the run in `out` from its last checkpoint, with the configuration it was
    /// started with.
    pub fn resume(out: &Path, device: Device, obs: &mut dyn Observer) -> Result<Run> {
        Run::resume_with(out, Continuation::default(), device, obs)
    }

    /// Continues the run in `out` from its last checkpoint with a new epoch limit or patience
    /// (recorded in `run.json`); a finished run continues when the new limits leave it epochs.
    pub fn resume_with(
        out: &Path,
        continuation: Continuation,
        device: Device,
        obs: &mut dyn Observer,
    ) -> Result<Run> {
        let checkpoint = match run_checkpoint::exists(out) {
            true => Some(run_checkpoint::load_state(out)?),
            false => None,
        };
        let done = checkpoint.as_ref().map_or(0, |(_, s)| s.epoch);
        let config = continuation.apply(out, done, obs)?;
        let Some((dir, state)) = checkpoint else {
            // Stopped during the first epoch: start again with the stored configuration.
            obs.info("no epoch completed yet: starting the run again from its configuration");
            // A kill between the first epoch's metrics line and its checkpoint leaves the line.
            truncate_metrics(out, 0)?;
            let data = Corpora::read(&config)?;
            return Run::prepare(config, data, out, device, obs);
        };
        let mut data = Corpora::read(&config)?;
        pseudo_label(&config, &mut data, obs)?;
        let mut ck = model_dir::load(&dir, Device::Cpu)?;
        let mut contextual = ck.contextual.take();
        let tags = ck.model.tags.clone();
        let mut trainer = Trainer::new(
            &ck.model.config,
            ck.vocab,
            &tags,
            config.train.clone(),
            device,
        )?;
        if let Some(c) = contextual.as_mut() {
            trainer.finetune(c);
        }
        if let Some(t) = ck.model.subword_table {
            trainer.model.set_subword_table(t, device);
        }
        model_dir::load_weights(&trainer.vs, &dir.join(model_dir::WEIGHTS))?;
        run_checkpoint::restore(&dir, &mut trainer, &state)?;
        truncate_metrics(out, state.epoch)?;
        obs.info(&format!(
            "resuming after epoch {} (best dev F1 {:.2} at epoch {})",
            state.epoch, state.best_f1, state.best_epoch
        ));
        let config = RunConfig {
            model: ck.model.config,
            ..config
        };
        Run::assemble(config, data, out, device, trainer, contextual, state)
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Keeps only the first `n` training sentences (for benchmarks).
    pub fn limit_examples(&mut self, n: usize) {
        self.examples.truncate(n);
    }

    /// Trains one epoch without evaluating or saving (for benchmarks).
    pub fn train_epoch(&mut self, epoch: usize, obs: &mut dyn Observer) -> Result<EpochStats> {
        self.epoch_with_progress(epoch, obs)
    }

    /// Runs the remaining epochs, then evaluates the best model on the test set.
    pub fn fit(&mut self, obs: &mut dyn Observer) -> Result<RunResult> {
        let mut interrupted = false;
        for epoch in self.state.epoch + 1..=self.config.train.epochs {
            if self.finished() {
                break;
            }
            let stats = self.epoch_with_progress(epoch, obs)?;
            if stats.interrupted {
                obs.info(&format!(
                    "stopped during epoch {epoch}; the run can continue with --resume {}",
                    self.out.display()
                ));
                interrupted = true;
                break;
            }
            self.finish_epoch(epoch, stats, obs)?;
            if self.finished() && epoch < self.config.train.epochs {
                obs.info(&format!(
                    "no better dev F1 for {} epochs (after {} steps): stopping early",
                    self.config.train.patience, self.state.optimizer_steps
                ));
                break;
            }
            if obs.should_stop() && epoch < self.config.train.epochs {
                obs.info(&format!(
                    "interrupted after epoch {epoch}; the run can continue with --resume {}",
                    self.out.display()
                ));
                interrupted = true;
                break;
            }
        }
        self.conclude(interrupted, obs)
    }

    /// Trains epoch `epoch`, reporting every batch as it ends.
    fn epoch_with_progress(&mut self, epoch: usize, obs: &mut dyn Observer) -> Result<EpochStats> {
        obs.epoch_started(epoch, self.config.train.epochs, self.examples.len());
        let obs_cell = std::cell::RefCell::new(obs);
        let stop = || obs_cell.borrow().should_stop();
        let examples = &self.examples;
        self.trainer
            .epoch(epoch, examples, self.packed_from, &stop, |p| {
                obs_cell.borrow_mut().batch_done(p)
            })
    }

    /// No epoch is left under the run's limits: the last one ran, or early stopping ended it.
    fn finished(&self) -> bool {
        self.state.is_done(&self.config.train)
    }

    /// Evaluates the epoch's (averaged) weights on dev, keeps the best model, and writes the
    /// metrics line and the checkpoint.
    fn finish_epoch(
        &mut self,
        epoch: usize,
        stats: EpochStats,
        obs: &mut dyn Observer,
    ) -> Result<()> {
        self.trainer.average.swap();
        let t_eval = Instant::now();
        let evaluated = self.evaluate_dev();
        let (report, _) = match evaluated {
            Ok(r) => r,
            Err(e) => {
                self.trainer.average.swap();
                return Err(e);
            }
        };
        let eval_seconds = t_eval.elapsed().as_secs_f64();
        let improved = self.record(epoch, report.overall.f1);
        let saved = if improved {
            self.save_best(epoch, &report)
        } else {
            Ok(())
        };
        self.trainer.average.swap();
        saved?;
        let line = EpochLine::new(epoch, &stats, &report, eval_seconds, improved);
        append_metrics(&self.out, &line)?;
        run_checkpoint::save(&self.out, &self.trainer, &self.state)?;
        obs.epoch_finished(&EpochReport {
            epoch,
            epochs: self.config.train.epochs,
            stats,
            dev: &report,
            eval_seconds,
            improved,
        });
        Ok(())
    }

    /// Scores dev with the current weights (the transformer's features computed again when
    /// it is fine-tuned).
    fn evaluate_dev(&mut self) -> Result<(Report, Vec<Vec<usize>>)> {
        if let Some(c) = &self.tuned {
            let features = corpus_features(Some(c), &self.trainer.model.config, &self.data.dev)?;
            self.dev = evaluate::encode(&self.trainer.vocab, &self.data.dev, features);
        }
        let inference = Inference::plain(self.config.eval_batch_size, self.device);
        evaluate_encoded(&self.trainer.model, &self.data.dev, &self.dev, inference)
    }

    /// Updates the run state with epoch `epoch`'s dev F1; whether it is the best so far.
    fn record(&mut self, epoch: usize, f1: f64) -> bool {
        let s = &mut self.state;
        let improved = f1 > s.best_f1;
        s.epoch = epoch;
        if improved {
            s.best_f1 = f1;
            s.best_epoch = epoch;
            s.stale = 0;
        } else {
            s.stale += 1;
        }
        s.optimizer_steps = self.trainer.optimizer.steps();
        s.average_steps = self.trainer.average.steps();
        improved
    }

    fn save_best(&self, epoch: usize, dev: &Report) -> Result<()> {
        let mut meta = Meta::new(self.name());
        meta.training = self.training_meta();
        meta.metrics = serde_json::json!({"epoch": epoch, "dev": dev.to_json()});
        let t = &self.trainer;
        model_dir::save(&self.out, &t.vs, &t.model, &t.vocab, &meta)
    }

    fn name(&self) -> String {
        self.config.name.clone().unwrap_or_else(|| {
            self.out
                .file_name()
                .map_or("model".into(), |n| n.to_string_lossy().into_owned())
        })
    }

    /// What `meta.json` records of the training; `train_sentences` counts the `--unlabelled`
    /// ones too (`unlabelled_sentences` of them), which the teacher tagged.
    fn training_meta(&self) -> serde_json::Value {
        let (d, inputs) = (&self.data, &self.config.inputs);
        serde_json::json!({
            "train": d.train.path, "dev": d.dev.path, "test": d.test.as_ref().map(|t| &t.path),
            "train_sentences": d.train.sentences.len(), "train_tokens": d.train.tokens(),
            "file_scheme": d.train.scheme, "options": self.config.train,
            "pretrained": inputs.pretrained, "teacher": inputs.teacher,
            "unlabelled": inputs.unlabelled, "unlabelled_sentences": d.unlabelled(),
            "run_config": RUN_CONFIG,
        })
    }

    /// After the last epoch: the best model must exist; the test set is scored with it.
    fn conclude(&mut self, interrupted: bool, obs: &mut dyn Observer) -> Result<RunResult> {
        if !model_dir::is_model_dir(&self.out) {
            return Err(TrainError::data(format!(
                "no epoch completed: no model was written to {}",
                self.out.display()
            )));
        }
        obs.info(&format!(
            "best dev F1 {:.2} at epoch {}; model in {}",
            self.state.best_f1,
            self.state.best_epoch,
            self.out.display()
        ));
        let test = match (&self.data.test, interrupted) {
            (Some(test), false) => Some(self.score_test(test, obs)?),
            _ => None,
        };
        Ok(RunResult {
            dev_f1: self.state.best_f1,
            best_epoch: self.state.best_epoch,
            epochs_done: self.state.epoch,
            test,
            interrupted,
        })
    }

    fn score_test(&self, test: &Corpus, obs: &mut dyn Observer) -> Result<Report> {
        let best = model_dir::load(&self.out, self.device)?;
        let inference = Inference::plain(self.config.eval_batch_size, self.device);
        let features = corpus_features(best.contextual.as_ref(), &best.model.config, test)?;
        let (report, _) = evaluate(&best.model, &best.vocab, test, features, inference)?;
        let mut meta = best.meta.clone();
        meta.metrics["test"] = report.to_json();
        model_dir::write_meta(&self.out, &meta)?;
        obs.test_evaluated(&report);
        Ok(report)
    }
}

/// `config` with the base model's architecture, fine-tuning as many transformer layers as the
/// run asks (`--finetune-layers`) or as the base already did, whichever is more.
fn base_architecture(
    config: RunConfig,
    base: &crate::config::ModelConfig,
    dir: &Path,
) -> Result<RunConfig> {
    let finetune_layers = config.model.finetune_layers.max(base.finetune_layers);
    if finetune_layers > 0 && base.contextual_layers.is_empty() {
        return Err(TrainError::Config(format!(
            "{} has no contextual features whose transformer could be fine-tuned",
            dir.display()
        )));
    }
    let model = crate::config::ModelConfig {
        finetune_layers,
        ..base.clone()
    };
    model.validate().map_err(TrainError::Config)?;
    Ok(RunConfig { model, ..config })
}

/// With `--keep-labels`, adds the base model's confident predictions of the labels the
/// training corpus lacks (see [`keep_labels`]); the same on resume, so that a resumed run
/// trains on the same targets.
fn pseudo_label(config: &RunConfig, data: &mut Corpora, obs: &mut dyn Observer) -> Result<()> {
    let (true, Some(base)) = (config.inputs.keep_labels, &config.inputs.init_from) else {
        return Ok(());
    };
    let added = keep_labels::apply(&mut data.train, base, config.inputs.keep_labels_threshold)?;
    obs.info(&format!(
        "keep-labels: pseudo-labels of {} from {} (probability >= {}): {} entities in {} training sentences",
        if added.labels.is_empty() {
            "no label (the corpus has all of the base model's)".to_owned()
        } else {
            added.labels.join(", ")
        },
        base.display(),
        config.inputs.keep_labels_threshold,
        added.entities,
        added.sentences
    ));
    Ok(())
}

/// The index of the first example whose sentences came from `--unlabelled` (the examples'
/// count when none did). Examples hold the training sentences in order, and a window never
/// joins two documents, so the labelled sentences fill the examples before it.
fn first_unlabelled(examples: &[Encoded], data: &Corpora) -> usize {
    let labelled = data.train.sentences.len() - data.unlabelled().min(data.train.sentences.len());
    let mut sentences = 0;
    examples
        .iter()
        .position(|e| {
            let before = sentences;
            sentences += e.sentences();
            before >= labelled
        })
        .unwrap_or(examples.len())
}
