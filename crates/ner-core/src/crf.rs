//! Forward-backward for a linear-chain CRF: the log-partition, per-token marginals, expected
//! transition counts, and the probability that a whole entity span carries its label.
//!
//! Same layout and score as [`crate::viterbi`]. Computation is in `f64`, by the scaled
//! recursion in probability space, falling back to log space where that underflows. Forbidden
//! moves (`-inf` in [`Transitions`]) contribute nothing.

use crate::viterbi::Transitions;

fn logsumexp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Scales `cur` to sum 1, adds the log of the scale to `log_scale`, and writes the log-space
/// values into `out`; `None` when `cur` underflowed to zero (or overflowed).
fn normalise_into(cur: &mut [f64], log_scale: &mut f64, out: &mut [f64]) -> Option<()> {
    let sum: f64 = cur.iter().sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return None;
    }
    *log_scale += sum.ln();
    for (o, c) in out.iter_mut().zip(cur.iter_mut()) {
        *c /= sum;
        *o = c.ln() + *log_scale;
    }
    Some(())
}

/// Forward and backward tables of one sentence.
///
/// `alpha[t][j]`: log-sum of the scores of all prefixes `y0..=yt` with `yt = j`, emissions up to
/// `t` included. `beta[t][j]`: log-sum of the scores of all suffixes after `t` given `yt = j`
/// (transitions from `j`, emissions after `t`, and the end score).
#[derive(Debug, Clone)]
pub struct ForwardBackward {
    k: usize,
    t_len: usize,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    log_z: f64,
}

impl ForwardBackward {
    /// Forward and backward scores of one sentence's emissions `[len][K]`.
    pub fn new(tr: &Transitions, emissions: &[f32]) -> Self {
        Self::scaled(tr, emissions).unwrap_or_else(|| Self::in_log_space(tr, emissions))
    }

    /// The tables by the scaled recursion in probability space (Rabiner 1989): `exp` of every
    /// transition once, of every emission once, then only products and sums per step, each
    /// step normalised to sum 1 with its log-scale kept aside. About `2·K` times fewer `exp`
    /// calls than the log-space recursion. `None` when a step underflows (emission gaps
    /// beyond what `f64` can hold), which the caller answers with the log-space recursion.
    fn scaled(tr: &Transitions, emissions: &[f32]) -> Option<Self> {
        let x = Exps::new(tr, emissions)?;
        let (k, t_len) = (x.k, x.t_len);
        let alpha = x.forward(tr)?;
        let beta = x.backward(tr)?;
        let last = &alpha[(t_len - 1) * k..];
        let log_z = logsumexp((0..k).map(|j| last[j] + tr.end()[j] as f64));
        log_z.is_finite().then_some(ForwardBackward {
            k,
            t_len,
            alpha,
            beta,
            log_z,
        })
    }

    /// The tables by the log-space recursion (`logsumexp` at every step).
    fn in_log_space(tr: &Transitions, emissions: &[f32]) -> Self {
        let k = tr.num_tags();
        let t_len = emissions.len().checked_div(k).unwrap_or(0);
        let em = |t: usize, j: usize| emissions[t * k + j] as f64;
        let trans = |i: usize, j: usize| tr.trans()[i * k + j] as f64;
        let mut alpha = vec![f64::NEG_INFINITY; t_len * k];
        let mut beta = vec![f64::NEG_INFINITY; t_len * k];
        if t_len == 0 {
            return ForwardBackward {
                k,
                t_len,
                alpha,
                beta,
                log_z: 0.0,
            };
        }
        for j in 0..k {
            alpha[j] = tr.start()[j] as f64 + em(0, j);
        }
        for t in 1..t_len {
            for j in 0..k {
                let prev = &alpha[(t - 1) * k..t * k];
                alpha[t * k + j] = logsumexp((0..k).map(|i| prev[i] + trans(i, j))) + em(t, j);
            }
        }
        for j in 0..k {
            beta[(t_len - 1) * k + j] = tr.end()[j] as f64;
        }
        for t in (0..t_len - 1).rev() {
            for i in 0..k {
                let next = &beta[(t + 1) * k..(t + 2) * k];
                beta[t * k + i] = logsumexp((0..k).map(|j| trans(i, j) + em(t + 1, j) + next[j]));
            }
        }
        let last = &alpha[(t_len - 1) * k..];
        let log_z = logsumexp((0..k).map(|j| last[j] + tr.end()[j] as f64));
        ForwardBackward {
            k,
            t_len,
            alpha,
            beta,
            log_z,
        }
    }

    /// The log-partition: log-sum of the scores of all paths.
    pub fn log_partition(&self) -> f64 {
        self.log_z
    }

    /// `P(y_t = j)`.
    pub fn marginal(&self, t: usize, j: usize) -> f64 {
        (self.alpha[t * self.k + j] + self.beta[t * self.k + j] - self.log_z).exp()
    }

    /// The expected number of each transition over the sentence, `[from * K + to]`: the sum
    /// over `t` of `P(y_t = from, y_{t+1} = to)` (what a teacher's posterior contributes to a
    /// student's transition scores in distillation).
    pub fn expected_transitions(&self, tr: &Transitions, emissions: &[f32]) -> Vec<f64> {
        let k = self.k;
        let mut counts = vec![0.0; k * k];
        for t in 0..self.t_len.saturating_sub(1) {
            let (alpha, beta) = (&self.alpha[t * k..], &self.beta[(t + 1) * k..]);
            let next = &emissions[(t + 1) * k..];
            for (i, row) in counts.chunks_exact_mut(k).enumerate() {
                for (j, c) in row.iter_mut().enumerate() {
                    let s = alpha[i] + tr.trans()[i * k + j] as f64 + next[j] as f64 + beta[j];
                    *c += (s - self.log_z).exp();
                }
            }
        }
        counts
    }

    /// The probability that positions `start..start + tags.len()` carry exactly `tags` and that
    /// the position right after does not carry any of `continuations` (the tags that would
    /// extend the entity, such as `I-X` after a BIO span). That is the probability that the
    /// whole span, and not a longer one, has its label.
    pub fn segment_probability(
        &self,
        tr: &Transitions,
        emissions: &[f32],
        start: usize,
        tags: &[usize],
        continuations: &[usize],
    ) -> f64 {
        let k = self.k;
        let end = start + tags.len();
        if tags.is_empty() || end > self.t_len {
            return 0.0;
        }
        let em = |t: usize, j: usize| emissions[t * k + j] as f64;
        let trans = |i: usize, j: usize| tr.trans()[i * k + j] as f64;
        let mut s = if start == 0 {
            tr.start()[tags[0]] as f64
        } else {
            let prev = &self.alpha[(start - 1) * k..start * k];
            logsumexp((0..k).map(|i| prev[i] + trans(i, tags[0])))
        };
        s += em(start, tags[0]);
        for w in 1..tags.len() {
            s += trans(tags[w - 1], tags[w]) + em(start + w, tags[w]);
        }
        let last = tags[tags.len() - 1];
        s += if end == self.t_len {
            tr.end()[last] as f64
        } else {
            let next = &self.beta[end * k..(end + 1) * k];
            logsumexp(
                (0..k)
                    .filter(|j| !continuations.contains(j))
                    .map(|j| trans(last, j) + em(end, j) + next[j]),
            )
        };
        (s - self.log_z).exp()
    }
}

fn finite_max(xs: impl Iterator<Item = f64>) -> f64 {
    xs.filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// What the scaled recursion multiplies: `exp` of every transition and emission, each shifted
/// by its maximum (transitions by one shift, emissions by one per step) so nothing overflows.
struct Exps {
    k: usize,
    t_len: usize,
    e_trans: Vec<f64>,
    t_shift: f64,
    /// `exp(em - max at t)`, `[T][K]`.
    e_em: Vec<f64>,
    e_shift: Vec<f64>,
}

impl Exps {
    fn new(tr: &Transitions, emissions: &[f32]) -> Option<Exps> {
        let k = tr.num_tags();
        let t_len = emissions.len().checked_div(k).unwrap_or(0);
        if t_len == 0 {
            return None;
        }
        let t_shift = finite_max(tr.trans().iter().map(|&x| x as f64));
        let t_shift = if t_shift.is_finite() { t_shift } else { 0.0 };
        let e_trans = tr
            .trans()
            .iter()
            .map(|&x| (x as f64 - t_shift).exp())
            .collect();
        let mut e_em = vec![0.0f64; t_len * k];
        let mut e_shift = vec![0.0f64; t_len];
        for t in 0..t_len {
            let row = &emissions[t * k..(t + 1) * k];
            let m = finite_max(row.iter().map(|&x| x as f64));
            if !m.is_finite() {
                return None;
            }
            e_shift[t] = m;
            for j in 0..k {
                e_em[t * k + j] = (row[j] as f64 - m).exp();
            }
        }
        Some(Exps {
            k,
            t_len,
            e_trans,
            t_shift,
            e_em,
            e_shift,
        })
    }

    /// The forward table in log space, `[T][K]`; `None` on underflow.
    fn forward(&self, tr: &Transitions) -> Option<Vec<f64>> {
        let (k, t_len, e_em) = (self.k, self.t_len, &self.e_em);
        let mut alpha = vec![f64::NEG_INFINITY; t_len * k];
        let mut cur = vec![0.0f64; k];
        let mut next = vec![0.0f64; k];
        let s_shift = finite_max(tr.start().iter().map(|&x| x as f64));
        if !s_shift.is_finite() {
            return None;
        }
        for j in 0..k {
            cur[j] = (tr.start()[j] as f64 - s_shift).exp() * e_em[j];
        }
        let mut log_scale = s_shift + self.e_shift[0];
        for t in 0..t_len {
            if t > 0 {
                next.iter_mut().for_each(|x| *x = 0.0);
                for i in 0..k {
                    let a = cur[i];
                    if a == 0.0 {
                        continue;
                    }
                    let row = &self.e_trans[i * k..(i + 1) * k];
                    for j in 0..k {
                        next[j] += a * row[j];
                    }
                }
                for j in 0..k {
                    cur[j] = next[j] * e_em[t * k + j];
                }
                log_scale += self.t_shift + self.e_shift[t];
            }
            normalise_into(&mut cur, &mut log_scale, &mut alpha[t * k..(t + 1) * k])?;
        }
        Some(alpha)
    }

    /// The backward table in log space, `[T][K]`; `None` on underflow.
    fn backward(&self, tr: &Transitions) -> Option<Vec<f64>> {
        let (k, t_len, e_em) = (self.k, self.t_len, &self.e_em);
        let mut beta = vec![f64::NEG_INFINITY; t_len * k];
        let mut cur = vec![0.0f64; k];
        let mut next = vec![0.0f64; k];
        let end_shift = finite_max(tr.end().iter().map(|&x| x as f64));
        if !end_shift.is_finite() {
            return None;
        }
        for j in 0..k {
            cur[j] = (tr.end()[j] as f64 - end_shift).exp();
        }
        let mut log_scale = end_shift;
        for t in (0..t_len).rev() {
            if t + 1 < t_len {
                for (j, n) in next.iter_mut().enumerate() {
                    *n = cur[j] * e_em[(t + 1) * k + j];
                }
                for i in 0..k {
                    let row = &self.e_trans[i * k..(i + 1) * k];
                    cur[i] = row.iter().zip(&next).map(|(a, b)| a * b).sum();
                }
                log_scale += self.t_shift + self.e_shift[t + 1];
            }
            normalise_into(&mut cur, &mut log_scale, &mut beta[t * k..(t + 1) * k])?;
        }
        Some(beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::LabelSet;
    use crate::scheme::{TagScheme, TagSet};
    use proptest::prelude::*;

    fn all_paths(tr: &Transitions, em: &[f32]) -> Vec<(Vec<usize>, f64)> {
        let k = tr.num_tags();
        let t_len = em.len() / k;
        (0..k.pow(t_len as u32))
            .map(|mut code| {
                let path: Vec<usize> = (0..t_len)
                    .map(|_| {
                        let j = code % k;
                        code /= k;
                        j
                    })
                    .collect();
                // In f64: f32 path scores (Transitions::path_score) are off by ~1e-7 relative,
                // which moves probabilities by ~1e-6, the tolerance below.
                let mut s = tr.start()[path[0]] as f64 + tr.end()[path[t_len - 1]] as f64;
                for (t, &j) in path.iter().enumerate() {
                    s += em[t * k + j] as f64;
                    if t > 0 {
                        s += tr.trans()[path[t - 1] * k + j] as f64;
                    }
                }
                (path, s)
            })
            .collect()
    }

    #[test]
    fn huge_emission_gaps_fall_back_to_log_space() {
        // Only tag 0 can start and follow tag 0, and its emission at t = 1 is far below the
        // others': the scaled step underflows to all zeros.
        let k = 3;
        let ninf = f32::NEG_INFINITY;
        let trans = [0.0, ninf, ninf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let tr = Transitions::new(k, &[0.0, ninf, ninf], &[0.0; 3], &trans, None).unwrap();
        let em = [0.0f32, 0.0, 0.0, -3000.0, 0.0, 0.0];
        assert!(ForwardBackward::scaled(&tr, &em).is_none());
        let fb = ForwardBackward::new(&tr, &em);
        let slow = ForwardBackward::in_log_space(&tr, &em);
        assert_eq!(fb.log_partition(), slow.log_partition());
        assert!(fb.log_partition().is_finite());
        assert!((fb.log_partition() + 3000.0).abs() < 1e-9);
        assert!((fb.marginal(1, 0) - 1.0).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            t_len in 1usize..=5,
            masked in any::<bool>(),
            seed in proptest::collection::vec(-2.0f32..2.0, 5 * 5 + 5 * 5 + 10),
        ) {
            let k = 5;
            let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["A", "B"]));
            let em = &seed[..t_len * k];
            let tr = Transitions::new(k, &seed[25..30], &seed[30..35], &seed[35..60], masked.then_some(&tags)).unwrap();
            let paths = all_paths(&tr, em);
            let fb = ForwardBackward::new(&tr, em);
            let slow = ForwardBackward::in_log_space(&tr, em);
            prop_assert!((fb.log_partition() - slow.log_partition()).abs() < 1e-6);
            for (a, b) in fb.alpha.iter().zip(&slow.alpha).chain(fb.beta.iter().zip(&slow.beta)) {
                prop_assert!(a == b || (a - b).abs() < 1e-6, "{} vs {}", a, b);
            }
            let log_z = paths.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = paths.iter().map(|p| (p.1 - log_z).exp()).sum();
            prop_assert!((fb.log_partition() - (log_z + z.ln())).abs() < 1e-4);
            let prob = |p: &(Vec<usize>, f64)| (p.1 - fb.log_partition()).exp();
            for t in 0..t_len {
                for j in 0..k {
                    let want: f64 = paths.iter().filter(|p| p.0[t] == j).map(prob).sum();
                    prop_assert!((fb.marginal(t, j) - want).abs() < 1e-6, "t {} j {}: {} vs {} (log space {})", t, j, fb.marginal(t, j), want, slow.marginal(t, j));
                }
            }
            // Span "B-A I-A" at 0..2 (indices 1, 2), not continued by I-A (2).
            if t_len >= 2 {
                let want: f64 = paths
                    .iter()
                    .filter(|p| p.0[0] == 1 && p.0[1] == 2 && p.0.get(2) != Some(&2))
                    .map(prob)
                    .sum();
                let got = fb.segment_probability(&tr, em, 0, &[1, 2], &[2]);
                prop_assert!((got - want).abs() < 1e-6, "{} vs {}", got, want);
            }
            let counts = fb.expected_transitions(&tr, em);
            for (i, j) in (0..k).flat_map(|i| (0..k).map(move |j| (i, j))) {
                let want: f64 = paths
                    .iter()
                    .map(|p| p.0.windows(2).filter(|w| w == &[i, j]).count() as f64 * prob(p))
                    .sum();
                prop_assert!((counts[i * k + j] - want).abs() < 1e-6, "{} -> {}", i, j);
            }
            // Single-token span "B-B" (3) at the last position.
            let want: f64 = paths.iter().filter(|p| p.0[t_len - 1] == 3).map(prob).sum();
            let got = fb.segment_probability(&tr, em, t_len - 1, &[3], &[4]);
            prop_assert!((got - want).abs() < 1e-6);
        }
    }
}
