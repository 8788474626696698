//! An epoch's batches, in random order.
//!
//! The training corpus's examples (windows of a document's sentences, or sentences) are batched
//! `batch_size` at a time, from pools of 50 batches sorted by length so that a batch pads
//! little. Examples that `--unlabelled` added are packed by tokens instead: as many as fit in
//! `batch_size × context_tokens` tokens. A transfer set of document-less sentences has windows
//! of one short sentence each; batched two at a time, 20,000 of them made 10,000 steps an
//! epoch (each with the optimiser's dense update of the whole embedding table) where the
//! labelled windows make 640. Packed, they make steps of about the labelled batches' size.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Batches of a pool, sorted by length.
const POOL_BATCHES: usize = 50;

/// How an epoch's examples are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Examples per batch (before `packed_from`).
    pub batch_size: usize,
    /// Tokens per batch from `packed_from` on; 0 batches those by `batch_size` too.
    pub token_budget: usize,
    /// The first example packed by tokens (the examples' count: none).
    pub packed_from: usize,
}

/// Every example's index exactly once, in batches in random order. With nothing packed, the
/// draws are the same as before packing existed, so recorded runs resume identically.
pub fn batches(rng: &mut StdRng, lens: &[usize], plan: &Plan) -> Vec<Vec<usize>> {
    let bs = plan.batch_size.max(1);
    let from = plan.packed_from.min(lens.len());
    let mut idx: Vec<usize> = (0..from).collect();
    idx.shuffle(rng);
    let mut out = counted(&mut idx, lens, bs);
    if from < lens.len() {
        let mut rest: Vec<usize> = (from..lens.len()).collect();
        rest.shuffle(rng);
        out.extend(packed(&mut rest, lens, bs, plan.token_budget));
    }
    out.shuffle(rng);
    out
}

/// `idx` cut into pools of about 50 batches' tokens, each sorted by length and cut into
/// batches of at most `budget` tokens (an example longer than that alone); by `bs` examples
/// when `budget` is 0.
fn packed(idx: &mut [usize], lens: &[usize], bs: usize, budget: usize) -> Vec<Vec<usize>> {
    if budget == 0 {
        return counted(idx, lens, bs);
    }
    let mut out = Vec::new();
    for mut pool in pools(idx, lens, budget * POOL_BATCHES) {
        pool.sort_by_key(|&i| lens[i]);
        let (mut batch, mut tokens) = (Vec::new(), 0);
        for i in pool {
            if !batch.is_empty() && tokens + lens[i] > budget {
                out.push(std::mem::take(&mut batch));
                tokens = 0;
            }
            batch.push(i);
            tokens += lens[i];
        }
        if !batch.is_empty() {
            out.push(batch);
        }
    }
    out
}

/// `idx` cut into pools of 50 batches, each sorted by length and cut into batches of `bs`.
fn counted(idx: &mut [usize], lens: &[usize], bs: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for pool in idx.chunks_mut(bs * POOL_BATCHES) {
        pool.sort_by_key(|&i| lens[i]);
        out.extend(pool.chunks(bs).map(<[usize]>::to_vec));
    }
    out
}

/// `idx` cut in order into runs of at least `tokens` tokens (the last may hold fewer).
fn pools(idx: &[usize], lens: &[usize], tokens: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    let mut have = 0;
    for &i in idx {
        if have >= tokens {
            out.push(Vec::new());
            have = 0;
        }
        if let Some(pool) = out.last_mut() {
            pool.push(i);
        }
        have += lens[i];
    }
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The batching before packing existed, kept as the oracle for unpacked plans.
    fn counted(rng: &mut StdRng, lens: &[usize], bs: usize) -> Vec<Vec<usize>> {
        let mut idx: Vec<usize> = (0..lens.len()).collect();
        idx.shuffle(rng);
        let mut batches = Vec::new();
        for pool in idx.chunks_mut(bs * 50) {
            pool.sort_by_key(|&i| lens[i]);
            batches.extend(pool.chunks(bs).map(<[usize]>::to_vec));
        }
        batches.shuffle(rng);
        batches
    }

    fn lengths(n: usize, seed: u64) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(1..300)).collect()
    }

    #[test]
    fn nothing_packed_draws_the_batches_of_counting_alone() {
        let lens = lengths(1_000, 1);
        for bs in [1, 2, 7] {
            let plan = Plan {
                batch_size: bs,
                token_budget: 512,
                packed_from: lens.len(),
            };
            let got = batches(&mut StdRng::seed_from_u64(5), &lens, &plan);
            assert_eq!(got, counted(&mut StdRng::seed_from_u64(5), &lens, bs));
        }
    }

    #[test]
    fn every_example_once_and_packed_batches_fill_their_budget() {
        let mut lens = lengths(300, 2);
        lens.extend(lengths(2_000, 3).iter().map(|l| l % 20 + 1));
        lens.push(900); // longer than the budget: a batch of its own
        let plan = Plan {
            batch_size: 2,
            token_budget: 512,
            packed_from: 300,
        };
        let got = batches(&mut StdRng::seed_from_u64(9), &lens, &plan);
        let mut seen: Vec<usize> = got.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        let (labelled, packed): (Vec<&Vec<usize>>, Vec<&Vec<usize>>) =
            got.iter().partition(|b| b[0] < 300);
        assert!(labelled
            .iter()
            .all(|b| b.len() <= 2 && b.iter().all(|&i| i < 300)));
        assert!(packed.iter().all(|b| b.iter().all(|&i| i >= 300)));
        let tokens = |b: &&Vec<usize>| b.iter().map(|&i| lens[i]).sum::<usize>();
        assert!(packed.iter().all(|b| tokens(b) <= 512 || b.len() == 1));
        assert!(packed.iter().any(|b| **b == [lens.len() - 1]));
        // Greedy packing of a sorted pool of lengths up to 20: every batch but a pool's last
        // (here one pool) is within 20 tokens of full.
        let short = packed.iter().filter(|b| tokens(b) <= 512 - 20).count();
        assert!(short <= 1, "{short} batches under 492 tokens");
        let all: usize = packed.iter().map(tokens).sum();
        assert!(
            packed.len() <= all.div_ceil(492) + 1,
            "{} batches",
            packed.len()
        );
    }

    #[test]
    fn a_zero_budget_batches_the_packed_part_by_count() {
        let lens = lengths(100, 4);
        let plan = Plan {
            batch_size: 3,
            token_budget: 0,
            packed_from: 40,
        };
        let got = batches(&mut StdRng::seed_from_u64(1), &lens, &plan);
        assert!(got.iter().all(|b| b.len() <= 3));
        assert!(got
            .iter()
            .all(|b| b.iter().all(|&i| i < 40) || b.iter().all(|&i| i >= 40)));
        assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 100);
    }
}
