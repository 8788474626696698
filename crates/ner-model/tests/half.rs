//! A model directory whose weights are stored in half precision (scripts/half-precision.py,
//! as the shipped models are) loads, and its emissions stay within fp16 rounding of the fp32
//! model's.

use ner_model::checkpoint::{self, Meta};
use ner_model::tagger::Inference;
use ner_model::ModelConfig;
use tch::{Device, Kind, Tensor};

mod common;
use common::{build, tokens};

#[test]
fn half_precision_weights_load_and_agree() {
    let (vs, model, vocab) = build(
        &ModelConfig {
            hidden: 6,
            word_dim: 5,
            ..Default::default()
        },
        4,
    );
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(dir.path(), &vs, &model, &vocab, &Meta::new("half")).unwrap();
    let full = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    let path = dir.path().join("model.safetensors");
    let tensors = Tensor::read_safetensors(&path).unwrap();
    let half: Vec<(String, Tensor)> = tensors
        .into_iter()
        .map(|(n, t)| (n, t.to_kind(Kind::Half)))
        .collect();
    Tensor::write_safetensors(&half, &path).unwrap();
    let halved = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    let data: Vec<_> = tokens().iter().map(|s| full.vocab.encode(s)).collect();
    let emissions = |m: &checkpoint::LoadedModel| {
        let mut out = vec![Vec::new(); data.len()];
        Inference::plain(8, Device::Cpu)
            .for_each_emissions(&m.model, &data, |i, em| out[i] = em.to_vec())
            .unwrap();
        out
    };
    let (a, b) = (emissions(&full), emissions(&halved));
    let diff = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 0.0, "the weights were not rounded");
    assert!(diff < 0.05, "half precision moved an emission by {diff}");
}
