//! The transformer forward pass against a reference computed once with numpy
//! (`tests/fixtures/tiny-bert/make.py`, which also wrote the tiny random model): every hidden
//! state of two padded sequences agrees within 1e-4.

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
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
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
