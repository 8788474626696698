//! The CRF on libtorch against brute-force enumeration, and its NLL gradient against finite
//! differences.

use ner_core::viterbi::Viterbi;
use ner_core::{LabelSet, TagScheme, TagSet};
use ner_model::crf::Crf;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn f64s(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

/// Every path's score with the training-time mask (forbidden moves at -10000).
fn brute(crf: &Crf, tags: &TagSet, em: &[f64], t_len: usize) -> Vec<(Vec<usize>, f64)> {
    let k = tags.len();
    let (st, en, tr) = (f64s(&crf.start), f64s(&crf.end), f64s(&crf.trans));
    let pen = |ok: bool| if ok { 0.0 } else { -10_000.0 };
    (0..k.pow(t_len as u32))
        .map(|mut code| {
            let p: Vec<usize> = (0..t_len)
                .map(|_| {
                    let j = code % k;
                    code /= k;
                    j
                })
                .collect();
            let mut s = st[p[0]] + pen(tags.allowed_start(p[0])) + em[p[0]];
            for t in 1..t_len {
                s += tr[p[t - 1] * k + p[t]] + pen(tags.allowed(p[t - 1], p[t])) + em[t * k + p[t]];
            }
            s += en[p[t_len - 1]] + pen(tags.allowed_end(p[t_len - 1]));
            (p, s)
        })
        .collect()
}

fn setup(seed: i64, scheme: TagScheme) -> (VarStore, Crf, TagSet) {
    tch::manual_seed(seed);
    let tags = TagSet::new(scheme, LabelSet::frozen_from(["A", "B"]));
    let mut vs = VarStore::new(Device::Cpu);
    let crf = Crf::new(vs.root() / "crf", &tags);
    vs.double();
    for v in [&crf.start, &crf.end, &crf.trans] {
        let mut v = v.shallow_clone();
        tch::no_grad(|| {
            v.copy_(&(Tensor::randn(v.size(), (Kind::Double, Device::Cpu)) * 0.7));
        });
    }
    (vs, crf, tags)
}

#[test]
fn log_partition_gold_score_and_best_path_match_brute_force() {
    tch::set_num_threads(1); // tests run on several threads at once
    for (seed, scheme) in [
        (1, TagScheme::Bio),
        (2, TagScheme::Bioes),
        (3, TagScheme::Bio),
    ] {
        let (_vs, crf, tags) = setup(seed, scheme);
        let k = tags.len() as i64;
        let lengths = [4i64, 2, 3];
        let t_max = 4;
        let em = Tensor::randn([3, t_max, k], (Kind::Double, Device::Cpu));
        let mask = Tensor::from_slice(
            &(0..3 * t_max)
                .map(|i| i % t_max < lengths[(i / t_max) as usize])
                .collect::<Vec<_>>(),
        )
        .view([3, t_max]);
        let log_z = f64s(&crf.log_partition(&em, &mask));
        for (b, &len) in lengths.iter().enumerate() {
            let e = f64s(&em.get(b as i64).narrow(0, 0, len));
            let paths = brute(&crf, &tags, &e, len as usize);
            let m = paths.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let want = m + paths.iter().map(|p| (p.1 - m).exp()).sum::<f64>().ln();
            assert!((log_z[b] - want).abs() < 1e-8, "log Z of sentence {b}");
            // Gold score of a few paths, padded with tag 0.
            for p in paths.iter().step_by(7).take(10) {
                let mut gold: Vec<i64> = p.0.iter().map(|&x| x as i64).collect();
                gold.resize(t_max as usize, 0);
                let score = f64s(&crf.path_score(
                    &em.narrow(0, b as i64, 1),
                    &Tensor::from_slice(&gold).view([1, t_max]),
                    &mask.narrow(0, b as i64, 1),
                ))[0];
                assert!((score - p.1).abs() < 1e-8, "path score");
            }
            // Viterbi on the decoding transitions finds the brute-force best allowed path.
            let tr = crf.transitions().unwrap();
            let e32: Vec<f32> = e.iter().map(|&x| x as f32).collect();
            let mut best = Vec::new();
            Viterbi::new().decode(&tr, &e32, &mut best);
            let top = paths.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            assert_eq!(best, top.0, "best path of sentence {b}");
        }
    }
}

#[test]
fn nll_gradient_matches_finite_differences() {
    tch::set_num_threads(1); // tests run on several threads at once
    let (_vs, crf, tags) = setup(5, TagScheme::Bioes);
    let k = tags.len() as i64;
    let em = Tensor::randn([2, 3, k], (Kind::Double, Device::Cpu)).set_requires_grad(true);
    let mask = Tensor::from_slice(&[true, true, true, true, true, false]).view([2, 3]);
    let gold = Tensor::from_slice(&[0i64, 4, 0, 1, 3, 0]).view([2, 3]);
    let loss = |em: &Tensor| crf.nll(em, &gold, &mask).sum(Kind::Double);
    let l = loss(&em);
    l.backward();
    let g_em = f64s(&em.grad());
    let g_tr = f64s(&crf.trans.grad());
    let eps = 1e-6;
    let base = f64s(&em.detach());
    for i in (0..base.len()).step_by(3) {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let f = |v: &[f64]| {
            f64::try_from(tch::no_grad(|| {
                loss(&Tensor::from_slice(v).view([2, 3, k]))
            }))
            .unwrap()
        };
        let fd = (f(&plus) - f(&minus)) / (2.0 * eps);
        assert!(
            (fd - g_em[i]).abs() < 1e-5,
            "d/d em[{i}]: autograd {} vs {}",
            g_em[i],
            fd
        );
    }
    let trans = crf.trans.shallow_clone();
    for i in (0..(k * k) as usize).step_by(5) {
        let orig = f64s(&trans)[i];
        let at = |v: f64| {
            let t = trans.shallow_clone();
            tch::no_grad(|| {
                let _ = t.view([-1]).get(i as i64).fill_(v);
            });
            f64::try_from(tch::no_grad(|| loss(&em.detach()))).unwrap()
        };
        let fd = (at(orig + eps) - at(orig - eps)) / (2.0 * eps);
        at(orig);
        assert!(
            (fd - g_tr[i]).abs() < 1e-5,
            "d/d trans[{i}]: autograd {} vs {}",
            g_tr[i],
            fd
        );
    }
}

/// Distillation: for any teacher distribution q over paths, `log Z` minus the expected score
/// computed from q's marginals and transition counts is the cross-entropy `-Σ q(y) log p(y)`
/// found by enumeration; for a one-hot q it is the negative log-likelihood of that path.
#[test]
fn expected_score_gives_the_cross_entropy_against_a_teacher_and_the_nll_for_a_one_hot_one() {
    tch::set_num_threads(1);
    let (_vs, crf, tags) = setup(4, TagScheme::Bioes);
    let k = tags.len();
    let (lengths, t_max) = ([4usize, 3], 4usize);
    let em = Tensor::randn([2, t_max as i64, k as i64], (Kind::Double, Device::Cpu));
    let mask = Tensor::from_slice(
        &(0..2 * t_max)
            .map(|i| i % t_max < lengths[i / t_max])
            .collect::<Vec<_>>(),
    )
    .view([2, t_max as i64]);
    // Padding holds 0.3 everywhere: the loss must not read it.
    let mut unary = vec![0.3f64; 2 * t_max * k];
    let mut pairs = vec![0.0f64; 2 * k * k];
    let mut want = [0.0f64; 2];
    let mut one_hot = (
        vec![0.3f64; 2 * t_max * k],
        vec![0.0f64; 2 * k * k],
        vec![0i64; 2 * t_max],
    );
    for (b, &len) in lengths.iter().enumerate() {
        let paths = brute(
            &crf,
            &tags,
            &f64s(&em.get(b as i64).narrow(0, 0, len as i64)),
            len,
        );
        let m = paths.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let log_z = m + paths.iter().map(|p| (p.1 - m).exp()).sum::<f64>().ln();
        // The teacher: weights from a hash of the path, on allowed paths only.
        let allowed: Vec<&(Vec<usize>, f64)> = paths.iter().filter(|p| p.1 > -5_000.0).collect();
        let w: Vec<f64> = (0..allowed.len())
            .map(|i| ((i * 7919 + b) % 13) as f64 + 0.5)
            .collect();
        let total: f64 = w.iter().sum();
        unary[b * t_max * k..][..len * k].fill(0.0);
        for (p, wi) in allowed.iter().zip(&w) {
            let q = wi / total;
            want[b] -= q * (p.1 - log_z);
            for (t, &j) in p.0.iter().enumerate() {
                unary[(b * t_max + t) * k + j] += q;
            }
            for pair in p.0.windows(2) {
                pairs[b * k * k + pair[0] * k + pair[1]] += q;
            }
        }
        // One-hot: the teacher's heaviest path.
        let gold = &allowed[w
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .unwrap()
            .0]
            .0;
        one_hot.0[b * t_max * k..][..len * k].fill(0.0);
        for (t, &j) in gold.iter().enumerate() {
            one_hot.0[(b * t_max + t) * k + j] = 1.0;
            one_hot.2[b * t_max + t] = j as i64;
        }
        for pair in gold.windows(2) {
            one_hot.1[b * k * k + pair[0] * k + pair[1]] += 1.0;
        }
    }
    let shape = |v: &[f64], d: [i64; 3]| Tensor::from_slice(v).view(d);
    let (b, t, kk) = (2, t_max as i64, k as i64);
    let loss = |u: &[f64], p: &[f64]| {
        let score = crf.expected_score(&em, &shape(u, [b, t, kk]), &shape(p, [b, kk, kk]), &mask);
        f64s(&(crf.log_partition(&em, &mask) - score))
    };
    let got = loss(&unary, &pairs);
    for s in 0..2 {
        assert!(
            (got[s] - want[s]).abs() < 1e-8,
            "sentence {s}: {} vs {}",
            got[s],
            want[s]
        );
    }
    let nll = f64s(&crf.nll(&em, &Tensor::from_slice(&one_hot.2).view([b, t]), &mask));
    let got = loss(&one_hot.0, &one_hot.1);
    for s in 0..2 {
        assert!(
            (got[s] - nll[s]).abs() < 1e-8,
            "sentence {s}: {} vs {}",
            got[s],
            nll[s]
        );
    }
}
