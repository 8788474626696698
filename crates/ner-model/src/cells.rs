//! Recurrent cells and the bidirectional encoder.
//!
//! With `x` the input, `h` the previous output, `c` the previous cell state, `σ` the logistic
//! function and `⊙` the element-wise product, each cell computes one step as follows (weights
//! `W·` read the input, `U·` the previous output; each gate has a bias `b·`):
//!
//! - `lstm`: `i = σ(Wi x + Ui h + bi)`, `f = σ(Wf x + Uf h + bf)`, `g = tanh(Wg x + Ug h + bg)`,
//!   `o = σ(Wo x + Uo h + bo)`, `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`. The cell state `c`
//!   is the memory; the forget gate `f` decides what of it to keep, the input gate `i` what of
//!   the tanh candidate `g` to write, the output gate `o` what to expose.
//! - `peephole` (Gers & Schmidhuber 2000): as `lstm`, but the gates also see the cell:
//!   `i = σ(… + pi ⊙ c)`, `f = σ(… + pf ⊙ c)`, and `o = σ(… + po ⊙ c')` reads the new cell.
//! - `cifg` (coupled input and forget gate): as `lstm` without an input gate: `i = 1 - f`, so
//!   `c' = f ⊙ c + (1 - f) ⊙ g`.
//! - `gru` (Cho et al. 2014, libtorch's form): `r = σ(Wr x + Ur h + br)`,
//!   `z = σ(Wz x + Uz h + bz)`, `n = tanh(Wn x + bWn + r ⊙ (Un h + bUn))`,
//!   `h' = (1 - z) ⊙ n + z ⊙ h`.
//! - `rnn`: `h' = tanh(W x + U h + b)`.
//!
//! `lstm`, `gru` and `rnn` run on libtorch's fused kernels; `peephole` and `cifg` are written
//! out step by step here. Weights are laid out as libtorch's: `w_ih [G·H, I]`, `w_hh [G·H, H]`,
//! `b_ih`, `b_hh [G·H]`, gates stacked in the order above (`i f g o`, `r z n`, `f g o` for
//! `cifg`). LSTM-family forget-gate biases start at 1 (Jozefowicz et al. 2015).
//!
//! Bidirectional without reading padding: the backward direction runs forwards over each
//! sentence reversed *within its own length*, so padding (always at the end) comes after every
//! real token in both directions and can never influence a real position.

use crate::config::CellKind;
use crate::threading::Helper;
use tch::nn::{self, Init};
use tch::Tensor;

/// Recurrent state: the output `h` and, for the LSTM family, the cell `c`.
#[derive(Debug)]
pub struct State {
    pub h: Tensor,
    pub c: Option<Tensor>,
}

/// One direction of one layer.
#[derive(Debug)]
pub struct Recurrent {
    kind: CellKind,
    hidden: i64,
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub b_ih: Tensor,
    pub b_hh: Tensor,
    /// Peephole weights `[3·H]`: `pi`, `pf`, `po`.
    pub peep: Option<Tensor>,
}

fn gates(kind: CellKind) -> i64 {
    match kind {
        CellKind::Lstm | CellKind::Peephole => 4,
        CellKind::Gru | CellKind::Cifg => 3,
        CellKind::Rnn => 1,
    }
}

impl Recurrent {
    pub fn new(p: nn::Path, kind: CellKind, input: i64, hidden: i64) -> Self {
        let g = gates(kind);
        let bound = 1.0 / (hidden as f64).sqrt();
        let u = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let w_ih = p.var("w_ih", &[g * hidden, input], u);
        let w_hh = p.var("w_hh", &[g * hidden, hidden], u);
        let b_ih = p.var("b_ih", &[g * hidden], u);
        let b_hh = p.var("b_hh", &[g * hidden], u);
        let forget = match kind {
            CellKind::Lstm | CellKind::Peephole => Some(1),
            CellKind::Cifg => Some(0),
            _ => None,
        };
        if let Some(chunk) = forget {
            tch::no_grad(|| {
                let _ = b_ih.narrow(0, chunk * hidden, hidden).fill_(1.0);
                let _ = b_hh.narrow(0, chunk * hidden, hidden).fill_(0.0);
            });
        }
        let peep = (kind == CellKind::Peephole).then(|| p.var("peep", &[3 * hidden], u));
        Recurrent {
            kind,
            hidden,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            peep,
        }
    }

    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// Sets the initial bias of the forget gate (`b_ih`'s forget chunk; `b_hh`'s is 0) of the
    /// LSTM family; other cells have none.
    pub fn set_forget_bias(&self, bias: f64) {
        let chunk = match self.kind {
            CellKind::Lstm | CellKind::Peephole => 1,
            CellKind::Cifg => 0,
            CellKind::Gru | CellKind::Rnn => return,
        };
        tch::no_grad(|| {
            let _ = self
                .b_ih
                .narrow(0, chunk * self.hidden, self.hidden)
                .fill_(bias);
        });
    }

    pub fn hidden(&self) -> i64 {
        self.hidden
    }

    fn zero_state(&self, batch: i64, like: &Tensor) -> State {
        let z = Tensor::zeros([batch, self.hidden], (like.kind(), like.device()));
        let c = matches!(
            self.kind,
            CellKind::Lstm | CellKind::Peephole | CellKind::Cifg
        )
        .then(|| z.shallow_clone());
        State { h: z, c }
    }

    /// Runs over `x [B, T, I]` from a zero state; returns `[B, T, H]`. `train` tells libtorch's
    /// fused kernels to keep what backward needs; it never turns on dropout here.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let b = x.size()[0];
        let s = self.zero_state(b, x);
        self.forward_from(x, &s, train).0
    }

    /// Runs over `x [B, T, I]` from `state`; returns the outputs and the final state.
    pub fn forward_from(&self, x: &Tensor, state: &State, train: bool) -> (Tensor, State) {
        let params = [&self.w_ih, &self.w_hh, &self.b_ih, &self.b_hh];
        match self.kind {
            CellKind::Lstm => {
                let c = state
                    .c
                    .as_ref()
                    .map_or_else(|| state.h.zeros_like(), |c| c.shallow_clone());
                let (h0, c0) = (state.h.unsqueeze(0), c.unsqueeze(0));
                let (out, h, c) = x.lstm(&[&h0, &c0], &params, true, 1, 0.0, train, false, true);
                (
                    out,
                    State {
                        h: h.squeeze_dim(0),
                        c: Some(c.squeeze_dim(0)),
                    },
                )
            }
            CellKind::Gru | CellKind::Rnn => {
                let h0 = state.h.unsqueeze(0);
                let run = if self.kind == CellKind::Gru {
                    Tensor::gru
                } else {
                    Tensor::rnn_tanh
                };
                let (out, h) = run(x, &h0, &params, true, 1, 0.0, train, false, true);
                let h = h.squeeze_dim(0);
                (out, State { h, c: None })
            }
            CellKind::Peephole | CellKind::Cifg => self.explicit(x, state),
        }
    }

    /// The step-by-step loop of the explicit cells. The input projection of all time steps is
    /// one matrix product; only the recurrent part runs per step.
    fn explicit(&self, x: &Tensor, state: &State) -> (Tensor, State) {
        let t_len = x.size()[1];
        let xw = x.matmul(&self.w_ih.tr()) + &self.b_ih;
        let w_hh_t = self.w_hh.tr();
        let mut h = state.h.shallow_clone();
        let mut c = state
            .c
            .as_ref()
            .map_or_else(|| state.h.zeros_like(), |c| c.shallow_clone());
        let mut outs = Vec::with_capacity(t_len as usize);
        let hs = self.hidden;
        for t in 0..t_len {
            let g = xw.select(1, t) + h.matmul(&w_hh_t) + &self.b_hh;
            let chunk = |k: i64| g.narrow(1, k * hs, hs);
            let (new_c, o_pre) = match (&self.kind, &self.peep) {
                (CellKind::Peephole, Some(p)) => {
                    let pi = p.narrow(0, 0, hs);
                    let pf = p.narrow(0, hs, hs);
                    let po = p.narrow(0, 2 * hs, hs);
                    let i = (chunk(0) + &c * pi).sigmoid();
                    let f = (chunk(1) + &c * pf).sigmoid();
                    let cand = chunk(2).tanh();
                    let nc = f * &c + i * cand;
                    let o_pre = chunk(3) + &nc * po;
                    (nc, o_pre)
                }
                _ => {
                    // cifg: f, g, o
                    let f = chunk(0).sigmoid();
                    let cand = chunk(1).tanh();
                    let nc = &f * &c + (1.0 - &f) * cand;
                    (nc, chunk(2))
                }
            };
            h = o_pre.sigmoid() * new_c.tanh();
            c = new_c;
            outs.push(h.shallow_clone());
        }
        let out = if outs.is_empty() {
            Tensor::zeros([x.size()[0], 0, hs], (x.kind(), x.device()))
        } else {
            Tensor::stack(&outs, 1)
        };
        (out, State { h, c: Some(c) })
    }

    /// One step from `state` on `x [B, I]`.
    pub fn step(&self, x: &Tensor, state: &State) -> State {
        self.forward_from(&x.unsqueeze(1), state, false).1
    }

    /// Another handle to the same weights (for use on another thread).
    pub fn shallow_clone(&self) -> Recurrent {
        Recurrent {
            kind: self.kind,
            hidden: self.hidden,
            w_ih: self.w_ih.shallow_clone(),
            w_hh: self.w_hh.shallow_clone(),
            b_ih: self.b_ih.shallow_clone(),
            b_hh: self.b_hh.shallow_clone(),
            peep: self.peep.as_ref().map(Tensor::shallow_clone),
        }
    }

    /// The number of trainable values.
    pub fn num_params(&self) -> i64 {
        [&self.w_ih, &self.w_hh, &self.b_ih, &self.b_hh]
            .into_iter()
            .chain(self.peep.as_ref())
            .map(Tensor::numel)
            .sum::<usize>() as i64
    }
}

/// For each sentence of a batch, the permutation of time steps that reverses its first
/// `len` steps and leaves the padding after them in place: `[B, T]` (an involution).
pub fn reverse_index(lengths: &[i64], t_max: i64) -> Tensor {
    let mut idx = Vec::with_capacity(lengths.len() * t_max as usize);
    for &len in lengths {
        for t in 0..t_max {
            idx.push(if t < len { len - 1 - t } else { t });
        }
    }
    Tensor::from_slice(&idx).view([lengths.len() as i64, t_max])
}

/// Reorders time steps of `x [B, T, D]` by `index [B, T]`.
pub fn permute_time(x: &Tensor, index: &Tensor) -> Tensor {
    let d = x.size()[2];
    let idx = index
        .to_device(x.device())
        .unsqueeze(2)
        .expand([-1, -1, d], false);
    x.gather(1, &idx, false)
}

/// A bidirectional layer: `[B, T, I] -> [B, T, 2H]`, forward outputs first.
#[derive(Debug)]
pub struct BiLayer {
    pub fwd: Recurrent,
    pub bwd: Recurrent,
}

impl BiLayer {
    pub fn new(p: nn::Path, kind: CellKind, input: i64, hidden: i64) -> Self {
        BiLayer {
            fwd: Recurrent::new(&p / "fwd", kind, input, hidden),
            bwd: Recurrent::new(&p / "bwd", kind, input, hidden),
        }
    }

    /// Runs both directions; at inference on the CPU with a `helper`, the backward one runs on
    /// the helper thread (with its own handles to the same weights).
    pub fn forward(
        &self,
        x: &Tensor,
        rev: &Tensor,
        train: bool,
        helper: Option<&Helper>,
    ) -> Tensor {
        let xr = permute_time(x, rev);
        let helper = helper.filter(|_| !train && x.device() == tch::Device::Cpu);
        let (f, b) = match helper {
            Some(h) => {
                let bwd = self.bwd.shallow_clone();
                let xr2 = xr.shallow_clone();
                let pending = h.submit(move || bwd.forward(&xr2, false));
                let f = self.fwd.forward(x, false);
                let b = match pending.and_then(|rx| rx.recv().ok()) {
                    Some(b) => b,
                    None => self.bwd.forward(&xr, false),
                };
                (f, b)
            }
            None => (self.fwd.forward(x, train), self.bwd.forward(&xr, train)),
        };
        Tensor::cat(&[f, permute_time(&b, rev)], 2)
    }
}

/// The stacked bidirectional encoder. Dropout between layers is the caller's (see `model`).
#[derive(Debug)]
pub struct Encoder {
    pub layers: Vec<BiLayer>,
}

impl Encoder {
    pub fn new(p: nn::Path, kind: CellKind, input: i64, hidden: i64, layers: i64) -> Self {
        let layers = (0..layers)
            .map(|l| {
                let inp = if l == 0 { input } else { 2 * hidden };
                BiLayer::new(&p / format!("l{l}"), kind, inp, hidden)
            })
            .collect();
        Encoder { layers }
    }

    /// Runs every layer; `between` is applied to the output of every layer but the last.
    pub fn forward(
        &self,
        x: &Tensor,
        rev: &Tensor,
        train: bool,
        helper: Option<&Helper>,
        between: impl Fn(&Tensor) -> Tensor,
    ) -> Tensor {
        let mut h = x.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                h = between(&h);
            }
            h = layer.forward(&h, rev, train, helper);
        }
        h
    }

    /// Sets the forget-gate bias of every direction of every layer.
    pub fn set_forget_bias(&self, bias: f64) {
        for l in &self.layers {
            l.fwd.set_forget_bias(bias);
            l.bwd.set_forget_bias(bias);
        }
    }

    pub fn num_params(&self) -> i64 {
        self.layers
            .iter()
            .map(|l| l.fwd.num_params() + l.bwd.num_params())
            .sum()
    }
}
