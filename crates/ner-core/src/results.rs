//! The one place where a batch's decoded sentences become each text's answer: its entities
//! (sliced from the text), on request its words with their tags and its sentences' n-best
//! labelings, with tag and label names from the model's tag set and offsets in the unit asked
//! for. The server, the Python module and `ner predict` all build their answers here, so they
//! agree and fail the same way.

use crate::document::{Document, Entity};
use crate::offsets::OffsetUnit;
use crate::scheme::TagSet;
use crate::span::{Scored, Tagged};
use serde::Serialize;

/// The most labelings a caller may ask for per sentence (the server's `nbest` limit and the
/// Python module's).
pub const MAX_NBEST: usize = 20;

/// Why answers could not be built. Shown as `field: reason` for a bad option.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultError {
    /// `nbest` above [`MAX_NBEST`].
    Nbest(usize),
    /// `min_score` outside 0..=1 (or not a number).
    MinScore(f64),
    /// The model gave a different number of results than the texts have sentences.
    WrongCount {
        /// Sentences in the texts.
        expected: usize,
        /// Results the model gave.
        got: usize,
    },
}

impl ResultError {
    /// The request field the error is about (`None` for a model fault).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ResultError::Nbest(_) => Some("nbest"),
            ResultError::MinScore(_) => Some("min_score"),
            ResultError::WrongCount { .. } => None,
        }
    }

    /// What is wrong, without the field's name.
    pub fn reason(&self) -> String {
        match self {
            ResultError::Nbest(n) => format!("at most {MAX_NBEST}, got {n}"),
            ResultError::MinScore(m) => format!("must be between 0 and 1, got {m}"),
            ResultError::WrongCount { expected, got } => {
                format!("the model returned {got} results for {expected} sentences")
            }
        }
    }
}

impl std::fmt::Display for ResultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field() {
            Some(field) => write!(f, "{field}: {}", self.reason()),
            None => f.write_str(&self.reason()),
        }
    }
}

impl std::error::Error for ResultError {}

/// What an answer holds beside the entities; checked once, by [`ResultOptions::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResultOptions {
    tokens: bool,
    nbest: usize,
    min_score: Option<f64>,
    offsets: OffsetUnit,
}

impl ResultOptions {
    /// Entities only, every one, with offsets in characters.
    pub fn entities() -> Self {
        ResultOptions {
            tokens: false,
            nbest: 0,
            min_score: None,
            offsets: OffsetUnit::Char,
        }
    }

    /// Checked options: `nbest` at most [`MAX_NBEST`], `min_score` between 0 and 1.
    pub fn new(
        tokens: bool,
        nbest: usize,
        min_score: Option<f64>,
        offsets: OffsetUnit,
    ) -> Result<Self, ResultError> {
        if nbest > MAX_NBEST {
            return Err(ResultError::Nbest(nbest));
        }
        if let Some(m) = min_score.filter(|m| !(0.0..=1.0).contains(m)) {
            return Err(ResultError::MinScore(m));
        }
        Ok(ResultOptions {
            tokens,
            nbest,
            min_score,
            offsets,
        })
    }

    /// The labelings asked for per sentence (0: none).
    pub fn nbest(&self) -> usize {
        self.nbest
    }

    fn keeps(&self, e: &Scored) -> bool {
        self.min_score.is_none_or(|m| e.probability >= m)
    }
}

/// A word with its tag (by name) and the tag's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResult {
    /// Exactly the original text between `start` and `end`.
    pub text: String,
    /// Offset of the word's first character, in the unit asked for.
    pub start: usize,
    /// Offset just past the word.
    pub end: usize,
    /// The tag, for example `B-PER` or `O`.
    pub tag: String,
    /// The tag's marginal probability.
    pub score: f64,
}

/// One labeling of a sentence (a tag per word) and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Labeling {
    /// A tag per word.
    pub tags: Vec<String>,
    /// The probability of exactly this labeling.
    pub probability: f64,
}

/// A sentence's k best labelings, with the sentence's offsets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentenceNbest {
    /// Index of the sentence within the text.
    pub sentence: usize,
    /// Offset of the sentence in the text.
    pub start: usize,
    /// Offset just past the sentence.
    pub end: usize,
    /// The labelings, best first.
    pub labelings: Vec<Labeling>,
}

/// The answer for one text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextResult {
    /// The entities, in text order.
    pub entities: Vec<Entity>,
    /// Every word with its tag, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<TokenResult>>,
    /// Every sentence's k best labelings, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbest: Option<Vec<SentenceNbest>>,
}

/// Each text's answer from the results of all the texts' sentences, in order (as
/// [`crate::document::sentences_of`] lists them). A count that does not match is an error,
/// never a short or padded answer.
pub fn build(
    docs: &[Document<'_>],
    tagged: &[Tagged],
    tags: &TagSet,
    opts: &ResultOptions,
) -> Result<Vec<TextResult>, ResultError> {
    let expected: usize = docs.iter().map(Document::num_sentences).sum();
    if tagged.len() != expected {
        return Err(ResultError::WrongCount {
            expected,
            got: tagged.len(),
        });
    }
    let mut at = 0;
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let part = &tagged[at..at + doc.num_sentences()];
        at += doc.num_sentences();
        out.push(text_result(doc, part, tags, opts));
    }
    Ok(out)
}

fn text_result(
    doc: &Document<'_>,
    tagged: &[Tagged],
    tags: &TagSet,
    opts: &ResultOptions,
) -> TextResult {
    let keep = |e: &Scored| opts.keeps(e);
    TextResult {
        entities: doc.entities(tagged, tags.labels(), keep, opts.offsets),
        tokens: opts.tokens.then(|| tokens(doc, tagged, tags, opts.offsets)),
        nbest: (opts.nbest > 0).then(|| nbest(doc, tagged, tags, opts.offsets)),
    }
}

/// Every word with its tag, named at this edge.
fn tokens(
    doc: &Document<'_>,
    tagged: &[Tagged],
    tags: &TagSet,
    unit: OffsetUnit,
) -> Vec<TokenResult> {
    doc.tagged_tokens(tagged, unit)
        .into_iter()
        .map(|t| TokenResult {
            text: t.text.to_owned(),
            start: t.start,
            end: t.end,
            tag: t.tag.map_or_else(|| "O".into(), |k| tags.name(k)),
            score: t.score,
        })
        .collect()
}

/// The k best labelings of every sentence, with the sentence's offsets.
fn nbest(
    doc: &Document<'_>,
    tagged: &[Tagged],
    tags: &TagSet,
    unit: OffsetUnit,
) -> Vec<SentenceNbest> {
    let labeling = |(path, p): &(Vec<usize>, f64)| Labeling {
        tags: path.iter().map(|&k| tags.name(k)).collect(),
        probability: *p,
    };
    tagged
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (start, end) = doc.sentence_span(i, unit);
            SentenceNbest {
                sentence: i,
                start,
                end,
                labelings: t.nbest.iter().map(labeling).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::slice;
    use crate::tokenize::Mode;
    use crate::{LabelId, LabelSet, Span, TagScheme};

    fn tag_set() -> TagSet {
        TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER"]))
    }

    /// Each sentence tagged with its capitalised words as one-word PER entities.
    fn tagged(doc: &Document<'_>) -> Vec<Tagged> {
        doc.sentences()
            .iter()
            .map(|s| {
                let caps: Vec<bool> = s
                    .iter()
                    .map(|w| w.starts_with(char::is_uppercase))
                    .collect();
                let entities = (0..s.len())
                    .filter(|&i| caps[i])
                    .map(|i| Scored {
                        span: Span::new(i, i + 1, LabelId(0)).unwrap(),
                        probability: 0.5 + 0.1 * (i % 3) as f64,
                    })
                    .collect();
                Tagged {
                    tags: caps.iter().map(|&c| usize::from(c)).collect(),
                    token_probabilities: vec![0.75; s.len()],
                    entities,
                    nbest: vec![(vec![0; s.len()], 0.25)],
                    score: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn answers_slice_each_text_in_every_unit() {
        let texts = [
            "Ünïcödé Ámélie met Борис. Then 🙂 Zoë left!",
            "",
            "nothing here",
            "巴黎 Paris",
        ];
        let docs: Vec<Document> = texts
            .iter()
            .map(|t| Document::new(t, Mode::Word, 4))
            .collect();
        let all: Vec<Tagged> = docs.iter().flat_map(tagged).collect();
        for unit in OffsetUnit::ALL {
            let opts = ResultOptions::new(true, 1, Some(0.55), unit).unwrap();
            let out = build(&docs, &all, &tag_set(), &opts).unwrap();
            assert_eq!(out.len(), texts.len());
            for (text, r) in texts.iter().zip(&out) {
                for e in &r.entities {
                    assert_eq!(slice(text, e.start, e.end, unit), Some(e.text.as_str()));
                    assert!(e.score >= 0.55);
                }
                for t in r.tokens.as_deref().unwrap_or_default() {
                    assert_eq!(slice(text, t.start, t.end, unit), Some(t.text.as_str()));
                }
                let sentences = r.nbest.as_ref().map_or(0, Vec::len);
                assert_eq!(
                    sentences,
                    Document::new(text, Mode::Word, 4).num_sentences()
                );
            }
            assert!(out[2].entities.is_empty() && out[1].tokens == Some(vec![]));
        }
    }

    #[test]
    fn a_count_that_does_not_match_is_an_error() {
        let docs = [Document::new("Bob ran. Ann sat.", Mode::Word, 128)];
        let mut all = tagged(&docs[0]);
        assert_eq!(all.len(), 2);
        all.pop();
        let err = build(&docs, &all, &tag_set(), &ResultOptions::entities()).unwrap_err();
        assert_eq!(
            err,
            ResultError::WrongCount {
                expected: 2,
                got: 1
            }
        );
        all.extend(tagged(&docs[0]));
        let err = build(&docs, &all, &tag_set(), &ResultOptions::entities()).unwrap_err();
        assert_eq!(
            err,
            ResultError::WrongCount {
                expected: 2,
                got: 3
            }
        );
    }

    #[test]
    fn options_are_checked_once_here() {
        let unit = OffsetUnit::Char;
        assert!(ResultOptions::new(false, MAX_NBEST, Some(1.0), unit).is_ok());
        let err = ResultOptions::new(false, MAX_NBEST + 1, None, unit).unwrap_err();
        assert_eq!(
            (err.field(), err.to_string()),
            (Some("nbest"), "nbest: at most 20, got 21".into())
        );
        for m in [-0.1, 1.5, f64::NAN] {
            let err = ResultOptions::new(false, 0, Some(m), unit).unwrap_err();
            assert_eq!(err.field(), Some("min_score"));
        }
    }
}
