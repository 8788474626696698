//! Viterbi decoding and k-best paths for a linear-chain CRF, in plain Rust.
//!
//! Layout: emissions are a flat row-major `[T][K]` buffer (`em[t * K + k]`), transitions a flat
//! `[K][K]` buffer indexed `[from * K + to]`, start and end scores `[K]`. The score of a path
//! `y` is `start[y0] + Σ em[t][yt] + Σ trans[y(t-1)][yt] + end[y(T-1)]`.
//!
//! Transitions that the tag scheme forbids are set to `-inf` when [`Transitions`] is built from
//! a [`TagSet`](crate::scheme::TagSet), so no decoder can ever return them. [`Viterbi`] keeps
//! its scratch buffers between calls: decoding allocates nothing once they have grown.

use crate::scheme::TagSet;

/// Start, end and transition scores, with the forbidden ones at `-inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitions {
    k: usize,
    start: Vec<f32>,
    end: Vec<f32>,
    trans: Vec<f32>,
}

impl Transitions {
    /// Builds from raw scores; with `tags`, the scheme's forbidden moves become `-inf`.
    ///
    /// Returns `None` when the lengths do not match `k` (`start`, `end`: `k`; `trans`: `k * k`).
    pub fn new(
        k: usize,
        start: &[f32],
        end: &[f32],
        trans: &[f32],
        tags: Option<&TagSet>,
    ) -> Option<Self> {
        if start.len() != k || end.len() != k || trans.len() != k * k {
            return None;
        }
        let mut t = Transitions {
            k,
            start: start.to_vec(),
            end: end.to_vec(),
            trans: trans.to_vec(),
        };
        if let Some(tags) = tags {
            if tags.len() != k {
                return None;
            }
            for i in 0..k {
                if !tags.allowed_start(i) {
                    t.start[i] = f32::NEG_INFINITY;
                }
                if !tags.allowed_end(i) {
                    t.end[i] = f32::NEG_INFINITY;
                }
                for j in 0..k {
                    if !tags.allowed(i, j) {
                        t.trans[i * k + j] = f32::NEG_INFINITY;
                    }
                }
            }
        }
        Some(t)
    }

    /// Tags.
    pub fn num_tags(&self) -> usize {
        self.k
    }
    /// Scores of starting with each tag.
    pub fn start(&self) -> &[f32] {
        &self.start
    }
    /// Scores of ending with each tag.
    pub fn end(&self) -> &[f32] {
        &self.end
    }
    /// Scores of each move `[from][to]`, row-major.
    pub fn trans(&self) -> &[f32] {
        &self.trans
    }

    /// The score of one path (`-inf` if it uses a forbidden move). Empty paths score 0.
    pub fn path_score(&self, emissions: &[f32], path: &[usize]) -> f32 {
        let k = self.k;
        let Some((&first, _)) = path.split_first() else {
            return 0.0;
        };
        let mut s = self.start[first] + emissions[first];
        for t in 1..path.len() {
            s += self.trans[path[t - 1] * k + path[t]] + emissions[t * k + path[t]];
        }
        s + self.end[path[path.len() - 1]]
    }
}

/// A decoder with reusable scratch space.
#[derive(Debug, Default, Clone)]
pub struct Viterbi {
    score: Vec<f32>,
    next: Vec<f32>,
    back: Vec<u32>,
    // k-best
    kscore: Vec<f32>,
    kback: Vec<(u32, u32)>,
    cand: Vec<(f32, u32, u32)>,
    heads: Vec<usize>,
}

impl Viterbi {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the best path into `out` and returns its score. `emissions.len()` must be a
    /// multiple of `K`; an empty input gives an empty path and score 0.
    pub fn decode(&mut self, tr: &Transitions, emissions: &[f32], out: &mut Vec<usize>) -> f32 {
        let k = tr.k;
        out.clear();
        if k == 0 || emissions.is_empty() {
            return 0.0;
        }
        let t_len = emissions.len() / k;
        self.score.clear();
        self.score
            .extend((0..k).map(|j| tr.start[j] + emissions[j]));
        self.back.clear();
        self.back.resize(t_len * k, 0);
        self.next.resize(k, 0.0);
        for t in 1..t_len {
            let em = &emissions[t * k..(t + 1) * k];
            for j in 0..k {
                let mut best = f32::NEG_INFINITY;
                let mut arg = 0u32;
                for i in 0..k {
                    let s = self.score[i] + tr.trans[i * k + j];
                    if s > best {
                        best = s;
                        arg = i as u32;
                    }
                }
                self.next[j] = best + em[j];
                self.back[t * k + j] = arg;
            }
            std::mem::swap(&mut self.score, &mut self.next);
        }
        let mut best = f32::NEG_INFINITY;
        let mut arg = 0;
        for j in 0..k {
            let s = self.score[j] + tr.end[j];
            if s > best {
                best = s;
                arg = j;
            }
        }
        out.resize(t_len, 0);
        out[t_len - 1] = arg;
        for t in (1..t_len).rev() {
            arg = self.back[t * k + arg] as usize;
            out[t - 1] = arg;
        }
        best
    }

    /// The `n` best distinct paths with their scores, best first (fewer when fewer paths have a
    /// finite score).
    pub fn nbest(
        &mut self,
        tr: &Transitions,
        emissions: &[f32],
        n: usize,
    ) -> Vec<(Vec<usize>, f32)> {
        let k = tr.k;
        if k == 0 || n == 0 {
            return Vec::new();
        }
        if emissions.is_empty() {
            return vec![(Vec::new(), 0.0)];
        }
        let t_len = emissions.len() / k;
        // kscore[(t * k + j) * n + r]: r-th best score of a prefix ending in tag j at time t;
        // kback: (previous tag, its rank) for the same slot.
        self.kscore.clear();
        self.kscore.resize(t_len * k * n, f32::NEG_INFINITY);
        self.kback.clear();
        self.kback.resize(t_len * k * n, (0, 0));
        for j in 0..k {
            self.kscore[j * n] = tr.start[j] + emissions[j];
        }
        for t in 1..t_len {
            for j in 0..k {
                self.extend(tr, emissions, t, j, n);
            }
        }
        self.cand.clear();
        for j in 0..k {
            for r in 0..n {
                let s = self.kscore[((t_len - 1) * k + j) * n + r];
                if s == f32::NEG_INFINITY {
                    break;
                }
                self.cand.push((s + tr.end[j], j as u32, r as u32));
            }
        }
        top_n(&mut self.cand, n);
        self.backtrack(t_len, k, n)
    }

    /// Fills the `n` best prefixes ending in tag `j` at time `t`. Each predecessor's list is
    /// sorted best first, so the n best extensions are a k-way merge of the lists' heads (ties
    /// to the lower tag, then the lower rank, as a full sort would order them).
    fn extend(&mut self, tr: &Transitions, emissions: &[f32], t: usize, j: usize, n: usize) {
        let k = tr.k;
        self.cand.clear();
        self.heads.clear();
        self.heads.resize(k, 0);
        while self.cand.len() < n {
            let mut best: Option<(f32, usize)> = None;
            for i in 0..k {
                let tij = tr.trans[i * k + j];
                let r = self.heads[i];
                if tij == f32::NEG_INFINITY || r >= n {
                    continue;
                }
                let s = self.kscore[((t - 1) * k + i) * n + r];
                if s == f32::NEG_INFINITY {
                    continue;
                }
                let s = s + tij;
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, i));
                }
            }
            let Some((s, i)) = best else { break };
            self.cand.push((s, i as u32, self.heads[i] as u32));
            self.heads[i] += 1;
        }
        let em = emissions[t * k + j];
        for (r, &(s, i, ri)) in self.cand.iter().enumerate() {
            self.kscore[(t * k + j) * n + r] = s + em;
            self.kback[(t * k + j) * n + r] = (i, ri);
        }
    }

    /// The paths of the final candidates, followed back through `kback`.
    fn backtrack(&self, t_len: usize, k: usize, n: usize) -> Vec<(Vec<usize>, f32)> {
        let mut result = Vec::with_capacity(self.cand.len());
        for &(score, j, r) in &self.cand {
            if score == f32::NEG_INFINITY {
                continue;
            }
            let mut path = vec![0usize; t_len];
            let (mut j, mut r) = (j as usize, r as usize);
            for t in (0..t_len).rev() {
                path[t] = j;
                let (pj, pr) = self.kback[(t * k + j) * n + r];
                j = pj as usize;
                r = pr as usize;
            }
            result.push((path, score));
        }
        result
    }
}

/// Keeps the `n` highest-scoring finite candidates, sorted best first (ties by tag, then rank,
/// so results are deterministic).
fn top_n(c: &mut Vec<(f32, u32, u32)>, n: usize) {
    c.retain(|x| x.0 > f32::NEG_INFINITY);
    c.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    c.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::LabelSet;
    use crate::scheme::TagScheme;
    use proptest::prelude::*;

    /// Every path with its score, best first (the oracle).
    fn brute(tr: &Transitions, em: &[f32]) -> Vec<(Vec<usize>, f32)> {
        let k = tr.num_tags();
        let t_len = em.len() / k;
        let mut all = Vec::new();
        let total = k.pow(t_len as u32);
        for mut code in 0..total {
            let mut path = vec![0; t_len];
            for p in path.iter_mut() {
                *p = code % k;
                code /= k;
            }
            let s = tr.path_score(em, &path);
            if s > f32::NEG_INFINITY {
                all.push((path, s));
            }
        }
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all
    }

    fn case() -> impl Strategy<Value = (usize, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, bool)> {
        (1usize..=5, 0usize..=6, any::<bool>()).prop_flat_map(|(k, t, masked)| {
            let v = |n| proptest::collection::vec(-3.0f32..3.0, n);
            (Just(k), v(t * k), v(k), v(k), v(k * k), Just(masked))
        })
    }

    fn build(k: usize, st: &[f32], en: &[f32], tr: &[f32], masked: bool) -> Transitions {
        // k = 5 is BIOES with one label; k = 3 or 5 is BIO with one or two labels.
        let tags = match (masked, k) {
            (true, 3) => Some(TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["A"]))),
            (true, 5) => Some(TagSet::new(TagScheme::Bioes, LabelSet::frozen_from(["A"]))),
            _ => None,
        };
        Transitions::new(k, st, en, tr, tags.as_ref()).unwrap()
    }

    proptest! {
        #[test]
        fn best_and_nbest_match_brute_force((k, em, st, en, tr, masked) in case(), n in 1usize..8) {
            let tr = build(k, &st, &en, &tr, masked);
            let all = brute(&tr, &em);
            let mut v = Viterbi::new();
            let mut path = Vec::new();
            let score = v.decode(&tr, &em, &mut path);
            if em.is_empty() {
                prop_assert!(path.is_empty());
                prop_assert_eq!(score, 0.0);
                return Ok(());
            }
            prop_assert!((score - all[0].1).abs() < 1e-4, "{} vs {}", score, all[0].1);
            prop_assert!((tr.path_score(&em, &path) - score).abs() < 1e-4);
            let nb = v.nbest(&tr, &em, n);
            prop_assert_eq!(nb.len(), n.min(all.len()));
            for (i, (p, s)) in nb.iter().enumerate() {
                prop_assert!((s - all[i].1).abs() < 1e-4, "rank {}: {} vs {}", i, s, all[i].1);
                prop_assert!((tr.path_score(&em, p) - s).abs() < 1e-4);
            }
            let distinct: std::collections::HashSet<_> = nb.iter().map(|x| x.0.clone()).collect();
            prop_assert_eq!(distinct.len(), nb.len());
        }
    }

    #[test]
    fn forbidden_moves_are_never_taken() {
        // BIO with one label: O, B-A, I-A. The emissions love I-A everywhere, which may only
        // follow B-A or I-A.
        let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["A"]));
        let tr = Transitions::new(3, &[0.0; 3], &[0.0; 3], &[0.0; 9], Some(&tags)).unwrap();
        let em = [0.0, 0.0, 10.0, 0.0, 0.0, 10.0];
        let mut path = Vec::new();
        Viterbi::new().decode(&tr, &em, &mut path);
        assert_eq!(path, [1, 2]);
    }
}
