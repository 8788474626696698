//! `--init-from`: a run started from a trained model keeps its encoder and embeddings, extends
//! its vocabulary, and rebuilds the projection and CRF for the new labels, copying the rows of
//! the tags both label sets share; `--freeze-encoder-epochs` leaves the encoder untouched.

use ner_core::scheme::{decode_spans, Prefix, Tag};
use ner_model::checkpoint;
use ner_model::tagger;
use ner_model::training::{keep_labels, DataConfig, Run, RunConfig, Silent, TrainOptions};
use ner_model::DecodeOptions;
use ner_model::{Device, ModelConfig};
use std::path::{Path, PathBuf};
use tch::Tensor;

mod common;
use common::saved;

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
    Run::start(
        run_config(base, data, freeze),
        out,
        Device::Cpu,
        &mut Silent,
    )
    .unwrap()
}

fn run_config(base: &Path, data: (PathBuf, PathBuf), freeze: usize) -> RunConfig {
    RunConfig {
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
    }
}

fn var(run: &Run, name: &str) -> Tensor {
    run.trainer().vs.variables()[name].shallow_clone()
}

#[test]
fn a_run_from_a_trained_model_keeps_its_encoder_and_shared_labels() {
    let (dir, base, old) = small_base(6);
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

/// The English fixtures without their PER entities (tagged O): PER is a base label the
/// corpus lacks.
fn without_per(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("en-train.conll"))
        .unwrap()
        .replace("B-PER", "O")
        .replace("I-PER", "O");
    let p = dir.join("no-per.conll");
    std::fs::write(&p, text).unwrap();
    p
}

/// A random model with labels LOC, ORG and PER saved in a new temporary directory.
fn random_base() -> (tempfile::TempDir, PathBuf) {
    saved(&ModelConfig::default(), 5, "base")
}

/// A small random base model of word width `word_dim`, saved, and as loaded back.
fn small_base(word_dim: i64) -> (tempfile::TempDir, PathBuf, checkpoint::LoadedModel) {
    let config = ModelConfig {
        word_dim,
        hidden: 5,
        ..Default::default()
    };
    let (dir, base) = saved(&config, 21, "base");
    let old = checkpoint::load(&base, Device::Cpu).unwrap();
    (dir, base, old)
}

fn read(path: &Path) -> ner_core::corpus::Corpus {
    ner_core::corpus::Corpus::read(path, Default::default(), None).unwrap()
}

#[test]
fn keep_labels_adds_the_base_models_predictions_of_lacking_labels_on_o_tokens_only() {
    let (dir, base) = random_base();
    let path = without_per(dir.path());
    let original = read(&path);
    let mut corpus = read(&path);
    let added = keep_labels::apply(&mut corpus, &base, 0.0).unwrap();
    assert_eq!(added.labels, ["PER"]);
    assert!(added.entities > 0, "a random model predicts some PER");
    // The oracle: each sentence tagged alone by the base model; its PER entities that overlap
    // no gold entity, added to the gold ones.
    let mut tagger = tagger::load(&base, Default::default()).unwrap();
    let per_base = tagger.tag_set().labels().get("PER").unwrap();
    let per = corpus.labels.get("PER").unwrap();
    let mut expected_added = 0;
    for (before, after) in original.sentences.iter().zip(&corpus.sentences) {
        let gold = decode_spans(&before.tags[0]);
        let tagged = tagger
            .tag(
                std::slice::from_ref(&before.tokens),
                DecodeOptions {
                    probabilities: true,
                    nbest: 0,
                },
            )
            .unwrap();
        let mut want: Vec<(usize, usize, String)> = gold
            .iter()
            .map(|s| {
                (
                    s.start(),
                    s.end(),
                    original.labels.name(*s.label()).to_owned(),
                )
            })
            .collect();
        for e in tagged[0]
            .entities
            .iter()
            .filter(|e| *e.span.label() == per_base)
        {
            if !gold
                .iter()
                .any(|g| g.start() < e.span.end() && e.span.start() < g.end())
            {
                want.push((e.span.start(), e.span.end(), "PER".into()));
                expected_added += 1;
            }
        }
        want.sort();
        let mut got: Vec<(usize, usize, String)> = decode_spans(&after.tags[0])
            .iter()
            .map(|s| {
                (
                    s.start(),
                    s.end(),
                    corpus.labels.name(*s.label()).to_owned(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "line {}", before.line);
        let written: Vec<&str> = after.raw_tags[0].iter().map(String::as_str).collect();
        let reread = ner_core::scheme::intern_tags(&written, &mut corpus.labels.clone()).unwrap();
        assert_eq!(reread, after.tags[0], "the written tags say the same");
    }
    assert_eq!(added.entities, expected_added);
    assert!(corpus.labels.get("PER") == Some(per));
    // A threshold no prediction reaches adds nothing; a corpus with every base label gets nothing.
    let mut strict = read(&path);
    assert_eq!(
        keep_labels::apply(&mut strict, &base, 1.0)
            .unwrap()
            .entities,
        0
    );
    let mut full = read(&fixture("en-train.conll"));
    let none = keep_labels::apply(&mut full, &base, 0.0).unwrap();
    assert!(none.labels.is_empty() && none.entities == 0);
}

#[test]
fn a_run_with_keep_labels_trains_the_union_of_labels() {
    let (dir, base) = random_base();
    let train = without_per(dir.path());
    let dev = fixture("en-dev.conll");
    let mut config = run_config(&base, (train, dev), 0);
    config.inputs.keep_labels = true;
    config.inputs.keep_labels_threshold = 0.0;
    let r = Run::start(
        config.clone(),
        &dir.path().join("kept"),
        Device::Cpu,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(
        r.trainer().model.tags.labels().names(),
        ["LOC", "MISC", "ORG", "PER"]
    );
    config.inputs.keep_labels = false;
    let plain = Run::start(config, &dir.path().join("plain"), Device::Cpu, &mut Silent).unwrap();
    assert_eq!(
        plain.trainer().model.tags.labels().names(),
        ["LOC", "MISC", "ORG"]
    );
}

/// The vectors of the base words are an affine image of their embeddings (`e A + b`, three
/// numbers wider than the embeddings): the least-squares map recovers its inverse exactly, so
/// a new word whose vector is `x A + b` starts at `x`, and the base rows stay as trained.
#[test]
fn pretrained_vectors_start_the_words_new_to_the_base_model_mapped_into_its_space() {
    let (dir, base, old) = small_base(4);
    let data = renamed(dir.path());
    let (extended, added) =
        ner_model::training::init_from::extend_vocab(&old.vocab, &read(&data.0));
    assert!(added > 0 && old.vocab.num_words() >= 8);
    let a = [
        [1.0, 0.5, 0.0, 2.0, -1.0, 0.25, 0.0],
        [0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 3.0],
        [-0.5, 0.0, 1.0, 1.0, 0.0, 2.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.5, 0.0, -1.0],
    ];
    let b = [0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2];
    let image = |e: &[f32]| -> String {
        (0..7)
            .map(|j| (0..4).map(|i| e[i] as f64 * a[i][j]).sum::<f64>() + b[j])
            .map(|v| format!(" {v}"))
            .collect()
    };
    let trained = old.vs.variables()["word_emb.weight"].shallow_clone();
    let mut text = String::new();
    for (i, w) in old.vocab.words().iter().enumerate() {
        let e = Vec::<f32>::try_from(trained.get(i as i64)).unwrap();
        text += &format!("{w}{}\n", image(&e));
    }
    let new = extended.words()[old.vocab.num_words()].clone();
    let x = [0.5f32, -1.0, 2.0, 0.25];
    text += &format!("{new}{}\n", image(&x));
    let vectors = dir.path().join("vectors.txt");
    std::fs::write(&vectors, text).unwrap();
    let mut config = run_config(&base, data, 0);
    config.inputs.pretrained = Some(vectors);
    let r = Run::start(config, &dir.path().join("new"), Device::Cpu, &mut Silent).unwrap();
    let row = |w: &str| {
        let id = r.trainer().vocab.word_id(w);
        Vec::<f32>::try_from(var(&r, "word_emb.weight").get(id)).unwrap()
    };
    let got = row(&new);
    assert!(
        got.iter().zip(&x).all(|(g, w)| (g - w).abs() < 1e-4),
        "{new}: {got:?} vs {x:?}"
    );
    let rows = old.vocab.num_words() as i64;
    assert!(var(&r, "word_emb.weight")
        .narrow(0, 0, rows)
        .equal(&trained));
}

#[test]
fn fine_tuning_a_base_without_contextual_features_is_refused() {
    let (_tmp, base) = random_base();
    let mut config = run_config(
        &base,
        (fixture("en-train.conll"), fixture("en-dev.conll")),
        0,
    );
    config.model.finetune_layers = 2;
    let out = tempfile::tempdir().unwrap();
    let err = Run::start(config, &out.path().join("run"), Device::Cpu, &mut Silent)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("no contextual features whose transformer could be fine-tuned"),
        "{err}"
    );
}
