//! One model being trained: its variables, optimiser and weight average, and the epoch loop
//! over length-bucketed batches (CRF negative log-likelihood, gradient-norm clipping, a step).
//!
//! Randomness is a function of the seed and the epoch: batch order and dropout are re-seeded
//! at the start of every epoch, so a run resumed at an epoch boundary draws exactly what an
//! uninterrupted one draws.

use super::average::WeightAverage;
use super::batching::{self, Plan};
use super::optimizer::Optimizer;
use super::options::TrainOptions;
use crate::batch::Batch;
use crate::config::ModelConfig;
use crate::error::{Result, TrainError};
use crate::model::BiLstmCrf;
use crate::vocab::{Encoded, Vocab};
use ner_core::TagSet;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tch::nn::VarStore;
use tch::Device;

/// What one epoch did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub loss: f64,
    pub seconds: f64,
    pub tokens: usize,
    pub sentences: usize,
    pub lr: f64,
    /// The epoch stopped early because a stop was requested.
    pub interrupted: bool,
}

/// Progress within an epoch, after a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchProgress {
    pub sentences_done: usize,
    pub sentences: usize,
    pub mean_loss: f64,
    pub tokens: usize,
    pub seconds: f64,
}

pub struct Trainer {
    pub vs: VarStore,
    pub model: BiLstmCrf,
    pub vocab: Vocab,
    pub opts: TrainOptions,
    pub optimizer: Optimizer,
    pub average: WeightAverage,
    rng: StdRng,
    device: Device,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A freshly initialised model. Change its variables (pretrained embeddings, a resumed
    /// checkpoint) and then call [`Trainer::restart_average`].
    pub fn new(
        config: &ModelConfig,
        vocab: Vocab,
        tags: &TagSet,
        opts: TrainOptions,
        device: Device,
    ) -> Result<Self> {
        config.validate().map_err(TrainError::Config)?;
        opts.validate().map_err(TrainError::Config)?;
        if config.lexicon_dropout > 0.0 && !vocab.lexicon_keeps_unseen() {
            // Dropout replaces words by the table's last entry, which must be `<unseen>`.
            return Err(TrainError::Config(
                "lexicon_dropout needs a lexicon that keeps the whole dictionary: train it from \
                 scratch with --lexicon FILE --lexicon-dropout P (a base model's lexicon is kept \
                 as it was built)"
                    .into(),
            ));
        }
        tch::manual_seed(opts.seed as i64);
        let vs = VarStore::new(device);
        let model = BiLstmCrf::new(
            &vs.root(),
            config,
            tags,
            vocab.num_words() as i64,
            vocab.num_chars() as i64,
            vocab.num_bigrams() as i64,
            vocab.num_lexicon() as i64,
        );
        let optimizer = Optimizer::new(&vs, &opts);
        let average = WeightAverage::start(&vs, opts.ema);
        Ok(Trainer {
            rng: StdRng::seed_from_u64(opts.seed),
            vs,
            model,
            vocab,
            opts,
            optimizer,
            average,
            device,
        })
    }

    /// Fine-tunes the top `config.finetune_layers` layers of `c`'s transformer with the
    /// model (nothing when that is 0): they become variables, which the optimiser (started
    /// again, before any step) and the weight average take in.
    pub fn finetune(&mut self, c: &mut crate::contextual::Contextual) {
        self.model.finetune(&self.vs.root(), c);
        self.optimizer = Optimizer::new(&self.vs, &self.opts);
        self.restart_average();
    }

    /// Starts the weight average again from the current weights.
    pub fn restart_average(&mut self) {
        self.average = WeightAverage::start(&self.vs, self.opts.ema);
    }

    /// Zeroes the gradients of everything but the projection and the CRF, so that this step
    /// leaves them as they are (SGD momentum and Adam's moments stay zero too).
    fn freeze_encoder(&mut self) {
        for (name, v) in self.vs.variables() {
            let mut g = v.grad();
            if g.defined() && crate::model::is_encoder(&name) {
                let _ = g.zero_();
            }
        }
    }

    /// Re-seeds batch shuffling and libtorch's generator for `epoch`.
    fn reseed_for_epoch(&mut self, epoch: usize) {
        let seed = self.opts.seed;
        self.rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        tch::manual_seed((seed as i64).wrapping_mul(7919).wrapping_add(epoch as i64));
    }

    /// Trains epoch `epoch` (1-based) over `data`, whose examples from `packed_from` on are
    /// batched by tokens (see [`super::batching`]). `progress` is called after every batch;
    /// when `stop()` turns true the epoch ends after the current batch, marked interrupted.
    pub fn epoch(
        &mut self,
        epoch: usize,
        data: &[Encoded],
        packed_from: usize,
        stop: &dyn Fn() -> bool,
        mut progress: impl FnMut(&BatchProgress),
    ) -> Result<EpochStats> {
        self.reseed_for_epoch(epoch);
        let lr = self.opts.lr_at(epoch);
        self.optimizer.set_lr(lr);
        let usable: Vec<usize> = (0..data.len()).filter(|&i| !data[i].is_empty()).collect();
        let lens: Vec<usize> = usable.iter().map(|&i| data[i].len()).collect();
        let plan = Plan {
            batch_size: self.opts.batch_size,
            token_budget: self.opts.batch_size * self.model.config.context_tokens,
            packed_from: usable.partition_point(|&i| i < packed_from),
        };
        let batches = batching::batches(&mut self.rng, &lens, &plan);
        let sentences = usable.iter().map(|&i| data[i].sentences()).sum();
        let start = Instant::now();
        let (mut total, mut done, mut tokens, mut n_batches) = (0.0, 0usize, 0usize, 0usize);
        let mut interrupted = false;
        for b in &batches {
            if stop() {
                interrupted = true;
                break;
            }
            let items: Vec<&Encoded> = b.iter().map(|&i| &data[usable[i]]).collect();
            let (loss, batch_tokens) = self.step(epoch, &items)?;
            total += loss;
            n_batches += 1;
            done += items.iter().map(|e| e.sentences()).sum::<usize>();
            tokens += batch_tokens;
            progress(&BatchProgress {
                sentences_done: done,
                sentences,
                mean_loss: total / n_batches as f64,
                tokens,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        Ok(EpochStats {
            loss: if n_batches > 0 {
                total / n_batches as f64
            } else {
                0.0
            },
            seconds: start.elapsed().as_secs_f64(),
            tokens,
            sentences: done,
            lr,
            interrupted,
        })
    }

    /// One optimisation step on a batch; returns its loss and token count.
    fn step(&mut self, epoch: usize, items: &[&Encoded]) -> Result<(f64, usize)> {
        let mut batch = Batch::new(items, self.device);
        if let Some(t) = &self.model.tuning {
            let t_max = batch.max_len() as usize;
            batch.transformer = t.pieces(items, t_max, self.device);
            if batch.transformer.is_none() && batch.contextual.is_none() {
                return Err(TrainError::data(
                    "fine-tuning the transformer needs every training word's pieces",
                ));
            }
        }
        let Some(loss) = self.model.loss(&batch, true, self.opts.teacher_weight) else {
            return Err(TrainError::data("training sentences need gold tags"));
        };
        self.optimizer.zero_grad();
        loss.backward();
        if epoch <= self.opts.freeze_encoder_epochs {
            self.freeze_encoder();
        }
        if self.opts.clip > 0.0 {
            self.optimizer.clip_grad_norm(self.opts.clip);
        }
        self.optimizer.step();
        self.average.update();
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            return Err(TrainError::data(format!(
                "the training loss became {l} in epoch {epoch}; lower the learning rate or enable clipping"
            )));
        }
        Ok((l, batch.tokens() as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{Dictionary, Lexicon};
    use ner_core::LabelSet;

    #[test]
    fn lexicon_dropout_is_refused_without_the_unseen_entry() {
        let words = ["北", "京"];
        let config = ModelConfig {
            lexicon_dim: 2,
            lexicon_dropout: 0.2,
            ..ModelConfig::default()
        };
        let mut vocab = Vocab::build(words.iter().copied(), &config, 1);
        let dict = Dictionary::from_words(["北京", "京城"]);
        let sentence: &[&str] = &words;
        let tags = TagSet::new(config.scheme, LabelSet::frozen_from(["LOC"]));
        let start = |v: &Vocab| {
            Trainer::new(
                &config,
                v.clone(),
                &tags,
                TrainOptions::default(),
                Device::Cpu,
            )
        };
        vocab.set_lexicon(Some(Lexicon::build(&dict, &[sentence], false)));
        let err = start(&vocab).unwrap_err().to_string();
        assert!(err.contains("lexicon_dropout"), "{err}");
        vocab.set_lexicon(Some(Lexicon::build(&dict, &[sentence], true)));
        assert!(start(&vocab).is_ok());
    }
}
