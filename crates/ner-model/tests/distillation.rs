//! Distillation at the model's loss: a teacher whose posterior is one-hot on the gold path
//! gives the ordinary CRF loss at any teacher weight, for sentences alone and for windows of
//! several (the batch lines each sentence's posterior up with its tokens); another teacher
//! changes the loss, unless its weight is 0.

use ner_core::scheme::encode_spans;
use ner_core::Span;
use ner_model::batch::Batch;
use ner_model::context;
use ner_model::model::BiLstmCrf;
use ner_model::vocab::{Encoded, Soft, Vocab};
use ner_model::{Device, ModelConfig};

mod common;
use common::{build, tokens};

/// Gold tags of a sentence of `len` tokens: an entity of the `i % 3`-th label on its first two.
fn gold(model: &BiLstmCrf, len: usize, i: usize) -> Vec<i64> {
    let tags = &model.tags;
    let label = tags.labels().get(["LOC", "ORG", "PER"][i % 3]).unwrap();
    let spans: Vec<Span> = Span::new(0, len.min(2), label).into_iter().collect();
    encode_spans(&spans, len, tags.scheme())
        .into_iter()
        .map(|t| tags.index(t).unwrap() as i64)
        .collect()
}

fn one_hot(path: &[i64], k: usize) -> Soft {
    let mut soft = Soft {
        unary: vec![0.0; path.len() * k],
        pairs: vec![0.0; k * k],
    };
    for (t, &j) in path.iter().enumerate() {
        soft.unary[t * k + j as usize] = 1.0;
    }
    for w in path.windows(2) {
        soft.pairs[w[0] as usize * k + w[1] as usize] += 1.0;
    }
    soft
}

/// Every tag equally likely at every token.
fn uniform(len: usize, k: usize) -> Soft {
    Soft {
        unary: vec![1.0 / k as f32; len * k],
        pairs: vec![len.saturating_sub(1) as f32 / (k * k) as f32; k * k],
    }
}

/// The test sentences with gold tags and a teacher's posterior from `teacher`, as one window
/// of the first three and the others alone.
fn items(model: &BiLstmCrf, vocab: &Vocab, teacher: &dyn Fn(&[i64]) -> Soft) -> Vec<Encoded> {
    let sentences: Vec<Encoded> = tokens()
        .iter()
        .enumerate()
        .map(|(i, words)| {
            let mut e = vocab.encode(words);
            let path = gold(model, words.len(), i);
            e.soft = Some(teacher(&path));
            e.tags = Some(path);
            e
        })
        .collect();
    let window = context::concat(&sentences[..3].iter().collect::<Vec<_>>());
    std::iter::once(window)
        .chain(sentences[3..].iter().cloned())
        .collect()
}

fn loss(model: &BiLstmCrf, items: &[Encoded], weight: f64) -> f64 {
    let refs: Vec<&Encoded> = items.iter().collect();
    let batch = Batch::new(&refs, Device::Cpu);
    model.loss(&batch, false, weight).unwrap().double_value(&[])
}

#[test]
fn a_one_hot_teacher_gives_the_ordinary_crf_loss() {
    tch::set_num_threads(1);
    let config = ModelConfig {
        word_dim: 6,
        hidden: 5,
        context_tokens: 64,
        ..Default::default()
    };
    let (_vs, model, vocab) = build(&config, 3);
    let k = model.tags.len();
    let mut plain = items(&model, &vocab, &|p| one_hot(p, k));
    for e in &mut plain {
        e.soft = None;
    }
    let nll = loss(&model, &plain, 0.0);
    let sharp = items(&model, &vocab, &|p| one_hot(p, k));
    for w in [1.0, 0.5] {
        let got = loss(&model, &sharp, w);
        assert!(
            (got - nll).abs() < 1e-4 * nll.abs().max(1.0),
            "weight {w}: {got} vs {nll}"
        );
    }
    let flat = items(&model, &vocab, &|p| uniform(p.len(), k));
    let got = loss(&model, &flat, 1.0);
    assert!(
        (got - nll).abs() > 1e-2,
        "a uniform teacher left the loss at {got}"
    );
    assert_eq!(loss(&model, &flat, 0.0), nll, "weight 0 reads no teacher");
}
