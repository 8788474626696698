//! The training loop: length-bucketed batches, CRF negative log-likelihood, gradient-norm
//! clipping, SGD with momentum (and Ma & Hovy's learning-rate decay) or Adam, and decoding of a
//! dev set with the same Viterbi as serving.
//!
//! Epoch bookkeeping (metrics files, best-model saving, resuming, plots) belongs to the caller;
//! this module runs epochs and predicts.

use crate::batch::Batch;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::model::BiLstmCrf;
use crate::tagger::for_each_emissions;
use crate::vocab::{Encoded, Vocab};
use ner_core::conll::Sentence;
use ner_core::scheme::{convert, intern_tags};
use ner_core::viterbi::Viterbi;
use ner_core::{TagScheme, TagSet};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::nn::{self, OptimizerConfig, VarStore};
use tch::Device;
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum; learning rate `lr / (1 + decay · epoch)`.
    #[default]
    Sgd,
    Adam,
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            _ => Err(format!("unknown optimizer {s:?}: expected sgd or adam")),
        }
    }
}

/// Settings of a training run (those that are not the architecture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    /// Learning rate (`None`: 0.015 for SGD, 0.001 for Adam).
    pub lr: Option<f64>,
    /// Per-epoch decay of the SGD learning rate.
    pub lr_decay: f64,
    pub momentum: f64,
    /// Maximum gradient norm (0: no clipping).
    pub clip: f64,
    /// Stop after this many epochs without a better dev F1 (0: never).
    pub patience: usize,
    pub seed: u64,
    /// Decay of an exponential moving average of the weights (Polyak averaging), which is
    /// what is evaluated and saved; 0 turns it off. SGD's last steps make dev F1 jump by a
    /// point from epoch to epoch on small corpora; the average does not.
    pub ema: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 30,
            batch_size: 10,
            optimizer: OptimizerKind::Sgd,
            lr: None,
            lr_decay: 0.05,
            momentum: 0.9,
            clip: 5.0,
            patience: 8,
            seed: 1,
            ema: 0.0,
        }
    }
}

impl TrainOptions {
    pub fn base_lr(&self) -> f64 {
        self.lr.unwrap_or(match self.optimizer {
            OptimizerKind::Sgd => 0.015,
            OptimizerKind::Adam => 0.001,
        })
    }

    /// The learning rate of epoch `epoch` (1-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.optimizer {
            OptimizerKind::Sgd => {
                self.base_lr() / (1.0 + self.lr_decay * (epoch.saturating_sub(1)) as f64)
            }
            OptimizerKind::Adam => self.base_lr(),
        }
    }
}

/// Converts a CoNLL sentence's tags (any scheme) into the model's tag indices. Labels outside
/// the model's set are an error naming the line.
pub fn encode_tags(sentence: &Sentence, column: usize, tags: &TagSet) -> Result<Vec<i64>> {
    let mut labels = tags.labels().clone();
    let strs = sentence.tag_strs(column);
    let typed = intern_tags(&strs, &mut labels)
        .map_err(|e| ModelError::Data(format!("line {}: {e}", sentence.line)))?;
    Ok(convert(&typed, tags.scheme())
        .into_iter()
        .map(|t| tags.index(t).unwrap_or(0) as i64)
        .collect())
}

/// One sentence's tokens and gold tags as a training example.
pub fn training_example(sentence: &Sentence, vocab: &Vocab, tags: &TagSet) -> Result<Encoded> {
    let mut e = vocab.encode(&sentence.tokens);
    e.tags = Some(encode_tags(sentence, 0, tags)?);
    Ok(e)
}

/// Renders predicted tag indices as strings in `scheme` (the scheme of the file they are
/// compared with).
pub fn render_tags(pred: &[usize], tags: &TagSet, scheme: TagScheme) -> Vec<String> {
    let typed: Vec<_> = pred.iter().map(|&i| tags.tag(i)).collect();
    convert(&typed, scheme)
        .into_iter()
        .map(|t| scheme.render(t, |l| tags.labels().name(*l).to_owned()))
        .collect()
}

/// The best tag path of every sentence, in input order, by batches of `batch_size` sorted by
/// length.
pub fn predict(
    model: &BiLstmCrf,
    data: &[Encoded],
    batch_size: usize,
    device: Device,
) -> Result<Vec<Vec<usize>>> {
    let tr = model.crf.transitions()?;
    let mut viterbi = Viterbi::new();
    let mut out = vec![Vec::new(); data.len()];
    for_each_emissions(model, data, batch_size, device, |i, em| {
        viterbi.decode(&tr, em, &mut out[i]);
    })?;
    Ok(out)
}

/// What one epoch did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub loss: f64,
    pub seconds: f64,
    pub tokens: usize,
    pub sentences: usize,
    pub lr: f64,
    /// The epoch stopped early because `stop` was raised.
    pub interrupted: bool,
}

pub struct Trainer {
    pub vs: VarStore,
    pub model: BiLstmCrf,
    pub vocab: Vocab,
    pub opts: TrainOptions,
    opt: nn::Optimizer,
    rng: StdRng,
    device: Device,
    /// The weights' moving average: (variable name, variable, average), when `opts.ema > 0`.
    average: Vec<(String, Tensor, Tensor)>,
    /// Steps taken, for the average's warm-up.
    steps: u64,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A fresh model; `init` may overwrite variables (pretrained embeddings) before training.
    pub fn new(
        config: &ModelConfig,
        vocab: Vocab,
        tags: &TagSet,
        opts: TrainOptions,
        device: Device,
        init: impl FnOnce(&BiLstmCrf) -> Result<()>,
    ) -> Result<Self> {
        config.validate().map_err(ModelError::Config)?;
        tch::manual_seed(opts.seed as i64);
        let vs = VarStore::new(device);
        let model = BiLstmCrf::new(
            &vs.root(),
            config,
            tags,
            vocab.num_words() as i64,
            vocab.num_chars() as i64,
            vocab.num_bigrams() as i64,
        );
        init(&model)?;
        let lr = opts.lr_at(1);
        let opt = match opts.optimizer {
            OptimizerKind::Sgd => nn::Sgd {
                momentum: opts.momentum,
                ..Default::default()
            }
            .build(&vs, lr)?,
            OptimizerKind::Adam => nn::Adam::default().build(&vs, lr)?,
        };
        let rng = StdRng::seed_from_u64(opts.seed);
        if !(0.0..1.0).contains(&opts.ema) {
            return Err(ModelError::Config(format!(
                "ema must be in [0, 1), got {}",
                opts.ema
            )));
        }
        Ok(Trainer {
            vs,
            model,
            vocab,
            opts,
            opt,
            rng,
            device,
            average: Vec::new(),
            steps: 0,
        })
    }

    /// Starts the moving average from the current weights (call after any initialisation,
    /// and after loading a checkpoint when its average is not at hand).
    pub fn start_average(&mut self) {
        if self.opts.ema <= 0.0 {
            return;
        }
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        self.average = vars
            .into_iter()
            .filter(|(_, v)| v.requires_grad())
            .map(|(name, v)| {
                let avg = tch::no_grad(|| v.detach().copy());
                (name, v, avg)
            })
            .collect();
    }

    /// Writes the moving average to `path` (through a temporary file and a rename); nothing
    /// when averaging is off.
    pub fn save_average(&self, path: &std::path::Path) -> Result<()> {
        if self.average.is_empty() {
            return Ok(());
        }
        let named: Vec<(&str, &Tensor)> = self
            .average
            .iter()
            .map(|(n, _, a)| (n.as_str(), a))
            .collect();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        Tensor::write_safetensors(&named, &tmp)?;
        std::fs::rename(&tmp, path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(())
    }

    /// Replaces the moving average by the one [`Trainer::save_average`] wrote; names and
    /// shapes must match.
    pub fn load_average(&mut self, path: &std::path::Path) -> Result<()> {
        let saved = Tensor::read_safetensors(path).map_err(|e| ModelError::Checkpoint {
            path: path.to_owned(),
            message: format!("unreadable weight average: {e}"),
        })?;
        let by_name: std::collections::HashMap<&str, &Tensor> =
            saved.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for (name, _, avg) in &mut self.average {
            let bad = |message: String| ModelError::Checkpoint {
                path: path.to_owned(),
                message,
            };
            let t = by_name
                .get(name.as_str())
                .ok_or_else(|| bad(format!("the weight average lacks {name}")))?;
            if t.size() != avg.size() {
                return Err(bad(format!(
                    "the weight average of {name} has shape {:?}, the model {:?}",
                    t.size(),
                    avg.size()
                )));
            }
            tch::no_grad(|| avg.copy_(t));
        }
        // The warm-up is long over in a run that saved its average.
        self.steps = 1_000_000;
        Ok(())
    }

    /// Swaps the weights with their moving average (a no-op when averaging is off); call it
    /// again to swap back. Evaluate and save between the two calls.
    pub fn swap_average(&mut self) {
        tch::no_grad(|| {
            for (_, v, avg) in &mut self.average {
                let tmp = v.copy();
                v.copy_(avg);
                avg.copy_(&tmp);
            }
        });
    }

    fn update_average(&mut self) {
        if self.average.is_empty() {
            return;
        }
        self.steps += 1;
        // Warm-up (as TensorFlow's ExponentialMovingAverage with num_updates): early steps
        // weigh more, so that the average is not dominated by the random initialisation.
        let s = self.steps as f64;
        let decay = self.opts.ema.min((1.0 + s) / (10.0 + s));
        tch::no_grad(|| {
            for (_, v, avg) in &mut self.average {
                let _ = avg.lerp_(v, 1.0 - decay);
            }
        });
    }

    /// Re-seeds the batch shuffling, so that a resumed run continues the same sequence.
    pub fn reseed_for_epoch(&mut self, epoch: usize) {
        self.rng = StdRng::seed_from_u64(
            self.opts
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as u64),
        );
        tch::manual_seed(
            (self.opts.seed as i64)
                .wrapping_mul(7919)
                .wrapping_add(epoch as i64),
        );
    }

    /// Length-bucketed batches in random order: sentences are shuffled, cut into pools of 50
    /// batches, each pool sorted by length and cut into batches, and the batches shuffled.
    fn batches(&mut self, n: usize, lens: impl Fn(usize) -> usize) -> Vec<Vec<usize>> {
        let bs = self.opts.batch_size.max(1);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut self.rng);
        let mut batches = Vec::new();
        for pool in idx.chunks_mut(bs * 50) {
            pool.sort_by_key(|&i| lens(i));
            batches.extend(pool.chunks(bs).map(<[usize]>::to_vec));
        }
        batches.shuffle(&mut self.rng);
        batches
    }

    /// Trains one epoch (1-based number) over `data`. `progress(done, total, mean_loss, tokens)`
    /// is called after every batch; raising `stop` ends the epoch after the current batch.
    pub fn epoch(
        &mut self,
        epoch: usize,
        data: &[Encoded],
        stop: &AtomicBool,
        mut progress: impl FnMut(usize, usize, f64, usize),
    ) -> Result<EpochStats> {
        self.reseed_for_epoch(epoch);
        let lr = self.opts.lr_at(epoch);
        self.opt.set_lr(lr);
        let usable: Vec<usize> = (0..data.len()).filter(|&i| !data[i].is_empty()).collect();
        let batches = self.batches(usable.len(), |i| data[usable[i]].len());
        let start = Instant::now();
        let (mut total, mut done, mut tokens, mut n_batches) = (0.0, 0usize, 0usize, 0usize);
        let mut interrupted = false;
        for b in &batches {
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let items: Vec<&Encoded> = b.iter().map(|&i| &data[usable[i]]).collect();
            let batch = Batch::new(&items, self.device);
            let Some(loss) = self.model.loss(&batch, true) else {
                return Err(ModelError::Data("training sentences need gold tags".into()));
            };
            self.opt.zero_grad();
            loss.backward();
            if self.opts.clip > 0.0 {
                self.opt.clip_grad_norm(self.opts.clip);
            }
            self.opt.step();
            self.update_average();
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                return Err(ModelError::Data(format!(
                    "the training loss became {l} in epoch {epoch}; lower the learning rate or enable clipping"
                )));
            }
            total += l;
            n_batches += 1;
            done += items.len();
            tokens += batch.tokens() as usize;
            progress(done, usable.len(), total / n_batches as f64, tokens);
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

    pub fn predict(&self, data: &[Encoded], batch_size: usize) -> Result<Vec<Vec<usize>>> {
        predict(&self.model, data, batch_size, self.device)
    }
}
