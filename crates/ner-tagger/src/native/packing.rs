//! The layout of a batch on the native path: sequences sorted longest first and packed step by
//! step, as PyTorch's `PackedSequence` does. Step `t` holds the sequences still running at `t`,
//! which are a prefix of the batch, in rows `offsets[t] .. offsets[t + 1]`. Every buffer of a
//! forward pass then has exactly one row per real token: a batch that mixes a paragraph with
//! short sentences neither multiplies nor zero-fills its padding, and a layer's input
//! projection is one matrix product over all of its tokens.

/// Lengths (non-increasing) and the first row of every step.
#[derive(Debug, Default, Clone)]
pub(crate) struct Packing {
    lengths: Vec<usize>,
    /// `offsets[t]`: the row of sequence 0 at step `t`; `offsets[steps]` is the total.
    offsets: Vec<usize>,
}

impl Packing {
    /// The packing of sequences of these lengths, which must be non-increasing.
    pub(crate) fn set(&mut self, lengths: impl IntoIterator<Item = usize>) {
        self.lengths.clear();
        self.lengths.extend(lengths);
        debug_assert!(self.lengths.windows(2).all(|w| w[0] >= w[1]));
        self.offsets.clear();
        self.offsets.push(0);
        let mut active = self.lengths.len();
        for t in 0..self.steps() {
            while active > 0 && self.lengths[active - 1] <= t {
                active -= 1;
            }
            self.offsets.push(self.offsets[t] + active);
        }
    }

    /// The number of sequences.
    pub(crate) fn sequences(&self) -> usize {
        self.lengths.len()
    }

    /// The length of the longest sequence.
    pub(crate) fn steps(&self) -> usize {
        self.lengths.first().copied().unwrap_or(0)
    }

    /// The number of rows: the sum of the lengths.
    pub(crate) fn total(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    pub(crate) fn len_of(&self, b: usize) -> usize {
        self.lengths[b]
    }

    /// The sequences still running at step `t`.
    pub(crate) fn active(&self, t: usize) -> usize {
        self.offsets[t + 1] - self.offsets[t]
    }

    /// The row of sequence `b` at step `t` (`t < len_of(b)`).
    pub(crate) fn row(&self, t: usize, b: usize) -> usize {
        debug_assert!(t < self.lengths[b]);
        self.offsets[t] + b
    }

    /// The row of sequence `b` at step `t` when the sequence is read backwards.
    pub(crate) fn mirror(&self, t: usize, b: usize) -> usize {
        self.row(self.lengths[b] - 1 - t, b)
    }
}

/// Makes `v` at least `n` long without clearing it, for buffers whose every element that is
/// read is first written.
pub(crate) fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_enumerate_every_token_once_step_by_step() {
        let lengths = [5, 3, 3, 1, 0];
        let mut p = Packing::default();
        p.set(lengths);
        assert_eq!(p.total(), 12);
        let mut seen = vec![false; p.total()];
        let mut next = 0;
        for t in 0..p.steps() {
            let running = lengths.iter().filter(|&&l| l > t).count();
            assert_eq!(p.active(t), running);
            for b in 0..running {
                // Brute force: rows are handed out in (step, sequence) order.
                assert_eq!(p.row(t, b), next);
                assert!(!std::mem::replace(&mut seen[next], true));
                assert_eq!(p.mirror(t, b), p.row(lengths[b] - 1 - t, b));
                next += 1;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }
}
