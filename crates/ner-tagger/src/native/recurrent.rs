//! One direction of a recurrent layer over a packed batch (see [`super::packing`]), natively:
//! the input projection of all tokens as one matrix product, then per step one product with
//! the recurrent weights over the running sequences (a vector-matrix product at batch 1) and
//! the cell's non-linearities fused over the result. The equations and gate orders are those
//! of [`crate::cells`].

use super::gemm::{matmul, Matrix};
use super::packing::{grow, Packing};
use crate::config::CellKind;

/// The weights of one direction, packed for the kernels.
#[derive(Debug, Clone)]
pub(crate) struct Direction {
    pub kind: CellKind,
    pub hidden: usize,
    /// `W_ih^T`: `[input][G·H]`.
    pub w_ih: Matrix,
    /// `W_hh^T`: `[H][G·H]`.
    pub w_hh: Matrix,
    /// The bias added to the input projection: `b_ih + b_hh`, or `b_ih` alone for the GRU,
    /// whose candidate gate needs `b_hh` inside its reset product.
    pub b_x: Vec<f32>,
    pub b_hh: Vec<f32>,
    /// Peephole weights `pi, pf, po` (`[3·H]`).
    pub peep: Vec<f32>,
    /// The widest vector unit of this CPU, detected once when the weights are packed.
    pub arch: pulp::Arch,
}

/// Reusable buffers of a direction run.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    xw: Vec<f32>,
    gh: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    tanh_c: Vec<f32>,
}

fn resize(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

impl Direction {
    pub(crate) fn gates(&self) -> usize {
        match self.kind {
            CellKind::Lstm | CellKind::Peephole => 4,
            CellKind::Gru | CellKind::Cifg => 3,
            CellKind::Rnn => 1,
        }
    }

    /// Runs over `x` (`[rows][input]`, packed as `p`) from a zero state and writes each step's
    /// output into `out` (`[rows][H]`, packed the same way).
    pub(crate) fn run(&self, x: &[f32], p: &Packing, out: &mut [f32], s: &mut Scratch) {
        let total = p.total();
        self.project_inputs(x, total, self.inputs(p, s));
        self.recur(p, out, s);
    }

    /// The buffer of the input projection of a run over `p` (`[rows][G·H]`, packed as `p`),
    /// for a caller that fills every row itself before [`Direction::recur`]; its contents are
    /// left from earlier runs.
    pub(crate) fn inputs<'s>(&self, p: &Packing, s: &'s mut Scratch) -> &'s mut [f32] {
        let n = p.total() * self.gates() * self.hidden;
        grow(&mut s.xw, n);
        &mut s.xw[..n]
    }

    /// The recurrence over the input projection in [`Direction::inputs`], from a zero state:
    /// each step's output into `out` (`[rows][H]`, packed as `p`).
    pub(crate) fn recur(&self, p: &Packing, out: &mut [f32], s: &mut Scratch) {
        let (h, gh) = (self.hidden, self.gates() * self.hidden);
        let rows = p.sequences();
        resize(&mut s.h, rows * h);
        resize(&mut s.c, rows * h);
        if self.kind == CellKind::Gru {
            grow(&mut s.gh, rows * gh);
        }
        for t in 0..p.steps() {
            let n = p.active(t);
            self.step(p.row(t, 0), n, s);
            for b in 0..n {
                let at = p.row(t, b) * h;
                out[at..at + h].copy_from_slice(&s.h[b * h..(b + 1) * h]);
            }
        }
    }

    /// The input projection `x · W_ih + b_x` of every token, into `xw` (`[rows][gates]`): one
    /// product, since the packed batch has no padding.
    fn project_inputs(&self, x: &[f32], rows: usize, xw: &mut [f32]) {
        let gh = self.gates() * self.hidden;
        matmul(x, rows, &self.w_ih, xw, 0.0);
        for row in xw.chunks_exact_mut(gh) {
            row.iter_mut().zip(&self.b_x).for_each(|(v, b)| *v += b);
        }
    }

    /// The step whose first row is `first`, over its `n` running sequences: the recurrent
    /// product added in place to the step's rows of the input projection (which already hold
    /// both biases, see [`Direction::b_x`]), then the cell's update of `h` (and `c`).
    fn step(&self, first: usize, n: usize, s: &mut Scratch) {
        let (hs, gh) = (self.hidden, self.gates() * self.hidden);
        let gates = &mut s.xw[first * gh..(first + n) * gh];
        let recurrent = if self.kind == CellKind::Gru {
            // The candidate needs the recurrent part on its own: n = tanh(x_n + r ⊙ (U_n h + b)).
            for b in 0..n {
                s.gh[b * gh..(b + 1) * gh].copy_from_slice(&self.b_hh);
            }
            matmul(&s.h[..n * hs], n, &self.w_hh, &mut s.gh[..n * gh], 1.0);
            &s.gh[..n * gh]
        } else {
            matmul(&s.h[..n * hs], n, &self.w_hh, gates, 1.0);
            &[][..]
        };
        // The gates' loops compiled for the widest vector unit the CPU has (by `pulp`'s
        // dispatch, as the `gemm` crate does): the build targets baseline x86-64, whose SSE2
        // ran them four lanes at a time, and they were an eighth of the forward pass.
        self.arch.dispatch(Gates {
            dir: self,
            g: gates,
            u: recurrent,
            n,
            h: &mut s.h,
            c: &mut s.c,
            t: &mut s.tanh_c,
        });
    }

    /// The cell's non-linearities for one sequence, over its gate pre-activations `g`, in place
    /// and a whole gate at a time (so that the loops vectorise); `u` is the GRU's recurrent
    /// part (empty for the other cells).
    #[inline(always)]
    fn update(&self, g: &mut [f32], u: &[f32], h: &mut [f32], c: &mut [f32], t: &mut Vec<f32>) {
        let hs = self.hidden;
        t.clear();
        t.resize(hs, 0.0);
        match self.kind {
            CellKind::Lstm => {
                sigmoid_in_place(&mut g[..2 * hs]);
                tanh_in_place(&mut g[2 * hs..3 * hs]);
                sigmoid_in_place(&mut g[3 * hs..]);
                let (i, rest) = g.split_at(hs);
                let (f, rest) = rest.split_at(hs);
                let (cand, o) = rest.split_at(hs);
                output_gate(c, t, h, o, |j, c| f[j] * c + i[j] * cand[j]);
            }
            CellKind::Peephole => {
                let p = &self.peep;
                for j in 0..hs {
                    g[j] += c[j] * p[j];
                    g[hs + j] += c[j] * p[hs + j];
                }
                sigmoid_in_place(&mut g[..2 * hs]);
                tanh_in_place(&mut g[2 * hs..3 * hs]);
                for j in 0..hs {
                    c[j] = g[hs + j] * c[j] + g[j] * g[2 * hs + j];
                    g[3 * hs + j] += c[j] * p[2 * hs + j];
                }
                sigmoid_in_place(&mut g[3 * hs..]);
                output_gate(c, t, h, &g[3 * hs..], |_, c| c);
            }
            CellKind::Cifg => {
                sigmoid_in_place(&mut g[..hs]);
                tanh_in_place(&mut g[hs..2 * hs]);
                sigmoid_in_place(&mut g[2 * hs..]);
                let (f, rest) = g.split_at(hs);
                let (cand, o) = rest.split_at(hs);
                output_gate(c, t, h, o, |j, c| f[j] * c + (1.0 - f[j]) * cand[j]);
            }
            CellKind::Gru => {
                for j in 0..2 * hs {
                    g[j] += u[j];
                }
                sigmoid_in_place(&mut g[..2 * hs]);
                for j in 0..hs {
                    g[2 * hs + j] += g[j] * u[2 * hs + j];
                }
                tanh_in_place(&mut g[2 * hs..]);
                for j in 0..hs {
                    let z = g[hs + j];
                    h[j] = (1.0 - z) * g[2 * hs + j] + z * h[j];
                }
            }
            CellKind::Rnn => {
                tanh_in_place(g);
                h.copy_from_slice(g);
            }
        }
    }
}

/// A step's gates: [`Direction::update`] of each of its `n` sequences, as `pulp` takes it: its
/// dispatch compiles `with_simd`, and all it inlines, once per instruction set (the same
/// operations in the same order, so the results are identical).
struct Gates<'a> {
    dir: &'a Direction,
    g: &'a mut [f32],
    u: &'a [f32],
    n: usize,
    h: &'a mut [f32],
    c: &'a mut [f32],
    t: &'a mut Vec<f32>,
}

impl pulp::WithSimd for Gates<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Gates {
            dir,
            g,
            u,
            n,
            h,
            c,
            t,
        } = self;
        let (hs, gh) = (dir.hidden, dir.gates() * dir.hidden);
        for b in 0..n {
            let u = u.get(b * gh..(b + 1) * gh).unwrap_or(&[]);
            let h = &mut h[b * hs..(b + 1) * hs];
            let c = &mut c[b * hs..(b + 1) * hs];
            dir.update(&mut g[b * gh..(b + 1) * gh], u, h, c, t);
        }
    }
}

/// `c' = new_c(j, c)`, then `h = o ⊙ tanh(c')` (with `t` as room for `tanh(c')`).
#[inline(always)]
fn output_gate(
    c: &mut [f32],
    t: &mut [f32],
    h: &mut [f32],
    o: &[f32],
    new_c: impl Fn(usize, f32) -> f32,
) {
    for (j, cj) in c.iter_mut().enumerate() {
        *cj = new_c(j, *cj);
    }
    t.copy_from_slice(c);
    tanh_in_place(t);
    for ((h, o), t) in h.iter_mut().zip(o).zip(t.iter()) {
        *h = o * t;
    }
}

/// `tanh` by a rational approximation (Eigen's `ptanh_float`): within a few units in the last
/// place over all of `f32`, branch-free, so a loop over a gate vectorises; libm's `tanhf`
/// was a fifth of the native forward pass.
#[inline(always)]
pub(crate) fn tanh_in_place(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = fast_tanh(*x);
    }
}

/// `σ(x) = (1 + tanh(x / 2)) / 2`.
#[inline(always)]
pub(crate) fn sigmoid_in_place(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = 0.5 + 0.5 * fast_tanh(0.5 * *x);
    }
}

#[inline(always)]
fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = p * x2 + -8.604_672e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_and_sigmoid_match_libm() {
        let xs: Vec<f32> = (-4000..=4000)
            .map(|i| i as f32 * 0.005)
            .chain([-1e30, -50.0, 50.0, 1e30])
            .collect();
        let mut t = xs.clone();
        let mut s = xs.clone();
        tanh_in_place(&mut t);
        sigmoid_in_place(&mut s);
        for ((x, t), s) in xs.iter().zip(&t).zip(&s) {
            let x = *x as f64;
            assert!((*t as f64 - x.tanh()).abs() < 2e-6, "tanh({x}) = {t}");
            assert!(
                (*s as f64 - 1.0 / (1.0 + (-x).exp())).abs() < 2e-6,
                "sigmoid({x}) = {s}"
            );
        }
    }
}
