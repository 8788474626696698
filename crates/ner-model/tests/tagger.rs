//! Padding never changes a result (batched equals one-by-one, for every cell and both char
//! encoders), save-then-load gives bit-identical outputs, and broken model directories are
//! refused with a clear error.

use ner_core::{LabelSet, TagScheme, TagSet};
use ner_model::checkpoint::{self, Meta};
use ner_model::config::CharEncoderKind;
use ner_model::model::BiLstmCrf;
use ner_model::tagger::for_each_emissions;
use ner_model::vocab::{Encoded, Vocab};
use ner_model::{CellKind, ModelConfig, TagRequest, Tagger, TaggerOptions};
use tch::nn::VarStore;
use tch::Device;

const SENTENCES: &[&str] = &[
    "John Smith visited Paris on Monday .",
    "Reuters",
    "Shares of Acme Corp rose 5 percent in New York trading , officials said .",
    "Ünïcödé wörds and 中文 too",
    "A B",
];

fn tokens() -> Vec<Vec<&'static str>> {
    SENTENCES.iter().map(|s| s.split(' ').collect()).collect()
}

fn tiny(config: &ModelConfig) -> (VarStore, BiLstmCrf, Vocab) {
    tch::manual_seed(11);
    let mut vocab = Vocab::build(
        SENTENCES.iter().flat_map(|s| s.split(' ')).take(12),
        config,
        1,
    );
    if config.bigram_dim > 0 {
        // Bigrams of the first sentences only, so that the others have unknown ones.
        vocab.build_bigrams(tokens().into_iter().take(2), 1);
    }
    let tags = TagSet::new(config.scheme, LabelSet::frozen_from(["LOC", "ORG", "PER"]));
    let vs = VarStore::new(Device::Cpu);
    let model = BiLstmCrf::new(
        &vs.root(),
        config,
        &tags,
        vocab.num_words() as i64,
        vocab.num_chars() as i64,
        vocab.num_bigrams() as i64,
    );
    (vs, model, vocab)
}

fn small_config(cell: CellKind, chars: CharEncoderKind) -> ModelConfig {
    ModelConfig {
        word_dim: 8,
        char_dim: 5,
        char_filters: 6,
        char_hidden: 3,
        casing_dim: 3,
        hidden: 7,
        layers: 2,
        cell,
        char_encoder: chars,
        scheme: TagScheme::Bioes,
        ..Default::default()
    }
}

fn emissions(model: &BiLstmCrf, data: &[Encoded], batch: usize) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::new(); data.len()];
    for_each_emissions(model, data, batch, Device::Cpu, |i, em| {
        out[i] = em.to_vec()
    })
    .unwrap();
    out
}

#[test]
fn batched_equals_one_by_one_for_every_cell() {
    tch::set_num_threads(1);
    let configs = CellKind::ALL.iter().flat_map(|&cell| {
        [CharEncoderKind::Cnn, CharEncoderKind::Lstm]
            .into_iter()
            .map(move |chars| (cell, chars, 0))
    });
    // And a model with bigram features (as the Chinese one).
    let configs = configs.chain([(CellKind::Lstm, CharEncoderKind::None, 4)]);
    for (cell, chars, bigram_dim) in configs {
        let config = ModelConfig {
            bigram_dim,
            ..small_config(cell, chars)
        };
        let (_vs, model, vocab) = tiny(&config);
        let data: Vec<Encoded> = tokens().iter().map(|t| vocab.encode(t)).collect();
        let together = emissions(&model, &data, 64);
        let alone = emissions(&model, &data, 1);
        for (i, (a, b)) in together.iter().zip(&alone).enumerate() {
            assert_eq!(a.len(), b.len());
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                diff < 1e-5,
                "{cell}/{chars:?}: sentence {i} differs by {diff} when padded"
            );
        }
    }
}

#[test]
fn save_then_load_is_bit_identical() {
    tch::set_num_threads(1);
    let config = ModelConfig {
        bigram_dim: 3,
        ..small_config(CellKind::Peephole, CharEncoderKind::Cnn)
    };
    let (vs, model, vocab) = tiny(&config);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    checkpoint::save(&path, &vs, &model, &vocab, &Meta::new("t")).unwrap();
    // Saving again over it replaces the files and leaves no staging directory behind.
    checkpoint::save(&path, &vs, &model, &vocab, &Meta::new("t")).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
    let loaded = checkpoint::load(&path, Device::Cpu).unwrap();
    let data: Vec<Encoded> = tokens().iter().map(|t| vocab.encode(t)).collect();
    let before = emissions(&model, &data, 8);
    let reloaded: Vec<Encoded> = tokens().iter().map(|t| loaded.vocab.encode(t)).collect();
    let after = emissions(&loaded.model, &reloaded, 8);
    assert_eq!(before, after, "outputs changed after save and load");
    // The Tagger gives the same tags as decoding by hand, in input order.
    let mut tagger = Tagger::from_loaded(loaded, TaggerOptions::default()).unwrap();
    let tagged = tagger
        .tag(
            &tokens(),
            TagRequest {
                probabilities: true,
                nbest: 3,
            },
        )
        .unwrap();
    for (t, em) in tagged.iter().zip(&before) {
        let mut again = tagger.decode(em, TagRequest::default());
        again.token_probabilities.clear();
        assert_eq!(t.tags, again.tags);
        assert!(t
            .token_probabilities
            .iter()
            .all(|p| (0.0..=1.0 + 1e-9).contains(p)));
        assert!(t.nbest.len() <= 3 && t.nbest.windows(2).all(|w| w[0].1 >= w[1].1 - 1e-12));
        if let Some(first) = t.nbest.first() {
            assert_eq!(
                first.0, t.tags,
                "the best of the n-best is the Viterbi path"
            );
        }
    }
}

#[test]
fn broken_model_directories_are_refused_clearly() {
    tch::set_num_threads(1);
    let config = small_config(CellKind::Lstm, CharEncoderKind::Cnn);
    let (vs, model, vocab) = tiny(&config);
    let root = tempfile::tempdir().unwrap();
    let fresh = || {
        let p = root.path().join(format!("m{}", rand_suffix()));
        checkpoint::save(&p, &vs, &model, &vocab, &Meta::new("t")).unwrap();
        p
    };
    let err = |p: &std::path::Path| checkpoint::load(p, Device::Cpu).unwrap_err().to_string();

    let p = fresh();
    std::fs::remove_file(p.join("vocab.json")).unwrap();
    assert!(
        err(&p).contains("missing model file vocab.json"),
        "{}",
        err(&p)
    );

    let p = fresh();
    let meta = std::fs::read_to_string(p.join("meta.json"))
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    std::fs::write(p.join("meta.json"), meta).unwrap();
    assert!(err(&p).contains("format version 99"), "{}", err(&p));

    let p = fresh();
    let cfg = std::fs::read_to_string(p.join("config.json"))
        .unwrap()
        .replace("\"hidden\": 7", "\"hidden\": 9");
    std::fs::write(p.join("config.json"), cfg).unwrap();
    assert!(err(&p).contains("has shape"), "{}", err(&p));

    let p = fresh();
    let bytes = std::fs::read(p.join("model.safetensors")).unwrap();
    std::fs::write(p.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        err(&p).contains("corrupted or unreadable safetensors"),
        "{}",
        err(&p)
    );

    let p = fresh();
    std::fs::write(
        p.join("labels.json"),
        r#"{"scheme": "bioes", "labels": ["B-PER", "LOC"]}"#,
    )
    .unwrap();
    assert!(
        err(&p).contains("does not fit the bioes scheme"),
        "{}",
        err(&p)
    );

    let p = fresh();
    std::fs::write(
        p.join("labels.json"),
        r#"{"scheme": "iob1", "labels": ["PER"]}"#,
    )
    .unwrap();
    assert!(err(&p).contains("must be bio or bioes"), "{}", err(&p));

    assert!(err(&root.path().join("nope")).contains("not a model directory"));
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
