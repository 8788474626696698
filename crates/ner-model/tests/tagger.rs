//! Padding never changes a result (batched equals one-by-one, for every cell and both char
//! encoders), save-then-load gives bit-identical outputs, and broken model directories are
//! refused with a clear error.

use ner_core::viterbi::Transitions;
use ner_core::{LabelSet, TagScheme, TagSet};
use ner_model::checkpoint::{self, Meta};
use ner_model::config::CharEncoderKind;
use ner_model::model::BiLstmCrf;
use ner_model::tagger;
use ner_model::tagger::Inference;
use ner_model::vocab::{Encoded, Vocab};
use ner_model::{CellKind, DecodeOptions, ModelConfig, TorchOptions};
use tch::nn::VarStore;
use tch::Device;

mod common;
use common::{tokens, SENTENCES};

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
        vocab.num_lexicon() as i64,
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
    Inference::plain(batch, Device::Cpu)
        .for_each_emissions(model, data, |i, em| out[i] = em.to_vec())
        .unwrap();
    out
}

/// Every tag path of a sentence with its score in f64 (forbidden moves: -inf), best first.
fn brute_force(tr: &Transitions, em: &[f32]) -> Vec<(Vec<usize>, f64)> {
    let k = tr.num_tags();
    let len = em.len() / k;
    let mut all = Vec::new();
    for code in 0..k.pow(len as u32) {
        let path: Vec<usize> = (0..len).map(|t| code / k.pow(t as u32) % k).collect();
        let mut s = tr.start()[path[0]] as f64 + tr.end()[path[len - 1]] as f64;
        for t in 0..len {
            s += em[t * k + path[t]] as f64;
            if t > 0 {
                s += tr.trans()[path[t - 1] * k + path[t]] as f64;
            }
        }
        all.push((path, s));
    }
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all
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
    let mut tagger = tagger::from_loaded(loaded, String::new(), TorchOptions::default()).unwrap();
    let tagged = tagger
        .tag(
            &tokens(),
            DecodeOptions {
                probabilities: true,
                nbest: 3,
            },
        )
        .unwrap();
    let tr = tagger.network().model().model.crf.transitions().unwrap();
    let mut checked = 0;
    for (t, em) in tagged.iter().zip(&before) {
        assert!(t
            .token_probabilities
            .iter()
            .all(|p| (0.0..=1.0 + 1e-9).contains(p)));
        if em.len() / tr.num_tags() > 5 {
            continue;
        }
        // Against every path of the sentence: the best one, the 3 best and their probabilities.
        let all = brute_force(&tr, em);
        let log_z = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, |a, b| {
            let m = a.max(b);
            if m == f64::NEG_INFINITY {
                m
            } else {
                m + ((a - m).exp() + (b - m).exp()).ln()
            }
        });
        assert_eq!(t.tags, all[0].0, "the Viterbi path is the best path");
        assert_eq!(t.nbest.len(), 3);
        for ((path, p), (want, score)) in t.nbest.iter().zip(&all) {
            assert_eq!(path, want);
            assert!(
                (p - (score - log_z).exp()).abs() < 1e-4,
                "{p} vs {}",
                (score - log_z).exp()
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "the oracle checked {checked} sentences");
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

#[test]
fn two_taggers_in_one_process_keep_their_own_threading() {
    use ner_model::threading::{Arrangement, EncoderThreading};
    let config = small_config(CellKind::Lstm, CharEncoderKind::Cnn);
    let (vs, model, vocab) = tiny(&config);
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(dir.path(), &vs, &model, &vocab, &Meta::new("t")).unwrap();
    let load = |threads, threading| {
        let mut opts = TorchOptions {
            threading,
            ..Default::default()
        };
        opts.tagger.threads = Some(threads);
        tagger::load(dir.path(), opts).unwrap()
    };
    let mut one = load(1, EncoderThreading::IntraOp);
    let mut two = load(2, EncoderThreading::Directions);
    let req = DecodeOptions::default();
    let first = one.tag(&tokens(), req).unwrap();
    // Loading and running the other tagger changes nothing about this one.
    let other = two.tag(&tokens(), req).unwrap();
    assert_eq!(
        tch::get_num_threads(),
        1,
        "the directions tagger runs one thread per side"
    );
    assert_eq!(one.tag(&tokens(), req).unwrap(), first);
    assert_eq!(tch::get_num_threads(), 1);
    assert_eq!(
        one.network().threading().arrangement(1),
        Arrangement::IntraOp { threads: 1 }
    );
    assert_eq!(
        two.network().threading().arrangement(64),
        Arrangement::Directions { threads: 1 }
    );
    let tags = |t: &[ner_core::Tagged]| t.iter().map(|x| x.tags.clone()).collect::<Vec<_>>();
    assert_eq!(tags(&first), tags(&other), "both threadings tag alike");
    let mut intra = load(2, EncoderThreading::IntraOp);
    intra.tag(&tokens(), req).unwrap();
    assert_eq!(tch::get_num_threads(), 2);
    one.tag(&tokens(), req).unwrap();
    assert_eq!(
        tch::get_num_threads(),
        1,
        "each tagger sets its own count before it runs"
    );
}

#[test]
fn the_native_tagger_on_two_threads_tags_exactly_as_on_one() {
    // Two threads split the network's serial parts (the character encoder beside the lookups,
    // each direction's first-layer projection) and encode and decode sentences side by side;
    // none of it may change a number.
    tch::set_num_threads(1);
    let config = ModelConfig {
        subword_dim: 0,
        context_tokens: 16,
        ..small_config(CellKind::Lstm, CharEncoderKind::Cnn)
    };
    let (vs, model, vocab) = tiny(&config);
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(dir.path(), &vs, &model, &vocab, &Meta::new("t")).unwrap();
    let load = |threads| {
        let opts = ner_tagger::TaggerOptions {
            threads: Some(threads),
            ..Default::default()
        };
        ner_tagger::Tagger::load(dir.path(), opts).unwrap()
    };
    let (mut one, mut two) = (load(1), load(2));
    let req = DecodeOptions {
        probabilities: true,
        nbest: 2,
    };
    let sentences = tokens();
    let documents = [0, 0, 1, 1, 2];
    for _ in 0..2 {
        // Cold, then warm memo.
        let want = one.tag_documents(&sentences, &documents, req).unwrap();
        assert_eq!(
            two.tag_documents(&sentences, &documents, req).unwrap(),
            want
        );
    }
    assert!(two.memo_counts().unwrap().0 > 0);
}

#[test]
fn the_native_and_the_torch_tagger_read_one_directory_alike() {
    // Every feature that the directory format stores: characters, casing, bigrams, lexicon
    // sets, subword vectors, two layers, document context. Both taggers load the same saved
    // files; their entities, probabilities and n-best agree.
    tch::set_num_threads(1);
    for (i, config) in [
        ModelConfig {
            context_tokens: 16,
            layers: 2,
            ..small_config(CellKind::Lstm, CharEncoderKind::Cnn)
        },
        ModelConfig {
            bigram_dim: 3,
            lexicon_dim: 2,
            ..small_config(CellKind::Gru, CharEncoderKind::Lstm)
        },
        small_config(CellKind::Peephole, CharEncoderKind::None),
    ]
    .iter()
    .enumerate()
    {
        let (vs, model, vocab) = common::build(config, 40 + i as i64);
        let dir = tempfile::tempdir().unwrap();
        checkpoint::save(dir.path(), &vs, &model, &vocab, &Meta::new("t")).unwrap();
        let mut torch = tagger::load(dir.path(), TorchOptions::default()).unwrap();
        let opts = ner_tagger::TaggerOptions {
            threads: Some(1),
            ..Default::default()
        };
        let mut native = ner_tagger::Tagger::load(dir.path(), opts).unwrap();
        let req = DecodeOptions {
            probabilities: true,
            nbest: 3,
        };
        let (sentences, documents) = (tokens(), [0, 0, 1, 1, 2]);
        let want = torch.tag_documents(&sentences, &documents, req).unwrap();
        let got = native.tag_documents(&sentences, &documents, req).unwrap();
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w.tags, g.tags, "case {i}");
            assert!(
                (w.score - g.score).abs() < 1e-3,
                "case {i}: {} vs {}",
                w.score,
                g.score
            );
            assert_eq!(w.entities.len(), g.entities.len());
            for (a, b) in w.entities.iter().zip(&g.entities) {
                assert_eq!(a.span, b.span);
                assert!((a.probability - b.probability).abs() < 1e-4);
            }
            let paths =
                |t: &ner_core::Tagged| t.nbest.iter().map(|n| n.0.clone()).collect::<Vec<_>>();
            assert_eq!(paths(w), paths(g), "case {i}");
        }
    }
}
