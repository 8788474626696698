//! One direction of a recurrent layer over a time-major batch, natively: the input projection
//! of all time steps as one matrix product, then per step one product with the recurrent
//! weights (a vector-matrix product at batch 1) and the cell's non-linearities fused over the
//! result. The equations and gate orders are those of [`crate::cells`].

use super::gemm::{matmul, Matrix};
use crate::config::CellKind;

/// The weights of one direction, packed for the kernels.
#[derive(Debug, Clone)]
pub struct Direction {
    pub kind: CellKind,
    pub hidden: usize,
    /// `W_ih^T`: `[input][G·H]`.
    pub w_ih: Matrix,
    /// `W_hh^T`: `[H][G·H]`.
    pub w_hh: Matrix,
    pub b_ih: Vec<f32>,
    pub b_hh: Vec<f32>,
    /// Peephole weights `pi, pf, po` (`[3·H]`).
    pub peep: Vec<f32>,
}

/// A time-major batch: `rows` sentences, step `t` of sentence `b` at `[t · rows + b]`. The
/// sentences are sorted by length, longest first, so the ones still running at step `t` are a
/// prefix.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub rows: usize,
    pub steps: usize,
    /// Length of each sentence (non-increasing).
    pub lengths: &'a [usize],
}

impl Shape<'_> {
    fn active(&self, t: usize) -> usize {
        self.lengths.iter().take_while(|&&l| l > t).count()
    }
}

/// Reusable buffers of a direction run.
#[derive(Debug, Default)]
pub struct Scratch {
    xw: Vec<f32>,
    gates: Vec<f32>,
    gh: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn resize(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

impl Direction {
    fn gates(&self) -> usize {
        match self.kind {
            CellKind::Lstm | CellKind::Peephole => 4,
            CellKind::Gru | CellKind::Cifg => 3,
            CellKind::Rnn => 1,
        }
    }

    /// Runs over `x` (`[steps][rows][input]`, time-major) from a zero state and writes each
    /// step's output into `out` (`[steps][rows][stride]`, at column `offset`); padded steps
    /// are left untouched.
    pub fn run(
        &self,
        x: &[f32],
        shape: Shape,
        out: &mut [f32],
        stride: usize,
        offset: usize,
        s: &mut Scratch,
    ) {
        let (h, gh) = (self.hidden, self.gates() * self.hidden);
        let rows = shape.rows;
        resize(&mut s.xw, shape.steps * rows * gh);
        matmul(x, shape.steps * rows, &self.w_ih, &mut s.xw, 0.0);
        for row in s.xw.chunks_exact_mut(gh) {
            for (v, b) in row.iter_mut().zip(&self.b_ih) {
                *v += b;
            }
        }
        resize(&mut s.h, rows * h);
        resize(&mut s.c, rows * h);
        resize(&mut s.gates, rows * gh);
        resize(&mut s.gh, rows * gh);
        for t in 0..shape.steps {
            let n = shape.active(t);
            if n == 0 {
                break;
            }
            self.step(t, n, rows, s);
            for b in 0..n {
                let at = (t * rows + b) * stride + offset;
                out[at..at + h].copy_from_slice(&s.h[b * h..(b + 1) * h]);
            }
        }
    }

    /// Step `t` for the first `n` sentences: gates from the input projection and the previous
    /// output, then the cell's update of `h` (and `c`).
    fn step(&self, t: usize, n: usize, rows: usize, s: &mut Scratch) {
        let gh = self.gates() * self.hidden;
        let xw = &s.xw[t * rows * gh..(t * rows + n) * gh];
        if self.kind == CellKind::Gru {
            // The candidate needs the recurrent part on its own: n = tanh(x_n + r ⊙ (U_n h + b)).
            for b in 0..n {
                s.gh[b * gh..(b + 1) * gh].copy_from_slice(&self.b_hh);
            }
            matmul(
                &s.h[..n * self.hidden],
                n,
                &self.w_hh,
                &mut s.gh[..n * gh],
                1.0,
            );
            s.gates[..n * gh].copy_from_slice(xw);
        } else {
            for b in 0..n {
                let g = &mut s.gates[b * gh..(b + 1) * gh];
                for ((g, x), bh) in g.iter_mut().zip(&xw[b * gh..(b + 1) * gh]).zip(&self.b_hh) {
                    *g = x + bh;
                }
            }
            matmul(
                &s.h[..n * self.hidden],
                n,
                &self.w_hh,
                &mut s.gates[..n * gh],
                1.0,
            );
        }
        for b in 0..n {
            self.update(b, s);
        }
    }

    /// The cell's non-linearities for sentence `b`, over its gate pre-activations.
    fn update(&self, b: usize, s: &mut Scratch) {
        let hs = self.hidden;
        let g = &s.gates[b * self.gates() * hs..(b + 1) * self.gates() * hs];
        let h = &mut s.h[b * hs..(b + 1) * hs];
        let c = &mut s.c[b * hs..(b + 1) * hs];
        match self.kind {
            CellKind::Lstm => {
                for j in 0..hs {
                    let (i, f) = (sigmoid(g[j]), sigmoid(g[hs + j]));
                    let (cand, o) = (g[2 * hs + j].tanh(), sigmoid(g[3 * hs + j]));
                    c[j] = f * c[j] + i * cand;
                    h[j] = o * c[j].tanh();
                }
            }
            CellKind::Peephole => {
                let p = &self.peep;
                for j in 0..hs {
                    let i = sigmoid(g[j] + c[j] * p[j]);
                    let f = sigmoid(g[hs + j] + c[j] * p[hs + j]);
                    c[j] = f * c[j] + i * g[2 * hs + j].tanh();
                    h[j] = sigmoid(g[3 * hs + j] + c[j] * p[2 * hs + j]) * c[j].tanh();
                }
            }
            CellKind::Cifg => {
                for j in 0..hs {
                    let f = sigmoid(g[j]);
                    c[j] = f * c[j] + (1.0 - f) * g[hs + j].tanh();
                    h[j] = sigmoid(g[2 * hs + j]) * c[j].tanh();
                }
            }
            CellKind::Gru => {
                let u = &s.gh[b * 3 * hs..(b + 1) * 3 * hs];
                for j in 0..hs {
                    let r = sigmoid(g[j] + u[j]);
                    let z = sigmoid(g[hs + j] + u[hs + j]);
                    let cand = (g[2 * hs + j] + r * u[2 * hs + j]).tanh();
                    h[j] = (1.0 - z) * cand + z * h[j];
                }
            }
            CellKind::Rnn => {
                for j in 0..hs {
                    h[j] = g[j].tanh();
                }
            }
        }
    }
}
