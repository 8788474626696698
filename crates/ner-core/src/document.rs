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

/// Sentences of raw text are cut into pieces of at most this many tokens unless told
/// otherwise: the default of the server, `ner predict` and the Python module.
pub const DEFAULT_MAX_SENTENCE_TOKENS: usize = 128;

/// An entity in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entity {
    /// Exactly the original text between `start` and `end`.
    pub text: String,
    /// The entity type.
    pub label: String,
    /// Offset of the first character, in the unit asked for.
    pub start: usize,
    /// Offset just past the entity.
    pub end: usize,
    /// The probability that exactly this span carries this label.
    pub score: f64,
}

/// Every document's sentences as word slices of its text, and each sentence's document (its
/// index in `docs`): a text's sentences form one document, so that a model with document
/// context reads them together.
pub fn sentences_of<'t>(docs: &[Document<'t>]) -> (Vec<Vec<&'t str>>, Vec<usize>) {
    let mut sentences = Vec::new();
    let mut documents = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let s = d.sentences();
        documents.resize(documents.len() + s.len(), i);
        sentences.extend(s);
    }
    (sentences, documents)
}

/// A word of a tagged text: its text, offsets, tag index and the tag's probability.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedToken<'t> {
    /// The word, a slice of the text.
    pub text: &'t str,
    /// Offset of its first character.
    pub start: usize,
    /// Offset just past it.
    pub end: usize,
    /// Its tag's index in the tag set (`None` past its sentence's tagging).
    pub tag: Option<usize>,
    /// The tag's probability.
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

    /// The text.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// Sentences (pieces) the text was cut into.
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

    /// Every word of the text with its tag (an index into the tag set; None past the end of
    /// its sentence's tagging) and the tag's probability, offsets in `unit`.
    pub fn tagged_tokens(&self, tagged: &[Tagged], unit: OffsetUnit) -> Vec<TaggedToken<'t>> {
        let mut out = Vec::new();
        let mut offs = Vec::new();
        for (i, t) in tagged.iter().enumerate().take(self.sentences.len()) {
            for (j, r) in self.sentence_tokens(i).iter().enumerate() {
                offs.extend([r.start, r.end]);
                out.push(TaggedToken {
                    text: &self.text[r.clone()],
                    start: 0,
                    end: 0,
                    tag: t.tags.get(j).copied(),
                    score: t.token_probabilities.get(j).copied().unwrap_or(1.0),
                });
            }
        }
        bytes_to_unit(self.text, &mut offs, unit);
        for (t, o) in out.iter_mut().zip(offs.chunks(2)) {
            (t.start, t.end) = (o[0], o[1]);
        }
        out
    }

    /// The start and end of sentence `i` (its first token's start, its last token's end), in
    /// `unit`.
    pub fn sentence_span(&self, i: usize, unit: OffsetUnit) -> (usize, usize) {
        let toks = self.sentence_tokens(i);
        let mut se = [
            toks.first().map_or(0, |r| r.start),
            toks.last().map_or(0, |r| r.end),
        ];
        bytes_to_unit(self.text, &mut se, unit);
        (se[0], se[1])
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

    #[test]
    fn tagged_tokens_and_sentence_spans_slice_the_original_text() {
        let text = "Ünïcödé 🙂 Angela Merkel visited 巴黎. Then Paris!";
        let doc = Document::new(text, Mode::Word, 100);
        let tagged: Vec<Tagged> = (0..doc.num_sentences())
            .map(|i| Tagged {
                tags: (0..doc.sentence_tokens(i).len() - 1).collect(),
                token_probabilities: vec![0.5; doc.sentence_tokens(i).len()],
                ..Tagged::default()
            })
            .collect();
        for unit in OffsetUnit::ALL {
            let toks = doc.tagged_tokens(&tagged, unit);
            let words: Vec<&str> = doc.sentences().concat();
            assert_eq!(toks.iter().map(|t| t.text).collect::<Vec<_>>(), words);
            for t in &toks {
                assert_eq!(slice(text, t.start, t.end, unit), Some(t.text));
            }
            // The last word of each sentence has no tag in this tagging: None, not a panic.
            assert_eq!(toks.iter().filter(|t| t.tag.is_none()).count(), 2);
            let (s, e) = doc.sentence_span(1, unit);
            assert_eq!(slice(text, s, e, unit), Some("Then Paris!"));
        }
    }
}
