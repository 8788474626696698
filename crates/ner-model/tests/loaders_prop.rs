//! Fuzzing the model-directory loaders with proptest: `config.json`, `vocab.json` (with a
//! lexicon) and `model.safetensors` given arbitrary or mutated bytes load or fail with an
//! error, never a panic; a vocabulary that loads encodes any text.

use ner_model::checkpoint::{self, Meta};
use ner_model::config::CharEncoderKind;
use ner_model::vocab::Vocab;
use ner_model::{CellKind, ModelConfig};
use proptest::prelude::*;
use std::path::Path;
use tch::Device;

mod common;
use common::build;

/// A small valid model directory, written once.
fn model_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let config = ModelConfig {
            word_dim: 4,
            char_dim: 3,
            char_filters: 3,
            casing_dim: 2,
            bigram_dim: 2,
            lexicon_dim: 2,
            hidden: 3,
            cell: CellKind::Lstm,
            char_encoder: CharEncoderKind::Cnn,
            ..Default::default()
        };
        let (vs, model, vocab) = build(&config, 3);
        let dir = tempfile::tempdir().unwrap();
        checkpoint::save(dir.path(), &vs, &model, &vocab, &Meta::new("fuzz")).unwrap();
        dir
    })
    .path()
}

/// `bytes` mutated at a few positions (or cut short).
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(at, b) in edits {
        if !bytes.is_empty() {
            let n = bytes.len();
            bytes[at % n] = b;
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    bytes
}

/// Loads a copy of the model directory with `file` replaced by `bytes`.
fn load_with(file: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(model_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(file), bytes).unwrap();
    if let Ok(m) = checkpoint::load(dir.path(), Device::Cpu) {
        m.vocab.encode(&["北京", "x", ""]);
    }
}

fn edits() -> impl Strategy<Value = (Vec<(usize, u8)>, Option<usize>)> {
    (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        proptest::option::of(any::<usize>()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_damaged_weights_file_is_an_error_not_a_panic((e, cut) in edits()) {
        let good = std::fs::read(model_dir().join("model.safetensors")).unwrap();
        // Most edits hit the JSON header at the front, where a parser can be led astray.
        let e: Vec<(usize, u8)> = e.into_iter().map(|(at, b)| (at % 400, b)).collect();
        load_with("model.safetensors", &mutate(good, &e, cut));
    }

    #[test]
    fn a_damaged_config_or_vocabulary_is_an_error_not_a_panic((e, cut) in edits(), vocab in any::<bool>()) {
        let file = if vocab { "vocab.json" } else { "config.json" };
        let good = std::fs::read(model_dir().join(file)).unwrap();
        load_with(file, &mutate(good, &e, cut));
    }

    #[test]
    fn arbitrary_json_never_panics_the_config_or_vocabulary(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(c) = serde_json::from_slice::<ModelConfig>(&bytes) {
            let _ = c.validate();
        }
        if let Ok(mut v) = serde_json::from_slice::<Vocab>(&bytes) {
            v.reindex();
            if v.validate().is_ok() {
                v.encode(&["a", "中"]);
            }
        }
    }
}
