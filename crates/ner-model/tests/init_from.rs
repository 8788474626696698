//! `--init-from`: a run started from a trained model keeps its encoder and embeddings, extends
//! its vocabulary, and rebuilds the projection and CRF for the new labels, copying the rows of
//! the tags both label sets share; `--freeze-encoder-epochs` leaves the encoder untouched.

use ner_core::scheme::{Prefix, Tag};
use ner_model::checkpoint::{self, Meta};
use ner_model::training::{DataConfig, Run, RunConfig, Silent, TrainOptions};
use ner_model::{Device, ModelConfig};
use std::path::{Path, PathBuf};
use tch::Tensor;

mod common;
use common::build;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// The English fixtures with MISC renamed PROD: labels LOC, ORG, PER shared, PROD new.
fn renamed(dir: &Path) -> (PathBuf, PathBuf) {
    let copy = |name: &str| {
        let text = std::fs::read_to_string(fixture(name))
            .unwrap()
            .replace("MISC", "PROD");
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    (copy("en-train.conll"), copy("en-dev.conll"))
}

fn run(base: &Path, data: (PathBuf, PathBuf), out: &Path, freeze: usize) -> Run {
    let config = RunConfig {
        model: ModelConfig::default(),
        train: TrainOptions {
            epochs: 1,
            freeze_encoder_epochs: freeze,
            ..Default::default()
        },
        data: DataConfig {
            train: data.0,
            dev: data.1,
            test: None,
            columns: Default::default(),
        },
        inputs: ner_model::training::InputConfig {
            init_from: Some(base.to_owned()),
            ..Default::default()
        },
        name: None,
        eval_batch_size: 32,
    };
    Run::start(config, out, Device::Cpu, &mut Silent).unwrap()
}

fn var(run: &Run, name: &str) -> Tensor {
    run.trainer().vs.variables()[name].shallow_clone()
}

#[test]
fn a_run_from_a_trained_model_keeps_its_encoder_and_shared_labels() {
    tch::set_num_threads(1);
    let config = ModelConfig {
        word_dim: 6,
        hidden: 5,
        ..Default::default()
    };
    let (vs, model, vocab) = build(&config, 21);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    checkpoint::save(&base, &vs, &model, &vocab, &Meta::new("base")).unwrap();
    let old = checkpoint::load(&base, Device::Cpu).unwrap();
    let mut r = run(&base, renamed(dir.path()), &dir.path().join("new"), 1);
    let t = r.trainer();
    assert_eq!(
        t.model.config.hidden, 5,
        "the architecture is the base model's"
    );
    assert_eq!(t.model.tags.labels().names(), ["LOC", "ORG", "PER", "PROD"]);
    // Every base word keeps its id and vector; the corpus's words are added.
    assert!(t.vocab.num_words() > old.vocab.num_words());
    for (i, w) in old.vocab.words().iter().enumerate() {
        assert_eq!(t.vocab.word_id(w), i as i64, "{w}");
    }
    let rows = old.vocab.num_words() as i64;
    let old_vars = old.vs.variables();
    assert!(var(&r, "word_emb.weight")
        .narrow(0, 0, rows)
        .equal(&old_vars["word_emb.weight"]));
    for name in old_vars.keys().filter(|n| n.starts_with("encoder.")) {
        assert!(var(&r, name).equal(&old_vars[name.as_str()]), "{name}");
    }
    // The projection row of B-PER is the base's B-PER row; CRF transitions between shared tags
    // are kept.
    let (new_tags, old_tags) = (&t.model.tags, &old.model.tags);
    let idx = |ts: &ner_core::TagSet, p: Prefix, l: &str| {
        ts.index(Tag::new(p, ts.labels().get(l).unwrap())).unwrap() as i64
    };
    let (nb, ob) = (
        idx(new_tags, Prefix::B, "PER"),
        idx(old_tags, Prefix::B, "PER"),
    );
    let (ni, oi) = (
        idx(new_tags, Prefix::I, "LOC"),
        idx(old_tags, Prefix::I, "LOC"),
    );
    assert!(var(&r, "proj.weight")
        .get(nb)
        .equal(&old_vars["proj.weight"].get(ob)));
    let (new_trans, old_trans) = (var(&r, "crf.trans"), &old_vars["crf.trans"]);
    assert_eq!(
        new_trans.get(nb).get(ni).double_value(&[]),
        old_trans.get(ob).get(oi).double_value(&[])
    );
    // With the encoder frozen for the first epoch, training moves the head only.
    r.train_epoch(1, &mut Silent).unwrap();
    for name in old_vars.keys().filter(|n| n.starts_with("encoder.")) {
        assert!(
            var(&r, name).equal(&old_vars[name.as_str()]),
            "{name} moved"
        );
    }
    assert!(
        !var(&r, "proj.weight")
            .get(nb)
            .equal(&old_vars["proj.weight"].get(ob)),
        "the head did not train"
    );
}
