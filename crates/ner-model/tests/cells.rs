//! Each cell against one step computed by hand from the equations in `cells.rs`' doc comment,
//! and the encoder's padding invariance (batched equals one-by-one) for every cell.

use ner_model::cells::{reverse_index, Encoder, Recurrent, State};
use ner_model::CellKind;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `W x + b` for a row-major `[rows, cols]` matrix.
fn affine(w: &[f64], x: &[f64], b: &[f64]) -> Vec<f64> {
    let cols = x.len();
    b.iter()
        .enumerate()
        .map(|(r, bi)| bi + (0..cols).map(|c| w[r * cols + c] * x[c]).sum::<f64>())
        .collect()
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

fn set(t: &Tensor, v: &[f64]) {
    let mut t = t.shallow_clone();
    tch::no_grad(|| {
        t.copy_(
            &Tensor::from_slice(v)
                .view(t.size().as_slice())
                .to_kind(t.kind()),
        );
    });
}

/// The oracle: one step of `kind` from (h, c) on x, straight from the documented equations.
fn by_hand(kind: CellKind, r: &Recurrent, x: &[f64], h: &[f64], c: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let hs = h.len();
    let xw = affine(&values(&r.w_ih), x, &values(&r.b_ih));
    let hw = affine(&values(&r.w_hh), h, &values(&r.b_hh));
    let g = |k: usize, j: usize| xw[k * hs + j] + hw[k * hs + j];
    let mut nh = vec![0.0; hs];
    let mut nc = vec![0.0; hs];
    for j in 0..hs {
        match kind {
            CellKind::Lstm => {
                let (i, f, gg, o) = (sig(g(0, j)), sig(g(1, j)), g(2, j).tanh(), sig(g(3, j)));
                nc[j] = f * c[j] + i * gg;
                nh[j] = o * nc[j].tanh();
            }
            CellKind::Peephole => {
                let p = values(r.peep.as_ref().unwrap());
                let i = sig(g(0, j) + p[j] * c[j]);
                let f = sig(g(1, j) + p[hs + j] * c[j]);
                nc[j] = f * c[j] + i * g(2, j).tanh();
                let o = sig(g(3, j) + p[2 * hs + j] * nc[j]);
                nh[j] = o * nc[j].tanh();
            }
            CellKind::Cifg => {
                let f = sig(g(0, j));
                nc[j] = f * c[j] + (1.0 - f) * g(1, j).tanh();
                nh[j] = sig(g(2, j)) * nc[j].tanh();
            }
            CellKind::Gru => {
                let rr = sig(g(0, j));
                let z = sig(g(1, j));
                let n = (xw[2 * hs + j] + rr * hw[2 * hs + j]).tanh();
                nh[j] = (1.0 - z) * n + z * h[j];
            }
            CellKind::Rnn => nh[j] = g(0, j).tanh(),
        }
    }
    (nh, nc)
}

#[test]
fn each_cell_matches_a_hand_computed_step() {
    tch::set_num_threads(1); // tests run on several threads at once
    let (input, hidden) = (3i64, 2i64);
    for kind in CellKind::ALL {
        let vs = VarStore::new(Device::Cpu);
        let r = Recurrent::new(vs.root() / "cell", kind, input, hidden);
        // Tiny deterministic weights: every entry distinct, small.
        for (n, t) in [&r.w_ih, &r.w_hh, &r.b_ih, &r.b_hh]
            .into_iter()
            .chain(r.peep.as_ref())
            .enumerate()
        {
            let len = t.numel();
            let v: Vec<f64> = (0..len)
                .map(|i| ((i * 7 + n * 3) % 11) as f64 / 10.0 - 0.5)
                .collect();
            set(t, &v);
        }
        let x = [0.3, -0.7, 0.9];
        let h = [0.1, -0.2];
        let c = [0.5, -0.4];
        let state = State {
            h: Tensor::from_slice(&h)
                .view([1, hidden])
                .to_kind(Kind::Float),
            c: Some(
                Tensor::from_slice(&c)
                    .view([1, hidden])
                    .to_kind(Kind::Float),
            ),
        };
        let out = tch::no_grad(|| {
            r.step(
                &Tensor::from_slice(&x).view([1, input]).to_kind(Kind::Float),
                &state,
            )
        });
        let (want_h, want_c) = by_hand(kind, &r, &x, &h, &c);
        let got_h = values(&out.h);
        for j in 0..hidden as usize {
            assert!(
                (got_h[j] - want_h[j]).abs() < 1e-5,
                "{kind} h[{j}]: {} vs {}",
                got_h[j],
                want_h[j]
            );
        }
        if let Some(oc) = &out.c {
            let got_c = values(oc);
            for j in 0..hidden as usize {
                assert!((got_c[j] - want_c[j]).abs() < 1e-5, "{kind} c[{j}]");
            }
        }
    }
}

#[test]
fn lstm_family_forget_bias_starts_at_one() {
    tch::set_num_threads(1); // tests run on several threads at once
    for kind in [CellKind::Lstm, CellKind::Peephole, CellKind::Cifg] {
        let vs = VarStore::new(Device::Cpu);
        let r = Recurrent::new(vs.root(), kind, 4, 3);
        let chunk = if kind == CellKind::Cifg { 0 } else { 1 };
        let b = values(&(r.b_ih.narrow(0, chunk * 3, 3) + r.b_hh.narrow(0, chunk * 3, 3)));
        assert_eq!(b, vec![1.0; 3], "{kind}");
    }
}

#[test]
fn batched_equals_one_by_one_for_every_cell() {
    tch::set_num_threads(1); // tests run on several threads at once
    tch::manual_seed(3);
    let lengths = [5i64, 2, 4, 1];
    let t_max = 5;
    for kind in CellKind::ALL {
        let vs = VarStore::new(Device::Cpu);
        let enc = Encoder::new(vs.root() / "enc", kind, 6, 4, 2);
        let x = Tensor::randn([4, t_max, 6], (Kind::Float, Device::Cpu));
        // Padding holds garbage: it must not matter.
        let batched = tch::no_grad(|| {
            enc.forward(&x, &reverse_index(&lengths, t_max), false, None, |h| {
                h.shallow_clone()
            })
        });
        for (b, &len) in lengths.iter().enumerate() {
            let alone_x = x.narrow(0, b as i64, 1).narrow(1, 0, len);
            let alone = tch::no_grad(|| {
                enc.forward(&alone_x, &reverse_index(&[len], len), false, None, |h| {
                    h.shallow_clone()
                })
            });
            let part = batched.narrow(0, b as i64, 1).narrow(1, 0, len);
            let diff = f64::try_from((part - alone).abs().max()).unwrap();
            assert!(diff < 1e-5, "{kind}: sentence {b} differs by {diff}");
        }
    }
}
