//! The model-directory loaders under proptest, each against an oracle of what must happen:
//! - `model.safetensors` mutated: when its length prefix or header changed in meaning (read
//!   with serde_json) or it was cut short, both loaders (libtorch's and the native one) refuse
//!   it with an error; when only tensor data changed, both load it;
//! - `config.json` or `vocab.json` mutated: the same JSON loads; a file that is not JSON any
//!   more is an error that names the file;
//! - arbitrary JSON: a config that validates survives a serde round trip, and a vocabulary that
//!   validates encodes any text into ids of its own tables.

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

/// Loads a copy of the model directory with `file` replaced by `bytes`, with both loaders;
/// both must agree on whether it loads. The error message when it does not.
fn load_with(file: &str, bytes: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(model_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(file), bytes).unwrap();
    let torch = checkpoint::load(dir.path(), Device::Cpu).map(|m| {
        m.vocab.encode(&["北京", "x", ""]);
    });
    let native = ner_tagger::Tagger::load(dir.path(), ner_tagger::TaggerOptions::default());
    match (torch, native) {
        (Ok(()), Ok(_)) => Ok(()),
        (Err(a), Err(_)) => Err(a.to_string()),
        (a, b) => panic!("the loaders disagree: libtorch {a:?}, native {:?}", b.err()),
    }
}

/// A safetensors file's header as JSON, if its length prefix and header read.
fn header(bytes: &[u8]) -> Option<serde_json::Value> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let mut h: serde_json::Value =
        serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    h.as_object_mut()?.remove("__metadata__");
    Some(h)
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
    fn a_damaged_weights_file_is_an_error_and_changed_data_is_not((e, cut) in edits()) {
        let good = std::fs::read(model_dir().join("model.safetensors")).unwrap();
        // Most edits hit the length prefix and the JSON header at the front.
        let e: Vec<(usize, u8)> = e.into_iter().map(|(at, b)| (at % 400, b)).collect();
        let bad = mutate(good.clone(), &e, cut);
        prop_assert!(header(&good).is_some());
        let same_layout = bad.len() == good.len() && bad[..8] == good[..8] && header(&bad) == header(&good);
        let loaded = load_with("model.safetensors", &bad);
        prop_assert_eq!(loaded.is_ok(), same_layout, "{:?}", loaded);
    }

    #[test]
    fn a_damaged_config_or_vocabulary_loads_as_its_json_reads((e, cut) in edits(), vocab in any::<bool>()) {
        let file = if vocab { "vocab.json" } else { "config.json" };
        let good = std::fs::read(model_dir().join(file)).unwrap();
        let bad = mutate(good.clone(), &e, cut);
        let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).ok();
        let loaded = load_with(file, &bad);
        match json(&bad) {
            Some(v) if Some(&v) == json(&good).as_ref() => prop_assert!(loaded.is_ok(), "{:?}", loaded),
            None => {
                let message = loaded.err().unwrap_or_default();
                prop_assert!(message.contains(file), "{message}");
            }
            Some(_) => {}
        }
    }

    #[test]
    fn json_that_validates_round_trips_and_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(c) = serde_json::from_slice::<ModelConfig>(&bytes) {
            if c.validate().is_ok() {
                let again: ModelConfig = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
                prop_assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&c).unwrap());
            }
        }
        if let Ok(mut v) = serde_json::from_slice::<Vocab>(&bytes) {
            v.reindex();
            if v.validate().is_ok() {
                let e = v.encode(&["a", "中"]);
                prop_assert_eq!(e.words.len(), 2);
                prop_assert!(e.words.iter().all(|&w| (w as usize) < v.num_words().max(2)));
                prop_assert!(e.chars.iter().flatten().all(|&c| (c as usize) < v.num_chars().max(2)));
            }
        }
    }
}
