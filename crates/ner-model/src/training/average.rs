//! An exponential moving average of the weights (Polyak averaging), which is what a run
//! evaluates, keeps as best and saves when `ema > 0`. SGD's last steps make dev F1 jump by a
//! point from epoch to epoch on small corpora; the average does not.

use super::saved::{self, Saved};
use crate::error::Result;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

#[derive(Debug)]
pub struct WeightAverage {
    decay: f64,
    /// (variable name, variable, average), in name order; empty when averaging is off.
    entries: Vec<(String, Tensor, Tensor)>,
    /// Updates so far, for the warm-up.
    steps: u64,
}

impl WeightAverage {
    /// Starts from the current weights of `vs` (after any initialisation or resume); off when
    /// `decay` is 0.
    pub fn start(vs: &VarStore, decay: f64) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let entries = if decay > 0.0 {
            vars.into_iter()
                .filter(|(_, v)| v.requires_grad())
                .map(|(name, v)| {
                    let avg = tch::no_grad(|| v.detach().copy());
                    (name, v, avg)
                })
                .collect()
        } else {
            Vec::new()
        };
        WeightAverage {
            decay,
            entries,
            steps: 0,
        }
    }

    pub fn is_on(&self) -> bool {
        !self.entries.is_empty()
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Folds the current weights in.
    pub fn update(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        self.steps += 1;
        // Warm-up (as TensorFlow's ExponentialMovingAverage with num_updates): early steps
        // weigh more, so that the average is not dominated by the random initialisation.
        let s = self.steps as f64;
        let decay = self.decay.min((1.0 + s) / (10.0 + s));
        tch::no_grad(|| {
            for (_, v, avg) in &mut self.entries {
                let _ = avg.lerp_(v, 1.0 - decay);
            }
        });
    }

    /// Swaps the weights with their average (a no-op when off); call it again to swap back.
    /// Evaluate and save between the two calls.
    pub fn swap(&mut self) {
        tch::no_grad(|| {
            for (_, v, avg) in &mut self.entries {
                let tmp = v.copy();
                v.copy_(avg);
                avg.copy_(&tmp);
            }
        });
    }

    /// Writes the average to `path` (through a temporary file and a rename); nothing when off.
    pub fn save(&self, path: &Path) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let named: Vec<(String, &Tensor)> = self
            .entries
            .iter()
            .map(|(n, _, a)| (n.clone(), a))
            .collect();
        saved::write(path, &named)
    }

    /// Replaces the average by the one [`WeightAverage::save`] wrote after `steps` updates;
    /// names and shapes must match.
    pub fn load(&mut self, path: &Path, steps: u64) -> Result<()> {
        let saved = Saved::read(path, "the weight average")?;
        for (name, _, avg) in &mut self.entries {
            saved.copy_into(name, avg)?;
        }
        self.steps = steps;
        Ok(())
    }
}
