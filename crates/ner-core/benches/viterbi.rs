//! Viterbi decoding time for a CoNLL-length sentence (T = 30) with the 9 tags of BIO over four
//! types and the 17 of BIOES over four types; k-best (k = 5) for comparison.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{LabelSet, TagScheme, TagSet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let labels = LabelSet::frozen_from(["LOC", "MISC", "ORG", "PER"]);
    let mut group = c.benchmark_group("viterbi_T30");
    for scheme in [TagScheme::Bio, TagScheme::Bioes] {
        let tags = TagSet::new(scheme, labels.clone());
        let k = tags.len();
        let mut v = |n| {
            (0..n)
                .map(|_| rng.random_range(-2.0f32..2.0))
                .collect::<Vec<_>>()
        };
        let tr = Transitions::new(k, &v(k), &v(k), &v(k * k), Some(&tags)).expect("shapes");
        let em = v(30 * k);
        let mut dec = Viterbi::new();
        let mut path = Vec::new();
        group.bench_function(BenchmarkId::new("best", format!("K={k}")), |b| {
            b.iter(|| black_box(dec.decode(&tr, black_box(&em), &mut path)))
        });
        group.bench_function(BenchmarkId::new("5-best", format!("K={k}")), |b| {
            b.iter(|| black_box(dec.nbest(&tr, black_box(&em), 5)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
