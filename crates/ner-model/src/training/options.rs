//! The settings of a training run that are not the architecture.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum; learning rate `lr / (1 + decay · epoch)`.
    #[default]
    Sgd,
    Adam,
    /// Adam with Nesterov momentum (Dozat 2016), which Reimers & Gurevych (2017) found the
    /// most reliable optimiser for BiLSTM-CRF taggers.
    Nadam,
}

/// Settings of a training run (those that are not the architecture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    /// Learning rate (`None`: 0.015 for SGD, 0.001 for Adam, 0.002 for Nadam).
    pub lr: Option<f64>,
    /// Per-epoch decay of the learning rate, lr / (1 + decay * (epoch - 1)) (`None`: 0.05 for
    /// SGD, none for Adam and Nadam, whose steps adapt on their own; Reimers & Gurevych 2017
    /// ran Nadam at a constant rate, but with our small batches its dev F1 levels off early).
    pub lr_decay: Option<f64>,
    pub momentum: f64,
    /// Maximum gradient norm (0: no clipping).
    pub clip: f64,
    /// Stop after this many epochs without a better dev F1 (0: never)...
    pub patience: usize,
    /// ...but never before this many optimisation steps: a small corpus has few steps per
    /// epoch, and its dev F1 can stall for several epochs after a slow start.
    pub min_steps: u64,
    pub seed: u64,
    /// Decay of an exponential moving average of the weights (Polyak averaging), which is
    /// what is evaluated and saved; 0 turns it off. SGD's last steps make dev F1 jump by a
    /// point from epoch to epoch on small corpora; the average does not.
    pub ema: f64,
    /// Train only the projection and the CRF for this many first epochs (the rest frozen), as
    /// when starting from a trained model with new labels.
    pub freeze_encoder_epochs: usize,
    /// With a teacher (`InputConfig::teacher`): the weight of its posterior in the training
    /// target, the gold path taking the rest (1: the teacher alone).
    pub teacher_weight: f64,
    /// With a teacher: its scores are divided by this before its posterior is taken (above 1:
    /// a softer posterior, Hinton et al.'s temperature).
    pub teacher_temperature: f64,
    /// A fine-tuned transformer's learning rate. Its layers step with Adam whatever the
    /// tagger's optimiser, at a small rate, as BERT is fine-tuned (Devlin et al. 2019; Sun et
    /// al. 2019): SGD's steps scale with gradients that are orders of magnitude smaller in the
    /// pretrained layers than in the tagger, and barely move them.
    pub finetune_lr: f64,
    /// The fine-tuned transformer's learning rate rises linearly from 0 over this many first
    /// steps (a warm-up, as BERT's fine-tuning does), so the tagger's first, large gradients
    /// do not wreck the pretrained layers.
    pub finetune_warmup: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 30,
            batch_size: 10,
            optimizer: OptimizerKind::Sgd,
            lr: None,
            lr_decay: None,
            momentum: 0.9,
            clip: 5.0,
            patience: 8,
            min_steps: 2000,
            seed: 1,
            ema: 0.0,
            freeze_encoder_epochs: 0,
            teacher_weight: 0.5,
            teacher_temperature: 1.0,
            finetune_lr: 3e-5,
            finetune_warmup: 500,
        }
    }
}

impl TrainOptions {
    pub fn base_lr(&self) -> f64 {
        self.lr.unwrap_or(match self.optimizer {
            OptimizerKind::Sgd => 0.015,
            OptimizerKind::Adam => 0.001,
            OptimizerKind::Nadam => 0.002,
        })
    }

    /// The per-epoch decay of the learning rate, the optimiser's default unless set.
    pub fn decay(&self) -> f64 {
        self.lr_decay.unwrap_or(match self.optimizer {
            OptimizerKind::Sgd => 0.05,
            OptimizerKind::Adam | OptimizerKind::Nadam => 0.0,
        })
    }

    /// The learning rate of epoch `epoch` (1-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.base_lr() / (1.0 + self.decay() * (epoch.saturating_sub(1)) as f64)
    }
}

impl TrainOptions {
    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 || self.epochs == 0 {
            return Err("batch_size and epochs must be positive".into());
        }
        if !(0.0..1.0).contains(&self.ema) {
            return Err(format!("ema must be in [0, 1), got {}", self.ema));
        }
        if let Some(lr) = self.lr.filter(|lr| !(*lr > 0.0 && lr.is_finite())) {
            return Err(format!("lr must be positive, got {lr}"));
        }
        if !(0.0..=1.0).contains(&self.teacher_weight) {
            return Err(format!(
                "teacher_weight must be in [0, 1], got {}",
                self.teacher_weight
            ));
        }
        if !(self.teacher_temperature > 0.0 && self.teacher_temperature.is_finite()) {
            return Err(format!(
                "teacher_temperature must be positive, got {}",
                self.teacher_temperature
            ));
        }
        if !(self.finetune_lr > 0.0 && self.finetune_lr.is_finite()) {
            return Err(format!(
                "finetune_lr must be positive, got {}",
                self.finetune_lr
            ));
        }
        if let Some(d) = self.lr_decay.filter(|d| !(*d >= 0.0 && d.is_finite())) {
            return Err(format!("lr_decay must be zero or positive, got {d}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_decays_by_the_optimisers_default_unless_set() {
        let sgd = TrainOptions::default();
        assert_eq!(sgd.lr_at(1), 0.015);
        assert!((sgd.lr_at(3) - 0.015 / 1.1).abs() < 1e-15);
        let nadam = TrainOptions {
            optimizer: OptimizerKind::Nadam,
            ..TrainOptions::default()
        };
        assert_eq!(nadam.lr_at(9), 0.002);
        let decayed = TrainOptions {
            lr_decay: Some(0.5),
            ..nadam.clone()
        };
        assert_eq!(decayed.lr_at(3), 0.001);
        let negative = TrainOptions {
            lr_decay: Some(-0.1),
            ..nadam
        };
        assert!(negative.validate().unwrap_err().contains("lr_decay"));
    }
}
