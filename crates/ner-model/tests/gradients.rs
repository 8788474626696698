//! The gradient-flow measurement against a finite-difference estimate on a tiny network.

use ner_model::cells::Recurrent;
use ner_model::diagnostics::gradient_profile;
use ner_model::CellKind;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[test]
fn gradient_profile_matches_finite_differences() {
    tch::set_num_threads(1); // tests run on several threads at once
    let (t_len, d) = (6i64, 3i64);
    for kind in CellKind::ALL {
        tch::manual_seed(5);
        let mut vs = VarStore::new(Device::Cpu);
        let cell = Recurrent::new(vs.root() / "c", kind, d, d);
        vs.double();
        let x = Tensor::randn([1, t_len, d], (Kind::Double, Device::Cpu));
        let w = Tensor::randn([d], (Kind::Double, Device::Cpu));
        let prof = gradient_profile(&cell, &x, &w).unwrap();
        let base: Vec<f64> = Vec::try_from(x.reshape([-1])).unwrap();
        let loss = |v: &[f64]| -> f64 {
            let x = Tensor::from_slice(v).view([1, t_len, d]);
            let h = tch::no_grad(|| cell.forward(&x, false));
            f64::try_from((h.select(1, t_len - 1) * &w).sum(Kind::Double)).unwrap()
        };
        let eps = 1e-6;
        for t in 0..t_len as usize {
            let mut sq = 0.0;
            for k in 0..d as usize {
                let i = t * d as usize + k;
                let (mut p, mut m) = (base.clone(), base.clone());
                p[i] += eps;
                m[i] -= eps;
                let g = (loss(&p) - loss(&m)) / (2.0 * eps);
                sq += g * g;
            }
            let fd = sq.sqrt();
            let got = prof[t_len as usize - 1 - t];
            assert!(
                (got - fd).abs() < 1e-5 * (1.0 + fd),
                "{kind} t={t}: autograd {got} vs finite differences {fd}"
            );
        }
    }
}
