//! The weight average (`--ema`) against the formula: one step from the initial weights, the
//! swap in both directions, and a save-then-load round trip.

use ner_core::{LabelSet, TagScheme, TagSet};
use ner_model::training::{TrainOptions, Trainer};
use ner_model::vocab::Vocab;
use ner_model::ModelConfig;
use tch::{Device, Tensor};

fn weights(t: &Trainer) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> =
        t.vs.variables()
            .into_iter()
            .map(|(n, t)| (n, t.detach().copy()))
            .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn max_diff(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> f64 {
    a.iter()
        .zip(b)
        .map(|((na, x), (nb, y))| {
            assert_eq!(na, nb);
            (x - y).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

#[test]
fn average_follows_the_formula_and_survives_a_round_trip() {
    tch::set_num_threads(1);
    let config = ModelConfig {
        word_dim: 6,
        char_dim: 4,
        char_filters: 5,
        casing_dim: 2,
        hidden: 5,
        ..Default::default()
    };
    let sentences = [
        vec!["John", "lives", "in", "Paris"],
        vec!["Acme", "Corp", "rose"],
    ];
    let vocab = Vocab::build(sentences.iter().flatten().copied(), &config, 1);
    let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["LOC", "ORG", "PER"]));
    let gold = [vec![5i64, 0, 0, 1], vec![3, 4, 0]];
    let data: Vec<_> = sentences
        .iter()
        .zip(&gold)
        .map(|(s, g)| {
            let mut e = vocab.encode(s);
            e.tags = Some(g.clone());
            e
        })
        .collect();
    let decay: f64 = 0.5;
    let opts = TrainOptions {
        batch_size: 8, // one batch: one step per epoch
        ema: decay,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&config, vocab, &tags, opts, Device::Cpu).unwrap();
    let w0 = weights(&trainer);
    trainer
        .epoch(1, &data, data.len(), &|| false, |_| {})
        .unwrap();
    let w1 = weights(&trainer);
    assert!(max_diff(&w0, &w1) > 1e-4, "the step changed nothing");
    // After one step the warm-up decay is min(0.5, 2/11) = 2/11.
    let d = decay.min(2.0 / 11.0);
    let want: Vec<_> = w0
        .iter()
        .zip(&w1)
        .map(|((n, a), (_, b))| (n.clone(), a * d + b * (1.0 - d)))
        .collect();
    trainer.average.swap();
    assert!(max_diff(&weights(&trainer), &want) < 1e-6);
    trainer.average.swap();
    assert!(max_diff(&weights(&trainer), &w1) < 1e-7);
    // Save, disturb by another step, load: the saved average is back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("average.safetensors");
    trainer.average.save(&path).unwrap();
    trainer
        .epoch(2, &data, data.len(), &|| false, |_| {})
        .unwrap();
    trainer.average.load(&path, 1).unwrap();
    trainer.average.swap();
    assert!(max_diff(&weights(&trainer), &want) < 1e-6);
    // A file of another model is refused with its name.
    std::fs::write(&path, b"not safetensors").unwrap();
    let err = trainer.average.load(&path, 1).unwrap_err().to_string();
    assert!(err.contains("average.safetensors"), "{err}");
}
