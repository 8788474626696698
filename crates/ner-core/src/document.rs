//! From raw text to tagged entities with offsets, around whatever runs the model.
//!
//! [`Document::new`] tokenises a text and cuts it into sentence-sized pieces (global byte
//! offsets kept); the caller tags [`Document::sentences`]; [`Document::entities`] turns each
//! sentence's token-level entities into [`Entity`] values whose `text` is exactly the original
//! text between `start` and `end`, in the requested offset unit. The CLI's `predict` and the
//! HTTP service share this path.

use crate::offsets::{bytes_to_unit, OffsetUnit};
use crate::tokenize::{sentences, tokenize, Mode, Token};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// An entity in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Exactly the original text between `start` and `end`.
    pub text: String,
    pub label: String,
    pub start: usize,
    pub end: usize,
    /// The probability that exactly this span carries this label.
    pub score: f64,
}

/// A token-level entity of one sentence: tokens `[start, end)` of that sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntity<'a> {
    pub start: usize,
    pub end: usize,
    pub label: &'a str,
    pub score: f64,
}

/// A tokenised text cut into sentences.
#[derive(Debug, Clone)]
pub struct Document<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    sentences: Vec<Range<usize>>,
}

impl<'t> Document<'t> {
    /// Tokenises `text` and splits it into sentences of at most `max_sentence_tokens` tokens.
    pub fn new(text: &'t str, mode: Mode, max_sentence_tokens: usize) -> Self {
        let tokens = tokenize(text, mode);
        let sentences = sentences(text, &tokens, max_sentence_tokens);
        Document {
            text,
            tokens,
            sentences,
        }
    }

    pub fn text(&self) -> &'t str {
        self.text
    }

    pub fn num_tokens(&self) -> usize {
        self.tokens.len()
    }

    pub fn num_sentences(&self) -> usize {
        self.sentences.len()
    }

    /// The tokens of every sentence, as slices of the text.
    pub fn sentences(&self) -> Vec<Vec<&'t str>> {
        self.sentences
            .iter()
            .map(|r| {
                self.tokens[r.clone()]
                    .iter()
                    .map(|t| &self.text[t.clone()])
                    .collect()
            })
            .collect()
    }

    /// Byte ranges of sentence `i`'s tokens.
    pub fn sentence_tokens(&self, i: usize) -> &[Token] {
        &self.tokens[self.sentences[i].clone()]
    }

    /// Builds the entities of the whole text from each sentence's token-level entities (one
    /// list per sentence, in order), with offsets in `unit`.
    pub fn entities(&self, per_sentence: &[Vec<TokenEntity<'_>>], unit: OffsetUnit) -> Vec<Entity> {
        let mut out = Vec::new();
        for (i, ents) in per_sentence.iter().enumerate().take(self.sentences.len()) {
            let toks = self.sentence_tokens(i);
            for e in ents {
                if e.start >= e.end || e.end > toks.len() {
                    continue;
                }
                let (s, t) = (toks[e.start].start, toks[e.end - 1].end);
                out.push(Entity {
                    text: self.text[s..t].to_owned(),
                    label: e.label.to_owned(),
                    start: s,
                    end: t,
                    score: e.score,
                });
            }
        }
        let mut offs: Vec<usize> = out.iter().flat_map(|e| [e.start, e.end]).collect();
        bytes_to_unit(self.text, &mut offs, unit);
        for (i, e) in out.iter_mut().enumerate() {
            e.start = offs[2 * i];
            e.end = offs[2 * i + 1];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::slice;

    #[test]
    fn entities_slice_the_original_text() {
        let text = "Ünïcödé Angela Merkel visited 巴黎. Then Paris!";
        let doc = Document::new(text, Mode::Word, 100);
        let sents = doc.sentences();
        assert_eq!(sents.len(), 2);
        assert_eq!(sents[0][1..3], ["Angela", "Merkel"]);
        let per = vec![
            vec![
                TokenEntity {
                    start: 1,
                    end: 3,
                    label: "PER",
                    score: 0.9,
                },
                TokenEntity {
                    start: 4,
                    end: 6,
                    label: "LOC",
                    score: 0.5,
                },
            ],
            vec![TokenEntity {
                start: 1,
                end: 2,
                label: "LOC",
                score: 0.8,
            }],
        ];
        for unit in OffsetUnit::ALL {
            let ents = doc.entities(&per, unit);
            let texts: Vec<_> = ents.iter().map(|e| e.text.as_str()).collect();
            assert_eq!(texts, ["Angela Merkel", "巴黎", "Paris"]);
            for e in &ents {
                assert_eq!(slice(text, e.start, e.end, unit), Some(e.text.as_str()));
            }
        }
    }
}
