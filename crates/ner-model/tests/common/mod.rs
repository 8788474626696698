//! Sentences shared by the model tests: short and long, Unicode, a one-word sentence; and
//! random models over them.
#![allow(dead_code)]

use ner_core::{LabelSet, TagSet};
use ner_model::lexicon::{Dictionary, Lexicon};
use ner_model::model::BiLstmCrf;
use ner_model::vocab::Vocab;
use ner_model::ModelConfig;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub const SENTENCES: &[&str] = &[
    "John Smith visited Paris on Monday .",
    "Reuters",
    "Shares of Acme Corp rose 5 percent in New York trading , officials said .",
    "Ünïcödé wörds and 中文 too",
    "A B",
];

/// Each sentence as its tokens.
pub fn tokens() -> Vec<Vec<&'static str>> {
    SENTENCES.iter().map(|s| s.split(' ').collect()).collect()
}

/// A model of `config` with random weights everywhere (biases too), a vocabulary of the
/// first 15 words (and bigrams of the first three sentences), and a random 23-piece subword
/// table when the config has subword features.
pub fn build(config: &ModelConfig, seed: i64) -> (VarStore, BiLstmCrf, Vocab) {
    tch::manual_seed(seed);
    let mut vocab = Vocab::build(
        SENTENCES.iter().flat_map(|s| s.split(' ')).take(15),
        config,
        1,
    );
    if config.bigram_dim > 0 {
        vocab.build_bigrams(tokens().into_iter().take(3), 1);
    }
    if config.lexicon_dim > 0 {
        // Words of one and of several tokens, overlapping: JohnSmith, Smith, NewYork, ...
        let dict = Dictionary::from_words([
            "JohnSmith",
            "Smith",
            "Paris",
            "NewYork",
            "Yorktrading",
            "Acme",
            "AcmeCorp",
            "A",
        ]);
        // With lexicon dropout the model keeps the whole dictionary: built from the first two
        // sentences, the words of the others (AcmeCorp, NewYork, A, ...) are `<unseen>`.
        let whole = config.lexicon_dropout > 0.0;
        let sentences = tokens();
        let refs: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let seen = if whole { &refs[..2] } else { &refs[..] };
        vocab.set_lexicon(Some(Lexicon::build(&dict, seen, whole)));
    }
    let tags = TagSet::new(config.scheme, LabelSet::frozen_from(["LOC", "ORG", "PER"]));
    let vs = VarStore::new(Device::Cpu);
    let mut model = BiLstmCrf::new(
        &vs.root(),
        config,
        &tags,
        vocab.num_words() as i64,
        vocab.num_chars() as i64,
        vocab.num_bigrams() as i64,
        vocab.num_lexicon() as i64,
    );
    if config.subword_dim > 0 {
        model.set_subword_table(
            Tensor::randn([23, config.subword_dim], (Kind::Float, Device::Cpu)),
            Device::Cpu,
        );
    }
    // Random weights everywhere (biases too), so that no term of the forward pass is zero.
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            v.copy_(&(Tensor::randn(v.size(), (Kind::Float, Device::Cpu)) * 0.5));
        }
    });
    (vs, model, vocab)
}

/// A random model of `config` (see [`build`]) saved as `name` in a new temporary directory.
pub fn saved(
    config: &ModelConfig,
    seed: i64,
    name: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    tch::set_num_threads(1); // tests run on several threads at once
    let (vs, model, vocab) = build(config, seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    ner_model::checkpoint::save(
        &path,
        &vs,
        &model,
        &vocab,
        &ner_model::checkpoint::Meta::new(name),
    )
    .unwrap();
    (dir, path)
}
