//! The fake model of the server tests.
#![allow(dead_code)]

use ner_core::tokenize::Mode;
use ner_core::{LabelId, LabelSet, Scored, Span, TagScheme, TagSet, Tagged};
use ner_server::model::{
    DecodeOptions, Emissions, Halves, ModelFactory, ModelInfo, NetworkHalf, Piece, RequestHalf,
};
use ner_tagger::vocab::Encoded;
use std::sync::{Arc, Mutex};

/// The fake's request side: a word's id is 1 when it is capitalised, 0 otherwise; its
/// emission row is that id; runs of 1 are PER entities.
pub struct FakeCodec(ModelInfo);

/// A request side that decodes one result too few: a model that miscounts.
pub struct ShortCodec(pub FakeCodec);

impl RequestHalf for ShortCodec {
    fn info(&self) -> &ModelInfo {
        self.0.info()
    }

    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece {
        self.0.encode(sentences, documents)
    }

    fn decode(&self, em: &Emissions, options: DecodeOptions) -> Vec<Tagged> {
        let mut all = self.0.decode(em, options);
        all.pop();
        all
    }
}

/// A factory of the fake whose request side miscounts ([`ShortCodec`]).
pub fn short_factory() -> ModelFactory {
    Box::new(|| {
        let network = Fake {
            fail: false,
            gate: None,
            memo: (0, 0),
        };
        Ok(Halves {
            codec: Arc::new(ShortCodec(FakeCodec(info()))),
            network: Box::new(network),
        })
    })
}

impl RequestHalf for FakeCodec {
    fn info(&self) -> &ModelInfo {
        &self.0
    }

    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece {
        let sentences = sentences
            .iter()
            .map(|s| Encoded {
                words: s.iter().map(|w| i64::from(capitalised(w))).collect(),
                ..Encoded::default()
            })
            .collect();
        Piece {
            sentences,
            documents,
        }
    }

    fn decode(&self, em: &Emissions, options: DecodeOptions) -> Vec<Tagged> {
        (0..em.len())
            .map(|i| {
                let caps: Vec<bool> = em.sentence(i).iter().map(|&x| x > 0.5).collect();
                fake_tags(&caps, options.nbest)
            })
            .collect()
    }
}

fn capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// The fake's network: copies the ids into one-wide emissions; can be told to fail or to
/// block. Its "memo" finds the capitalised words and misses the others.
pub struct Fake {
    pub fail: bool,
    pub gate: Option<Arc<Mutex<()>>>,
    pub memo: (u64, u64),
}

/// A factory of fakes that fail when `fail`, and block on `gate` while it is held.
pub fn fake_factory(fail: bool, gate: Option<Arc<Mutex<()>>>) -> ModelFactory {
    Box::new(move || {
        let network = Fake {
            fail,
            gate: gate.clone(),
            memo: (0, 0),
        };
        Ok(Halves {
            codec: Arc::new(FakeCodec(info())),
            network: Box::new(network),
        })
    })
}

/// BIO tag indices of the fake's one label.
pub const O: usize = 0;
pub const B_PER: usize = 1;
pub const I_PER: usize = 2;

fn info() -> ModelInfo {
    ModelInfo {
        name: "fake".into(),
        tags: TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER"])),
        tokenization: Mode::Word,
        config: serde_json::json!({}),
        metrics: serde_json::json!({}),
        version: "fake-1".into(),
    }
}

impl NetworkHalf for Fake {
    fn forward(&mut self, pieces: &mut [Piece]) -> ner_tagger::Result<Vec<Emissions>> {
        if let Some(g) = &self.gate {
            drop(g.lock());
        }
        if self.fail {
            return Err(ner_tagger::Error::Data("secret internal detail".into()));
        }
        Ok(pieces.iter().map(|p| self.emissions(p)).collect())
    }

    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        Some(std::mem::take(&mut self.memo))
    }
}

impl Fake {
    fn emissions(&mut self, p: &Piece) -> Emissions {
        let mut em = Emissions::zeroed(1, p.sentences.iter().map(Encoded::len));
        for (i, e) in p.sentences.iter().enumerate() {
            for (out, &w) in em.sentence_mut(i).iter_mut().zip(&e.words) {
                *out = w as f32;
                match w {
                    1 => self.memo.0 += 1,
                    _ => self.memo.1 += 1,
                }
            }
        }
        em
    }
}

/// Runs of capitalised words are PER entities scoring 0.9; labeling k of the n-best list
/// (k = 0 the best) has probability 2^-(k+1) and differs from the best in its first k tags.
pub fn fake_tags(s: &[bool], nbest: usize) -> Tagged {
    let mut tags = Vec::new();
    let mut entities: Vec<(usize, usize)> = Vec::new();
    for (i, &cap) in s.iter().enumerate() {
        if !cap {
            tags.push(O);
        } else if i > 0 && s[i - 1] {
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
