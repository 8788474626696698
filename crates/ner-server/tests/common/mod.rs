//! The fake model of the server tests.
#![allow(dead_code)]

use ner_core::tokenize::Mode;
use ner_core::{LabelId, LabelSet, Scored, Span, TagScheme, TagSet, Tagged};
use ner_server::model::{ModelError, ModelFactory, ModelInfo, NerModel, TagOptions};
use std::sync::{Arc, Mutex};

/// Tags runs of capitalised words as PER; can be told to fail or to block. Its "memo" finds
/// the capitalised words and misses the others.
pub struct Fake {
    pub fail: bool,
    pub gate: Option<Arc<Mutex<()>>>,
    pub memo: (u64, u64),
}

/// A factory of fakes that fail when `fail`, and block on `gate` while it is held.
pub fn fake_factory(fail: bool, gate: Option<Arc<Mutex<()>>>) -> ModelFactory {
    Box::new(move || {
        Ok(Box::new(Fake {
            fail,
            gate: gate.clone(),
            memo: (0, 0),
        }) as Box<dyn NerModel>)
    })
}

/// BIO tag indices of the fake's one label.
pub const O: usize = 0;
pub const B_PER: usize = 1;
pub const I_PER: usize = 2;

impl NerModel for Fake {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: "fake".into(),
            tags: TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER"])),
            tokenization: Mode::Word,
            config: serde_json::json!({}),
            metrics: serde_json::json!({}),
            version: "fake-1".into(),
        }
    }

    fn tag(
        &mut self,
        sentences: &[Vec<String>],
        _documents: &[usize],
        options: TagOptions,
    ) -> Result<Vec<Tagged>, ModelError> {
        if let Some(g) = &self.gate {
            drop(g.lock());
        }
        if self.fail {
            return Err(ModelError::Tagging("secret internal detail".into()));
        }
        for w in sentences.iter().flatten() {
            match w.chars().next().is_some_and(char::is_uppercase) {
                true => self.memo.0 += 1,
                false => self.memo.1 += 1,
            }
        }
        Ok(sentences
            .iter()
            .map(|s| fake_tags(s, options.nbest))
            .collect())
    }

    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        Some(std::mem::take(&mut self.memo))
    }
}

/// Runs of capitalised words are PER entities scoring 0.9; labeling k of the n-best list
/// (k = 0 the best) has probability 2^-(k+1) and differs from the best in its first k tags.
pub fn fake_tags(s: &[String], nbest: usize) -> Tagged {
    let cap = |w: &String| w.chars().next().is_some_and(char::is_uppercase);
    let mut tags = Vec::new();
    let mut entities: Vec<(usize, usize)> = Vec::new();
    for (i, w) in s.iter().enumerate() {
        if !cap(w) {
            tags.push(O);
        } else if i > 0 && cap(&s[i - 1]) {
            tags.push(I_PER);
            if let Some(e) = entities.last_mut() {
                e.1 = i + 1;
            }
        } else {
            tags.push(B_PER);
            entities.push((i, i + 1));
        }
    }
    let entities = entities
        .into_iter()
        .map(|(a, b)| Scored {
            span: Span::new(a, b, LabelId(0)).unwrap(),
            probability: 0.9,
        })
        .collect();
    let nbest = (0..nbest.min(s.len()))
        .map(|k| {
            let mut t = tags.clone();
            t[..k].fill(B_PER);
            (t, 0.5f64.powi(k as i32 + 1))
        })
        .collect();
    Tagged {
        token_probabilities: vec![0.9; tags.len()],
        tags,
        entities,
        nbest,
        score: 0.0,
    }
}
