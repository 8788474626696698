//! SGD with momentum, Adam and Nadam over a `VarStore`, written out so that their state
//! (momentum, moment estimates, step count) can be saved and restored exactly: a resumed run
//! then takes bit-for-bit the steps an uninterrupted one takes. The update rules are PyTorch's
//! (`torch.optim.SGD` without dampening, `torch.optim.Adam` and `torch.optim.NAdam` without
//! weight decay), and gradient-norm clipping is `clip_grad_norm_`'s.

use super::options::{OptimizerKind, TrainOptions};
use super::saved::{self, Saved};
use crate::error::Result;
use ner_tagger::bert::TUNED_PREFIX;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
const ADAM_EPS: f64 = 1e-8;
/// NAdam's momentum decay ψ (PyTorch's default).
const NADAM_PSI: f64 = 0.004;

/// NAdam's momentum coefficient of step `t`: β₁ (1 − ½ · 0.96^(tψ)).
fn nadam_mu(t: u64) -> f64 {
    ADAM_BETAS.0 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * NADAM_PSI))
}

/// The product of NAdam's coefficients of steps 1..=t, in step order (so that a resumed run
/// computes the same floating-point value an uninterrupted one carried).
fn nadam_mu_product(t: u64) -> f64 {
    (1..=t).fold(1.0, |p, i| p * nadam_mu(i))
}

/// One trainable variable and its optimiser state.
#[derive(Debug)]
struct Slot {
    name: String,
    var: Tensor,
    /// SGD's momentum buffer, or Adam's first moment.
    first: Tensor,
    /// Adam's second moment (unused by SGD).
    second: Tensor,
    /// A fine-tuned transformer's variable: it steps with Adam at its own rate, after a
    /// warm-up.
    tuned: bool,
}

#[derive(Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    momentum: f64,
    lr: f64,
    /// The fine-tuned transformer's learning rate and its warm-up in steps.
    tuned_lr: f64,
    warmup: u64,
    slots: Vec<Slot>,
    /// Steps taken so far.
    steps: u64,
    /// NAdam's product of momentum coefficients so far.
    mu_product: f64,
}

impl Optimizer {
    /// An optimiser over every trainable variable of `vs`, in name order.
    pub fn new(vs: &VarStore, opts: &TrainOptions) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, v)| v.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let zeros = || tch::no_grad(|| var.zeros_like());
                Slot {
                    first: zeros(),
                    second: zeros(),
                    tuned: name.starts_with(TUNED_PREFIX),
                    name,
                    var,
                }
            })
            .collect();
        Optimizer {
            kind: opts.optimizer,
            momentum: opts.momentum,
            lr: opts.lr_at(1),
            tuned_lr: opts.finetune_lr,
            warmup: opts.finetune_warmup,
            slots,
            steps: 0,
            mu_product: 1.0,
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn zero_grad(&mut self) {
        for s in &self.slots {
            let mut g = s.var.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Scales the gradients so that their joint L2 norm is at most `max_norm`.
    pub fn clip_grad_norm(&self, max_norm: f64) {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .slots
                .iter()
                .map(|s| s.var.grad())
                .filter(Tensor::defined)
                .collect();
            if grads.is_empty() {
                return;
            }
            let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let coef = (max_norm / (total + 1e-6)).min(1.0);
            for mut g in grads {
                let _ = g.g_mul_scalar_(coef);
            }
        });
    }

    /// One update of every variable that has a gradient.
    pub fn step(&mut self) {
        self.steps += 1;
        let t = self.steps as i32;
        let nesterov = (self.kind == OptimizerKind::Nadam).then(|| {
            self.mu_product *= nadam_mu(self.steps);
            Nesterov {
                mu: nadam_mu(self.steps),
                mu_next: nadam_mu(self.steps + 1),
                product: self.mu_product,
            }
        });
        let tuned_lr = self.tuned_lr * self.warmed(self.steps);
        tch::no_grad(|| {
            for s in &mut self.slots {
                let g = s.var.grad();
                if !g.defined() {
                    continue;
                }
                match self.kind {
                    _ if s.tuned => adam(s, &g, tuned_lr, t),
                    OptimizerKind::Sgd => sgd(s, &g, self.lr, self.momentum, t == 1),
                    OptimizerKind::Adam => adam(s, &g, self.lr, t),
                    OptimizerKind::Nadam => {
                        if let Some(n) = &nesterov {
                            nadam(s, &g, self.lr, t, n);
                        }
                    }
                }
            }
        });
    }

    /// The warm-up's factor at step `step` (1-based): `step / warmup`, at most 1.
    fn warmed(&self, step: u64) -> f64 {
        match self.warmup {
            0 => 1.0,
            w => (step as f64 / w as f64).min(1.0),
        }
    }

    /// Writes the state (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, &Tensor)> = Vec::new();
        for s in &self.slots {
            named.push((format!("{}#first", s.name), &s.first));
            if self.kind != OptimizerKind::Sgd || s.tuned {
                named.push((format!("{}#second", s.name), &s.second));
            }
        }
        saved::write(path, &named)
    }

    /// Restores the state [`Optimizer::save`] wrote, after `steps` steps.
    pub fn load(&mut self, path: &Path, steps: u64) -> Result<()> {
        let saved = Saved::read(path, "the optimiser state")?;
        for s in &mut self.slots {
            saved.copy_into(&format!("{}#first", s.name), &mut s.first)?;
            if self.kind != OptimizerKind::Sgd || s.tuned {
                saved.copy_into(&format!("{}#second", s.name), &mut s.second)?;
            }
        }
        self.steps = steps;
        self.mu_product = nadam_mu_product(steps);
        Ok(())
    }
}

/// `buf = momentum · buf + g` (`buf = g` on the first step), `p -= lr · buf`.
fn sgd(s: &mut Slot, g: &Tensor, lr: f64, momentum: f64, first: bool) {
    if momentum == 0.0 {
        let _ = s.var.g_sub_(&(g * lr));
        return;
    }
    if first {
        s.first.copy_(g);
    } else {
        let _ = s.first.g_mul_scalar_(momentum).g_add_(g);
    }
    let _ = s.var.g_sub_(&(&s.first * lr));
}

/// Adam with bias correction, as PyTorch computes it.
fn adam(s: &mut Slot, g: &Tensor, lr: f64, t: i32) {
    let (b1, b2) = ADAM_BETAS;
    let _ = s.first.lerp_(g, 1.0 - b1);
    let _ = s.second.g_mul_scalar_(b2).g_add_(&(g * g * (1.0 - b2)));
    let bias1 = 1.0 - b1.powi(t);
    let bias2 = 1.0 - b2.powi(t);
    let denom = s.second.sqrt() / bias2.sqrt() + ADAM_EPS;
    let _ = s.var.g_sub_(&(&s.first / denom * (lr / bias1)));
}

/// NAdam's momentum coefficients at one step.
struct Nesterov {
    mu: f64,
    mu_next: f64,
    /// The product of the coefficients up to this step.
    product: f64,
}

/// NAdam (Adam with Nesterov momentum), as PyTorch computes it.
fn nadam(s: &mut Slot, g: &Tensor, lr: f64, t: i32, n: &Nesterov) {
    let (b1, b2) = ADAM_BETAS;
    let _ = s.first.lerp_(g, 1.0 - b1);
    let _ = s.second.g_mul_scalar_(b2).g_add_(&(g * g * (1.0 - b2)));
    let bias2 = 1.0 - b2.powi(t);
    let denom = (&s.second / bias2).sqrt() + ADAM_EPS;
    let now = lr * (1.0 - n.mu) / (1.0 - n.product);
    let ahead = lr * n.mu_next / (1.0 - n.product * n.mu_next);
    let _ = s.var.g_sub_(&(g / &denom * now));
    let _ = s.var.g_sub_(&(&s.first / &denom * ahead));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Three steps of NAdam on a loss whose gradient is `t · [0.1, −0.3, 0.2]`, against
    /// PyTorch 2.13's `torch.optim.NAdam(lr=0.01)` in float64 (our variables are float32, hence
    /// the tolerance):
    /// ```python
    /// p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    /// opt = torch.optim.NAdam([p], lr=0.01)
    /// for t in range(1, 4):
    ///     opt.zero_grad(); (p * torch.tensor([0.1, -0.3, 0.2], dtype=torch.float64) * t).sum().backward(); opt.step()
    /// ```
    /// Plain SGD at rate 1 on a gradient of ones: the model's variable steps 1 each time; the
    /// fine-tuned transformer's steps with Adam, whose bias-corrected step on a constant
    /// gradient is its rate, `finetune_lr · min(1, step / warmup)`.
    #[test]
    fn the_fine_tuned_transformer_steps_with_adam_after_a_warm_up() {
        let vs = VarStore::new(Device::Cpu);
        let model = vs.root().zeros("w", &[1]);
        let tuned = (vs.root() / "transformer").zeros("x", &[1]);
        let opts = TrainOptions {
            lr: Some(1.0),
            momentum: 0.0,
            finetune_lr: 0.5,
            finetune_warmup: 2,
            ..Default::default()
        };
        let mut opt = Optimizer::new(&vs, &opts);
        let want = [(-1.0, -0.25), (-2.0, -0.75), (-3.0, -1.25)];
        for (w_model, w_tuned) in want {
            opt.zero_grad();
            (&model + &tuned).sum(Kind::Float).backward();
            opt.step();
            assert_eq!(model.double_value(&[0]), w_model);
            assert!((tuned.double_value(&[0]) - w_tuned).abs() < 1e-6);
        }
    }

    #[test]
    fn nadam_takes_pytorchs_steps() {
        let expected = [
            [0.989435483143, -1.989435482439, 0.489435482615],
            [0.979806010216, -1.979806009106, 0.479806009384],
            [0.970188021642, -1.970188020235, 0.470188020587],
        ];
        let vs = VarStore::new(Device::Cpu);
        let init = Tensor::from_slice(&[1.0f64, -2.0, 0.5]);
        let p = vs.root().var_copy("p", &init);
        let opts = TrainOptions {
            optimizer: OptimizerKind::Nadam,
            lr: Some(0.01),
            ..Default::default()
        };
        let mut opt = Optimizer::new(&vs, &opts);
        for (t, want) in expected.iter().enumerate() {
            opt.zero_grad();
            let g = Tensor::from_slice(&[0.1f64, -0.3, 0.2]) * (t + 1) as f64;
            (&p * g).sum(Kind::Double).backward();
            opt.step();
            let got: Vec<f64> = Vec::try_from(&p.detach()).unwrap();
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "step {}: {got:?} vs {want:?}", t + 1);
            }
        }
        assert_eq!(
            opt.mu_product,
            nadam_mu_product(3),
            "the product restored on resume"
        );
    }
}
