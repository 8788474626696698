//! The native transformer against a reference computed once with numpy
//! (`tests/fixtures/tiny-bert/make.py`, which also wrote the tiny random model): every hidden
//! state of two padded sequences, padding rows included, agrees within 1e-4.

use ner_tagger::bert::Bert;
use std::path::PathBuf;

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
    let bert = Bert::load(&dir, 2).unwrap();
    let ids: Vec<i64> = want.ids.iter().flatten().copied().collect();
    let mask: Vec<bool> = want.mask.iter().flatten().copied().collect();
    for threads in [1, 2] {
        let states = bert.forward(&ids, &mask, want.ids.len(), threads);
        assert_eq!(states.len(), want.states.len());
        for (l, (got, want)) in states.iter().zip(&want.states).enumerate() {
            let flat: Vec<f32> = want.iter().flatten().flatten().copied().collect();
            assert_eq!(got.len(), flat.len());
            let diff = got
                .iter()
                .zip(&flat)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-4, "state {l}: largest difference {diff}");
        }
    }
}

#[test]
fn only_the_layers_asked_for_are_loaded_and_more_are_refused() {
    let bert = Bert::load(&fixture(), 1).unwrap();
    assert_eq!(bert.layers(), 1);
    let err = Bert::load(&fixture(), 3).unwrap_err().to_string();
    assert!(err.contains("layer 3 asked for, the model has 2"), "{err}");
}
