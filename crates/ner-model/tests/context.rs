//! Document context: a document of one sentence is read exactly as that sentence alone, and a
//! document read in windows gives each sentence the emissions of its stretch of the window,
//! computed independently by joining the window's words into one sentence and slicing it at
//! global offsets. Both backends.

use ner_model::config::CharEncoderKind;
use ner_model::model::BiLstmCrf;
use ner_model::native;
use ner_model::tagger::Inference;
use ner_model::vocab::Encoded;
use ner_model::vocab::Vocab;
use ner_model::{CellKind, ModelConfig};
use tch::nn::VarStore;
use tch::Device;

mod common;
use common::{build, tokens};

fn config(context_tokens: usize, bigram_dim: i64) -> ModelConfig {
    ModelConfig {
        word_dim: 6,
        char_dim: 4,
        char_filters: 5,
        casing_dim: 3,
        bigram_dim,
        hidden: 5,
        layers: 2,
        cell: CellKind::Lstm,
        char_encoder: CharEncoderKind::Cnn,
        context_tokens,
        ..Default::default()
    }
}

/// Per-sentence emissions through `for_each_in_context`, on libtorch or natively.
fn in_context(
    vs: &VarStore,
    vocab: &Vocab,
    model: &BiLstmCrf,
    data: &[Encoded],
    documents: &[usize],
    native: bool,
) -> Vec<Vec<f32>> {
    let mut nat = native.then(|| native::native(vs, model, vocab, false).unwrap());
    let run = Inference {
        native: nat.as_mut(),
        ..Inference::plain(3, Device::Cpu)
    };
    let mut out = vec![Vec::new(); data.len()];
    run.for_each_in_context(model, data, documents, |i, em| out[i] = em.to_vec())
        .unwrap();
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn a_document_of_one_sentence_is_read_as_that_sentence_alone() {
    for bigrams in [0, 3] {
        let (vs, mut model, vocab) = build(&config(1000, bigrams), 5);
        for native in [false, true] {
            for s in tokens() {
                let e = vec![vocab.encode(&s)];
                let with = in_context(&vs, &vocab, &model, &e, &[0], native);
                model.config.context_tokens = 0;
                let alone = in_context(&vs, &vocab, &model, &e, &[0], native);
                model.config.context_tokens = 1000;
                assert_eq!(with, alone, "{s:?} native={native} bigrams={bigrams}");
            }
        }
    }
}

#[test]
fn windows_are_read_as_one_sequence_and_split_back_at_global_offsets() {
    let sentences = tokens(); // 7, 1, 15, 5 and 2 tokens
    let documents = [0, 0, 0, 0, 1];
    // A budget of 23 tokens: windows [0, 1, 2] (23 tokens), [3], then document 1: [4].
    let (vs, mut model, vocab) = build(&config(23, 0), 9);
    let data: Vec<Encoded> = sentences.iter().map(|s| vocab.encode(s)).collect();
    for native in [false, true] {
        let got = in_context(&vs, &vocab, &model, &data, &documents, native);
        model.config.context_tokens = 0;
        let joined: Vec<&str> = sentences[..3].concat();
        let window =
            in_context(&vs, &vocab, &model, &[vocab.encode(&joined)], &[0], native).remove(0);
        let alone = in_context(&vs, &vocab, &model, &data, &documents, native);
        model.config.context_tokens = 23;
        let k = model.tags.len();
        let mut at = 0;
        for i in 0..3 {
            let n = sentences[i].len();
            let d = max_diff(&got[i], &window[at * k..(at + n) * k]);
            assert!(d < 1e-5, "sentence {i} native={native}: {d}");
            at += n;
        }
        // The context changes what the first sentences see; the lone window and the other
        // document do not.
        assert!(max_diff(&got[0], &alone[0]) > 1e-3, "context had no effect");
        assert!(max_diff(&got[3], &alone[3]) < 1e-5);
        assert!(max_diff(&got[4], &alone[4]) < 1e-5);
    }
}
