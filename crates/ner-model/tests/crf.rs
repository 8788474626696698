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
