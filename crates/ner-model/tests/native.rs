//! The native forward pass against libtorch, the reference: emissions agree within 1e-4 for
//! every cell, both character encoders, casing, bigram and subword features, one and two
//! layers, on random models and batches with padding; and the tags agree on a whole corpus.

use ner_core::TagScheme;
use ner_model::config::CharEncoderKind;
use ner_model::model::BiLstmCrf;
use ner_model::native::{self, Native, Workspace};
use ner_model::tagger::Inference;
use ner_model::vocab::{Encoded, Vocab};
use ner_model::{CellKind, ModelConfig};
use ner_tagger::Network;
use tch::nn::VarStore;
use tch::Device;

mod common;
use common::{build, tokens};

/// The shared sentences, a one-word one, and one of a known word in two spellings of one casing
/// class (the same word id and casing id, other characters).
fn sentences() -> Vec<Vec<&'static str>> {
    let mut s = tokens();
    s.push(vec!["x"]);
    s.push(vec!["viSited", "vIsited", "viSited"]);
    s
}

/// Each sentence encoded; with subword features, word-piece ids drawn from the table (some
/// words with none).
fn encode(vocab: &Vocab, subword: bool) -> Vec<Encoded> {
    sentences()
        .iter()
        .map(|s| {
            let mut e = vocab.encode(s);
            if subword {
                e.pieces = (0..s.len())
                    .map(|t| {
                        (0..(t % 4) as i64)
                            .map(|p| (p * 7 + t as i64) % 23)
                            .collect()
                    })
                    .collect();
            }
            e
        })
        .collect()
}

fn emissions(
    model: &BiLstmCrf,
    data: &[Encoded],
    batch: usize,
    native: Option<&mut Native>,
) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::new(); data.len()];
    let run = Inference {
        native,
        ..Inference::plain(batch, Device::Cpu)
    };
    run.for_each_emissions(model, data, |i, em| out[i] = em.to_vec())
        .unwrap();
    out
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max)
        })
        .fold(0.0, f32::max)
}

fn config(cell: CellKind, chars: CharEncoderKind, layers: i64) -> ModelConfig {
    ModelConfig {
        word_dim: 8,
        char_dim: 5,
        char_filters: 6,
        char_hidden: 3,
        casing_dim: 3,
        hidden: 7,
        layers,
        cell,
        char_encoder: chars,
        scheme: TagScheme::Bioes,
        ..Default::default()
    }
}

#[test]
fn native_emissions_equal_libtorch_for_every_cell_and_feature() {
    tch::set_num_threads(1);
    let mut cases = Vec::new();
    for cell in CellKind::ALL {
        for chars in [
            CharEncoderKind::Cnn,
            CharEncoderKind::Lstm,
            CharEncoderKind::None,
        ] {
            for layers in [1, 2] {
                cases.push(config(cell, chars, layers));
            }
        }
    }
    // Bigrams (as the Chinese model), subword vectors (as the English one), no casing.
    cases.push(ModelConfig {
        bigram_dim: 4,
        casing_dim: 0,
        ..config(CellKind::Lstm, CharEncoderKind::None, 1)
    });
    cases.push(ModelConfig {
        subword_dim: 6,
        ..config(CellKind::Gru, CharEncoderKind::Cnn, 2)
    });
    cases.push(ModelConfig {
        subword_dim: 5,
        bigram_dim: 3,
        char_kernel: 5,
        ..config(CellKind::Peephole, CharEncoderKind::Cnn, 1)
    });
    // SoftLexicon sets (as the Chinese model) with bigrams, on two layers; and the whole
    // dictionary, with words training never matched under `<unseen>`.
    cases.push(ModelConfig {
        lexicon_dim: 3,
        bigram_dim: 2,
        ..config(CellKind::Lstm, CharEncoderKind::None, 2)
    });
    cases.push(ModelConfig {
        lexicon_dim: 2,
        lexicon_dropout: 0.25,
        bigram_dim: 2,
        ..config(CellKind::Lstm, CharEncoderKind::None, 1)
    });
    // Contextual features of two layers (as the accurate English model), with subword vectors.
    cases.push(ModelConfig {
        subword_dim: 4,
        contextual_layers: vec![1, 3],
        contextual_dim: 5,
        ..config(CellKind::Lstm, CharEncoderKind::Cnn, 1)
    });
    for (i, c) in cases.iter().enumerate() {
        let (vs, model, vocab) = build(c, 100 + i as i64);
        let mut data = encode(&vocab, c.subword_dim > 0);
        if !c.contextual_layers.is_empty() {
            let width = c.contextual_layers.len() * c.contextual_dim as usize;
            for (j, e) in data.iter_mut().enumerate() {
                e.contextual = (0..e.len() * width)
                    .map(|x| ((x * 7 + j) % 11) as f32 / 5.0 - 1.0)
                    .collect();
            }
        }
        let reference = emissions(&model, &data, 64, None);
        let mut native = native::native(&vs, &model, &vocab, false).unwrap();
        for batch in [1, 2, 64] {
            let got = emissions(&model, &data, batch, Some(&mut native));
            let d = max_diff(&reference, &got);
            assert!(
                d < 1e-4,
                "{} / {:?} / {} layers / batch {batch}: differs by {d}",
                c.cell,
                c.char_encoder,
                c.layers
            );
        }
    }
}

/// Natively with a first-layer memo of `slots` slots (`None`: the default).
fn native_with_memo(
    vs: &VarStore,
    model: &BiLstmCrf,
    vocab: &Vocab,
    slots: Option<usize>,
) -> Native {
    let packed = native::pack(vs, model, vocab).unwrap();
    let workspace = slots.map_or_else(Workspace::default, Workspace::with_memo_slots);
    Native::new(packed, model.tags.len(), false).with_workspace(workspace)
}

#[test]
fn the_first_layer_memo_changes_no_emission_cold_warm_colliding_or_off() {
    tch::set_num_threads(1);
    // Every memoised block (word, characters, casing, subword) beside the blocks multiplied for
    // every token (bigrams, lexicon sets), a model with nothing else to multiply, and one with
    // a character BiLSTM.
    let cases = [
        ModelConfig {
            subword_dim: 5,
            lexicon_dim: 2,
            bigram_dim: 3,
            ..config(CellKind::Lstm, CharEncoderKind::Cnn, 2)
        },
        ModelConfig {
            casing_dim: 0,
            ..config(CellKind::Gru, CharEncoderKind::None, 1)
        },
        config(CellKind::Lstm, CharEncoderKind::Lstm, 1),
    ];
    for (i, c) in cases.iter().enumerate() {
        let (vs, model, vocab) = build(c, 300 + i as i64);
        let data = encode(&vocab, c.subword_dim > 0);
        let reference = emissions(&model, &data, 64, None);
        let mut off = native_with_memo(&vs, &model, &vocab, Some(0));
        let batches = [64, 1, 3, 64];
        let without: Vec<_> = batches
            .iter()
            .map(|&b| emissions(&model, &data, b, Some(&mut off)))
            .collect();
        assert_eq!(off.memo_counts().unwrap().0, 0);
        assert!(max_diff(&reference, &without[0]) < 1e-4);
        for slots in [None, Some(1), Some(4)] {
            let mut native = native_with_memo(&vs, &model, &vocab, slots);
            // Cold, then warm in other batchings: each token's row is the same product
            // whichever batch computed it.
            for (&batch, want) in batches.iter().zip(&without) {
                let got = emissions(&model, &data, batch, Some(&mut native));
                assert_eq!(&got, want, "case {i}, {slots:?} slots, batch {batch}");
            }
            let (hits, misses) = native.memo_counts().unwrap();
            assert!(misses > 0);
            // With room for every word, later passes find every known word.
            if slots.is_none() {
                let known: usize = data
                    .iter()
                    .map(|e| e.words.iter().filter(|&&w| w > 1).count())
                    .sum();
                assert!(
                    hits >= 3 * known as u64,
                    "{hits} hits, {known} known tokens"
                );
            }
        }
    }
}
