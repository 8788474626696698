//! From raw text to tagged entities with offsets, around whatever runs the model.
//!
//! [`Document::new`] tokenises a text and cuts it into sentence-sized pieces (global byte
//! offsets kept); the caller tags [`Document::sentences`]; [`Document::entities`] turns each
//! sentence's token-level [`Span`](crate::Span)s into [`Entity`] values whose `text` is exactly
//! the original text between `start` and `end`, in the requested offset unit, with the label
//! rendered by name: this is the edge where labels become strings. The CLI's `predict` and the
//! HTTP service share this path.

use crate::label::LabelSet;
use crate::offsets::{bytes_to_unit, OffsetUnit};
use crate::span::{Scored, Tagged};
use crate::tokenize::{sentences, tokenize, Mode, Token};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// An entity in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entity {
    /// Exactly the original text between `start` and `end`.
    pub text: String,
    pub label: String,
    pub start: usize,
    pub end: usize,
    /// The probability that exactly this span carries this label.
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

    /// Builds the entities of the whole text from each sentence's tagging (one per sentence, in
    /// order) that `keep` accepts, with offsets in `unit` and labels named from `labels`.
    pub fn entities(
        &self,
        tagged: &[Tagged],
        labels: &LabelSet,
        keep: impl Fn(&Scored) -> bool,
        unit: OffsetUnit,
    ) -> Vec<Entity> {
        let mut out = Vec::new();
        for (i, t) in tagged.iter().enumerate().take(self.sentences.len()) {
            let toks = self.sentence_tokens(i);
            for e in t.entities.iter().filter(|e| keep(e)) {
                let sp = &e.span;
                let (Some(first), Some(last)) = (toks.get(sp.start()), toks.get(sp.end() - 1))
                else {
                    continue;
                };
                let (s, t) = (first.start, last.end);
                out.push(Entity {
                    text: self.text[s..t].to_owned(),
                    label: labels.name(*sp.label()).to_owned(),
                    start: s,
                    end: t,
                    score: e.probability,
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
        let labels = LabelSet::frozen_from(["PER", "LOC"]);
        let ent = |start, end, label, probability| Scored {
            span: crate::Span::new(start, end, crate::LabelId(label)).unwrap(),
            probability,
        };
        let per = vec![
            Tagged {
                entities: vec![ent(1, 3, 0, 0.9), ent(4, 6, 1, 0.5)],
                ..Tagged::default()
            },
            Tagged {
                entities: vec![ent(1, 2, 1, 0.8), ent(0, 9, 0, 0.1)],
                ..Tagged::default()
            },
        ];
        for unit in OffsetUnit::ALL {
            let ents = doc.entities(&per, &labels, |e| e.probability > 0.2, unit);
            let texts: Vec<_> = ents.iter().map(|e| e.text.as_str()).collect();
            assert_eq!(texts, ["Angela Merkel", "巴黎", "Paris"]);
            for e in &ents {
                assert_eq!(slice(text, e.start, e.end, unit), Some(e.text.as_str()));
            }
        }
    }
}
