//! The transformer forward pass on libtorch against a reference computed once with numpy
//! (ner-tagger's `tests/fixtures/tiny-bert/make.py`, which also wrote the tiny random model):
//! every hidden state of two padded sequences agrees within 1e-4; and ner-tagger's native
//! transformer against libtorch's on batches of other lengths and padding.

use ner_model::transformer::Bert;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

#[derive(serde::Deserialize)]
struct Expected {
    ids: Vec<Vec<i64>>,
    mask: Vec<Vec<bool>>,
    states: Vec<Vec<Vec<Vec<f32>>>>,
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ner-tagger/tests/fixtures/tiny-bert")
}

#[test]
fn hidden_states_match_the_numpy_reference() {
    let dir = fixture();
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let want: Expected = serde_json::from_str(&text).unwrap();
    let bert = Bert::load(&dir, 2, Device::Cpu).unwrap();
    let ids = Tensor::from_slice2(&want.ids);
    let mask = Tensor::from_slice2(&want.mask);
    let states = tch::no_grad(|| bert.forward(&ids, &mask));
    assert_eq!(states.len(), want.states.len());
    for (l, (got, want)) in states.iter().zip(&want.states).enumerate() {
        let flat: Vec<f32> = want.iter().flatten().flatten().copied().collect();
        let want = Tensor::from_slice(&flat).view(got.size().as_slice());
        let diff = (got.to_kind(Kind::Float) - want)
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-4, "state {l}: largest difference {diff}");
    }
}

#[test]
fn only_the_layers_asked_for_are_loaded_and_more_are_refused() {
    let bert = Bert::load(&fixture(), 1, Device::Cpu).unwrap();
    assert_eq!(bert.layers(), 1);
    let err = Bert::load(&fixture(), 3, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 3 asked for, the model has 2"), "{err}");
}

#[test]
fn native_hidden_states_equal_libtorch_on_padded_batches() {
    tch::set_num_threads(1);
    let torch = Bert::load(&fixture(), 2, Device::Cpu).unwrap();
    let native = ner_tagger::bert::Bert::load(&fixture(), 2).unwrap();
    // Batches of 1 to 4 sequences of 3 to 16 pieces (the position table's length), each padded
    // to the longest; ids cover the whole vocabulary of 20.
    for b in 1..=4usize {
        let lens: Vec<usize> = (0..b).map(|i| 16 - (i * 5 + b) % 14).collect();
        let p = *lens.iter().max().unwrap();
        let mut ids = vec![0i64; b * p];
        let mut mask = vec![false; b * p];
        for (s, &len) in lens.iter().enumerate() {
            for t in 0..len {
                ids[s * p + t] = ((s * 7 + t * 3 + b) % 20) as i64;
                mask[s * p + t] = true;
            }
        }
        let want = tch::no_grad(|| {
            torch.forward(
                &Tensor::from_slice(&ids).view([b as i64, p as i64]),
                &Tensor::from_slice(&mask).view([b as i64, p as i64]),
            )
        });
        for threads in [1, 2] {
            let got = native.forward(&ids, &mask, b, threads);
            assert_eq!(got.len(), want.len());
            for (l, (g, w)) in got.iter().zip(&want).enumerate() {
                let w = Vec::<f32>::try_from(w.to_kind(Kind::Float).reshape([-1])).unwrap();
                let d = g
                    .iter()
                    .zip(&w)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(d < 1e-4, "batch {b}, {threads} threads, state {l}: {d}");
            }
        }
    }
}
